// Fuzz targets 4 and 5: the HTTP request path and the WebSocket message handler of one gateway
// profile, in memory: no socket, no listener, no server thread. One object file serves every
// such target; the executable's name says which: fuzz_{http|ws}_{opcode|tasks_ui|sdk_ws}[_cli],
// or fuzz_ws_handshake: the three profiles on one port, as `ccbridge serve --port N` serves them,
// whose input may also reset real handshakes (!reset, through the server's own transport).
//
// The route handlers are the real ones, reached the way the transport reaches them. This
// translation unit includes lib/server/server.cpp (for Server::Impl: the token, Origin and CORS
// checks, /health, /metrics, the Router) and lib/server/transport_wspp.cpp (for to_request(), the
// websocketpp request -> HttpRequest conversion); the build links every other server object
// unchanged. Raw request bytes go through websocketpp's own HTTP parser
// (websocketpp::http::parser::request::consume, as a connection does), then to_request(), then
// Server::Impl::http() or, for an upgrade request, Server::Impl::upgrade() and the WsHandler the
// profile's factory makes, on a fake connection (FakeConn) that records what is sent. This thread
// plays the server thread: it runs the server's io_context between steps.
//
// The CLI is missing (cli_path points to a file that does not exist: the documented "Claude
// binary not found" answers) except in the *_cli targets: there it is tests/support/fake_cli.cpp,
// one process per run, with a script chosen by the input (!script NAME).
//
// Input, HTTP targets: one or more raw HTTP/1.1 requests back to back (CRLF line ends; a body needs
// Content-Length). A first byte '!' selects the second server configuration (token, CORS, no
// process allowed). WebSocket targets: an upgrade request as above (its target and headers; the
// Upgrade headers are implied), then the client's text messages, one per line, and directives:
//   !close [code]     the client closes the current connection
//   !open TARGET      a new connection to TARGET with the same headers
//   !script NAME      (fake CLI) the script of the next process: echo, turns, perm, tool, crash, noise
//   !execute [PROMPT] POST /claude/execute (opcode: a run to attach to; its id becomes {sid})
//   !wait             wait until no process is running (at most 0.4 s with the fake CLI; sdk-ws:
//                     until its queries end or one waits for the client)
//   !shutdown         the server stops: every handler gets on_shutdown()
//   !reset CUT STEPS [TARGET]
//                     (fuzz_ws_handshake) a real client over loopback, through the server's own
//                     transport: it sends the first CUT bytes of an upgrade request for TARGET
//                     (default: the first request's) with the first request's headers, lets the
//                     server thread run STEPS handlers, then resets the TCP connection (SO_LINGER 0)
// In both, {sid}, {call} and {perm} are replaced by the last session id, tool call id and
// permission request id the server sent.
//
// Checks, besides the sanitizers: every HTTP request is answered, with a status 100..599 and, for
// JSON answers, a body that is valid JSON and valid UTF-8; every WebSocket frame is valid JSON and
// valid UTF-8 (RFC 6455 text frames); close codes are ones a server may send (RFC 6455 7.4); after the input, the
// server returns to idle: no process, no run, no conversation left, no child process, and (after
// !reset) no transport connection open or handshake pending: every connection slot given back.
#include "server/server.cpp"
#include "server/transport_wspp.cpp"

#include "fuzz_common.hpp"
#include "protocol/utf8.hpp"

#include <websocketpp/http/request.hpp>
#include <websocketpp/processors/processor.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifndef CCB_FUZZ_FAKE_CLI_PATH
#error "CCB_FUZZ_FAKE_CLI_PATH must be the path of ccb_fuzz_fake_cli"
#endif

namespace ccb_fuzz_server {

namespace srv = ccbridge::detail::server;
using ccbridge::Server;

constexpr const char *kRoot = "/tmp/ccb-fuzz-root";
constexpr std::size_t kMaxSteps = 24;

std::map<std::string, std::string> g_subst;  // {sid}, {call}, {perm}
// sdk-ws, for !wait: queries started and not ended, and whether the last frame asks the client
// for something (a permission or a tool result); the conversation's process lives on meanwhile.
int g_open_queries = 0;
bool g_client_asked = false;


// From the executable's name.
std::string g_profile;  // "opcode", "tasks-ui", "sdk-ws", or "all" (fuzz_ws_handshake)
bool g_ws = false;      // WebSocket messages (else HTTP requests)
bool g_fake = false;    // the fake CLI (else a missing one)

bool utf8_ok(std::string_view s) { return ccbridge::detail::valid_utf8(s.data(), s.size()); }

void note_ids(std::string_view text)
{
  if (text.find("_id") == std::string_view::npos) return;
  ccbridge::JsonView v;
  try {
    v = ccbridge::parse_json(text);
  } catch (...) {
    return;
  }
  auto take = [](const ccbridge::JsonView &x, const char *key) {
    if (auto s = x.string()) g_subst[key] = std::string(*s);
  };
  take(v["session_id"], "{sid}");
  take(v["data"]["session_id"], "{sid}");
  take(v["data"]["call_id"], "{call}");
  take(v["data"]["request_id"], "{perm}");
}

std::string substitute(std::string s)
{
  if (s.find('{') == std::string::npos) return s;
  for (const auto &[k, v] : g_subst)
    for (std::size_t p = s.find(k); p != std::string::npos; p = s.find(k, p + v.size())) s.replace(p, k.size(), v);
  return s;
}

// A WebSocket connection without a socket: what the profile sends is checked and recorded; the
// close handshake completes at the next pump().
struct FakeConn final : srv::WsConn {
  explicit FakeConn(srv::HttpRequest r) : req(std::move(r)) {}

  void send(const srv::FramePtr &frame) override
  {
    if (!open) return;
    const std::string &t = frame->text;
    CCB_FUZZ_CHECK(utf8_ok(t), "a WebSocket text frame that is not UTF-8: " + t);
    CCB_FUZZ_CHECK(ccb_fuzz::valid_json(t), "a WebSocket frame that is not JSON: " + t);
    note_ids(t);
    auto starts = [&](const char *type) { return t.rfind(std::string("{\"type\":\"") + type + "\"", 0) == 0; };
    if (starts("query_start")) ++g_open_queries;
    if (starts("query_end")) --g_open_queries;
    g_client_asked = starts("permission_request") || starts("tool_call");
    ++frames;
  }
  void close(std::uint16_t code, const std::string &reason) override
  {
    if (!open || closing) return;
    // What a server may send in a close frame (RFC 6455 7.4): not 1004-1006, 1015 or < 1000.
    CCB_FUZZ_CHECK(code >= 1000 && code < 5000 && code != 1004 && code != 1005 && code != 1006 && code != 1015,
                   std::to_string(code));
    // (The reason's encoding and length are the transport's business: ConnImpl::close makes it fit.)
    (void)reason;
    closing = true;
    close_code = code;
  }
  std::size_t buffered() const override { return 0; }
  bool is_open() const override { return open && !closing; }
  const srv::HttpRequest &request() const override { return req; }

  srv::HttpRequest req;
  std::unique_ptr<srv::WsHandler> handler;
  bool open = true;
  bool closing = false;
  std::uint16_t close_code = 0;
  std::size_t frames = 0;
};

struct Fixture {
  ccbridge::Runtime runtime{1};
  std::unique_ptr<Server::Impl> servers[2];
  std::vector<std::unique_ptr<FakeConn>> conns;
  std::string fake_cli;
  std::uint16_t ports[2] = {0, 0};  // the servers' transport listeners, opened by the first !reset
};

Fixture *g_fx = nullptr;

ccbridge::ServerConfig make_config(bool second)
{
  ccbridge::ServerConfig c;
  if (g_profile == "all") c.listeners.push_back({"127.0.0.1", 0, {"opcode", "tasks-ui", "sdk-ws"}});
  else c.listeners.push_back({"127.0.0.1", 0, {g_profile}});
  c.log.level = ccbridge::ServerLog::Level::off;
  c.allowed_roots = {kRoot};
  c.limits.finished_run_grace = std::chrono::milliseconds(0);
  c.sdk_ws.reconnect_grace = std::chrono::milliseconds(60000);
  c.tasks_ui.timeout = std::chrono::milliseconds(20000);
  c.cli.shutdown.exit_wait = std::chrono::milliseconds(200);
  c.cli.shutdown.term_wait = std::chrono::milliseconds(200);
  c.cli.shutdown.drain_wait = std::chrono::milliseconds(200);
  c.cli.cli_path = "/nonexistent/ccb-fuzz/claude";
  c.allowed_origins = {"http://allowed.example"};
  if (second) {
    c.token = "fuzz-token";
    c.cors = true;
    c.limits.max_sessions = 0;
    c.allowed_permission_modes.push_back("bypassPermissions");
  } else {
    c.limits.max_sessions = 3;
  }
  return c;
}

// What Server::start() does, minus the listeners and the thread.
void set_up(Server::Impl &s)
{
  char buf[PATH_MAX];
  for (const auto &r : s.cfg.allowed_roots) {
    if (!::realpath(r.c_str(), buf)) ccb_fuzz::fail("allowed root missing: " + r);
    s.ctx.roots.push_back(buf);
  }
  std::vector<std::string> names;  // none: the profiles served by default
  if (g_profile != "all") names.push_back(g_profile);
  s.routers.push_back(srv::listener_router(s.ctx, names));
}

Server::Impl &server(bool second) { return *g_fx->servers[second ? 1 : 0]; }

// Runs what is ready on the server thread, and completes the close handshakes of connections
// the server closed (the client answers at once).
void pump(Server::Impl &s)
{
  for (int i = 0; i < 64; ++i) {
    s.ioc.restart();
    std::size_t n = s.ioc.poll();
    bool closed = false;
    for (auto &c : g_fx->conns) {
      if (c->open && c->closing) {
        c->open = false;
        if (auto h = std::move(c->handler)) {
          h->on_close(c->close_code);
          closed = true;
        }
      }
    }
    if (n == 0 && !closed) return;
  }
}

bool idle(Server::Impl &s)
{
  return s.ctx.processes.live() == 0 && s.hub.runs().empty();
}

// Waits until `done` holds, running the server thread's work meanwhile.
template <class Done> bool settle(Server::Impl &s, Done &&done, std::chrono::milliseconds limit)
{
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    pump(s);
    // Nothing runs off the server thread that done() does not see: a session being opened or
    // closed holds its process slot until its result is back.
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    s.ioc.restart();
    s.ioc.run_for(std::chrono::milliseconds(2));
  }
}

// After a step: without a CLI, until the spawn failures are handled (processes counted as
// live end at once); with the fake CLI, a process runs on its own (an sdk-ws conversation's lives
// on until the connection ends): a moment, no more.
void after_step(Server::Impl &s)
{
  if (!s.ctx.processes.live()) return;
  if (g_fake) {
    s.ioc.restart();
    s.ioc.run_for(std::chrono::milliseconds(5));
    pump(s);
  } else {
    settle(s, [&] { return s.ctx.processes.live() == 0; }, std::chrono::milliseconds(2000));
  }
}

// ---- HTTP ------------------------------------------------------------------------------------

struct ReplyLog {
  int replies = 0;
  srv::HttpResponse first;
};

void check_response(const srv::HttpResponse &r, std::string_view what)
{
  CCB_FUZZ_CHECK(r.status >= 100 && r.status <= 599, std::to_string(r.status));
  if (r.content_type == "application/json" && !r.body.empty()) {
    CCB_FUZZ_CHECK(ccb_fuzz::valid_json(r.body), std::string(what) + " -> " + r.body);
    CCB_FUZZ_CHECK(utf8_ok(r.body), std::string(what) + " -> " + r.body);
  }
  for (const auto &h : r.headers) {
    CCB_FUZZ_CHECK(h.first.find_first_of("\r\n") == std::string::npos, h.first);
    CCB_FUZZ_CHECK(h.second.find_first_of("\r\n") == std::string::npos, h.second);
  }
}

std::vector<std::shared_ptr<ReplyLog>> g_replies;

void open_ws(Server::Impl &s, srv::HttpRequest req)
{
  srv::WsAccept acc = s.upgrade(0, req);
  if (acc.reject_status) {
    srv::HttpResponse r = srv::HttpResponse::json(acc.reject_status, acc.reject_body);
    check_response(r, req.path);
    return;
  }
  // The transport's open handler: the connection takes the request; a refused token closes at once.
  auto conn = std::make_unique<FakeConn>(std::move(req));
  FakeConn &c = *conn;
  g_fx->conns.push_back(std::move(conn));
  if (acc.close_code) {
    c.close(acc.close_code, acc.close_reason);
    return;
  }
  CCB_FUZZ_CHECK(acc.factory != nullptr, "an accepted upgrade without a handler");
  c.handler = acc.factory(c);
  if (c.handler) c.handler->on_open();
}

// One request through websocketpp's parser; returns the bytes used (0: stop).
std::size_t one_request(Server::Impl &s, const char *p, std::size_t n, bool force_upgrade, srv::HttpRequest *keep)
{
  srv::Request parsed;  // the transport's parser (a refused body framing does not wait for the body)
  parsed.set_max_body_size(1 << 16);
  std::size_t used = 0;
  try {
    used = parsed.consume(p, n);
  } catch (const websocketpp::http::exception &) {
    return 0;  // the transport answers 400 itself
  }
  if (!parsed.ready() || used == 0) return 0;
  const bool upgrade = force_upgrade || websocketpp::processor::is_websocket_handshake(parsed);
  // What the transport refuses (HTTP 400 / 426): header values with CR, LF or NUL, an ambiguous
  // body framing (Transfer-Encoding), and upgrades that are not RFC 6455 (version 13). A refused
  // plain request still reaches the server, marked, for the profile's own error body.
  const char *why = srv::refusal(parsed);
  if (why && upgrade) {
    check_response(srv::HttpResponse::json(400, srv::error_body(why)), "refused");
    return used;
  }
  if (upgrade && !force_upgrade && parsed.get_header("Sec-WebSocket-Version") != "13") return used;
  srv::HttpRequest req = srv::to_request(parsed, "127.0.0.1:40000");
  if (why) req.refused = why;
  if (keep) *keep = req;
  if (upgrade) {
    open_ws(s, std::move(req));
  } else {
    auto log = std::make_shared<ReplyLog>();
    g_replies.push_back(log);
    std::string what = req.method + " " + req.path;
    s.http(0, req, [log, what](srv::HttpResponse r) {
      if (log->replies++ == 0) {
        check_response(r, what);
        note_ids(r.body);
        log->first = std::move(r);
      }
    });
  }
  pump(s);
  after_step(s);
  return used;
}

// ---- WebSocket ---------------------------------------------------------------------------------

void set_script(Server::Impl &s, std::string_view name)
{
  static const std::map<std::string, std::string> scripts = {
      {"echo", ""},  // the fake CLI's default script
      {"turns", "serve_turns"},
      {"perm", "permission_turn Bash {\"command\":\"ls\"}\nserve_turns"},
      {"tool",
       "wait_user\nsend_control {\"subtype\":\"mcp_message\",\"server_name\":\"ccbridge\",\"message\":{\"jsonrpc\":\"2.0\","
       "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"t1\",\"arguments\":{\"x\":1}}}}\nserve_turns"},
      {"crash", "wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\"}\nstderr dying\nkill 11"},
      {"noise",
       "wait_user\nemit not json\nemit {\"type\":\"assistant\",\"message\":{\"content\":\"x\"}}\nemit_raw {\"bad\":\"\\xff\"}\\x0a\n"
       "emit {\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[1,{\"a\":null}]}]}}\n"
       "emit {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"total_cost_usd\":1e308,\"usage\":[]}\n"
       "stderr a line on stderr\nexit 3"},
  };
  auto it = scripts.find(std::string(name));
  s.cfg.cli.env["CCB_FAKE_SCRIPT_TEXT"] = it == scripts.end() ? std::string() : it->second;
}

// !reset CUT STEPS [TARGET]: the input chooses where in the handshake the reset lands: before the
// server accepts, mid-request, after the upgrade was accepted and before its 101 is written,
// after the 101, after the open (a refused token's 1008 close, the profile's first frames). The
// transport's real handlers run (validate, open, fail, close); wind_down() checks that every
// connection slot came back.
void handshake_reset(Server::Impl &s, std::string_view arg, const srv::HttpRequest &first)
{
  std::string args(arg);
  char *p = args.data();
  std::size_t cut = std::strtoul(p, &p, 10);
  std::size_t steps = std::min<std::size_t>(std::strtoul(p, &p, 10), 64);
  std::string target(p + std::strspn(p, " "));
  if (target.empty()) {
    target = first.path.empty() ? "/" : first.path;
    char sep = '?';
    for (const auto &[k, v] : first.query) {
      target += sep + k + "=" + v;
      sep = '&';
    }
  }
  std::string raw = "GET " + target + " HTTP/1.1\r\n";
  for (const auto &[k, v] : first.headers)
    if (k != "connection" && k != "upgrade") raw += k + ": " + v + "\r\n";
  if (!first.headers.count("host")) raw += "Host: 127.0.0.1\r\n";
  if (!first.headers.count("sec-websocket-key")) raw += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  if (!first.headers.count("sec-websocket-version")) raw += "Sec-WebSocket-Version: 13\r\n";
  raw += "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

  std::uint16_t &port = g_fx->ports[&s == g_fx->servers[1].get() ? 1 : 0];
  if (!port) port = s.transport.listen(0, "127.0.0.1", 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
    ccb_fuzz::fail(std::string("cannot connect to the transport: ") + std::strerror(errno));
  (void)::send(fd, raw.data(), std::min(cut, raw.size()), MSG_NOSIGNAL);
  for (std::size_t i = 0; i < steps; ++i) {
    s.ioc.restart();
    if (s.ioc.poll_one() == 0) break;
  }
  linger rst{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
  ::close(fd);
}

void ws_directive(Server::Impl &s, std::string_view line, const srv::HttpRequest &first)
{
  auto space = line.find(' ');
  std::string_view cmd = line.substr(0, space);
  std::string_view arg = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  if (cmd == "!close") {
    if (g_fx->conns.empty()) return;
    FakeConn &c = *g_fx->conns.back();
    if (!c.open) return;
    int code = arg.empty() ? 1000 : std::atoi(std::string(arg).c_str());
    c.open = false;
    if (auto h = std::move(c.handler)) h->on_close(static_cast<std::uint16_t>(code));
  } else if (cmd == "!open") {
    if (g_fx->conns.size() >= 8) return;
    std::string raw = "GET " + std::string(arg.empty() ? std::string_view("/") : arg) + " HTTP/1.1\r\n";
    for (const auto &[k, v] : first.headers) raw += k + ": " + v + "\r\n";
    raw += "\r\n";
    one_request(s, raw.data(), raw.size(), true, nullptr);
  } else if (cmd == "!execute") {
    // opcode: start a run to watch (POST /claude/execute); its session id becomes {sid}.
    std::string body = "{\"project_path\":\"" + std::string(kRoot) + "/proj\",\"prompt\":";
    ccbridge::append_json_string(body, arg.empty() ? std::string_view("hello") : arg);
    body += "}";
    std::string raw = "POST /claude/execute HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body;
    one_request(s, raw.data(), raw.size(), false, nullptr);
  } else if (cmd == "!wait") {
    // A conversation's process (sdk-ws) lives on: then until its queries end or one waits for the
    // client (a permission, a tool result), at most 0.4 s.
    settle(s, [&] { return s.ctx.processes.live() == 0 || (g_fake && (g_open_queries <= 0 || g_client_asked)); },
           std::chrono::milliseconds(g_fake ? 400 : 2000));
  } else if (cmd == "!shutdown") {
    for (auto &c : g_fx->conns)
      if (c->open && c->handler) c->handler->on_shutdown();
  } else if (cmd == "!script") {
    if (g_fake) set_script(s, arg);
  } else if (cmd == "!reset") {
    // Only there: a real connection costs far more than the in-memory ones (a TCP handshake,
    // and leak checks), and the other targets keep their pace.
    if (g_profile == "all") handshake_reset(s, arg, first);
  }
}

void ws_messages(Server::Impl &s, std::string_view rest, const srv::HttpRequest &first)
{
  std::size_t steps = 0;
  while (!rest.empty() && steps++ < kMaxSteps) {
    auto nl = rest.find('\n');
    std::string line(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    line = substitute(std::move(line));
    if (!line.empty() && line[0] == '!') {
      ws_directive(s, line, first);
    } else {
      if (g_fx->conns.empty()) return;
      FakeConn &c = *g_fx->conns.back();
      if (!c.open || !c.handler) continue;
      if (!utf8_ok(line)) {
        // websocketpp fails a connection whose text message is not UTF-8 (1007).
        c.open = false;
        if (auto h = std::move(c.handler)) h->on_close(1007);
      } else {
        c.handler->on_text(line);
      }
    }
    pump(s);
    after_step(s);
  }
}

// ---- the end of an input: back to idle -----------------------------------------------------------

void wind_down(Server::Impl &s)
{
  // The clients go away (the transport's close handler), conversations waiting for a reconnect
  // end (the server's stop hooks), runs nobody watches are cancelled.
  for (auto &c : g_fx->conns) {
    if (!c->open) continue;
    c->open = false;
    if (auto h = std::move(c->handler)) h->on_close(1006);
  }
  pump(s);
  for (auto &hook : s.ctx.on_stop) hook();
  for (auto &run : s.hub.runs())
    if (!run->finished() && run->cancel) run->cancel();
  // The connections of !reset too: each one ended and gave its connection slot back, whenever its
  // reset came (a slot kept is a WebSocket refused with 503 for good).
  auto transport_idle = [&] { return s.transport.pending_handshakes() == 0 && s.transport.open_connections() == 0; };
  bool ok = settle(s, [&] { return idle(s) && transport_idle() && ccb_fuzz::live_children().empty(); },
                   std::chrono::milliseconds(20000));
  if (!ok) {
    ccb_fuzz::fail("the server did not return to idle: live_processes=" + std::to_string(s.ctx.processes.live()) +
                   " runs=" + std::to_string(s.hub.runs().size()) + " children=" + ccb_fuzz::live_children() +
                   " pending_handshakes=" + std::to_string(s.transport.pending_handshakes()) +
                   " open_connections=" + std::to_string(s.transport.open_connections()));
  }
  for (const auto &r : g_replies) CCB_FUZZ_CHECK(r->replies >= 1, "an HTTP request was never answered");
  g_replies.clear();
  g_fx->conns.clear();
  g_subst.clear();
  g_open_queries = 0;
  g_client_asked = false;
  s.ctx.stopping = false;
}

}  // namespace ccb_fuzz_server

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  using namespace ccb_fuzz_server;
  std::string name = *argc > 0 ? (*argv)[0] : "";
  name = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
  g_ws = name.rfind("fuzz_ws_", 0) == 0;
  g_fake = name.size() > 4 && name.compare(name.size() - 4, 4, "_cli") == 0;
  if (name.find("opcode") != std::string::npos) g_profile = "opcode";
  else if (name.find("tasks_ui") != std::string::npos) g_profile = "tasks-ui";
  else if (name.find("sdk_ws") != std::string::npos) g_profile = "sdk-ws";
  else if (name == "fuzz_ws_handshake") g_profile = "all";
  else ccb_fuzz::fail("the executable's name must be fuzz_{http|ws}_{opcode|tasks_ui|sdk_ws}[_cli] or "
                      "fuzz_ws_handshake, not " + name);
  ::mkdir(kRoot, 0755);
  ::mkdir((std::string(kRoot) + "/proj").c_str(), 0755);
  ::symlink("/", (std::string(kRoot) + "/escape").c_str());
  g_fx = new Fixture;
  for (int i = 0; i < 2; ++i) {
    ccbridge::ServerConfig cfg = make_config(i == 1);
    if (g_fake) {
      cfg.cli.cli_path = CCB_FUZZ_FAKE_CLI_PATH;
      cfg.cli.env["CCB_FAKE_SCRIPT_TEXT"] = "";
    }
    g_fx->servers[i] = std::make_unique<Server::Impl>(g_fx->runtime, std::move(cfg));
    set_up(*g_fx->servers[i]);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  using namespace ccb_fuzz_server;
  std::string_view in(reinterpret_cast<const char *>(data), size);
  bool second = !in.empty() && in[0] == '!';
  if (second) in.remove_prefix(1);
  Server::Impl &s = server(second);
  if (g_fake) set_script(s, "echo");
  if (g_ws) {
    // The upgrade request (its headers end at the first empty line), then the messages.
    std::size_t end = in.find("\r\n\r\n");
    std::string head(in.substr(0, end == std::string_view::npos ? in.size() : end));
    std::string_view rest = end == std::string_view::npos ? std::string_view() : in.substr(end + 4);
    // The transport only hands over requests with the upgrade headers; add them if missing.
    std::string raw = head + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    srv::HttpRequest first;
    if (one_request(s, raw.data(), raw.size(), true, &first) > 0) ws_messages(s, rest, first);
  } else {
    std::string buf(in);
    std::size_t off = 0;
    for (std::size_t steps = 0; off < buf.size() && steps < kMaxSteps; ++steps) {
      std::string rest = substitute(buf.substr(off));
      std::size_t used = one_request(s, rest.data(), rest.size(), false, nullptr);
      if (used == 0) break;
      buf = rest;
      off = used;
    }
  }
  wind_down(s);
  return 0;
}
