// The output of tests/bench/term_standin.c read back: its lines ("t=<19-digit CLOCK_MONOTONIC ns>
// xxx...\r\n", then "END\r\n"), split across reads anywhere, and a latency histogram of
// (now - stamp) with 1 µs buckets up to 1 s. Shared by ccb_pty_ceiling and ccb_cc_load.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <vector>

namespace ccb_bench {

inline std::uint64_t mono_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

class Histogram {
public:
  Histogram() : buckets_(kBuckets + 1, 0) {}
  void add(std::uint64_t us)
  {
    ++buckets_[std::min<std::uint64_t>(us, kBuckets)];
    ++count_;
    max_ = std::max(max_, us);
  }
  void merge(const Histogram &o)
  {
    for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
    max_ = std::max(max_, o.max_);
  }
  /// The q-quantile in µs (the bucket that holds it); 0 without samples.
  std::uint64_t quantile(double q) const
  {
    if (!count_) return 0;
    auto want = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i)
      if ((seen += buckets_[i]) >= want) return i == kBuckets ? max_ : i;
    return max_;
  }
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }

private:
  static constexpr std::uint64_t kBuckets = 1000000;
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0, max_ = 0;
};

/// One reader's stream of lines: keeps the head of the current line across chunks.
class LineScanner {
public:
  /// Feeds bytes received at `now` (ns); stamped lines add to `lat` (if not null).
  void feed(const char *p, std::size_t n, std::uint64_t now, Histogram *lat)
  {
    const char *end = p + n;
    while (p < end) {
      const char *nl = static_cast<const char *>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      const char *stop = nl ? nl : end;
      std::size_t k = std::min(sizeof head_ - len_, static_cast<std::size_t>(stop - p));
      std::memcpy(head_ + len_, p, k);
      len_ += k;
      if (!nl) return;
      line(now, lat);
      len_ = 0;
      p = nl + 1;
    }
  }
  bool ended() const { return ended_; }
  std::uint64_t lines() const { return lines_; }

private:
  void line(std::uint64_t now, Histogram *lat)
  {
    ++lines_;
    if (len_ >= 4 && std::memcmp(head_, "END\r", 4) == 0) ended_ = true;
    if (!lat || len_ < 21 || head_[0] != 't' || head_[1] != '=') return;
    std::uint64_t v = 0;
    for (int i = 2; i < 21; ++i) v = v * 10 + static_cast<std::uint64_t>(head_[i] - '0');
    lat->add(now > v ? (now - v) / 1000 : 0);
  }

  char head_[24] = {};
  std::size_t len_ = 0;
  std::uint64_t lines_ = 0;
  bool ended_ = false;
};

}  // namespace ccb_bench
