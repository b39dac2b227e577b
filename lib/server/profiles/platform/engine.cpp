// Agent platform: sessions' live side (LiveSession) and the Platform's session and task services.
#include "server/profiles/platform/live_session.hpp"
#include "server/profiles/platform/tools.hpp"

#include <ccbridge/error.hpp>

#include <asio/post.hpp>

#include <algorithm>

namespace ccbridge::detail::server::platform {

namespace {

constexpr auto kStopGrace = std::chrono::seconds(5);  // an interrupted turn that does not end is cut

std::string progress_text(const TaskProgress &p)
{
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  p.write(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// What a running CLI took on its command line and cannot change: its system prompt, allowed
// tools and directory.
std::string fixed_options(const Options &o)
{
  std::string out = o.system_prompt ? o.system_prompt->value + "\n" + o.system_prompt->append.value_or("") : "";
  for (const auto &t : o.allowed_tools) out += "\n" + t;
  return out + "\n" + o.cwd.value_or("");
}

int priority_of(std::string_view p) { return p == "low" ? 0 : p == "high" ? 2 : 1; }

// Built-in agents' permission modes; a custom agent names its own.
std::string mode_of(const JsonValue &agent)
{
  const JsonValue *conf = member(agent, "configuration");
  std::string mode = conf ? text_of(*conf, "permissionMode") : std::string();
  if (!mode.empty()) return mode;
  std::string type = text_of(agent, "type");
  return type == "plan" ? "plan" : type == "build" ? "acceptEdits" : "default";
}

// The CLI's tool names for the seed's lower-case ones ("bash" -> "Bash"); others as given.
std::string cli_tool(const std::string &t)
{
  static const std::pair<const char *, const char *> names[] = {
      {"bash", "Bash"}, {"edit", "Edit"},   {"read", "Read"},        {"write", "Write"},     {"search", "Grep"},
      {"grep", "Grep"}, {"glob", "Glob"},   {"webfetch", "WebFetch"}, {"websearch", "WebSearch"}, {"todo", "TodoWrite"},
      {"ls", "LS"},     {"multiedit", "MultiEdit"}};
  for (const auto &n : names)
    if (t == n.first) return n.second;
  return t;
}

std::string system_prompt_of(const JsonValue &agent, const JsonValue &session_config)
{
  std::string out;
  const JsonValue *conf = member(agent, "configuration");
  if (conf) out = text_of(*conf, "systemPrompt");
  auto add_list = [&](const JsonValue *list, const char *title) {
    if (!list || !list->IsArray() || list->Empty()) return;
    out += std::string(out.empty() ? "" : "\n\n") + title + ":";
    for (const auto &v : list->GetArray())
      if (v.IsString()) out += std::string("\n- ") + v.GetString();
  };
  add_list(member(agent, "rules"), "Rules to follow");
  add_list(member(agent, "skills"), "Skills to apply");
  add_list(member(session_config, "rules"), "Rules to follow in this session");
  add_list(member(session_config, "skills"), "Skills to apply in this session");
  return out;
}

}  // namespace

LiveSession::LiveSession(Platform &p, const SessionRow &s)
    : id(s.id), p_(p), deadline_(p.ctx.ioc), idle_(p.ctx.ioc), stop_guard_(p.ctx.ioc)
{
  events = p.ctx.hub.find("platform:" + s.id);
  if (!events) events = p.ctx.hub.create("platform:" + s.id, "platform");
}

LiveSession::~LiveSession() { close_cli(); }

void LiveSession::enqueue(const TaskRow &t)
{
  Queued q{t.id, t.priority, order_++};
  auto at = std::find_if(queue_.begin(), queue_.end(), [&](const Queued &o) { return o.priority < q.priority; });
  queue_.insert(at, q);
  if (!current_) next();
}

bool LiveSession::cancel(const std::string &task_id)
{
  auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Queued &q) { return q.id == task_id; });
  if (it != queue_.end()) {
    queue_.erase(it);
    return true;
  }
  if (!current_ || current_->id != task_id || current_->stopping) return false;
  end_task("cancelled", "", "the task was cancelled");
  return true;
}

const JsonDocument *LiveSession::running(const std::string &task_id) const
{
  return current_ && current_->id == task_id ? &current_->doc : nullptr;
}

void LiveSession::shut()
{
  queue_.clear();
  if (current_ && !current_->stopping) end_task("cancelled", "", "the session was deleted");
  current_.reset();
  deadline_.cancel();
  idle_.cancel();
  stop_guard_.cancel();
  close_cli();
}

void LiveSession::close_cli()
{
  if (cli_) std::exchange(cli_, nullptr)->close();
}

void LiveSession::touch_idle()
{
  idle_.expires_after(p_.cfg.idle_close);
  std::weak_ptr<LiveSession> weak = shared_from_this();
  idle_.async_wait([weak](std::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && !self->current_) self->close_cli();
  });
}

// ---- starting a task ---------------------------------------------------------------------------

void LiveSession::next()
{
  while (!current_ && !queue_.empty()) {
    Queued q = queue_.front();
    queue_.pop_front();
    auto row = p_.store().task(q.id);
    if (row && row->status == "pending") start(*row);
  }
  if (!current_) touch_idle();
}

Options LiveSession::options_for(const JsonValue &task_doc, std::string &why)
{
  auto session = p_.store().session(id);
  JsonDocument sdoc = parse_object(session ? session->doc : "{}");
  const JsonValue *config = member(sdoc, "config");
  static const JsonValue kEmpty(rapidjson::kObjectType);
  if (!config) config = &kEmpty;
  std::string agent_id = session ? session->agent_id : "build";
  std::string task_agent = text_of(sub(task_doc, "metadata"), "requestedAgentId");
  if (!task_agent.empty()) agent_id = task_agent;
  JsonDocument agent = p_.agent_doc(agent_id);
  // agent:switch's configuration overrides the agent's for this session (not for the task's own agentId).
  if (const JsonValue *over = member(*config, "agentOverrides"); over && over->IsObject() && task_agent.empty() &&
                                                                    agent.IsObject() && agent.HasMember("configuration"))
    for (auto it = over->MemberBegin(); it != over->MemberEnd(); ++it)
      Json(agent).set(agent["configuration"], std::string_view(it->name.GetString(), it->name.GetStringLength()),
                      Json(agent).copy(it->value));
  Options o = p_.ctx.base_options();
  o.include_partial_messages = true;
  // The configured MCP servers, so that the model sees the tools GET /tools lists.
  if (!p_.config().mcp_servers.empty()) o.mcp_config = p_.config().mcp_config_json();
  if (const JsonValue *conf = member(agent, "configuration")) {
    std::string model = text_of(*conf, "model");
    if (!model.empty() && model != "default" && Context::model_ok(model)) o.model = model;
    if (const JsonValue *tools = member(*conf, "tools"); tools && tools->IsArray() && text_of(agent, "type") == "custom")
      for (const auto &t : tools->GetArray())
        if (t.IsString()) o.allowed_tools.push_back(cli_tool(t.GetString()));
  }
  std::string mode = mode_of(agent);
  // "build" has every tool: without a person to approve, that is bypassPermissions where the
  // operator allows it (--permission-modes ...,bypassPermissions), else acceptEdits (Bash is then refused).
  if (text_of(agent, "type") == "build" && p_.ctx.mode_allowed("bypassPermissions")) mode = "bypassPermissions";
  if (p_.ctx.mode_allowed(mode)) o.permission_mode = mode;
  std::string prompt = system_prompt_of(agent, *config);
  // Claude Code's own system prompt (its tools need it), with the agent's prompt, rules and skills after it.
  o.system_prompt = SystemPrompt::preset(prompt.empty() ? std::nullopt : std::optional<std::string>(prompt));
  std::string cwd = text_of(*config, "projectPath");
  std::string resolved;
  DirectoryHandle dir;
  if (!cwd.empty() && !p_.ctx.resolve_cwd(cwd, resolved, dir, why)) return o;
  if (!cwd.empty()) {
    o.cwd = resolved;
    o.cwd_dir = dir;
  }
  return o;
}

void LiveSession::start(const TaskRow &t)
{
  current_.emplace();
  RunningTask &c = *current_;
  c.id = t.id;
  c.doc = parse_object(t.doc);
  c.chat = text_of(sub(c.doc, "metadata"), "origin") == "chat";
  c.started = std::chrono::steady_clock::now();
  c.tracker.start();
  Json j(c.doc);
  j.set(c.doc, "status", "planning");
  j.set(c.doc, "startedAt", now_iso());
  ++p_.tasks_started;
  save_current();
  progress_changed();
  std::string why;
  Options o = options_for(c.doc, why);
  if (!why.empty()) return end_task("failed", "RESOURCE_FORBIDDEN", why);
  arm_deadline();
  idle_.cancel();
  c.sent = true;
  send_turn(std::move(o), text_of(c.doc, "content"));
}

// The task's timeout (options.timeout, else the configured default) ends it TIMEOUT_ERROR.
void LiveSession::arm_deadline()
{
  const JsonValue &timeout = sub(sub(current_->doc, "metadata"), "timeout");
  auto limit = timeout.IsInt64() && timeout.GetInt64() > 0 ? std::chrono::milliseconds(timeout.GetInt64())
                                                           : std::chrono::milliseconds(p_.cfg.default_task_timeout);
  deadline_.expires_after(limit);
  std::weak_ptr<LiveSession> weak = shared_from_this();
  deadline_.async_wait([weak, task = current_->id, limit](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->current_ || self->current_->id != task || self->current_->stopping) return;
    self->end_task("failed", "TIMEOUT_ERROR", "the task did not finish within " + std::to_string(limit.count()) + " ms");
  });
}

// The turn goes to the running CLI if it can take these options, else to a new process that
// resumes the conversation. The agent may have changed since the last turn (agent:switch): a new
// model or permission mode is set in the running CLI (SessionRun::next_turn's control requests);
// anything else that changed needs a new process, and so does going back to the default model.
void LiveSession::send_turn(Options o, std::string content)
{
  RunningTask &c = *current_;
  bool back_to_default_model = model_named_ && !o.model;
  if (cli_ && cli_->ready() && fixed_options(o) == fixed_ && !back_to_default_model) {
    c.tracker = TaskTracker(cli_cost_);
    c.tracker.start();
    if (cli_->next_turn(o, false, content).empty()) {
      model_named_ = model_named_ || o.model;
      return;
    }
  }
  c.tracker = TaskTracker(0);
  c.tracker.start();
  close_cli();
  cli_cost_ = 0;
  fixed_ = fixed_options(o);
  model_named_ = o.model.has_value();
  if (auto s = p_.store().session(id)) {
    std::string resume = text_of(parse_object(s->doc), "cliSessionId");
    if (!resume.empty()) o.resume = resume;
  }
  if (!p_.ctx.can_start_process()) return end_task("failed", "SERVICE_UNAVAILABLE", "too many sessions are running; try again later");
  SessionRun::Request req;
  req.asked = o;
  req.session.options = std::move(o);
  req.first_prompt = std::move(content);
  req.profile = "platform";
  req.id = id;
  cli_ = SessionRun::open(p_.ctx, std::move(req), shared_from_this());
}

// ---- what the CLI says ---------------------------------------------------------------------------

void LiveSession::open_failed(const std::string &why, bool not_found)
{
  cli_.reset();
  if (current_ && !current_->stopping)
    end_task("failed", "SERVICE_UNAVAILABLE", not_found ? "Claude Code was not found" : "could not start Claude Code: " + why);
  else if (current_)
    finish_current();
}

void LiveSession::send_failed(const std::string &why)
{
  if (current_ && !current_->stopping) end_task("failed", "INTERNAL_ERROR", why);
}

void LiveSession::batch(std::vector<CliEvent> &batch)
{
  Run::Hold hold(events);
  for (auto &ev : batch) {
    if (ev.kind == CliEvent::Kind::message) on_message(ev.msg);
    if (ev.kind != CliEvent::Kind::end) continue;
    cli_.reset();
    const RunOutcome &o = *ev.outcome;
    if (current_ && !current_->stopping)
      end_task("failed", "SERVICE_UNAVAILABLE", "the Claude Code process ended: " + (o.ok() ? "exit" : o.message));
    else if (current_)
      finish_current();
  }
}

void LiveSession::on_message(const Message &m)
{
  if (m.is(MessageType::system) && m.subtype() == "init") p_.tools().cli_init(m);
  if (m.is(MessageType::system) && m.subtype() == "init" && !m.session_id().empty()) {
    if (auto s = p_.store().session(id)) {
      JsonDocument d = parse_object(s->doc);
      Json(d).set(d, "cliSessionId", m.session_id());
      s->doc = to_json(d);
      p_.store().put_session(*s);
    }
  }
  if (!current_) return;
  if (m.is(MessageType::stream_event)) return on_stream_event(m);
  if (current_->stopping) {
    if (m.is(MessageType::result)) finish_current();
    return;
  }
  current_->tracker.on_message(m);
  if (m.is(MessageType::result)) {
    current_->turn_ended = true;
    if (auto cost = current_->tracker.cli_cost_usd()) cli_cost_ = *cost;
    TaskResult r = current_->tracker.result();
    return end_task(to_string(current_->tracker.status()), r.error ? r.error->code : "", r.error ? r.error->message : "");
  }
  if (current_->tracker.changed()) progress_changed();
}

// chat:message answers stream as partial chat:response frames (text deltas).
void LiveSession::on_stream_event(const Message &m)
{
  if (!current_->chat || current_->stopping) return;
  JsonView ev = m.json()["event"];
  if (ev["type"].string_or() != "content_block_delta" || ev["delta"]["type"].string_or() != "text_delta") return;
  std::string_view text = ev["delta"]["text"].string_or();
  if (text.empty()) return;
  current_->streamed += text;
  p_.publish(id, "chat:response",
             "{\"content\":" + json_str(text) + ",\"type\":\"text\",\"partial\":true,\"taskId\":" +
                 json_str(current_->id) + "}");
}

// ---- progress and the end of a task ------------------------------------------------------------

void LiveSession::save_current()
{
  RunningTask &c = *current_;
  Json j(c.doc);
  j.set(c.doc, "updatedAt", now_iso());
  TaskRow row;
  row.id = c.id;
  row.session_id = id;
  row.user_id = text_of(sub(c.doc, "metadata"), "userId");
  row.status = text_of(c.doc, "status");
  row.type = text_of(c.doc, "type");
  row.priority = priority_of(text_of(sub(c.doc, "metadata"), "priority"));
  row.created_at = text_of(c.doc, "createdAt");
  row.updated_at = text_of(c.doc, "updatedAt");
  row.doc = to_json(c.doc);
  p_.store().put_task(row);
}

void LiveSession::progress_changed()
{
  RunningTask &c = *current_;
  Json j(c.doc);
  std::string status = to_string(c.tracker.status());
  bool status_changed = status != text_of(c.doc, "status");
  j.set(c.doc, "status", status);
  j.set(c.doc, "executionPath", c.tracker.execution_path());
  std::string progress = progress_text(c.tracker.progress());
  JsonDocument pd = parse_object(progress);
  j.set(c.doc, "progress", j.copy(pd));
  if (status_changed) save_current();
  p_.publish(id, "task:progress",
             "{\"taskId\":" + json_str(c.id) + ",\"status\":" + json_str(status) + ",\"progress\":" + progress + "}");
}

void LiveSession::end_task(const std::string &status, const std::string &code, const std::string &message)
{
  RunningTask &c = *current_;
  deadline_.cancel();
  // The tracker's result carries the error too (a CLI that could not start, a timeout ...).
  if (status == "cancelled") c.tracker.cancel();
  else if (status == "failed") c.tracker.fail(code.empty() ? "INTERNAL_ERROR" : code, message);
  Json j(c.doc);
  std::string now = now_iso();
  j.set(c.doc, "status", status);
  j.set(c.doc, "completedAt", now);
  j.set(c.doc, "executionPath", c.tracker.execution_path());
  c.tracker.set_elapsed_ms(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - c.started).count());
  JsonDocument result = parse_object(c.tracker.result().to_json());
  j.set(c.doc, "result", j.copy(result));
  JsonDocument progress = parse_object(progress_text(c.tracker.progress()));
  j.set(c.doc, "progress", j.copy(progress));
  save_current();
  ++p_.tasks_finished;
  std::int64_t elapsed = iso_diff_ms(text_of(c.doc, "startedAt"), now);
  announce_end(status, result, elapsed);
  TaskTotals totals = c.tracker.totals();
  p_.task_finished(id, c.id, to_json(c.doc), status, elapsed, &totals);
  bool turn_running = cli_ && cli_->ready() && c.sent && !c.turn_ended;
  if (!turn_running) return finish_current();
  // The CLI is still in the turn: interrupt it and start the next task once its result is in.
  c.stopping = true;
  cli_->interrupt();
  stop_guard_.expires_after(kStopGrace);
  std::weak_ptr<LiveSession> weak = shared_from_this();
  stop_guard_.async_wait([weak, task = c.id](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->current_ || self->current_->id != task) return;
    self->close_cli();
    self->finish_current();
  });
}

// task:complete (and for chat the final chat:response), task:progress cancelled, or task:error.
void LiveSession::announce_end(const std::string &status, const JsonValue &result, std::int64_t elapsed)
{
  const RunningTask &c = *current_;
  std::string task = json_str(c.id);
  if (status == "completed") {
    p_.publish(id, "task:complete",
               "{\"taskId\":" + task + ",\"result\":" + to_json(result) + ",\"executionTime\":" + std::to_string(elapsed) + "}");
    if (c.chat)
      p_.publish(id, "chat:response",
                 "{\"content\":" + json_str(text_of(result, "output")) + ",\"type\":\"markdown\",\"taskId\":" + task +
                     ",\"metadata\":{\"agent\":" + json_str(text_of(sub(c.doc, "metadata"), "agentId")) +
                     ",\"executionTime\":" + std::to_string(elapsed) + ",\"toolsUsed\":" +
                     to_json(sub(sub(result, "metrics"), "toolsUsed")) + "}}");
  } else if (status == "cancelled") {
    p_.publish(id, "task:progress",
               "{\"taskId\":" + task + ",\"status\":\"cancelled\",\"progress\":" + to_json(sub(c.doc, "progress")) + "}");
  } else {
    p_.publish(id, "task:error", "{\"taskId\":" + task + ",\"error\":" + to_json(sub(result, "error")) + "}");
  }
}

void LiveSession::finish_current()
{
  stop_guard_.cancel();
  current_.reset();
  std::weak_ptr<LiveSession> weak = shared_from_this();
  asio::post(p_.ctx.ioc, [weak] {
    if (auto self = weak.lock()) self->next();
  });
}

}  // namespace ccbridge::detail::server::platform
