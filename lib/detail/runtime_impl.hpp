#pragma once

#include <ccbridge/runtime.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

CCB_BEGIN_NAMESPACE

/// Threads for user callbacks that may block (permission decisions, hooks, tools), so that they
/// never hold up an I/O thread. Started on first use.
class CallbackPool {
public:
  explicit CallbackPool(unsigned threads) : size_(threads ? threads : 1) {}
  ~CallbackPool() { shutdown(); }
  void post(std::function<void()> task);
  /// Runs what is queued, then stops the threads (a thread calling this is detached instead).
  void shutdown();

private:
  // Shared with the threads, so that a thread detached by shutdown() never touches freed memory.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    bool stop = false;
  };
  static void run(const std::shared_ptr<Shared> &shared);
  unsigned size_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::vector<std::thread> threads_;  // guarded by shared_->mu
};

struct Runtime::Impl {
  explicit Impl(unsigned threads);
  ~Impl();

  CallbackPool callbacks{2};

  /// True on one of this runtime's I/O threads (or any ccbridge I/O thread, see on_io_thread()).
  bool on_own_thread() const noexcept;

  // The io_context is shared with the threads so that a thread left running by a destructor that
  // executes on it (see ~Impl) never touches a destroyed context.
  std::shared_ptr<asio::io_context> ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::vector<std::thread> threads;
};

CCB_END_NAMESPACE

// Internals live in ccbridge::detail (outside the versioned inline namespace) everywhere.
namespace ccbridge::detail {
/// The runtime behind a Runtime, for the code that starts runs on it (query.cpp, session.cpp).
template <> struct Access<Runtime> {
  using Impl = Runtime::Impl;
  static const std::shared_ptr<Impl> &impl(const Runtime &runtime) noexcept { return runtime.impl_; }
};
using RuntimeImpl = Access<Runtime>::Impl;

/// True while the current thread is a ccbridge I/O thread (blocking calls there would deadlock)
/// or one marked with forbid_waiting_on_this_thread().
bool on_io_thread() noexcept;
}  // namespace ccbridge::detail
