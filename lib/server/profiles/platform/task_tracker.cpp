#include "server/profiles/platform/task_tracker.hpp"

#include <ccbridge/json.hpp>

#include <algorithm>
#include <cmath>

namespace ccbridge::detail::server::platform {

namespace {

bool is_main_thread(const Message &m)
{
  auto parent = m.parent_tool_use_id();
  return !parent || parent->empty();
}

bool is_file_tool(std::string_view name)
{
  return name == "Write" || name == "Edit" || name == "MultiEdit" || name == "NotebookEdit";
}

// The todo list's own calls: planning, not work whose result the final answer reviews.
bool is_todo_tool(std::string_view name)
{
  return name == "TodoWrite" || name == "TaskCreate" || name == "TaskUpdate" || name == "TaskList" ||
         name == "TaskGet";
}

bool valid_todo_status(std::string_view s) { return s == "pending" || s == "in_progress" || s == "completed"; }

// The first `max` bytes of `text`, cut back to a UTF-8 character boundary.
std::string capped(std::string_view text, std::size_t max, bool &truncated)
{
  truncated = text.size() > max;
  if (!truncated) return std::string(text);
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return std::string(text.substr(0, n));
}

// A string, or an integer as its decimal text (task ids are "1" but could come as 1).
std::string id_text(const JsonView &v)
{
  if (auto s = v.string()) return std::string(*s);
  if (auto i = v.int64()) return std::to_string(*i);
  return {};
}

// The "#12" of the CLI's "Task #12 created successfully: ..." text.
std::string id_from_text(std::string_view text)
{
  auto hash = text.find('#');
  if (hash == std::string_view::npos) return {};
  std::size_t end = hash + 1;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  return std::string(text.substr(hash + 1, end - hash - 1));
}

// Whether a successful Write created its file: the structured tool_use_result says "create" or
// "update" (CLI-OBSERVED.md 9); without it, the text the model saw ("File created successfully at").
bool write_created(const ContentBlock &result, const Message &m, const std::string &path)
{
  JsonView r = m.tool_use_result();
  if (r["filePath"].string_or() == path) {
    auto type = r["type"].string_or();
    if (type == "create") return true;
    if (type == "update") return false;
  }
  return result.content_text().rfind("File created successfully", 0) == 0;
}

// The seed's code for a turn the CLI ended with an error: the API's rate limit, overload and
// server errors are SERVICE_UNAVAILABLE; the rest (max turns, a refused request, an aborted turn)
// INTERNAL_ERROR.
const char *error_code_of(const Message &m)
{
  auto status = m.api_error_status();
  if (status && (*status == 429 || *status >= 500)) return "SERVICE_UNAVAILABLE";
  return "INTERNAL_ERROR";
}

std::string error_message_of(const Message &m)
{
  if (auto text = m.result_text(); text && !text->empty()) return std::string(*text);
  std::string out = "The CLI ended the turn with ";
  out += m.subtype().empty() ? std::string_view("an error") : m.subtype();
  if (auto reason = m.terminal_reason()) out += " (" + std::string(*reason) + ")";
  return out;
}

std::string error_details_of(const Message &m)
{
  std::string out = "{\"subtype\":";
  append_json_string(out, m.subtype());
  if (auto reason = m.terminal_reason()) {
    out += ",\"terminalReason\":";
    append_json_string(out, *reason);
  }
  if (auto status = m.api_error_status()) out += ",\"apiErrorStatus\":" + std::to_string(*status);
  return out + "}";
}

std::int64_t count_of(const JsonView &v) { return std::max<std::int64_t>(0, v.int64().value_or(0)); }

}  // namespace

const char *to_string(TaskStatus status) noexcept
{
  switch (status) {
  case TaskStatus::pending: return "pending";
  case TaskStatus::planning: return "planning";
  case TaskStatus::executing: return "executing";
  case TaskStatus::reviewing: return "reviewing";
  case TaskStatus::completed: return "completed";
  case TaskStatus::failed: return "failed";
  case TaskStatus::cancelled: return "cancelled";
  }
  return "pending";
}

bool is_final(TaskStatus status) noexcept
{
  return status == TaskStatus::completed || status == TaskStatus::failed || status == TaskStatus::cancelled;
}

TaskTracker::TaskTracker(double cost_baseline_usd, TaskLimits limits)
    : limits_(limits), cost_baseline_usd_(std::isfinite(cost_baseline_usd) ? cost_baseline_usd : 0)
{
}

// ---- status --------------------------------------------------------------------------------

void TaskTracker::advance(TaskStatus to)
{
  if (is_final(status_) || static_cast<int>(to) <= static_cast<int>(status_)) return;
  status_ = to;
}

void TaskTracker::finish(TaskStatus to, std::optional<TaskError> error)
{
  if (is_final(status_)) return;
  last_running_ = status_;
  status_ = to;
  error_ = std::move(error);
}

void TaskTracker::start() { advance(TaskStatus::planning); }

void TaskTracker::cancel() { finish(TaskStatus::cancelled, std::nullopt); }

void TaskTracker::fail(std::string code, std::string message)
{
  finish(TaskStatus::failed, TaskError{std::move(code), std::move(message), {}});
}

void TaskTracker::on_message(const Message &m)
{
  switch (m.type()) {
  case MessageType::system:
  case MessageType::stream_event:
  case MessageType::assistant:
  case MessageType::user:
  case MessageType::result: advance(TaskStatus::planning); break;
  default: return;  // control protocol, rate limits, unknown and invalid lines: not the turn's work
  }
  if (m.is(MessageType::stream_event)) on_stream_event(m);
  else if (m.is(MessageType::assistant)) on_assistant(m);
  else if (m.is(MessageType::user)) on_user(m);
  else if (m.is(MessageType::result)) on_result(m);
}

// With partial messages a block's start comes before its assistant line: the earlier signal.
void TaskTracker::on_stream_event(const Message &m)
{
  if (m.event_type() != "content_block_start") return;
  JsonView block = m.event()["content_block"];
  auto type = block["type"].string_or();
  if (type == "tool_use" || type == "server_tool_use") {
    auto name = block["name"].string_or();
    if (name.empty()) return;
    advance(TaskStatus::executing);
    count_tool(block["id"].string_or(), name);
  } else if (type == "text" && work_result_seen_ && is_main_thread(m)) {
    advance(TaskStatus::reviewing);
  }
}

void TaskTracker::on_assistant(const Message &m)
{
  bool main = is_main_thread(m);
  for (const auto &b : m.content()) {
    if (b.type() == BlockType::tool_use || b.type() == BlockType::server_tool_use) {
      on_tool_use(b, main);
    } else if (b.type() == BlockType::text && main && work_result_seen_) {
      advance(TaskStatus::reviewing);
    }
  }
}

void TaskTracker::on_user(const Message &m)
{
  bool main = is_main_thread(m);
  for (const auto &b : m.content()) {
    if (b.type() == BlockType::tool_result) on_tool_result(b, m, main);
  }
}

void TaskTracker::on_result(const Message &m)
{
  if (result_seen_) return;
  result_seen_ = true;
  read_metrics(m);
  if (auto text = m.result_text()) output_ = capped(*text, limits_.max_output_bytes, output_truncated_);
  if (!m.is_error() && m.subtype() == "success") {
    finish(TaskStatus::completed, std::nullopt);
    return;
  }
  bool cut = false;
  finish(TaskStatus::failed, TaskError{error_code_of(m), capped(error_message_of(m), limits_.max_preview_bytes, cut),
                                       error_details_of(m)});
}

void TaskTracker::read_metrics(const Message &m)
{
  JsonView u = m.usage();
  usage_.input_tokens = count_of(u["input_tokens"]);
  usage_.output_tokens = count_of(u["output_tokens"]);
  usage_.cache_read_tokens = count_of(u["cache_read_input_tokens"]);
  usage_.cache_creation_tokens = count_of(u["cache_creation_input_tokens"]);
  usage_.turns = std::max<std::int64_t>(0, m.num_turns().value_or(0));
  if (auto ms = m.duration_ms(); ms && *ms >= 0) duration_ms_ = *ms;
  auto cost = m.total_cost_usd();
  if (!cost || !std::isfinite(*cost) || *cost < 0) return;
  cli_cost_usd_ = *cost;
  usage_.cost_usd = *cost >= cost_baseline_usd_ ? *cost - cost_baseline_usd_ : *cost;
}

// ---- tools ---------------------------------------------------------------------------------

void TaskTracker::count_tool(std::string_view id, std::string_view name)
{
  if (!id.empty()) {
    if (tool_names_.count(std::string(id)) != 0) return;  // its stream start was counted already
    // Past the cap ids are not remembered: a tool seen twice (stream start and line) counts twice.
    if (tool_names_.size() < 16 * limits_.max_entries) tool_names_.emplace(id, name);
  }
  for (auto &entry : tool_counts_) {
    if (entry.first == name) {
      ++entry.second;
      return;
    }
  }
  if (tool_counts_.size() < limits_.max_entries) tool_counts_.emplace_back(std::string(name), 1);
}

void TaskTracker::on_tool_use(const ContentBlock &b, bool main_thread)
{
  std::string_view name = b.name();
  if (name.empty()) return;
  advance(TaskStatus::executing);
  count_tool(b.id(), name);
  if (b.type() != BlockType::tool_use) return;
  if (is_file_tool(name)) note_file(b);
  else if (name == "Bash") note_command(b);
  else if (!main_thread) return;  // a subagent's todo list is its own
  else if (name == "TodoWrite") todo_write(b.input());
  else if (name == "TaskCreate") task_create(b);
  else if (name == "TaskUpdate") task_update(b.input());
}

void TaskTracker::on_tool_result(const ContentBlock &b, const Message &m, bool main_thread)
{
  std::string id(b.tool_use_id());
  auto named = tool_names_.find(id);
  if (main_thread && !(named != tool_names_.end() && is_todo_tool(named->second))) work_result_seen_ = true;
  if (auto it = pending_files_.find(id); it != pending_files_.end()) {
    FileChange change = std::move(it->second);
    pending_files_.erase(it);
    if (!b.is_error()) commit_file(b, m, std::move(change));  // a refused or failed edit changed nothing
    return;
  }
  if (finish_command(b)) return;
  task_created(b, m);
}

// ---- files ---------------------------------------------------------------------------------

void TaskTracker::note_file(const ContentBlock &b)
{
  JsonView input = b.input();
  auto path = input["file_path"].string();
  if (!path) path = input["notebook_path"].string();
  if (!path || path->empty() || b.id().empty() || pending_files_.size() >= limits_.max_entries) return;
  FileChange change;
  change.path = std::string(*path);
  change.tool = std::string(b.name());
  if (auto content = input["content"].string(); content && b.name() == "Write") {
    change.content = capped(*content, limits_.max_preview_bytes, change.content_truncated);
  }
  pending_files_.emplace(std::string(b.id()), std::move(change));
}

// One entry per path: its first action (a file created and then edited was created), the last
// tool, the last content written.
void TaskTracker::commit_file(const ContentBlock &result, const Message &m, FileChange change)
{
  bool created = change.tool == "Write" && write_created(result, m, change.path);
  change.action = created ? "created" : "modified";
  for (auto &f : files_) {
    if (f.path != change.path) continue;
    f.tool = std::move(change.tool);
    if (change.content) {
      f.content = std::move(change.content);
      f.content_truncated = change.content_truncated;
    }
    return;
  }
  if (files_.size() >= limits_.max_entries) {
    ++files_omitted_;
    return;
  }
  files_.push_back(std::move(change));
}

// ---- commands ------------------------------------------------------------------------------

void TaskTracker::note_command(const ContentBlock &b)
{
  auto command = b.input()["command"].string();
  if (!command) return;
  for (const auto &c : commands_) {
    if (!b.id().empty() && c.tool_use_id == b.id()) return;  // the same call again
  }
  if (commands_.size() >= limits_.max_entries) {
    ++commands_omitted_;
    return;
  }
  CommandRun run;
  run.tool_use_id = std::string(b.id());
  bool cut = false;
  run.command = capped(*command, limits_.max_preview_bytes, cut);
  commands_.push_back(std::move(run));
}

bool TaskTracker::finish_command(const ContentBlock &result)
{
  auto id = result.tool_use_id();
  if (id.empty()) return false;
  for (auto &c : commands_) {
    if (c.tool_use_id != id || c.finished) continue;
    c.finished = true;
    c.is_error = result.is_error();
    c.output = capped(result.content_text(), limits_.max_preview_bytes, c.output_truncated);
    return true;
  }
  return false;
}

// ---- the todo list -------------------------------------------------------------------------

void TaskTracker::todo_write(const JsonView &input)
{
  JsonView todos = input["todos"];
  if (!todos.is_array()) return;
  std::vector<TodoItem> items;
  for (std::size_t i = 0; i < todos.size() && items.size() < limits_.max_entries; ++i) {
    JsonView t = todos[i];
    auto content = t["content"].string();
    if (!content) continue;
    bool cut = false;
    TodoItem item;
    item.text = capped(*content, limits_.max_preview_bytes, cut);
    item.active_form = capped(t["activeForm"].string_or(), limits_.max_preview_bytes, cut);
    auto status = t["status"].string_or();
    item.status = valid_todo_status(status) ? std::string(status) : "pending";
    items.push_back(std::move(item));
  }
  todos_ = std::move(items);
}

void TaskTracker::task_create(const ContentBlock &b)
{
  auto subject = b.input()["subject"].string();
  if (!subject || b.id().empty() || todos_.size() >= limits_.max_entries) return;
  for (const auto &t : todos_) {
    if (t.creator == b.id()) return;
  }
  bool cut = false;
  TodoItem item;
  item.creator = std::string(b.id());
  item.text = capped(*subject, limits_.max_preview_bytes, cut);
  item.active_form = capped(b.input()["activeForm"].string_or(), limits_.max_preview_bytes, cut);
  item.status = "pending";
  todos_.push_back(std::move(item));
}

// The created task's id: the structured {task:{id,subject}}, else the "#N" of the text. A
// TaskCreate that failed made no task.
bool TaskTracker::task_created(const ContentBlock &result, const Message &m)
{
  auto it = std::find_if(todos_.begin(), todos_.end(),
                         [&](const TodoItem &t) { return !t.creator.empty() && t.creator == result.tool_use_id(); });
  if (it == todos_.end()) return false;
  if (result.is_error()) {
    todos_.erase(it);
    return true;
  }
  JsonView task = m.tool_use_result()["task"];
  auto subject = task["subject"].string();
  if (!subject || *subject == it->text) it->id = id_text(task["id"]);
  if (it->id.empty()) it->id = id_from_text(result.content_text());
  return true;
}

// An id this turn did not create (a task from an earlier turn) joins the list as it is updated.
void TaskTracker::task_update(const JsonView &input)
{
  std::string id = id_text(input["taskId"]);
  if (id.empty()) return;
  auto it = std::find_if(todos_.begin(), todos_.end(), [&](const TodoItem &t) { return t.id == id; });
  auto status = input["status"].string_or();
  if (status == "deleted") {
    if (it != todos_.end()) todos_.erase(it);
    return;
  }
  if (it == todos_.end()) {
    if (todos_.size() >= limits_.max_entries) return;
    TodoItem item;
    item.id = id;
    item.status = "pending";
    it = todos_.insert(todos_.end(), std::move(item));
  }
  bool cut = false;
  if (auto subject = input["subject"].string()) it->text = capped(*subject, limits_.max_preview_bytes, cut);
  if (auto form = input["activeForm"].string()) it->active_form = capped(*form, limits_.max_preview_bytes, cut);
  if (valid_todo_status(status)) it->status = std::string(status);
}

// ---- snapshots -----------------------------------------------------------------------------

int TaskTracker::phase_percentage() const
{
  switch (is_final(status_) ? last_running_ : status_) {
  case TaskStatus::planning: return 10;
  case TaskStatus::executing: return 50;
  case TaskStatus::reviewing: return 90;
  default: return 0;
  }
}

TaskProgress TaskTracker::progress() const
{
  TaskProgress p;
  p.total_steps = static_cast<int>(todos_.size());
  if (status_ == TaskStatus::completed) {
    p.percentage = 100;
    return p;
  }
  if (todos_.empty()) {
    p.percentage = phase_percentage();
    return p;
  }
  auto done = std::count_if(todos_.begin(), todos_.end(), [](const TodoItem &t) { return t.status == "completed"; });
  p.percentage = static_cast<int>(done * 100 / static_cast<std::ptrdiff_t>(todos_.size()));
  for (const auto &t : todos_) {
    if (t.status != "in_progress") continue;
    p.current_step = t.active_form.empty() ? t.text : t.active_form;
    break;
  }
  return p;
}

bool TaskTracker::changed()
{
  TaskProgress p = progress();
  bool differs = status_ != reported_status_ || p != reported_progress_;
  reported_status_ = status_;
  reported_progress_ = std::move(p);
  return differs;
}

TaskResult TaskTracker::result() const
{
  TaskResult r;
  r.success = status_ == TaskStatus::completed;
  r.output = output_;
  r.output_truncated = output_truncated_;
  r.files = files_;
  r.commands = commands_;
  r.files_omitted = files_omitted_;
  r.commands_omitted = commands_omitted_;
  r.error = error_;
  r.execution_time_ms = duration_ms_.value_or(elapsed_ms_);
  for (const auto &entry : tool_counts_) r.tools_used.push_back(entry.first);
  r.usage = usage_;
  return r;
}

TaskTotals TaskTracker::totals() const { return TaskTotals{usage_, tool_counts_}; }

}  // namespace ccbridge::detail::server::platform
