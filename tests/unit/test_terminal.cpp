// Terminal: small programs on a PTY (no CLI needed): output and exit in order, the start timeout,
// the stop ladder, the environment allow-list and window size, input, backpressure, containment,
// start errors, and the handle's lifetime rules.
#include "children.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

using namespace ccbridge;
using namespace std::chrono_literals;

namespace {

// Collects a terminal's events for the test thread.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::string output;
  std::vector<std::uint64_t> seqs;
  std::size_t largest_chunk = 0;
  std::optional<TerminalExit> exit;
  bool output_after_exit = false;

  TerminalEvents events()
  {
    TerminalEvents ev;
    ev.output = [this](std::string_view bytes, std::uint64_t seq) {
      std::lock_guard<std::mutex> lk(mu);
      if (exit) output_after_exit = true;
      output.append(bytes);
      seqs.push_back(seq);
      largest_chunk = std::max(largest_chunk, bytes.size());
      cv.notify_all();
    };
    ev.exit = [this](const TerminalExit &x) {
      std::lock_guard<std::mutex> lk(mu);
      exit = x;
      cv.notify_all();
    };
    return ev;
  }

  template <class Pred> bool wait_for(Pred pred, std::chrono::milliseconds timeout = 20s)
  {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, timeout, [&] { return pred(*this); });
  }
  bool wait_output(const std::string &text, std::chrono::milliseconds timeout = 20s)
  {
    return wait_for([&](Recorder &r) { return r.output.find(text) != std::string::npos; }, timeout);
  }
  TerminalExit wait_exit(std::chrono::milliseconds timeout = 20s)
  {
    REQUIRE(wait_for([](Recorder &r) { return r.exit.has_value(); }, timeout));
    std::lock_guard<std::mutex> lk(mu);
    return *exit;
  }
  bool seqs_contiguous()
  {
    std::lock_guard<std::mutex> lk(mu);
    for (std::size_t i = 0; i < seqs.size(); ++i)
      if (seqs[i] != i + 1) return false;
    return true;
  }
};

TerminalOptions shell(const std::string &script)
{
  TerminalOptions o;
  o.cli_path = "/bin/sh";
  o.args = {"-c", script};
  o.start_timeout = 0ms;
  return o;
}

// True once `pid` no longer exists (or is a zombie its new parent has yet to reap).
// Reaping is the runtime's, after the exit: a while later under a sanitizer.
bool reaped(int pid, std::chrono::milliseconds timeout = 10s)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ccb_test::my_children().count(pid) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  return !ccb_test::my_children().count(pid);
}

bool gone(int pid, std::chrono::milliseconds timeout = 10s)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_s, comm, state;
    if (stat >> pid_s >> comm >> state && state == "Z") return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

std::string without_cr(std::string s)
{
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '\r') out += c;
  return out;
}

}  // namespace

TEST_CASE("terminal: output, then the exit code, after the last chunk")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  Recorder r;
  Terminal t = Terminal::start(rt, shell("printf hello; exit 3"), r.events());
  TerminalExit x = r.wait_exit();
  CHECK(r.output == "hello");
  CHECK(r.seqs_contiguous());
  CHECK_FALSE(r.output_after_exit);
  CHECK(x.exit_code == 3);
  CHECK(x.signal.empty());
  CHECK(x.reason == "exited");
  CHECK_FALSE(x.error);
  CHECK_FALSE(t.running());
  CHECK(t.pid() == 0);
}

TEST_CASE("terminal: a terminal that prints nothing is stopped by the start timeout")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  Recorder r;
  TerminalOptions o = shell("exec sleep 30");
  o.start_timeout = 200ms;
  auto t0 = std::chrono::steady_clock::now();
  Terminal t = Terminal::start(rt, o, r.events());
  TerminalExit x = r.wait_exit();
  CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(x.reason == "start_timeout");
  CHECK(x.signal == "terminated");
  CHECK(x.exit_code == -1);
  CHECK(r.output.empty());
}

TEST_CASE("terminal: one that prints in time is not stopped by the start timeout")
{
  Runtime rt;
  Recorder r;
  TerminalOptions o = shell("printf up; sleep 0.4; exit 0");
  o.start_timeout = 200ms;
  Terminal t = Terminal::start(rt, o, r.events());
  TerminalExit x = r.wait_exit();
  CHECK(x.reason == "exited");
  CHECK(x.exit_code == 0);
}

TEST_CASE("terminal: stop sends SIGTERM, and SIGKILL after kill_after to one that ignores it")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  SUBCASE("SIGTERM ends it")
  {
    Recorder r;
    Terminal t = Terminal::start(rt, shell("printf ready; exec sleep 30"), r.events());
    REQUIRE(r.wait_output("ready"));
    CHECK(t.pid() > 0);
    CHECK(t.running());
    t.stop();
    TerminalExit x = r.wait_exit(5s);
    CHECK(x.signal == "terminated");
    CHECK(x.exit_code == -1);
    CHECK(x.reason == "exited");
  }
  SUBCASE("SIGTERM ignored: SIGKILL at max(grace, kill_after)")
  {
    Recorder r;
    Terminal t = Terminal::start(rt, shell("trap '' TERM; printf ready; while :; do sleep 1; done"), r.events());
    REQUIRE(r.wait_output("ready"));
    auto t0 = std::chrono::steady_clock::now();
    t.stop(100ms, 400ms);
    TerminalExit x = r.wait_exit(10s);
    CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
    CHECK(x.signal == "killed");
    CHECK(x.exit_code == -1);
  }
}

TEST_CASE("terminal: environment allow-list, COLUMNS and LINES, window size, resize")
{
  ccb_test::NoLeftovers no_leftovers;
  ::setenv("CCB_TERMINAL_TEST_HOST_SECRET", "leak", 1);
  ::setenv("CC_TERMINAL_TEST_HOST", "leak", 1);  // the prefix is for requested keys, not the host's
  Runtime rt;
  Recorder r;
  TerminalOptions o = shell("env; stty size; printf 'READY%s\\n' 1; read x; stty size; exit 0");
  o.env = {{"CC_FOO", "1"}, {"MYKEY", "2"}, {"SECRET", "3"}, {"BAD=KEY", "4"}};
  o.env_allow_keys = {"MYKEY"};
  o.extra_env = {{"EXTRA", "5"}};
  o.cols = 100;
  o.rows = 30;
  Terminal t = Terminal::start(rt, o, r.events());
  REQUIRE(r.wait_output("READY1"));
  t.resize(120, 40);
  t.write("\n");
  r.wait_exit();
  std::string out = without_cr(r.output);
  CHECK(out.find("\nCC_FOO=1\n") != std::string::npos);
  CHECK(out.find("\nMYKEY=2\n") != std::string::npos);
  CHECK(out.find("\nEXTRA=5\n") != std::string::npos);
  CHECK(out.find("\nCOLUMNS=100\n") != std::string::npos);
  CHECK(out.find("\nLINES=30\n") != std::string::npos);
  CHECK(out.find("PATH=") != std::string::npos);
  CHECK(out.find("SECRET") == std::string::npos);
  CHECK(out.find("BAD") == std::string::npos);
  CHECK(out.find("CC_TERMINAL_TEST_HOST") == std::string::npos);
  CHECK(out.find("30 100\n") != std::string::npos);
  CHECK(out.find("40 120\n") != std::string::npos);
  ::unsetenv("CCB_TERMINAL_TEST_HOST_SECRET");
  ::unsetenv("CC_TERMINAL_TEST_HOST");
}

TEST_CASE("terminal: terminal_env and terminal_args")
{
  TerminalOptions o;
  std::vector<std::string> host = {"PATH=/bin", "HOME=/h", "SECRET=s", "CC_X=host", "TERM=xterm", "junk"};
  o.env = {{"CC_X", "req"}, {"K", "k"}, {"PATH", "/evil"}, {"CC_NUL", std::string("a\0b", 3)}};
  o.env_allow_keys = {"K"};
  o.extra_env = {{"HOME", "/scratch"}};
  CHECK(terminal_env(o, host) == std::vector<std::string>{"CC_X=req", "HOME=/scratch", "K=k", "PATH=/bin", "TERM=xterm"});
  o.env_allow_prefix = "";  // no prefix: only the listed keys
  o.cols = 80;
  o.rows = 0;  // both or neither
  CHECK(terminal_env(o, host) == std::vector<std::string>{"HOME=/scratch", "K=k", "PATH=/bin", "TERM=xterm"});
  o.extra_env = {{"A=B", "x"}};
  CHECK_THROWS_AS(terminal_env(o, host), Error);

  TerminalOptions a;
  a.args = {"--settings", "{}"};
  CHECK(terminal_args(a) == std::vector<std::string>{"--settings", "{}"});
  a.resume_id = " \t0b1c-id\u3000\n";  // trimmed with Unicode's whitespace, as Go's TrimSpace
  CHECK(terminal_args(a) == std::vector<std::string>{"--settings", "{}", "--resume", "0b1c-id"});
  a.resume_id = std::string(128, 'a');
  CHECK(terminal_args(a).back() == std::string(128, 'a'));
  for (std::string bad : {std::string(129, 'a'), std::string("a b"), std::string("a\u00a0b"), std::string("-x")}) {
    a.resume_id = bad;
    try {
      terminal_args(a);
      FAIL("accepted resume_id " << bad);
    } catch (const Error &e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK(std::string(e.what()).find("resume_id") != std::string::npos);
    }
  }
  CHECK(go_signal_name(SIGTERM) == "terminated");
  CHECK(go_signal_name(SIGKILL) == "killed");
  CHECK(go_signal_name(SIGINT) == "interrupt");
  CHECK(go_signal_name(SIGHUP) == "hangup");
  CHECK(go_signal_name(99) == "signal 99");
}

TEST_CASE("terminal: options from JSON")
{
  TerminalOptions o = terminal_options_from_json(
      R"({"cli_path":"/bin/sh","args":["-c","x"],"cwd":"/tmp","env":{"CC_A":"1"},"env_allow_keys":["K"],)"
      R"("env_allow_prefix":"","host_env_keys":["PATH"],"extra_env":{"E":"2"},"cols":80,"rows":24,)"
      R"("resume_id":"abc","start_timeout_ms":500,"read_chunk":1024})");
  CHECK(o.cli_path == "/bin/sh");
  CHECK(o.args == std::vector<std::string>{"-c", "x"});
  CHECK(o.cwd == "/tmp");
  CHECK(o.env.at("CC_A") == "1");
  CHECK(o.env_allow_keys == std::vector<std::string>{"K"});
  CHECK(o.env_allow_prefix.empty());
  CHECK(o.host_env_keys == std::vector<std::string>{"PATH"});
  CHECK(o.extra_env.at("E") == "2");
  CHECK(o.cols == 80);
  CHECK(o.rows == 24);
  CHECK(o.resume_id == "abc");
  CHECK(o.start_timeout == 500ms);
  CHECK(o.read_chunk == 1024);
  TerminalOptions d = terminal_options_from_json(R"({"env_allow_prefix":null})");
  CHECK(d.env_allow_prefix == "CC_");
  CHECK(d.host_env_keys.size() == 12);
  CHECK_THROWS_AS(terminal_options_from_json(R"({"colz":1})"), Error);
  CHECK_THROWS_AS(terminal_options_from_json(R"({"cols":70000})"), Error);
  CHECK_THROWS_AS(terminal_options_from_json(R"({"env":{"A":1}})"), Error);
  CHECK_THROWS_AS(terminal_options_from_json("[]"), Error);
}

TEST_CASE("terminal: input reaches the program (cat echoes it)")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  Recorder r;
  TerminalOptions o;
  o.cli_path = "cat";  // found on PATH, as find_cli finds a bare name
  Terminal t = Terminal::start(rt, o, r.events());
  t.write("hello\n");
  CHECK(r.wait_output("hello\r\nhello\r\n"));  // the terminal's echo, then cat's copy
  t.write("\x04");  // end of file at the start of a line
  TerminalExit x = r.wait_exit();
  CHECK(x.exit_code == 0);
}

TEST_CASE("terminal: megabytes of output arrive whole and in order, the exit after the last chunk")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  Recorder r;
  TerminalOptions o = shell("seq 1 400000; printf END");
  o.read_chunk = 4096;
  Terminal t = Terminal::start(rt, o, r.events());
  TerminalExit x = r.wait_exit(60s);
  CHECK(x.exit_code == 0);
  std::string want;
  for (int i = 1; i <= 400000; ++i) want += std::to_string(i) + "\n";
  want += "END";
  CHECK(without_cr(r.output) == want);
  CHECK(r.seqs_contiguous());
  CHECK(r.largest_chunk <= 4096);
  CHECK_FALSE(r.output_after_exit);
}

TEST_CASE("terminal: pause_reading from an output event holds the output until resume_reading")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  Recorder r;
  std::optional<Terminal> t;
  std::mutex t_mu;
  TerminalEvents ev = r.events();
  auto record = ev.output;
  ev.output = [&](std::string_view bytes, std::uint64_t seq) {
    record(bytes, seq);
    std::lock_guard<std::mutex> lk(t_mu);
    if (seq == 1 && t) t->pause_reading();
  };
  {
    std::lock_guard<std::mutex> lk(t_mu);
    // The first chunk is the first line; the rest waits in the PTY.
    t.emplace(Terminal::start(rt, shell("printf 'first\\n'; sleep 0.2; seq 1 20000; printf END"), ev));
  }
  REQUIRE(r.wait_output("first"));
  // Past the program's own pause, nothing more is read while paused (a deadline, not a condition).
  CHECK_FALSE(r.wait_output("END", 800ms));
  CHECK(r.seqs.size() == 1);
  t->resume_reading();
  CHECK(r.wait_output("END"));
  CHECK(r.wait_exit().exit_code == 0);
}

TEST_CASE("terminal: descendants end with it")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  SUBCASE("stopped")
  {
    Recorder r;
    Terminal t = Terminal::start(rt, shell("sleep 300 & echo \"child=$!.\"; wait"), r.events());
    REQUIRE(r.wait_output("."));
    std::string out = r.output;
    int grandchild = std::atoi(out.c_str() + out.find("child=") + 6);
    REQUIRE(grandchild > 0);
    t.stop();
    r.wait_exit();
    CHECK(gone(grandchild));
  }
  SUBCASE("exited, leaving a descendant that holds the terminal")
  {
    Recorder r;
    Terminal t = Terminal::start(rt, shell("sleep 300 & echo \"child=$!.\"; exit 0"), r.events());
    TerminalExit x = r.wait_exit();
    CHECK(x.exit_code == 0);
    std::string out = r.output;
    REQUIRE(out.find("child=") != std::string::npos);
    CHECK(gone(std::atoi(out.c_str() + out.find("child=") + 6)));
  }
}

TEST_CASE("terminal: start errors")
{
  Runtime rt;
  auto code_of = [&](const TerminalOptions &o) {
    try {
      Terminal::start(rt, o, {});
    } catch (const Error &e) {
      return errc(e.code().value());
    }
    return errc::ok;
  };
  TerminalOptions o = shell("exit 0");
  o.cli_path = "/nonexistent/claude";
  CHECK(code_of(o) == errc::cli_not_found);
  o = shell("exit 0");
  o.cwd = "/nonexistent/dir";
  CHECK(code_of(o) == errc::cwd_not_found);
  o = shell("exit 0");
  o.resume_id = "has space";
  CHECK(code_of(o) == errc::invalid_argument);
  o.resume_id.clear();
  o.read_chunk = 0;
  CHECK(code_of(o) == errc::invalid_argument);

  SUBCASE("exec fails on the runtime thread: the exit event says why")
  {
    char dir[] = "/tmp/ccb-term-XXXXXX";
    REQUIRE(::mkdtemp(dir));
    std::string file = std::string(dir) + "/not-executable";
    std::ofstream(file) << "data\n";
    ::chmod(file.c_str(), 0644);
    Recorder r;
    TerminalOptions bad;
    bad.cli_path = file;
    Terminal t = Terminal::start(rt, bad, r.events());
    TerminalExit x = r.wait_exit();
    CHECK(x.error == errc::spawn_failed);
    CHECK_FALSE(x.exit_code.has_value());
    CHECK(x.reason.find("not-executable") != std::string::npos);
    CHECK(r.output.empty());
    ::unlink(file.c_str());
    ::rmdir(dir);
  }
  SUBCASE("cwd is resolved and entered")
  {
    Recorder r;
    TerminalOptions in_tmp = shell("pwd -P");
    in_tmp.cwd = "/tmp/../tmp";
    Terminal t = Terminal::start(rt, in_tmp, r.events());
    r.wait_exit();
    char real[PATH_MAX];
    REQUIRE(::realpath("/tmp", real));
    CHECK(without_cr(r.output) == std::string(real) + "\n");
  }
}

TEST_CASE("terminal: destroying it ends the process at once and no event runs afterwards")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  std::atomic<bool> destroyed{false};
  std::atomic<int> late_events{0};
  Recorder r;
  TerminalEvents ev = r.events();
  auto record = ev.output;
  ev.output = [&](std::string_view bytes, std::uint64_t seq) {
    if (destroyed) ++late_events;
    record(bytes, seq);
  };
  ev.exit = [&](const TerminalExit &) { ++late_events; };
  int pid = 0;
  {
    Terminal t = Terminal::start(rt, shell("while :; do printf x; sleep 0.01; done"), ev);
    REQUIRE(r.wait_output("xx"));
    pid = t.pid();
    auto t0 = std::chrono::steady_clock::now();
    {
      Terminal moved = std::move(t);
    }
    destroyed = true;
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  }
  CHECK(gone(pid));
  CHECK(reaped(pid));
  CHECK(late_events == 0);
}

TEST_CASE("terminal: destroyed from its own output event")
{
  ccb_test::NoLeftovers no_leftovers;
  Runtime rt;
  std::mutex mu;
  std::optional<Terminal> t;
  std::atomic<int> after{0};
  std::atomic<bool> reset{false};
  std::atomic<int> pid{0};
  TerminalEvents ev;
  ev.output = [&](std::string_view, std::uint64_t) {
    if (reset) ++after;
    std::lock_guard<std::mutex> lk(mu);
    if (t) {
      pid = t->pid();
      t.reset();
      reset = true;
    }
  };
  ev.exit = [&](const TerminalExit &) { ++after; };
  {
    std::lock_guard<std::mutex> lk(mu);
    t.emplace(Terminal::start(rt, shell("while :; do printf x; sleep 0.01; done"), ev));
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!reset && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  REQUIRE(reset);
  CHECK(pid > 0);
  CHECK(gone(pid));
  CHECK(reaped(pid));  // before NoLeftovers looks: the runtime reaps a while after the kill
  CHECK(after == 0);
}
