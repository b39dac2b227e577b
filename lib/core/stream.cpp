#include "core/stream_state.hpp"
#include "protocol/frames.hpp"
#include "protocol/message_impl.hpp"

#include <ccbridge/json.hpp>

#include <asio/post.hpp>

#include <algorithm>
#include <csignal>
#include <future>
#include <optional>
#include <string>
#include <utility>

CCB_BEGIN_NAMESPACE

namespace {

std::string clip(std::string_view s, std::size_t max)
{
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

std::string last_lines(const std::string &tail, std::size_t max)
{
  std::string_view v = tail;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.remove_suffix(1);
  if (v.size() > max) v = v.substr(v.size() - max);
  return std::string(v);
}

std::string process_failure_message(const RunOutcome &o)
{
  std::string msg = "Claude Code ";
  msg += o.exit.signal ? "was killed by " + o.exit.describe() : "exited with " + o.exit.describe();
  std::optional<std::int64_t> api_status;
  if (o.last_error_result) {
    const Message &r = *o.last_error_result;
    api_status = r.api_error_status();
    msg += " after an error result (subtype '" + std::string(r.subtype()) + "'";
    if (api_status) msg += ", API status " + std::to_string(*api_status);
    if (auto tr = r.terminal_reason()) msg += ", terminal_reason '" + std::string(*tr) + "'";
    msg += ")";
    std::string text(r.result_text().value_or(""));
    for (auto e : r.errors()) text += (text.empty() ? "" : "; ") + std::string(e);
    if (!text.empty()) msg += ": " + clip(text, 500);
  }
  std::string err = last_lines(o.stderr_tail, 600);
  msg += err.empty() ? ". The CLI wrote nothing to stderr." : ". stderr: " + err;
  if (api_status && (*api_status == 401 || *api_status == 403)) {
    msg += " What to do: check ANTHROPIC_API_KEY (or the CLI's login) and ANTHROPIC_BASE_URL.";
  } else if (api_status && (*api_status == 429 || *api_status >= 500)) {
    msg += " What to do: the Messages API failed; retry later, or raise CLAUDE_CODE_MAX_RETRIES.";
  } else if (o.exit.signal == SIGKILL) {
    msg += " What to do: something killed the CLI (out of memory?); check the system log.";
  } else {
    msg += " What to do: read RunOutcome::stderr_tail, or set Options::stderr_callback to see all of it.";
  }
  return msg;
}

constexpr auto kForever = std::chrono::milliseconds::max();

// The CLI reports an unknown --resume id (or one from another cwd) as an error result.
bool resume_failed(const RunOutcome &o)
{
  if (!o.last_error_result) return false;
  for (auto e : o.last_error_result->errors())
    if (e.find("No conversation found") != std::string_view::npos) return true;
  return false;
}

}  // namespace

namespace {
// RunOutcome::message without its "[ccbridge.<code>] " tag: Error adds its own.
std::string untagged(const std::string &message)
{
  auto end = message.find("] ");
  return message.rfind("[ccbridge.", 0) == 0 && end != std::string::npos ? message.substr(end + 2) : message;
}
}  // namespace

ProcessError::ProcessError(RunOutcome outcome)
    : Error(outcome.error ? outcome.error : make_error_code(errc::process_failed),
            outcome.message.empty() ? std::string("the CLI run failed") : untagged(outcome.message)),
      outcome_(std::move(outcome))
{
}

// ---- State: setup -----------------------------------------------------------------------------

Stream::State::State(std::shared_ptr<detail::RuntimeImpl> runtime, const Options &options)
    : runtime_(std::move(runtime)),
      strand_(asio::make_strand(*runtime_->ioc)),
      options_(options),
      framer_(options.max_line_bytes)
{
  options_.cwd_dir = DirectoryHandle();  // the spawn request holds it until the CLI has started
}

Stream::State::~State() { pool_->close(); }

void Stream::State::spawn(const detail::SpawnRequest &request)
{
  auto child = detail::spawn_child(request);
  detail::ProcessChannel::Config cfg;
  cfg.stderr_tail_bytes = options_.stderr_tail_bytes;
  cfg.drain_wait = options_.shutdown.drain_wait;
  channel_ = std::make_shared<detail::ProcessChannel>(strand_, child, cfg);
  pid_ = child.pid;
  channel_->start(shared_from_this());
}

// A spawn error as a value, to be handed to another thread: passing the I/O thread's own
// exception object on would share it between threads (ThreadSanitizer flags its release there).
std::optional<Error> Stream::State::try_spawn(const detail::SpawnRequest &request)
{
  try {
    spawn(request);
  } catch (const Error &e) {
    return e;
  } catch (const std::exception &e) {
    return Error(errc::spawn_failed, std::string("could not start the CLI: ") + e.what());
  }
  return std::nullopt;
}

void Stream::State::start(detail::SpawnRequest request)
{
  if (runtime_->on_own_thread()) return spawn(request);  // nothing else can run on this new strand yet
  auto done = std::make_shared<std::promise<std::optional<Error>>>();
  auto result = done->get_future();
  start_async(std::move(request), [done](std::optional<Error> error) { done->set_value(std::move(error)); });
  if (auto failure = result.get()) throw Error(*failure);  // a copy made on this thread
}

void Stream::State::start_async(detail::SpawnRequest request, StartCallback done)
{
  asio::post(strand_, [self = shared_from_this(), request = std::move(request), done = std::move(done)] {
    done(self->try_spawn(request));
  });
}

void Stream::State::write(std::string frame)
{
  asio::post(strand_, [self = shared_from_this(), f = std::move(frame)]() mutable {
    if (self->channel_) self->channel_->write(std::move(f));
  });
}

void Stream::State::close_stdin()
{
  asio::post(strand_, [self = shared_from_this()] {
    if (self->channel_) self->channel_->close_stdin();
  });
}

// ---- State: strand side -----------------------------------------------------------------------

void Stream::State::on_stdout(const char *data, std::size_t size)
{
  read_at_ = std::chrono::steady_clock::now();  // one clock read per read(2), not per line
  framer_.feed(data, size, [this](const detail::FramerEvent &ev) { on_line(ev); });
  flush_batch();
}

void Stream::State::on_line(const detail::FramerEvent &ev)
{
  using Kind = detail::FramerEvent::Kind;
  if (ev.kind == Kind::skipped) {
    ++skipped_;
    return;
  }
  if (ev.kind == Kind::error) {
    ++invalid_;
    LineError err;
    err.code = make_error_code(ev.code);
    err.line_number = ev.line_number;
    err.size = ev.size;
    if (ev.code == errc::line_too_long) {
      err.description = "stdout line " + std::to_string(ev.line_number) + " is " + std::to_string(ev.size) +
                        " bytes, over the limit of " + std::to_string(options_.max_line_bytes) +
                        " bytes (Options::max_line_bytes); it was dropped";
    } else {
      err.description = "stdout line " + std::to_string(ev.line_number) +
                        " is not valid UTF-8 (first bad byte at offset " + std::to_string(ev.error_offset) +
                        "); it was dropped";
    }
    deliver(detail::invalid_line(std::move(err), std::string(ev.bytes), read_at_));
    return;
  }
  Message msg = detail::parse_checked_line(pool_, ev.bytes, ev.line_number, ev.has_nul, read_at_);
  if (control_ && (msg.type() == MessageType::control_request || msg.type() == MessageType::control_response ||
                   msg.type() == MessageType::control_cancel_request)) {
    control_->on_control(msg);  // handled here, never queued behind the application's messages
    return;
  }
  if (msg.type() == MessageType::unknown && msg.type_name() == "transcript_mirror") {
    // The store's copy of the transcript (Options::session_mirror), never a turn's message.
    if (!options_.session_mirror) return;
    if (options_.transcript_mirror_callback) {
      detail::call_safely(options_.transcript_mirror_callback, msg);
      return;
    }
  }
  switch (msg.type()) {
  case MessageType::invalid_line: ++invalid_; break;
  case MessageType::control_request: {
    // No control handlers in a one-shot run: every request still gets an answer, never silence.
    if (channel_ && channel_->stdin_open()) {
      channel_->write(detail::control_error_frame(
          msg.request_id(),
          "Unsupported control request subtype: " + std::string(msg.json()["request"]["subtype"].string_or("(none)"))));
    }
    return;
  }
  case MessageType::control_response:
  case MessageType::control_cancel_request: return;  // nothing pending in a one-shot run
  case MessageType::result:
    last_result_ = msg;
    if (msg.is_error()) last_error_result_ = msg;
    break;
  default: break;
  }
  if (control_) control_->observe(msg);
  // Session state frames the CLI sends only because ccbridge asked for them
  // (CLAUDE_CODE_SDK_READS_SESSION_STATE); the application sees them only if it asked too
  // (CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS), and then the CLI does not mark them so.
  if (msg.type() == MessageType::system && msg.subtype() == "session_state_changed" &&
      msg.json()["sdk_host_only"].boolean().value_or(false)) {
    return;
  }
  deliver(std::move(msg));
}

void Stream::State::deliver(Message msg)
{
  if (discarding_) return;
  ++delivered_;
  if (!callback_mode_) {
    batch_.push_back(std::move(msg));
    return;
  }
  try {
    on_message_(msg);
  } catch (const std::exception &e) {
    callback_error_ = make_error_code(errc::cancelled);
    callback_error_text_ = e.what();
    begin_shutdown();
  } catch (...) {
    callback_error_ = make_error_code(errc::cancelled);
    callback_error_text_ = "a non-standard exception";
    begin_shutdown();
  }
}

void Stream::State::flush_batch()
{
  if (batch_.empty()) return;
  bool wake, pause;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto &m : batch_) {
      queued_bytes_ += m.raw().size();
      queue_.push_back(std::move(m));
    }
    peak_queued_bytes_ = std::max(peak_queued_bytes_, queued_bytes_);
    pause = queue_.size() >= options_.max_buffered_messages || queued_bytes_ >= options_.max_buffered_bytes;
    if (pause && control_ && control_->awaiting_response()) {
      // The answer may sit behind any number of unread messages (the CLI queues its output), so
      // keep reading until it arrives: the message count no longer limits, only a hard memory cap
      // of four times the byte limit does. Past that cap the request times out instead.
      pause = queued_bytes_ >= 4 * options_.max_buffered_bytes;
    }
    if (pause) paused_ = true;
    wake = consumer_waiting_;
  }
  batch_.clear();
  if (wake) cv_.notify_one();
  if (pause && channel_) channel_->pause_stdout();
}

void Stream::State::on_stdout_end(std::error_code ec)
{
  read_at_ = std::chrono::steady_clock::now();
  framer_.finish([this](const detail::FramerEvent &ev) { on_line(ev); });
  flush_batch();
  stdout_error_ = ec;
  if (!shutdown_begun_) stdout_ended_ = true;  // before any ladder: the CLI closed it itself
  // The CLI closed stdout; give it the usual time to exit, then the ladder.
  if (channel_) channel_->shutdown(options_.shutdown);
}

void Stream::State::on_stderr_line(std::string_view line)
{
  if (!options_.stderr_callback) return;
  try {
    options_.stderr_callback(line);
  } catch (...) {
    // A throwing stderr callback must not take the run down.
  }
}

void Stream::State::on_stdin_error(std::error_code) {}

void Stream::State::discard_all()
{
  shutdown_begun_ = true;
  discarding_ = true;
  batch_.clear();
  std::lock_guard<std::mutex> lk(mu_);
  queue_.clear();
  queued_bytes_ = 0;
  paused_ = false;
}

void Stream::State::begin_shutdown()
{
  discard_all();
  if (channel_) channel_->shutdown(options_.shutdown);
}

// The interrupt lets a CLI that answers it end its turn (and exit, stdin being closed) within the
// grace; one that does not gets SIGTERM then, not after exit_wait.
void Stream::State::begin_cancel()
{
  discard_all();
  if (!channel_) return;
  if (control_ && channel_->stdin_open()) control_->interrupt_now();
  channel_->cancel(options_.shutdown);
}

void Stream::State::on_finished(ExitStatus status)
{
  finish_outcome(status);
}

void Stream::State::finish_outcome(ExitStatus status)
{
  RunOutcome o;
  o.exit = status;
  o.stderr_tail = channel_ ? channel_->stderr_tail() : std::string();
  o.last_result = last_result_;
  o.last_error_result = last_error_result_;
  o.messages = delivered_;
  o.invalid_lines = invalid_;
  o.skipped_lines = skipped_;
  bool closed_by_caller;
  {
    std::lock_guard<std::mutex> lk(mu_);
    closed_by_caller = close_requested_;
  }
  if (callback_error_) {
    o.error = callback_error_;
    o.message = "[ccbridge.cancelled] the message callback threw (" + callback_error_text_ +
                "); the run was closed. Catch exceptions inside the callback.";
  } else if (closed_by_caller) {
    o.error = make_error_code(errc::cancelled);
    o.message = "[ccbridge.cancelled] the run was closed by the caller before it ended";
  } else if (!status.success() && resume_failed(o)) {
    o.error = make_error_code(errc::session_not_found);
    o.message = "[ccbridge.session_not_found] the CLI has no conversation '" + options_.resume.value_or("") +
                "' to resume for working directory '" + options_.cwd.value_or(".") +
                "' (sessions are stored per working directory): " + process_failure_message(o);
  } else if (!status.success() && status.signal && channel_ && channel_->ladder_signal() == status.signal) {
    // The signal was ccbridge's own: say so, and why the ladder ran, instead of "was killed".
    o.error = make_error_code(errc::process_failed);
    const ShutdownPolicy &p = options_.shutdown;
    o.message = std::string("[ccbridge.process_failed] Claude Code ") +
                (stdout_ended_ ? "closed its stdout but kept running" : "did not exit after its input was closed") +
                "; ccbridge stopped it with " +
                (status.signal == SIGKILL ? "SIGKILL, after it ignored SIGTERM for ShutdownPolicy::term_wait (" +
                                                std::to_string(p.term_wait.count()) + " ms)"
                                          : "SIGTERM after ShutdownPolicy::exit_wait (" + std::to_string(p.exit_wait.count()) + " ms)");
    std::string err = last_lines(o.stderr_tail, 600);
    o.message += err.empty() ? ". The CLI wrote nothing to stderr." : ". stderr: " + err;
    o.message += " What to do: check that Options::cli_path is the Claude Code CLI, or raise "
                 "ShutdownPolicy::exit_wait if it needs longer to finish.";
  } else if (!status.success()) {
    o.error = make_error_code(errc::process_failed);
    o.message = "[ccbridge.process_failed] " + process_failure_message(o);
  } else if (stdout_error_ == make_error_code(errc::timeout)) {
    o.error = make_error_code(errc::io_error);
    o.message = "[ccbridge.io_error] the CLI exited but a process outside its process group kept its stdout "
                "open; stopped reading after ShutdownPolicy::drain_wait";
  } else if (stdout_error_) {
    o.error = make_error_code(errc::io_error);
    o.message = "[ccbridge.io_error] reading the CLI's stdout failed: " + stdout_error_.message();
  }
  pid_ = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    outcome_ = o;
    ended_ = true;
  }
  cv_.notify_all();
  // After ended_: whoever a failed request wakes up sees the session as finished.
  if (control_) {
    control_->on_end(o);
    control_.reset();
  }
  if (callback_mode_) deliver_end();
  reaped_ = true;
  for (auto &done : std::exchange(end_waiters_, {})) detail::call_safely(done, outcome_);
}

void Stream::State::deliver_end()
{
  detail::call_safely(on_end_, outcome_);
  {
    std::lock_guard<std::mutex> lk(mu_);
    end_delivered_ = true;
  }
  cv_.notify_all();
}

// ---- State: consumer side ---------------------------------------------------------------------

PullStatus Stream::State::pull(Message &out, std::chrono::milliseconds timeout)
{
  if (detail::on_io_thread()) {
    throw Error(errc::would_deadlock,
                "Stream::pull()/next() called on a ccbridge I/O thread (inside a callback?); "
                "consume the stream from your own thread");
  }
  if (!local_.empty()) {
    out = std::move(local_.front());
    local_.pop_front();
    return PullStatus::message;
  }
  std::unique_lock<std::mutex> lk(mu_);
  if (callback_mode_requested_) {
    throw Error(errc::invalid_argument, "the stream is in callback mode (on_message was called); it cannot be pulled");
  }
  auto ready = [this] { return !queue_.empty() || ended_; };
  if (!ready()) {
    consumer_waiting_ = true;
    if (timeout == kForever) {
      cv_.wait(lk, ready);
    } else {
      cv_.wait_for(lk, timeout, ready);
    }
    consumer_waiting_ = false;
  }
  if (!queue_.empty()) {
    local_.swap(queue_);
    queued_bytes_ = 0;
    bool resume = paused_;
    paused_ = false;
    lk.unlock();
    if (resume) resume_reading();
    out = std::move(local_.front());
    local_.pop_front();
    return PullStatus::message;
  }
  return ended_ ? PullStatus::end : PullStatus::timeout;
}

Stream::State::Buffered Stream::State::buffered() const
{
  std::lock_guard<std::mutex> lk(mu_);
  return {queue_.size(), queued_bytes_, peak_queued_bytes_, paused_};
}

void Stream::State::resume_reading()
{
  asio::post(strand_, [self = shared_from_this()] {
    if (self->channel_) self->channel_->resume_stdout();
  });
}

void Stream::State::set_callbacks(MessageCallback on_message, EndCallback on_end)
{
  if (!on_message) throw Error(errc::invalid_argument, "Stream::on_message needs a callable");
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (callback_mode_requested_) throw Error(errc::invalid_argument, "Stream::on_message was already called");
    callback_mode_requested_ = true;
  }
  auto pending = std::make_shared<std::deque<Message>>(std::move(local_));
  local_.clear();
  asio::post(strand_, [self = shared_from_this(), pending, on_message = std::move(on_message),
                       on_end = std::move(on_end)]() mutable {
    self->callback_mode_ = true;
    self->on_message_ = std::move(on_message);
    self->on_end_ = std::move(on_end);
    bool ended;
    {
      std::lock_guard<std::mutex> lk(self->mu_);
      for (auto &m : self->queue_) pending->push_back(std::move(m));
      self->queue_.clear();
      self->queued_bytes_ = 0;
      self->paused_ = false;
      ended = self->ended_;
    }
    for (auto &m : *pending) {
      if (self->discarding_) break;
      --self->delivered_;  // deliver() counts again
      self->deliver(std::move(m));
    }
    if (ended) {
      self->deliver_end();
    } else if (self->channel_) {
      self->channel_->resume_stdout();
    }
  });
}

const RunOutcome &Stream::State::wait_end()
{
  if (detail::on_io_thread()) {
    throw Error(errc::would_deadlock, "Stream::wait() called on a ccbridge I/O thread (inside a callback?)");
  }
  local_.clear();
  std::unique_lock<std::mutex> lk(mu_);
  // In callback mode the end also waits for on_end to have run.
  auto done = [this] { return ended_ && (!callback_mode_requested_ || end_delivered_); };
  while (!done()) {
    if (!callback_mode_requested_ && !queue_.empty()) {
      queue_.clear();
      queued_bytes_ = 0;
      if (paused_) {
        paused_ = false;
        lk.unlock();
        resume_reading();
        lk.lock();
      }
      continue;
    }
    consumer_waiting_ = true;
    cv_.wait(lk, [&] { return done() || (!callback_mode_requested_ && !queue_.empty()); });
    consumer_waiting_ = false;
  }
  return outcome_;
}

void Stream::State::close()
{
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (ended_) return;
    close_requested_ = true;
  }
  asio::post(strand_, [self = shared_from_this()] { self->begin_shutdown(); });
  if (detail::on_io_thread()) return;  // cannot block here; the ladder runs on its own
  local_.clear();
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return ended_; });
}

void Stream::State::user_pause(bool pause)
{
  asio::post(strand_, [self = shared_from_this(), pause] {
    if (!self->callback_mode_ || !self->channel_) return;
    if (pause) {
      self->channel_->pause_stdout();
    } else {
      self->channel_->resume_stdout();
    }
  });
}

void Stream::State::cancel()
{
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (ended_ || close_requested_) return;
    close_requested_ = true;
  }
  asio::post(strand_, [self = shared_from_this()] { self->begin_cancel(); });
}

const RunOutcome &Stream::State::finish_gracefully()
{
  asio::post(strand_, [self = shared_from_this()] { self->begin_graceful({}); });
  if (detail::on_io_thread()) return outcome_;  // cannot block here; the ladder runs on its own
  local_.clear();
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return ended_; });
  return outcome_;
}

void Stream::State::finish_gracefully_async(EndCallback done)
{
  {
    std::lock_guard<std::mutex> lk(mu_);
    background_close_ = true;
  }
  asio::post(strand_,
             [self = shared_from_this(), done = std::move(done)]() mutable { self->begin_graceful(std::move(done)); });
}

// Same ladder as close(), which starts by closing stdin, but not marked as the caller's cancel.
void Stream::State::begin_graceful(EndCallback done)
{
  begin_shutdown();
  if (!reaped_) {
    if (done) end_waiters_.push_back(std::move(done));
    return;
  }
  detail::call_safely(done, outcome_);
}

void Stream::State::release()
{
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (background_close_) return;  // the ladder is under way and nobody waits for it
  }
  close();
}

bool Stream::State::finished() const
{
  std::lock_guard<std::mutex> lk(mu_);
  return ended_;
}

// ---- Stream -----------------------------------------------------------------------------------

Stream::Stream(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
Stream::Stream(Stream &&) noexcept = default;

Stream &Stream::operator=(Stream &&other) noexcept
{
  if (this != &other) {
    if (state_) state_->release();
    state_ = std::move(other.state_);
  }
  return *this;
}

Stream::~Stream()
{
  if (state_) state_->release();
}

namespace {
detail::StreamState &checked(const std::shared_ptr<detail::StreamState> &s)
{
  if (!s) throw Error(errc::invalid_argument, "this Stream was moved from");
  return *s;
}
}  // namespace

PullStatus Stream::pull(Message &out, std::chrono::milliseconds timeout)
{
  return checked(state_).pull(out, timeout);
}

std::optional<Message> Stream::next()
{
  auto &s = checked(state_);
  Message m;
  if (s.pull(m, kForever) == PullStatus::message) return m;
  const RunOutcome &o = s.outcome_;
  if (!o.ok() && o.error != make_error_code(errc::cancelled) && !s.error_thrown_) {
    s.error_thrown_ = true;
    throw ProcessError(o);
  }
  return std::nullopt;
}

void Stream::on_message(MessageCallback on_message, EndCallback on_end)
{
  checked(state_).set_callbacks(std::move(on_message), std::move(on_end));
}

const RunOutcome &Stream::wait() { return checked(state_).wait_end(); }
bool Stream::finished() const { return checked(state_).finished(); }

const RunOutcome &Stream::outcome() const
{
  auto &s = checked(state_);
  std::lock_guard<std::mutex> lk(s.mu_);
  return s.outcome_;
}

void Stream::close() { checked(state_).close(); }
void Stream::cancel() { checked(state_).cancel(); }
void Stream::pause_reading() { checked(state_).user_pause(true); }
void Stream::resume_reading() { checked(state_).user_pause(false); }
int Stream::pid() const { return checked(state_).pid_; }

CCB_END_NAMESPACE
