// A per-key request limit: a fixed window per key (cc-control: 1200 requests per 60 s per token,
// CC-CONTROL.md 6; the platform profile: per user). Every decision carries the figures of the
// X-RateLimit-Limit/Remaining/Reset headers; a refused request learns when its window ends (for
// 429 and Retry-After). Buckets whose window has passed are dropped once per window, so memory
// holds only the keys seen in the last two windows.
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ccbridge::detail::server {

class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};  ///< when refused: whole seconds until the window ends, >= 1
    std::size_t limit = 0;                ///< requests per window (X-RateLimit-Limit)
    std::size_t remaining = 0;            ///< requests left in this window after this one (X-RateLimit-Remaining)
    std::chrono::seconds reset_after{0};  ///< whole seconds until the window ends, >= 1 (X-RateLimit-Reset)
  };

  explicit RateLimiter(std::size_t limit = 1200, std::chrono::seconds window = std::chrono::seconds(60));

  /// Counts one request for `key` ("ui:<token_id>", a user id, ...) at `now`. Refused requests
  /// do not count.
  Decision check(const std::string &key, Clock::time_point now = Clock::now());
  /// Keys currently held (for tests and metrics).
  std::size_t size() const;

private:
  struct Bucket {
    Clock::time_point start;
    std::size_t count = 0;
  };
  void evict_locked(Clock::time_point now);

  const std::size_t limit_;
  const Clock::duration window_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point next_sweep_{};
};

}  // namespace ccbridge::detail::server
