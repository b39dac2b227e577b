// The non-blocking Session calls against the scriptable fake CLI: open_async, close_async and the
// *_async control requests answer on a ccbridge I/O thread with what their blocking twins return
// or throw, never block their caller (not even inside a message callback), and leave no process
// behind.
#include "children.hpp"
#include "core/runtime_guard.hpp"
#include "fake_session.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

using namespace ccbridge;
using namespace std::chrono_literals;
using ccb_test::alive;
using ccb_test::fake_session;
using ccb_test::my_children;
using ccb_test::NoLeftovers;
using ccb_test::read_all;

namespace {

/// A value set once on a ccbridge thread and awaited by the test, with a deadline.
template <class T> class Slot {
public:
  void set(T value)
  {
    std::lock_guard<std::mutex> lk(mu_);
    value_.emplace(std::move(value));
    cv_.notify_all();  // under the lock: the waiter may destroy the Slot as soon as it wakes
  }
  bool ready()
  {
    std::lock_guard<std::mutex> lk(mu_);
    return value_.has_value();
  }
  T take()
  {
    std::unique_lock<std::mutex> lk(mu_);
    REQUIRE(cv_.wait_for(lk, 20s, [this] { return value_.has_value(); }));
    return std::move(*value_);
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

struct Opened {
  std::optional<Error> error;
  std::optional<Session> session;
  bool on_caller_thread = false;
  bool no_children = false;  // when the callback ran
};

Opened open_async(Runtime &rt, SessionOptions so)
{
  Slot<Opened> slot;
  auto caller = std::this_thread::get_id();
  Session::open_async(rt, std::move(so), [&slot, caller](std::optional<Error> error, std::optional<Session> s) {
    slot.set({std::move(error), std::move(s), std::this_thread::get_id() == caller, my_children().empty()});
  });
  return slot.take();
}

struct Answer {
  std::optional<Error> error;
  JsonView response;
  bool on_caller_thread = false;
};

Answer ask(const std::function<void(Session::ControlCallback)> &start)
{
  Slot<Answer> slot;
  auto caller = std::this_thread::get_id();
  start([&slot, caller](std::optional<Error> error, JsonView response) {
    slot.set({std::move(error), std::move(response), std::this_thread::get_id() == caller});
  });
  return slot.take();
}

/// What a blocking call throws ("[ccbridge.<id>] ..."), to compare with its asynchronous twin.
std::string thrown_by(const std::function<void()> &call)
{
  try {
    call();
  } catch (const Error &e) {
    return e.what();
  }
  return "(nothing thrown)";
}

std::string what_of(const std::optional<Error> &e) { return e ? e->what() : "(no error)"; }

std::string temp_path(const std::string &what)
{
  return "/tmp/ccb_session_async_" + what + "_" + std::to_string(getpid());
}

}  // namespace

TEST_CASE("session async: open_async returns before the CLI answers initialize, then hands over the session")
{
  NoLeftovers guard;
  Runtime rt;
  std::string gate = temp_path("gate");
  std::remove(gate.c_str());
  Slot<Opened> slot;
  std::optional<std::string> inside;  // what a blocking call says inside the callback
  Session::open_async(rt, fake_session("wait_file " + gate + "\nserve_turns"),
                      [&](std::optional<Error> error, std::optional<Session> s) {
                        if (s) inside = thrown_by([&] { s->interrupt(); });
                        slot.set({std::move(error), std::move(s)});
                      });
  CHECK_FALSE(slot.ready());  // the fake CLI reads nothing (so answers nothing) before the gate opens
  std::ofstream(gate).put('\n');
  Opened o = slot.take();
  std::remove(gate.c_str());
  REQUIRE(o.session);
  CHECK_FALSE(o.error);
  REQUIRE(inside);
  CHECK(inside->find("[ccbridge.would_deadlock]") == 0);  // done runs on an I/O thread
  CHECK(o.session->server_info()["pid"].int64() == o.session->pid());
  o.session->send("hello");
  CHECK(o.session->receive_response(5s).back().result_text() == std::optional<std::string_view>("echo: hello"));
  CHECK(o.session->close().ok());
}

TEST_CASE("session async: open_async without initialize hands over the session once the CLI has started")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("serve_turns");
  so.initialize = false;
  Opened o = open_async(rt, so);
  REQUIRE(o.session);
  CHECK_FALSE(o.on_caller_thread);
  CHECK(o.session->pid() > 0);
  CHECK_FALSE(o.session->server_info().exists());
  o.session->send("hi");
  CHECK(o.session->receive_response(5s).back().result_text() == std::optional<std::string_view>("echo: hi"));
}

TEST_CASE("session async: open_async fails the way open() does, with no process left when it reports")
{
  NoLeftovers guard;
  Runtime rt;
  struct Case {
    const char *name;
    SessionOptions options;
    errc code;
  };
  std::vector<Case> cases;
  cases.push_back({"a missing CLI", fake_session("serve_turns"), errc::cli_not_found});
  cases.back().options.options.cli_path = "/nonexistent/claude";
  cases.push_back({"a missing cwd", fake_session("serve_turns"), errc::cwd_not_found});
  cases.back().options.options.cwd = "/nonexistent/dir";
  cases.push_back({"a tool without handler", fake_session("serve_turns"), errc::invalid_argument});
  cases.back().options.mcp_servers.push_back({"tools", "1.0.0", {Tool{"t", "", "{}", {}, {}, {}, {}}}});
  cases.push_back({"no answer to initialize", fake_session("hang"), errc::timeout});
  cases.back().options.initialize_timeout = 200ms;
  // (the sleep: the request is written before the CLI exits, in both runs)
  cases.push_back({"a CLI that dies first", fake_session("sleep 500\nstderr dying now\nexit 3"), errc::process_failed});
  for (const auto &c : cases) {
    CAPTURE(c.name);
    Opened o = open_async(rt, c.options);
    CHECK_FALSE(o.session);
    REQUIRE(o.error);
    CHECK(o.error->code() == c.code);
    CHECK_FALSE(o.on_caller_thread);
    CHECK(o.no_children);  // a failed open has reaped its CLI before it reports
    CHECK(what_of(o.error) == thrown_by([&] { Session::open(rt, c.options); }));
  }
  CHECK_THROWS_AS(Session::open_async(rt, fake_session("serve_turns"), {}), Error);
}

TEST_CASE("session async: control requests answer through their callbacks as the blocking forms do")
{
  NoLeftovers guard;
  Runtime rt;
  Session s = Session::open(rt, fake_session("serve_turns"));
  Answer a = ask([&](Session::ControlCallback done) { s.interrupt_async(std::move(done)); });
  CHECK_FALSE(a.error);
  CHECK_FALSE(a.on_caller_thread);
  CHECK(a.response["still_queued"].is_array());
  a = ask([&](Session::ControlCallback done) { s.set_permission_mode_async("acceptEdits", std::move(done)); });
  CHECK_FALSE(a.error);
  CHECK(a.response["mode"].string_or() == "acceptEdits");
  CHECK_FALSE(ask([&](Session::ControlCallback done) { s.set_model_async("other-model", std::move(done)); }).error);
  CHECK_FALSE(ask([&](Session::ControlCallback done) { s.set_model_async(std::nullopt, std::move(done)); }).error);
  a = ask([&](Session::ControlCallback done) { s.control_async("mcp_status", "{}", std::move(done)); });
  CHECK(a.response["mcpServers"].is_array());

  struct Bad {
    const char *subtype, *fields;
    errc code;
  };
  for (const Bad &b : {Bad{"no_such_subtype", R"({"x":1})", errc::control_error},
                       Bad{"x", "[1]", errc::invalid_argument}, Bad{"", "{}", errc::invalid_argument}}) {
    CAPTURE(b.subtype);
    a = ask([&](Session::ControlCallback done) { s.control_async(b.subtype, b.fields, std::move(done)); });
    REQUIRE(a.error);
    CHECK(a.error->code() == b.code);
    CHECK(what_of(a.error) == thrown_by([&] { s.control(b.subtype, b.fields); }));
  }
  s.send("still works");
  CHECK(s.receive_response(5s).back().result_text() == std::optional<std::string_view>("echo: still works"));
}

TEST_CASE("session async: control callbacks report a timeout and the end of the CLI as the blocking forms do")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("hang");
  so.initialize = false;
  so.control_timeout = 200ms;
  Session hung = Session::open(rt, so);
  Answer a = ask([&](Session::ControlCallback done) { hung.interrupt_async(std::move(done)); });
  CHECK(a.error->code() == errc::timeout);
  CHECK(what_of(a.error) == thrown_by([&] { hung.interrupt(); }));
  a = ask([&](Session::ControlCallback done) { hung.control_async("mcp_status", "{}", std::move(done), 100ms); });
  CHECK(a.error->code() == errc::timeout);

  so = fake_session("sleep 300\nstderr dying now\nexit 3");  // never answers
  so.initialize = false;
  so.control_timeout = 30s;
  Session dying = Session::open(rt, so);
  a = ask([&](Session::ControlCallback done) { dying.set_model_async("m", std::move(done)); });
  CHECK(a.error->code() == errc::process_failed);  // the run's own failure is passed on
  CHECK(what_of(a.error).find("exit code 3") != std::string::npos);
  a = ask([&](Session::ControlCallback done) { dying.set_permission_mode_async("plan", std::move(done)); });
  CHECK(a.error->code() == errc::closed);  // not sent: the CLI is gone
  CHECK(what_of(a.error) == thrown_by([&] { dying.set_permission_mode("plan"); }));
}

TEST_CASE("session async: requests made inside a message callback, and fire-and-forget ones, reach the CLI")
{
  NoLeftovers guard;
  Runtime rt;
  std::string log = temp_path("stdin");
  std::remove(log.c_str());
  SessionOptions so = fake_session("serve_turns");
  so.options.env["CCB_FAKE_STDIN_LOG"] = log;
  Slot<Answer> answered;
  Slot<std::string> blocking;
  Session s = Session::open(rt, so);
  s.messages().on_message([&](const Message &m) {
    if (!m.is(MessageType::result)) return;
    blocking.set(thrown_by([&] { s.set_model("blocked"); }));
    s.set_model_async("from-callback");  // no callback: fire and forget
    s.interrupt_async([&](std::optional<Error> error, JsonView response) { answered.set({error, response}); });
  });
  s.set_permission_mode_async("plan");
  s.send("go");
  CHECK(blocking.take().find("[ccbridge.would_deadlock]") == 0);
  Answer a = answered.take();
  CHECK_FALSE(a.error);
  CHECK(a.response["still_queued"].is_array());
  CHECK(s.close().ok());
  std::string stdin_log = read_all(log);
  std::remove(log.c_str());
  CHECK(stdin_log.find(R"("mode":"plan")") != std::string::npos);
  CHECK(stdin_log.find(R"("model":"from-callback")") != std::string::npos);
  CHECK(stdin_log.find(R"("model":"blocked")") == std::string::npos);
  CHECK(stdin_log.find(R"("mode":"plan")") < stdin_log.find(R"("type":"user")"));  // sent in order
}

TEST_CASE("session async: close_async from inside a message callback reports once the CLI is reaped")
{
  NoLeftovers guard;
  Runtime rt;
  struct Closed {
    RunOutcome outcome;
    bool no_children;
  };
  Slot<Closed> closed;
  Session s = Session::open(rt, fake_session("serve_turns"));
  s.messages().on_message([&](const Message &m) {
    if (!m.is(MessageType::result)) return;
    s.close_async([&](const RunOutcome &o) { closed.set({o, my_children().empty()}); });
  });
  s.send("bye");
  Closed c = closed.take();
  CHECK(c.no_children);
  CHECK(c.outcome.ok());
  CHECK(c.outcome.exit.code == 0);  // the CLI ended on stdin EOF, as after close()
  CHECK(c.outcome.messages == 3);
  CHECK_THROWS_AS(s.send("after close"), Error);
  CHECK(s.close().ok());  // still idempotent, and now returns at once
}

TEST_CASE("session async: close_async in a message callback while the owner's thread keeps sending")
{
  NoLeftovers guard;
  Runtime rt;
  Slot<RunOutcome> closed;
  std::atomic<bool> asked{false};
  Session s = Session::open(rt, fake_session("serve_turns"));
  s.messages().on_message([&](const Message &m) {
    if (m.is(MessageType::result) && !asked.exchange(true)) s.close_async([&](const RunOutcome &o) { closed.set(o); });
  });
  s.send("first");
  // Sends succeed until close_async takes effect on the I/O thread, then throw closed (no race).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    try {
      s.send("more");
    } catch (const Error &e) {
      CHECK(e.code() == errc::closed);
      break;
    }
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::yield();
  }
  CHECK(closed.take().ok());
}

TEST_CASE("session async: after close_async, destroying or assigning over a Session does not wait for the CLI")
{
  NoLeftovers guard;
  Runtime rt;
  // Ignores its stdin's end and SIGTERM: only the ladder's SIGKILL, 800 ms in, ends it.
  SessionOptions so = fake_session("ignore_sigterm\nwait_eof\nhang");
  RunOutcome blocking = Session::open(rt, so).close();
  CHECK(blocking.exit.signal == SIGKILL);

  for (bool assign : {false, true}) {
    CAPTURE(assign);
    Slot<RunOutcome> closed;
    std::optional<Session> s(Session::open(rt, so));
    Session other = Session::open(rt, fake_session("serve_turns"));
    int pid = s->pid();
    s->close_async([&](const RunOutcome &o) { closed.set(o); });
    if (assign) {
      *s = std::move(other);
    } else {
      s.reset();
    }
    // Back before the ladder's SIGKILL: the CLI is still there and its end not reported.
    CHECK(alive(pid));
    CHECK_FALSE(closed.ready());
    RunOutcome o = closed.take();
    CHECK(o.exit.signal == SIGKILL);
    CHECK(o.error == blocking.error);
    CHECK(o.message == blocking.message);  // the same ladder as close(), not a cancel
  }
}

TEST_CASE("session async: close_async of a session whose CLI has already exited reports at once")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("exit 4");
  so.initialize = false;
  Session s = Session::open(rt, so);
  Message m;
  while (s.messages().pull(m, 5s) == PullStatus::message) {
  }
  REQUIRE(s.messages().finished());
  Slot<RunOutcome> closed;
  s.close_async([&](const RunOutcome &o) { closed.set(o); });
  RunOutcome o = closed.take();
  CHECK(o.exit.code == 4);
  CHECK(o.error == errc::process_failed);
  Answer a = ask([&](Session::ControlCallback done) { s.interrupt_async(std::move(done)); });
  CHECK(what_of(a.error) == thrown_by([&] { s.interrupt(); }));
}

TEST_CASE("session async: on a thread that must not wait, the blocking calls refuse and the async ones work")
{
  NoLeftovers guard;
  Runtime rt;
  std::string interrupt_error, open_error;
  std::optional<Error> async_error;
  bool answered = false;
  std::thread server([&] {  // like the gateway's server thread
    detail::forbid_waiting_on_this_thread();
    open_error = thrown_by([&] { (void)Session::open(rt, fake_session("serve_turns")); });
    Opened o = [&] {
      Slot<Opened> slot;  // waits here only to keep the test short: a server would not
      Session::open_async(rt, fake_session("serve_turns"), [&slot](std::optional<Error> e, std::optional<Session> s) {
        slot.set({std::move(e), std::move(s)});
      });
      return slot.take();
    }();
    REQUIRE(o.session);
    interrupt_error = thrown_by([&] { o.session->interrupt(); });
    Answer a = ask([&](Session::ControlCallback done) { o.session->interrupt_async(std::move(done)); });
    async_error = a.error;
    answered = true;
    Slot<bool> closed;
    o.session->close_async([&closed](const RunOutcome &) { closed.set(true); });
    closed.take();  // only so that the test ends with no child: a server would not wait
  });
  server.join();
  CHECK(open_error.find("[ccbridge.would_deadlock]") == 0);
  CHECK(interrupt_error.find("[ccbridge.would_deadlock]") == 0);
  CHECK(answered);
  CHECK_FALSE(async_error);
}
