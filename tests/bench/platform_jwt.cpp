// Micro benchmark of the agent platform's access tokens (lib/server/profiles/platform/jwt.hpp):
// HS256 sign and verify of a token shaped like the ones `POST /v1/auth/login` issues, on one
// thread, for a bounded time. Prints one JSON line: {"verify_per_s":..,"sign_per_s":..}.
// Run by tests/bench/platform_bench.py (tests/bench/platform.sh).
//   ccb_platform_jwt [--seconds S]
// Thread safety: a single-threaded program.
#include "server/profiles/platform/jwt.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace platform = ccbridge::detail::server::platform;

namespace {

using Clock = std::chrono::steady_clock;

// Calls `fn` in batches until `seconds` have passed; returns calls per second.
template <class Fn>
double per_second(double seconds, Fn fn)
{
  std::size_t n = 0;
  auto start = Clock::now();
  std::chrono::duration<double> elapsed{};
  do {
    for (int i = 0; i < 1000; ++i) fn();
    n += 1000;
    elapsed = Clock::now() - start;
  } while (elapsed.count() < seconds);
  return static_cast<double>(n) / elapsed.count();
}

}  // namespace

int main(int argc, char **argv)
{
  double seconds = 3;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  if (seconds <= 0 || seconds > 600) {
    std::fprintf(stderr, "usage: ccb_platform_jwt [--seconds 0 < S <= 600]\n");
    return 2;
  }
  const std::string key = "platform-bench-secret-0123456789abcdef";
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  platform::Claims c;
  c.sub = "usr_0123456789abcdef";
  c.iss = "ccbridge";
  c.session_id = "fam_0123456789abcdef";
  c.jti = "jti_0123456789abcdef";
  c.iat = now;
  c.exp = now + 3600;
  c.permissions = {"session:read", "session:create", "session:delete", "task:submit", "task:read",
                   "task:cancel", "agent:read", "agent:create", "agent:configure", "tool:read"};
  const std::string token = platform::sign(c, key);
  std::size_t bad = 0;
  double verify = per_second(seconds, [&] { bad += !platform::verify(token, key, "ccbridge", now).ok(); });
  double sign = per_second(seconds, [&] { bad += platform::sign(c, key).size() != token.size(); });
  if (bad) {
    std::fprintf(stderr, "ccb_platform_jwt: %zu tokens failed\n", bad);
    return 1;
  }
  std::printf("{\"verify_per_s\":%.0f,\"sign_per_s\":%.0f,\"token_bytes\":%zu}\n", verify, sign, token.size());
  return 0;
}
