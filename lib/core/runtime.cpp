#include "detail/runtime_impl.hpp"

#include <csignal>

#include <pthread.h>

namespace ccbridge::detail {
namespace {
thread_local bool t_io_thread = false;
}
bool on_io_thread() noexcept { return t_io_thread; }
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

Runtime::Runtime(unsigned threads) : impl_(std::make_shared<Impl>(threads)) {}
Runtime::~Runtime() = default;

CCB_END_NAMESPACE
