// A plain library host for the host-kill fault test (tests/server/test_faults.py): it starts
// several runs that a SIGKILL of this process must not outlive, prints their pids, and waits to
// be killed.
//
//   ccb_fault_host <fake-cli> <grandchild-pidfile>
//
// Prints one line "pids <pid> <pid> ..." once every run is up, then sleeps. The runs:
//   - a query() on a shared two-thread Runtime whose CLI hangs;
//   - the same with a CLI that ignores SIGTERM;
//   - the same with a CLI that forked a grandchild (in its process group, ignoring SIGTERM,
//     holding the CLI's stdout); the grandchild writes its pid to <grandchild-pidfile>;
//   - a query() without a Runtime (its own I/O thread), started from a thread that has ended
//     since: the parent-death signal must follow the I/O thread, not the caller;
//   - a Session (control protocol, initialize answered) whose CLI ignores SIGTERM.
#include <ccbridge/ccbridge.hpp>

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char **argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: ccb_fault_host <fake-cli> <grandchild-pidfile>\n");
    return 2;
  }
  const std::string cli = argv[1], pidfile = argv[2];
  auto opts = [&](const std::string &script) {
    ccbridge::Options o;
    o.cli_path = cli;
    o.env["CCB_FAKE_SCRIPT_TEXT"] = script;
    return o;
  };
  try {
    ccbridge::Runtime rt(2);
    std::vector<ccbridge::Stream> streams;
    streams.push_back(ccbridge::query(rt, "x", opts("wait_user\nhang")));
    streams.push_back(ccbridge::query(rt, "x", opts("ignore_sigterm\nwait_user\nhang")));
    streams.push_back(ccbridge::query(rt, "x", opts("grandchild " + pidfile + "\nwait_user\nhang")));
    std::optional<ccbridge::Stream> from_thread;
    std::thread([&] { from_thread.emplace(ccbridge::query("x", opts("ignore_sigterm\nwait_user\nhang"))); }).join();
    ccbridge::SessionOptions so;
    so.options = opts("ignore_sigterm\nwait_eof");
    ccbridge::Session session = ccbridge::Session::open(rt, std::move(so));

    // The run with a grandchild is up once the grandchild has written its pid (a slow machine, or
    // a ThreadSanitizer build, could otherwise be SIGKILLed before it did, seen in CI).
    for (int i = 0; i < 1000 && ::access(pidfile.c_str(), F_OK) != 0; ++i) ::usleep(10000);

    std::string line = "pids";
    for (const auto &s : streams) line += " " + std::to_string(s.pid());
    line += " " + std::to_string(from_thread->pid());
    line += " " + std::to_string(session.pid());
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    for (;;) ::pause();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ccb_fault_host: %s\n", e.what());
    return 1;
  }
}
