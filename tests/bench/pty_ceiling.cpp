// The ceiling of the cc-control relay benchmark (tests/bench/cc_control.sh): the same stand-in
// terminal program (ccb_term_standin) on a PTY of our own, its master read in 4 KiB reads as fast
// as possible. Nothing is decoded or forwarded: bytes are counted (and, with --stamps, each line's
// stamp is read for the latency from the program's write to this read).
//
//   ccb_pty_ceiling [--stamps] STANDIN WORDS...     e.g. ccb_pty_ceiling ./ccb_term_standin flood 100000000 100
//
// Waits for the program's "ready", writes "go\r", and times from there to the end of "END\r\n".
// Prints one JSON line: bytes (after "ready"), seconds, reads, and with --stamps p50/p99/max in µs.
#include "term_lines.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// Reads until the program's "ready\r\n"; false if the PTY ends first.
bool wait_ready(int fd)
{
  std::string seen;
  char buf[256];
  while (seen.find("ready\r\n") == std::string::npos) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    seen.append(buf, static_cast<std::size_t>(r));
  }
  return true;
}

}  // namespace

int main(int argc, char **argv)
{
  int first = 1;
  bool stamps = argc > 1 && std::strcmp(argv[1], "--stamps") == 0;
  first += stamps;
  if (argc - first < 2) {
    std::fprintf(stderr, "usage: ccb_pty_ceiling [--stamps] STANDIN WORDS...\n");
    return 2;
  }
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) {
    std::perror("forkpty");
    return 1;
  }
  if (pid == 0) {
    execv(argv[first], argv + first);
    _exit(127);
  }
  if (!wait_ready(master)) {
    std::fprintf(stderr, "ccb_pty_ceiling: %s did not print ready\n", argv[first]);
    return 1;
  }
  ccb_bench::Histogram lat;
  ccb_bench::LineScanner lines;
  static char buf[4096];
  char tail[5] = {};
  std::uint64_t bytes = 0, reads = 0;
  std::uint64_t start = ccb_bench::mono_ns();
  if (::write(master, "go\r", 3) != 3) return 1;
  while (std::memcmp(tail, "END\r\n", 5) != 0) {
    ssize_t r = ::read(master, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    auto n = static_cast<std::size_t>(r);
    bytes += n;
    ++reads;
    if (stamps) lines.feed(buf, n, ccb_bench::mono_ns(), &lat);
    if (n >= 5) {
      std::memcpy(tail, buf + n - 5, 5);
    } else {
      std::memmove(tail, tail + n, 5 - n);
      std::memcpy(tail + 5 - n, buf, n);
    }
  }
  double secs = static_cast<double>(ccb_bench::mono_ns() - start) / 1e9;
  bool ok = std::memcmp(tail, "END\r\n", 5) == 0;
  ::close(master);  // the program's hangup: it exits
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) kill(pid, SIGKILL);
  std::printf("{\"ok\":%s,\"bytes\":%llu,\"seconds\":%.6f,\"reads\":%llu,\"samples\":%llu,\"p50_us\":%llu,"
              "\"p99_us\":%llu,\"max_us\":%llu}\n",
              ok ? "true" : "false", static_cast<unsigned long long>(bytes), secs,
              static_cast<unsigned long long>(reads), static_cast<unsigned long long>(lat.count()),
              static_cast<unsigned long long>(lat.quantile(0.5)), static_cast<unsigned long long>(lat.quantile(0.99)),
              static_cast<unsigned long long>(lat.max()));
  return ok ? 0 : 1;
}
