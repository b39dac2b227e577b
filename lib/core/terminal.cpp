// Terminal (include/ccbridge/terminal.hpp): the CLI's interactive UI on a PTY. The PTY's master is
// read and written through a ProcessChannel (the master as stdout, a dup of it as stdin, no
// stderr), so the exit watch, the stop ladder and the read to the end after the exit are the
// Stream's own; this file adds the chunk numbers, the start timeout, resize, and the lock that
// keeps events from running once the handle is gone.
#include "detail/runtime_impl.hpp"
#include "process/channel.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>
#include <ccbridge/terminal.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace ccbridge::detail {
template <> struct Access<Terminal> {
  using State = Terminal::State;
  static Terminal make(std::shared_ptr<State> state) noexcept { return Terminal(std::move(state)); }
};
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

namespace {

using ms = std::chrono::milliseconds;
constexpr ms kDefaultGrace{4000};
constexpr ms kDefaultKillAfter{9000};
constexpr ms kReleaseKillAfter{2000};  // a terminal whose handle is gone gets this long after SIGTERM

std::string resolve_cli(const TerminalOptions &o)
{
  Options lookup;
  if (!o.cli_path.empty()) lookup.cli_path = o.cli_path;
  std::string path = find_cli(lookup);
  if (::access(path.c_str(), F_OK) != 0) {
    throw Error(errc::cli_not_found, "the CLI '" + path + "' (TerminalOptions::cli_path) does not exist");
  }
  return path;
}

// The working directory with its symlinks resolved, opened without following any from here on.
DirectoryHandle resolve_cwd(const std::string &cwd)
{
  char real[PATH_MAX];
  if (!::realpath(cwd.c_str(), real)) {
    throw Error(errc::cwd_not_found, "working directory '" + cwd + "' (TerminalOptions::cwd) cannot be used: " +
                                         std::strerror(errno));
  }
  return open_directory_nofollow(real);
}

detail::SpawnRequest spawn_request(const TerminalOptions &o)
{
  if (o.read_chunk == 0) throw Error(errc::invalid_argument, "TerminalOptions::read_chunk must be > 0");
  detail::SpawnRequest req;
  req.args = terminal_args(o);
  req.env = terminal_env(o, detail::current_environment());
  req.program = resolve_cli(o);
  if (!o.cwd.empty()) {
    req.cwd_dir = resolve_cwd(o.cwd);
    req.cwd = req.cwd_dir.path();
  }
  req.pty = true;
  req.cols = o.cols;
  req.rows = o.rows;
  return req;
}

TerminalExit exit_of(const ExitStatus &st, bool timed_out)
{
  TerminalExit x;
  x.exit_code = st.signal ? -1 : st.code;
  if (st.signal) x.signal = go_signal_name(st.signal);
  x.reason = timed_out ? "start_timeout" : "exited";
  return x;
}

}  // namespace

struct Terminal::State : detail::ChannelHandler, std::enable_shared_from_this<Terminal::State> {
  State(std::shared_ptr<detail::RuntimeImpl> runtime, const TerminalOptions &o, TerminalEvents events)
      : runtime_(std::move(runtime)),
        strand_(asio::make_strand(*runtime_->ioc)),
        events_(std::move(events)),
        read_chunk_(o.read_chunk),
        start_timeout_(o.start_timeout),
        start_timer_(strand_)
  {
  }

  /// Runs `f(state)` on the strand.
  template <class F> void on_strand(F f)
  {
    asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable { f(*self); });
  }

  // ---- strand ----

  void spawn(const detail::SpawnRequest &request)
  {
    if (released_) return;  // the handle went away before the CLI was started
    detail::SpawnedChild child;
    try {
      child = detail::spawn_child(request);
    } catch (const Error &e) {
      return fail_start(e.code(), e.what());
    } catch (const std::exception &e) {
      return fail_start(make_error_code(errc::spawn_failed), e.what());
    }
    // The channel owns the master as stdout and a duplicate of it as stdin (it closes each).
    int input = ::fcntl(child.pty_fd, F_DUPFD_CLOEXEC, 3);
    if (input < 0) {
      std::string why = std::strerror(errno);
      ::close(child.pty_fd);
      if (child.pidfd >= 0) ::close(child.pidfd);
      detail::signal_group(child.pid, SIGKILL);
      detail::reap(child.pid);
      return fail_start(make_error_code(errc::spawn_failed), "could not duplicate the PTY's descriptor: " + why);
    }
    detail::SpawnedChild io;
    io.pid = child.pid;
    io.pidfd = child.pidfd;
    io.stdin_fd = input;
    io.stdout_fd = child.pty_fd;
    detail::ProcessChannel::Config cfg;
    cfg.read_chunk = read_chunk_;
    channel_ = std::make_shared<detail::ProcessChannel>(strand_, io, cfg);
    pid_ = child.pid;
    channel_->start(shared_from_this());
    arm_start_timer();
  }

  void arm_start_timer()
  {
    if (start_timeout_.count() <= 0) return;
    start_timer_.expires_after(start_timeout_);
    start_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || self->seq_ > 0 || !self->channel_) return;
      self->timed_out_ = true;
      self->stop(kDefaultGrace, kDefaultKillAfter);
    });
  }

  void stop(ms grace, ms kill_after)
  {
    if (!channel_ || stopping_) return;
    stopping_ = true;
    ShutdownPolicy ladder;
    ladder.exit_wait = ms(0);  // a terminal's input is not how it ends: SIGTERM at once
    ladder.term_wait = std::max(grace, kill_after);
    channel_->shutdown(ladder);
  }

  void set_reading(bool on)
  {
    if (!channel_) return;
    if (on) {
      channel_->resume_stdout();
    } else {
      channel_->pause_stdout();
    }
  }

  void resize(std::uint16_t cols, std::uint16_t rows)
  {
    int fd = channel_ ? channel_->stdout_handle() : -1;
    if (fd >= 0) detail::set_pty_size(fd, cols, rows);
  }

  void on_stdout(const char *data, std::size_t size) override
  {
    if (seq_ == 0) start_timer_.cancel();
    std::uint64_t seq = ++seq_;
    emit([&] {
      if (events_.output) events_.output(std::string_view(data, size), seq);
    });
  }
  void on_stdout_end(std::error_code) override {}  // EIO once every holder of the slave is gone
  void on_stderr_line(std::string_view) override {}
  void on_stdin_error(std::error_code) override {}  // input for a CLI that has gone: dropped

  void on_finished(ExitStatus status) override
  {
    start_timer_.cancel();
    channel_.reset();
    pid_ = 0;
    deliver_exit(exit_of(status, timed_out_));
  }

  void fail_start(std::error_code code, std::string reason)
  {
    TerminalExit x;
    x.reason = std::move(reason);
    x.error = code;
    deliver_exit(x);
  }

  void deliver_exit(const TerminalExit &x)
  {
    running_ = false;
    emit([&] {
      if (events_.exit) events_.exit(x);
    });
  }

  /// Runs an event unless the handle is gone; what it throws must not stop the terminal.
  template <class Call> void emit(const Call &call) noexcept
  {
    std::lock_guard<std::mutex> lock(call_mu_);
    if (detached_) return;
    calling_ = std::this_thread::get_id();
    try {
      call();
    } catch (...) {
    }
    calling_ = std::thread::id();
  }

  // ---- any thread ----

  /// The handle is gone: no event runs after this returns, and the CLI is stopped.
  void release()
  {
    released_ = true;
    if (calling_.load() == std::this_thread::get_id()) {
      detached_ = true;  // destroyed from its own event: call_mu_ is held by this thread
    } else {
      std::lock_guard<std::mutex> lock(call_mu_);
      detached_ = true;
    }
    on_strand([](State &s) { s.stop(ms(0), kReleaseKillAfter); });
  }

  std::shared_ptr<detail::RuntimeImpl> runtime_;
  detail::Strand strand_;
  TerminalEvents events_;
  std::size_t read_chunk_;
  ms start_timeout_;

  // strand
  asio::steady_timer start_timer_;
  std::shared_ptr<detail::ProcessChannel> channel_;  // from the spawn until the exit
  std::uint64_t seq_ = 0;
  bool timed_out_ = false;
  bool stopping_ = false;

  // any thread
  std::atomic<int> pid_{0};
  std::atomic<bool> running_{true};
  std::atomic<bool> released_{false};
  std::mutex call_mu_;  // held while an event runs
  bool detached_ = false;  // guarded by call_mu_
  std::atomic<std::thread::id> calling_{};  // the thread running an event, if any
};

namespace {

Terminal launch(std::shared_ptr<detail::RuntimeImpl> runtime, const TerminalOptions &options, TerminalEvents events)
{
  detail::SpawnRequest request = spawn_request(options);
  auto state = std::make_shared<detail::Access<Terminal>::State>(std::move(runtime), options, std::move(events));
  // On the strand: the parent-death signal follows the thread that forks, and a runtime thread
  // lives as long as the runtime.
  state->on_strand([request = std::move(request)](auto &s) { s.spawn(request); });
  return detail::Access<Terminal>::make(std::move(state));
}

}  // namespace

Terminal Terminal::start(Runtime &runtime, const TerminalOptions &options, TerminalEvents events)
{
  return launch(detail::Access<Runtime>::impl(runtime), options, std::move(events));
}

Terminal Terminal::start(const TerminalOptions &options, TerminalEvents events)
{
  return launch(std::make_shared<detail::RuntimeImpl>(1), options, std::move(events));
}

Terminal::Terminal(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
Terminal::Terminal(Terminal &&) noexcept = default;

Terminal &Terminal::operator=(Terminal &&other) noexcept
{
  if (this != &other) {
    if (state_) state_->release();
    state_ = std::move(other.state_);
  }
  return *this;
}

Terminal::~Terminal()
{
  if (state_) state_->release();
}

namespace {
detail::Access<Terminal>::State &checked(const std::shared_ptr<detail::Access<Terminal>::State> &state)
{
  if (!state) throw Error(errc::invalid_argument, "this Terminal was moved from");
  return *state;
}
}  // namespace

void Terminal::write(std::string bytes)
{
  if (bytes.empty()) return;
  checked(state_).on_strand([bytes = std::move(bytes)](State &s) mutable {
    if (s.channel_) s.channel_->write(std::move(bytes));
  });
}

void Terminal::resize(std::uint16_t cols, std::uint16_t rows)
{
  if (cols == 0 || rows == 0) return;
  checked(state_).on_strand([cols, rows](State &s) { s.resize(cols, rows); });
}

void Terminal::stop(std::chrono::milliseconds grace, std::chrono::milliseconds kill_after)
{
  checked(state_).on_strand([grace, kill_after](State &s) { s.stop(grace, kill_after); });
}

void Terminal::pause_reading()
{
  State &s = checked(state_);
  if (s.strand_.running_in_this_thread()) return s.set_reading(false);  // before the next read
  s.on_strand([](State &st) { st.set_reading(false); });
}

void Terminal::resume_reading()
{
  checked(state_).on_strand([](State &s) { s.set_reading(true); });
}

int Terminal::pid() const noexcept { return state_ ? state_->pid_.load() : 0; }

bool Terminal::running() const noexcept { return state_ && state_->running_.load(); }

CCB_END_NAMESPACE
