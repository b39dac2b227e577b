#include "process/channel.hpp"

#include <ccbridge/error.hpp>

#include <asio/post.hpp>
#include <asio/read.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace ccbridge::detail {

namespace {
constexpr std::size_t kMaxStderrLine = 64 * 1024;
}

ProcessChannel::ProcessChannel(Strand strand, const SpawnedChild &child, Config config)
    : strand_(std::move(strand)),
      config_(config),
      pid_(child.pid),
      stdin_(strand_, child.stdin_fd),
      stdout_(strand_, child.stdout_fd),
      stderr_(strand_),
      pidfd_(strand_),
      exit_poll_(strand_),
      ladder_timer_(strand_),
      drain_timer_(strand_),
      err_buf_(4 * 1024)
{
  stdout_.non_blocking(true);
  if (child.pidfd >= 0) pidfd_.assign(child.pidfd);
  if (child.stderr_fd >= 0) {
    stderr_.assign(child.stderr_fd);
  } else {
    stderr_done_ = true;  // a PTY: stderr is the terminal, read as stdout
  }
}

ProcessChannel::~ProcessChannel()
{
  // Normally the process is reaped before this point; this is the last line of defence.
  if (!reaped_ && pid_ > 0) {
    signal_group(pid_, SIGKILL);
    reap(pid_);
  }
}

void ProcessChannel::start(std::shared_ptr<ChannelHandler> handler)
{
  handler_ = std::move(handler);
  do_read_stdout();
  if (!stderr_done_) do_read_stderr();
  watch_exit();
}

// ---- stdin ----------------------------------------------------------------------------------

void ProcessChannel::write(std::string frame)
{
  if (!stdin_.is_open() || stdin_closing_) return;
  write_queue_.push_back(std::move(frame));
  if (!writing_) do_write();
}

void ProcessChannel::do_write()
{
  while (!write_queue_.empty()) {
    const std::string &f = write_queue_.front();
    long n = write_no_sigpipe(stdin_.native_handle(), f.data() + write_offset_, f.size() - write_offset_);
    if (n >= 0) {
      write_offset_ += static_cast<std::size_t>(n);
      if (write_offset_ == f.size()) {
        write_queue_.pop_front();
        write_offset_ = 0;
      }
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writing_ = true;
      stdin_.async_wait(asio::posix::stream_descriptor::wait_write,
                        [self = shared_from_this()](std::error_code ec) {
                          self->writing_ = false;
                          if (!ec && self->stdin_.is_open()) self->do_write();
                        });
      return;
    }
    std::error_code ec(errno, std::system_category());
    write_queue_.clear();
    write_offset_ = 0;
    std::error_code ignored;
    stdin_.close(ignored);
    if (handler_) handler_->on_stdin_error(ec);
    return;
  }
  if (stdin_closing_ && stdin_.is_open()) {
    std::error_code ignored;
    stdin_.close(ignored);
  }
}

void ProcessChannel::close_stdin(bool discard_pending)
{
  stdin_closing_ = true;
  if (discard_pending) {
    write_queue_.clear();
    write_offset_ = 0;
  }
  if ((!writing_ && write_queue_.empty()) || discard_pending) {
    std::error_code ignored;
    stdin_.close(ignored);  // also aborts a pending wait_write
  }
}

// ---- stdout ---------------------------------------------------------------------------------

void ProcessChannel::pause_stdout()
{
  // Once the CLI has exited, what is left in the pipe is read to the end within drain_wait: a
  // consumer's backpressure must not stall that read until the drain timer gives up on it.
  if (exited_) return;
  paused_ = true;
}

void ProcessChannel::resume_stdout()
{
  paused_ = false;
  do_read_stdout();
}

// stdout is read into one buffer per I/O thread rather than one per process: a process waits for
// readiness (no buffer), then reads synchronously, and the handler copies what it keeps. An idle
// session thus holds no read buffer (it used to hold read_chunk bytes, 256 KiB, each).
namespace {
std::vector<char> &thread_read_buffer(std::size_t size)
{
  thread_local std::vector<char> buf;
  if (buf.size() < size) buf.resize(size);
  return buf;
}
}  // namespace

void ProcessChannel::do_read_stdout()
{
  if (paused_ || stdout_done_ || reading_stdout_) return;
  reading_stdout_ = true;
  stdout_.async_wait(asio::posix::stream_descriptor::wait_read, [self = shared_from_this()](std::error_code ec) {
    self->reading_stdout_ = false;
    if (self->stdout_done_) return;
    if (ec) {
      self->end_stdout(ec);
      return;
    }
    std::vector<char> &buf = thread_read_buffer(self->config_.read_chunk);
    std::error_code rec;
    std::size_t n = self->stdout_.read_some(asio::buffer(buf.data(), self->config_.read_chunk), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) {
      self->do_read_stdout();
      return;
    }
    if (n > 0 && self->handler_) self->handler_->on_stdout(buf.data(), n);
    if (rec) {
      self->end_stdout(rec == asio::error::eof ? std::error_code() : rec);
      return;
    }
    self->do_read_stdout();
  });
}

void ProcessChannel::end_stdout(std::error_code ec)
{
  if (stdout_done_) return;
  stdout_done_ = true;
  std::error_code ignored;
  stdout_.close(ignored);
  if (handler_) handler_->on_stdout_end(ec);
  maybe_finish();
}

// ---- stderr ---------------------------------------------------------------------------------

void ProcessChannel::do_read_stderr()
{
  stderr_.async_read_some(asio::buffer(err_buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    if (self->stderr_done_) return;
    if (n > 0) self->stderr_data(self->err_buf_.data(), n);
    if (ec) {
      self->flush_stderr_partial();
      self->stderr_done_ = true;
      std::error_code ignored;
      self->stderr_.close(ignored);
      self->maybe_finish();
      return;
    }
    self->do_read_stderr();
  });
}

void ProcessChannel::stderr_data(const char *p, std::size_t n)
{
  stderr_tail_.append(p, n);
  if (stderr_tail_.size() > 2 * config_.stderr_tail_bytes + 4096) {
    stderr_tail_.erase(0, stderr_tail_.size() - config_.stderr_tail_bytes);
  }
  const char *end = p + n;
  while (p < end) {
    const auto *nl = static_cast<const char *>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char *stop = nl ? nl : end;
    stderr_partial_.append(p, static_cast<std::size_t>(stop - p));
    if (nl || stderr_partial_.size() >= kMaxStderrLine) {
      if (!stderr_partial_.empty() && stderr_partial_.back() == '\r') stderr_partial_.pop_back();
      if (handler_) handler_->on_stderr_line(stderr_partial_);
      stderr_partial_.clear();
    }
    p = nl ? nl + 1 : end;
  }
}

void ProcessChannel::flush_stderr_partial()
{
  if (!stderr_partial_.empty() && handler_) handler_->on_stderr_line(stderr_partial_);
  stderr_partial_.clear();
}

std::string ProcessChannel::stderr_tail() const
{
  if (stderr_tail_.size() <= config_.stderr_tail_bytes) return stderr_tail_;
  return stderr_tail_.substr(stderr_tail_.size() - config_.stderr_tail_bytes);
}

// ---- exit and shutdown ----------------------------------------------------------------------

void ProcessChannel::watch_exit()
{
  if (pidfd_.is_open()) {
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read, [self = shared_from_this()](std::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      if (ec || has_exited(self->pid_)) {
        self->on_exited();
      } else {
        self->watch_exit();
      }
    });
  } else {
    poll_exit();
  }
}

void ProcessChannel::poll_exit()
{
  // Fallback for kernels without pidfd_open (< 5.3).
  exit_poll_.expires_after(std::chrono::milliseconds(10));
  exit_poll_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec) return;
    if (has_exited(self->pid_)) {
      self->on_exited();
    } else {
      self->poll_exit();
    }
  });
}

void ProcessChannel::on_exited()
{
  if (exited_) return;
  exited_ = true;
  // The exited leader is not reaped yet, so its pid (= the group id) cannot be reused: kill
  // whatever descendants are left in its group, then reap.
  signal_group(pid_, SIGKILL);
  status_ = reap(pid_);
  reaped_ = true;
  ladder_timer_.cancel();
  std::error_code ignored;
  pidfd_.close(ignored);
  close_stdin(true);
  if (!stdout_done_ || !stderr_done_) {
    // Anything the CLI wrote is still in the pipe; read it. A descendant that escaped the group
    // could hold the pipe open forever, so bound the wait.
    paused_ = false;
    do_read_stdout();
    drain_timer_.expires_after(shutting_down_ ? std::chrono::milliseconds(200) : config_.drain_wait);
    drain_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec) return;
      if (!self->stderr_done_) {
        self->flush_stderr_partial();
        self->stderr_done_ = true;
        std::error_code ignored2;
        self->stderr_.close(ignored2);
      }
      self->end_stdout(make_error_code(errc::timeout));
    });
  }
  maybe_finish();
}

void ProcessChannel::shutdown(const ShutdownPolicy &policy)
{
  if (exited_ || shutting_down_) return;
  close_stdin(true);
  begin_ladder(policy, std::chrono::steady_clock::now() + policy.exit_wait);
}

void ProcessChannel::cancel(const ShutdownPolicy &policy)
{
  if (exited_ || ladder_signal_) return;
  auto sigterm_at = std::chrono::steady_clock::now() + policy.cancel_grace;
  if (shutting_down_ && ladder_timer_.expiry() <= sigterm_at) return;  // the ladder signals sooner anyway
  close_stdin(false);
  begin_ladder(policy, sigterm_at);
}

// Stdout is read meanwhile (whatever the consumer's backpressure) so the CLI cannot block on it.
void ProcessChannel::begin_ladder(const ShutdownPolicy &policy, std::chrono::steady_clock::time_point sigterm_at)
{
  shutting_down_ = true;
  policy_ = policy;
  paused_ = false;
  do_read_stdout();
  ladder_timer_.expires_at(sigterm_at);  // replaces the graceful ladder's wait, if one runs
  ladder_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->exited_) return;
    self->escalate(SIGTERM, self->policy_.term_wait);
  });
}

void ProcessChannel::escalate(int sig, std::chrono::milliseconds wait)
{
  if (exited_) return;
  ladder_signal_ = sig;
  signal_group(pid_, sig);
  if (sig != SIGTERM) return;
  ladder_timer_.expires_after(wait);
  ladder_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->exited_) return;
    self->escalate(SIGKILL, std::chrono::milliseconds(0));
  });
}

void ProcessChannel::maybe_finish()
{
  if (finished_ || !reaped_ || !stdout_done_ || !stderr_done_) return;
  finished_ = true;
  drain_timer_.cancel();
  exit_poll_.cancel();
  auto h = std::move(handler_);
  if (h) h->on_finished(status_);
}

}  // namespace ccbridge::detail
