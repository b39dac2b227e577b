// Shared by the backpressure tests of Stream and Session against the fake CLI: what a stream holds
// unconsumed (its bounded queue, seen from inside), how far past its limits one read may take it,
// and waiting for an event with a deadline instead of sleeping.
#pragma once

#include "core/stream_state.hpp"
#include "process/channel.hpp"

#include <chrono>
#include <cstddef>
#include <fstream>
#include <string>
#include <thread>

namespace ccb_test {

inline ccbridge::detail::StreamState::Buffered buffered(ccbridge::Stream &s)
{
  return ccbridge::detail::Access<ccbridge::Stream>::state(s).buffered();
}

/// Reading pauses once a whole read of stdout has been queued: the most one read adds past the limits.
inline std::size_t read_chunk() { return ccbridge::detail::ProcessChannel::Config{}.read_chunk; }

/// Polls `done` until it holds; false if it still does not after `deadline`.
template <class F> bool wait_until(F done, std::chrono::milliseconds deadline = std::chrono::seconds(20))
{
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// True once the fake CLI has reported a write to its full stdout pipe (CCB_FAKE_STDOUT_FULL_LOG).
inline bool fake_cli_blocked(const std::string &full_log)
{
  std::ifstream in(full_log);
  std::string line;
  return static_cast<bool>(std::getline(in, line));
}

}  // namespace ccb_test
