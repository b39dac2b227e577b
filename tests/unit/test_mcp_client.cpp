// McpClient against tests/support/mcp_test_server.cpp, over stdio and Streamable HTTP (JSON and
// SSE answers): connect and negotiation, tools/list pages, every tool, timeouts and cancellation
// seen by the server, a crashing server and restart, garbage and oversized messages, server
// requests answered, no process left behind, and the async forms' thread rules.
#include "children.hpp"
#include "temp_dir.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/mcp_client.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <future>
#include <sstream>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace ccbridge;
using std::chrono::milliseconds;

namespace {

McpServerSpec stdio_spec(std::vector<std::string> args = {})
{
  McpServerSpec spec;
  spec.name = "test";
  spec.command = CCB_MCP_TEST_SERVER;
  spec.args = std::move(args);
  spec.connect_timeout = milliseconds(10000);
  spec.request_timeout = milliseconds(10000);
  return spec;
}

errc code_of(const Error &e) { return static_cast<errc>(e.code().value()); }

template <class F> errc error_of(F &&f)
{
  try {
    f();
  } catch (const Error &e) {
    return code_of(e);
  }
  return errc::ok;
}

// The test server's count of cancelled slow calls, once it reaches `want` (or 5 s pass).
long long wait_cancelled(McpClient &client, long long want)
{
  long long seen = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    seen = parse_json(client.call_tool("stats", "{}").structured_json)["cancelled"].int64().value_or(-1);
    if (seen >= want) break;
  }
  return seen;
}

// The test server on HTTP, on a free port, ended (SIGKILL) and reaped at scope exit.
struct HttpServer {
  int pid = -1;
  std::string url;
  TempDir dir;
  std::string log = dir / "log";

  explicit HttpServer(std::vector<std::string> extra = {})
  {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    std::vector<std::string> args = {CCB_MCP_TEST_SERVER, "--http", "0", "--log", log};
    args.insert(args.end(), extra.begin(), extra.end());
    pid = ::fork();
    if (pid == 0) {
      ::dup2(p[1], 1);
      int err = ::open((dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(err, 2);
      std::vector<char *> argv;
      for (auto &a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(p[1]);
    std::string line;
    char c;
    while (::read(p[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(p[0]);
    REQUIRE(line.rfind("listening ", 0) == 0);
    url = "http://127.0.0.1:" + line.substr(10) + "/mcp";
  }
  ~HttpServer()
  {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  std::string log_text() const
  {
    std::ifstream in(log);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  McpServerSpec spec() const
  {
    McpServerSpec s;
    s.name = "http-test";
    s.url = url;
    s.headers["X-Test"] = "1";
    return s;
  }
};

// The cases every transport must pass.
void core_cases(McpServerSpec spec)
{
  Runtime rt;
  McpClient client = McpClient::connect(rt, spec);
  CHECK(client.state() == McpState::ready);
  McpServerInfo info = client.server_info();
  CHECK(info.protocol_version == "2025-06-18");
  CHECK(info.name == "ccb-test");
  CHECK(info.version == "1.2");
  CHECK(info.instructions == "for tests");
  CHECK(parse_json(info.capabilities_json)["tools"].is_object());

  std::vector<McpTool> tools = client.list_tools();
  REQUIRE(tools.size() == 10);
  CHECK(tools[0].name == "echo");
  CHECK(tools[1].title == "Add");
  CHECK(parse_json(tools[1].input_schema_json)["required"].size() == 2);
  CHECK(parse_json(tools[1].output_schema_json)["type"].string_or() == "object");
  CHECK(parse_json(tools[1].annotations_json)["readOnlyHint"].boolean() == true);
  CHECK(tools[0].output_schema_json.empty());

  McpCallResult echo = client.call_tool("echo", R"({"x":[1,"two"]})");
  CHECK(parse_json(echo.content_json)[0]["text"].string_or() == R"({"x":[1,"two"]})");
  CHECK_FALSE(echo.is_error);
  CHECK(echo.elapsed.count() > 0);
  McpCallResult add = client.call_tool("add", R"({"a":2,"b":40})");
  CHECK(parse_json(add.structured_json)["sum"].int64() == 42);
  CHECK(client.call_tool("fail", "{}").is_error);
  CHECK(parse_json(client.call_tool("big", R"({"n":300000})").content_json)[0]["text"].string_or().size() == 300000);
  CHECK(parse_json(client.call_tool("garbage", "{}").content_json)[0]["text"].string_or() == "ok");
  CHECK(client.call_tool("slow", R"({"ms":1})").content_json.find("slept") != std::string::npos);
  CHECK(client.ping().count() > 0);
  CHECK(error_of([&] { client.call_tool("no-such-tool", "{}"); }) == errc::process_failed);
  CHECK(error_of([&] { client.call_tool("echo", "[1]"); }) == errc::invalid_argument);
  CHECK(client.state() == McpState::ready);

  // A timeout: Error(timeout) about when it is due, and the server is told.
  auto t0 = std::chrono::steady_clock::now();
  CHECK(error_of([&] { client.call_tool("slow", R"({"ms":30000})", milliseconds(200)); }) == errc::timeout);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= milliseconds(200));
  CHECK(took < milliseconds(5000));
  CHECK(wait_cancelled(client, 1) == 1);

  // Call::cancel: Error(cancelled) through the callback, once; the server is told.
  std::promise<errc> cancelled;
  McpClient::Call call = client.call_tool_async("slow", R"({"ms":30000})", [&](std::optional<Error> e, McpCallResult) {
    cancelled.set_value(e ? code_of(*e) : errc::ok);
  });
  // The server sees the call before the cancel (both go out in order); then cancel.
  call.cancel();
  CHECK(cancelled.get_future().get() == errc::cancelled);
  call.cancel();  // no-op once completed
  CHECK(wait_cancelled(client, 2) == 2);
  CHECK(client.state() == McpState::ready);

  client.close();
  CHECK(client.state() == McpState::closed);
  CHECK(error_of([&] { client.list_tools(); }) == errc::closed);
  client.close();  // idempotent
}

}  // namespace

TEST_CASE("mcp client: stdio: connect, negotiate, list every page, call every tool, time out and cancel")
{
  ccb_test::NoLeftovers none;
  core_cases(stdio_spec({"--page-size", "3"}));
}

TEST_CASE("mcp client: http with JSON answers: the same, with the session id echoed and DELETE on close")
{
  ccb_test::NoLeftovers none;
  HttpServer server({"--page-size", "4"});
  core_cases(server.spec());
  std::string log = server.log_text();
  CHECK(log.find("POST session-1 2025-06-18") != std::string::npos);
  CHECK(log.find("DELETE session-1") != std::string::npos);
}

TEST_CASE("mcp client: http with SSE answers: the same, and server requests on the stream are answered")
{
  ccb_test::NoLeftovers none;
  HttpServer server({"--sse"});
  core_cases(server.spec());
  CHECK(server.log_text().find("DELETE session-1") != std::string::npos);
  Runtime rt;
  McpClient client = McpClient::connect(rt, server.spec());
  CHECK(parse_json(client.call_tool("ask", "{}").content_json)[0]["text"].string_or() == "{}|-32601");
}

TEST_CASE("mcp client: stdio: server requests (ping, roots/list) are answered, log lines on stdout skipped")
{
  ccb_test::NoLeftovers none;
  Runtime rt;
  McpClient client = McpClient::connect(rt, stdio_spec({"--banner", "server starting (not JSON)"}));
  CHECK(parse_json(client.call_tool("ask", "{}").content_json)[0]["text"].string_or() == "{}|-32601");
  CHECK(client.call_tool("garbage", "{}").content_json.find("ok") != std::string::npos);
  CHECK(client.state() == McpState::ready);
}

TEST_CASE("mcp client: stdio: a server that exits fails the pending call with its status and stderr, and restart works")
{
  ccb_test::NoLeftovers none;
  Runtime rt;
  McpClient client = McpClient::connect(rt, stdio_spec());
  std::promise<std::string> pending;
  client.call_tool_async("slow", R"({"ms":30000})", [&](std::optional<Error> e, McpCallResult) {
    pending.set_value(e ? std::string(errc_name(code_of(*e))) + " " + e->detail() : "no error");
  });
  try {
    client.call_tool("crash", "{}");
    FAIL("crash answered");
  } catch (const Error &e) {
    CHECK(code_of(e) == errc::process_failed);
    CHECK(e.detail().find("exit code 3") != std::string::npos);
    CHECK(e.detail().find("crashing on purpose") != std::string::npos);
  }
  std::string slow = pending.get_future().get();
  CHECK(slow.rfind("process_failed", 0) == 0);
  CHECK(client.state() == McpState::failed);
  CHECK(client.last_error().find("exit code 3") != std::string::npos);
  CHECK(error_of([&] { client.ping(); }) == errc::process_failed);
  CHECK(ccb_test::my_children().empty());

  McpServerInfo info = client.restart();
  CHECK(info.protocol_version == "2025-06-18");
  CHECK(client.state() == McpState::ready);
  CHECK(client.last_error().empty());
  CHECK(client.call_tool("add", R"({"a":1,"b":1})").structured_json == R"({"sum":2})");
  CHECK(client.restart().name == "ccb-test");  // restart of a ready client: a new process
  CHECK(client.list_tools().size() == 10);
}

TEST_CASE("mcp client: stdio: a line over max_message_bytes ends the connection")
{
  ccb_test::NoLeftovers none;
  Runtime rt;
  McpServerSpec spec = stdio_spec();
  spec.max_message_bytes = 4096;
  McpClient client = McpClient::connect(rt, spec);
  CHECK(error_of([&] { client.call_tool("big", R"({"n":5000})"); }) == errc::line_too_long);
  CHECK(client.state() == McpState::failed);
  CHECK(client.last_error().find("max_message_bytes") != std::string::npos);
  CHECK(client.restart().name == "ccb-test");
  CHECK(client.call_tool("big", R"({"n":100})").content_json.size() > 100);
}

TEST_CASE("mcp client: http: an answer over max_message_bytes fails that call only")
{
  ccb_test::NoLeftovers none;
  HttpServer server;
  Runtime rt;
  McpServerSpec spec = server.spec();
  spec.max_message_bytes = 4096;
  McpClient client = McpClient::connect(rt, spec);
  CHECK(error_of([&] { client.call_tool("big", R"({"n":5000})"); }) == errc::line_too_long);
  CHECK(client.state() == McpState::ready);
  CHECK(client.call_tool("big", R"({"n":100})").content_json.size() > 100);
}

TEST_CASE("mcp client: protocol versions: older ones accepted, unknown ones refused with the version named")
{
  ccb_test::NoLeftovers none;
  Runtime rt;
  for (const char *v : {"2025-03-26", "2024-11-05"}) {
    McpClient client = McpClient::connect(rt, stdio_spec({"--version", v}));
    CHECK(client.server_info().protocol_version == v);
  }
  try {
    McpClient::connect(rt, stdio_spec({"--version", "1999-01-01"}));
    FAIL("connected");
  } catch (const Error &e) {
    CHECK(code_of(e) == errc::process_failed);
    CHECK(e.detail().find("'1999-01-01'") != std::string::npos);
  }
  CHECK(ccb_test::my_children().empty());
}

TEST_CASE("mcp client: bad specs and missing commands are clear errors")
{
  ccb_test::NoLeftovers none;
  Runtime rt;
  McpServerSpec spec = stdio_spec();
  spec.command = "ccb-no-such-mcp-server";
  CHECK(error_of([&] { McpClient::connect(rt, spec); }) == errc::cli_not_found);
  spec.command = "/nonexistent/server";
  CHECK(error_of([&] { McpClient::connect(rt, spec); }) == errc::cli_not_found);
  McpServerSpec none_set;
  CHECK(error_of([&] { McpClient::connect(rt, none_set); }) == errc::invalid_argument);
  McpServerSpec both = stdio_spec();
  both.url = "http://127.0.0.1:1/";
  CHECK(error_of([&] { McpClient::connect(rt, both); }) == errc::invalid_argument);
  McpServerSpec https;
  https.url = "https://example.com/mcp";
  try {
    McpClient::connect(rt, https);
    FAIL("connected");
  } catch (const Error &e) {
    CHECK(code_of(e) == errc::invalid_argument);
    CHECK(e.detail().find("https") != std::string::npos);
  }
  McpServerSpec header;
  header.url = "http://127.0.0.1:1/";
  header.headers["X-Bad"] = "a\r\nInjected: 1";
  CHECK(error_of([&] { McpClient::connect(rt, header); }) == errc::invalid_argument);
  McpServerSpec refused;
  refused.url = "http://127.0.0.1:1/mcp";  // nothing listens on port 1
  CHECK(error_of([&] { McpClient::connect(rt, refused); }) == errc::io_error);
}

TEST_CASE("mcp client: http: nothing but ping reaches the server before notifications/initialized was accepted")
{
  // Each POST may take a connection of its own; a server that is slow to accept the notification
  // would see the first request before it, and servers that follow the lifecycle refuse that.
  ccb_test::NoLeftovers none;
  HttpServer server({"--slow-initialized", "300"});
  Runtime rt;
  McpClient client = McpClient::connect(rt, server.spec());
  CHECK(client.call_tool("echo", R"({"x":1})").content_json.find("x") != std::string::npos);
  CHECK(client.list_tools().size() > 0);
  CHECK(server.log_text().find("EARLY") == std::string::npos);
}

TEST_CASE("mcp client: http: an expired session (404) fails the client, and restart starts a new session")
{
  ccb_test::NoLeftovers none;
  HttpServer server;
  Runtime rt;
  McpClient client = McpClient::connect(rt, server.spec());
  client.call_tool("expire", "{}");
  CHECK(error_of([&] { client.ping(); }) == errc::io_error);
  CHECK(client.state() == McpState::failed);
  // Refused while failed, with the code of the failure (not one for "the server exited").
  CHECK(error_of([&] { client.ping(); }) == errc::io_error);
  CHECK(client.last_error().find("404") != std::string::npos);
  client.restart();
  CHECK(client.ping().count() > 0);
  CHECK(server.log_text().find("POST session-2") != std::string::npos);
}

TEST_CASE("mcp client: no server process is left once the client is destroyed")
{
  ccb_test::NoLeftovers none;
  Runtime rt;
  {
    McpClient client = McpClient::connect(rt, stdio_spec());
    CHECK(ccb_test::my_children().size() == 1);
    std::promise<errc> pending;
    client.call_tool_async("slow", R"({"ms":30000})", [&](std::optional<Error> e, McpCallResult) {
      pending.set_value(e ? code_of(*e) : errc::ok);
    });
    client.ping();  // the slow call has reached the server
    McpClient moved = std::move(client);
    auto f = pending.get_future();
    {
      McpClient gone = std::move(moved);
    }
    // The pending callback ran with Error(closed) before the destructor returned.
    REQUIRE(f.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    CHECK(f.get() == errc::closed);
    CHECK(ccb_test::my_children().empty());
  }
}

TEST_CASE("mcp client: async forms run their callbacks once on an I/O thread, where blocking calls refuse")
{
  ccb_test::NoLeftovers none;
  Runtime rt;
  std::promise<std::optional<McpClient>> connected;
  McpClient::connect_async(rt, stdio_spec(), [&](std::optional<Error> e, std::optional<McpClient> c) {
    CHECK_FALSE(e);
    CHECK(error_of([&] { c->ping(); }) == errc::would_deadlock);
    CHECK(error_of([&] { c->list_tools(); }) == errc::would_deadlock);
    connected.set_value(std::move(c));
  });
  std::optional<McpClient> client = connected.get_future().get();
  REQUIRE(client);

  std::atomic<int> calls{0};
  std::promise<std::size_t> listed;
  client->list_tools_async([&](std::optional<Error> e, std::vector<McpTool> tools) {
    ++calls;
    listed.set_value(e ? 0 : tools.size());
  });
  CHECK(listed.get_future().get() == 10);
  std::promise<std::string> called;
  client->call_tool_async("echo", R"({"a":1})", [&](std::optional<Error> e, McpCallResult r) {
    ++calls;
    CHECK(error_of([&] { client->call_tool("echo", "{}"); }) == errc::would_deadlock);
    called.set_value(e ? "error" : r.content_json);
  });
  CHECK(called.get_future().get().find(R"({\"a\":1})") != std::string::npos);
  std::promise<errc> bad;
  client->call_tool_async("echo", "not json", [&](std::optional<Error> e, McpCallResult) {
    ++calls;
    bad.set_value(e ? code_of(*e) : errc::ok);
  });
  CHECK(bad.get_future().get() == errc::invalid_argument);
  std::promise<bool> pinged;
  client->ping_async([&](std::optional<Error> e, std::chrono::microseconds) {
    ++calls;
    pinged.set_value(!e);
  });
  CHECK(pinged.get_future().get());
  std::promise<std::string> restarted;
  client->restart_async([&](std::optional<Error> e, McpServerInfo info) {
    ++calls;
    restarted.set_value(e ? "error" : info.name);
  });
  CHECK(restarted.get_future().get() == "ccb-test");
  client.reset();
  CHECK(calls == 5);

  std::promise<errc> failed;
  McpServerSpec missing = stdio_spec();
  missing.command = "ccb-no-such-mcp-server";
  McpClient::connect_async(rt, missing, [&](std::optional<Error> e, std::optional<McpClient> c) {
    failed.set_value(e && !c ? code_of(*e) : errc::ok);
  });
  CHECK(failed.get_future().get() == errc::cli_not_found);
}

TEST_CASE("mcp client: a callback refused at once (closed client) may read the client's state")
{
  // The refusal used to run the callback under the snapshot's mutex: state() there deadlocked.
  Runtime rt;
  McpClient client = McpClient::connect(rt, stdio_spec());
  client.close();
  std::promise<std::pair<errc, McpState>> seen;
  client.list_tools_async([&](std::optional<Error> e, std::vector<McpTool>) {
    seen.set_value({e ? code_of(*e) : errc::ok, client.state()});
  });
  auto future = seen.get_future();
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  auto [code, state] = future.get();
  CHECK(code == errc::closed);
  CHECK(state == McpState::closed);
}

TEST_CASE("mcp client: mcp_server_spec_from_json")
{
  McpServerSpec s = mcp_server_spec_from_json(
      R"({"name":"n","type":"stdio","command":"c","args":["-a","b"],"env":{"K":"V"},"cwd":"/tmp",)"
      R"("connect_timeout_ms":5,"request_timeout_ms":6,"max_message_bytes":7,"url":null})");
  CHECK(s.name == "n");
  CHECK(s.command == "c");
  CHECK(s.args == std::vector<std::string>{"-a", "b"});
  CHECK(s.env.at("K") == "V");
  CHECK(s.cwd == "/tmp");
  CHECK(s.connect_timeout == milliseconds(5));
  CHECK(s.request_timeout == milliseconds(6));
  CHECK(s.max_message_bytes == 7);
  CHECK(s.url.empty());
  McpServerSpec h = mcp_server_spec_from_json(R"({"url":"http://h/mcp","headers":{"A":"b"}})");
  CHECK(h.url == "http://h/mcp");
  CHECK(h.headers.at("A") == "b");
  CHECK(h.request_timeout == milliseconds(60000));  // defaults kept

  auto message = [](const char *json) {
    try {
      mcp_server_spec_from_json(json);
    } catch (const Error &e) {
      CHECK(code_of(e) == errc::invalid_argument);
      return e.detail();
    }
    return std::string("accepted");
  };
  CHECK(message("[]").find("must be a JSON object") != std::string::npos);
  CHECK(message("{").find("not valid JSON") != std::string::npos);
  CHECK(message(R"({"comand":"x"})").find("unknown key 'comand'") != std::string::npos);
  CHECK(message(R"({"args":[1]})").find("'args' must be an array of strings") != std::string::npos);
  CHECK(message(R"({"env":{"A":1}})").find("'env' must be an object of strings") != std::string::npos);
  CHECK(message(R"({"request_timeout_ms":0})").find("'request_timeout_ms' must be an integer") != std::string::npos);
  CHECK(message(R"({"max_message_bytes":1.5})").find("'max_message_bytes'") != std::string::npos);
  CHECK(message(R"({"type":"sse","url":"http://h"})").find("SSE") != std::string::npos);
  CHECK(message(R"({"type":"http","command":"x"})").find("needs 'url'") != std::string::npos);
}
