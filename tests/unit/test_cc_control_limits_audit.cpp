// cc-control's rate limiter (server/rate_limit.*) and audit log (audit.*).
#include "temp_dir.hpp"

#include "server/profiles/cc_control/audit.hpp"
#include "server/profiles/cc_control/model.hpp"
#include "server/rate_limit.hpp"
#include "server/sha256.hpp"

#include <ccbridge/json.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

using namespace ccbridge;
using namespace ccbridge::detail::server;
using namespace ccbridge::detail::server::cc_control;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> lines_of(const std::string &path)
{
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) out.push_back(line);
  return out;
}

bool exists(const std::string &path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::uint64_t size_of(const std::string &path)
{
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.st_size);
}

int mode_of(const std::string &path)
{
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 0777);
}

}  // namespace

// ---- rate limiter ------------------------------------------------------------------------------

TEST_CASE("cc-control rate limit: a fixed window per key, refusals say when the window ends")
{
  RateLimiter limiter(3, 60s);
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) CHECK(limiter.check("ui:a", t0).allowed);
  auto refused = limiter.check("ui:a", t0);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after == 60s);
  CHECK(limiter.check("ui:b", t0).allowed);  // keys are independent
  CHECK(limiter.check("ui:a", t0 + 10500ms).retry_after == 50s);  // rounded up
  CHECK(limiter.check("ui:a", t0 + 59900ms).retry_after == 1s);
  CHECK(limiter.check("ui:a", t0 + 60s).allowed);  // a new window
  CHECK(limiter.check("ui:a", t0 + 61s).allowed);
  CHECK(limiter.check("ui:a", t0 + 62s).allowed);
  CHECK_FALSE(limiter.check("ui:a", t0 + 63s).allowed);
}

TEST_CASE("cc-control rate limit: the default is the original's 1200 per 60 s")
{
  RateLimiter limiter;
  auto t0 = RateLimiter::Clock::now();
  int allowed = 0;
  for (int i = 0; i < 1300; ++i) allowed += limiter.check("k", t0 + std::chrono::milliseconds(i)).allowed ? 1 : 0;
  CHECK(allowed == 1200);
  CHECK(limiter.check("k", t0 + 60s).allowed);
}

TEST_CASE("cc-control rate limit: buckets of ended windows are evicted, live ones kept")
{
  RateLimiter limiter(5, 60s);
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 1000; ++i) limiter.check("key" + std::to_string(i), t0);
  limiter.check("late", t0 + 30s);
  CHECK(limiter.size() == 1001);
  limiter.check("now", t0 + 60s);  // a sweep: the 1000 windows of t0 have ended
  CHECK(limiter.size() == 2);
  for (int i = 0; i < 5; ++i) limiter.check("late", t0 + 31s);
  CHECK_FALSE(limiter.check("late", t0 + 61s).allowed);  // kept with its count
}

TEST_CASE("cc-control rate limit: concurrent checks on one key allow exactly the limit")
{
  RateLimiter limiter(1000, 60s);
  auto t0 = RateLimiter::Clock::now();
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) allowed += limiter.check("ui:shared", t0).allowed ? 1 : 0;
    });
  for (auto &th : threads) th.join();
  CHECK(allowed == 1000);
}

// ---- audit log ---------------------------------------------------------------------------------

TEST_CASE("cc-control audit: one line per record, the original's fields and omissions")
{
  AuditRecord full{1700000000123, "ui:tok", "srv-1", "sess-1", "resize", R"({"cols":80,"rows":24})"};
  CHECK(AuditLog::line(full) == R"({"ts_ms":1700000000123,"actor":"ui:tok","server_id":"srv-1",)"
                                R"("session_id":"sess-1","kind":"resize","meta":{"cols":80,"rows":24}})");
  AuditRecord bare{5, "system", "", "", "register", ""};
  CHECK(AuditLog::line(bare) == R"({"ts_ms":5,"actor":"system","kind":"register"})");
  AuditRecord quoted{5, "a\"b\n", "", "", "k", ""};
  CHECK(AuditLog::line(quoted) == R"({"ts_ms":5,"actor":"a\"b\n","kind":"k"})");
  auto before = now_ms();
  auto ts = parse_json(AuditLog::line(AuditRecord{0, "system", "", "", "k", ""}))["ts_ms"].int64();
  REQUIRE(ts);
  CHECK(*ts >= before);
}

TEST_CASE("cc-control audit: term_in records carry the size and SHA-256 of the input, never the keys")
{
  std::string meta = AuditLog::term_in_meta("secret\r");
  CHECK(meta == "{\"size\":7,\"sha\":\"" + sha256_hex("secret\r") + "\"}");
  CHECK(meta.find("secret") == std::string::npos);
}

TEST_CASE("cc-control audit: the file is appended, mode 0600 (also when it existed with another mode)")
{
  TempDir dir;
  std::string path = dir / "audit.jsonl";
  { std::ofstream(path) << "{\"old\":1}\n"; }
  ::chmod(path.c_str(), 0644);
  {
    AuditLog log(path);
    log.write("ui:x", "srv", "sess", "term_in", AuditLog::term_in_meta("ls\n"));
    log.write("system", "", "", "register");
    CHECK(log.write_errors() == 0);
    CHECK(log.last_error().empty());
  }
  CHECK(mode_of(path) == 0600);
  auto lines = lines_of(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "{\"old\":1}");
  CHECK(parse_json(lines[1])["kind"].string_or() == "term_in");
  CHECK(parse_json(lines[1])["meta"]["size"].int64() == 3);
  CHECK(parse_json(lines[2])["actor"].string_or() == "system");
  TempDir fresh;
  AuditLog created(fresh / "a.jsonl");
  created.write("system", "", "", "k");
  CHECK(mode_of(fresh / "a.jsonl") == 0600);
}

TEST_CASE("cc-control audit: rotation by size keeps N old files, newest in .1")
{
  TempDir dir;
  std::string path = dir / "audit.jsonl";
  AuditLog log(path, 200, 2);
  for (int i = 0; i < 20; ++i) log.write("system", "", "", "kind-" + std::to_string(i));  // ~50 bytes each
  CHECK(log.write_errors() == 0);
  CHECK(exists(path + ".1"));
  CHECK(exists(path + ".2"));
  CHECK_FALSE(exists(path + ".3"));
  for (const char *suffix : {"", ".1", ".2"}) CHECK(size_of(path + suffix) <= 200);
  auto current = lines_of(path), older = lines_of(path + ".1"), oldest = lines_of(path + ".2");
  REQUIRE(!current.empty());
  REQUIRE(!older.empty());
  REQUIRE(!oldest.empty());
  CHECK(parse_json(current.back())["kind"].string_or() == "kind-19");
  CHECK(parse_json(older.back())["kind"].string_or() ==
        "kind-" + std::to_string(19 - static_cast<int>(current.size())));
  CHECK(mode_of(path + ".1") == 0600);
}

TEST_CASE("cc-control audit: keep 0 truncates in place, and max_bytes 0 never rotates")
{
  TempDir dir;
  AuditLog truncating(dir / "t.jsonl", 120, 0);
  for (int i = 0; i < 10; ++i) truncating.write("system", "", "", "k");
  CHECK(size_of(dir / "t.jsonl") <= 120);
  CHECK_FALSE(exists(dir / "t.jsonl.1"));
  AuditLog growing(dir / "g.jsonl", 0, 3);
  for (int i = 0; i < 10; ++i) growing.write("system", "", "", "k");
  CHECK(lines_of(dir / "g.jsonl").size() == 10);
  CHECK_FALSE(exists(dir / "g.jsonl.1"));
}

TEST_CASE("cc-control audit: write failures are counted and kept, never thrown")
{
  AuditLog full("/dev/full");
  full.write("system", "", "", "k");
  full.write("system", "", "", "k");
  CHECK(full.write_errors() == 2);
  CHECK(full.last_error().find("write /dev/full") != std::string::npos);

  TempDir dir;
  AuditLog missing(dir / "no/such/dir/audit.jsonl");
  CHECK(missing.write_errors() == 1);  // the open at construction
  missing.write("system", "", "", "k");
  CHECK(missing.write_errors() == 2);  // and each retry
  CHECK(missing.last_error().find("open ") == 0);

  AuditLog off("");
  off.write("system", "", "", "k");
  CHECK(off.write_errors() == 0);
}

TEST_CASE("cc-control audit: lines from many threads never interleave")
{
  TempDir dir;
  std::string path = dir / "audit.jsonl";
  {
    AuditLog log(path, 4096, 50);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 100; ++i) log.write("ui:" + std::to_string(t), "srv", "sess", "term_in", "{\"i\":1}");
      });
    for (auto &th : threads) th.join();
    CHECK(log.write_errors() == 0);
  }
  std::size_t total = 0;
  for (int i = 0; i <= 50; ++i) {
    std::string file = i == 0 ? path : path + "." + std::to_string(i);
    if (!exists(file)) continue;
    for (const auto &line : lines_of(file)) {
      CHECK(parse_json(line)["kind"].string_or() == "term_in");
      ++total;
    }
  }
  CHECK(total == 400);
}
