// In-process MCP tools with an asynchronous handler (Tool::async_handler, ToolReply), against the
// scriptable fake CLI, which calls them with `mcp_message` control requests: answers given later
// from another thread, error results, a reply dropped unanswered, a handler that throws, a call
// the CLI withdraws, invalid tool definitions, and many calls outstanding at once while another
// session's permission callback still runs.
#include "children.hpp"
#include "fake_session.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

using namespace ccbridge;
using namespace std::chrono_literals;
using ccb_test::NoLeftovers;
using ccb_test::read_all;

namespace {

// The runtime's callback pool has this many threads (lib/detail/runtime_impl.hpp).
constexpr int kCallbackThreads = 2;

// The tool calls come without initialize (the fake CLI's script starts at once).
SessionOptions fake_session(const std::string &script)
{
  SessionOptions so = ccb_test::fake_session(script);
  so.initialize = false;
  return so;
}

// A script line: the CLI calls `tool` of MCP server "calc" with JSON-RPC id `id`; send_control
// waits for the answer and reports it as a fake_control_result message.
std::string call_line(int id, const std::string &tool, const std::string &args = "{}", bool wait = true)
{
  return std::string(wait ? "send_control" : "send_control_nowait") +
         R"( {"subtype":"mcp_message","server_name":"calc","message":{"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"tools/call","params":{"name":")" + tool + R"(","arguments":)" + args + "}}}\n";
}

SessionOptions with_tools(SessionOptions so, std::vector<Tool> tools)
{
  so.mcp_servers.push_back({"calc", "1.0.0", std::move(tools)});
  return so;
}

Tool async_tool(std::string name, AsyncToolHandler handler)
{
  Tool t;
  t.name = std::move(name);
  t.async_handler = std::move(handler);
  return t;
}

// The JSON-RPC answers the CLI reported (fake_control_result), in order.
std::vector<JsonView> mcp_answers(Session &s, std::size_t n)
{
  std::vector<JsonView> out;
  Message m;
  while (out.size() < n && s.messages().pull(m, 5s) == PullStatus::message) {
    if (m.type_name() == "fake_control_result") out.push_back(m.json()["response"]["response"]["mcp_response"]);
  }
  return out;
}


// The JSON-RPC answers found in a CCB_FAKE_STDIN_LOG file.
std::vector<JsonView> logged_answers(const std::string &path)
{
  std::vector<JsonView> out;
  std::istringstream lines(read_all(path));
  std::string line;
  while (std::getline(lines, line)) {
    JsonView j;
    try {
      j = parse_json(line);
    } catch (const Error &) {
      continue;
    }
    JsonView mcp = j["response"]["response"]["mcp_response"];
    if (mcp.exists()) out.push_back(mcp);
  }
  return out;
}

std::string thread_name()
{
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// Threads started by handlers, joined by the test.
struct Helpers {
  std::mutex mu;
  std::vector<std::thread> threads;
  template <class F> void start(F f)
  {
    std::lock_guard<std::mutex> lk(mu);
    threads.emplace_back(std::move(f));
  }
  ~Helpers()
  {
    for (auto &t : threads) t.join();
  }
};

}  // namespace

TEST_CASE("session tools: an async tool answers later from another thread, with a result or an error result")
{
  NoLeftovers guard;
  Helpers helpers;
  std::atomic<bool> on_callback_thread{true};
  Tool calc = async_tool("calc", [&](const JsonView &args, ToolReply reply) {
    if (thread_name() != "ccbridge-cb") on_callback_thread = false;
    helpers.start([args, reply] {
      std::this_thread::sleep_for(50ms);
      if (args["fail"].exists()) return reply(ToolResult::error("no can do"));
      if (args["bad"].exists()) {
        ToolResult r;
        r.content_json = "{not an array";
        return reply(r);
      }
      reply(ToolResult::text(std::to_string(args["a"].int64().value_or(0) + args["b"].int64().value_or(0))));
      reply(ToolResult::text("a second answer is ignored"));
    });
  });
  Runtime rt;
  Session s = Session::open(rt, with_tools(fake_session(call_line(1, "calc", R"({"a":2,"b":40})") +
                                                        call_line(2, "calc", R"({"fail":true})") +
                                                        call_line(3, "calc", R"({"bad":true})") + "serve_turns"),
                                           {calc}));
  auto answers = mcp_answers(s, 3);
  REQUIRE(answers.size() == 3);
  CHECK(answers[0]["id"].int64() == 1);
  CHECK(answers[0]["result"]["content"][0]["text"].string_or() == "42");
  CHECK(answers[0]["result"]["isError"].boolean() == false);
  CHECK(answers[1]["id"].int64() == 2);
  CHECK(answers[1]["result"]["content"][0]["text"].string_or() == "no can do");
  CHECK(answers[1]["result"]["isError"].boolean() == true);
  // Encoded like a synchronous handler's answer: content that is not an array is a JSON-RPC error.
  CHECK(answers[2]["error"]["code"].int64() == -32603);
  CHECK(answers[2]["error"]["message"].string_or().find("not a JSON array") != std::string_view::npos);
  CHECK(on_callback_thread.load());
  s.send("still works");
  CHECK(s.receive_response(5s).back().result_text() == std::optional<std::string_view>("echo: still works"));
}

TEST_CASE("session tools: a dropped ToolReply gives an error result, a throwing handler a JSON-RPC error")
{
  NoLeftovers guard;
  Tool drop = async_tool("drop", [](const JsonView &, ToolReply) {});
  Tool boom = async_tool("boom", [](const JsonView &, ToolReply) { throw std::runtime_error("kaput async"); });
  Tool late = async_tool("late", [](const JsonView &, ToolReply reply) {
    reply(ToolResult::text("answered first"));
    throw std::runtime_error("thrown after answering");
  });
  Runtime rt;
  Session s = Session::open(
      rt, with_tools(fake_session(call_line(1, "drop") + call_line(2, "boom") + call_line(3, "late") + "serve_turns"),
                     {drop, boom, late}));
  auto answers = mcp_answers(s, 3);
  REQUIRE(answers.size() == 3);
  CHECK(answers[0]["id"].int64() == 1);
  CHECK(answers[0]["result"]["isError"].boolean() == true);
  CHECK(answers[0]["result"]["content"][0]["text"].string_or().find("did not answer") != std::string_view::npos);
  CHECK(answers[1]["id"].int64() == 2);
  CHECK(answers[1]["error"]["code"].int64() == -32603);
  CHECK(answers[1]["error"]["message"].string_or().find("kaput async") != std::string_view::npos);
  CHECK(answers[2]["result"]["content"][0]["text"].string_or() == "answered first");
}

TEST_CASE("session tools: a call the CLI withdraws is marked cancelled and its answer is dropped")
{
  NoLeftovers guard;
  std::string log = "/tmp/ccb_tools_stdin_" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ToolReply> replies;
  Tool slow = async_tool("slow", [&](const JsonView &, ToolReply reply) {
    std::lock_guard<std::mutex> lk(mu);
    replies.push_back(reply);
    cv.notify_all();
  });
  SessionOptions so = fake_session(call_line(1, "slow", "{}", false) + "sleep 100\n" +
                                   R"(emit {"type":"control_cancel_request","request_id":"fake_req_1"})" + "\nserve_turns");
  so.options.env["CCB_FAKE_STDIN_LOG"] = log;
  Runtime rt;
  Session s = Session::open(rt, with_tools(so, {slow}));
  ToolReply reply(nullptr);
  {
    std::unique_lock<std::mutex> lk(mu);
    REQUIRE(cv.wait_for(lk, 5s, [&] { return !replies.empty(); }));
    reply = replies.front();
  }
  for (int i = 0; i < 500 && !reply.cancelled(); ++i) std::this_thread::sleep_for(10ms);
  CHECK(reply.cancelled());
  reply(ToolResult::text("too late"));
  // A control request written after the dropped answer would have been: once the CLI answered it,
  // the answer would be in the log.
  CHECK(s.mcp_status()["mcpServers"].is_array());
  s.close();
  CHECK(logged_answers(log).empty());
  CHECK(read_all(log).find("too late") == std::string::npos);
  std::remove(log.c_str());
}

TEST_CASE("session tools: a tool needs exactly one of handler and async_handler")
{
  NoLeftovers guard;
  Runtime rt;
  Tool neither;
  neither.name = "neither";
  Tool both = async_tool("both", [](const JsonView &, ToolReply) {});
  both.handler = [](const JsonView &) { return ToolResult::text("x"); };
  for (const Tool &t : {neither, both}) {
    try {
      Session::open(rt, with_tools(fake_session("serve_turns"), {t}));
      FAIL("expected invalid_argument");
    } catch (const Error &e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK(std::string(e.what()).find("'" + t.name + "'") != std::string::npos);
      CHECK(std::string(e.what()).find("async_handler") != std::string::npos);
    }
  }
}

TEST_CASE("session tools: a tool's schema, annotations and _meta must be JSON objects")
{
  NoLeftovers guard;
  Runtime rt;
  auto with = [](void (*set)(Tool &)) {
    Tool t = async_tool("odd", [](const JsonView &, ToolReply) {});
    set(t);
    return t;
  };
  const std::pair<Tool, const char *> bad[] = {
      {with([](Tool &t) { t.input_schema_json = "{nope"; }), "input_schema_json is not valid JSON"},
      {with([](Tool &t) { t.input_schema_json = "[]"; }), "input_schema_json must be a JSON object"},
      {with([](Tool &t) { t.annotations_json = "true"; }), "annotations_json must be a JSON object"},
      {with([](Tool &t) { t.meta_json = "{"; }), "meta_json is not valid JSON"}};
  for (const auto &[t, why] : bad) {
    try {
      Session::open(rt, with_tools(fake_session("serve_turns"), {t}));
      FAIL("expected invalid_argument");
    } catch (const Error &e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK(std::string(e.what()).find("tool 'odd' of MCP server 'calc': " + std::string(why)) != std::string::npos);
    }
  }
}

TEST_CASE("session tools: arguments the input schema refuses never reach an async handler")
{
  NoLeftovers guard;
  std::atomic<int> runs{0};
  Tool typed = async_tool("typed", [&runs](const JsonView &a, ToolReply reply) {
    ++runs;
    reply(ToolResult::text(a.dump()));
  });
  typed.input_schema_json = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},)"
                            R"("required":["a","b"]})";
  Runtime rt;
  Session s = Session::open(rt, with_tools(fake_session(call_line(1, "typed", R"({"a":1})") +
                                                        call_line(2, "typed", R"({"a":1,"b":"2"})") +
                                                        call_line(3, "missing") + call_line(4, "typed", R"({"a":1,"b":2})") +
                                                        "serve_turns"),
                                           {typed}));
  auto answers = mcp_answers(s, 4);
  REQUIRE(answers.size() == 4);
  CHECK(answers[0]["result"].dump() ==
        R"({"content":[{"type":"text","text":"Input validation error: 'b' is a required property"}],"isError":true})");
  CHECK(answers[1]["result"]["content"][0]["text"].string_or() == "Input validation error: '2' is not of type 'integer'");
  CHECK(answers[2]["result"]["content"][0]["text"].string_or() == "Tool 'missing' not found");
  CHECK(answers[3]["result"].dump() == R"({"content":[{"type":"text","text":"{\"a\":1,\"b\":2}"}],"isError":false})");
  CHECK(runs.load() == 1);
}

TEST_CASE("session tools: async calls outstanding at once hold no callback thread")
{
  // More calls wait than the callback pool has threads, on one session; a permission callback of
  // another session of the same runtime must still run at once. (A handler that blocked its
  // callback thread until answered would leave the permission request queued: the turn below
  // would time out.)
  NoLeftovers guard;
  constexpr int kCalls = 3 * kCallbackThreads;
  std::string log = "/tmp/ccb_tools_many_" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::int64_t, ToolReply>> waiting;
  Tool slow = async_tool("slow", [&](const JsonView &args, ToolReply reply) {
    std::lock_guard<std::mutex> lk(mu);
    waiting.emplace_back(args["n"].int64().value_or(-1), reply);
    cv.notify_all();
  });
  std::string script;
  for (int i = 0; i < kCalls; ++i) script += call_line(i + 1, "slow", "{\"n\":" + std::to_string(i) + "}", false);
  SessionOptions so = fake_session(script + "serve_turns");
  so.options.env["CCB_FAKE_STDIN_LOG"] = log;
  Runtime rt;
  Session tools = Session::open(rt, with_tools(so, {slow}));
  {
    std::unique_lock<std::mutex> lk(mu);
    CHECK(cv.wait_for(lk, 5s, [&] { return waiting.size() == kCalls; }));
  }

  SessionOptions po = fake_session("permission_turn Bash {\"command\":\"ls\"}\nwait_eof");
  std::atomic<int> asked{0};
  po.can_use_tool = permission_function([&](const PermissionRequest &) {
    ++asked;
    return PermissionDecision::allow();
  });
  Session other = Session::open(rt, po);
  auto t0 = std::chrono::steady_clock::now();
  other.send("go");
  std::vector<Message> turn;
  CHECK_NOTHROW(turn = other.receive_response(5s));
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(asked.load() == 1);
  REQUIRE(!turn.empty());
  CHECK_FALSE(turn.back().is_error());

  // Now every waiting call is answered, from another thread, and each answer reaches the CLI.
  std::thread([&] {
    std::lock_guard<std::mutex> lk(mu);
    for (auto &[n, reply] : waiting) reply(ToolResult::text("answer " + std::to_string(n)));
  }).join();
  std::vector<JsonView> answers;
  for (int i = 0; i < 500 && answers.size() < kCalls; ++i) {
    std::this_thread::sleep_for(10ms);
    answers = logged_answers(log);
  }
  REQUIRE(answers.size() == kCalls);
  std::vector<bool> seen(kCalls, false);
  for (const auto &a : answers) {
    std::int64_t id = a["id"].int64().value_or(0);
    REQUIRE(id >= 1);
    REQUIRE(id <= kCalls);
    CHECK(a["result"]["content"][0]["text"].string_or() == "answer " + std::to_string(id - 1));
    seen[static_cast<std::size_t>(id - 1)] = true;
  }
  CHECK(std::find(seen.begin(), seen.end(), false) == seen.end());
  tools.close();
  other.close();
  std::remove(log.c_str());
}
