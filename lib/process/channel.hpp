// ProcessChannel: the running CLI on an Asio strand. Reads stdout (raw bytes, with pause/resume
// for backpressure) and stderr (always drained: line callback + bounded tail; none when the child's
// stderr_fd is -1, as on a PTY, whose master is then both stdout and a dup of it stdin), writes stdin (one
// whole frame at a time, in order, never raising SIGPIPE), watches for exit with a pidfd, and runs
// the shutdown ladder. Every member function must be called on strand(); handler callbacks are
// invoked there.
#pragma once

#include "process/spawn.hpp"

#include <ccbridge/options.hpp>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ccbridge::detail {

class ChannelHandler {
public:
  virtual ~ChannelHandler() = default;
  /// A chunk of stdout.
  virtual void on_stdout(const char *data, std::size_t size) = 0;
  /// stdout ended: EOF (empty code), a read error, or errc::timeout when a leftover descendant
  /// kept it open past ShutdownPolicy::drain_wait after the CLI exited.
  virtual void on_stdout_end(std::error_code ec) = 0;
  virtual void on_stderr_line(std::string_view line) = 0;
  /// Writing stdin failed (the CLI closed it or exited); later writes are dropped.
  virtual void on_stdin_error(std::error_code ec) = 0;
  /// The process was reaped and stdout/stderr are finished. Called once, last.
  virtual void on_finished(ExitStatus status) = 0;
};

using Strand = asio::strand<asio::io_context::executor_type>;

class ProcessChannel : public std::enable_shared_from_this<ProcessChannel> {
public:
  struct Config {
    std::size_t stderr_tail_bytes = 16 * 1024;
    std::size_t read_chunk = 256 * 1024;
    std::chrono::milliseconds drain_wait{2000};  ///< see ShutdownPolicy::drain_wait
  };

  ProcessChannel(Strand strand, const SpawnedChild &child, Config config);
  ~ProcessChannel();

  /// Begins reading and exit watching. The handler is kept until on_finished().
  void start(std::shared_ptr<ChannelHandler> handler);

  /// Queues one frame (a whole line including '\n') for stdin.
  void write(std::string frame);
  /// Closes stdin once the queued frames are written (immediately if `discard_pending`).
  void close_stdin(bool discard_pending = false);
  bool stdin_open() const noexcept { return stdin_.is_open() && !stdin_closing_; }

  void pause_stdout();
  void resume_stdout();

  /// The shutdown ladder: close stdin (dropping unsent frames), wait policy.exit_wait, SIGTERM the
  /// group, wait term_wait, SIGKILL. Stdout keeps being read meanwhile so the CLI cannot block on
  /// it. Does nothing once the process has exited. Safe to call more than once.
  void shutdown(const ShutdownPolicy &policy);
  /// The cancel ladder: close stdin once the queued frames (an interrupt request) are written, wait
  /// policy.cancel_grace, SIGTERM the group, wait term_wait, SIGKILL. Shortens a graceful ladder
  /// under way that has not signalled yet. Does nothing once the process has exited.
  void cancel(const ShutdownPolicy &policy);

  int pid() const noexcept { return reaped_ ? 0 : pid_; }
  /// The stdout descriptor while it is open (a PTY's master: for its window size), else -1.
  int stdout_handle() noexcept { return stdout_.is_open() ? stdout_.native_handle() : -1; }
  /// The last signal the shutdown ladder sent (SIGTERM, SIGKILL), 0 if it sent none.
  int ladder_signal() const noexcept { return ladder_signal_; }
  std::string stderr_tail() const;
  const Strand &strand() const noexcept { return strand_; }

private:
  void do_read_stdout();
  void do_read_stderr();
  void do_write();
  void watch_exit();
  void poll_exit();
  void on_exited();
  void stderr_data(const char *p, std::size_t n);
  void flush_stderr_partial();
  void end_stdout(std::error_code ec);
  void maybe_finish();
  void begin_ladder(const ShutdownPolicy &policy, std::chrono::steady_clock::time_point sigterm_at);
  void escalate(int sig, std::chrono::milliseconds wait);

  Strand strand_;
  Config config_;
  int pid_;
  bool exited_ = false;
  bool reaped_ = false;
  ExitStatus status_;
  asio::posix::stream_descriptor stdin_;
  asio::posix::stream_descriptor stdout_;
  asio::posix::stream_descriptor stderr_;
  asio::posix::stream_descriptor pidfd_;
  asio::steady_timer exit_poll_;
  asio::steady_timer ladder_timer_;
  int ladder_signal_ = 0;
  asio::steady_timer drain_timer_;
  std::shared_ptr<ChannelHandler> handler_;

  std::vector<char> err_buf_;
  bool reading_stdout_ = false;
  bool paused_ = false;
  bool stdout_done_ = false;
  bool stderr_done_ = false;
  bool finished_ = false;

  std::deque<std::string> write_queue_;
  std::size_t write_offset_ = 0;
  bool writing_ = false;
  bool stdin_closing_ = false;

  bool shutting_down_ = false;
  ShutdownPolicy policy_;

  std::string stderr_partial_;
  std::string stderr_tail_;
};

}  // namespace ccbridge::detail
