// cc-control: the control plane's side of an agent, the one interface both the built-in local
// agent (sessions on this host) and remote agents (/ws/agent, another host) stand behind. The
// calls mirror the agent protocol's frames (CC-CONTROL.md 1.4): start_session, stop_session,
// pty_in, resize; what an agent reports comes back through AgentSink (pty_out, pty_exit, error),
// plus the exact permission requests of the CLI's PermissionRequest hook. Server thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ccbridge::detail::server::cc_control {

struct StartSession {
  std::string session_id;
  std::string cwd;
  std::vector<std::string> cmd;  ///< informational, as the original (the agent runs its own CLI)
  std::map<std::string, std::string> env;
  std::uint16_t cols = 0, rows = 0;
  std::string resume_id;
};

struct PtyExit {
  std::optional<int> exit_code;  ///< -1 when killed by a signal
  std::string signal;            ///< Go's names: "terminated", "killed", ... ("" if none)
  std::string reason;            ///< "exited", "start_timeout", or the error text
};

/// A permission prompt of the CLI, asked through its PermissionRequest hook.
struct PermissionAsk {
  std::string ask_id;      ///< the agent's id for this ask (answer with it)
  std::string tool_name;
  std::string tool_input;  ///< raw JSON
};

/// What agents report to the control plane.
class AgentSink {
public:
  virtual ~AgentSink() = default;
  virtual void pty_out(const std::string &server_id, const std::string &session_id, std::uint64_t seq,
                       const std::string &bytes) = 0;
  /// After the session's last pty_out.
  virtual void pty_exit(const std::string &server_id, const std::string &session_id, const PtyExit &exit) = 0;
  virtual void agent_error(const std::string &server_id, const std::string &session_id, const std::string &message) = 0;
  virtual void permission_ask(const std::string &server_id, const std::string &session_id, const PermissionAsk &ask) = 0;
  /// The ask ended without our answer (answered on the screen, timed out, or the CLI exited).
  virtual void permission_gone(const std::string &server_id, const std::string &session_id, const std::string &ask_id) = 0;
};

/// The control plane's handle on one agent. Each call returns "" when sent, else an error text.
class Agent {
public:
  virtual ~Agent() = default;
  virtual bool connected() const = 0;
  virtual std::string start_session(const StartSession &req) = 0;
  virtual std::string stop_session(const std::string &session_id, std::chrono::milliseconds grace,
                                   std::chrono::milliseconds kill_after) = 0;
  virtual std::string pty_in(const std::string &session_id, const std::string &bytes) = 0;
  virtual std::string resize(const std::string &session_id, std::uint16_t cols, std::uint16_t rows) = 0;
  virtual std::string answer_permission(const std::string &session_id, const std::string &ask_id, bool allow,
                                        const std::string &message) = 0;
  /// Back-pressure: while held, the session's output is not read (its CLI blocks on its writes),
  /// because none of its attached clients can take more. Best effort.
  virtual void hold_output(const std::string &session_id, bool hold) = 0;
  /// After a reconnect (agents that replay): send the session's output after `since_seq`, then its
  /// exit if it has ended; live output follows.
  virtual void replay(const std::string &session_id, std::uint64_t since_seq) { (void)session_id, (void)since_seq; }
  /// The control plane has the session's exit: the agent may forget it.
  virtual void release(const std::string &session_id) { (void)session_id; }
};

/// A session an agent still holds when it registers (AGENT-PROTOCOL.md `register.sessions`).
struct HeldSession {
  std::string session_id;
  std::uint64_t last_seq = 0;
  std::optional<PtyExit> exit;  ///< set if it has ended while the control plane did not hear
};

/// What an agent's `register` says.
struct Registration {
  std::string server_id, hostname, os, arch, agent_version, claude_path, instance_id;
  std::vector<std::string> tags, allow_roots;
  bool replays = false;  ///< it listed its sessions (a ccbridge agent); an original agent does not
  std::vector<HeldSession> sessions;
};

}  // namespace ccbridge::detail::server::cc_control
