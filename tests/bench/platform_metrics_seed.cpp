// Agent platform (issue 17), tests/bench/platform_metrics.sh: fills a platform database with N days
// of synthetic per-minute samples of every metric, ending now, through the Store as the server
// writes them (one add_samples per minute), then rolls them up and prunes them in the server's
// small steps. Prints one JSON line: seconds taken and the file's size before and after pruning.
//   ccb_platform_metrics_seed DB DAYS
// Single-threaded.
#include "server/profiles/platform/store.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <string>

using namespace ccbridge::detail::server::platform;

namespace {

std::uintmax_t bytes_of(const std::string &db)
{
  std::uintmax_t n = 0;
  for (const char *suffix : {"", "-wal"}) {
    std::error_code ec;
    auto s = std::filesystem::file_size(db + suffix, ec);
    if (!ec) n += s;
  }
  return n;
}

}  // namespace

int main(int argc, char **argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: ccb_platform_metrics_seed DB DAYS\n");
    return 2;
  }
  std::string db = argv[1];
  long days = std::strtol(argv[2], nullptr, 10);
  if (days < 1 || days > 400) {
    std::fprintf(stderr, "DAYS: 1 to 400\n");
    return 2;
  }
  auto store = open_sqlite_store(db);
  auto t0 = std::chrono::steady_clock::now();
  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::int64_t last = now / 60 * 60 - 60, first = last - days * 86400 + 60;
  for (std::int64_t m = first; m <= last; m += 60) {
    double wave = 1 + std::sin(static_cast<double>(m % 86400) / 86400 * 6.283);
    store->add_samples(m, {{"api_latency", 40 * wave * 10, 10}, {"request_count", 10, 1}, {"error_rate", 1, 10},
                           {"task_count", 2, 1}, {"active_sessions", 5 * wave, 1}, {"active_connections", 3 * wave, 1},
                           {"tokens_used", 1500, 1}, {"cost_usd", 0.02, 1}});
  }
  double seed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uintmax_t before = bytes_of(db);
  auto t1 = std::chrono::steady_clock::now();
  int steps = 0;
  while (store->roll_up(now, 24)) ++steps;
  for (int i = 0; i < 100000; ++i) store->prune_metrics(now, MetricRetention{}, 5000);
  double roll_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::printf("{\"minutes\":%lld,\"seed_s\":%.2f,\"rollup_prune_s\":%.2f,\"rollup_calls\":%d,\"bytes_all_minutes\":%ju,"
              "\"bytes_after_prune\":%ju}\n",
              static_cast<long long>((last - first) / 60 + 1), seed_s, roll_s, steps + 1, before, bytes_of(db));
  return 0;
}
