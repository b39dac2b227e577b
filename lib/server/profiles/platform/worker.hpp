// Agent platform: one thread for work that must not hold the server thread (password hashing:
// scrypt takes ~100 ms of CPU at the default cost, and on the server thread every socket of every
// profile would wait for it). Jobs run in order; each one's result goes back to the server thread
// through `done`, which is dropped unrun if the Worker is gone by then. At most `max_queued` wait:
// beyond that run() refuses (the caller answers 503), so a flood of logins queues nothing unbounded.
// Thread safety: run() from the server thread; the destructor joins the thread (queued jobs are dropped).
#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace ccbridge::detail::server::platform {

class Worker {
public:
  Worker(asio::io_context &ioc, std::size_t max_queued) : ioc_(ioc), max_(max_queued), thread_([this] { loop(); }) {}
  ~Worker()
  {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    thread_.join();
  }
  Worker(const Worker &) = delete;
  Worker &operator=(const Worker &) = delete;

  /// Runs `work` on the worker thread, then `done(result)` on the server thread. False (and
  /// nothing runs) when max_queued jobs wait already.
  template <class Work, class Done> bool run(Work work, Done done)
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (jobs_.size() >= max_) return false;
    std::weak_ptr<bool> alive = alive_;
    jobs_.emplace_back([this, alive, work = std::move(work), done = std::move(done)]() mutable {
      auto result = work();
      asio::post(ioc_, [alive, done = std::move(done), result = std::move(result)]() mutable {
        if (alive.lock()) done(std::move(result));
      });
    });
    cv_.notify_one();
    return true;
  }

private:
  void loop()
  {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lk.unlock();
      job();
      lk.lock();
    }
  }

  asio::io_context &ioc_;
  std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // expires with the Worker
  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace ccbridge::detail::server::platform
