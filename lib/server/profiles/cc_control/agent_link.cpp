#include "server/profiles/cc_control/agent_link.hpp"

#include "server/base64.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <algorithm>

namespace ccbridge::detail::server::cc_control {
namespace {

using std::chrono::milliseconds;

// The original's pty_exit data: exit_code and signal omitted when absent.
GoJson &exit_fields(GoJson &j, const PtyExit &e)
{
  if (e.exit_code) j.num("exit_code", *e.exit_code);
  j.str_omit("signal", e.signal);
  return j.str_omit("reason", e.reason);
}

std::string frame(std::string_view type, const std::string &server, std::string_view session, std::string_view data = {})
{
  return envelope({type, server, session, 0, now_ms(), data});
}

milliseconds ms_or(const JsonView &v, milliseconds fallback)
{
  auto n = v.int64();
  return n && *n > 0 ? milliseconds(*n) : fallback;
}

std::uint16_t dimension(const JsonView &v)
{
  auto n = v.int64();
  return n && *n > 0 && *n <= 0xffff ? static_cast<std::uint16_t>(*n) : 0;
}

}  // namespace

std::chrono::seconds Backoff::next()
{
  std::chrono::seconds d(1u << std::min(step_, 3u));
  ++step_;
  return d;
}

AgentLink::AgentLink(asio::io_context &ioc, Logger &log, AgentLinkConfig cfg)
    : ioc_(ioc), log_(log), cfg_(std::move(cfg)), heartbeat_timer_(ioc), drain_timer_(ioc)
{
}

AgentLink::~AgentLink() = default;

// ---- the connection ----------------------------------------------------------------------------

void AgentLink::open(std::shared_ptr<WsClientLink> socket)
{
  closed();
  socket_ = std::move(socket);
  socket_->send(register_frame());
}

void AgentLink::closed()
{
  socket_.reset();
  registered_ = false;
  heartbeat_timer_.cancel();
  drain_timer_.cancel();
  for (auto &[id, s] : sessions_) s.synced = s.exit_sent = false;
  set_congested(false);
}

void AgentLink::send(const std::string &frame)
{
  if (socket_) socket_->send(frame);
}

void AgentLink::send_error(const std::string &session_id, const std::string &message)
{
  if (can_send()) send(frame("error", cfg_.record.server_id, session_id, GoJson().str("message", message).done()));
}

// The original's register data plus `sessions` (every session held, with its last seq and exit)
// and `instance_id`.
std::string AgentLink::register_frame() const
{
  const ServerRecord &r = cfg_.record;
  std::string list = "[";
  for (const auto &[id, s] : sessions_) {
    GoJson j;
    j.str("session_id", id).num("last_seq", static_cast<std::int64_t>(s.last_seq));
    if (s.exit) {
      GoJson e;
      j.raw("exit", exit_fields(e, *s.exit).done());
    }
    list += (list.size() > 1 ? "," : "") + j.done();
  }
  list += "]";
  GoJson d;
  d.str("server_id", r.server_id).str("hostname", r.hostname);
  if (r.tags.empty()) d.raw("tags", "null");
  else d.strs("tags", r.tags);
  d.str("os", r.os).str("arch", r.arch).str("agent_version", r.agent_version).strs("allow_roots", r.allow_roots);
  d.str("claude_path", r.claude_path).raw("sessions", list).str("instance_id", cfg_.instance_id);
  return frame("register", r.server_id, "", d.done());
}

void AgentLink::message(const std::string &text)
{
  JsonView msg;
  try {
    msg = parse_json(text);
  } catch (const Error &) {
    log_.warn("agent_bad_frame", {{"detail", "a frame from the control plane is not JSON"}});
    return;
  }
  std::string type(msg["type"].string_or());
  if (type == "register_ok") return on_register_ok(msg["data"]);
  if (!registered_) return;
  handle(type, std::string(msg["session_id"].string_or()), msg);
}

// Without `resume` (an original cc-control) every session is sent again from the start of its
// buffer: the original drops the seqs it already has.
void AgentLink::on_register_ok(const JsonView &data)
{
  if (!socket_ || registered_) return;
  registered_ = true;
  heartbeat_ = std::clamp(ms_or(data["heartbeat_interval_ms"], milliseconds(5000)), milliseconds(100), milliseconds(60000));
  heartbeat();
  const bool resume = data["resume"].boolean().value_or(false);
  resume_ = resume;
  log_.info("agent_registered", {{"server_id", cfg_.record.server_id}, {"resume", resume ? "true" : "false"}});
  if (!resume) {
    for (auto &[id, s] : sessions_) {
      s.synced = true;
      s.sent = 0;
    }
    flush_all();
    prune_ended();
  }
  if (on_registered) on_registered();
}

void AgentLink::heartbeat()
{
  heartbeat_timer_.expires_after(heartbeat_);
  heartbeat_timer_.async_wait([this](std::error_code ec) {
    if (ec || !can_send()) return;
    send(frame("heartbeat", cfg_.record.server_id, ""));
    prune_ended();
    heartbeat();
  });
}

// ---- output ------------------------------------------------------------------------------------

// Hands the session's chunks after `sent` to the socket, then its exit once all are out. When the
// socket holds more than send_high, the rest waits for it to drain (and the PTYs are not read).
void AgentLink::flush(const std::string &id, Session &s)
{
  if (!can_send() || !s.synced) return;
  auto it = std::upper_bound(s.chunks.begin(), s.chunks.end(), s.sent,
                             [](std::uint64_t seq, const Chunk &c) { return seq < c.seq; });
  for (; it != s.chunks.end(); ++it) {
    if (socket_->buffered() > cfg_.send_high) return set_congested(true);
    send(envelope({"pty_out", cfg_.record.server_id, id, it->seq, now_ms(), {}, base64_encode(it->bytes)}));
    s.sent = it->seq;
  }
  s.sent = s.last_seq;  // chunks that went out of the buffer unsent: the control plane sees a gap
  if (s.exit && !s.exit_sent) {
    GoJson d;
    exit_fields(d, *s.exit).num("last_seq", static_cast<std::int64_t>(s.last_seq));
    send(frame("pty_exit", cfg_.record.server_id, id, d.done()));
    s.exit_sent = true;
  }
}

void AgentLink::flush_all()
{
  for (auto &[id, s] : sessions_) flush(id, s);
}

void AgentLink::set_congested(bool on)
{
  if (congested_ == on) return;
  congested_ = on;
  for (const auto &[id, s] : sessions_) apply_hold(id, s);
  if (!on) return;
  drain_timer_.expires_after(milliseconds(20));
  drain_timer_.async_wait([this](std::error_code ec) {
    if (ec || !socket_) return;
    if (socket_->buffered() > cfg_.send_high / 2) {
      congested_ = false;  // look again shortly, holds unchanged
      return set_congested(true);
    }
    set_congested(false);
    flush_all();
  });
}

void AgentLink::apply_hold(const std::string &id, const Session &s)
{
  if (agent_ && !s.exit) agent_->hold_output(id, s.cp_hold || congested_);
}

void AgentLink::pty_out(const std::string &, const std::string &session_id, std::uint64_t seq, const std::string &bytes)
{
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  Session &s = it->second;
  s.chunks.push_back({seq, bytes});
  s.bytes += bytes.size();
  s.last_seq = seq;
  while (s.bytes > cfg_.replay_bytes && !s.chunks.empty()) {
    s.bytes -= s.chunks.front().bytes.size();
    s.chunks.pop_front();
  }
  flush(session_id, s);
}

void AgentLink::pty_exit(const std::string &, const std::string &session_id, const PtyExit &exit)
{
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  if (it->second.unwanted) return void(sessions_.erase(it));
  it->second.exit = exit;
  it->second.ended_at = std::chrono::steady_clock::now();
  it->second.asks.clear();
  flush(session_id, it->second);
  prune_ended();
}

// The session did not start (LocalAgent reports start failures here): one error, and it is gone.
void AgentLink::agent_error(const std::string &, const std::string &session_id, const std::string &message)
{
  send_error(session_id, message);
  auto it = sessions_.find(session_id);
  if (it != sessions_.end() && !it->second.exit) sessions_.erase(it);
}

void AgentLink::permission_ask(const std::string &, const std::string &session_id, const PermissionAsk &ask)
{
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  it->second.asks[ask.ask_id] = ask;
  if (it->second.synced) send_asks(session_id, it->second);
}

void AgentLink::permission_gone(const std::string &, const std::string &session_id, const std::string &ask_id)
{
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || !it->second.asks.erase(ask_id) || !it->second.synced || !can_send()) return;
  send(frame("permission_gone", cfg_.record.server_id, session_id, GoJson().str("ask_id", ask_id).done()));
}

// Open asks are sent each time the session is synced (the control plane keeps one per ask_id).
void AgentLink::send_asks(const std::string &id, const Session &s)
{
  if (!can_send()) return;
  for (const auto &[ask_id, a] : s.asks) {
    GoJson d;
    d.str("ask_id", ask_id).str("tool_name", a.tool_name).raw("tool_input", a.tool_input.empty() ? "{}" : a.tool_input);
    send(frame("permission_ask", cfg_.record.server_id, id, d.done()));
  }
}

// Ended sessions wait for release at most keep_ended, and at most max_ended of them.
void AgentLink::prune_ended()
{
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> ended;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    // An original control plane never sends release: an exit it was sent is its last word.
    bool told = registered_ && !resume_ && it->second.exit_sent;
    if (it->second.exit && (told || now - it->second.ended_at >= cfg_.keep_ended)) it = sessions_.erase(it);
    else {
      if (it->second.exit) ended.emplace_back(it->second.ended_at, it->first);
      ++it;
    }
  }
  if (ended.size() <= cfg_.max_ended) return;
  std::sort(ended.begin(), ended.end());
  for (std::size_t i = 0; i < ended.size() - cfg_.max_ended; ++i) sessions_.erase(ended[i].second);
}

std::size_t AgentLink::running() const
{
  return static_cast<std::size_t>(std::count_if(sessions_.begin(), sessions_.end(), [](const auto &kv) { return !kv.second.exit; }));
}

bool AgentLink::delivered() const
{
  if (!can_send()) return true;
  for (const auto &[id, s] : sessions_)
    if (s.synced && (s.sent != s.last_seq || (s.exit && !s.exit_sent))) return false;
  return socket_->buffered() == 0;
}

void AgentLink::stop_all(milliseconds grace, milliseconds kill_after)
{
  if (!agent_) return;
  for (const auto &[id, s] : sessions_)
    if (!s.exit) agent_->stop_session(id, grace, kill_after);
}

// ---- the control plane's requests --------------------------------------------------------------

void AgentLink::report(const std::string &id, const std::string &err)
{
  if (!err.empty()) send_error(id, err);
}

void AgentLink::handle(const std::string &type, const std::string &id, const JsonView &msg)
{
  const JsonView data = msg["data"];
  if (type == "start_session") return start_session(id, data);
  if (type == "stop_session") return stop_session(id, data);
  if (type == "replay") return replay(id, static_cast<std::uint64_t>(std::max<std::int64_t>(0, msg["seq"].int64().value_or(0))));
  if (type == "release") return release(id);
  if (type == "permission_answer") return answer(id, data);
  auto it = sessions_.find(id);
  const bool live = it != sessions_.end() && !it->second.exit;
  if (type != "pty_in" && type != "resize" && type != "hold") return;  // others are ignored, as the original
  if (id.empty()) return send_error(id, "missing session_id");
  if (!live || !agent_) return send_error(id, "session not found");
  if (type == "pty_in") return pty_in(id, msg["data_b64"]);
  if (type == "resize") return report(id, agent_->resize(id, dimension(data["cols"]), dimension(data["rows"])));
  it->second.cp_hold = data["hold"].boolean().value_or(false);
  apply_hold(id, it->second);
}

void AgentLink::start_session(const std::string &id, const JsonView &data)
{
  if (id.empty()) return send_error(id, "missing session_id");
  if (draining_) return send_error(id, "agent draining");
  if (sessions_.count(id)) return send_error(id, "session already exists");
  if (!agent_) return send_error(id, "agent stopped");
  StartSession req;
  req.session_id = id;
  req.cwd = std::string(data["cwd"].string_or());
  for (std::size_t i = 0; data["cmd"].is_array() && i < data["cmd"].size(); ++i)
    req.cmd.emplace_back(data["cmd"][i].string_or());
  const JsonView env = data["env"];
  for (std::size_t i = 0; env.is_object() && i < env.size(); ++i)
    req.env.emplace(std::string(env.key_at(i)), std::string(env.value_at(i).string_or()));
  req.cols = dimension(data["cols"]);
  req.rows = dimension(data["rows"]);
  req.resume_id = std::string(data["resume_id"].string_or());
  Session &s = sessions_[id];
  s.synced = true;
  std::string err = agent_->start_session(req);
  if (err.empty()) return;
  sessions_.erase(id);
  send_error(id, err);
}

// The original's defaults: grace 3000 ms when <= 0, kill_after 7000 ms, at least the grace.
void AgentLink::stop_session(const std::string &id, const JsonView &data)
{
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return send_error(id, id.empty() ? "missing session_id" : "session not found");
  Session &s = it->second;
  if (!s.synced) {  // the answer to a listed session the control plane does not know
    if (s.exit) return void(sessions_.erase(it));
    s.unwanted = true;
  }
  if (s.exit || !agent_) return;  // its exit is (or was) sent
  milliseconds grace = ms_or(data["grace_ms"], milliseconds(3000));
  milliseconds kill_after = std::max(ms_or(data["kill_after_ms"], milliseconds(7000)), grace);
  report(id, agent_->stop_session(id, grace, kill_after));
}

void AgentLink::pty_in(const std::string &id, const JsonView &b64)
{
  auto bytes = base64_decode(b64.string_or());
  if (!bytes) return send_error(id, "illegal base64 data in data_b64");
  report(id, agent_->pty_in(id, *bytes));
}

void AgentLink::replay(const std::string &id, std::uint64_t seq)
{
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return send_error(id, "session not found");
  Session &s = it->second;
  s.synced = true;
  s.unwanted = false;
  s.sent = std::min(seq, s.last_seq);
  s.exit_sent = false;
  flush(id, s);
  send_asks(id, s);
}

void AgentLink::release(const std::string &id)
{
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  if (!it->second.exit) return send_error(id, "session still running");
  sessions_.erase(it);
}

void AgentLink::answer(const std::string &id, const JsonView &data)
{
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.exit || !agent_) return send_error(id, "session not found");
  std::string ask_id(data["ask_id"].string_or());
  it->second.asks.erase(ask_id);
  report(id, agent_->answer_permission(id, ask_id, data["allow"].boolean().value_or(false),
                                       std::string(data["message"].string_or())));
}

}  // namespace ccbridge::detail::server::cc_control
