// cc-control: the built-in local agent. It runs sessions on the control plane's own host through
// ccbridge::Terminal (the CLI's interactive UI on a PTY), behind the same Agent interface a
// remote agent's /ws/agent connection stands behind, and reports like one (pty_out, pty_exit,
// error), plus the CLI's PermissionRequest hook asks. Server thread, except the Terminal's events,
// which it moves there.
#pragma once

#include "server/context.hpp"
#include "server/profiles/cc_control/agent.hpp"
#include "server/profiles/cc_control/model.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <string>

namespace ccbridge::detail {
class PermissionRelay;
}

namespace ccbridge::detail::server::cc_control {

class LocalAgent final : public Agent, public std::enable_shared_from_this<LocalAgent> {
public:
  LocalAgent(Context &ctx, AgentSink &sink);
  ~LocalAgent() override;
  /// The record it registers with: this host, its allowed roots and CLI.
  ServerRecord record() const;

  bool connected() const override { return !stopped_; }
  std::string start_session(const StartSession &req) override;
  std::string stop_session(const std::string &session_id, std::chrono::milliseconds grace,
                           std::chrono::milliseconds kill_after) override;
  std::string pty_in(const std::string &session_id, const std::string &bytes) override;
  std::string resize(const std::string &session_id, std::uint16_t cols, std::uint16_t rows) override;
  void hold_output(const std::string &session_id, bool hold) override;
  std::string answer_permission(const std::string &session_id, const std::string &ask_id, bool allow,
                                const std::string &message) override;
  /// Ends every terminal (server stop).
  void stop_all();
  std::size_t live() const { return terms_.size(); }

private:
  struct Term;
  std::shared_ptr<PermissionRelay> start_relay(const std::string &session_id);
  std::string hook_program() const;
  void reject(const std::string &session_id, const std::string &message);
  void on_output(const std::string &session_id, std::uint64_t seq, const std::string &bytes);
  void on_exit(const std::string &session_id, const PtyExit &exit);

  Context &ctx_;
  AgentSink &sink_;
  std::string server_id_;
  std::string cli_;  // resolved at start; "" if no CLI was found
  std::map<std::string, std::shared_ptr<Term>> terms_;
  bool stopped_ = false;
};

}  // namespace ccbridge::detail::server::cc_control
