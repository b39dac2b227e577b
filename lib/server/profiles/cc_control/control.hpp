// cc-control (seed 004): the control plane. It keeps the servers (agents), the terminal sessions
// with their output rings and approval events, and the /ws/client subscribers, and applies the
// state machine of CC-CONTROL.md 1.7 with the fixes of its section 8: every broadcast scoped to
// its tenant, agents' frames checked against the session's server, since_seq honoured, approvals
// answered exactly once, no stop of a finished session. REST (rest.cpp) and /ws/client
// (ws_client.cpp) call in; agents report through AgentSink. Server thread only.
#pragma once

#include "server/context.hpp"
#include "server/rate_limit.hpp"

#include <asio/steady_timer.hpp>
#include "server/profiles/cc_control/agent.hpp"
#include "server/profiles/cc_control/audit.hpp"
#include "server/profiles/cc_control/detector.hpp"
#include "server/profiles/cc_control/model.hpp"
#include "server/profiles/cc_control/state_store.hpp"
#include "server/profiles/cc_control/term_ring.hpp"
#include "server/profiles/cc_control/tokens.hpp"

#include <deque>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ccbridge::detail::server::cc_control {

class LocalAgent;

/// Who is asking: the token a request or connection came with.
struct Caller {
  TokenRecord token;
  std::string actor() const { return "ui:" + token.token_id; }
  const std::string &tenant() const { return token.tenant_id; }
};

/// An error for the client: HTTP status and the text (REST) or message (WS error frame).
struct Failure {
  Failure() = default;
  Failure(int s, std::string m, std::string retry = {}) : status(s), message(std::move(m)), retry_after(std::move(retry)) {}
  int status = 0;
  std::string message;
  std::string retry_after;  ///< seconds, for a 429
  explicit operator bool() const { return status != 0; }
};

/// A /ws/client connection as the control plane sees it (ws_client.cpp).
class Subscriber {
public:
  virtual ~Subscriber() = default;
  virtual const Caller &caller() const = 0;
  /// A frame for this client; `term_seq` > 0 marks live terminal output of the attached session
  /// (the connection may hold it back while the client is behind, and resync from the ring).
  virtual void deliver(const FramePtr &frame, std::uint64_t term_seq = 0) = 0;
  /// Close the connection (its token was revoked, or the server stops).
  virtual void end(std::uint16_t code, const std::string &reason) = 0;
  /// Bytes queued on its socket, not yet written.
  virtual std::size_t backlog() const = 0;
  /// Held back from live output until it is resynced (it could not keep up).
  virtual bool behind() const = 0;
  std::string attached;  ///< the session this client is attached to, if any
};

/// One terminal session: its record, output ring, detectors, events and attached clients.
struct LiveSession {
  LiveSession(SessionRecord r, std::size_t ring_bytes) : rec(std::move(r)), ring(ring_bytes) {}
  SessionRecord rec;
  TermRing ring;
  PromptDetector prompt;
  ResumeDetector resume;
  std::vector<EventRecord> events;
  std::set<Subscriber *> attached;
  std::deque<PermissionAsk> queued_asks;  ///< hook asks waiting behind the pending one
  std::string pending_ask;                ///< the hook ask behind pending_event_id, if any
  std::optional<PromptWatch> watch;       ///< a screen prompt pending: tells when it is answered
  bool held = false;                      ///< output held: no attached client can take more
  bool probed = false;                    ///< asked of an original agent after it re-registered
  std::chrono::steady_clock::time_point held_since{};
};

/// Who reports: an agent's server id and its tenant ("" for the built-in local agent, which
/// serves every tenant). Server ids are scoped per tenant (the original's were global: bug 5).
struct AgentId {
  std::string tenant;
  std::string server_id;
};

struct CreateSession {
  std::string server_id, cwd, resume_id;
  std::map<std::string, std::string> env;
  std::uint16_t cols = 0, rows = 0;
};

class Control final : public AgentSink {
public:
  explicit Control(Context &ctx);
  ~Control() override;
  /// Opens the token and state stores, seeds the configured tokens, restores the saved state
  /// and registers the built-in local agent. Throws Error on a store that cannot be opened.
  void start();
  void stop();

  Context &ctx;
  const CcControlSettings &cfg;
  std::unique_ptr<TokenStore> tokens;
  RateLimiter limiter;
  std::unique_ptr<AuditLog> audit;

  // ---- REST ------------------------------------------------------------------------------
  std::vector<ServerRecord> servers(const std::string &tenant);
  /// Forgets a remote server that is offline (the original kept them until a restart: bug 34).
  Failure forget_server(const std::string &tenant, const std::string &server_id);
  std::vector<SessionRecord> sessions(const std::string &tenant, const std::string &server_filter) const;
  Failure create(const Caller &who, const CreateSession &req, SessionRecord &out);
  /// Stop (`actor` "ui:<id>" or "admin"); tenant "" means any (admin).
  Failure stop_session(const std::string &tenant, const std::string &id, std::chrono::milliseconds grace,
                       std::chrono::milliseconds kill_after, const std::string &actor);
  Failure delete_session(const Caller &who, const std::string &id, std::chrono::milliseconds grace,
                         std::chrono::milliseconds kill_after);
  const std::vector<EventRecord> *events(const std::string &tenant, const std::string &id) const;
  /// Closes the sockets opened with these tokens (the token store's revoke listener).
  void revoked(const std::vector<std::string> &token_ids);
  /// Token operations are audited (the original did not: bug 32).
  void audit_token(const std::string &actor, const std::string &kind, const TokenRecord &t);

  // ---- /ws/client ------------------------------------------------------------------------
  void join(Subscriber &s);
  void leave(Subscriber &s);
  Failure attach(Subscriber &s, const std::string &id, std::uint64_t since_seq);
  Failure term_in(Subscriber &s, const std::string &id, const std::string &bytes);
  Failure resize(Subscriber &s, const std::string &id, std::uint16_t cols, std::uint16_t rows);
  Failure answer(Subscriber &s, const std::string &id, bool approve, const std::string &requested_event_id);
  /// Replays a session's output after `since_seq` to one client (attach, and a resync after the
  /// client fell behind): the newer chunks, or a snapshot flagged as such when the ring no
  /// longer holds them. Returns the last seq sent.
  std::uint64_t replay(Subscriber &s, const LiveSession &ls, std::uint64_t since_seq);
  LiveSession *find(const std::string &tenant, const std::string &id);
  std::size_t subscriber_count() const { return subscribers_.size(); }
  void note_resync() { ++counters_.resyncs; }

  // ---- AgentSink -------------------------------------------------------------------------
  void pty_out(const std::string &server_id, const std::string &session_id, std::uint64_t seq,
               const std::string &bytes) override;
  void pty_exit(const std::string &server_id, const std::string &session_id, const PtyExit &exit) override;
  void agent_error(const std::string &server_id, const std::string &session_id, const std::string &message) override;
  void permission_ask(const std::string &server_id, const std::string &session_id, const PermissionAsk &ask) override;
  void permission_gone(const std::string &server_id, const std::string &session_id, const std::string &ask_id) override;

  // ---- remote agents (agent_socket.cpp; docs/AGENT-PROTOCOL.md) ----------------------------
  /// Why `server_id` cannot be registered by a remote agent ("" if it can).
  std::string reserved(const std::string &server_id) const;
  /// The agent connected as `id`, if one is.
  std::shared_ptr<Agent> connected_agent(const AgentId &id) const;
  /// A registration accepted: `agent` now serves `id`, and the sessions are reconciled with
  /// what it says it holds (replay, release or stop each; sessions it lost end).
  void agent_online(const AgentId &id, const Registration &reg, std::shared_ptr<Agent> agent);
  /// The connection of `agent` is gone (ignored if another has replaced it since).
  void agent_offline(const AgentId &id, const Agent *agent, const std::string &why);
  void agent_heard(const AgentId &id);
  bool agent_current(const AgentId &id, const Agent *agent) const;
  std::size_t remote_agents() const;
  void note_agent_refused() { ++counters_.agents_refused; }
  void note_agent_replaced() { ++counters_.agents_replaced; }
  void note_bad_agent_frame() { ++counters_.agent_frames_rejected; }
  // What agents report, scoped to the agent's tenant and server id.
  void out(const AgentId &id, const std::string &session_id, std::uint64_t seq, const std::string &bytes);
  /// `last_seq`: the seq of the session's last output (0: not said, an original agent).
  void exited(const AgentId &id, const std::string &session_id, const PtyExit &exit, std::uint64_t last_seq);
  void failed(const AgentId &id, const std::string &session_id, const std::string &message);
  void asked(const AgentId &id, const std::string &session_id, const PermissionAsk &ask);
  void ask_gone(const AgentId &id, const std::string &session_id, const std::string &ask_id);

  /// Prometheus lines (sessions by state, approvals, replays, gaps).
  /// Prometheus lines; `per_agent`: with each remote agent's sessions (tenant and server id labels).
  void metrics(std::string &out, bool per_agent) const;

private:
  struct AgentEntry {
    ServerRecord rec;
    std::shared_ptr<Agent> agent;  ///< null while a remote agent is away
    bool remote = false;
    std::chrono::steady_clock::time_point offline_since{};
    bool orphaned = false;  ///< its sessions were orphaned since it went away
    /// Sessions stopped or deleted here while it was away: stopped there when it is back (an
    /// original agent does not list what it runs).
    std::set<std::string> stop_on_return;
  };
  static std::string agent_key(const std::string &tenant, const std::string &server_id) { return tenant + '/' + server_id; }
  AgentEntry *entry_for(const SessionRecord &s);
  void reconcile(const AgentId &id, const Registration &reg, Agent &agent);
  void lose(LiveSession &ls, const std::string &reason);
  /// Ends a session whose agent is away; it is stopped there when the agent returns.
  void stop_while_away(LiveSession &ls);
  /// An original agent registered: its sessions are taken as running, and each is probed with
  /// an empty pty_in, which it answers `session not found` for one it no longer has.
  void probe_sessions(const AgentId &id, Agent &agent);
  void gap(LiveSession &ls, std::uint64_t from, std::uint64_t to);
  /// A remote agent with live sessions that is not connected (after a restart): it is offline
  /// from now, and its sessions orphan after the grace unless it comes back.
  void await_agent(const AgentId &id);
  void arm_orphan_sweep();
  void sweep_orphans();
  bool room_for_a_session();
  void check_hold(LiveSession &ls);
  void poll_holds();
  bool release_hold(LiveSession &ls);
  LiveSession *from_agent(const AgentId &id, const std::string &session_id);
  Agent *agent_for(const SessionRecord &s);
  void broadcast(const std::string &tenant, const FramePtr &frame);
  void session_update(const LiveSession &ls);
  void raise_event(LiveSession &ls, EventRecord ev);
  void raise_next_ask(LiveSession &ls);
  void resolve(LiveSession &ls, const std::string &actor, const std::string &decision);
  void clear_approval(LiveSession &ls, const std::string &decision);
  void detect(LiveSession &ls, const std::string &bytes);
  /// Types an answer to a screen prompt after `wait` (see answer()); rolls the approval back if
  /// it cannot be delivered then.
  void type_later(const std::string &id, const std::string &event_id, std::string keys, std::chrono::milliseconds wait);
  void audit_write(const std::string &actor, const SessionRecord *s, const std::string &kind, const std::string &meta);
  void audit_server(const std::string &server_id, const std::string &kind, const std::string &meta);
  void save(const LiveSession &ls);
  void restore();
  void seed_tokens();
  void schedule_flush();
  /// Writes pending state; `all`: every dirty tail, else one step's share (lifecycle.cpp).
  void flush(bool all);
  struct Flusher;

  std::map<std::string, AgentEntry> agents_;
  std::map<std::string, std::unique_ptr<LiveSession>> sessions_;
  std::set<Subscriber *> subscribers_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Flusher> flusher_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  ///< expires with this (for timers)
  std::set<std::string> held_;                   ///< sessions whose output is held
  std::unique_ptr<asio::steady_timer> hold_timer_;  ///< polls them while any is
  std::unique_ptr<asio::steady_timer> orphan_timer_;  ///< next time a gone agent's sessions orphan
  std::weak_ptr<LocalAgent> local_;
  struct Counters {
    std::uint64_t approvals_raised = 0, approvals_resolved = 0, attach_replays = 0, attach_snapshots = 0,
                  replay_gaps = 0, resyncs = 0, output_gaps = 0, agent_registrations = 0, agents_refused = 0,
                  agents_replaced = 0, agent_frames_rejected = 0, sessions_lost = 0, sessions_orphaned = 0;
  } counters_;
  friend class ClientSocket;
};

}  // namespace ccbridge::detail::server::cc_control
