// The agent platform's store, the parts of /config and /monitoring: configuration sections and
// their transaction, metric samples per minute, their roll-up into hour and day rows, retention,
// and series read at each granularity (over 30 days of synthetic minute samples).
#include "temp_dir.hpp"

#include "server/profiles/platform/store.hpp"

#include <ccbridge/error.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace ccbridge;
using namespace ccbridge::detail::server::platform;

namespace {

constexpr std::int64_t kT0 = 1767225600;  // 2026-01-01T00:00:00Z, a day boundary
constexpr std::int64_t kDays = 30;

// Every minute of 30 days: "requests" counts 1 a minute, "latency" 10 ms per request over 2.
void seed_30_days(Store &s)
{
  for (std::int64_t m = 0; m < kDays * 1440; ++m)
    s.add_samples(kT0 + m * 60, {{"requests", 1, 1}, {"latency", 20, 2}});
}

double total(const std::vector<MetricBucket> &v)
{
  double t = 0;
  for (const auto &b : v) t += b.sum;
  return t;
}

void check_buckets(const std::vector<MetricBucket> &v, std::int64_t from, std::int64_t to, std::int64_t step)
{
  for (std::size_t i = 0; i < v.size(); ++i) {
    CHECK(v[i].ts % step == 0);
    CHECK(v[i].ts >= from);
    CHECK(v[i].ts < to);
    if (i) CHECK(v[i].ts > v[i - 1].ts);
  }
}

}  // namespace

TEST_CASE("platform store: config sections are kept, and atomically() writes all or nothing")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  CHECK_FALSE(s->config_section("tools"));
  s->put_config_section("tools", R"({"maxConcurrent":2})");
  CHECK(*s->config_section("tools") == R"({"maxConcurrent":2})");
  CHECK_THROWS_AS(s->atomically([&] {
    s->put_config_section("tools", R"({"maxConcurrent":3})");
    throw std::runtime_error("invalid");
  }),
                  std::runtime_error);
  CHECK(*s->config_section("tools") == R"({"maxConcurrent":2})");
  s->ping();
}

TEST_CASE("platform store: samples of one minute add up, and series read them back as sums over n")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  s->add_samples(kT0, {{"latency", 30, 3}});
  s->add_samples(kT0, {{"latency", 10, 1}});
  s->add_samples(kT0 + 60, {{"latency", 5, 1}});
  auto v = s->metric_series("latency", kT0, kT0 + 3600, 60);
  REQUIRE(v.size() == 2);
  CHECK(v[0].ts == kT0);
  CHECK(v[0].sum == 40);
  CHECK(v[0].n == 4);
  auto five = s->metric_series("latency", kT0, kT0 + 3600, 300);
  REQUIRE(five.size() == 1);
  CHECK(five[0].sum == 45);
  CHECK(five[0].n == 5);
  CHECK(s->metric_series("other", kT0, kT0 + 3600, 60).empty());
}

TEST_CASE("platform store: 30 days of minute samples roll up into hours and days, each granularity sees them all")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  seed_30_days(*s);
  const std::int64_t now = kT0 + kDays * 86400 + 300;
  int rounds = 0;
  while (s->roll_up(now, 50)) ++rounds;
  CHECK(rounds > 10);  // in small steps, not one transaction
  MetricRetention keep;  // minute rows 48 h, hour rows 35 days
  for (int i = 0; i < 1000; ++i) s->prune_metrics(now, keep, 1000);

  // minute rows older than 48 h are gone; what the day and hour rows hold still adds up
  CHECK(s->metric_series("requests", kT0, kT0 + 86400, 60).empty());
  const std::int64_t all_from = kT0, all_to = now;
  for (std::int64_t step : {std::int64_t{3600}, std::int64_t{86400}}) {
    auto v = s->metric_series("requests", all_from, all_to, step);
    check_buckets(v, all_from, all_to, step);
    CHECK(total(v) == doctest::Approx(kDays * 1440));
    CHECK(v.size() == static_cast<std::size_t>(kDays * 86400 / step));
  }
  auto days = s->metric_series("latency", all_from, all_to, 86400);
  REQUIRE(days.size() == kDays);
  CHECK(days[0].sum == doctest::Approx(1440 * 20));
  CHECK(days[0].n == 1440 * 2);

  // the last 24 h by 5 minutes: from the minute rows, 5 requests a bucket; the range starts at
  // the first whole bucket in it and its last 5 minutes have no samples: 288 - 1 buckets
  std::int64_t from = now - 86400 + 300 - 1;
  from -= from % 300;
  auto recent = s->metric_series("requests", from, now, 300);
  check_buckets(recent, from, now, 300);
  for (const auto &b : recent) CHECK(b.sum == 5);
  CHECK(recent.size() == 287);

  // a day rolled up has no row left to roll; a late sample of a rolled minute reaches hour and day
  CHECK_FALSE(s->roll_up(now, 50));
  s->add_samples(kT0 + 86400 * 29 + 60, {{"requests", 7, 1}});
  auto last_day = s->metric_series("requests", kT0 + 86400 * 29, kT0 + 86400 * 30, 86400);
  REQUIRE(last_day.size() == 1);
  CHECK(last_day[0].sum == 1440 + 7);
  auto hour = s->metric_series("requests", kT0 + 86400 * 29, kT0 + 86400 * 29 + 3600, 3600);
  REQUIRE(hour.size() == 1);
  CHECK(hour[0].sum == 60 + 7);
}

TEST_CASE("platform store: the current hour is read from minute rows until it is rolled up")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  for (int m = 0; m < 150; ++m) s->add_samples(kT0 + m * 60, {{"requests", 1, 1}});
  const std::int64_t now = kT0 + 150 * 60;
  s->roll_up(now, 100);  // hours 0 and 1 are complete, hour 2 is not
  auto v = s->metric_series("requests", kT0, now, 3600);
  REQUIRE(v.size() == 3);
  CHECK(v[0].sum == 60);
  CHECK(v[1].sum == 60);
  CHECK(v[2].sum == 30);
  auto d = s->metric_series("requests", kT0, now, 86400);
  REQUIRE(d.size() == 1);
  CHECK(d[0].sum == 150);
}
