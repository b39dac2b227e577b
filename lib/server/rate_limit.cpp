#include "server/rate_limit.hpp"

#include <algorithm>
#include <iterator>

namespace ccbridge::detail::server {

RateLimiter::RateLimiter(std::size_t limit, std::chrono::seconds window) : limit_(limit), window_(window) {}

RateLimiter::Decision RateLimiter::check(const std::string &key, Clock::time_point now)
{
  std::lock_guard<std::mutex> lock(mu_);
  evict_locked(now);
  Bucket &b = buckets_[key];
  if (b.count == 0 || now - b.start >= window_) b = Bucket{now, 0};
  // (now is inside the window, so at least one second is left, rounded up)
  auto left = std::max(std::chrono::ceil<std::chrono::seconds>(b.start + window_ - now), std::chrono::seconds(1));
  if (b.count < limit_) {
    ++b.count;
    return {true, std::chrono::seconds(0), limit_, limit_ - b.count, left};
  }
  return {false, left, limit_, 0, left};
}

std::size_t RateLimiter::size() const
{
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

// Once per window: a bucket whose window has ended holds nothing a new one would not.
void RateLimiter::evict_locked(Clock::time_point now)
{
  if (now < next_sweep_) return;
  next_sweep_ = now + window_;
  for (auto it = buckets_.begin(); it != buckets_.end();)
    it = now - it->second.start >= window_ ? buckets_.erase(it) : std::next(it);
}

}  // namespace ccbridge::detail::server
