// cc-control: the control plane's bookkeeping of remote agents (docs/AGENT-PROTOCOL.md). An agent
// registering is reconciled with the sessions the control plane has on its server: each session
// it lists is replayed from the last seq held here, released (its exit is already here) or stopped
// (unknown here); each session it does not list has been lost. An agent gone longer than
// orphan_after leaves its live sessions `orphaned` (the original left them `running`: bug 15).
#include "server/profiles/cc_control/control.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <asio/steady_timer.hpp>

#include <set>

namespace ccbridge::detail::server::cc_control {
namespace {

constexpr auto kReconcileGrace = std::chrono::milliseconds(3000);
constexpr auto kReconcileKill = std::chrono::milliseconds(8000);

}  // namespace

std::string Control::reserved(const std::string &server_id) const
{
  if (server_id == cfg.server_id) return "server_id \"" + server_id + "\" is the control plane's own local agent";
  return {};
}

std::shared_ptr<Agent> Control::connected_agent(const AgentId &id) const
{
  auto it = agents_.find(agent_key(id.tenant, id.server_id));
  if (it == agents_.end() || !it->second.agent || !it->second.agent->connected()) return nullptr;
  return it->second.agent;
}

bool Control::agent_current(const AgentId &id, const Agent *agent) const
{
  auto it = agents_.find(agent_key(id.tenant, id.server_id));
  return it != agents_.end() && it->second.agent.get() == agent;
}

std::size_t Control::remote_agents() const
{
  std::size_t n = 0;
  for (const auto &[key, a] : agents_) n += a.remote && a.agent ? 1 : 0;
  return n;
}

void Control::agent_online(const AgentId &id, const Registration &reg, std::shared_ptr<Agent> agent)
{
  AgentEntry &e = agents_[agent_key(id.tenant, id.server_id)];
  ServerRecord &r = e.rec;
  r.tenant_id = id.tenant;
  r.server_id = id.server_id;
  r.hostname = reg.hostname;
  r.tags = reg.tags;
  r.os = reg.os;
  r.arch = reg.arch;
  r.agent_version = reg.agent_version;
  r.allow_roots = reg.allow_roots;
  r.claude_path = reg.claude_path;
  r.last_seen_ms = now_ms();
  r.status = "online";
  e.agent = std::move(agent);
  e.remote = true;
  e.orphaned = false;
  ++counters_.agent_registrations;
  audit_server(id.server_id, "register",
              GoJson().str("tenant_id", id.tenant).str_omit("instance_id", reg.instance_id)
                  .num("sessions", static_cast<std::int64_t>(reg.sessions.size())).done());
  reconcile(id, reg, *e.agent);
}

void Control::reconcile(const AgentId &id, const Registration &reg, Agent &agent)
{
  std::set<std::string> listed;
  for (const HeldSession &h : reg.sessions) {
    listed.insert(h.session_id);
    LiveSession *ls = from_agent(id, h.session_id);
    bool live_here = ls && (ls->rec.active() || ls->rec.status == "orphaned");
    if (live_here) {
      if (ls->rec.status == "orphaned") {
        ls->rec.status = ls->rec.latest_agent_out_seq > 0 ? "running" : "starting";
        session_update(*ls);
      }
      agent.replay(h.session_id, ls->rec.latest_agent_out_seq);
      // A stop sent to the old connection may not have arrived.
      if (ls->rec.status == "stopping") agent.stop_session(h.session_id, kReconcileGrace, kReconcileKill);
    } else if (h.exit) {
      agent.release(h.session_id);  // ended there, and here it has ended or is unknown
    } else {
      // Deleted or stopped here while the agent was away, or unknown (a control plane that lost
      // its state): nothing may run unseen.
      agent.stop_session(h.session_id, kReconcileGrace, kReconcileKill);
      audit_write("agent:" + id.server_id, ls ? &ls->rec : nullptr, "reconcile_stop",
                  GoJson().str("session_id", h.session_id).done());
    }
  }
  // (An agent that lists its sessions has had those stopped above.)
  AgentEntry &e = agents_[agent_key(id.tenant, id.server_id)];
  auto stops = std::move(e.stop_on_return);
  e.stop_on_return.clear();
  // An original agent does not list what it holds: what was stopped while it was away is
  // stopped now, and its sessions are asked about one by one.
  if (!reg.replays) {
    for (const std::string &sid : stops) agent.stop_session(sid, kReconcileGrace, kReconcileKill);
    return probe_sessions(id, agent);
  }
  std::vector<LiveSession *> lost;
  for (auto &[sid, ls] : sessions_)
    if (!listed.count(sid) && (ls->rec.active() || ls->rec.status == "orphaned") &&
        ls->rec.server_id == id.server_id && ls->rec.tenant_id == id.tenant)
      lost.push_back(ls.get());
  for (LiveSession *ls : lost) lose(*ls, "lost_by_agent");
}

void Control::probe_sessions(const AgentId &id, Agent &agent)
{
  for (auto &[sid, ls] : sessions_) {
    auto &r = ls->rec;
    if (r.server_id != id.server_id || r.tenant_id != id.tenant || !(r.active() || r.status == "orphaned")) continue;
    if (r.status == "orphaned") {
      r.status = r.latest_agent_out_seq > 0 ? "running" : "starting";
      session_update(*ls);
    }
    ls->probed = true;
    agent.pty_in(sid, "");
  }
}

void Control::stop_while_away(LiveSession &ls)
{
  if (AgentEntry *e = entry_for(ls.rec)) e->stop_on_return.insert(ls.rec.session_id);
  lose(ls, "stopped while its agent was away");
}

// The session ends here without an exit from its agent.
void Control::lose(LiveSession &ls, const std::string &reason)
{
  auto &r = ls.rec;
  r.status = "exited";
  r.exit_code.reset();
  r.exit_reason = reason;
  ++counters_.sessions_lost;
  clear_approval(ls, "exited");
  session_update(ls);
  audit_write("system", &r, "session_exit", GoJson().str("reason", reason).done());
}

Failure Control::forget_server(const std::string &tenant, const std::string &server_id)
{
  auto it = agents_.find(agent_key(tenant, server_id));
  if (it == agents_.end() || !it->second.remote) return {404, "server not found"};
  if (it->second.agent) return {409, "server online"};
  agents_.erase(it);
  audit_server(server_id, "server_forgotten", GoJson().str("tenant_id", tenant).done());
  return {};
}

void Control::agent_heard(const AgentId &id)
{
  auto it = agents_.find(agent_key(id.tenant, id.server_id));
  if (it != agents_.end()) it->second.rec.last_seen_ms = now_ms();
}

void Control::agent_offline(const AgentId &id, const Agent *agent, const std::string &why)
{
  auto it = agents_.find(agent_key(id.tenant, id.server_id));
  if (it == agents_.end() || it->second.agent.get() != agent) return;  // replaced meanwhile
  it->second.agent.reset();
  it->second.rec.status = "offline";
  it->second.offline_since = std::chrono::steady_clock::now();
  it->second.orphaned = false;
  audit_server(id.server_id, "agent_disconnected",
              GoJson().str("tenant_id", id.tenant).str("reason", why).done());
  arm_orphan_sweep();
}

void Control::await_agent(const AgentId &id)
{
  auto [it, added] = agents_.try_emplace(agent_key(id.tenant, id.server_id));
  if (!added) return;
  AgentEntry &e = it->second;
  e.rec.tenant_id = id.tenant;
  e.rec.server_id = id.server_id;
  e.rec.status = "offline";
  e.remote = true;
  e.offline_since = std::chrono::steady_clock::now();
  arm_orphan_sweep();
}

void Control::arm_orphan_sweep()
{
  auto next = std::chrono::steady_clock::time_point::max();
  for (const auto &[key, a] : agents_)
    if (a.remote && !a.agent && !a.orphaned) next = std::min(next, a.offline_since + cfg.orphan_after);
  if (next == std::chrono::steady_clock::time_point::max()) return;
  if (!orphan_timer_) orphan_timer_ = std::make_unique<asio::steady_timer>(ctx.ioc);
  orphan_timer_->expires_at(next);
  orphan_timer_->async_wait([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
    if (!ec && !alive.expired()) sweep_orphans();
  });
}

void Control::sweep_orphans()
{
  auto now = std::chrono::steady_clock::now();
  for (auto &[key, a] : agents_) {
    if (!a.remote || a.agent || a.orphaned || now < a.offline_since + cfg.orphan_after) continue;
    a.orphaned = true;
    AgentId id{a.rec.tenant_id, a.rec.server_id};
    for (auto &[sid, ls] : sessions_) {
      if (!ls->rec.active() || ls->rec.server_id != id.server_id || ls->rec.tenant_id != id.tenant) continue;
      ls->rec.status = "orphaned";
      ++counters_.sessions_orphaned;
      clear_approval(*ls, "orphaned");
      session_update(*ls);
      audit_write("system", &ls->rec, "session_orphaned", "");
    }
  }
  arm_orphan_sweep();
}

}  // namespace ccbridge::detail::server::cc_control
