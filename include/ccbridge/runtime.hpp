// Runtime: the I/O threads that drive child processes (an Asio io_context, kept out of this header).
//
// Ownership: Streams and Sessions keep the runtime's internals alive, so destroying a Runtime
// while they run is safe; its threads stop when the last user is gone.
// Thread safety: all members are safe to call from any thread.
#pragma once

#include <ccbridge/export.h>

#include <memory>

namespace ccbridge::detail {
template <class T> struct Access;  // how the library reaches a class's internals (defined in lib/)
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

class CCB_API Runtime {
public:
  /// Starts `threads` I/O threads (at least 1). SIGPIPE is blocked on them.
  explicit Runtime(unsigned threads = 1);
  ~Runtime();
  Runtime(const Runtime &) = delete;
  Runtime &operator=(const Runtime &) = delete;

private:
  struct Impl;
  friend struct detail::Access<Runtime>;
  std::shared_ptr<Impl> impl_;
};

CCB_END_NAMESPACE
