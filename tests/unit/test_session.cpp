// Session and the control layer against the scriptable fake CLI: multi-turn, control requests
// and their failures (timeouts, refusals, the process dying with requests pending), permission
// callbacks (allow, edited input, deny, asynchronous answers, cancellation), and a caller that
// stops reading.
#include "backpressure.hpp"
#include "children.hpp"
#include "fake_session.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace ccbridge;
using namespace std::chrono_literals;
using ccb_test::buffered;
using ccb_test::fake_cli_blocked;
using ccb_test::fake_session;
using ccb_test::NoLeftovers;
using ccb_test::read_all;
using ccb_test::read_chunk;
using ccb_test::wait_until;

namespace {

const Message *find_type(const std::vector<Message> &msgs, std::string_view type)
{
  for (const auto &m : msgs)
    if (m.type_name() == type) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("session: initialize, two turns in one process, a clean close")
{
  NoLeftovers guard;
  Runtime rt;
  Session s = Session::open(rt, fake_session("serve_turns"));
  CHECK(s.server_info()["pid"].int64() == s.pid());
  int pid = s.pid();
  s.send("first");
  auto turn1 = s.receive_response(5s);
  REQUIRE(!turn1.empty());
  CHECK(turn1.back().is(MessageType::result));
  CHECK(turn1.back().result_text() == std::optional<std::string_view>("echo: first"));
  s.send("second");
  auto turn2 = s.receive_response(5s);
  CHECK(turn2.back().result_text() == std::optional<std::string_view>("echo: second"));
  CHECK(s.pid() == pid);  // same process for both turns
  const RunOutcome &o = s.close();
  CHECK(o.ok());
  CHECK(o.exit.code == 0);  // the CLI ended on stdin EOF, no signal needed
  CHECK_THROWS_AS(s.send("after close"), Error);
}

TEST_CASE("session: initialize_fields add members to the initialize request, and bad ones are refused")
{
  NoLeftovers guard;
  Runtime rt;
  std::string log = "/tmp/ccb_session_init_" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  SessionOptions so = fake_session("serve_turns");
  so.options.env["CCB_FAKE_STDIN_LOG"] = log;
  so.initialize_fields = R"({"agents":{"r":{"description":"d","prompt":"p"}},"skills":["a"]})";
  {
    Session s = Session::open(rt, so);
    s.close();
  }
  std::string first_line = read_all(log).substr(0, read_all(log).find('\n'));
  std::remove(log.c_str());
  JsonView request = parse_json(first_line)["request"];
  CHECK(request["subtype"].string_or() == "initialize");
  CHECK(request["hooks"].is_null());
  CHECK(request["agents"].dump() == R"({"r":{"description":"d","prompt":"p"}})");
  CHECK(request["skills"].dump() == R"(["a"])");

  for (const char *bad : {"[1]", "{\"agents\":", R"({"hooks":{}})", R"({"subtype":"x"})"}) {
    so.initialize_fields = bad;
    CHECK_THROWS_WITH_AS(Session::open(rt, so), doctest::Contains("initialize_fields"), Error);
  }
  so.initialize_fields = R"({"agents":{}})";
  so.initialize = false;
  CHECK_THROWS_WITH_AS(Session::open(rt, so), doctest::Contains("keep SessionOptions::initialize true"), Error);
}

// The stdin lines a fake CLI session got: `script` run with the log on, `body` given the session.
template <class F> std::vector<JsonView> stdin_lines(Runtime &rt, SessionOptions so, F body)
{
  std::string log = "/tmp/ccb_session_lines_" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  so.options.env["CCB_FAKE_STDIN_LOG"] = log;
  {
    Session s = Session::open(rt, so);
    body(s);
    s.close();
  }
  std::string text = read_all(log);
  std::remove(log.c_str());
  std::vector<JsonView> out;
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    out.push_back(parse_json(text.substr(at, nl - at)));
  }
  return out;
}

TEST_CASE("session: forward_subagent_text goes last in initialize, and needs it")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("serve_turns");
  so.options.forward_subagent_text = true;
  so.initialize_fields = R"({"agents":{}})";
  auto lines = stdin_lines(rt, so, [](Session &) {});
  REQUIRE(!lines.empty());
  JsonView request = lines[0]["request"];
  CHECK(request.dump() == R"({"subtype":"initialize","hooks":null,"agents":{},"forwardSubagentText":true})");

  so.initialize_fields = R"({"forwardSubagentText":false})";
  CHECK_THROWS_WITH_AS(Session::open(rt, so), doctest::Contains("cannot set \"forwardSubagentText\""), Error);
  so.initialize_fields.clear();
  so.initialize = false;
  CHECK_THROWS_WITH_AS(Session::open(rt, so), doctest::Contains("forward_subagent_text"), Error);
  so.options.forward_subagent_text = false;
  CHECK_THROWS_WITH_AS(query("hi", [] {
                         Options o = fake_session("serve_turns").options;
                         o.forward_subagent_text = true;
                         return o;
                       }()),
                       doctest::Contains("open a Session"), Error);
}

TEST_CASE("session: verbatim_prompts and send's client_composed mark user messages")
{
  NoLeftovers guard;
  Runtime rt;
  auto composed = [](const std::vector<JsonView> &lines) {
    std::vector<std::string> out;
    for (const auto &l : lines)
      if (l["type"].string_or() == "user") out.push_back(l["client_composed"].dump());
    return out;
  };
  SessionOptions so = fake_session("serve_turns");
  auto both = [](Session &s) {
    s.send("plain");
    s.receive_response(5s);
    s.send_content(R"([{"type":"text","text":"composed"}])", true);
    s.receive_response(5s);
  };
  CHECK(composed(stdin_lines(rt, so, both)) == std::vector<std::string>{"", "true"});  // "": absent
  so.options.verbatim_prompts = true;
  CHECK(composed(stdin_lines(rt, so, both)) == std::vector<std::string>{"true", "true"});
}

TEST_CASE("session: stop_task, toggle_mcp_server, reconnect_mcp_server and rewind_files send the SDK's requests")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("control_answer stop_task {}\ncontrol_answer mcp_toggle {}\n"
                                   "control_answer mcp_reconnect {}\ncontrol_answer rewind_files {\"canRewind\":true}\n"
                                   "serve_turns");
  JsonView rewound;
  auto lines = stdin_lines(rt, so, [&](Session &s) {
    s.stop_task("task-1");
    s.toggle_mcp_server("srv", false);
    s.toggle_mcp_server("srv", true);
    s.reconnect_mcp_server("srv");
    rewound = s.rewind_files("u-1");
  });
  std::vector<std::string> requests;
  for (const auto &l : lines)
    if (l["type"].string_or() == "control_request" && l["request"]["subtype"].string_or() != "initialize")
      requests.push_back(l["request"].dump());
  CHECK(requests == std::vector<std::string>{
                        R"({"subtype":"stop_task","task_id":"task-1"})",
                        R"({"subtype":"mcp_toggle","serverName":"srv","enabled":false})",
                        R"({"subtype":"mcp_toggle","serverName":"srv","enabled":true})",
                        R"({"subtype":"mcp_reconnect","serverName":"srv"})",
                        R"({"subtype":"rewind_files","user_message_id":"u-1"})",
                    });
  CHECK(rewound.dump() == R"({"canRewind":true})");

  Session s = Session::open(rt, fake_session("serve_turns"));  // the fake refuses them by default
  CHECK_THROWS_WITH_AS(s.stop_task("task-1"), doctest::Contains("Unsupported control request subtype: stop_task"), Error);
  s.close();
}

TEST_CASE("session: a CLI that exits before answering initialize gives ProcessError with its outcome")
{
  NoLeftovers guard;
  Runtime rt;
  const char *result = R"({"type":"result","subtype":"error_during_execution","is_error":true,"session_id":"x",)"
                       R"("errors":["No conversation found with session ID: x"],"uuid":"u"})";
  SessionOptions so = fake_session(std::string("emit ") + result + "\nread_line\nexit 1");
  so.options.resume = "x";
  try {
    Session::open(rt, so);
    FAIL("open succeeded");
  } catch (const ProcessError &e) {
    CHECK(e.code() == make_error_code(errc::session_not_found));
    CHECK(e.exit_code() == 1);
    REQUIRE(e.last_error_result());
    CHECK(e.last_error_result()->errors().size() == 1);
  }
}

TEST_CASE("session: end_input lets the turn finish, delivers its messages, then the stream ends")
{
  NoLeftovers guard;
  Runtime rt;
  Session s = Session::open(rt, fake_session("serve_turns"));
  s.send("last one");
  s.end_input();
  s.end_input();  // idempotent
  CHECK_THROWS_AS(s.send("too late"), Error);
  std::vector<Message> got;
  Message m;
  while (s.messages().pull(m, 5s) == PullStatus::message) got.push_back(m);
  REQUIRE(!got.empty());
  CHECK(got.back().result_text() == std::optional<std::string_view>("echo: last one"));
  CHECK(s.messages().finished());
  CHECK(s.messages().outcome().exit.code == 0);  // it exited on EOF, no signal
  CHECK(s.close().ok());
}

TEST_CASE("session: control requests and their answers")
{
  NoLeftovers guard;
  Runtime rt;
  Session s = Session::open(rt, fake_session("serve_turns"));
  CHECK_NOTHROW(s.set_permission_mode("acceptEdits"));
  CHECK_NOTHROW(s.set_model("other-model"));
  CHECK_NOTHROW(s.set_model(std::nullopt));
  CHECK(s.mcp_status()["mcpServers"].is_array());
  CHECK(s.get_context_usage().is_object());
  CHECK(s.interrupt()["still_queued"].is_array());
  try {
    s.control("no_such_subtype", R"({"x":1})");
    FAIL("expected control_error");
  } catch (const Error &e) {
    CHECK(e.code() == errc::control_error);
    CHECK(std::string(e.what()).find("no_such_subtype") != std::string::npos);
  }
  CHECK_THROWS_AS(s.control("x", "[1]"), Error);
  CHECK_THROWS_AS(s.control("", "{}"), Error);
  s.send("still works");
  CHECK(s.receive_response(5s).back().result_text() == std::optional<std::string_view>("echo: still works"));
}

TEST_CASE("session: a control request the CLI never answers times out, and so does initialize")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("hang");  // never reads stdin
  so.initialize_timeout = 200ms;
  auto t0 = std::chrono::steady_clock::now();
  try {
    Session::open(rt, so);
    FAIL("expected a timeout");
  } catch (const Error &e) {
    CHECK(e.code() == errc::timeout);
    CHECK(std::string(e.what()).find("initialize") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);

  so.initialize = false;
  so.control_timeout = 200ms;
  Session s = Session::open(rt, so);
  CHECK_THROWS_WITH_AS(s.mcp_status(), doctest::Contains("timeout"), Error);
}

TEST_CASE("session: pending requests fail at once when the CLI dies")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("sleep 300\nstderr dying now\nexit 3");  // never answers
  so.initialize = false;
  so.control_timeout = 30s;
  Session s = Session::open(rt, so);
  auto t0 = std::chrono::steady_clock::now();
  try {
    s.interrupt();
    FAIL("expected closed");
  } catch (const Error &e) {
    CHECK(e.code() == errc::process_failed);  // the run's own failure is passed on
    CHECK(std::string(e.what()).find("exit code 3") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  CHECK_THROWS_AS(s.send("x"), Error);
  CHECK_THROWS_AS(s.mcp_status(), Error);
  CHECK(s.close().exit.code == 3);
}

TEST_CASE("session: unknown requests from the CLI get an error answer, never silence")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("send_control {\"subtype\":\"brand_new_thing\"}\n"
                                   "send_control {\"subtype\":\"can_use_tool\",\"tool_name\":\"Bash\",\"input\":{}}\n"
                                   "serve_turns");
  so.initialize = false;
  Session s = Session::open(rt, so);
  Message m;
  std::vector<Message> results;
  while (results.size() < 2 && s.messages().pull(m, 5s) == PullStatus::message) {
    if (m.type_name() == "fake_control_result") results.push_back(m);
  }
  REQUIRE(results.size() == 2);
  CHECK(results[0].json()["response"]["subtype"].string_or() == "error");
  CHECK(results[0].json()["response"]["error"].string_or().find("brand_new_thing") != std::string_view::npos);
  // No permission callback registered: a clear error, not a hang.
  CHECK(results[1].json()["response"]["subtype"].string_or() == "error");
  CHECK(results[1].json()["response"]["error"].string_or().find("can_use_tool") != std::string_view::npos);
}

TEST_CASE("session: can_use_tool allow, allow with edited input, and deny")
{
  NoLeftovers guard;
  Runtime rt;
  std::mutex mu;
  std::vector<PermissionRequest> seen;
  SessionOptions so = fake_session("permission_turn Bash {\"command\":\"ls\"}\n"
                                   "permission_turn Bash {\"command\":\"rm -rf /\"}\n"
                                   "permission_turn Write {\"file_path\":\"/tmp/x\",\"content\":\"a\"}\n"
                                   "wait_eof");
  so.can_use_tool = permission_function([&](const PermissionRequest &r) {
    std::lock_guard<std::mutex> lk(mu);
    seen.push_back(r);
    if (r.tool_name == "Write") return PermissionDecision::allow_with(R"({"file_path":"/tmp/x","content":"edited"})");
    if (r.input["command"].string_or() == "ls") return PermissionDecision::allow();
    return PermissionDecision::deny("not that one");
  });
  Session s = Session::open(rt, so);
  CHECK(s.server_info().exists());

  s.send("turn 1");
  auto t1 = s.receive_response(5s);
  const Message *res1 = find_type(t1, "user");
  REQUIRE(res1);
  CHECK(res1->content()[0].content_text().find("ran Bash") != std::string::npos);
  CHECK(res1->content()[0].content_text().find("\"ls\"") != std::string::npos);
  CHECK_FALSE(res1->content()[0].is_error());

  s.send("turn 2");
  auto t2 = s.receive_response(5s);
  const Message *res2 = find_type(t2, "user");
  REQUIRE(res2);
  CHECK(res2->content()[0].is_error());
  CHECK(res2->content()[0].content_text().find("not that one") != std::string::npos);
  REQUIRE(t2.back().permission_denials().size() == 1);
  CHECK(t2.back().permission_denials()[0].tool_name == "Bash");

  s.send("turn 3");
  auto t3 = s.receive_response(5s);
  const Message *res3 = find_type(t3, "user");
  REQUIRE(res3);
  CHECK(res3->content()[0].content_text().find("edited") != std::string::npos);

  std::lock_guard<std::mutex> lk(mu);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].tool_name == "Bash");
  CHECK(!seen[0].tool_use_id.empty());
  CHECK(seen[0].suggestions.is_array());
  CHECK(!seen[0].decision_reason.empty());
}

TEST_CASE("session: a slow permission callback blocks neither messages nor control requests")
{
  NoLeftovers guard;
  Runtime rt;
  std::atomic<bool> released{false};
  SessionOptions so = fake_session("permission_turn Bash {\"command\":\"ls\"}\nwait_eof");
  so.can_use_tool = [&](const PermissionRequest &, PermissionReply reply) {
    // Answer later, from another thread.
    std::thread([reply, &released] {
      while (!released.load()) std::this_thread::sleep_for(5ms);
      reply(PermissionDecision::allow());
    }).detach();
  };
  Session s = Session::open(rt, so);
  s.send("go");
  Message m;
  do {  // the turn's init, then the tool_use, arrive while the callback waits
    REQUIRE(s.messages().pull(m, 5s) == PullStatus::message);
  } while (m.is(MessageType::system));
  CHECK(m.is(MessageType::assistant));
  CHECK(m.content()[0].type() == BlockType::tool_use);
  CHECK(s.mcp_status()["mcpServers"].is_array());  // control still answered while it waits
  released = true;
  auto rest = s.receive_response(5s);
  CHECK(rest.back().is(MessageType::result));
  CHECK_FALSE(rest.back().is_error());
}

TEST_CASE("session: an interrupt while a permission is pending cancels it and no answer is sent")
{
  NoLeftovers guard;
  Runtime rt;
  std::string log = "/tmp/ccb_session_stdin_" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  std::atomic<bool> asked{false};
  std::atomic<bool> saw_cancel{false};
  SessionOptions so = fake_session("permission_turn Bash {\"command\":\"sleep 100\"}\nwait_eof");
  so.options.env["CCB_FAKE_STDIN_LOG"] = log;
  so.can_use_tool = [&](const PermissionRequest &, PermissionReply reply) {
    asked = true;
    auto t0 = std::chrono::steady_clock::now();
    while (!reply.cancelled() && std::chrono::steady_clock::now() - t0 < 5s) std::this_thread::sleep_for(5ms);
    saw_cancel = reply.cancelled();
    reply(PermissionDecision::allow());  // too late: must be dropped
  };
  Session s = Session::open(rt, so);
  s.send("go");
  Message m;
  REQUIRE(s.messages().pull(m, 5s) == PullStatus::message);
  REQUIRE(wait_until([&] { return asked.load(); }));  // the can_use_tool request is pending
  s.interrupt();
  auto rest = s.receive_response(5s);
  CHECK(rest.back().is(MessageType::result));
  CHECK(rest.back().terminal_reason().has_value());
  CHECK(wait_until([&] { return saw_cancel.load(); }));
  s.close();
  std::string stdin_log = read_all(log);
  std::remove(log.c_str());
  CHECK(stdin_log.find("\"interrupt\"") != std::string::npos);
  CHECK(stdin_log.find("\"behavior\"") == std::string::npos);  // no answer to the cancelled request
}

TEST_CASE("session: a permission callback that throws or forgets to answer gives the CLI an error")
{
  NoLeftovers guard;
  Runtime rt;
  std::atomic<int> calls{0};
  SessionOptions so = fake_session("send_control {\"subtype\":\"can_use_tool\",\"tool_name\":\"A\",\"input\":{},\"tool_use_id\":\"t1\"}\n"
                                   "send_control {\"subtype\":\"can_use_tool\",\"tool_name\":\"B\",\"input\":{},\"tool_use_id\":\"t2\"}\n"
                                   "serve_turns");
  so.initialize = false;
  so.can_use_tool = [&](const PermissionRequest &r, PermissionReply) {
    ++calls;
    if (r.tool_name == "A") throw std::runtime_error("boom in callback");
    // B: drop the reply without answering
  };
  Session s = Session::open(rt, so);
  std::vector<Message> results;
  Message m;
  while (results.size() < 2 && s.messages().pull(m, 5s) == PullStatus::message) {
    if (m.type_name() == "fake_control_result") results.push_back(m);
  }
  REQUIRE(results.size() == 2);
  CHECK(results[0].json()["response"]["error"].string_or().find("boom in callback") != std::string_view::npos);
  CHECK(results[1].json()["response"]["error"].string_or().find("did not answer") != std::string_view::npos);
  CHECK(calls.load() == 2);
}

TEST_CASE("session: a caller that stops reading does not block control requests")
{
  NoLeftovers guard;
  Runtime rt;
  const std::string full_log = "/tmp/ccb_session_stdout_full_" + std::to_string(getpid()) + ".log";
  std::remove(full_log.c_str());
  constexpr std::size_t kLine = 400;
  SessionOptions so = fake_session("wait_user\nflood 5000 400\nserve_turns");  // 2 MB: more than the pipe (1 MiB)
  so.options.env["CCB_FAKE_STDOUT_FULL_LOG"] = full_log;
  so.options.max_buffered_messages = 8;
  Session s = Session::open(rt, so);
  s.send("flood please");
  // Thousands of unread messages now sit in front of any answer: the queue is full, reading stopped
  // and the CLI waits on its full pipe. What is held stays bounded: the queue may pass its limit by
  // one read (and the line it completes).
  REQUIRE(wait_until([&] { return buffered(s.messages()).paused && fake_cli_blocked(full_log); }));
  CHECK(buffered(s.messages()).bytes <= so.options.max_buffered_messages * kLine + read_chunk() + kLine);
  CHECK(s.mcp_status()["mcpServers"].is_array());
  CHECK(s.interrupt().is_object());
  // Nothing was lost: every flooded message is still there, in order.
  std::int64_t seq = 0;
  Message m;
  while (seq < 5000 && s.messages().pull(m, 5s) == PullStatus::message) {
    if (m.type_name() == "stream_event") REQUIRE(m.json()["seq"].int64() == seq++);
  }
  CHECK(seq == 5000);
  std::remove(full_log.c_str());
}

TEST_CASE("session: spawn failures are reported and leave nothing behind")
{
  NoLeftovers guard;
  Runtime rt;
  SessionOptions so = fake_session("serve_turns");
  so.options.cli_path = "/nonexistent/claude";
  CHECK_THROWS_AS(Session::open(rt, so), Error);
  so = fake_session("serve_turns");
  so.options.cwd = "/nonexistent/dir";
  try {
    Session::open(rt, so);
    FAIL("expected cwd_not_found");
  } catch (const Error &e) {
    CHECK(e.code() == errc::cwd_not_found);
  }
  // (Under AddressSanitizer a leaked Session state would fail this test at exit.)
}

namespace {

// A session whose graceful ladder would take seconds and whose cancel ladder takes 200 ms.
SessionOptions cancel_session(const std::string &script, const std::string &stdin_log)
{
  SessionOptions so = fake_session(script);
  so.options.env["CCB_FAKE_STDIN_LOG"] = stdin_log;
  so.options.shutdown.exit_wait = 5s;
  so.options.shutdown.term_wait = 5s;
  so.options.shutdown.cancel_grace = 200ms;
  return so;
}

std::string stdin_log_path(const char *name)
{
  std::string log = "/tmp/ccb_session_" + std::string(name) + "_" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  return log;
}

// A session in its first turn: the fake has emitted its init, then runs `rest` of the script.
Session open_mid_turn(Runtime &rt, const std::string &rest, const std::string &stdin_log)
{
  Session s = Session::open(rt, cancel_session("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\n" + rest,
                                               stdin_log));
  s.send("go");
  Message m;
  REQUIRE(s.messages().pull(m, 5s) == PullStatus::message);
  return s;
}

}  // namespace

TEST_CASE("session: cancel sends an interrupt, then SIGTERM after ShutdownPolicy::cancel_grace")
{
  NoLeftovers guard;
  Runtime rt;
  std::string log = stdin_log_path("cancel");
  // The fake answers the interrupt and sees stdin end, then keeps running: only a signal ends it.
  Session s = open_mid_turn(rt, "wait_eof\nhang", log);
  int pid = s.pid();
  auto t0 = std::chrono::steady_clock::now();
  s.messages().cancel();
  const RunOutcome &o = s.messages().wait();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(o.error == errc::cancelled);
  CHECK(o.exit.signal == SIGTERM);
  CHECK(took >= 200ms);  // the grace was given
  CHECK(took < 3s);      // not exit_wait (5 s)
  CHECK(kill(pid, 0) != 0);
  // The fake logs what it reads, and a signalled process reads no more: the interrupt came first.
  std::string stdin_log = read_all(log);
  std::remove(log.c_str());
  CHECK(stdin_log.find("\"subtype\":\"interrupt\"") != std::string::npos);
}

TEST_CASE("session: a CLI that stops on the interrupt and exits at EOF is not signalled by a cancel")
{
  NoLeftovers guard;
  Runtime rt;
  std::string log = stdin_log_path("cancel_clean");
  Session s = open_mid_turn(rt, "wait_eof\nexit 0", log);
  s.messages().cancel();
  const RunOutcome &o = s.messages().wait();
  std::remove(log.c_str());
  CHECK(o.error == errc::cancelled);  // the caller's stop, whatever the CLI did
  CHECK(o.exit.signal == 0);
  CHECK(o.exit.code == 0);
}

TEST_CASE("session: a cancel cuts a graceful close short")
{
  NoLeftovers guard;
  Runtime rt;
  std::string log = stdin_log_path("cancel_close");
  // `hang` reads nothing more: stdin's end does not stop it, so the graceful ladder would wait exit_wait.
  Session s = open_mid_turn(rt, "hang", log);
  std::promise<RunOutcome> ended;
  auto t0 = std::chrono::steady_clock::now();
  s.close_async([&ended](const RunOutcome &o) { ended.set_value(o); });
  s.messages().cancel();
  auto f = ended.get_future();
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  RunOutcome o = f.get();
  std::remove(log.c_str());
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(o.exit.signal == SIGTERM);
}

// ---- end_input_when_done: stdin stays open until the run is over ------------------------------

namespace {

const char *const kRunning =
    R"(emit {"type":"system","subtype":"session_state_changed","state":"running","sdk_host_only":true})";
const char *const kIdle = R"(emit {"type":"system","subtype":"session_state_changed","state":"idle","sdk_host_only":true})";
// What the fake CLI writes once its stdin is closed: proof that the session closed it.
const char *const kAfterEof = "wait_eof\nemit {\"type\":\"fake_saw_eof\"}\nexit 0";

// Runs a one-shot turn the official SDK's way: send, end_input_when_done, read to the end.
std::vector<Message> one_shot(SessionOptions so, std::atomic<int> &asked,
                              std::optional<std::chrono::milliseconds> ceiling = std::nullopt)
{
  so.can_use_tool = permission_function([&](const PermissionRequest &) {
    ++asked;
    return PermissionDecision::allow();
  });
  Runtime rt;
  Session s = Session::open(rt, so);
  s.send("go");
  s.end_input_when_done(ceiling);
  CHECK_THROWS_AS(s.send("too late"), Error);
  std::vector<Message> got;
  Message m;
  while (s.messages().pull(m, 10s) == PullStatus::message) got.push_back(m);
  CHECK(s.messages().finished());
  CHECK(s.close().exit.code == 0);  // it exited on EOF, no signal
  return got;
}

std::size_t count_type(const std::vector<Message> &msgs, std::string_view type)
{
  std::size_t n = 0;
  for (const auto &m : msgs) n += m.type_name() == type;
  return n;
}

}  // namespace

TEST_CASE("session: end_input_when_done keeps stdin for a turn woken after the result, until idle")
{
  NoLeftovers guard;
  std::atomic<int> asked{0};
  // The CLI reports "running" from the start of the turn. A background agent finishes a while
  // after the first result and wakes the CLI for a second turn, which asks for a permission:
  // stdin must still be open for the answer.
  auto got = one_shot(fake_session(std::string(kRunning) + "\npermission_turn Bash {\"command\":\"ls\"}\nsleep 200\n"
                                   "send_control {\"subtype\":\"can_use_tool\",\"tool_name\":\"Read\",\"input\":{},"
                                   "\"tool_use_id\":\"t2\"}\n"
                                   "emit {\"type\":\"result\",\"subtype\":\"success\",\"result\":\"second\"}\n" +
                                   kIdle + "\n" + kAfterEof),
                      asked);
  CHECK(asked == 2);
  CHECK(count_type(got, "fake_control_result") == 1);  // the second turn's answer arrived
  CHECK(count_type(got, "result") == 2);
  CHECK(count_type(got, "fake_saw_eof") == 1);  // and stdin was closed after "idle"
  for (const auto &m : got) CHECK(m.subtype() != "session_state_changed");  // asked for by ccbridge only
}

TEST_CASE("session: end_input_when_done, from a CLI that reports no state, ends at the result unless an agent runs")
{
  NoLeftovers guard;
  std::atomic<int> asked{0};
  auto got = one_shot(fake_session(std::string("permission_turn Bash {\"command\":\"ls\"}\n") + kAfterEof), asked);
  CHECK(asked == 1);
  CHECK(count_type(got, "fake_saw_eof") == 1);

  // An agent in flight at the result: its completion wakes a turn that needs stdin.
  asked = 0;
  got = one_shot(fake_session("emit {\"type\":\"system\",\"subtype\":\"task_started\",\"task_id\":\"a1\","
                              "\"task_type\":\"local_agent\"}\n"
                              "permission_turn Bash {\"command\":\"ls\"}\nsleep 200\n"
                              "emit {\"type\":\"system\",\"subtype\":\"task_notification\",\"task_id\":\"a1\","
                              "\"status\":\"completed\"}\n"
                              "send_control {\"subtype\":\"can_use_tool\",\"tool_name\":\"Read\",\"input\":{},"
                              "\"tool_use_id\":\"t2\"}\n"
                              "emit {\"type\":\"result\",\"subtype\":\"success\",\"result\":\"second\"}\n" +
                              std::string(kAfterEof)),
                 asked);
  CHECK(asked == 2);
  CHECK(count_type(got, "fake_control_result") == 1);
  CHECK(count_type(got, "fake_saw_eof") == 1);
}

TEST_CASE("session: end_input_when_done gives up waiting for idle after the ceiling")
{
  NoLeftovers guard;
  std::atomic<int> asked{0};
  // "running" after the result and never "idle": the ceiling ends the wait.
  auto got = one_shot(fake_session(std::string(kRunning) + "\npermission_turn Bash {\"command\":\"ls\"}\n" + kAfterEof),
                      asked, 100ms);
  CHECK(count_type(got, "fake_saw_eof") == 1);

  // Without callbacks nothing can be asked: stdin closes at once, before any result.
  Runtime rt;
  Session s = Session::open(rt, fake_session(std::string(kAfterEof)));
  s.end_input_when_done();
  std::vector<Message> plain;
  Message m;
  while (s.messages().pull(m, 10s) == PullStatus::message) plain.push_back(m);
  CHECK(count_type(plain, "fake_saw_eof") == 1);
  CHECK(s.close().exit.code == 0);
}
