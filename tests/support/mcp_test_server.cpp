// mcp_test_server.cpp - an MCP server for the MCP client's tests (and benchmarks): stdio by
// default (newline-delimited JSON-RPC), Streamable HTTP on 127.0.0.1 with --http PORT (JSON
// answers, or SSE answers with --sse). Threads: stdio runs each request on a thread of its own
// (so that `slow` can be cancelled while others are answered); HTTP runs a thread per connection.
//
//   --http PORT        Streamable HTTP on 127.0.0.1:PORT (0: any); prints "listening <port>" on stdout
//   --sse              (HTTP) answer requests with an SSE stream instead of a JSON body
//   --log FILE         (HTTP) append "DELETE <session>" and "POST <session> <version>" lines to FILE
//   --version V        answer initialize with protocol version V (default: the client's)
//   --page-size N      page tools/list by N tools (nextCursor)
//   --banner TEXT      (stdio) write TEXT, not JSON, on stdout before anything else
//   --slow-initialized MS  (HTTP) wait MS before accepting notifications/initialized
//
// Like the official Python MCP server, the HTTP server refuses (400, JSON-RPC error -32600) any
// request but ping that reaches a session before its notifications/initialized did.
//
// Tools: echo (its arguments as text), add {a,b} (structuredContent {sum}), slow {ms} (sleeps,
// honours notifications/cancelled), crash (exits with code 3, after a line on stderr), garbage (a
// non-JSON line or SSE event, then the answer), big {n} (n bytes of text), fail (an isError
// result), stats (structuredContent {cancelled, sleeping}: the slow calls cancelled so far, and
// those under way), ask (sends
// ping and roots/list to the client and returns its answers; stdio and --sse), expire (HTTP: the
// session ends; the next request gets 404).
#include "protocol/jsonrpc.hpp"

#include <ccbridge/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using ccbridge::JsonView;
using namespace ccbridge::detail;

namespace {

struct Config {
  int http_port = -1;
  bool sse = false;
  std::string log, version, banner;
  std::size_t page_size = 0;
  int slow_initialized_ms = 0;
} cfg;

std::mutex mu;  // everything below
std::condition_variable cv;
std::set<std::string> cancelled_ids;
int cancelled_count = 0;
int sleeping = 0;  // slow calls under way
std::map<std::string, std::promise<std::string>> awaiting;  // our requests to the client, by id
int next_request = 1;
int in_flight = 0;  // stdio requests being handled

// How a request's handler writes to the client: a stdio line, or an SSE event of its stream.
using Send = std::function<void(const std::string &)>;

// {"content":[{"type":"text","text":<text>}]  (the result object left open for more members)
std::string open_text_result(const std::string &text)
{
  std::string s = R"({"content":[{"type":"text","text":)";
  ccbridge::append_json_string(s, text);
  return s + "}]";
}

const char *kTools[][3] = {
    {"echo", "Returns its arguments as text.", R"({"type":"object"})"},
    {"add", "Adds a and b.",
     R"({"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]})"},
    {"slow", "Sleeps ms milliseconds.", R"({"type":"object","properties":{"ms":{"type":"integer"}}})"},
    {"crash", "Exits the server.", R"({"type":"object"})"},
    {"garbage", "Writes a non-JSON line, then answers.", R"({"type":"object"})"},
    {"big", "Returns n bytes of text.", R"({"type":"object","properties":{"n":{"type":"integer"}}})"},
    {"fail", "Fails (isError).", R"({"type":"object"})"},
    {"stats", "Counts cancelled slow calls.", R"({"type":"object"})"},
    {"ask", "Sends ping and roots/list to the client.", R"({"type":"object"})"},
    {"expire", "Ends the HTTP session.", R"({"type":"object"})"},
};

std::string tools_list(const JsonView &params)
{
  std::size_t n = sizeof kTools / sizeof kTools[0];
  std::size_t from =
      static_cast<std::size_t>(std::strtoul(std::string(params["cursor"].string_or("0")).c_str(), nullptr, 10));
  std::size_t to = cfg.page_size ? std::min(n, from + cfg.page_size) : n;
  std::string s = R"({"tools":[)";
  for (std::size_t i = from; i < to; ++i) {
    if (i > from) s += ',';
    s += R"({"name":")" + std::string(kTools[i][0]) + R"(","description":")" + kTools[i][1] + R"(","inputSchema":)" +
         kTools[i][2];
    if (std::string(kTools[i][0]) == "add") {
      s +=
          R"(,"title":"Add","outputSchema":{"type":"object","properties":{"sum":{"type":"number"}}},"annotations":{"readOnlyHint":true})";
    }
    s += '}';
  }
  s += ']';
  if (to < n) s += R"(,"nextCursor":")" + std::to_string(to) + '"';
  return s + '}';
}

// Sends a request to the client and waits for its answer (at most 5 s).
std::string ask_client(const Send &send, const std::string &method)
{
  std::future<std::string> answer;
  int id;
  {
    std::lock_guard<std::mutex> lk(mu);
    id = 1000000 + next_request++;
    answer = awaiting[std::to_string(id)].get_future();
  }
  send(rpc_request(id, method, "{}"));
  if (answer.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return "no answer";
  return answer.get();
}

// `slow`: sleeps, unless cancelled first (then no answer: "").
std::string slow(const std::string &id, const JsonView &args)
{
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(args["ms"].int64().value_or(1000));
  std::unique_lock<std::mutex> lk(mu);
  ++sleeping;
  bool cancelled = cv.wait_until(lk, until, [&] { return cancelled_ids.count(id) > 0; });
  --sleeping;
  if (cancelled) {
    ++cancelled_count;
    std::fprintf(stderr, "slow: request %s cancelled\n", id.c_str());
    return "";
  }
  return rpc_result(id, open_text_result("slept") + "}");
}

std::string call_tool(const std::string &id, const JsonView &params, const Send &send, bool *expire)
{
  std::string name(params["name"].string_or());
  JsonView args = params["arguments"];
  if (name == "echo") return rpc_result(id, open_text_result(args.dump()) + "}");
  if (name == "add") {
    double sum = args["a"].number().value_or(0) + args["b"].number().value_or(0);
    std::string num = std::to_string(static_cast<long long>(sum));
    return rpc_result(id, open_text_result(num) + R"(,"structuredContent":{"sum":)" + num + "}}");
  }
  if (name == "slow") return slow(id, args);
  if (name == "crash") {
    std::fprintf(stderr, "crashing on purpose\n");
    std::fflush(stderr);
    ::_exit(3);
  }
  if (name == "garbage") send("this is not JSON, it is a log line");
  if (name == "big")
    return rpc_result(id, open_text_result(std::string(static_cast<std::size_t>(args["n"].int64().value_or(0)), 'x')) +
                              "}");
  if (name == "fail") return rpc_result(id, open_text_result("it failed") + R"(,"isError":true})");
  if (name == "stats") {
    std::lock_guard<std::mutex> lk(mu);
    return rpc_result(id, open_text_result("stats") + R"(,"structuredContent":{"cancelled":)" +
                              std::to_string(cancelled_count) + R"(,"sleeping":)" + std::to_string(sleeping) + "}}");
  }
  if (name == "ask")
    return rpc_result(id, open_text_result(ask_client(send, "ping") + "|" + ask_client(send, "roots/list")) + "}");
  if (name == "expire" && expire) *expire = true;
  if (name == "garbage" || name == "expire") return rpc_result(id, open_text_result("ok") + "}");
  return rpc_error(id, rpc_invalid_params, "unknown tool " + name);
}

// The answer to one message ("" for notifications, answers and cancelled calls).
std::string handle(const JsonView &msg, const Send &send, bool *expire = nullptr)
{
  std::string id = rpc_id(msg);
  std::string method(msg["method"].string_or());
  if (rpc_kind(msg) == RpcKind::response) {
    std::lock_guard<std::mutex> lk(mu);
    auto it = awaiting.find(id);
    if (it != awaiting.end()) {
      it->second.set_value(msg["result"].exists() ? msg["result"].dump() : msg["error"]["code"].dump());
      awaiting.erase(it);
    }
    return "";
  }
  if (method == "notifications/cancelled") {
    std::lock_guard<std::mutex> lk(mu);
    cancelled_ids.insert(msg["params"]["requestId"].dump());
    cv.notify_all();
    return "";
  }
  if (rpc_kind(msg) != RpcKind::request) return "";
  if (method == "initialize") {
    std::string v = cfg.version.empty() ? std::string(msg["params"]["protocolVersion"].string_or()) : cfg.version;
    return rpc_result(
        id,
        R"({"protocolVersion":")" + v +
            R"(","capabilities":{"tools":{}},"serverInfo":{"name":"ccb-test","version":"1.2"},"instructions":"for tests"})");
  }
  if (method == "ping") return rpc_result(id, "{}");
  if (method == "tools/list") return rpc_result(id, tools_list(msg["params"]));
  if (method == "tools/call") return call_tool(id, msg["params"], send, expire);
  return rpc_error(id, rpc_method_not_found, "no method " + method);
}

// ---- stdio ---------------------------------------------------------------------------------------

std::mutex out_mu;

void write_all(int fd, const std::string &s)
{
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

void stdio_line(const std::string &s)
{
  std::lock_guard<std::mutex> lk(out_mu);
  write_all(1, s + "\n");
}

int run_stdio()
{
  if (!cfg.banner.empty()) stdio_line(cfg.banner);
  std::string line;
  while (std::getline(std::cin, line)) {
    JsonView msg;
    try {
      msg = ccbridge::parse_json(line);
    } catch (...) {
      stdio_line(rpc_error("null", -32700, "parse error"));
      continue;
    }
    {
      std::lock_guard<std::mutex> lk(mu);
      ++in_flight;
    }
    std::thread([msg] {
      std::string answer = handle(msg, stdio_line);
      if (!answer.empty()) stdio_line(answer);
      std::lock_guard<std::mutex> lk(mu);
      --in_flight;
      cv.notify_all();
    }).detach();
  }
  // stdin closed: the client is done with us. Answers under way get a moment (not slow ones).
  std::unique_lock<std::mutex> lk(mu);
  cv.wait_for(lk, std::chrono::milliseconds(200), [] { return in_flight == 0; });
  ::_exit(0);
}

// ---- Streamable HTTP -----------------------------------------------------------------------------

std::map<std::string, bool> sessions;  // id -> alive (guarded by mu)
std::set<std::string> initialized;     // sessions whose notifications/initialized came (guarded by mu)
int next_session = 1;

void log_line(const std::string &s)
{
  if (cfg.log.empty()) return;
  std::lock_guard<std::mutex> lk(out_mu);
  std::ofstream(cfg.log, std::ios::app) << s << "\n";
}

struct Request {
  std::string method, body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string &name) const
  {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

bool read_request(int fd, std::string &buf, Request &req)
{
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    char tmp[8192];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  req = Request();
  req.method = head.substr(0, head.find(' '));
  for (std::size_t p = head.find("\r\n"); p != std::string::npos;) {
    std::size_t next = head.find("\r\n", p + 2);
    std::string l = head.substr(p + 2, next == std::string::npos ? std::string::npos : next - p - 2);
    std::size_t c = l.find(':');
    std::string name = l.substr(0, c);
    for (char &ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (c != std::string::npos) req.headers[name] = l.substr(l.find_first_not_of(' ', c + 1));
    p = next;
  }
  std::size_t len = std::strtoul(req.header("content-length").c_str(), nullptr, 10);
  while (buf.size() < len) {
    char tmp[8192];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  req.body = buf.substr(0, len);
  buf.erase(0, len);
  return true;
}

void respond(int fd, int status, const std::string &body, const std::string &extra = "")
{
  write_all(fd, "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body);
}

// Checks the session headers of a request after initialize; an HTTP status if they are wrong.
int check_session(const Request &req, std::string &sid)
{
  sid = req.header("mcp-session-id");
  std::lock_guard<std::mutex> lk(mu);
  if (sid.empty()) return 400;
  auto it = sessions.find(sid);
  if (it == sessions.end() || !it->second) return 404;
  return 0;
}

void answer_post(int fd, const Request &req)
{
  JsonView msg;
  try {
    msg = ccbridge::parse_json(req.body);
  } catch (...) {
    return respond(fd, 400, R"({"error":"not JSON"})");
  }
  if (req.header("accept").find("application/json") == std::string::npos ||
      req.header("accept").find("text/event-stream") == std::string::npos) {
    return respond(fd, 406, R"({"error":"Accept must list application/json and text/event-stream"})");
  }
  std::string extra, sid;
  if (msg["method"].string_or() == "initialize") {
    std::lock_guard<std::mutex> lk(mu);
    sid = "session-" + std::to_string(next_session++);
    sessions[sid] = true;
    extra = "Mcp-Session-Id: " + sid + "\r\n";
  } else if (int status = check_session(req, sid)) {
    return respond(fd, status, R"({"error":"bad or unknown session"})");
  } else {
    if (req.header("mcp-protocol-version").empty()) return respond(fd, 400, R"({"error":"no MCP-Protocol-Version"})");
    log_line("POST " + sid + " " + req.header("mcp-protocol-version"));
  }
  std::string_view method = msg["method"].string_or();
  if (method == "notifications/initialized") {
    if (cfg.slow_initialized_ms) std::this_thread::sleep_for(std::chrono::milliseconds(cfg.slow_initialized_ms));
    std::lock_guard<std::mutex> lk(mu);
    initialized.insert(sid);
  } else if (rpc_kind(msg) == RpcKind::request && method != "initialize" && method != "ping") {
    std::lock_guard<std::mutex> lk(mu);
    if (!initialized.count(sid)) {
      log_line("EARLY " + std::string(method));
      return respond(fd, 400, rpc_error(rpc_id(msg), -32600, "request before notifications/initialized"));
    }
  }
  if (rpc_kind(msg) != RpcKind::request) {
    handle(msg, [](const std::string &) {});
    return write_all(fd, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
  }
  bool expire = false;
  if (!cfg.sse) {
    std::string answer = handle(
        msg, [](const std::string &) {}, &expire);
    respond(fd, 200, answer, extra);
  } else {
    write_all(fd,
              "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n" + extra + "\r\n");
    auto event = [fd](const std::string &data) {
      std::string e = "event: message\ndata: " + data + "\n\n";
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", e.size());
      write_all(fd, size + e + "\r\n");
    };
    event(": a comment line is not data");
    std::string answer = handle(msg, event, &expire);
    if (!answer.empty()) event(answer);
    write_all(fd, "0\r\n\r\n");
  }
  if (expire) {
    std::lock_guard<std::mutex> lk(mu);
    sessions[sid] = false;
  }
}

void serve_connection(int fd)
{
  std::string buf;
  Request req;
  while (read_request(fd, buf, req)) {
    if (req.method == "POST") {
      answer_post(fd, req);
    } else if (req.method == "DELETE") {
      std::string sid;
      int status = check_session(req, sid);
      if (!status) {
        std::lock_guard<std::mutex> lk(mu);
        sessions[sid] = false;
      }
      log_line("DELETE " + sid);
      respond(fd, status ? status : 200, "{}");
    } else {
      respond(fd, 405, "{}");
    }
  }
  ::close(fd);
}

int run_http()
{
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(cfg.http_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(s, 64) != 0) {
    std::perror("bind");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr *>(&addr), &len);
  std::printf("listening %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (;;) {
    int c = ::accept(s, nullptr, nullptr);
    if (c < 0) continue;
    std::thread(serve_connection, c).detach();
  }
}

}  // namespace

int main(int argc, char **argv)
{
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up (a cancelled SSE answer) must not end us
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--http") {
      cfg.http_port = std::atoi(value().c_str());
    } else if (a == "--sse") {
      cfg.sse = true;
    } else if (a == "--log") {
      cfg.log = value();
    } else if (a == "--version") {
      cfg.version = value();
    } else if (a == "--page-size") {
      cfg.page_size = static_cast<std::size_t>(std::atoi(value().c_str()));
    } else if (a == "--slow-initialized") {
      cfg.slow_initialized_ms = std::atoi(value().c_str());
    } else if (a == "--banner") {
      cfg.banner = value();
    } else {
      std::fprintf(stderr, "mcp_test_server: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  return cfg.http_port >= 0 ? run_http() : run_stdio();
}
