// The engine behind a Stream: process channel -> framer -> messages -> bounded queue or callback.
// Strand-side members are touched only on the channel's strand; the queue is shared with the
// consumer thread under `mu_`.
#pragma once

#include "detail/runtime_impl.hpp"
#include "process/channel.hpp"
#include "protocol/framer.hpp"
#include "protocol/line_pool.hpp"

#include <ccbridge/options.hpp>
#include <ccbridge/stream.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace ccbridge::detail {
/// Receives the control frames of a run (a Session's control layer). Called on the run's strand.
class ControlHandler {
public:
  virtual ~ControlHandler() = default;
  virtual void on_control(const Message &msg) = 0;
  /// The process is gone: fail whatever is pending.
  virtual void on_end(const RunOutcome &outcome) = 0;
  /// True while a request to the CLI waits for its answer: stdout must then be read even if the
  /// application's queue is full, or a caller that stopped reading could never get the answer.
  virtual bool awaiting_response() const = 0;
  /// A cancel: asks the CLI to stop its turn now (an interrupt request whose answer nobody waits
  /// for), its frame queued before stdin is closed.
  virtual void interrupt_now() = 0;
  /// Every message of the run that is not a control frame, before it is delivered.
  virtual void observe(const Message &msg) = 0;
};

/// Runs an application's callback (may be empty) on the strand: what it throws must not stop the
/// run, so it is dropped.
template <class F, class... Args> void call_safely(const F &fn, Args &&...args) noexcept
{
  if (!fn) return;
  try {
    fn(std::forward<Args>(args)...);
  } catch (...) {
  }
}

/// Stream's engine and constructor, for the code that starts runs (query.cpp, session.cpp).
template <> struct Access<Stream> {
  using State = Stream::State;
  static Stream make(std::shared_ptr<State> state) noexcept { return Stream(std::move(state)); }
  static State &state(Stream &s) noexcept { return *s.state_; }  // for tests of the backpressure
};
using StreamState = Access<Stream>::State;
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

struct Stream::State : detail::ChannelHandler, std::enable_shared_from_this<Stream::State> {
  State(std::shared_ptr<detail::RuntimeImpl> runtime, const Options &options);
  ~State() override;

  /// Called once the spawn has been tried: no error, or why it failed (Error's code and message).
  using StartCallback = std::function<void(std::optional<Error> error)>;

  /// Spawns the CLI (on a runtime thread, so the parent-death signal is tied to a thread that
  /// lives as long as the runtime) and starts reading. Throws spawn errors.
  void start(detail::SpawnRequest request);
  /// The same without waiting: the spawn runs on the strand, then `done` runs there.
  void start_async(detail::SpawnRequest request, StartCallback done);
  /// Queues a stdin frame (thread-safe).
  void write(std::string frame);
  /// Closes stdin once queued frames are written (thread-safe).
  void close_stdin();

  // Consumer side.
  PullStatus pull(Message &out, std::chrono::milliseconds timeout);
  void set_callbacks(MessageCallback on_message, EndCallback on_end);
  const RunOutcome &wait_end();
  void close();
  /// The caller stops the run without waiting: the cancel ladder (see ShutdownPolicy).
  void cancel();
  void user_pause(bool pause);
  /// The bounded queue (pull mode), for tests of the backpressure: what it holds now (not the
  /// batch the consumer already took), the most bytes it ever held, and whether stdout reading is
  /// paused for it. Thread-safe.
  struct Buffered {
    std::size_t messages = 0;
    std::size_t bytes = 0;
    std::size_t peak_bytes = 0;
    bool paused = false;
  };
  Buffered buffered() const;
  /// Ends the run the way a conversation ends: close stdin, let the CLI exit on its own within
  /// ShutdownPolicy::exit_wait, then the ladder. Unread messages are discarded; the outcome is the
  /// CLI's own (not "cancelled"). Blocks unless called on an I/O thread.
  const RunOutcome &finish_gracefully();
  /// The same ladder without waiting; `done` (may be empty) runs on the strand once the process
  /// has been reaped. From then on release() does not wait for the process either.
  void finish_gracefully_async(EndCallback done);
  /// A Stream handle goes away: close() (which waits), unless finish_gracefully_async() already
  /// runs the ladder in the background.
  void release();
  bool finished() const;

  // ChannelHandler (strand).
  void on_stdout(const char *data, std::size_t size) override;
  void on_stdout_end(std::error_code ec) override;
  void on_stderr_line(std::string_view line) override;
  void on_stdin_error(std::error_code ec) override;
  void on_finished(ExitStatus status) override;

  std::shared_ptr<detail::RuntimeImpl> runtime_;
  detail::Strand strand_;
  Options options_;
  std::shared_ptr<detail::ProcessChannel> channel_;
  std::atomic<int> pid_{0};
  /// Set before start() by a Session; released when the run ends (breaking the ownership cycle).
  std::shared_ptr<detail::ControlHandler> control_;

private:
  void spawn(const detail::SpawnRequest &request);
  std::optional<Error> try_spawn(const detail::SpawnRequest &request);
  void begin_graceful(EndCallback done);
  void on_line(const detail::FramerEvent &ev);
  void deliver(Message msg);
  void flush_batch();
  void begin_shutdown();
  void begin_cancel();
  void discard_all();
  void deliver_end();
  void finish_outcome(ExitStatus status);
  void resume_reading();
  bool over_limits() const;

  // strand-only
  detail::LineFramer framer_;
  // The messages' memory, recycled (line_pool.hpp); closed when the run's state goes.
  std::shared_ptr<detail::LinePool> pool_ = std::make_shared<detail::LinePool>();
  std::chrono::steady_clock::time_point read_at_{};  // when the stdout bytes being framed were read
  std::vector<Message> batch_;
  std::size_t batch_bytes_ = 0;
  bool callback_mode_ = false;
  MessageCallback on_message_;
  EndCallback on_end_;
  bool discarding_ = false;  // closing: drop messages
  std::error_code stdout_error_;
  bool stdout_ended_ = false;   // the CLI closed its stdout before any shutdown ladder (strand)
  bool shutdown_begun_ = false;  // close()/finish started the ladder (strand)
  std::error_code callback_error_;
  std::string callback_error_text_;
  std::optional<Message> last_result_;
  std::optional<Message> last_error_result_;
  std::uint64_t delivered_ = 0;
  std::uint64_t invalid_ = 0;
  std::uint64_t skipped_ = 0;
  bool reaped_ = false;                   // the outcome is final
  std::vector<EndCallback> end_waiters_;  // finish_gracefully_async() callbacks, run once reaped

  // shared with the consumer
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t peak_queued_bytes_ = 0;
  bool consumer_waiting_ = false;
  bool ended_ = false;
  bool close_requested_ = false;
  bool callback_mode_requested_ = false;
  bool end_delivered_ = false;  // callback mode: on_end has run
  bool background_close_ = false;  // finish_gracefully_async() was called: handles need not wait
  RunOutcome outcome_;
  std::atomic<bool> paused_{false};

  // consumer-only
  std::deque<Message> local_;
  friend class Stream;
  bool error_thrown_ = false;
};

CCB_END_NAMESPACE
