// Stream: the messages of one CLI run, consumed by blocking pull (with timeout), by range-for, or
// by callback.
//
// Buffering is bounded (Options::max_buffered_messages / max_buffered_bytes): when the consumer
// falls behind, ccbridge stops reading the CLI's stdout, so the CLI blocks instead of memory
// growing. When the run ends, the outcome tells how: exit status, stderr tail, last error result.
//
// Thread safety: one consumer at a time. pull()/next()/iteration must not be called from two
// threads at once, nor from inside a ccbridge callback (that throws errc::would_deadlock). close()
// and the destructor may be called from any thread other than a ccbridge callback.
// Lifetime: the destructor closes the run (see close()) and returns only when the CLI and all its
// descendants in its process group are gone and reaped.
#pragma once

#include <ccbridge/error.hpp>
#include <ccbridge/exit_status.hpp>
#include <ccbridge/export.h>
#include <ccbridge/message.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

namespace ccbridge::detail {
template <class T> struct Access;  // how the library reaches a class's internals (defined in lib/)
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

/// The end of a run.
struct RunOutcome {
  std::error_code error;    ///< empty on success; errc::process_failed, io_error, cancelled, ...
  std::string message;      ///< "[ccbridge.<id>] what failed ... what to do" (empty on success)
  ExitStatus exit;
  std::string stderr_tail;  ///< the last Options::stderr_tail_bytes of stderr
  std::optional<Message> last_result;        ///< the last "result" message, if any
  std::optional<Message> last_error_result;  ///< the last result with is_error true, if any
  std::uint64_t messages = 0;       ///< messages delivered (including invalid_line ones)
  std::uint64_t invalid_lines = 0;  ///< lines that became invalid_line messages
  std::uint64_t skipped_lines = 0;  ///< blank or non-JSON lines skipped (e.g. debug noise)
  bool ok() const noexcept { return !error; }
};

/// Thrown at the end of iteration (next(), range-for) when the run failed.
class CCB_API ProcessError : public Error {
public:
  explicit ProcessError(RunOutcome outcome);
  const RunOutcome &outcome() const noexcept { return outcome_; }
  int exit_code() const noexcept { return outcome_.exit.code; }
  int signal() const noexcept { return outcome_.exit.signal; }
  const std::string &stderr_tail() const noexcept { return outcome_.stderr_tail; }
  const std::optional<Message> &last_error_result() const noexcept
  {
    return outcome_.last_error_result;
  }

private:
  RunOutcome outcome_;
};

enum class PullStatus { message, end, timeout };

class CCB_API Stream {
public:
  using MessageCallback = std::function<void(const Message &)>;
  using EndCallback = std::function<void(const RunOutcome &)>;

  Stream(Stream &&) noexcept;
  Stream &operator=(Stream &&) noexcept;
  ~Stream();

  /// Waits up to `timeout` for the next message. Returns PullStatus::end once every message has
  /// been delivered and the process is gone (see outcome()); never throws for a failed run.
  /// Errors: Error(would_deadlock) when called from a ccbridge callback; Error(invalid_argument)
  /// in callback mode.
  PullStatus pull(Message &out, std::chrono::milliseconds timeout);

  /// Blocks for the next message; nullopt at the end. At the end of a failed run it throws
  /// ProcessError once (carrying the outcome); later calls return nullopt.
  std::optional<Message> next();

  /// Switches to callback mode: every message not yet pulled, then each new one, is passed to
  /// `on_message` on a ccbridge I/O thread, in order; `on_end` runs once after the last one.
  /// Callbacks must not block for long (reading pauses meanwhile) and must not call pull()/next().
  /// Exceptions they throw are caught; the run is then closed and the outcome reports them.
  void on_message(MessageCallback on_message, EndCallback on_end = {});

  /// Waits until the run has ended and returns its outcome. In pull mode, messages not yet pulled
  /// are discarded.
  const RunOutcome &wait();

  /// True once the run has ended (all messages delivered or discarded, process reaped).
  bool finished() const;
  /// The outcome; only meaningful once finished().
  const RunOutcome &outcome() const;

  /// Ends the run early with the graceful shutdown ladder: close stdin, wait
  /// Options::shutdown.exit_wait (the CLI may finish its turn and save its session meanwhile),
  /// SIGTERM the process group, wait term_wait, SIGKILL, reap. Unread messages are discarded.
  /// Blocks until done. Idempotent. The outcome then has errc::cancelled unless the run had
  /// already ended.
  void close();

  /// Stops the run now and returns at once: the cancel ladder (a Session's run is first asked to
  /// interrupt its turn with a control request; then stdin is closed, SIGTERM follows after
  /// Options::shutdown.cancel_grace, SIGKILL after term_wait). It runs on the runtime's threads;
  /// the end is reported as usual (on_end callback, finished(), wait()) with errc::cancelled.
  /// Cuts short a graceful ladder under way (close(), Session::close_async()) that has not
  /// signalled yet. Idempotent; for event loops that must never block, and for a user's "Stop".
  void cancel();

  /// Flow control for callback mode: stop reading the CLI's stdout (the CLI then waits on its
  /// pipe) until resume_reading(). Messages already read are still delivered. Non-blocking and
  /// safe from any thread, including inside the message callback; for consumers that hand
  /// messages on and must not block the I/O thread. No effect in pull mode, which has its own.
  void pause_reading();
  void resume_reading();

  /// The CLI's process id (also its process group id); 0 once reaped.
  int pid() const;

  class iterator {
  public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Message;
    using difference_type = std::ptrdiff_t;
    using pointer = const Message *;
    using reference = const Message &;
    iterator() = default;
    explicit iterator(Stream *s) : stream_(s) { ++*this; }
    reference operator*() const { return *current_; }
    pointer operator->() const { return &*current_; }
    iterator &operator++()
    {
      current_ = stream_->next();
      if (!current_) stream_ = nullptr;
      return *this;
    }
    bool operator==(const iterator &o) const { return stream_ == o.stream_; }
    bool operator!=(const iterator &o) const { return stream_ != o.stream_; }

  private:
    Stream *stream_ = nullptr;
    std::optional<Message> current_;
  };
  /// Range-for: `for (const Message &m : stream)`. Throws ProcessError at the end of a failed run.
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

private:
  struct State;
  friend struct detail::Access<Stream>;
  explicit Stream(std::shared_ptr<State> state) noexcept;
  std::shared_ptr<State> state_;
};

CCB_END_NAMESPACE
