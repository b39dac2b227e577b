// Stream/query() against the scriptable fake CLI (tests/support/fake_cli.cpp): every failure mode
// of the process layer, and after each one, no process left behind.
#include "backpressure.hpp"
#include "children.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <condition_variable>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

using namespace ccbridge;
using namespace std::chrono_literals;
using ccb_test::alive;
using ccb_test::buffered;
using ccb_test::fake_cli_blocked;
using ccb_test::my_children;
using ccb_test::NoLeftovers;
using ccb_test::read_chunk;
using ccb_test::wait_until;

namespace {

Options fake(const std::string &script)
{
  Options o;
  o.cli_path = CCB_FAKE_CLI;
  o.env["CCB_FAKE_SCRIPT_TEXT"] = script;
  o.shutdown.exit_wait = 300ms;
  o.shutdown.term_wait = 300ms;
  o.shutdown.drain_wait = 300ms;
  return o;
}

int read_pidfile(const std::string &path)
{
  std::ifstream in(path);
  int pid = 0;
  in >> pid;
  return pid;
}

std::string tmp_path(const std::string &name)
{
  return "/tmp/ccb_test_" + std::to_string(getpid()) + "_" + name;
}

std::vector<Message> drain(Stream &s)
{
  std::vector<Message> out;
  for (const Message &m : s) out.push_back(m);
  return out;
}

}  // namespace

TEST_CASE("fake-cli: a normal run delivers every message and leaves nothing behind")
{
  NoLeftovers guard;
  // The default script's echo, held until the pid has been read: pid() is 0 once the run is
  // reaped, which a fast fake CLI on a busy machine reached before the first s.pid() (seen in CI).
  std::string go = tmp_path("normal-run-go");
  ::unlink(go.c_str());
  Stream s = query("hello there", fake("wait_user\nwait_file " + go +
                                       "\nemit {\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"f\"}"
                                       "\nemit {\"type\":\"assistant\",\"message\":{\"role\":\"assistant\",\"content\":"
                                       "[{\"type\":\"text\",\"text\":\"echo: {{prompt}}\"}]},\"session_id\":\"f\"}"
                                       "\nemit {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
                                       "\"result\":\"echo: {{prompt}}\",\"session_id\":\"f\"}\nexit 0"));
  int pid = s.pid();
  CHECK(pid > 0);
  std::ofstream(go).put('\n');
  auto msgs = drain(s);
  ::unlink(go.c_str());
  REQUIRE(msgs.size() == 3);
  CHECK(msgs[0].is_system("init"));
  CHECK(msgs[1].text() == "echo: hello there");
  CHECK(msgs[2].is(MessageType::result));
  CHECK(s.finished());
  CHECK(s.outcome().ok());
  CHECK(s.outcome().exit.code == 0);
  CHECK(s.outcome().messages == 3);
  REQUIRE(s.outcome().last_result.has_value());
  CHECK_FALSE(s.outcome().last_error_result.has_value());
  CHECK(s.pid() == 0);
  CHECK_FALSE(alive(pid));
}

TEST_CASE("fake-cli: every message carries when it was read, in order, between the run's start and end")
{
  NoLeftovers guard;
  // One line; the second only once the test has seen the first (the fake CLI waits for a file):
  // the first was read before that moment, the second after it.
  std::string go = tmp_path("read-at-go");
  ::unlink(go.c_str());
  auto t0 = std::chrono::steady_clock::now();
  Stream s = query("hi", fake("emit {\"type\":\"system\",\"subtype\":\"init\"}\nwait_file " + go +
                              "\nemit {\"type\":\"broken\"\nexit 0"));
  std::vector<Message> msgs;
  Message m;
  REQUIRE(s.pull(m, 10s) == PullStatus::message);
  msgs.push_back(m);
  auto between = std::chrono::steady_clock::now();
  std::ofstream(go).put('\n');
  while (s.pull(m, 10s) == PullStatus::message) msgs.push_back(m);
  ::unlink(go.c_str());
  auto t1 = std::chrono::steady_clock::now();
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[1].is(MessageType::invalid_line));  // invalid lines carry it too
  for (const auto &msg : msgs) {
    CHECK(msg.read_at() >= t0);
    CHECK(msg.read_at() <= t1);
  }
  CHECK(msgs[0].read_at() <= between);
  CHECK(msgs[1].read_at() >= between);
  CHECK(Message::parse("{\"type\":\"x\"}").read_at() == std::chrono::steady_clock::time_point{});
}

TEST_CASE("fake-cli: argv, environment and cwd reach the CLI as the SDKs send them")
{
  NoLeftovers guard;
  std::string dump = tmp_path("invocation.json");
  Options o = fake("dump_invocation " + dump + "\nwait_user\nexit 0");
  o.model = "-dash-model";
  o.cwd = "/tmp";
  o.env["EXTRA"] = "1";
  setenv("CLAUDECODE", "1", 1);
  Stream s = query("x", o);
  unsetenv("CLAUDECODE");
  drain(s);
  JsonView inv = parse_json([&] {
    std::ifstream in(dump);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }());
  std::remove(dump.c_str());
  auto args = build_cli_args(o);
  REQUIRE(inv["argv"].size() == args.size() + 1);
  CHECK(inv["argv"][0].string_or() == CCB_FAKE_CLI);
  for (std::size_t i = 0; i < args.size(); ++i) CHECK(inv["argv"][i + 1].string_or() == args[i]);
  CHECK(inv["cwd"].string_or() == "/tmp");
  CHECK(inv["env"]["PWD"].string_or() == "/tmp");
  CHECK(inv["env"]["EXTRA"].string_or() == "1");
  CHECK(inv["env"]["CLAUDE_CODE_ENTRYPOINT"].string_or() == "sdk-cli");
  CHECK_FALSE(inv["env"]["CLAUDECODE"].exists());
}

TEST_CASE("fake-cli: Options::cwd_dir starts the CLI in the directory opened, not where its path points now")
{
  NoLeftovers guard;
  std::string base = tmp_path("cwd_dir");
  std::string dir = base + "/d", moved = base + "/moved", elsewhere = base + "/elsewhere";
  REQUIRE(mkdir(base.c_str(), 0700) == 0);
  REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  REQUIRE(mkdir(elsewhere.c_str(), 0700) == 0);
  DirectoryHandle h = open_directory_nofollow(dir);
  CHECK(h.path() == dir);
  CHECK(fcntl(h.native_handle(), F_GETFD) == FD_CLOEXEC);
  // The path now names a symlink to another directory; the handle still is the directory opened.
  REQUIRE(rename(dir.c_str(), moved.c_str()) == 0);
  REQUIRE(symlink(elsewhere.c_str(), dir.c_str()) == 0);
  std::string dump = tmp_path("cwd_dir.json");
  Options o = fake("dump_invocation " + dump + "\nwait_user\nexit 0");
  o.cwd_dir = h;
  Stream s = query("x", o);
  drain(s);
  std::ifstream in(dump);
  std::stringstream ss;
  ss << in.rdbuf();
  JsonView inv = parse_json(ss.str());
  CHECK(inv["cwd"].string_or() == moved);
  CHECK(inv["env"]["PWD"].string_or() == dir);  // PWD names the path it was opened by
  // A symlink anywhere on the path is refused, never followed; so is a missing directory.
  CHECK_THROWS_AS(open_directory_nofollow(dir), Error);
  CHECK_THROWS_AS(open_directory_nofollow(dir + "/x"), Error);
  CHECK_THROWS_AS(open_directory_nofollow(base + "/nothing"), Error);
  CHECK_THROWS_AS(open_directory_nofollow("relative"), Error);
  for (const std::string &p : {dump, dir, moved, elsewhere, base}) std::remove(p.c_str());
}

TEST_CASE("fake-cli: the prompt is written as one user message line, then stdin is closed")
{
  NoLeftovers guard;
  const std::string prompt = "multi\nline \"quoted\" caf\xc3\xa9 \\ end";
  Stream s = query(prompt, fake("echo_stdin_lines"));
  auto msgs = drain(s);
  REQUIRE(msgs.size() == 1);  // echo_stdin_lines returns at EOF, so stdin was closed
  JsonView user = parse_json(msgs[0].json()["line"].string_or());
  CHECK(user["type"].string_or() == "user");
  CHECK(user["message"]["role"].string_or() == "user");
  CHECK(user["message"]["content"].string_or() == prompt);
  CHECK(user["parent_tool_use_id"].is_null());
  CHECK_THROWS_AS(query(std::string("bad \xff utf8"), fake("")), Error);
}

TEST_CASE("fake-cli: spawn failures are three distinct errors")
{
  NoLeftovers guard;
  Options o = fake("");
  o.cwd = "/definitely/missing/dir";
  try {
    query("x", o);
    FAIL("expected an error");
  } catch (const Error &e) {
    CHECK(e.code() == errc::cwd_not_found);
    CHECK(std::string(e.what()).find("/definitely/missing/dir") != std::string::npos);
  }
  o = fake("");
  o.cli_path = "/definitely/missing/claude";
  try {
    query("x", o);
    FAIL("expected an error");
  } catch (const Error &e) {
    CHECK(e.code() == errc::cli_not_found);
  }
  o.cli_path = CCB_FIXTURES_DIR "/transcripts/INDEX.md";  // exists, not executable
  try {
    query("x", o);
    FAIL("expected an error");
  } catch (const Error &e) {
    CHECK(e.code() == errc::spawn_failed);
  }
  o = fake("");
  o.cwd = CCB_FIXTURES_DIR "/transcripts/INDEX.md";  // a file, not a directory
  CHECK_THROWS_AS(query("x", o), Error);
}

TEST_CASE("fake-cli: non-zero exit gives ProcessError with exit code, stderr tail and the error result")
{
  NoLeftovers guard;
  Stream s = query("x", fake("wait_user\n"
                             "emit {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":500,"
                             "\"result\":\"API Error: 500 boom\",\"session_id\":\"s\"}\n"
                             "stderr something went wrong\n"
                             "exit 1"));
  std::vector<Message> got;
  try {
    for (const Message &m : s) got.push_back(m);
    FAIL("expected ProcessError");
  } catch (const ProcessError &e) {
    CHECK(e.code() == errc::process_failed);
    CHECK(e.exit_code() == 1);
    CHECK(e.signal() == 0);
    CHECK(e.stderr_tail().find("something went wrong") != std::string::npos);
    REQUIRE(e.last_error_result().has_value());
    CHECK(e.last_error_result()->api_error_status() == 500);
    std::string what = e.what();
    CHECK(what.find("[ccbridge.process_failed]") == 0);
    CHECK(what.find("exit code 1") != std::string::npos);
    CHECK(what.find("API status 500") != std::string::npos);
    CHECK(what.find("API Error: 500 boom") != std::string::npos);
    CHECK(what.find("What to do") != std::string::npos);
  }
  CHECK(got.size() == 1);  // the result was delivered before the error
  CHECK_FALSE(s.next().has_value());  // thrown once
}

TEST_CASE("fake-cli: a crash by signal is reported with the signal")
{
  NoLeftovers guard;
  Stream s = query("x", fake("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nkill 11"));
  try {
    drain(s);
    FAIL("expected ProcessError");
  } catch (const ProcessError &e) {
    CHECK(e.signal() == SIGSEGV);
    CHECK(std::string(e.what()).find("SIGSEGV") != std::string::npos);
  }
  CHECK(s.outcome().messages == 1);
}

TEST_CASE("fake-cli: a hanging CLI: pull times out, close() ends it with the ladder")
{
  NoLeftovers guard;
  Stream s = query("x", fake("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nhang"));
  int pid = s.pid();
  Message m;
  CHECK(s.pull(m, 5s) == PullStatus::message);
  CHECK(m.is_system("init"));
  CHECK(s.pull(m, 50ms) == PullStatus::timeout);
  auto t0 = std::chrono::steady_clock::now();
  s.close();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 3s);
  CHECK(s.outcome().error == errc::cancelled);
  CHECK(s.outcome().exit.signal == SIGTERM);
  CHECK(s.pull(m, 10ms) == PullStatus::end);
  CHECK_FALSE(alive(pid));
  s.close();  // idempotent
}

TEST_CASE("fake-cli: cancel() returns at once and the end is reported to the callback")
{
  NoLeftovers guard;
  Stream s = query("x", fake("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nignore_sigterm\nhang"));
  int pid = s.pid();
  std::mutex mu;
  std::condition_variable cv;
  bool ended = false;
  int messages = 0;
  RunOutcome seen;
  s.on_message([&](const Message &) { std::lock_guard<std::mutex> lk(mu); ++messages; cv.notify_all(); },
               [&](const RunOutcome &o) {
                 std::lock_guard<std::mutex> lk(mu);
                 ended = true;
                 seen = o;
                 cv.notify_all();
               });
  {
    std::unique_lock<std::mutex> lk(mu);
    REQUIRE(cv.wait_for(lk, 5s, [&] { return messages == 1; }));
  }
  s.cancel();
  s.cancel();  // idempotent
  // Returned before the ladder's end (the CLI ignores SIGTERM; its SIGKILL comes >= 600 ms in):
  // the ladder runs elsewhere.
  std::unique_lock<std::mutex> lk(mu);
  CHECK_FALSE(ended);
  CHECK(alive(pid));
  REQUIRE(cv.wait_for(lk, 5s, [&] { return ended; }));
  CHECK(seen.error == errc::cancelled);
  CHECK(seen.exit.signal == SIGKILL);  // it ignored SIGTERM
  CHECK_FALSE(alive(pid));
}

TEST_CASE("fake-cli: cancel() stops a run with SIGTERM after ShutdownPolicy::cancel_grace, not exit_wait")
{
  NoLeftovers guard;
  Options o = fake("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nhang");
  o.shutdown.exit_wait = 5s;
  o.shutdown.term_wait = 5s;
  o.shutdown.cancel_grace = 200ms;
  Stream s = query("x", o);
  int pid = s.pid();
  Message m;
  REQUIRE(s.pull(m, 5s) == PullStatus::message);
  auto t0 = std::chrono::steady_clock::now();
  s.cancel();
  const RunOutcome &end = s.wait();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(end.error == errc::cancelled);
  CHECK(end.exit.signal == SIGTERM);
  CHECK(took >= 200ms);
  CHECK(took < 3s);
  CHECK_FALSE(alive(pid));
}

TEST_CASE("fake-cli: close() keeps the graceful ladder: SIGTERM only after exit_wait")
{
  NoLeftovers guard;
  Options o = fake("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nhang");
  o.shutdown.exit_wait = 600ms;
  o.shutdown.cancel_grace = 0ms;
  Stream s = query("x", o);
  Message m;
  REQUIRE(s.pull(m, 5s) == PullStatus::message);
  auto t0 = std::chrono::steady_clock::now();
  s.close();
  CHECK(std::chrono::steady_clock::now() - t0 >= 600ms);
  CHECK(s.outcome().exit.signal == SIGTERM);
}

TEST_CASE("fake-cli: a CLI that ignores SIGTERM is killed with SIGKILL")
{
  NoLeftovers guard;
  Stream s = query("x", fake("ignore_sigterm\nwait_user\nhang"));
  int pid = s.pid();
  s.close();
  CHECK(s.outcome().exit.signal == SIGKILL);
  CHECK_FALSE(alive(pid));
}

TEST_CASE("fake-cli: garbage, invalid UTF-8, bad JSON and oversize lines fail only their line")
{
  NoLeftovers guard;
  Options o = fake("wait_user\n"
                   "emit [debug] not json\n"
                   "emit_raw {\"a\":\"\\xff\"}\\n\n"
                   "emit {\"type\":\"broken\"\n"
                   "big_line 5000\n"
                   "emit {\"type\":\"system\",\"subtype\":\"init\"}\n"
                   "exit 0");
  o.max_line_bytes = 1000;
  Stream s = query("x", o);
  auto msgs = drain(s);
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[0].line_error().code == errc::invalid_utf8);
  CHECK(msgs[1].line_error().code == errc::parse_error);
  CHECK(msgs[2].line_error().code == errc::line_too_long);
  CHECK(msgs[2].line_error().size == 5000);
  CHECK(msgs[2].raw().size() <= 1024);
  CHECK(msgs[3].is_system("init"));
  CHECK(s.outcome().ok());
  CHECK(s.outcome().invalid_lines == 3);
  CHECK(s.outcome().skipped_lines == 1);
}

TEST_CASE("fake-cli: transcript_mirror frames reach only a run that asked for them (Options::session_mirror)")
{
  NoLeftovers guard;
  const std::string script = "wait_user\n"
                             "emit {\"type\":\"transcript_mirror\",\"filePath\":\"/p/s.jsonl\",\"entries\":[{\"type\":\"user\"}]}\n"
                             "emit {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false}\n"
                             "emit {\"type\":\"transcript_mirror\",\"filePath\":\"/p/s.jsonl\",\"entries\":[]}\n"
                             "exit 0";
  auto types = [](const std::vector<Message> &msgs) {
    std::vector<std::string> out;
    for (const auto &m : msgs) out.emplace_back(m.type_name());
    return out;
  };
  SUBCASE("not asked for: dropped")
  {
    Stream s = query("x", fake(script));
    CHECK(types(drain(s)) == std::vector<std::string>{"result"});
    CHECK(s.outcome().messages == 1);
  }
  SUBCASE("asked for, no callback: messages of an unknown type")
  {
    Options o = fake(script);
    o.session_mirror = true;
    Stream s = query("x", o);
    auto msgs = drain(s);
    CHECK(types(msgs) == std::vector<std::string>{"transcript_mirror", "result", "transcript_mirror"});
    CHECK(msgs[0].type() == MessageType::unknown);
    CHECK(msgs[0].json()["filePath"].string_or() == "/p/s.jsonl");
  }
  SUBCASE("asked for, with a callback: to the callback only, in order, even one that throws")
  {
    Options o = fake(script);
    o.session_mirror = true;
    std::mutex mu;
    std::vector<std::size_t> entries;
    o.transcript_mirror_callback = [&](const Message &frame) {
      std::lock_guard<std::mutex> lk(mu);
      entries.push_back(frame.json()["entries"].size());
      throw std::runtime_error("ignored");
    };
    Stream s = query("x", o);
    CHECK(types(drain(s)) == std::vector<std::string>{"result"});
    std::lock_guard<std::mutex> lk(mu);
    CHECK(entries == std::vector<std::size_t>{1, 0});
    CHECK(s.outcome().ok());
  }
}

TEST_CASE("fake-cli: lines split across writes and slow output arrive intact")
{
  NoLeftovers guard;
  Stream s = query("x", fake("wait_user\n"
                             "split 3 2 {\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"caf\xc3\xa9 split\"}]}}\n"
                             "sleep 200\n"
                             "emit {\"type\":\"result\",\"subtype\":\"success\"}"));
  Message m;
  REQUIRE(s.pull(m, 5s) == PullStatus::message);
  CHECK(m.text() == "caf\xc3\xa9 split");
  CHECK(s.pull(m, 20ms) == PullStatus::timeout);
  CHECK(s.pull(m, 5s) == PullStatus::message);
  CHECK(m.is(MessageType::result));
  CHECK(s.pull(m, 5s) == PullStatus::end);
}

TEST_CASE("fake-cli: a grandchild in the process group is cleaned up when the CLI exits")
{
  NoLeftovers guard;
  std::string pidfile = tmp_path("grandchild.pid");
  std::remove(pidfile.c_str());
  Stream s = query("x", fake("grandchild " + pidfile + "\nwait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nexit 0"));
  auto t0 = std::chrono::steady_clock::now();
  auto msgs = drain(s);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(msgs.size() == 1);
  int gc = read_pidfile(pidfile);
  std::remove(pidfile.c_str());
  REQUIRE(gc > 0);
  // The grandchild is reparented away from us; it must be dead (allow init a moment to reap).
  for (int i = 0; i < 100 && alive(gc); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(alive(gc));
  CHECK(s.outcome().ok());
}

TEST_CASE("fake-cli: a CLI that closes stdout but keeps running is stopped by the ladder")
{
  NoLeftovers guard;
  Stream s = query("x", fake("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nclose_stdout\nhang"));
  int pid = s.pid();
  std::vector<Message> got;
  try {
    for (const Message &m : s) got.push_back(m);
    FAIL("expected ProcessError");
  } catch (const ProcessError &e) {
    CHECK(e.signal() == SIGTERM);
    // ccbridge's own signal, and why: not "was killed by signal 15".
    CHECK(std::string(e.what()).find("closed its stdout but kept running; ccbridge stopped it with SIGTERM after "
                                     "ShutdownPolicy::exit_wait") != std::string::npos);
  }
  CHECK(got.size() == 1);
  CHECK_FALSE(alive(pid));
}

TEST_CASE("fake-cli: stderr is always drained and only its tail is kept")
{
  NoLeftovers guard;
  Options o = fake("wait_user\nstderr_flood 8000000\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nstderr last words\nexit 0");
  o.stderr_tail_bytes = 4096;
  std::atomic<int> lines{0};
  o.stderr_callback = [&](std::string_view) { ++lines; };
  Stream s = query("x", o);
  auto msgs = drain(s);
  CHECK(msgs.size() == 1);
  CHECK(lines.load() == 80001);
  CHECK(s.outcome().stderr_tail.size() <= 4096);
  CHECK(s.outcome().stderr_tail.find("last words") != std::string::npos);
}

TEST_CASE("fake-cli: backpressure keeps order and loses nothing when the consumer is slow")
{
  NoLeftovers guard;
  const std::string full_log = tmp_path("stdout_full");
  std::remove(full_log.c_str());
  constexpr std::size_t kLine = 300;
  Options o = fake("wait_user\nflood 20000 300\nexit 0");  // 6 MB: far more than the pipe (1 MiB) and the queue
  o.env["CCB_FAKE_STDOUT_FULL_LOG"] = full_log;
  o.max_buffered_messages = 8;
  o.max_buffered_bytes = 64 * 1024;
  // The queue is checked after each read: it may pass its limits by one read (and the line it completes).
  const std::size_t bound = o.max_buffered_bytes + read_chunk() + kLine;
  Stream s = query("x", o);
  // Nobody reads yet: the queue fills, reading stops, and the CLI must block on its full pipe, not us buffer.
  REQUIRE(wait_until([&] { return buffered(s).paused && fake_cli_blocked(full_log); }));
  const auto held = buffered(s);
  CHECK(held.bytes <= bound);
  CHECK(held.messages * kLine <= bound);
  std::int64_t expect = 0;
  for (const Message &m : s) {
    REQUIRE(m.json()["seq"].int64() == expect);
    ++expect;
  }
  CHECK(expect == 20000);
  // Over the whole run: no more, except that once the CLI has exited, what is left in its pipe (at
  // most the pipe's size, 1 MiB: F_SETPIPE_SZ in lib/process/spawn_posix.cpp) is read regardless.
  CHECK(buffered(s).peak_bytes <= bound + (1 << 20));
  std::remove(full_log.c_str());
}

TEST_CASE("fake-cli: callback consumption, in order, with one end call")
{
  NoLeftovers guard;
  Stream s = query("x", fake("wait_user\nflood 5000 200\nexit 0"));
  Message first;
  REQUIRE(s.pull(first, 5s) == PullStatus::message);  // some pulled first, the rest by callback
  std::atomic<std::int64_t> next{1};
  std::atomic<bool> in_order{true};
  std::atomic<int> ends{0};
  std::atomic<bool> deadlock_detected{false};
  s.on_message(
      [&](const Message &m) {
        if (m.json()["seq"].int64() != next.load()) in_order = false;
        ++next;
        if (next == 100) {
          try {
            s.next();
          } catch (const Error &e) {
            deadlock_detected = e.code() == errc::would_deadlock;
          }
        }
      },
      [&](const RunOutcome &o) {
        CHECK(o.ok());
        ++ends;
      });
  const RunOutcome &o = s.wait();
  CHECK(o.ok());
  CHECK(next.load() == 5000);
  CHECK(in_order.load());
  CHECK(ends.load() == 1);
  CHECK(deadlock_detected.load());
  Message m;
  CHECK_THROWS_AS(s.pull(m, 1ms), Error);
}

TEST_CASE("fake-cli: a CLI that never reads stdin cannot kill the host with SIGPIPE")
{
  NoLeftovers guard;
  std::string big(4 << 20, 'p');  // larger than any pipe buffer
  Stream s = query(big, fake("exit 0"));
  drain(s);
  CHECK(s.outcome().exit.code == 0);
}

TEST_CASE("fake-cli: destroying a Stream mid-run stops the CLI, and a runtime serves many runs")
{
  NoLeftovers guard;
  Runtime rt(2);
  int pid;
  {
    Stream s = query(rt, "x", fake("wait_user\nhang"));
    pid = s.pid();
    CHECK(alive(pid));
  }
  CHECK_FALSE(alive(pid));
  std::vector<Stream> many;
  for (int i = 0; i < 20; ++i) many.push_back(query(rt, "p" + std::to_string(i), fake("")));
  for (int i = 0; i < 20; ++i) {
    auto msgs = drain(many[static_cast<std::size_t>(i)]);
    REQUIRE(msgs.size() == 3);
    CHECK(msgs[1].text() == "echo: p" + std::to_string(i));
  }
}

TEST_CASE("fake-cli: the CLI dies with its host (parent-death signal)")
{
  // Run the ccbridge program on a hanging fake CLI, SIGKILL the program, and check the CLI died.
  std::string app = CCB_APP;
  pid_t host = fork();
  if (host == 0) {
    setenv("CCB_FAKE_SCRIPT_TEXT", "wait_user\nhang", 1);
    execl(app.c_str(), app.c_str(), "query", "--cli", CCB_FAKE_CLI, "hi", static_cast<char *>(nullptr));
    _exit(127);
  }
  REQUIRE(host > 0);
  // The host's child that runs the fake CLI (not, say, the short-lived child that probes cgroups).
  auto is_cli = [](int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0;
    std::getline(in, argv0, '\0');
    return argv0 == CCB_FAKE_CLI;
  };
  int cli = 0;
  for (int i = 0; i < 300 && cli == 0; ++i) {
    std::this_thread::sleep_for(10ms);
    std::string dir = "/proc/" + std::to_string(host) + "/task";
    if (DIR *d = opendir(dir.c_str())) {
      while (auto *e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream in(dir + "/" + e->d_name + "/children");
        for (int child = 0; cli == 0 && in >> child;)
          if (is_cli(child)) cli = child;
        if (cli) break;
      }
      closedir(d);
    }
  }
  REQUIRE(cli > 0);
  CHECK(alive(cli));
  kill(host, SIGKILL);
  int st;
  waitpid(host, &st, 0);
  for (int i = 0; i < 200 && alive(cli); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(alive(cli));
}

TEST_CASE("fake-cli: content-block prompts and invalid ones")
{
  NoLeftovers guard;
  Runtime rt;
  Stream s = query_content(rt, R"([{"type":"text","text":"block prompt"}])", fake("echo_stdin_lines"));
  auto msgs = drain(s);
  REQUIRE(msgs.size() == 1);
  JsonView user = parse_json(msgs[0].json()["line"].string_or());
  CHECK(user["message"]["content"][0]["text"].string_or() == "block prompt");
  CHECK_THROWS_AS(query_content(rt, R"({"type":"text"})", fake("")), Error);
  CHECK_THROWS_AS(query_content(rt, "[not json", fake("")), Error);
}

TEST_CASE("fake-cli: a Runtime destroyed before its streams keeps them working")
{
  NoLeftovers guard;
  auto rt = std::make_unique<Runtime>(1);
  Stream s = query(*rt, "still here", fake(""));
  rt.reset();
  auto msgs = drain(s);
  REQUIRE(msgs.size() == 3);
  CHECK(msgs[1].text() == "echo: still here");
}

TEST_CASE("fake-cli: running as another user")
{
  NoLeftovers guard;
  Options o = fake("");
  o.user = "no-such-user-ccbridge";
  try {
    query("x", o);
    FAIL("expected spawn_failed");
  } catch (const Error &e) {
    CHECK(e.code() == errc::spawn_failed);
    CHECK(std::string(e.what()).find("no-such-user-ccbridge") != std::string::npos);
  }
  if (getuid() != 0) return;  // switching users needs root
  std::string dump = "/tmp/ccb_user_test_" + std::to_string(getpid()) + ".json";
  o = fake("dump_invocation " + dump + "\nwait_user\nexit 0");
  o.user = "nobody";
  o.cwd = "/tmp";
  Stream s = query("x", o);
  drain(s);
  CHECK(s.outcome().ok());
  struct stat st {};
  REQUIRE(stat(dump.c_str(), &st) == 0);
  CHECK(st.st_uid != 0);  // the file was created by the switched user
  std::remove(dump.c_str());
}
