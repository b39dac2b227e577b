#include "core/runtime_guard.hpp"
#include "detail/runtime_impl.hpp"
#include "process/cgroup.hpp"
#include "process/guard.hpp"

#include <csignal>

#include <pthread.h>

namespace ccbridge::detail {
namespace {
thread_local bool t_io_thread = false;
thread_local bool t_no_wait = false;  // a thread of the layers above that must never wait
}
bool on_io_thread() noexcept { return t_io_thread || t_no_wait; }
void forbid_waiting_on_this_thread() noexcept { t_no_wait = true; }
void start_runtime_guard() noexcept { start_guard(); }
const char *runtime_containment() noexcept { return containment_name(); }
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

Runtime::Impl::Impl(unsigned n) : ioc(std::make_shared<asio::io_context>())
{
  guard.emplace(ioc->get_executor());
  if (n == 0) n = 1;
  threads.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    threads.emplace_back([ctx = ioc] {
      // Writes to a dead CLI's stdin must fail with EPIPE, never kill the host.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      pthread_setname_np(pthread_self(), "ccbridge-io");
      detail::t_io_thread = true;
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (...) {
          // Handlers catch their own exceptions; keep the loop alive if one slips through.
        }
      }
    });
  }
}

Runtime::Impl::~Impl()
{
  callbacks.shutdown();  // callbacks may still post to the io_context: stop them first
  guard.reset();
  for (auto &t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // the last user let go from inside a handler; the thread ends on its own
    } else if (t.joinable()) {
      t.join();
    }
  }
}

bool Runtime::Impl::on_own_thread() const noexcept
{
  for (const auto &t : threads)
    if (t.get_id() == std::this_thread::get_id()) return true;
  return false;
}

void CallbackPool::shutdown()
{
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lk(shared_->mu);
    shared_->stop = true;
    threads.swap(threads_);
  }
  shared_->cv.notify_all();
  for (auto &t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else if (t.joinable()) {
      t.join();
    }
  }
}

void CallbackPool::post(std::function<void()> task)
{
  {
    std::lock_guard<std::mutex> lk(shared_->mu);
    if (shared_->stop) return;
    shared_->tasks.push_back(std::move(task));
    if (threads_.size() < size_) threads_.emplace_back([s = shared_] { run(s); });
  }
  shared_->cv.notify_one();
}

void CallbackPool::run(const std::shared_ptr<Shared> &s)
{
  pthread_setname_np(pthread_self(), "ccbridge-cb");
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lk(s->mu);
      s->cv.wait(lk, [&] { return s->stop || !s->tasks.empty(); });
      if (s->tasks.empty()) return;  // stopping and drained
      task = std::move(s->tasks.front());
      s->tasks.pop_front();
    }
    try {
      task();
    } catch (...) {
      // Tasks catch their own exceptions; never let one end the thread.
    }
  }
}

Runtime::Runtime(unsigned threads) : impl_(std::make_shared<Impl>(threads)) {}
Runtime::~Runtime() = default;

CCB_END_NAMESPACE
