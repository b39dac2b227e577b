#pragma once

#include <ccbridge/runtime.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <memory>
#include <optional>
#include <thread>
#include <vector>

CCB_BEGIN_NAMESPACE

struct Runtime::Impl {
  explicit Impl(unsigned threads);
  ~Impl();

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
/// True while the current thread is a ccbridge I/O thread (blocking calls there would deadlock).
bool on_io_thread() noexcept;
}  // namespace ccbridge::detail
