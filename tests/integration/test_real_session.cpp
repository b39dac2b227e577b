// Session against the pinned real CLI (offline, mock Messages API, loopback-only namespace).
#include "mock_api.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <thread>

using namespace ccbridge;
using namespace std::chrono_literals;

namespace {

SessionOptions real_session(const MockApi &api)
{
  SessionOptions so;
  so.options = api.options();
  so.control_timeout = 30s;
  return so;
}

bool exists(const std::string &path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

const Message *find(const std::vector<Message> &msgs, MessageType t)
{
  for (const auto &m : msgs)
    if (m.is(t)) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("real-cli session: two turns in one process")
{
  MockApi api;
  Runtime rt;
  Session s = Session::open(rt, real_session(api));
  CHECK(s.server_info()["pid"].int64().has_value());
  s.send("[[reply: first answer]]");
  auto t1 = s.receive_response(60s);
  CHECK(t1.back().result_text() == std::optional<std::string_view>("first answer"));
  int pid = s.pid();
  s.send("[[reply: second answer]]");
  auto t2 = s.receive_response(60s);
  CHECK(t2.back().result_text() == std::optional<std::string_view>("second answer"));
  CHECK(s.pid() == pid);
  CHECK(t1.back().session_id() == t2.back().session_id());
  const RunOutcome &o = s.close();
  CHECK(o.ok());
}

TEST_CASE("real-cli session: interrupt mid-stream, then a further turn")
{
  MockApi api;
  Runtime rt;
  SessionOptions so = real_session(api);
  so.options.include_partial_messages = true;
  Session s = Session::open(rt, so);
  s.send("[[slow: 100]]");
  Message m;
  // Wait until text is streaming, then interrupt.
  for (;;) {
    REQUIRE(s.messages().pull(m, 30s) == PullStatus::message);
    if (m.is(MessageType::stream_event) && m.event_type() == "content_block_delta") break;
  }
  s.interrupt();
  auto rest = s.receive_response(30s);
  const Message &r = rest.back();
  CHECK(r.is_error());
  CHECK(r.subtype() == "error_during_execution");
  CHECK(r.terminal_reason() == std::optional<std::string_view>("aborted_streaming"));
  s.send("[[reply: after the interrupt]]");
  auto next = s.receive_response(60s);
  CHECK(next.back().result_text() == std::optional<std::string_view>("after the interrupt"));
}

TEST_CASE("real-cli session: a cancel mid-stream stops the run at once, not after exit_wait")
{
  MockApi api;
  Runtime rt;
  SessionOptions so = real_session(api);
  so.options.include_partial_messages = true;
  so.options.shutdown.exit_wait = 5s;  // the graceful ladder's default: the turn would finish first
  Session s = Session::open(rt, so);
  s.send("[[slow: 250]]");  // about 10 s of streaming
  Message m;
  for (;;) {
    REQUIRE(s.messages().pull(m, 30s) == PullStatus::message);
    if (m.is(MessageType::stream_event) && m.event_type() == "content_block_delta") break;
  }
  auto t0 = std::chrono::steady_clock::now();
  s.messages().cancel();
  const RunOutcome &o = s.messages().wait();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(o.error == errc::cancelled);
  // The interrupt, then SIGTERM after cancel_grace (300 ms) if the CLI has not exited by then.
  CHECK(took < 2s);
  MESSAGE("cancel to reaped: " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                               << " ms; " << o.exit.describe());
}

TEST_CASE("real-cli session: can_use_tool allow, deny, and allow with an edited input")
{
  MockApi api;
  Runtime rt;
  std::mutex mu;
  std::vector<std::string> asked;
  SessionOptions so = real_session(api);
  so.can_use_tool = permission_function([&](const PermissionRequest &r) {
    std::string cmd(r.input["command"].string_or());
    {
      std::lock_guard<std::mutex> lk(mu);
      asked.push_back(r.tool_name + ": " + cmd);
    }
    if (cmd == "touch allowed.txt") return PermissionDecision::allow();
    if (cmd == "touch edited.txt") return PermissionDecision::allow_with(R"({"command":"touch rewritten.txt"})");
    return PermissionDecision::deny("denied by the test");
  });
  Session s = Session::open(rt, so);
  std::string dir = api.work_dir();

  s.send("[[bash: touch allowed.txt]]");
  auto t1 = s.receive_response(60s);
  CHECK_FALSE(t1.back().is_error());
  CHECK(exists(dir + "/allowed.txt"));

  s.send("[[bash: touch denied.txt]]");
  auto t2 = s.receive_response(60s);
  CHECK_FALSE(exists(dir + "/denied.txt"));
  REQUIRE(t2.back().permission_denials().size() == 1);
  const Message *denied = find(t2, MessageType::user);
  REQUIRE(denied);
  CHECK(denied->content()[0].is_error());
  CHECK(denied->content()[0].content_text().find("denied by the test") != std::string::npos);

  s.send("[[bash: touch edited.txt]]");
  auto t3 = s.receive_response(60s);
  CHECK(exists(dir + "/rewritten.txt"));
  CHECK_FALSE(exists(dir + "/edited.txt"));

  std::lock_guard<std::mutex> lk(mu);
  CHECK(asked.size() == 3);
}

TEST_CASE("real-cli session: end_input_when_done closes stdin once the CLI reports idle")
{
  // The pinned CLI reports its session state when asked (CLAUDE_CODE_SDK_READS_SESSION_STATE,
  // which ccbridge sets): frames marked sdk_host_only, which are not delivered, unless the
  // application asked for them too.
  for (bool app_asks : {false, true}) {
    CAPTURE(app_asks);
    MockApi api;
    Runtime rt;
    std::atomic<int> asked{0};
    SessionOptions so = real_session(api);
    if (app_asks) so.options.env["CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS"] = "1";
    so.can_use_tool = permission_function([&](const PermissionRequest &) {
      ++asked;
      return PermissionDecision::allow();
    });
    Session s = Session::open(rt, so);
    s.send("[[bash: touch one-shot.txt]]");
    s.end_input_when_done();
    std::vector<std::string> states;
    std::size_t results = 0;
    Message m;
    while (s.messages().pull(m, 60s) == PullStatus::message) {
      if (m.is_system("session_state_changed")) states.emplace_back(m.json()["state"].string_or());
      results += m.is(MessageType::result);
    }
    CHECK(s.messages().finished());
    CHECK(results == 1);
    CHECK(asked == 1);
    CHECK(exists(api.work_dir() + "/one-shot.txt"));
    CHECK(s.close().exit.code == 0);  // it exited on stdin EOF
    if (app_asks) {
      REQUIRE(!states.empty());
      CHECK(states.back() == "idle");
    } else {
      CHECK(states.empty());
    }
  }
}

TEST_CASE("real-cli session: an interrupt while a permission is pending cancels the request")
{
  MockApi api;
  Runtime rt;
  std::atomic<bool> asked{false};
  std::atomic<bool> cancelled{false};
  SessionOptions so = real_session(api);
  so.can_use_tool = [&](const PermissionRequest &, PermissionReply reply) {
    asked = true;
    for (int i = 0; i < 3000 && !reply.cancelled(); ++i) std::this_thread::sleep_for(5ms);
    cancelled = reply.cancelled();
    reply(PermissionDecision::allow());  // dropped: the CLI withdrew the request
  };
  Session s = Session::open(rt, so);
  s.send("[[bash: touch never.txt]]");
  for (int i = 0; i < 3000 && !asked; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(asked.load());
  s.interrupt();
  auto rest = s.receive_response(60s);
  CHECK(rest.back().is_error());
  for (int i = 0; i < 400 && !cancelled; ++i) std::this_thread::sleep_for(5ms);
  CHECK(cancelled.load());
  CHECK_FALSE(exists(api.work_dir() + "/never.txt"));
}

TEST_CASE("real-cli session: set_permission_mode and set_model")
{
  MockApi api;
  Runtime rt;
  Session s = Session::open(rt, real_session(api));
  s.set_permission_mode("acceptEdits");
  s.set_model("mock-model-2");
  s.send("[[reply: ok]]");
  auto t = s.receive_response(60s);
  const Message *init = nullptr;
  for (const auto &m : t)
    if (m.is_system("init")) init = &m;
  REQUIRE(init);
  CHECK(init->permission_mode() == "acceptEdits");
  CHECK(init->model() == "mock-model-2");
  CHECK(s.mcp_status()["mcpServers"].is_array());
  try {
    s.control("no_such_subtype");
    FAIL("expected control_error");
  } catch (const Error &e) {
    CHECK(e.code() == errc::control_error);
  }
}

TEST_CASE("real-cli session: resume, continue and fork")
{
  MockApi api;
  Runtime rt;
  const std::string id = "3f1c9a2e-6b1d-4c55-9a7e-0d2b4c6e8f10";
  {
    SessionOptions so = real_session(api);
    so.options.session_id = id;
    Session s = Session::open(rt, so);
    s.send("[[reply: remember me]]");
    CHECK(s.receive_response(60s).back().session_id() == id);
    CHECK(s.close().ok());  // closing stdin first lets the CLI write its session file
  }
  {
    SessionOptions so = real_session(api);
    so.options.resume = id;
    Session s = Session::open(rt, so);
    s.send("[[reply: resumed]]");
    auto t = s.receive_response(60s);
    CHECK(t.back().session_id() == id);
    CHECK(t.back().result_text() == std::optional<std::string_view>("resumed"));
  }
  {
    SessionOptions so = real_session(api);
    so.options.continue_conversation = true;
    Session s = Session::open(rt, so);
    s.send("[[reply: continued]]");
    CHECK(s.receive_response(60s).back().session_id() == id);
  }
  {
    SessionOptions so = real_session(api);
    so.options.resume = id;
    so.options.fork_session = true;
    Session s = Session::open(rt, so);
    s.send("[[reply: forked]]");
    auto t = s.receive_response(60s);
    CHECK(!t.back().session_id().empty());
    CHECK(t.back().session_id() != id);
  }
}

TEST_CASE("real-cli: resuming an unknown session is a clear typed error")
{
  MockApi api;
  Options o = api.options();
  o.resume = "00000000-0000-4000-8000-000000000000";
  Stream s = query("hello", o);
  try {
    for (const Message &m : s) (void)m;
    FAIL("expected an error");
  } catch (const ProcessError &e) {
    CHECK(e.code() == errc::session_not_found);
    CHECK(std::string(e.what()).find("00000000-0000-4000-8000-000000000000") != std::string::npos);
  }
}

TEST_CASE("real-cli session: resuming an unknown session is a clear typed error")
{
  MockApi api;
  Runtime rt;
  SessionOptions so = real_session(api);
  so.options.resume = "00000000-0000-4000-8000-000000000001";
  std::error_code code;
  try {
    Session s = Session::open(rt, so);
    s.send("hello");
    try {
      auto t = s.receive_response(60s);
      CHECK(t.back().is_error());
      s.receive_response(60s);  // the CLI exits after the error result
    } catch (const Error &) {
    }
    code = s.messages().wait().error;
  } catch (const Error &e) {
    code = e.code();
    MESSAGE(std::string(e.what()));
  }
  CHECK(code == errc::session_not_found);
}

TEST_CASE("real-cli session: a PreToolUse hook blocks a Bash command")
{
  MockApi api;
  Runtime rt;
  std::atomic<int> calls{0};
  std::string seen_command;
  std::mutex mu;
  SessionOptions so = real_session(api);
  so.options.allowed_tools = {"Bash"};  // without the hook the command would run
  HookMatcher m;
  m.matcher = "Bash";
  m.timeout = std::chrono::seconds(30);
  m.callbacks.push_back([&](const HookInput &in) {
    ++calls;
    std::lock_guard<std::mutex> lk(mu);
    seen_command = std::string(in.tool_input["command"].string_or());
    CHECK(in.event == "PreToolUse");
    CHECK(in.tool_name == "Bash");
    return HookOutput::deny_tool("blocked by the test hook");
  });
  so.hooks["PreToolUse"].push_back(m);
  Session s = Session::open(rt, so);
  s.send("[[bash: touch hooked.txt]]");
  auto t = s.receive_response(60s);
  CHECK(calls.load() == 1);
  {
    std::lock_guard<std::mutex> lk(mu);
    CHECK(seen_command == "touch hooked.txt");
  }
  struct stat st {};
  CHECK(::stat((api.work_dir() + "/hooked.txt").c_str(), &st) != 0);
  const Message *result = find(t, MessageType::user);
  REQUIRE(result);
  CHECK(result->content()[0].is_error());
  CHECK(result->content()[0].content_text().find("blocked by the test hook") != std::string::npos);
}

TEST_CASE("real-cli session: the model calls an in-process tool")
{
  MockApi api;
  Runtime rt;
  std::atomic<int> calls{0};
  SessionOptions so = real_session(api);
  McpServer calc;
  calc.name = "calc";
  Tool add;
  add.name = "add";
  add.description = "Adds two numbers";
  add.input_schema_json = R"({"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]})";
  add.handler = [&](const JsonView &args) {
    ++calls;
    double sum = args["a"].number().value_or(0) + args["b"].number().value_or(0);
    return ToolResult::text("sum=" + std::to_string(static_cast<long long>(sum)));
  };
  calc.tools.push_back(add);
  so.mcp_servers.push_back(calc);
  so.options.allowed_tools = {"mcp__calc__add"};
  Session s = Session::open(rt, so);
  s.send("[[tool: mcp__calc__add :: {\"a\":2,\"b\":40}]]");
  auto t = s.receive_response(60s);
  const Message *init = nullptr;
  for (const auto &m : t)
    if (m.is_system("init")) init = &m;
  REQUIRE(init);
  bool listed = false;
  for (std::size_t i = 0; i < init->tools().size(); ++i)
    if (init->tools()[i].string_or() == "mcp__calc__add") listed = true;
  CHECK(listed);
  CHECK(calls.load() == 1);
  const Message *result = find(t, MessageType::user);
  REQUIRE(result);
  CHECK_FALSE(result->content()[0].is_error());
  CHECK(result->content()[0].content_text().find("sum=42") != std::string::npos);
  CHECK(t.back().result_text().value_or("").find("sum=42") != std::string_view::npos);
  auto status = s.mcp_status();
  CHECK(status["mcpServers"].is_array());
}
