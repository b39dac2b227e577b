// `ccbridge agent`'s side of /ws/agent (docs/AGENT-PROTOCOL.md), apart from the socket: it is the
// AgentSink of the agent's LocalAgent, keeps each session's output as seq-numbered chunks in a
// bounded replay buffer whether or not it is connected, and speaks the protocol over whatever
// connection it is given: register (with the sessions it holds), the resume handshake (replay,
// release, stop_session), live output, pty_exit after the last pty_out, heartbeats, and the
// control plane's requests mapped to the Agent. One thread (the io_context's).
#pragma once

#include "server/context.hpp"
#include "server/profiles/cc_control/agent.hpp"
#include "server/profiles/cc_control/model.hpp"
#include "server/ws_client.hpp"

#include <ccbridge/json.hpp>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ccbridge::detail::server::cc_control {

struct AgentLinkConfig {
  ServerRecord record;      ///< register's data: server_id, hostname, tags, os, arch, version, roots, CLI
  std::string instance_id;  ///< random per agent process
  std::size_t replay_bytes = 1u << 20;  ///< output kept per session; beyond it the oldest chunks go
  std::chrono::milliseconds keep_ended{600000};  ///< an ended session waits this long for release
  std::size_t max_ended = 256;                   ///< ended sessions kept at most (the oldest go first)
  /// Bytes waiting in the socket beyond which output waits (and the PTYs are not read) until it drains.
  std::size_t send_high = 4u << 20;
};

/// The reconnect delays: 1, 2, 4, 8, 8 ... s; reset() after a successful registration.
class Backoff {
public:
  std::chrono::seconds next();
  void reset() { step_ = 0; }

private:
  unsigned step_ = 0;
};

class AgentLink final : public AgentSink {
public:
  AgentLink(asio::io_context &ioc, Logger &log, AgentLinkConfig cfg);
  ~AgentLink() override;
  AgentLink(const AgentLink &) = delete;
  AgentLink &operator=(const AgentLink &) = delete;
  /// The agent the control plane's requests go to (made after this link: it reports here).
  void set_agent(Agent *agent) { agent_ = agent; }
  /// The record register sends (the agent's, known once it is made).
  void set_record(ServerRecord record) { cfg_.record = std::move(record); }
  /// Called after each register_ok (the dial loop resets its backoff).
  std::function<void()> on_registered;

  /// A new connection: sends register; nothing else until register_ok.
  void open(std::shared_ptr<WsClientLink> socket);
  void message(const std::string &text);
  /// The connection is gone: output is kept (within the bounds) until the next one.
  void closed();
  bool registered() const { return registered_; }

  /// Draining: start_session is refused with "agent draining".
  void set_draining(bool on) { draining_ = on; }
  /// Stops every running session with the ladder (SIGTERM, grace, SIGKILL after kill_after).
  void stop_all(std::chrono::milliseconds grace, std::chrono::milliseconds kill_after);
  /// Sessions still running.
  std::size_t running() const;
  /// Sessions held: running, or ended and not released yet.
  std::size_t held() const { return sessions_.size(); }
  /// Everything the control plane is owed was handed to the socket (true when not connected).
  bool delivered() const;

  // AgentSink (the LocalAgent reports here)
  void pty_out(const std::string &server_id, const std::string &session_id, std::uint64_t seq,
               const std::string &bytes) override;
  void pty_exit(const std::string &server_id, const std::string &session_id, const PtyExit &exit) override;
  void agent_error(const std::string &server_id, const std::string &session_id, const std::string &message) override;
  void permission_ask(const std::string &server_id, const std::string &session_id, const PermissionAsk &ask) override;
  void permission_gone(const std::string &server_id, const std::string &session_id, const std::string &ask_id) override;

private:
  struct Chunk {
    std::uint64_t seq;
    std::string bytes;
  };
  struct Session {
    std::deque<Chunk> chunks;
    std::size_t bytes = 0;
    std::uint64_t last_seq = 0;
    std::optional<PtyExit> exit;
    std::chrono::steady_clock::time_point ended_at;
    bool synced = false;     // its output may go on this connection
    std::uint64_t sent = 0;  // last seq handed to this connection
    bool exit_sent = false;
    bool unwanted = false;   // the control plane does not know it: forgotten once it ends
    bool cp_hold = false;    // the control plane's hold
    std::map<std::string, PermissionAsk> asks;  // open asks, sent again after a reconnect
  };

  bool can_send() const { return socket_ && registered_; }
  void send(const std::string &frame);
  void send_error(const std::string &session_id, const std::string &message);
  std::string register_frame() const;
  void on_register_ok(const JsonView &data);
  void heartbeat();
  void flush(const std::string &id, Session &s);
  void flush_all();
  void send_asks(const std::string &id, const Session &s);
  void set_congested(bool on);
  void apply_hold(const std::string &id, const Session &s);
  void prune_ended();
  void handle(const std::string &type, const std::string &id, const JsonView &msg);
  void start_session(const std::string &id, const JsonView &data);
  void stop_session(const std::string &id, const JsonView &data);
  void pty_in(const std::string &id, const JsonView &b64);
  void replay(const std::string &id, std::uint64_t seq);
  void release(const std::string &id);
  void answer(const std::string &id, const JsonView &data);
  void report(const std::string &id, const std::string &err);

  asio::io_context &ioc_;
  Logger &log_;
  AgentLinkConfig cfg_;
  Agent *agent_ = nullptr;
  std::shared_ptr<WsClientLink> socket_;
  bool registered_ = false;
  bool resume_ = false;  ///< the control plane answers a listed session (register_ok resume)
  bool draining_ = false;
  bool congested_ = false;
  std::chrono::milliseconds heartbeat_{5000};
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer drain_timer_;
  std::map<std::string, Session> sessions_;
};

}  // namespace ccbridge::detail::server::cc_control
