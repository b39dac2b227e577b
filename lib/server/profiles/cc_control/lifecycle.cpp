// cc-control's start and stop: the stores opened, tokens seeded, saved state restored, the local
// agent registered; state flushed on a timer and at stop.
#include "server/profiles/cc_control/control.hpp"
#include "server/profiles/cc_control/local_agent.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <ccbridge/error.hpp>

#include <asio/steady_timer.hpp>

#include <iostream>

namespace ccbridge::detail::server::cc_control {
namespace {

// State is flushed in short steps: each writes the records changed and a tenth of the busy
// sessions' tails (at least kMinTails), so that every tail is at most about a second old and no
// step holds the server thread long (one write of a thousand 32 KiB tails did: 150 ms).
constexpr auto kFlushEvery = std::chrono::milliseconds(100);
constexpr std::size_t kMinTails = 16;
constexpr std::size_t kTailBytes = 32 * 1024;

std::string db_path(const CcControlSettings &c) { return c.token_db.empty() ? "cc-control.db" : c.token_db; }

/// The state lives beside the tokens: tokens.db -> tokens-state.db.
std::string state_path(const std::string &db)
{
  auto dot = db.rfind('.');
  auto slash = db.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return db + "-state";
  return db.substr(0, dot) + "-state" + db.substr(dot);
}

}  // namespace

struct Control::Flusher {
  explicit Flusher(asio::io_context &io) : timer(io) {}
  asio::steady_timer timer;
};

Control::Control(Context &c)
    : ctx(c), cfg(c.cfg.cc_control), limiter(cfg.requests_per_minute, std::chrono::seconds(60))
{
}

Control::~Control() = default;

void Control::seed_tokens()
{
  if (auto boot = tokens->bootstrap_admin(cfg.admin_token)) {
    std::cerr << "cc-control: a new admin token was made (shown once"
              << (boot->file.empty() ? "" : ", and written to " + boot->file) << "):\n  " << boot->plaintext << '\n';
  }
  std::string ui = cfg.ui_token, agent = cfg.agent_token;
  if (cfg.dev && ui.empty()) ui = "admin-dev-token";
  if (cfg.dev && agent.empty()) agent = "agent-dev-token";
  if (ui.empty() && agent.empty()) return;
  // The legacy tokens' tenant is kept across restarts (bug 8: the original made a new one at
  // each start): the tenant of a legacy token already stored, else a new one.
  std::string tenant;
  for (const auto &t : tokens->list())
    if (t.name == "legacy-ui" || t.name == "legacy-agent") tenant = t.tenant_id;
  if (tenant.empty()) tenant = Context::new_id();
  if (!ui.empty()) tokens->seed(ui, TokenType::ui, tenant, "owner", "legacy-ui");
  if (!agent.empty()) tokens->seed(agent, TokenType::agent, tenant, "", "legacy-agent");
}

void Control::start()
{
  std::string db = db_path(cfg);
  bool memory = db == ":memory:";
  tokens = memory ? std::make_unique<TokenStore>() : std::make_unique<TokenStore>(db);
  tokens->set_revoke_listener([this](const std::vector<std::string> &ids) { revoked(ids); });
  seed_tokens();
  audit = std::make_unique<AuditLog>(cfg.audit_path, cfg.audit_max_bytes);
  if (!memory) {
    store_ = std::make_unique<StateStore>(state_path(db), std::min(kTailBytes, cfg.ring_buffer_bytes));
    restore();
  }
  auto agent = std::make_shared<LocalAgent>(ctx, *this);
  local_ = agent;
  AgentEntry &entry = agents_[agent_key("", cfg.server_id)];
  entry.rec = agent->record();
  entry.agent = agent;
  audit_server(cfg.server_id, "register", "");
  if (store_) {
    flusher_ = std::make_unique<Flusher>(ctx.ioc);
    schedule_flush();
  }
}

void Control::schedule_flush()
{
  flusher_->timer.expires_after(kFlushEvery);
  flusher_->timer.async_wait([this](std::error_code ec) {
    if (ec) return;
    flush(false);
    schedule_flush();
  });
}

void Control::flush(bool all)
{
  if (!store_ || !store_->dirty()) return;
  std::size_t budget = all ? SIZE_MAX : std::max(kMinTails, store_->dirty_tail_count() / 10 + 1);
  try {
    store_->flush([this](const std::string &id) -> std::optional<RingTail> {
      auto it = sessions_.find(id);
      if (it == sessions_.end()) return std::nullopt;
      const TermRing &ring = it->second->ring;
      RingTail t{ring.latest_seq(), ring.tail(store_->tail_bytes()), {}, false};
      t.marks = ring.marks(store_->tail_bytes(), t.first_cut);
      return t;
    }, budget);
  } catch (const Error &e) {
    ctx.log.error("cc_control_state_flush_failed", {{"error", e.what()}});
  }
}

void Control::stop()
{
  if (flusher_) flusher_->timer.cancel();
  if (auto agent = local_.lock()) agent->stop_all();
  flush(true);
}

// After a restart: every session is back with its events and the tail of its output. Sessions
// that were live on the local agent ended with the old process (their CLI was in its process
// group), so they are marked error with the reason; none stays "running" forever (bug 15).
// Sessions of remote agents keep their state: their agents reconnect and replay what was missed,
// or the sessions are orphaned after the grace.
void Control::restore()
{
  SavedState saved = store_->load();
  for (auto &s : saved.sessions) {
    auto ls = std::make_unique<LiveSession>(s, cfg.ring_buffer_bytes);
    if (auto t = saved.tails.find(s.session_id); t != saved.tails.end() && !t->second.bytes.empty())
      ls->ring.restore(t->second.latest_seq, t->second.bytes, t->second.marks, t->second.first_cut);
    if (ls->rec.server_id != cfg.server_id && (ls->rec.active() || ls->rec.status == "orphaned")) {
      // Output after the saved tail is asked again from the agent when it is back.
      ls->rec.latest_agent_out_seq = ls->ring.latest_seq();
      await_agent({ls->rec.tenant_id, ls->rec.server_id});
    } else if (ls->rec.active()) {
      ls->rec.status = "error";
      ls->rec.exit_reason = "control plane restarted while the session was live";
      ls->rec.awaiting_approval = false;
      ls->rec.pending_event_id.clear();
      store_->save(ls->rec);
    }
    sessions_.emplace(s.session_id, std::move(ls));
  }
  for (auto &e : saved.events) {
    auto it = sessions_.find(e.session_id);
    if (it == sessions_.end()) continue;
    if (!e.resolved && !it->second->rec.awaiting_approval) {
      e.resolved = true;
      e.actor = "system";
      e.decision = "restarted";
      store_->save(e);
    }
    it->second->events.push_back(e);
  }
}

void Control::audit_token(const std::string &actor, const std::string &kind, const TokenRecord &t)
{
  GoJson j;
  j.str("token_id", t.token_id).str("type", to_string(t.type)).str("tenant_id", t.tenant_id);
  j.str_omit("role", t.role).str_omit("name", t.name);
  audit_write(actor, nullptr, kind, j.done());
}

}  // namespace ccbridge::detail::server::cc_control
