#include "server/hub.hpp"

#include <algorithm>
#include <atomic>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ccbridge::detail::server {

namespace {
// While a subscriber is behind, how often its connection's buffer is looked at again.
constexpr std::chrono::milliseconds kPumpInterval{2};

// Run objects alive in this process (every server's), and the event bytes freed since memory was
// last handed back to the OS. Process-wide, not the Hub's: the last reference to a Run may go after
// its Hub (a handler still queued on the io_context when the server stops).
std::atomic<std::size_t> g_live_runs{0};
std::atomic<std::size_t> g_untrimmed_bytes{0};
std::atomic<std::int64_t> g_last_trim_ms{0};

// A run was destroyed, freeing about `bytes`: glibc keeps freed heap for good (RSS stayed at
// 76 MB after 1 GB had been relayed), so once a megabyte or more is free, hand it back to the OS
// (malloc_trim): at once when no run is left, otherwise at most once a second.
void release_memory(std::size_t bytes)
{
#if defined(__GLIBC__)
  constexpr std::size_t kWorthIt = 1 << 20;
  std::size_t untrimmed = g_untrimmed_bytes.fetch_add(bytes) + bytes;
  if (untrimmed < kWorthIt) return;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::int64_t last = g_last_trim_ms.load();
  if (g_live_runs.load() != 0 && now - last < 1000) return;
  if (!g_last_trim_ms.compare_exchange_strong(last, now)) return;  // another thread trims
  g_untrimmed_bytes.store(0);
  ::malloc_trim(0);
#else
  (void)bytes;
#endif
}
}  // namespace

// ---- EventLog ----------------------------------------------------------------------------------

std::size_t EventLog::footprint(const Frame &f)
{
  // The text, its prepared WebSocket copy (made at the first send, kept for the other readers),
  // and the objects around them. Counting only the text let 2,000,000 pongs hold 517 MB under a
  // 64 MB cap.
  constexpr std::size_t kPerFrame = 256;
  return 2 * f.text.size() + kPerFrame;
}

std::uint64_t EventLog::append(FramePtr f, std::uint64_t keep_from)
{
  bytes_ += footprint(*f);
  total_ += f->text.size();
  frames_.push_back(std::move(f));
  ends_.push_back(total_);
  std::uint64_t seq = next_seq() - 1;
  trim(keep_from);
  return seq;
}

void EventLog::trim(std::uint64_t keep_from)
{
  // Keep at least the newest event, however large.
  while (bytes_ > cap_ && frames_.size() > 1 && first_ < keep_from) {
    bytes_ -= footprint(*frames_.front());
    frames_.pop_front();
    dropped_end_ = ends_.front();
    ends_.pop_front();
    ++first_;
  }
}

// ---- Subscription ------------------------------------------------------------------------------

Subscription::Subscription(std::shared_ptr<Run> run, WsConn &conn, SubscriberEvents events, asio::io_context &ioc)
    : run_(std::move(run)), conn_(&conn), events_(std::move(events)), timer_(ioc)
{
}

Subscription::~Subscription() { detach(); }

void Subscription::start(std::uint64_t since)
{
  const EventLog &log = run_->log_;
  // A future seq: from the live edge (compared before adding 1, which would wrap at 2^64 - 1).
  cursor_ = since >= log.next_seq() ? log.next_seq() : since + 1;
  if (cursor_ < log.first_seq()) {
    ++run_->hub_.stats().replay_gaps;
    std::uint64_t first = log.first_seq();
    cursor_ = first;
    if (events_.gap) events_.gap(since, first);
  }
  pump();
}

void Subscription::detach()
{
  if (!run_) return;
  done_ = true;
  timer_.cancel();
  auto &subs = run_->subs_;
  subs.erase(std::remove(subs.begin(), subs.end(), this), subs.end());
  auto run = std::move(run_);
  run->after_progress();  // the lead may have moved on
}

void Subscription::end_dropped(const std::string &why)
{
  std::uint64_t resume = sent_seq();
  ++run_->hub_.stats().subscribers_dropped;
  auto events = events_;
  detach();
  if (events.dropped) events.dropped(resume, why);
}

void Subscription::pump()
{
  if (done_ || !run_) return;
  if (!conn_->is_open()) {
    detach();
    return;
  }
  const EventLog &log = run_->log_;
  auto &stats = run_->hub_.stats();
  const HubLimits &limits = run_->hub_.limits();
  if (cursor_ < log.first_seq()) {
    end_dropped("the events it had not yet been sent were dropped from the run's log");
    return;
  }
  // Progress means the socket took bytes since the last pump: the buffer is now smaller than
  // what was left in it then.
  auto now = std::chrono::steady_clock::now();
  if (conn_->buffered() < last_buffered_) stalled_since_ = now;
  std::size_t budget = limits.send_buffer_bytes;
  std::uint64_t before = cursor_;
  // Up to the budget, in batches of at most 256 frames handed to the transport at once.
  std::size_t room = conn_->buffered() < budget ? budget - conn_->buffered() : 0;
  FramePtr batch[256];
  while (cursor_ < log.next_seq() && room > 0) {
    std::size_t n = 0;
    while (n < 256 && cursor_ < log.next_seq() && room > 0) {
      const FramePtr &f = log.at(cursor_);
      batch[n++] = f;
      room = f->text.size() >= room ? 0 : room - f->text.size();
      ++cursor_;
      stats.bytes_sent += f->text.size();
    }
    stats.frames_sent += n;
    conn_->send_batch(batch, n);
    if (!conn_->is_open()) break;
  }
  if (cursor_ != before) {
    auto keep = run_;  // after_progress may resume intake, which must not free the run under us
    keep->after_progress();
    if (done_ || !run_) return;
  }
  if (cursor_ < log.next_seq()) {
    // Behind: the connection's buffer is full. A client that takes nothing for too long goes.
    if (stalled_since_ == std::chrono::steady_clock::time_point{}) stalled_since_ = now;
    last_buffered_ = conn_->buffered();
    if (now - stalled_since_ >= limits.slow_client_timeout) {
      end_dropped("it accepted nothing for " + std::to_string(limits.slow_client_timeout.count()) + " ms");
      return;
    }
    schedule();
    return;
  }
  stalled_since_ = {};
  last_buffered_ = 0;
  if (run_->finished_) {
    auto events = events_;
    detach();
    if (events.complete) events.complete();
  }
}

void Subscription::schedule()
{
  if (scheduled_) return;
  scheduled_ = true;
  timer_.expires_after(kPumpInterval);
  std::weak_ptr<Subscription> weak = shared_from_this();
  timer_.async_wait([weak](std::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->scheduled_ = false;
    if (!ec) self->pump();
  });
}

// ---- Run ---------------------------------------------------------------------------------------

Run::Run(Hub &hub, std::string id, std::string profile)
    : hub_(hub), id_(std::move(id)), profile_(std::move(profile)), log_(hub.limits().run_log_bytes)
{
  ++g_live_runs;
}

Run::~Run()
{
  std::size_t bytes = log_.bytes();
  log_ = EventLog(0);  // free the events first, then hand the memory back (no use of hub_ here)
  --g_live_runs;
  release_memory(bytes);
}

std::uint64_t Run::lead() const
{
  if (subs_.empty()) return log_.next_seq();
  std::uint64_t lead = 0;
  for (const Subscription *s : subs_) lead = std::max(lead, s->cursor());
  return lead;
}

void Run::pause_intake(std::function<void()> resume)
{
  resume_intake_ = std::move(resume);
  after_progress();  // maybe there is room already
}

bool Run::backlogged() const
{
  if (subs_.empty()) return false;
  std::uint64_t l = lead();
  return log_.bytes_from(l) > hub_.limits().lead_backlog_bytes || (log_.over_cap() && l <= log_.first_seq());
}

void Run::after_progress()
{
  if (!resume_intake_) return;
  std::uint64_t l = lead();
  log_.trim(l);
  // Resume below half the limit, not just under it: fewer pause/resume round trips to the CLI.
  if (!subs_.empty() && (log_.bytes_from(l) > hub_.limits().lead_backlog_bytes / 2 ||
                         (log_.over_cap() && l <= log_.first_seq())))
    return;
  auto resume = std::move(resume_intake_);
  resume_intake_ = nullptr;
  resume();
}

std::uint64_t Run::publish(std::string frame_text)
{
  std::uint64_t seq = log_.append(make_frame(std::move(frame_text)), lead());
  ++hub_.stats().frames_published;
  if (holds_ == 0) pump_subscribers();
  return seq;
}

void Run::pump_subscribers()
{
  // Copy: a pump may end a subscription, which removes it from subs_.
  auto subs = subs_;
  for (Subscription *s : subs) s->pump();
}

void Run::finish()
{
  if (finished_) return;
  finished_ = true;
  finished_at_ = std::chrono::steady_clock::now();
  hub_.on_finished(shared_from_this());
  auto subs = subs_;
  for (Subscription *s : subs) s->pump();
}

std::shared_ptr<Subscription> Run::subscribe(WsConn &conn, std::uint64_t since, SubscriberEvents events)
{
  auto sub = std::make_shared<Subscription>(shared_from_this(), conn, std::move(events), hub_.io());
  subs_.push_back(sub.get());
  sub->start(since);
  return sub;
}

// ---- Hub ---------------------------------------------------------------------------------------

Hub::Hub(asio::io_context &ioc, HubLimits limits) : ioc_(ioc), limits_(limits) {}
Hub::~Hub() = default;

std::shared_ptr<Run> Hub::create(const std::string &id, const std::string &profile)
{
  auto run = std::make_shared<Run>(*this, id, profile);
  runs_[id] = run;
  ++stats_.runs_started;
  return run;
}

std::shared_ptr<Run> Hub::find(const std::string &id) const
{
  auto it = runs_.find(id);
  return it == runs_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Run>> Hub::runs() const
{
  std::vector<std::shared_ptr<Run>> out;
  out.reserve(runs_.size());
  for (const auto &kv : runs_) out.push_back(kv.second);
  return out;
}

std::size_t Hub::live_runs() const
{
  std::size_t n = 0;
  for (const auto &kv : runs_)
    if (!kv.second->finished()) ++n;
  return n;
}

void Hub::forget(const std::string &id) { runs_.erase(id); }

void Hub::on_finished(const std::shared_ptr<Run> &run)
{
  ++stats_.runs_finished;
  auto timer = std::make_shared<asio::steady_timer>(ioc_, limits_.finished_run_grace);
  std::weak_ptr<Run> weak = run;
  timer->async_wait([this, timer, weak](std::error_code ec) {
    if (ec) return;
    auto r = weak.lock();
    if (!r) return;
    auto it = runs_.find(r->id());
    if (it != runs_.end() && it->second == r) runs_.erase(it);
  });
}

}  // namespace ccbridge::detail::server
