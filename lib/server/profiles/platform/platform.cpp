// Agent platform: the Platform's lifetime, sessions and tasks as the API shows them, events.
#include "server/profiles/platform/live_session.hpp"
#include "server/profiles/platform/rest.hpp"
#include "server/profiles/platform/task_tracker.hpp"
#include "server/profiles/platform/tools.hpp"

#include <ccbridge/error.hpp>

#include "server/profiles/platform/permissions.hpp"

#include <algorithm>
#include <iostream>

namespace ccbridge::detail::server::platform {

bool Caller::can(std::string_view permission) const
{
  return std::find(user.permissions.begin(), user.permissions.end(), permission) != user.permissions.end();
}

Platform::Platform(Context &c)
    : ctx(c),
      cfg(c.cfg.platform),
      limiter_(c.cfg.platform.requests_per_hour, std::chrono::seconds(3600)),
      login_limiter_(c.cfg.platform.login_attempts_per_15min, std::chrono::seconds(900)),
      address_limiter_(10 * c.cfg.platform.login_attempts_per_15min, std::chrono::seconds(900)),
      monitor_(std::make_unique<Monitor>(*this))
{
}

Platform::~Platform() = default;

void Platform::start()
{
  hasher_ = std::make_unique<Worker>(ctx.ioc, 64);
  store_ = open_sqlite_store(cfg.db);
  store_->prune(now_unix());
  load_key();
  seed_agents();
  bootstrap_admin();
  load_config();
  monitor_->start();
  tools_ = std::make_shared<Tools>(*this);
  tools_->start();
  tools_->configure_mcp(config());
  on_config_change("tools", [this](const SystemConfig &c) { tools_->configure_mcp(c); });
}

// A database with no user gets one administrator, so that a fresh server can be used at all; its
// password is shown once (stderr) and never stored in clear. `ccbridge users` manages the rest.
void Platform::bootstrap_admin()
{
  if (!store_->users().empty()) return;
  std::string password = Context::new_secret().substr(0, 24);
  UserRow admin = make_user("admin@localhost", password, "Administrator", all_permissions(), cfg.password_cost_log2);
  store_->add_user(admin);
  std::cerr << "platform: no user in " << cfg.db << ": made admin@localhost with every permission; its password "
            << "(shown once; change it with `ccbridge users passwd admin@localhost --password-stdin`):\n  " << password << '\n';
}

void Platform::stop()
{
  if (tools_) tools_->stop();
  auto live = std::move(live_);
  live_.clear();
  for (auto &kv : live) kv.second->shut();
  // Sync requests still waiting (tasks that were queued) are answered before the server goes.
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto &kv : waiting)
    if (auto t = store_->task(kv.first))
      for (auto &w : kv.second) w(task_json(*t));
  if (store_) monitor_->stop();
}

void Platform::load_key()
{
  if (!cfg.jwt_secret.empty()) {
    if (cfg.jwt_secret.size() < 32)
      throw Error(errc::invalid_argument, "platform: the JWT secret must be at least 32 bytes");
    key_ = cfg.jwt_secret;
    return;
  }
  if (auto k = store_->meta("jwt_key")) {
    key_ = *k;
    return;
  }
  key_ = Context::new_secret();
  store_->set_meta("jwt_key", key_);
}

void Platform::metrics(std::string &out) const
{
  out += "ccbridge_platform_live_sessions " + std::to_string(live_.size()) + "\n";
  out += "ccbridge_platform_tasks_started_total " + std::to_string(tasks_started) + "\n";
  out += "ccbridge_platform_tasks_finished_total " + std::to_string(tasks_finished) + "\n";
  out += "ccbridge_platform_logins_total " + std::to_string(logins) + "\n";
  out += "ccbridge_platform_logins_failed_total " + std::to_string(logins_failed) + "\n";
}

std::string Platform::project_path(const SessionRow &s) const
{
  JsonDocument d = parse_object(s.doc);
  const JsonValue *conf = member(d, "config");
  std::string path = conf ? text_of(*conf, "projectPath") : std::string();
  if (path.empty()) path = ctx.base_options().cwd.value_or("");
  if (path.empty() && !ctx.roots.empty()) path = ctx.roots.front();
  return path;
}

// ---- sessions ----------------------------------------------------------------------------------

SessionRow Platform::own_session(const Caller &c, const std::string &id)
{
  auto s = store_->session(id);
  if (!s || s->user_id != c.user.id)
    fail(404, "SESSION_NOT_FOUND", "no session " + quoted(id), "{\"sessionId\":" + json_str(id) + "}");
  return *s;
}

LiveSession &Platform::live(const SessionRow &s)
{
  auto &slot = live_[s.id];
  if (!slot) slot = std::make_shared<LiveSession>(*this, s);
  return *slot;
}

std::shared_ptr<Run> Platform::events_of(const std::string &session_id)
{
  auto s = store_->session(session_id);
  if (!s) return nullptr;
  return live(*s).events;
}

void Platform::publish(const std::string &session_id, std::string_view type, const std::string &data)
{
  auto it = live_.find(session_id);
  if (it == live_.end()) return;
  const auto &run = it->second->events;
  std::uint64_t seq = run->log().next_seq();
  run->publish("{\"type\":" + json_str(type) + ",\"id\":\"evt_" + std::to_string(seq) + "\",\"timestamp\":" +
               json_str(now_iso()) + ",\"sessionId\":" + json_str(session_id) + ",\"data\":" + data + "}");
}

std::string Platform::session_json(const SessionRow &s, bool detail)
{
  JsonDocument d = parse_object(s.doc);
  Json j(d);
  JsonValue config(rapidjson::kObjectType), stats(rapidjson::kObjectType);
  if (d.HasMember("config")) config = std::move(d["config"]);
  if (d.HasMember("statistics")) stats = std::move(d["statistics"]);
  d.RemoveMember("config");
  d.RemoveMember("statistics");
  d.RemoveMember("cliSessionId");
  auto it = live_.find(s.id);
  if (it != live_.end() && it->second->busy()) j.set(d, "currentTask", it->second->current_task());
  if (!detail) return to_json(d);
  TaskFilter f;
  f.user_id = s.user_id;
  f.session_id = s.id;
  f.ascending = true;
  f.page.limit = 100;
  JsonValue tasks(rapidjson::kArrayType);
  for (const auto &t : store_->tasks(f).rows) {
    JsonDocument td = parse_object(task_json(t));
    tasks.PushBack(j.copy(td), j.alloc());
  }
  j.set(d, "tasks", std::move(tasks));
  JsonDocument agent = agent_doc(s.agent_id);
  JsonValue configuration(rapidjson::kObjectType);
  if (const JsonValue *ac = member(agent, "configuration")) j.set(configuration, "agent", j.copy(*ac));
  const JsonValue *rules = member(config, "rules");
  const JsonValue *skills = member(config, "skills");
  j.set(configuration, "rules", rules ? j.copy(*rules) : JsonValue(rapidjson::kArrayType));
  j.set(configuration, "skills", skills ? j.copy(*skills) : JsonValue(rapidjson::kArrayType));
  auto user = store_->user_by_id(s.user_id);
  j.set(configuration, "permissions", j.strings(user ? user->permissions : std::vector<std::string>{}));
  j.set(configuration, "projectPath", text_of(config, "projectPath"));
  j.set(d, "configuration", std::move(configuration));
  std::int64_t total = 0, done = 0;
  if (const JsonValue *n = member(stats, "totalExecutionTime"); n && n->IsInt64()) total = n->GetInt64();
  if (const JsonValue *n = member(stats, "finishedTasks"); n && n->IsInt64()) done = n->GetInt64();
  j.set(stats, "averageTaskDuration", done ? total / done : 0);
  j.set(stats, "totalTasks", sub(d, "taskCount").IsInt64() ? sub(d, "taskCount").GetInt64() : 0);
  for (const char *k : {"completedTasks", "failedTasks", "totalExecutionTime"})
    if (!member(stats, k)) j.set(stats, k, 0);
  j.set(d, "statistics", std::move(stats));
  return to_json(d);
}

// ---- tasks -------------------------------------------------------------------------------------

TaskRow Platform::own_task(const Caller &c, const std::string &id)
{
  auto t = store_->task(id);
  if (!t || t->user_id != c.user.id)
    fail(404, "TASK_NOT_FOUND", "no task " + quoted(id), "{\"taskId\":" + json_str(id) + "}");
  return *t;
}

std::string Platform::task_json(const TaskRow &t, bool as_stored)
{
  auto it = live_.find(t.session_id);
  const JsonDocument *running = it == live_.end() || as_stored ? nullptr : it->second->running(t.id);
  JsonDocument d;
  if (running) d.CopyFrom(*running, d.GetAllocator());
  else d = parse_object(t.doc);
  if (d.HasMember("metadata") && d["metadata"].IsObject()) d["metadata"].RemoveMember("userId");
  return to_json(d);
}

TaskRow Platform::cancel_task(const Caller &c, const std::string &task_id)
{
  TaskRow t = own_task(c, task_id);
  auto it = live_.find(t.session_id);
  bool queued = t.status == "pending";
  if (it != live_.end() && it->second->cancel(task_id) && queued) {
    JsonDocument d = parse_object(t.doc);
    Json j(d);
    std::string now = now_iso();
    j.set(d, "status", "cancelled");
    j.set(d, "completedAt", now);
    j.set(d, "updatedAt", now);
    t.status = "cancelled";
    t.updated_at = now;
    t.doc = to_json(d);
    store_->put_task(t);
    publish(t.session_id, "task:progress",
            "{\"taskId\":" + json_str(t.id) + ",\"status\":\"cancelled\",\"progress\":{\"percentage\":0}}");
    task_finished(t.session_id, t.id, task_json(t), "cancelled", 0, nullptr);
  }
  return *store_->task(task_id);
}

void Platform::wait_for(const std::string &task_id, std::function<void(const std::string &)> on_done)
{
  waiting_[task_id].push_back(std::move(on_done));
}

namespace {

// What a task's CLI turn used, added to its session's statistics: tokens, cost, calls per tool.
void add_totals(Json &j, JsonValue &st, const TaskTotals &t)
{
  auto add = [&](JsonValue &obj, std::string_view key, std::int64_t by) {
    const JsonValue *v = member(obj, key);
    j.set(obj, key, (v && v->IsInt64() ? v->GetInt64() : 0) + by);
  };
  add(st, "inputTokens", t.usage.input_tokens);
  add(st, "outputTokens", t.usage.output_tokens);
  add(st, "cacheReadTokens", t.usage.cache_read_tokens);
  add(st, "cacheCreationTokens", t.usage.cache_creation_tokens);
  const JsonValue *cost = member(st, "costUsd");
  j.set(st, "costUsd", (cost && cost->IsNumber() ? cost->GetDouble() : 0.0) + t.usage.cost_usd);
  if (!member(st, "toolCalls")) j.set(st, "toolCalls", JsonValue(rapidjson::kObjectType));
  for (const auto &tc : t.tool_counts) add(st["toolCalls"], tc.first, tc.second);
}

}  // namespace

void Platform::task_finished(const std::string &session_id, const std::string &task_id, const std::string &task,
                             const std::string &status, std::int64_t elapsed_ms, const TaskTotals *totals)
{
  if (auto s = store_->session(session_id)) {
    JsonDocument d = parse_object(s->doc);
    Json j(d);
    if (!d.HasMember("statistics")) j.set(d, "statistics", JsonValue(rapidjson::kObjectType));
    JsonValue &st = d["statistics"];
    auto bump = [&](const char *key, std::int64_t by) {
      const JsonValue *v = member(st, key);
      j.set(st, key, (v && v->IsInt64() ? v->GetInt64() : 0) + by);
    };
    bump(status == "completed" ? "completedTasks" : status == "failed" ? "failedTasks" : "cancelledTasks", 1);
    bump("finishedTasks", 1);
    bump("totalExecutionTime", elapsed_ms);
    if (totals) add_totals(j, st, *totals);
    if (totals)
      monitor_->task_finished(totals->usage.input_tokens + totals->usage.output_tokens, totals->usage.cost_usd);
    std::string now = now_iso();
    j.set(d, "lastActivity", now);
    j.set(d, "updatedAt", now);
    s->updated_at = now;
    s->doc = to_json(d);
    store_->put_session(*s);
  }
  auto it = waiting_.find(task_id);
  if (it == waiting_.end()) return;
  auto waiters = std::move(it->second);
  waiting_.erase(it);
  JsonDocument shown = parse_object(task);
  if (shown.HasMember("metadata") && shown["metadata"].IsObject()) shown["metadata"].RemoveMember("userId");
  for (auto &w : waiters) w(to_json(shown));
}

void Platform::delete_session(const SessionRow &s)
{
  auto it = live_.find(s.id);
  if (it != live_.end()) {
    auto live = it->second;
    live_.erase(it);
    live->shut();
    live->events->finish();
  }
  TaskFilter f;
  f.user_id = s.user_id;
  f.session_id = s.id;
  f.page.limit = 1000000;
  for (const auto &t : store_->tasks(f).rows) {
    auto w = waiting_.find(t.id);
    if (w == waiting_.end()) continue;
    auto waiters = std::move(w->second);
    waiting_.erase(w);
    for (auto &fn : waiters) fn(task_json(t));
  }
  store_->delete_session(s.id);
}

namespace {

std::string one_of(const JsonValue &obj, const char *field, std::initializer_list<const char *> allowed, const char *fallback)
{
  const JsonValue *v = member(obj, field);
  if (!v || v->IsNull()) return fallback;
  if (v->IsString())
    for (const char *a : allowed)
      if (v->GetString() == std::string_view(a)) return a;
  std::string list;
  for (const char *a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  bad_field(field, std::string("'") + field + "' must be one of " + list);
}

}  // namespace

namespace {

// A TaskSubmitRequest, checked.
struct TaskInput {
  std::string session_id, content, type, priority, agent_id;
  std::optional<std::int64_t> timeout_ms;
  const JsonValue *context = nullptr;
};

const JsonValue &object_or_empty(const JsonValue &body, const char *field)
{
  static const JsonValue kEmpty(rapidjson::kObjectType);
  const JsonValue *v = member(body, field);
  if (v && !v->IsNull() && !v->IsObject()) bad_field(field, std::string("'") + field + "' must be an object");
  return v && v->IsObject() ? *v : kEmpty;
}

TaskInput parse_task(const JsonValue &body)
{
  if (!body.IsObject()) fail(422, "INVALID_INPUT", "the body must be a JSON object");
  TaskInput in;
  in.session_id = required_string(body, "sessionId", 256);
  in.content = required_string(body, "content", 1 << 20);
  in.type = one_of(body, "type", {"chat", "command", "file_operation"}, "chat");
  const JsonValue &options = object_or_empty(body, "options");
  const JsonValue &context = object_or_empty(body, "context");
  if (context.MemberCount()) in.context = &context;
  in.priority = one_of(options, "priority", {"low", "normal", "high"}, "normal");
  const JsonValue *timeout = member(options, "timeout");
  if (timeout && !timeout->IsNull() && !(timeout->IsInt64() && timeout->GetInt64() > 0 && timeout->GetInt64() <= 86400000))
    bad_field("options.timeout", "'options.timeout' must be a number of milliseconds from 1 to 86400000");
  if (timeout && timeout->IsInt64()) in.timeout_ms = timeout->GetInt64();
  const JsonValue *async = member(options, "async");
  if (async && !async->IsNull() && !async->IsBool()) bad_field("options.async", "'options.async' must be true or false");
  in.agent_id = text_of(options, "agentId");
  return in;
}

// The new task's document: the seed's Task, with what the server needs in its metadata.
std::string task_doc(const TaskInput &in, const TaskRow &t, const SessionRow &s, bool from_chat)
{
  JsonDocument d(rapidjson::kObjectType);
  Json j(d);
  for (auto kv : {std::pair<const char *, const std::string &>{"id", t.id}, {"sessionId", s.id}, {"content", in.content},
                  {"type", in.type}, {"status", t.status}})
    j.set(d, kv.first, kv.second);
  j.set(d, "executionPath", "fast");
  j.set(d, "createdAt", t.created_at);
  j.set(d, "updatedAt", t.created_at);
  JsonValue meta(rapidjson::kObjectType);
  j.set(meta, "priority", in.priority);
  j.set(meta, "agentId", in.agent_id.empty() ? s.agent_id : in.agent_id);
  if (!in.agent_id.empty()) j.set(meta, "requestedAgentId", in.agent_id);  // else the session's agent when it runs
  if (in.timeout_ms) j.set(meta, "timeout", *in.timeout_ms);
  if (in.context) j.set(meta, "context", j.copy(*in.context));
  j.set(meta, "origin", from_chat ? "chat" : "api");
  j.set(meta, "userId", t.user_id);
  j.set(d, "metadata", std::move(meta));
  return to_json(d);
}

}  // namespace

TaskRow Platform::submit_task(const Caller &c, const JsonValue &body, bool from_chat)
{
  TaskInput in = parse_task(body);
  if (!in.agent_id.empty() && !agent_doc(in.agent_id).IsObject())
    fail(404, "AGENT_NOT_FOUND", "no agent " + quoted(in.agent_id), "{\"agentId\":" + json_str(in.agent_id) + "}");
  SessionRow s = own_session(c, in.session_id);
  TaskFilter pending;
  pending.user_id = c.user.id;
  pending.session_id = s.id;
  pending.status = "pending";
  pending.page.limit = 1;
  if (store_->tasks(pending).total >= static_cast<std::int64_t>(cfg.max_queued_tasks))
    fail(503, "SERVICE_UNAVAILABLE", "the session has " + std::to_string(cfg.max_queued_tasks) + " tasks waiting already");
  TaskRow t;
  t.id = new_id("task_");
  t.session_id = s.id;
  t.user_id = c.user.id;
  t.status = "pending";
  t.type = in.type;
  t.priority = in.priority == "low" ? 0 : in.priority == "high" ? 2 : 1;
  t.created_at = t.updated_at = now_iso();
  t.doc = task_doc(in, t, s, from_chat);
  store_->put_task(t);
  monitor_->task_submitted();
  JsonDocument sd = parse_object(s.doc);
  const JsonValue &count = sub(sd, "taskCount");
  Json(sd).set(sd, "taskCount", (count.IsInt64() ? count.GetInt64() : 0) + 1);
  Json(sd).set(sd, "lastActivity", t.created_at);
  s.doc = to_json(sd);
  store_->put_session(s);
  live(s).enqueue(t);
  return t;  // as submitted: pending (it may have started already)
}

void Platform::switch_agent(const Caller &c, const std::string &session_id, const std::string &agent_id,
                            const JsonValue *overrides)
{
  SessionRow s = own_session(c, session_id);
  JsonDocument agent = agent_doc(agent_id);
  if (!agent.IsObject())
    fail(404, "AGENT_NOT_FOUND", "no agent " + quoted(agent_id), "{\"agentId\":" + json_str(agent_id) + "}");
  JsonDocument d = parse_object(s.doc);
  Json j(d);
  JsonDocument summary = parse_object(agent_summary(agent_id));
  j.set(d, "agent", j.copy(summary));
  if (!d.HasMember("config")) j.set(d, "config", JsonValue(rapidjson::kObjectType));
  if (overrides && overrides->IsObject()) j.set(d["config"], "agentOverrides", j.copy(*overrides));
  else d["config"].RemoveMember("agentOverrides");  // a switch without overrides takes the agent as it is
  s.agent_id = agent_id;
  s.updated_at = now_iso();
  j.set(d, "updatedAt", s.updated_at);
  s.doc = to_json(d);
  store_->put_session(s);
}

}  // namespace ccbridge::detail::server::platform
