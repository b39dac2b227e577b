// Agent platform: one session while it has a CLI process or tasks waiting: its queue (by priority,
// then order of arrival), the task running now and what the CLI says about it, and its events.
// A task is one turn: the first opens the conversation (resuming the CLI's session id when the
// session had one before), the next ones are sent as further turns of the same process. Server
// thread only.
#pragma once

#include "server/profiles/platform/platform.hpp"
#include "server/profiles/platform/task_tracker.hpp"
#include "server/session_run.hpp"

#include <asio/steady_timer.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace ccbridge::detail::server::platform {

/// The task a LiveSession runs now. (At namespace scope: as a nested class with default member
/// initializers, clang cannot yet construct it inside the enclosing class's std::optional.)
struct RunningTask {
  std::string id;
  JsonDocument doc;  ///< the task as the API shows it, kept current
  TaskTracker tracker;
  bool chat = false;          ///< submitted as chat:message: answered with chat:response too
  bool stopping = false;      ///< cancelled or timed out: waiting for the interrupted turn's end
  bool sent = false;          ///< the turn went to the CLI
  bool turn_ended = false;    ///< the CLI's result message for it came
  std::string streamed;       ///< chat: text sent as partial chat:response so far
  std::chrono::steady_clock::time_point started;
};

class LiveSession final : public SessionRun::Client, public std::enable_shared_from_this<LiveSession> {
public:
  LiveSession(Platform &p, const SessionRow &s);
  ~LiveSession() override;

  const std::string id;
  std::shared_ptr<Run> events;  ///< the Hub run whose log numbers the session's events

  /// Queues a pending task (stored already) and starts it if nothing runs.
  void enqueue(const TaskRow &t);
  /// Cancels a queued or running task; false if it is neither.
  bool cancel(const std::string &task_id);
  /// The running task's document, if `task_id` is running.
  const JsonDocument *running(const std::string &task_id) const;
  bool busy() const { return current_.has_value(); }
  std::string current_task() const { return current_ ? current_->id : std::string(); }
  /// Ends everything: queued and running tasks are cancelled, the CLI is closed.
  void shut();

  // SessionRun::Client
  void open_failed(const std::string &why, bool not_found) override;
  void batch(std::vector<CliEvent> &batch) override;
  void send_failed(const std::string &why) override;

private:
  struct Queued {
    std::string id;
    int priority;
    std::uint64_t order;
  };

  void next();
  void start(const TaskRow &t);
  void arm_deadline();
  void send_turn(Options o, std::string content);
  Options options_for(const JsonValue &task_doc, std::string &why);
  void on_message(const Message &m);
  void on_stream_event(const Message &m);
  void progress_changed();
  void finish_current();
  /// The task ends now with a final status; a running turn is interrupted and awaited before the
  /// next task starts.
  void end_task(const std::string &status, const std::string &code, const std::string &message);
  void announce_end(const std::string &status, const JsonValue &result, std::int64_t elapsed);
  void close_cli();
  void touch_idle();
  void save_current();

  Platform &p_;
  std::deque<Queued> queue_;
  std::uint64_t order_ = 0;
  std::optional<RunningTask> current_;
  std::shared_ptr<SessionRun> cli_;
  std::string fixed_;  ///< fixed_options() of the running CLI
  /// A model was named to the running CLI (on its command line or by a control request).
  bool model_named_ = false;
  double cli_cost_ = 0;  ///< the CLI process's cumulative cost so far (the next task's baseline)  ///< the agent changed: the next task opens a new process (resuming)
  asio::steady_timer deadline_;
  asio::steady_timer idle_;
  asio::steady_timer stop_guard_;
};

}  // namespace ccbridge::detail::server::platform
