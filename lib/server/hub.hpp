// The Hub: runs, their event logs, and the subscribers that read them.
//
// A run's events (frames already in its profile's wire shape) are appended once to its EventLog,
// numbered from 1, and every subscriber reads the same shared frames through its own cursor. A
// subscriber that attaches late, or reconnects with the last sequence number it saw, starts from
// there; if those events were dropped (the log is bounded) it is told so explicitly. Sending is
// paced by the connection's send buffer, so a slow client only ever holds a bounded amount of
// memory, and one that accepts nothing for `slow_client_timeout` is dropped without slowing the
// others. Everything here runs on the server thread.
#pragma once

#include "server/http.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ccbridge::detail::server {

struct HubLimits {
  std::size_t send_buffer_bytes = 1 << 20;
  std::chrono::milliseconds slow_client_timeout{10000};
  std::size_t run_log_bytes = 64u << 20;
  std::chrono::milliseconds finished_run_grace{300000};
  std::size_t lead_backlog_bytes = 4u << 20;
};

/// Sequence-numbered frames of one run. Beyond `cap_bytes` of memory the oldest are dropped, but
/// never one at or after `keep_from` (what the most advanced reader still needs).
class EventLog {
public:
  explicit EventLog(std::size_t cap_bytes) : cap_(cap_bytes) {}
  std::uint64_t append(FramePtr f, std::uint64_t keep_from);
  void trim(std::uint64_t keep_from);
  bool over_cap() const { return bytes_ > cap_; }
  /// Bytes of the frames from `seq` to the newest.
  std::size_t bytes_from(std::uint64_t seq) const
  {
    if (seq >= next_seq()) return 0;
    std::uint64_t before = seq <= first_ ? dropped_end_ : ends_[seq - first_ - 1];
    return static_cast<std::size_t>(total_ - before);
  }
  std::uint64_t first_seq() const { return first_; }        ///< oldest held
  std::uint64_t next_seq() const { return first_ + frames_.size(); }  ///< one past the newest
  const FramePtr &at(std::uint64_t seq) const { return frames_[seq - first_]; }
  /// Memory the held frames take (EventLog::footprint), which `cap_bytes` limits.
  std::size_t bytes() const { return bytes_; }
  static std::size_t footprint(const Frame &f);

private:
  std::deque<FramePtr> frames_;
  std::deque<std::uint64_t> ends_;  // cumulative byte offset just past each held frame
  std::uint64_t total_ = 0;         // bytes ever appended
  std::uint64_t dropped_end_ = 0;   // offset just past the last dropped frame
  std::uint64_t first_ = 1;
  std::size_t bytes_ = 0;  // footprint of the held frames
  std::size_t cap_;
};

class Run;

/// What a subscription tells its owner (a profile's connection handler).
struct SubscriberEvents {
  /// Events after `since` were asked for but the oldest held is `first_held`: the ones between
  /// are gone. Called before anything is sent; the subscription goes on from `first_held`.
  std::function<void(std::uint64_t since, std::uint64_t first_held)> gap;
  /// The run has finished and every event was sent.
  std::function<void()> complete;
  /// The subscriber could not keep up (or its next events were dropped from the log). The
  /// subscription has ended; `resume_seq` is the last event it was sent.
  std::function<void(std::uint64_t resume_seq, const std::string &why)> dropped;
};

/// One connection reading one run. Owned by the connection handler; detaches when destroyed.
class Subscription : public std::enable_shared_from_this<Subscription> {
public:
  Subscription(std::shared_ptr<Run> run, WsConn &conn, SubscriberEvents events, asio::io_context &ioc);
  ~Subscription();
  void start(std::uint64_t since);
  /// Sends what the connection's buffer allows; schedules itself again while behind.
  void pump();
  void detach();
  std::uint64_t sent_seq() const { return cursor_ - 1; }
  std::uint64_t cursor() const { return cursor_; }

private:
  void schedule();
  void end_dropped(const std::string &why);

  std::shared_ptr<Run> run_;
  WsConn *conn_;
  SubscriberEvents events_;
  asio::steady_timer timer_;
  std::uint64_t cursor_ = 1;  // next seq to send
  bool scheduled_ = false;
  bool done_ = false;
  std::size_t last_buffered_ = 0;
  std::chrono::steady_clock::time_point stalled_since_{};
};

class Hub;

/// A run: one CLI process (or conversation) whose events any number of clients may read.
class Run : public std::enable_shared_from_this<Run> {
public:
  Run(Hub &hub, std::string id, std::string profile);
  ~Run();
  const std::string &id() const { return id_; }
  const std::string &profile() const { return profile_; }

  /// Appends one event and pushes it to every subscriber (at once, or when the last Hold ends).
  std::uint64_t publish(std::string frame_text);

  /// While a Hold is alive, publish() only appends; when the last one ends, the subscribers are
  /// pumped once, so a burst of events (one read from the CLI) leaves as one write per
  /// connection instead of one write per event.
  class Hold {
  public:
    explicit Hold(std::shared_ptr<Run> run) : run_(std::move(run))
    {
      if (run_) ++run_->holds_;
    }
    ~Hold()
    {
      if (run_ && --run_->holds_ == 0) run_->pump_subscribers();
    }
    Hold(const Hold &) = delete;
    Hold &operator=(const Hold &) = delete;

  private:
    std::shared_ptr<Run> run_;
  };
  /// No more events will come. Subscribers complete once they have sent everything.
  void finish();
  bool finished() const { return finished_; }
  std::chrono::steady_clock::time_point finished_at() const { return finished_at_; }

  std::shared_ptr<Subscription> subscribe(WsConn &conn, std::uint64_t since, SubscriberEvents events);

  /// Intake control for bursts: when the log is over its cap and even the most advanced
  /// subscriber still needs the oldest events, the producer pauses (the CLI's pipe then fills)
  /// instead of those events being dropped. `resume` is called once there is room again.
  bool over_cap() const { return log_.over_cap(); }
  /// Whether the producer should wait: the log is over its cap and the most advanced client
  /// still needs its oldest events, or that client is more than `lead_backlog` bytes behind
  /// (latency under saturation stays bounded instead of growing with the log).
  bool backlogged() const;
  void pause_intake(std::function<void()> resume);
  std::size_t subscriber_count() const { return subs_.size(); }
  const EventLog &log() const { return log_; }
  Hub &hub() { return hub_; }

  /// Profile-specific state (the Stream or Session, the cancel action ...).
  std::function<void()> cancel;           ///< ends the run early (non-blocking)
  std::shared_ptr<void> state;

private:
  friend class Subscription;
  std::uint64_t lead() const;  // the next seq the most advanced subscriber needs
  void pump_subscribers();
  int holds_ = 0;
  void after_progress();
  Hub &hub_;
  std::string id_;
  std::string profile_;
  EventLog log_;
  std::vector<Subscription *> subs_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point finished_at_{};
  std::function<void()> resume_intake_;
};

/// Counters the server exports at /metrics. Relaxed atomics: read from the metrics route only.
struct HubStats {
  std::uint64_t runs_started = 0;
  std::uint64_t runs_finished = 0;
  std::uint64_t frames_published = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t subscribers_dropped = 0;
  std::uint64_t replay_gaps = 0;
};

/// Registry of runs. Finished runs are kept for the grace period, then forgotten.
class Hub {
public:
  Hub(asio::io_context &ioc, HubLimits limits);
  ~Hub();
  std::shared_ptr<Run> create(const std::string &id, const std::string &profile);
  std::shared_ptr<Run> find(const std::string &id) const;
  /// Every run (live and in grace).
  std::vector<std::shared_ptr<Run>> runs() const;
  std::size_t live_runs() const;
  void forget(const std::string &id);

  asio::io_context &io() { return ioc_; }
  const HubLimits &limits() const { return limits_; }
  HubStats &stats() { return stats_; }
  const HubStats &stats() const { return stats_; }

private:
  friend class Run;
  void on_finished(const std::shared_ptr<Run> &run);
  asio::io_context &ioc_;
  HubLimits limits_;
  HubStats stats_;
  std::map<std::string, std::shared_ptr<Run>> runs_;
};

/// Moves events from a ccbridge I/O thread to the server thread in batches (one post per batch).
/// push() never blocks: an I/O thread serves many processes and must not wait for one slow run.
/// Instead, once `max_items` wait, `on_full` is called (on the producer's thread) to pause that
/// run's producer (Stream::pause_reading), and `on_room` (on the server thread) once drained.
/// While paused (pause()) nothing is drained, so the run's producer ends up paused too.
template <class T>
class Inbox : public std::enable_shared_from_this<Inbox<T>> {
public:
  Inbox(asio::io_context &ioc, std::size_t max_items, std::function<void(std::vector<T> &)> drain)
      : ioc_(ioc), max_(max_items), drain_(std::move(drain))
  {
  }
  /// Both are called with the inbox's lock held (see push()): they must only queue their effect,
  /// as Stream::pause_reading / resume_reading do, and never call back into this Inbox.
  void set_flow_control(std::function<void()> on_full, std::function<void()> on_room)
  {
    std::lock_guard<std::mutex> lk(mu_);
    on_full_ = std::move(on_full);
    on_room_ = std::move(on_room);
  }

  void push(T item)
  {
    bool post = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_) return;
      items_.push_back(std::move(item));
      if (items_.size() >= max_ && !producer_paused_ && on_full_) {
        producer_paused_ = true;
        // Under the lock: on_full and on_room only queue their effect (Stream::pause_reading
        // posts to the run's strand), and they must be queued in the order of the flag's
        // changes. Called after unlocking, a drain in between could queue its resume first,
        // leaving the CLI paused for good with nothing left to drain.
        on_full_();
      }
      if (!posted_ && !paused_) post = posted_ = true;
    }
    if (post) asio::post(ioc_, [self = this->shared_from_this()] { self->drain(); });
  }

  void close()
  {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    on_full_ = nullptr;
    on_room_ = nullptr;
  }

  /// While paused nothing is drained (the producer is then paused once max_items wait).
  void pause()
  {
    std::lock_guard<std::mutex> lk(mu_);
    paused_ = true;
  }
  void resume()
  {
    {
      std::lock_guard<std::mutex> lk(mu_);
      paused_ = false;
      if (items_.empty() || posted_) return;
      posted_ = true;
    }
    asio::post(ioc_, [self = this->shared_from_this()] { self->drain(); });
  }

private:
  void drain()
  {
    {
      std::lock_guard<std::mutex> lk(mu_);
      posted_ = false;
      if (paused_) return;
      batch_.swap(items_);  // items_ gets the emptied vector of the previous drain, capacity kept
    }
    if (!batch_.empty()) drain_(batch_);
    batch_.clear();
    // A burst's capacity is not kept for good: an idle conversation holds little.
    if (batch_.capacity() > kKeepCapacity) batch_ = std::vector<T>();
    std::lock_guard<std::mutex> lk(mu_);
    if (producer_paused_) {
      producer_paused_ = false;
      if (on_room_) on_room_();  // under the lock, see push()
    }
  }

  static constexpr std::size_t kKeepCapacity = 256;

  asio::io_context &ioc_;
  std::size_t max_;
  std::function<void(std::vector<T> &)> drain_;
  std::mutex mu_;
  std::vector<T> items_;
  std::vector<T> batch_;  // being drained (server thread only; drain() never nests)
  std::function<void()> on_full_, on_room_;
  bool posted_ = false;
  bool paused_ = false;
  bool producer_paused_ = false;
  bool closed_ = false;
};

}  // namespace ccbridge::detail::server
