#include "server/profiles/cc_control/control.hpp"

#include "server/base64.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <fmt/format.h>

#include <asio/steady_timer.hpp>

#include <algorithm>

namespace ccbridge::detail::server::cc_control {
namespace {

std::string update_data(const SessionRecord &s)
{
  GoJson j;
  j.str("session_id", s.session_id).str("status", s.status);
  if (s.exit_code) j.num("exit_code", *s.exit_code);
  else j.raw("exit_code", "null");
  j.str("exit_reason", s.exit_reason).str("resume_id", s.resume_id);
  j.boolean("awaiting_approval", s.awaiting_approval).str("pending_event_id", s.pending_event_id);
  return j.done();
}

constexpr std::int64_t kMenuSettleMs = 1000;

FramePtr event_frame(const EventRecord &e)
{
  return make_frame(envelope({"event", e.server_id, e.session_id, 0, now_ms(), to_json(e)}));
}

/// Output seqs from..to never arrived (AGENT-PROTOCOL.md, Gaps).
FramePtr gap_frame(const SessionRecord &r, std::uint64_t from, std::uint64_t to)
{
  std::string data = GoJson().num("from_seq", static_cast<std::int64_t>(from)).num("to_seq", static_cast<std::int64_t>(to)).done();
  return make_frame(envelope({"gap", r.server_id, r.session_id, to + 1, now_ms(), data}));
}

/// A Prometheus label value: backslash, double quote and newline escaped.
std::string label_value(const std::string &v)
{
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

bool in_tenant(const std::string &tenant, const std::string &owner) { return tenant.empty() || tenant == owner; }

/// What a hook ask shows people: the tool and the gist of its input (the command, the file).
std::string permission_excerpt(const std::string &tool, const std::string &input_json)
{
  std::string gist;
  try {
    JsonView in = parse_json(input_json);
    for (const char *k : {"command", "file_path", "path", "url", "pattern"})
      if (in[k].is_string()) {
        gist = std::string(*in[k].string());
        break;
      }
  } catch (const Error &) {
  }
  if (gist.empty()) gist = input_json;
  if (gist.size() > 2000) gist = gist.substr(0, 2000) + "...";
  return tool + ": " + gist;
}

}  // namespace

// ---- lookups -----------------------------------------------------------------------------------

LiveSession *Control::find(const std::string &tenant, const std::string &id)
{
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !in_tenant(tenant, it->second->rec.tenant_id)) return nullptr;
  return it->second.get();
}

LiveSession *Control::from_agent(const AgentId &id, const std::string &session_id)
{
  auto it = sessions_.find(session_id);
  // A frame about another server's session, or another tenant's, is not this agent's to report
  // (bug 4 of the original); the local agent (tenant "") reports for its own server id only.
  bool ours = it != sessions_.end() && it->second->rec.server_id == id.server_id &&
              (id.tenant.empty() ? id.server_id == cfg.server_id : it->second->rec.tenant_id == id.tenant);
  if (!ours) {
    if (!id.tenant.empty()) ++counters_.agent_frames_rejected;
    return nullptr;
  }
  return it->second.get();
}

Control::AgentEntry *Control::entry_for(const SessionRecord &s)
{
  auto it = agents_.find(agent_key(s.tenant_id, s.server_id));
  if (it == agents_.end() && s.server_id == cfg.server_id) it = agents_.find(agent_key("", s.server_id));
  return it == agents_.end() ? nullptr : &it->second;
}

Agent *Control::agent_for(const SessionRecord &s)
{
  AgentEntry *e = entry_for(s);
  if (!e || !e->agent || !e->agent->connected()) return nullptr;
  return e->agent.get();
}

std::vector<ServerRecord> Control::servers(const std::string &tenant)
{
  std::vector<ServerRecord> out;
  std::int64_t now = now_ms();
  for (auto &[key, a] : agents_) {
    // The built-in local agent (tenant "") serves every tenant.
    if (!tenant.empty() && !a.rec.tenant_id.empty() && a.rec.tenant_id != tenant) continue;
    bool up = a.agent && a.agent->connected();
    if (up && !a.remote) a.rec.last_seen_ms = now;
    // A connected agent whose heartbeats stopped is offline too (the original's offline-after).
    bool fresh = now - a.rec.last_seen_ms <= cfg.offline_after.count();
    a.rec.status = up && fresh ? "online" : "offline";
    a.rec.active_sessions = 0;
    for (const auto &[sid, ls] : sessions_)
      if ((ls->rec.active() || ls->rec.status == "orphaned") && in_tenant(tenant, ls->rec.tenant_id) &&
          entry_for(ls->rec) == &a)
        ++a.rec.active_sessions;
    out.push_back(a.rec);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ServerRecord &a, const ServerRecord &b) { return a.server_id < b.server_id; });
  return out;  // sorted by server_id, as the original sorts them
}

std::vector<SessionRecord> Control::sessions(const std::string &tenant, const std::string &server_filter) const
{
  std::vector<SessionRecord> out;
  for (const auto &[id, ls] : sessions_)
    if (in_tenant(tenant, ls->rec.tenant_id) && (server_filter.empty() || ls->rec.server_id == server_filter))
      out.push_back(ls->rec);
  std::stable_sort(out.begin(), out.end(),
                   [](const SessionRecord &a, const SessionRecord &b) { return a.created_at_ms > b.created_at_ms; });
  return out;
}

const std::vector<EventRecord> *Control::events(const std::string &tenant, const std::string &id) const
{
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !in_tenant(tenant, it->second->rec.tenant_id)) return nullptr;
  return &it->second->events;
}

// ---- broadcasts --------------------------------------------------------------------------------

void Control::broadcast(const std::string &tenant, const FramePtr &frame)
{
  // Only the owning tenant's clients (bugs 2 and 3 of the original sent to every tenant).
  for (Subscriber *s : subscribers_)
    if (s->caller().tenant() == tenant) s->deliver(frame);
}

void Control::session_update(const LiveSession &ls)
{
  const auto &s = ls.rec;
  broadcast(s.tenant_id, make_frame(envelope({"session_update", s.server_id, s.session_id, 0, now_ms(), update_data(s)})));
  save(ls);
}

void Control::audit_write(const std::string &actor, const SessionRecord *s, const std::string &kind, const std::string &meta)
{
  if (audit) audit->write(actor, s ? s->server_id : std::string(), s ? s->session_id : std::string(), kind, meta);
}

void Control::audit_server(const std::string &server_id, const std::string &kind, const std::string &meta)
{
  if (audit) audit->write("agent:" + server_id, server_id, "", kind, meta);
}

void Control::save(const LiveSession &ls)
{
  if (store_) store_->save(ls.rec);
}

// ---- sessions ----------------------------------------------------------------------------------

Failure Control::create(const Caller &who, const CreateSession &req, SessionRecord &out)
{
  auto it = agents_.find(agent_key(who.tenant(), req.server_id));
  if (it == agents_.end() && req.server_id == cfg.server_id) it = agents_.find(agent_key("", req.server_id));
  bool visible = it != agents_.end();
  // Unknown, another tenant's, or offline: one answer, so a server id of another tenant does
  // not show through (bug 24 of the original).
  if (!visible || !it->second.agent || !it->second.agent->connected()) return {503, "server offline"};
  if (!ctx.can_start_process() || !room_for_a_session()) return {503, "too many sessions"};
  SessionRecord s;
  s.tenant_id = who.tenant();
  s.session_id = Context::new_id();
  s.server_id = req.server_id;
  s.cwd = req.cwd;
  s.cmd = {it->second.rec.claude_path.empty() ? "claude" : it->second.rec.claude_path};
  s.resume_id = req.resume_id;
  if (!s.resume_id.empty()) s.cmd.insert(s.cmd.end(), {"--resume", s.resume_id});
  for (const auto &kv : req.env) s.env_keys.push_back(kv.first);  // a map: already sorted
  s.created_by = who.actor();
  s.created_at_ms = now_ms();
  auto ls = std::make_unique<LiveSession>(s, cfg.ring_buffer_bytes);
  LiveSession &live = *sessions_.emplace(s.session_id, std::move(ls)).first->second;
  save(live);
  flush(false);  // saved before 201 is answered: a control plane killed right after still knows it
  StartSession start{s.session_id, s.cwd, s.cmd, req.env, req.cols, req.rows, s.resume_id};
  std::string err = it->second.agent->start_session(start);
  audit_write(who.actor(), &s, "create_session",
              GoJson().str("cwd", s.cwd).str("resume_id", s.resume_id).done());
  if (!err.empty()) {
    live.rec.status = "error";
    live.rec.exit_reason = "start_session_send_failed";
    session_update(live);
  }
  out = live.rec;
  return {};
}

// Records are bounded: beyond max_sessions x 10 the oldest finished session is forgotten.
bool Control::room_for_a_session()
{
  std::size_t cap = ctx.cfg.limits.max_sessions * 10;
  if (sessions_.size() < cap) return true;
  const LiveSession *oldest = nullptr;
  for (const auto &[id, ls] : sessions_)
    if (!ls->rec.active() && (!oldest || ls->rec.created_at_ms < oldest->rec.created_at_ms)) oldest = ls.get();
  if (!oldest) return false;
  std::string id = oldest->rec.session_id;
  for (Subscriber *s : sessions_[id]->attached) s->attached.clear();
  if (store_) store_->remove_session(id);
  sessions_.erase(id);
  return true;
}

Failure Control::stop_session(const std::string &tenant, const std::string &id, std::chrono::milliseconds grace,
                              std::chrono::milliseconds kill_after, const std::string &actor)
{
  LiveSession *ls = find(tenant, id);
  if (!ls) return {404, "session not found"};
  // A session that has ended stays as it is (bug 13: the original set it to stopping, and the
  // agent's "session not found" then turned it into an error).
  if (ls->rec.status == "orphaned") return stop_while_away(*ls), Failure{};
  if (!ls->rec.active()) return {};
  Agent *agent = agent_for(ls->rec);
  // The agent is away: the session ends here, and is stopped there when the agent comes back
  // (bug 16: the original answered 503 and the session stayed live forever).
  if (!agent && entry_for(ls->rec) && entry_for(ls->rec)->remote) return stop_while_away(*ls), Failure{};
  if (!agent) return {503, "server offline"};
  std::string err = agent->stop_session(id, grace, kill_after);
  if (!err.empty()) return {500, err};
  ls->rec.status = "stopping";
  audit_write(actor, &ls->rec, "stop_session",
              GoJson().num("grace_ms", grace.count()).num("kill_after_ms", kill_after.count()).done());
  session_update(*ls);
  return {};
}

Failure Control::delete_session(const Caller &who, const std::string &id, std::chrono::milliseconds grace,
                                std::chrono::milliseconds kill_after)
{
  LiveSession *ls = find(who.tenant(), id);
  if (!ls) return {404, "session not found"};
  bool stop = ls->rec.active();
  Agent *agent = agent_for(ls->rec);
  if (stop && agent) {
    std::string err = agent->stop_session(id, grace, kill_after);
    if (!err.empty()) return {500, err};
  }
  // An agent that is away is told when it is back; the record goes now (bug 16: orphans).
  if (AgentEntry *e = entry_for(ls->rec); e && e->remote && !agent && (stop || ls->rec.status == "orphaned"))
    e->stop_on_return.insert(id);
  audit_write(who.actor(), &ls->rec, "delete_session", GoJson().boolean("stop_requested", stop).done());
  for (Subscriber *s : ls->attached) s->attached.clear();
  if (store_) store_->remove_session(id);
  sessions_.erase(id);
  return {};
}

// ---- /ws/client --------------------------------------------------------------------------------

void Control::join(Subscriber &s)
{
  subscribers_.insert(&s);
  s.deliver(make_frame(envelope({"debug_probe", "", "", 0, now_ms(), R"({"message":"probe"})"})));
  // The caller's tenant's pending approvals, newest first.
  std::vector<const EventRecord *> pending;
  for (const auto &[id, ls] : sessions_)
    if (ls->rec.tenant_id == s.caller().tenant())
      for (const auto &e : ls->events)
        if (!e.resolved) pending.push_back(&e);
  std::sort(pending.begin(), pending.end(), [](const EventRecord *a, const EventRecord *b) {
    return a->ts_ms != b->ts_ms ? a->ts_ms > b->ts_ms : a->event_id > b->event_id;
  });
  for (const EventRecord *e : pending) s.deliver(event_frame(*e));
}

void Control::leave(Subscriber &s)
{
  subscribers_.erase(&s);
  if (!s.attached.empty())
    if (auto it = sessions_.find(s.attached); it != sessions_.end()) it->second->attached.erase(&s);
  s.attached.clear();
}

Failure Control::attach(Subscriber &s, const std::string &id, std::uint64_t since_seq)
{
  LiveSession *ls = find(s.caller().tenant(), id);
  if (!ls) return {404, "session not found"};
  if (!s.attached.empty())
    if (auto it = sessions_.find(s.attached); it != sessions_.end()) it->second->attached.erase(&s);
  // attach_ok and the replay are queued before the client joins the session's live output, on
  // the connection's one writer: nothing live can overtake them (bug 20 of the original).
  const auto &r = ls->rec;
  std::string data = GoJson().str("session_id", r.session_id).num("latest_seq", static_cast<std::int64_t>(r.latest_agent_out_seq)).done();
  s.deliver(make_frame(envelope({"attach_ok", "", r.session_id, 0, now_ms(), data})));
  ++counters_.attach_replays;
  replay(s, *ls, since_seq);
  for (const auto &e : ls->events)
    if (!e.resolved) s.deliver(event_frame(e));
  s.attached = id;
  ls->attached.insert(&s);
  return {};
}

std::uint64_t Control::replay(Subscriber &s, const LiveSession &ls, std::uint64_t since_seq)
{
  const auto &r = ls.rec;
  std::uint64_t latest = ls.ring.latest_seq();
  if (ls.ring.empty() || (since_seq > 0 && since_seq >= latest)) return latest;
  TermRing::Replay rp = ls.ring.since(since_seq);
  if (since_seq > 0 && !rp.snapshot) {
    std::uint64_t next = since_seq + 1;
    for (const auto &c : rp.chunks) {
      // Chunks the agent lost on the way are reported here too, as they were live.
      if (!c.note && c.seq > next) s.deliver(gap_frame(r, next, c.seq - 1));
      if (!c.note) next = c.seq + 1;
      s.deliver(make_frame(envelope({"term_out", "", r.session_id, c.seq, 0, "", base64_encode(c.data)})));
    }
    return latest;
  }
  // Everything the ring holds, in one term_out whose seq is the latest (the original's snapshot).
  // When the client asked for output the ring no longer holds, `data` says so: its screen is to
  // be redrawn from this, not appended to.
  if (since_seq > 0) ++counters_.replay_gaps;
  ++counters_.attach_snapshots;
  std::string data;
  if (since_seq > 0)
    data = GoJson().boolean("snapshot", true).num("first_seq", static_cast<std::int64_t>(rp.first_seq)).done();
  s.deliver(make_frame(envelope({"term_out", "", r.session_id, latest, 0, data, base64_encode(rp.joined())})));
  return latest;
}

Failure Control::term_in(Subscriber &s, const std::string &id, const std::string &bytes)
{
  LiveSession *ls = find(s.caller().tenant(), id);
  if (!ls) return {404, "session not found"};
  if (!ls->rec.active()) return {409, "session not running"};
  Agent *agent = agent_for(ls->rec);
  if (!agent) return {503, "server offline"};
  std::string err = agent->pty_in(id, bytes);
  if (!err.empty()) return {500, err};
  audit_write(s.caller().actor(), &ls->rec, "term_in", AuditLog::term_in_meta(bytes));
  return {};
}

Failure Control::resize(Subscriber &s, const std::string &id, std::uint16_t cols, std::uint16_t rows)
{
  LiveSession *ls = find(s.caller().tenant(), id);
  if (!ls) return {404, "session not found"};
  if (!ls->rec.active()) return {409, "session not running"};
  Agent *agent = agent_for(ls->rec);
  if (!agent) return {503, "server offline"};
  std::string err = agent->resize(id, cols, rows);
  if (!err.empty()) return {500, err};
  audit_write(s.caller().actor(), &ls->rec, "resize", GoJson().num("cols", cols).num("rows", rows).done());
  return {};
}

Failure Control::answer(Subscriber &s, const std::string &id, bool approve, const std::string &requested)
{
  LiveSession *ls = find(s.caller().tenant(), id);
  if (!ls) return {404, "session not found"};
  // An event_id that names an approval already answered is stale: someone answered first.
  for (const auto &e : ls->events)
    if (!requested.empty() && e.event_id == requested && e.resolved) return {409, "approval already resolved"};
  if (!ls->rec.awaiting_approval) return {409, "no pending approval"};
  Agent *agent = agent_for(ls->rec);
  if (!agent) return {503, "server offline"};
  std::string event_id = ls->rec.pending_event_id;
  std::string err;
  if (!ls->pending_ask.empty()) {
    err = agent->answer_permission(id, ls->pending_ask, approve, approve ? "" : "Rejected in cc-control");
  } else {
    const EventRecord *ev = nullptr;
    for (const auto &e : ls->events)
      if (e.event_id == event_id) ev = &e;
    std::string keys = approval_keys(ev ? ev->prompt_excerpt : "", approve);
    // Claude Code ignores keys that come right after it shows a permission menu (so that typing
    // ahead does not answer it): the keys wait until the menu has been up for a moment.
    std::int64_t wait = ev ? ev->ts_ms + kMenuSettleMs - now_ms() : 0;
    if (wait > 0) type_later(id, event_id, std::move(keys), std::chrono::milliseconds(wait));
    else err = agent->pty_in(id, keys);
  }
  // Not delivered: the approval stays pending (bug 12: the original marked it resolved anyway).
  if (!err.empty()) return {503, err};
  resolve(*ls, s.caller().actor(), approve ? "approve" : "reject");
  audit_write(s.caller().actor(), &ls->rec, approve ? "action_approve" : "action_reject",
              GoJson().str("event_id", event_id).str("requested_event_id", requested).done());
  session_update(*ls);
  raise_next_ask(*ls);
  return {};
}

void Control::type_later(const std::string &id, const std::string &event_id, std::string keys, std::chrono::milliseconds wait)
{
  auto timer = std::make_shared<asio::steady_timer>(ctx.ioc, wait);
  timer->async_wait([this, alive = std::weak_ptr<bool>(alive_), timer, id, event_id, keys = std::move(keys)](std::error_code ec) {
    if (ec || alive.expired() || ctx.stopping) return;
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    LiveSession &ls = *it->second;
    Agent *agent = agent_for(ls.rec);
    if (agent && agent->pty_in(id, keys).empty()) return;
    // Not delivered after all: the approval is pending again, unless another has come since.
    if (ls.rec.awaiting_approval) return;
    for (auto &e : ls.events)
      if (e.event_id == event_id) {
        e.resolved = false;
        e.actor.clear();
        e.decision.clear();
        ls.rec.awaiting_approval = true;
        ls.rec.pending_event_id = event_id;
        session_update(ls);
      }
  });
}

void Control::revoked(const std::vector<std::string> &token_ids)
{
  std::vector<Subscriber *> doomed;
  for (Subscriber *s : subscribers_)
    if (std::find(token_ids.begin(), token_ids.end(), s->caller().token.token_id) != token_ids.end())
      doomed.push_back(s);
  for (Subscriber *s : doomed) s->end(close_code::policy_violation, "token revoked");
}

// ---- approvals ---------------------------------------------------------------------------------

void Control::raise_event(LiveSession &ls, EventRecord ev)
{
  if (ls.events.size() >= cfg.max_events_per_session) {
    // Bounded: the oldest answered events go first.
    auto old = std::find_if(ls.events.begin(), ls.events.end(), [](const EventRecord &e) { return e.resolved; });
    if (old != ls.events.end()) ls.events.erase(old);
  }
  ev.event_id = Context::new_id();
  ev.session_id = ls.rec.session_id;
  ev.server_id = ls.rec.server_id;
  ev.tenant_id = ls.rec.tenant_id;
  ev.ts_ms = now_ms();
  ls.rec.awaiting_approval = true;
  ls.rec.pending_event_id = ev.event_id;
  ls.events.push_back(ev);
  ++counters_.approvals_raised;
  if (store_) store_->save(ev);
  broadcast(ls.rec.tenant_id, event_frame(ev));
  session_update(ls);
  audit_write("system", &ls.rec, "approval_needed", GoJson().str("event_id", ev.event_id).done());
}

void Control::resolve(LiveSession &ls, const std::string &actor, const std::string &decision)
{
  for (auto &e : ls.events)
    if (e.event_id == ls.rec.pending_event_id) {
      e.resolved = true;
      e.actor = actor;
      e.decision = decision;
      if (store_) store_->save(e);
    }
  ++counters_.approvals_resolved;
  ls.rec.awaiting_approval = false;
  ls.rec.pending_event_id.clear();
  ls.pending_ask.clear();
  ls.watch.reset();
  ls.prompt.clear();  // detection starts afresh after the prompt
}

void Control::clear_approval(LiveSession &ls, const std::string &decision)
{
  if (ls.rec.awaiting_approval) resolve(ls, "system", decision);
  ls.queued_asks.clear();
  ls.prompt.clear();
  ls.resume.clear();
}

void Control::raise_next_ask(LiveSession &ls)
{
  if (ls.rec.awaiting_approval || ls.queued_asks.empty()) return;
  PermissionAsk ask = std::move(ls.queued_asks.front());
  ls.queued_asks.pop_front();
  EventRecord ev;
  ev.source = "hook";
  ev.tool_name = ask.tool_name;
  ev.tool_input = ask.tool_input;
  ev.prompt_excerpt = permission_excerpt(ask.tool_name, ask.tool_input);
  ls.pending_ask = ask.ask_id;
  raise_event(ls, std::move(ev));
}

void Control::detect(LiveSession &ls, const std::string &bytes)
{
  if (auto id = ls.resume.feed(bytes); id && *id != ls.rec.resume_id) {
    ls.rec.resume_id = *id;
    session_update(ls);
  }
  // A prompt read from the screen that leaves it (the person answered in the terminal) is no
  // longer pending (bug 10: the original kept awaiting_approval until an action).
  if (ls.watch && ls.watch->feed(bytes)) {
    ls.watch.reset();
    if (ls.rec.awaiting_approval && ls.pending_ask.empty()) {
      audit_write("terminal", &ls.rec, "approval_resolved",
                  GoJson().str("event_id", ls.rec.pending_event_id).str("decision", "answered_on_screen").done());
      resolve(ls, "terminal", "answered_on_screen");
      ls.prompt.clear();
      session_update(ls);
    }
    return;
  }
  if (!cfg.prompt_detection || ls.rec.awaiting_approval) return;
  if (auto m = ls.prompt.feed(bytes)) {
    EventRecord ev;
    ev.source = "screen";
    ev.prompt_excerpt = m->excerpt;
    ls.watch.emplace(m->excerpt);
    raise_event(ls, std::move(ev));
  }
}

// ---- what agents report ------------------------------------------------------------------------

void Control::pty_out(const std::string &server_id, const std::string &session_id, std::uint64_t seq,
                      const std::string &bytes)
{
  out({"", server_id}, session_id, seq, bytes);
}

void Control::out(const AgentId &id, const std::string &session_id, std::uint64_t seq, const std::string &bytes)
{
  LiveSession *ls = from_agent(id, session_id);
  if (!ls) return;
  auto &r = ls->rec;
  ls->probed = false;  // it has the session
  if (seq > 0 && seq <= r.latest_agent_out_seq) return;  // a repeat
  // Seqs follow on; a jump means chunks were lost on the way (the original said nothing: bug 18).
  if (seq > r.latest_agent_out_seq + 1) gap(*ls, r.latest_agent_out_seq + 1, seq - 1);
  if (seq > 0) r.latest_agent_out_seq = seq;
  // Output from a session that had been orphaned: its agent is back (an original agent, which
  // does not list its sessions when it registers).
  bool became_running = r.status == "starting" || r.status == "orphaned";
  if (became_running) r.status = "running";
  ls->ring.append(r.latest_agent_out_seq, bytes);
  if (store_) store_->mark_ring_dirty(session_id);
  auto frame = make_frame(envelope({"term_out", id.server_id, session_id, seq, 0, "", base64_encode(bytes)}));
  for (Subscriber *s : ls->attached) s->deliver(frame, r.latest_agent_out_seq);
  check_hold(*ls);
  if (became_running) session_update(*ls);
  detect(*ls, bytes);
}

void Control::gap(LiveSession &ls, std::uint64_t from, std::uint64_t to)
{
  ++counters_.output_gaps;
  ctx.log.warn("cc_control_output_gap", {{"session_id", ls.rec.session_id}, {"server_id", ls.rec.server_id},
                                         {"from_seq", std::to_string(from)}, {"to_seq", std::to_string(to)}});
  // In the stream of output: a client held back meets it again in its resync from the ring.
  auto frame = gap_frame(ls.rec, from, to);
  for (Subscriber *s : ls.attached) s->deliver(frame, to);
}

// ---- back-pressure -----------------------------------------------------------------------------
// A session's output is paced by its fastest attached client, like a terminal on a slow line:
// when every client that keeps up has a full send buffer, the agent stops reading the PTY until
// one has drained to half. A client slower than the others falls behind instead and is resynced
// from the ring (ws_client.cpp); one stuck past slow_client_timeout is closed.

void Control::check_hold(LiveSession &ls)
{
  if (ls.held) return;
  std::size_t cap = ctx.cfg.limits.send_buffer_bytes;
  bool any = false;
  for (const Subscriber *s : ls.attached) {
    if (s->behind()) continue;
    if (s->backlog() <= cap) return;
    any = true;
  }
  Agent *agent = any ? agent_for(ls.rec) : nullptr;
  if (!agent) return;
  agent->hold_output(ls.rec.session_id, true);
  ls.held = true;
  ls.held_since = std::chrono::steady_clock::now();
  held_.insert(ls.rec.session_id);
  if (held_.size() == 1) poll_holds();
}

// True once released.
bool Control::release_hold(LiveSession &ls)
{
  std::size_t cap = ctx.cfg.limits.send_buffer_bytes;
  std::vector<Subscriber *> stuck;
  for (Subscriber *s : ls.attached) {
    if (s->behind()) continue;
    if (s->backlog() <= cap / 2) stuck.clear();
    if (s->backlog() <= cap / 2) break;
    stuck.push_back(s);
  }
  bool drained = stuck.empty();
  if (!drained && std::chrono::steady_clock::now() - ls.held_since < ctx.cfg.limits.slow_client_timeout) return false;
  for (Subscriber *s : stuck) s->end(close_code::policy_violation, "client too slow");
  if (Agent *agent = agent_for(ls.rec)) agent->hold_output(ls.rec.session_id, false);
  ls.held = false;
  return true;
}

void Control::poll_holds()
{
  if (!hold_timer_) hold_timer_ = std::make_unique<asio::steady_timer>(ctx.ioc);
  hold_timer_->expires_after(std::chrono::milliseconds(5));
  hold_timer_->async_wait([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
    if (ec || alive.expired()) return;
    for (auto it = held_.begin(); it != held_.end();) {
      auto s = sessions_.find(*it);
      bool done = s == sessions_.end() || !s->second->held || release_hold(*s->second);
      it = done ? held_.erase(it) : std::next(it);
    }
    if (!held_.empty()) poll_holds();
  });
}

void Control::pty_exit(const std::string &server_id, const std::string &session_id, const PtyExit &exit)
{
  exited({"", server_id}, session_id, exit, 0);
}

void Control::exited(const AgentId &id, const std::string &session_id, const PtyExit &exit, std::uint64_t last_seq)
{
  LiveSession *ls = from_agent(id, session_id);
  if (!ls) return;
  auto &r = ls->rec;
  if (last_seq > r.latest_agent_out_seq) gap(*ls, r.latest_agent_out_seq + 1, last_seq);
  const std::string &server_id = id.server_id;
  r.status = "exited";
  r.exit_code = exit.exit_code;
  r.exit_reason = !exit.reason.empty() ? exit.reason : exit.signal;
  clear_approval(*ls, "exited");
  session_update(*ls);
  if (store_) store_->mark_ring_dirty(session_id);
  audit_write("agent:" + server_id, &r, "session_exit",
              [&] {
                GoJson j;
                j.str("reason", exit.reason).str("signal", exit.signal);
                if (exit.exit_code) j.num("exit_code", *exit.exit_code);
                return j.done();
              }());
}

void Control::agent_error(const std::string &server_id, const std::string &session_id, const std::string &message)
{
  failed({"", server_id}, session_id, message);
}

void Control::failed(const AgentId &id, const std::string &session_id, const std::string &message)
{
  LiveSession *ls = from_agent(id, session_id);
  if (!ls || !ls->rec.active()) return;
  const std::string &server_id = id.server_id;
  auto &r = ls->rec;
  if (ls->probed && message == "session not found") return lose(*ls, "lost_by_agent");
  if (r.status == "starting" && message == "session not found") return;  // a benign race
  r.status = "error";
  if (r.exit_reason.empty()) r.exit_reason = message;
  clear_approval(*ls, "error");
  std::string note = "\r\n[agent error] " + message + "\r\n";
  ls->ring.append_note(note);
  auto frame = make_frame(envelope({"term_out", server_id, session_id, r.latest_agent_out_seq, 0, "", base64_encode(note)}));
  for (Subscriber *s : ls->attached) s->deliver(frame);
  session_update(*ls);
  audit_write("agent:" + server_id, &r, "agent_error", GoJson().str("message", message).done());
}

void Control::permission_ask(const std::string &server_id, const std::string &session_id, const PermissionAsk &ask)
{
  asked({"", server_id}, session_id, ask);
}

void Control::asked(const AgentId &id, const std::string &session_id, const PermissionAsk &ask)
{
  LiveSession *ls = from_agent(id, session_id);
  Agent *agent = ls ? agent_for(ls->rec) : nullptr;
  if (!ls || !ls->rec.active()) {
    if (agent) agent->answer_permission(session_id, ask.ask_id, false, "session not running");
    return;
  }
  // An agent asks again after a reconnect what is still open: one event per ask.
  bool known = ls->pending_ask == ask.ask_id ||
               std::any_of(ls->queued_asks.begin(), ls->queued_asks.end(), [&](const PermissionAsk &a) { return a.ask_id == ask.ask_id; });
  if (known) return;
  // A prompt guessed from the screen gives way to the exact one for the same request.
  if (ls->rec.awaiting_approval && ls->pending_ask.empty()) resolve(*ls, "system", "superseded");
  ls->queued_asks.push_back(ask);
  raise_next_ask(*ls);
}

void Control::permission_gone(const std::string &server_id, const std::string &session_id, const std::string &ask_id)
{
  ask_gone({"", server_id}, session_id, ask_id);
}

void Control::ask_gone(const AgentId &id, const std::string &session_id, const std::string &ask_id)
{
  LiveSession *ls = from_agent(id, session_id);
  if (!ls) return;
  auto q = std::find_if(ls->queued_asks.begin(), ls->queued_asks.end(),
                        [&](const PermissionAsk &a) { return a.ask_id == ask_id; });
  if (q != ls->queued_asks.end()) ls->queued_asks.erase(q);
  if (ls->pending_ask != ask_id) return;
  // Answered on the terminal itself (or the CLI gave up on the hook).
  audit_write("terminal", &ls->rec, "approval_resolved",
              GoJson().str("event_id", ls->rec.pending_event_id).str("decision", "answered_on_screen").done());
  resolve(*ls, "terminal", "answered_on_screen");
  session_update(*ls);
  raise_next_ask(*ls);
}

// ---- metrics -----------------------------------------------------------------------------------

void Control::metrics(std::string &o, bool per_agent) const
{
  std::map<std::string, std::size_t> by_state{{"starting", 0}, {"running", 0}, {"stopping", 0}, {"exited", 0}, {"error", 0}, {"orphaned", 0}};
  for (const auto &[id, ls] : sessions_) ++by_state[ls->rec.status];
  o += "# HELP ccbridge_cc_control_sessions cc-control terminal sessions by state\n"
       "# TYPE ccbridge_cc_control_sessions gauge\n";
  for (const auto &[state, n] : by_state) o += fmt::format("ccbridge_cc_control_sessions{{state=\"{}\"}} {}\n", state, n);
  auto counter = [&o](const char *name, const char *help, std::uint64_t v) {
    o += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
  };
  auto gauge = [&o](const char *name, const char *help, std::size_t v) {
    o += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, v);
  };
  counter("ccbridge_cc_control_approvals_raised_total", "Approvals asked for", counters_.approvals_raised);
  counter("ccbridge_cc_control_approvals_resolved_total", "Approvals answered", counters_.approvals_resolved);
  counter("ccbridge_cc_control_attach_replays_total", "Attaches (each replays what the client missed)", counters_.attach_replays);
  counter("ccbridge_cc_control_attach_snapshots_total", "Replays sent as one snapshot of the ring", counters_.attach_snapshots);
  counter("ccbridge_cc_control_replay_gaps_total", "Replays asked from a seq the ring no longer held", counters_.replay_gaps);
  counter("ccbridge_cc_control_resyncs_total", "Slow clients resynced from the ring", counters_.resyncs);
  counter("ccbridge_cc_control_output_gaps_total", "Runs of agent output lost on the way (told to clients as gap frames)", counters_.output_gaps);
  counter("ccbridge_cc_control_agent_registrations_total", "Agent registrations accepted", counters_.agent_registrations);
  counter("ccbridge_cc_control_agents_refused_total", "Agent registrations refused (duplicate or reserved server id)", counters_.agents_refused);
  counter("ccbridge_cc_control_agents_replaced_total", "Stale agent connections replaced by a new registration", counters_.agents_replaced);
  counter("ccbridge_cc_control_agent_frames_rejected_total", "Agent frames dropped (malformed, or about a session not the agent's)", counters_.agent_frames_rejected);
  counter("ccbridge_cc_control_sessions_lost_total", "Sessions ended because their agent no longer had them", counters_.sessions_lost);
  counter("ccbridge_cc_control_sessions_orphaned_total", "Sessions orphaned by an agent gone past the grace", counters_.sessions_orphaned);
  std::size_t online = 0, offline = 0;
  for (const auto &[key, a] : agents_)
    if (a.remote) (a.agent && a.agent->connected() ? online : offline) += 1;
  o += fmt::format("# HELP ccbridge_cc_control_agents Remote agents by connection state\n"
                   "# TYPE ccbridge_cc_control_agents gauge\nccbridge_cc_control_agents{{state=\"online\"}} {}\n"
                   "ccbridge_cc_control_agents{{state=\"offline\"}} {}\n", online, offline);
  // Each remote agent's live (or orphaned) sessions; at most max_agents series.
  std::map<std::string, std::size_t> per_agent_sessions;
  for (const auto &[key, a] : agents_)
    if (a.remote && per_agent) per_agent_sessions[key] = 0;
  for (const auto &[sid, ls] : sessions_)
    if (ls->rec.active() || ls->rec.status == "orphaned")
      if (auto it = per_agent_sessions.find(agent_key(ls->rec.tenant_id, ls->rec.server_id)); it != per_agent_sessions.end()) ++it->second;
  o += "# HELP ccbridge_cc_control_agent_sessions Live or orphaned sessions per remote agent (admin token only)\n"
       "# TYPE ccbridge_cc_control_agent_sessions gauge\n";
  for (const auto &[key, n] : per_agent_sessions) {
    const ServerRecord &r = agents_.at(key).rec;
    o += fmt::format("ccbridge_cc_control_agent_sessions{{tenant_id=\"{}\",server_id=\"{}\",status=\"{}\"}} {}\n",
                     label_value(r.tenant_id), label_value(r.server_id), agents_.at(key).agent ? "online" : "offline", n);
  }
  gauge("ccbridge_cc_control_subscribers", "Open /ws/client connections", subscribers_.size());
  // Back-pressure as it stands: sessions whose output waits for a client, and clients left behind
  // by live output (resynced from the ring once they drain).
  gauge("ccbridge_cc_control_sessions_held", "Sessions whose output is held: no attached client can take more", held_.size());
  gauge("ccbridge_cc_control_subscribers_behind", "/ws/client connections left behind by live output",
        static_cast<std::size_t>(std::count_if(subscribers_.begin(), subscribers_.end(), [](const Subscriber *s) { return s->behind(); })));
}

}  // namespace ccbridge::detail::server::cc_control
