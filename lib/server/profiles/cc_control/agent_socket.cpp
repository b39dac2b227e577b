// cc-control's /ws/agent (CC-CONTROL.md 1.2-1.5, docs/AGENT-PROTOCOL.md): a remote agent's
// connection. RemoteAgent is the control plane's handle on it (the Agent interface, as the local
// agent's); AgentSocket reads its frames: `register` first, then heartbeats, output, exits, errors
// and permission asks, each checked against the agent's tenant and server id. Pings both ways keep
// a half-open link from holding its server id (bug 19): a second registration for an id that is
// connected probes the old link and takes its place if it does not answer.
#include "server/profiles/cc_control/routes.hpp"

#include "server/base64.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <asio/steady_timer.hpp>

#include <functional>

namespace ccbridge::detail::server::cc_control {
namespace {

constexpr auto kRegisterWithin = std::chrono::seconds(30);
constexpr auto kProbeWait = std::chrono::seconds(2);
constexpr std::size_t kMaxUnsent = 16u << 20;  // bytes queued toward an agent that does not read

std::vector<std::string> strings_of(const JsonView &a)
{
  std::vector<std::string> out;
  for (std::size_t i = 0; a.is_array() && i < a.size(); ++i)
    if (a[i].is_string()) out.emplace_back(*a[i].string());
  return out;
}

std::string env_json(const std::map<std::string, std::string> &env)
{
  GoJson j;
  for (const auto &[k, v] : env) j.str(k, v);  // sorted, as Go writes a map
  return j.done();
}

std::uint64_t seq_of(const JsonView &v)
{
  auto n = v.int64();
  return n && *n > 0 ? static_cast<std::uint64_t>(*n) : 0;
}

PtyExit exit_of(const JsonView &d)
{
  PtyExit e;
  if (auto c = d["exit_code"].int64()) e.exit_code = static_cast<int>(*c);
  e.signal = std::string(d["signal"].string_or());
  e.reason = std::string(d["reason"].string_or());
  return e;
}

Registration registration_of(const JsonView &d)
{
  Registration r;
  r.server_id = std::string(d["server_id"].string_or());
  r.hostname = std::string(d["hostname"].string_or());
  r.os = std::string(d["os"].string_or());
  r.arch = std::string(d["arch"].string_or());
  r.agent_version = std::string(d["agent_version"].string_or());
  r.claude_path = std::string(d["claude_path"].string_or());
  r.instance_id = std::string(d["instance_id"].string_or());
  r.tags = strings_of(d["tags"]);
  r.allow_roots = strings_of(d["allow_roots"]);
  JsonView held = d["sessions"];
  r.replays = held.is_array();
  for (std::size_t i = 0; r.replays && i < held.size(); ++i) {
    JsonView h = held[i];
    if (!h["session_id"].is_string()) continue;
    HeldSession s{std::string(*h["session_id"].string()), seq_of(h["last_seq"]), std::nullopt};
    if (h["exit"].is_object()) s.exit = exit_of(h["exit"]);
    r.sessions.push_back(std::move(s));
  }
  return r;
}

class AgentSocket;

class RemoteAgent final : public Agent {
public:
  RemoteAgent(WsConn &conn, AgentId id, bool replays, AgentSocket &socket)
      : conn_(&conn), id_(std::move(id)), replays_(replays), socket_(&socket)
  {
  }
  bool connected() const override { return conn_ && conn_->is_open(); }
  std::string start_session(const StartSession &r) override
  {
    GoJson d;
    d.str("cwd", r.cwd).strs("cmd", r.cmd).raw("env", env_json(r.env)).num("cols", r.cols).num("rows", r.rows);
    d.str_omit("resume_id", r.resume_id);
    return send({"start_session", id_.server_id, r.session_id, 0, now_ms(), d.done()});
  }
  std::string stop_session(const std::string &sid, std::chrono::milliseconds grace, std::chrono::milliseconds kill) override
  {
    std::string d = GoJson().num("grace_ms", grace.count()).num("kill_after_ms", kill.count()).str("signal", "SIGTERM").done();
    return send({"stop_session", id_.server_id, sid, 0, now_ms(), d});
  }
  std::string pty_in(const std::string &sid, const std::string &bytes) override
  {
    return send({"pty_in", id_.server_id, sid, 0, now_ms(), "", base64_encode(bytes)});
  }
  std::string resize(const std::string &sid, std::uint16_t cols, std::uint16_t rows) override
  {
    return send({"resize", id_.server_id, sid, 0, now_ms(), GoJson().num("cols", cols).num("rows", rows).done()});
  }
  std::string answer_permission(const std::string &sid, const std::string &ask_id, bool allow, const std::string &message) override
  {
    GoJson d;
    d.str("ask_id", ask_id).boolean("allow", allow).str_omit("message", message);
    return send({"permission_answer", id_.server_id, sid, 0, now_ms(), d.done()});
  }
  // The additions go only to agents that speak them (an original agent would answer an error).
  void hold_output(const std::string &sid, bool hold) override
  {
    if (replays_) send({"hold", id_.server_id, sid, 0, now_ms(), GoJson().boolean("hold", hold).done()});
  }
  void replay(const std::string &sid, std::uint64_t since) override
  {
    if (replays_) send({"replay", id_.server_id, sid, since, now_ms()});
  }
  void release(const std::string &sid) override
  {
    if (replays_) send({"release", id_.server_id, sid, 0, now_ms()});
  }

  bool replays() const { return replays_; }
  AgentSocket *socket() const { return socket_; }
  void detach()
  {
    conn_ = nullptr;
    socket_ = nullptr;
  }

private:
  std::string send(const Envelope &e)
  {
    if (!connected()) return "server offline";
    if (conn_->buffered() > kMaxUnsent) {
      conn_->close(close_code::policy_violation, "agent not reading");
      return "server offline";
    }
    conn_->send_text(envelope(e));
    return "";
  }

  WsConn *conn_;
  AgentId id_;
  bool replays_;
  AgentSocket *socket_;
};

class AgentSocket final : public WsHandler {
public:
  AgentSocket(Control &control, WsConn &conn, TokenRecord token)
      : control_(control), conn_(conn), token_(std::move(token)), timer_(control.ctx.ioc), probe_timer_(control.ctx.ioc)
  {
  }
  ~AgentSocket() override
  {
    try {
      gone("closed");
    } catch (...) {  // (logging or the audit failing) nothing may escape a destructor
    }
  }

  void on_open() override
  {
    // The first frame must be `register`, within 30 s (as the original).
    timer_.expires_after(kRegisterWithin);
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
      if (!ec && !alive.expired() && state_ != State::registered) conn_.close(close_code::policy_violation, "register expected");
    });
  }

  void on_text(std::string_view text) override
  {
    heard();
    JsonView msg;
    try {
      msg = parse_json(text);
    } catch (const Error &) {
      if (state_ == State::waiting) return conn_.close(close_code::policy_violation, "register expected");
      return control_.note_bad_agent_frame();
    }
    if (state_ == State::waiting) return first(msg);
    if (state_ != State::registered || !control_.agent_current(id_, agent_.get())) return;
    control_.agent_heard(id_);
    frame(msg);
  }

  void on_pong() override { heard(); }
  void on_close(std::uint16_t) override { gone("closed"); }
  void on_shutdown() override { conn_.close(close_code::going_away, "server shutting down"); }

  /// Asked by a second registration for this server id: does this link still answer?
  void probe(std::function<void(bool)> done)
  {
    probes_.push_back(std::move(done));
    if (probes_.size() > 1) return;
    conn_.ping();
    probe_timer_.expires_after(kProbeWait);
    probe_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
      if (!ec && !alive.expired()) answer_probes(false);
    });
  }

  /// Another registration took this server id.
  void replaced()
  {
    control_.note_agent_replaced();
    state_ = State::closed;
    conn_.close(close_code::policy_violation, "replaced by a new registration of server_id \"" + id_.server_id + "\"");
  }

private:
  enum class State { waiting, probing, registered, closed };

  void heard()
  {
    last_heard_ = std::chrono::steady_clock::now();
    if (!probes_.empty()) answer_probes(true);
  }

  void answer_probes(bool alive)
  {
    probe_timer_.cancel();
    auto waiting = std::move(probes_);
    probes_.clear();
    for (auto &f : waiting) f(alive);
  }

  void first(const JsonView &msg)
  {
    Registration reg = registration_of(msg["data"]);
    if (msg["type"].string_or() != "register" || reg.server_id.empty())
      return conn_.close(close_code::policy_violation, "register expected");
    id_ = {token_.tenant_id, reg.server_id};
    if (auto why = control_.reserved(reg.server_id); !why.empty()) return refuse(why);
    auto old = std::dynamic_pointer_cast<RemoteAgent>(control_.connected_agent(id_));
    if (!old || !old->socket()) return accept(reg);
    state_ = State::probing;
    old->socket()->probe([this, alive = std::weak_ptr<bool>(alive_), old, reg](bool answered) {
      if (alive.expired() || state_ != State::probing) return;
      if (answered) return refuse("duplicate server_id \"" + reg.server_id + "\": already connected; rename via -server-id");
      if (old->socket()) old->socket()->replaced();
      accept(reg);
    });
  }

  void refuse(const std::string &why)
  {
    control_.note_agent_refused();
    state_ = State::closed;
    control_.ctx.log.warn("cc_control_agent_refused", {{"server_id", id_.server_id}, {"reason", why}});
    conn_.close(close_code::policy_violation, why);
  }

  void accept(const Registration &reg)
  {
    if (!conn_.is_open()) return;
    state_ = State::registered;
    timer_.cancel();
    agent_ = std::make_shared<RemoteAgent>(conn_, id_, reg.replays, *this);
    const auto &cfg = control_.cfg;
    std::string data = GoJson().num("heartbeat_interval_ms", cfg.heartbeat_interval.count()).num("server_time_ms", now_ms())
                           .boolean("resume", true).done();
    conn_.send_text(envelope({"register_ok", id_.server_id, "", 0, now_ms(), data}));
    control_.ctx.log.info("cc_control_agent_registered",
                          {{"server_id", id_.server_id}, {"sessions", std::to_string(reg.sessions.size())}});
    control_.agent_online(id_, reg, agent_);
    keepalive();
  }

  // Pings every agent_ping_interval; an agent heard from neither by frame nor pong for
  // agent_idle_timeout is gone (the original waited 45 s for a frame and never pinged).
  void keepalive()
  {
    timer_.expires_after(control_.cfg.agent_ping_interval);
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
      if (ec || alive.expired() || state_ != State::registered || !conn_.is_open()) return;
      if (std::chrono::steady_clock::now() - last_heard_ > control_.cfg.agent_idle_timeout) {
        gone("idle");
        return conn_.close(close_code::going_away, "agent idle");
      }
      conn_.ping();
      keepalive();
    });
  }

  void frame(const JsonView &msg)
  {
    std::string_view type = msg["type"].string_or();
    std::string sid(msg["session_id"].string_or());
    const JsonView data = msg["data"];
    if (type == "heartbeat") return;
    if (type == "pty_out") return output(sid, msg);
    if (type == "pty_exit") {
      control_.exited(id_, sid, exit_of(data), seq_of(data["last_seq"]));
      return agent_->release(sid);
    }
    if (type == "error") return error(sid, data);
    if (type == "permission_ask") {
      // tool_input is the tool's input object (raw JSON); a string is taken as that JSON already.
      const JsonView input = data["tool_input"];
      std::string raw = input.is_string() ? std::string(*input.string()) : input.exists() ? input.dump() : "{}";
      PermissionAsk ask{std::string(data["ask_id"].string_or()), std::string(data["tool_name"].string_or()), std::move(raw)};
      return control_.asked(id_, sid, ask);
    }
    if (type == "permission_gone") return control_.ask_gone(id_, sid, std::string(data["ask_id"].string_or()));
  }

  void output(const std::string &sid, const JsonView &msg)
  {
    auto b64 = msg["data_b64"];
    auto bytes = b64.is_string() ? base64_decode(*b64.string()) : std::optional<std::string>(std::string());
    if (!bytes) return control_.note_bad_agent_frame();  // the original dropped these silently too
    control_.out(id_, sid, seq_of(msg["seq"]), *bytes);
  }

  void error(const std::string &sid, const JsonView &data)
  {
    std::string message(data["message"].string_or());
    if (message.empty() && data.exists()) message = data.dump();
    if (message.empty()) message = "agent error";
    if (sid.empty())
      return control_.ctx.log.warn("cc_control_agent_error", {{"server_id", id_.server_id}, {"message", message}});
    control_.failed(id_, sid, message);
  }

  void gone(const char *why)
  {
    timer_.cancel();
    answer_probes(false);
    if (!agent_) return;
    auto agent = std::move(agent_);
    agent->detach();
    control_.agent_offline(id_, agent.get(), why);
  }

  Control &control_;
  WsConn &conn_;
  TokenRecord token_;
  asio::steady_timer timer_;        // the register deadline, then the keepalive
  asio::steady_timer probe_timer_;  // a probe's answer deadline
  State state_ = State::waiting;
  AgentId id_;
  std::shared_ptr<RemoteAgent> agent_;
  std::vector<std::function<void(bool)>> probes_;
  std::chrono::steady_clock::time_point last_heard_ = std::chrono::steady_clock::now();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

WsAccept agent_gate(Control &control, const HttpRequest &req)
{
  WsAccept acc;
  Caller caller;
  Failure f = authenticate(control, req, TokenType::agent, "agent:", caller);
  if (!f && control.remote_agents() >= control.cfg.max_agents) f = {503, "too many agents"};
  if (f) {
    acc.reject_status = f.status;
    acc.reject_body = f.message + "\n";
    acc.reject_content_type = "text/plain; charset=utf-8";
    if (f.status == 429) acc.reject_headers.emplace_back("Retry-After", f.retry_after);
    return acc;
  }
  acc.factory = [&control, token = caller.token](WsConn &conn) { return std::make_unique<AgentSocket>(control, conn, token); };
  // An agent streams every session's output on one connection: it is paced by TCP, not by the
  // per-connection message rate meant for clients typing.
  acc.messages_per_second = 0;
  return acc;
}

}  // namespace ccbridge::detail::server::cc_control
