// The agent platform's task tracker (issue 16 item 4; seed 001's Task): one platform task is one
// turn of a CLI conversation, and this turns that turn's messages, as the core's Session delivers
// them (partial messages on or off), into the task's status, progress and result. Everything comes
// from what the CLI really did, nothing from a clock:
//   status     pending -> planning (a first message of the turn) -> executing (a tool_use) ->
//              reviewing (assistant text after a tool result) -> completed | failed (the result
//              message) | cancelled (cancel()). It only moves forward: a tool_use after reviewing
//              leaves it reviewing, and nothing changes a final status.
//   progress   from the agent's todo list when it keeps one: TodoWrite (older CLIs; the list is
//              replaced as a whole) or TaskCreate/TaskUpdate (the pinned 2.1.x CLIs, which have no
//              TodoWrite); percentage = completed items * 100 / items, currentStep = the item in
//              progress (its activeForm, else its text), totalSteps = items. Without a list, a
//              coarse figure by phase: pending 0, planning 10, executing 50, reviewing 90. A
//              completed task is 100; a failed or cancelled one keeps the figure it had. The todo
//              figure can go down when the agent adds items: that is what happened.
//   result     output (the result text), files (successful Write/Edit/MultiEdit/NotebookEdit calls),
//              commands (Bash calls matched with their tool_result by tool_use_id), error, metrics
//              (the result message's duration, usage, num_turns and cost; tools by CLI name).
// Memory is bounded (TaskLimits): texts are cut at a UTF-8 boundary and marked truncated, lists
// stop at max_entries and count what they left out. Unknown or malformed input is ignored.
//
// Thread safety: none. One tracker per task, used on one thread (its session's).
#pragma once

#include "detail/json.hpp"

#include <ccbridge/message.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ccbridge::detail::server::platform {

enum class TaskStatus { pending, planning, executing, reviewing, completed, failed, cancelled };

/// The seed's name of a status ("pending", ..., "cancelled").
const char *to_string(TaskStatus status) noexcept;
/// completed, failed and cancelled: nothing changes them any more.
bool is_final(TaskStatus status) noexcept;

using JsonWriter = JsonTextWriter;  // escapes every control character (see detail/json.hpp)

struct TaskLimits {
  std::size_t max_preview_bytes = 64 * 1024;  ///< each command output and file content
  std::size_t max_output_bytes = 1024 * 1024;  ///< the result text
  std::size_t max_entries = 256;               ///< files, commands, todo items, tool names
};

/// The seed's `progress` object.
struct TaskProgress {
  int percentage = 0;        ///< 0..100, always written
  std::string current_step;  ///< written when not empty
  int total_steps = 0;       ///< the todo list's length; written when not 0
  bool operator==(const TaskProgress &o) const
  {
    return percentage == o.percentage && current_step == o.current_step && total_steps == o.total_steps;
  }
  bool operator!=(const TaskProgress &o) const { return !(*this == o); }
  void write(JsonWriter &w) const;
};

/// One entry of `result.files`: {path, action, tool, content?, contentTruncated?}.
struct FileChange {
  std::string path;
  std::string action;  ///< "created" or "modified" (no CLI file tool deletes a file)
  std::string tool;    ///< the CLI tool of the last change
  std::optional<std::string> content;  ///< Write's content (the whole file), capped
  bool content_truncated = false;
};

/// One entry of `result.commands`: {command, output?, isError?, outputTruncated?}. The CLI reports
/// no exit code of its own; a failing or refused command comes back with is_error.
struct CommandRun {
  std::string tool_use_id;
  std::string command;
  bool finished = false;  ///< its tool_result came (output and is_error are only then written)
  std::string output;     ///< the tool_result text the model saw, capped
  bool output_truncated = false;
  bool is_error = false;
};

/// `metrics.resourceUsage`: the turn's tokens (result.usage), cost and API round trips (num_turns).
struct ResourceUsage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_read_tokens = 0;
  std::int64_t cache_creation_tokens = 0;
  double cost_usd = 0;
  std::int64_t turns = 0;
};

struct TaskError {
  std::string code;     ///< from the seed's ErrorCode list
  std::string message;
  std::string details;  ///< a JSON object's text, or "" for none
};

/// The seed's TaskResult.
struct TaskResult {
  bool success = false;
  std::optional<std::string> output;
  bool output_truncated = false;
  std::vector<FileChange> files;
  std::vector<CommandRun> commands;
  std::size_t files_omitted = 0;     ///< beyond TaskLimits::max_entries
  std::size_t commands_omitted = 0;
  std::optional<TaskError> error;
  std::int64_t execution_time_ms = 0;
  std::vector<std::string> tools_used;  ///< distinct CLI tool names, in order of first use
  ResourceUsage usage;

  void write(JsonWriter &w) const;
  std::string to_json() const;
};

/// What a finished task adds to its session's statistics.
struct TaskTotals {
  ResourceUsage usage;
  std::vector<std::pair<std::string, std::int64_t>> tool_counts;  ///< calls per CLI tool name
};

class TaskTracker {
public:
  /// `cost_baseline_usd`: the last total_cost_usd the session's CLI process reported (0 for a
  /// new process). The CLI's figure is cumulative over a streaming process, so the task's cost is
  /// the difference; a smaller figure means a new process and is the task's cost as it stands.
  explicit TaskTracker(double cost_baseline_usd = 0, TaskLimits limits = {});

  /// The turn was sent to the CLI: pending -> planning (also done by the first message).
  void start();
  /// Takes one message of this turn. Never throws on bad or unknown input (only on bad_alloc).
  void on_message(const Message &m);
  /// The caller cancelled the task: cancelled (no error object), unless already final. A later
  /// result message still fills in the metrics.
  void cancel();
  /// The caller ended the task (a timeout: "TIMEOUT_ERROR", a CLI that died, ...): failed, unless
  /// already final.
  void fail(std::string code, std::string message);
  /// executionTime when no result message says it (a cancelled or failed turn); the result
  /// message's duration_ms wins.
  void set_elapsed_ms(std::int64_t ms) { elapsed_ms_ = ms; }

  TaskStatus status() const { return status_; }
  bool finished() const { return is_final(status_); }
  /// "agent" once a tool was used, else "fast".
  const char *execution_path() const { return tool_counts_.empty() ? "fast" : "agent"; }
  TaskProgress progress() const;
  /// True when status or progress differs from what it was at the previous call (or at
  /// construction): the moment for a task:progress event.
  bool changed();
  TaskResult result() const;
  TaskTotals totals() const;
  /// The cumulative total_cost_usd of the result message (the next task's baseline); nullopt
  /// before it.
  std::optional<double> cli_cost_usd() const { return cli_cost_usd_; }

private:
  struct TodoItem {
    std::string id;       ///< TaskCreate/TaskUpdate id ("" until known; unused by TodoWrite)
    std::string creator;  ///< the TaskCreate tool_use id that made it
    std::string text;     ///< content (TodoWrite) or subject (TaskCreate)
    std::string active_form;
    std::string status;   ///< pending, in_progress, completed
  };

  void advance(TaskStatus to);
  void finish(TaskStatus to, std::optional<TaskError> error);
  void on_stream_event(const Message &m);
  void on_assistant(const Message &m);
  void on_user(const Message &m);
  void on_result(const Message &m);
  void on_tool_use(const ContentBlock &b, bool main_thread);
  void on_tool_result(const ContentBlock &b, const Message &m, bool main_thread);
  void count_tool(std::string_view id, std::string_view name);
  void note_file(const ContentBlock &b);
  void commit_file(const ContentBlock &result, const Message &m, FileChange change);
  void note_command(const ContentBlock &b);
  bool finish_command(const ContentBlock &result);
  void todo_write(const JsonView &input);
  void task_create(const ContentBlock &b);
  bool task_created(const ContentBlock &result, const Message &m);
  void task_update(const JsonView &input);
  void read_metrics(const Message &m);
  int phase_percentage() const;

  TaskLimits limits_;
  double cost_baseline_usd_;
  TaskStatus status_ = TaskStatus::pending;
  TaskStatus last_running_ = TaskStatus::pending;  ///< the status before a final one
  bool work_result_seen_ = false;  ///< a main-thread tool result other than todo bookkeeping
  bool result_seen_ = false;

  std::vector<TodoItem> todos_;
  std::unordered_map<std::string, FileChange> pending_files_;  ///< by tool_use id
  std::unordered_map<std::string, std::string> tool_names_;  ///< by tool_use id, bounded
  std::vector<std::pair<std::string, std::int64_t>> tool_counts_;

  std::vector<FileChange> files_;
  std::vector<CommandRun> commands_;
  std::size_t files_omitted_ = 0;
  std::size_t commands_omitted_ = 0;
  std::optional<std::string> output_;
  bool output_truncated_ = false;
  std::optional<TaskError> error_;
  std::optional<std::int64_t> duration_ms_;
  std::int64_t elapsed_ms_ = 0;
  ResourceUsage usage_;
  std::optional<double> cli_cost_usd_;

  TaskStatus reported_status_ = TaskStatus::pending;
  TaskProgress reported_progress_;
};

}  // namespace ccbridge::detail::server::platform
