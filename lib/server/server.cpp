// Server: the listeners, the routes every listener shares (/health, /metrics), the checks every
// request passes (token, Origin, CORS), and the graceful stop.
#include "server/context.hpp"
#include "server/profile.hpp"
#include "server/transport.hpp"

#include "core/runtime_guard.hpp"
#include "protocol/utf8.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>
#include <ccbridge/version.h>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

namespace ccbridge::detail::server {

// ---- small shared helpers ----------------------------------------------------------------------

std::string utf8_or_replaced(std::string_view s)
{
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t bad = 0;
    if (valid_utf8(s.data() + i, s.size() - i, &bad)) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, bad));
    out += "\xEF\xBF\xBD";  // U+FFFD
    i += bad + 1;
  }
  return out;
}

std::string json_str(std::string_view s)
{
  std::string out;
  std::size_t bad = 0;
  ccbridge::append_json_string(out, valid_utf8(s.data(), s.size(), &bad) ? s : std::string_view(utf8_or_replaced(s)));
  return out;
}

std::string error_body(std::string_view message) { return "{\"error\":" + json_str(message) + "}"; }

std::string quoted(std::string_view client_text)
{
  constexpr std::size_t kMax = 64;
  if (client_text.size() <= kMax) return "'" + std::string(client_text) + "'";
  std::size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(client_text[cut]) & 0xC0) == 0x80) --cut;  // whole characters
  return "'" + std::string(client_text.substr(0, cut)) + "...' (" + std::to_string(client_text.size()) + " bytes)";
}

void Logger::write(Level l, std::string_view event, Fields fields)
{
  if (!enabled(l)) return;
  static const char *const kNames[] = {"debug", "info", "warn", "error"};
  const char *lname = kNames[static_cast<int>(l)];
  timeval tv{};
  gettimeofday(&tv, nullptr);
  std::tm tm{};
  gmtime_r(&tv.tv_sec, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(tv.tv_usec / 1000));
  std::string line;
  if (cfg_.json) {
    line = "{\"ts\":\"" + std::string(ts) + "\",\"level\":\"" + lname + "\",\"event\":" + json_str(event);
    for (const auto &f : fields) line += "," + json_str(f.first) + ":" + json_str(f.second);
    line += "}";
  } else {
    line = std::string(ts) + " " + lname + " " + std::string(event);
    for (const auto &f : fields) {
      line += " " + std::string(f.first) + "=";
      bool quote = f.second.empty() || f.second.find_first_of(" \"=") != std::string_view::npos;
      line += quote ? json_str(f.second) : std::string(f.second);
    }
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (cfg_.sink) {
    cfg_.sink(line);
  } else {
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

void Metrics::observe_latency(double seconds)
{
  std::size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  latency_counts[i].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

bool Context::in_roots(const std::string &real) const
{
  for (const auto &root : roots) {
    if (real == root || (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
                         (root.back() == '/' || real[root.size()] == '/')))
      return true;
  }
  return false;
}

std::string Context::nearest_existing_ancestor(const std::string &path)
{
  std::string p = path;
  char buf[PATH_MAX];
  while (p.size() > 1) {
    auto slash = p.find_last_of('/');
    p.resize(slash == 0 ? 1 : slash);
    if (::realpath(p.c_str(), buf)) return buf;
  }
  return "/";
}

bool Context::resolve_cwd(const std::string &requested, std::string &resolved, DirectoryHandle &dir, std::string &why) const
{
  if (requested.empty() || requested[0] != '/') {
    why = "the path must be absolute";
    return false;
  }
  if (requested.find('\0') != std::string::npos) {
    why = "the path contains a NUL byte";
    return false;
  }
  char buf[PATH_MAX];
  if (!::realpath(requested.c_str(), buf)) {
    // One answer for every path outside the roots, whether it exists or not: otherwise the
    // difference tells a client what exists outside. So the nearest ancestor that exists decides.
    why = in_roots(nearest_existing_ancestor(requested)) ? "the directory does not exist or cannot be reached"
                                                         : "the directory is outside the server's allowed roots";
    return false;
  }
  std::string real = buf;
  if (!in_roots(real)) {
    why = "the directory is outside the server's allowed roots";
    return false;
  }
  // Open what was checked, following no symlink: a component swapped for one since realpath()
  // fails here instead of sending the CLI outside the root.
  try {
    dir = open_directory_nofollow(real);
  } catch (const Error &) {
    why = "the directory does not exist or cannot be reached";
    return false;
  }
  resolved = real;
  return true;
}

bool Context::mode_allowed(const std::string &mode) const
{
  const auto &m = cfg.allowed_permission_modes;
  return std::find(m.begin(), m.end(), mode) != m.end();
}

namespace {
// "Name" or "Name(rule)": one tool as the CLI's --allowedTools reads it, which splits on commas,
// and on spaces outside parentheses, so anything else could smuggle in further tools.
bool tool_element_ok(std::string_view e)
{
  std::size_t open = e.find('(');
  std::string_view name = e.substr(0, open);
  if (name.empty() || name.size() > 128) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*')) return false;
  if (open == std::string_view::npos) return true;
  std::string_view rule = e.substr(open + 1);
  if (rule.empty() || rule.back() != ')') return false;
  rule.remove_suffix(1);
  for (char c : rule)
    if (c == '(' || c == ')' || c == ',' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return false;
  return true;
}
}  // namespace

Context::ToolGrant Context::client_tool(std::string_view element, const std::string &mode, std::string &why) const
{
  if (!tool_element_ok(element)) {
    why = "allowed_tools element " + quoted(element) +
          " is not one tool: write \"Name\" or \"Name(rule)\", with no comma and no space outside the parentheses";
    return ToolGrant::refused;
  }
  std::string_view name = element.substr(0, element.find('('));
  for (const auto &a : cfg.client_allowed_tools)
    if (a == "*" || a == element || a == name) return ToolGrant::rule;
  // The seed's own client example asks for ["Write"] with acceptEdits.
  static constexpr std::string_view kEditTools[] = {"Write", "Edit", "MultiEdit", "NotebookEdit"};
  if (mode == "acceptEdits" && std::find(std::begin(kEditTools), std::end(kEditTools), element) != std::end(kEditTools))
    return ToolGrant::by_mode;
  why = "allowed_tools element " + quoted(element) + " is not among the tools this server lets clients pre-approve";
  return ToolGrant::refused;
}

bool Context::session_id_ok(std::string_view id)
{
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

bool Context::model_ok(std::string_view m)
{
  if (m.empty() || m.size() > 128 || m[0] == '-') return false;
  for (char c : m)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          std::string_view("._-:/@[]").find(c) != std::string_view::npos))
      return false;
  return true;
}

Options Context::base_options() const
{
  Options o = cfg.cli;
  if (!o.permission_mode) o.permission_mode = cfg.default_permission_mode;
  return o;
}

std::string Context::new_id()
{
  // Ids reach other clients' runs (attach, replay, cancel): they must not be predictable, so they
  // come from the kernel's CSPRNG (122 random bits), never from a seeded PRNG.
  std::uint64_t w[2];
  random_bytes(w, sizeof w);
  std::uint64_t a = (w[0] & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  std::uint64_t b = (w[1] & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF, b >> 48,
                     b & 0xFFFFFFFFFFFFull);
}

std::string Context::new_secret()
{
  unsigned char b[32];
  random_bytes(b, sizeof b);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof b);
  for (unsigned char c : b) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 0xF]);
  }
  return out;
}

void random_bytes(void *out, std::size_t n)
{
  auto *p = static_cast<unsigned char *>(out);
  while (n > 0) {
    ssize_t got = ::getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      // No fallback to a weaker source: an id that could be guessed is worse than no run.
      throw Error(errc::io_error, std::string("getrandom failed: ") + std::strerror(errno));
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

bool secret_equal(std::string_view a, std::string_view b)
{
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// ---- Router ------------------------------------------------------------------------------------

void Router::http(std::string method, std::string pattern, HttpHandler h)
{
  http_.push_back({std::move(method), std::move(pattern), std::move(h)});
}

void Router::ws(std::string pattern, WsFactory f) { ws_.push_back({std::move(pattern), std::move(f), nullptr}); }

void Router::ws(std::string pattern, WsGate gate) { ws_.push_back({std::move(pattern), nullptr, std::move(gate)}); }

void Router::mount(std::string prefix, HttpHandler h, ErrorRenderer errors)
{
  mounts_.push_back({std::move(prefix), std::move(h), std::move(errors)});
}

const Router::Mount *Router::find_mount(const HttpRequest &req) const
{
  const Mount *best = nullptr;
  for (const auto &m : mounts_) {
    bool hit = req.path.compare(0, m.prefix.size(), m.prefix) == 0 ||
               (m.prefix.size() > 1 && m.prefix.back() == '/' && req.path + "/" == m.prefix);
    if (hit && (!best || m.prefix.size() > best->prefix.size())) best = &m;
  }
  return best;
}

const HttpHandler *Router::match_mount(const HttpRequest &req) const
{
  const Mount *m = find_mount(req);
  return m ? &m->handler : nullptr;
}

HttpResponse Router::error(const HttpRequest &req, int status, const std::string &message) const
{
  const Mount *m = find_mount(req);
  if (m && m->errors) return m->errors(status, message);
  return HttpResponse::json(status, error_body(message));
}

bool Router::match(const std::string &pattern, const std::string &path, std::map<std::string, std::string> &params)
{
  std::size_t i = 0, j = 0;
  std::map<std::string, std::string> out;
  while (i < pattern.size() && j <= path.size()) {
    if (pattern[i] == '{') {
      auto close = pattern.find('}', i);
      std::string name = pattern.substr(i + 1, close - i - 1);
      auto end = path.find('/', j);
      if (end == std::string::npos) end = path.size();
      if (end == j) return false;  // an empty segment
      out[name] = path.substr(j, end - j);
      i = close + 1;
      j = end;
      continue;
    }
    if (j >= path.size() || pattern[i] != path[j]) return false;
    ++i;
    ++j;
  }
  if (i != pattern.size() || j != path.size()) return false;
  params = std::move(out);
  return true;
}

const HttpHandler *Router::match_http(HttpRequest &req, bool *path_known) const
{
  *path_known = false;
  for (const auto &r : http_) {
    std::map<std::string, std::string> params;
    if (!match(r.pattern, req.path, params)) continue;
    *path_known = true;
    if (r.method != req.method) continue;
    req.params = std::move(params);
    return &r.handler;
  }
  return nullptr;
}

Router::WsMatch Router::match_ws(HttpRequest &req) const
{
  for (const auto &r : ws_) {
    std::map<std::string, std::string> params;
    if (!match(r.pattern, req.path, params)) continue;
    req.params = std::move(params);
    if (r.gate) return {nullptr, &r.gate};
    return {&r.factory, nullptr};
  }
  return {};
}

// ---- listeners ---------------------------------------------------------------------------------

std::vector<std::string> resolve_roots(const std::vector<std::string> &given)
{
  std::vector<std::string> roots = given;
  char buf[PATH_MAX];
  if (roots.empty()) {
    if (!::getcwd(buf, sizeof buf)) throw Error(errc::io_error, "cannot read the current directory");
    roots.push_back(buf);
  }
  for (auto &r : roots) {
    if (!::realpath(r.c_str(), buf))
      throw Error(errc::invalid_argument,
                  "allowed root '" + r + "' does not exist. What to do: create it or fix the setting.");
    r = buf;
  }
  return roots;
}

namespace {

// A listener's router: the routes of each profile it serves, in the table's order (opcode's WS
// /ws/claude/{id} and tasks-ui's WS /ws/claude differ by the id segment).
Router listener_router(Context &ctx, std::vector<std::string> &names)
{
  if (names.empty())
    for (const auto &p : profile_table())
      if (p.by_default) names.emplace_back(p.name);
  for (const auto &n : names)
    if (!find_profile(n))
      throw Error(errc::invalid_argument, "unknown profile '" + n + "' (known: " + profile_names() + ")");
  Router router;
  for (const auto &p : profile_table())
    if (std::find(names.begin(), names.end(), p.name) != names.end()) p.install(ctx, router);
  return router;
}

}  // namespace
}  // namespace ccbridge::detail::server

// ---- Server ------------------------------------------------------------------------------------

CCB_BEGIN_NAMESPACE

namespace srv = ccbridge::detail::server;

struct Server::Impl final : srv::TransportHandler {
  Impl(Runtime &rt, ServerConfig c)
      : runtime(rt),
        cfg(std::move(c)),
        log(cfg.log),
        hub(ioc, srv::HubLimits{cfg.limits.send_buffer_bytes, cfg.limits.slow_client_timeout,
                                cfg.limits.run_log_bytes, cfg.limits.finished_run_grace}),
        ctx(ioc, runtime, cfg, hub, log, metrics),
        transport(ioc, *this,
                  srv::TransportLimits{cfg.limits.max_connections, cfg.limits.max_body_bytes,
                                       cfg.limits.max_ws_message_bytes, cfg.limits.idle_timeout,
                                       cfg.limits.ws_messages_per_second})
  {
  }

  Runtime &runtime;
  ServerConfig cfg;
  asio::io_context ioc{1};
  srv::Logger log;
  srv::Metrics metrics;
  srv::Hub hub;
  srv::Context ctx;
  srv::Transport transport;
  std::vector<srv::Router> routers;  // one per listener
  std::vector<ServerEndpoint> bound;
  std::thread thread;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();

  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  bool stop_requested = false;
  bool stopped = false;

  // TransportHandler
  void http(std::size_t listener, srv::HttpRequest &req, srv::HttpReply reply) override;
  srv::WsAccept upgrade(std::size_t listener, srv::HttpRequest &req) override;

  bool token_ok(const srv::HttpRequest &req) const;
  void run_handler(const srv::HttpHandler &h, const srv::HttpRequest &req, const srv::HttpReply &respond,
                   const srv::ErrorRenderer &error);
  bool origin_ok(const srv::HttpRequest &req) const;
  /// A browser page from another origin writing to us (CSRF): a simple cross-site POST needs no
  /// preflight, so CORS alone does not stop it.
  bool cross_site_write(const srv::HttpRequest &req) const
  {
    return !req.header("origin").empty() && req.method != "GET" && req.method != "HEAD" && !origin_ok(req);
  }
  std::string cors_origin(const srv::HttpRequest &req) const;
  srv::HttpResponse health() const;
  bool serves(std::string_view profile) const;
  srv::HttpResponse prometheus(const srv::HttpRequest &req) const;
  void begin_stop();
  void finish_stop();
  void prepare();
  void run_loop();
};

bool Server::Impl::token_ok(const srv::HttpRequest &req) const
{
  if (cfg.token.empty()) return true;
  std::string auth = req.header("authorization");
  std::string given;
  if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0)) {
    given = auth.substr(7);
  } else if (auto t = req.query_param("token")) {
    given = *t;
  }
  // Constant-time compare, so the token cannot be guessed byte by byte from response times.
  return srv::secret_equal(given, cfg.token);
}

bool Server::Impl::origin_ok(const srv::HttpRequest &req) const
{
  std::string origin = req.header("origin");
  if (origin.empty()) return true;  // not a browser
  for (const auto &o : cfg.allowed_origins)
    if (o == "*" || o == origin) return true;
  // The server's own pages: Origin http://<Host>.
  std::string host = req.header("host");
  return !host.empty() && (origin == "http://" + host || origin == "https://" + host);
}

std::string Server::Impl::cors_origin(const srv::HttpRequest &req) const
{
  if (!cfg.cors) return {};
  std::string origin = req.header("origin");
  if (origin.empty() || !origin_ok(req)) return {};
  return origin;
}

srv::HttpResponse Server::Impl::health() const
{
  auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at).count();
  std::string body = fmt::format(
      "{{\"status\":\"healthy\",\"active_sessions\":{},\"max_sessions\":{},\"connections\":{},\"pending_handshakes\":{},"
      "\"uptime_seconds\":{},\"version\":{},\"containment\":\"{}\"}}",
      ctx.processes.live(), cfg.limits.max_sessions, transport.open_connections(), transport.pending_handshakes(), up,
      srv::json_str(CCB_VERSION_STRING), detail::runtime_containment());
  return srv::HttpResponse::json(200, std::move(body));
}

bool Server::Impl::serves(std::string_view profile) const
{
  for (const auto &l : cfg.listeners)
    if (std::find(l.profiles.begin(), l.profiles.end(), profile) != l.profiles.end()) return true;
  return false;
}

srv::HttpResponse Server::Impl::prometheus(const srv::HttpRequest &req) const
{
  const auto &hs = hub.stats();
  std::string o;
  auto counter = [&o](const char *name, const char *help, std::uint64_t v) {
    o += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
  };
  auto gauge = [&o](const char *name, const char *help, std::uint64_t v) {
    o += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, v);
  };
  gauge("ccbridge_sessions_active", "CLI processes running for clients", ctx.processes.live());
  gauge("ccbridge_runs_held", "Runs held for replay (live and finished within the grace period)", hub.runs().size());
  gauge("ccbridge_ws_clients", "Open WebSocket connections", transport.open_connections());
  gauge("ccbridge_ws_handshakes_pending", "WebSocket upgrades accepted and not open yet (they count against --max-connections)",
        transport.pending_handshakes());
  counter("ccbridge_runs_started_total", "Runs started", hs.runs_started);
  counter("ccbridge_runs_finished_total", "Runs finished", hs.runs_finished);
  counter("ccbridge_cli_messages_total", "Messages read from CLI processes", metrics.messages_from_cli.load());
  counter("ccbridge_cli_bytes_total", "Bytes of messages read from CLI processes", metrics.bytes_from_cli.load());
  counter("ccbridge_events_published_total", "Events appended to run logs", hs.frames_published);
  counter("ccbridge_messages_relayed_total", "Event frames sent to clients", hs.frames_sent);
  counter("ccbridge_bytes_relayed_total", "Bytes of event frames sent to clients", hs.bytes_sent);
  counter("ccbridge_clients_dropped_total", "Subscribers closed for being too slow", hs.subscribers_dropped);
  counter("ccbridge_replay_gaps_total", "Replays that asked for events no longer held", hs.replay_gaps);
  counter("ccbridge_http_requests_total", "HTTP requests", metrics.http_requests.load());
  counter("ccbridge_http_errors_total", "HTTP requests answered 4xx or 5xx", metrics.http_errors.load());
  counter("ccbridge_ws_connections_total", "WebSocket connections accepted", metrics.ws_connections_total.load());
  counter("ccbridge_ws_rejected_total", "WebSocket upgrades refused", metrics.ws_rejected.load());
  counter("ccbridge_client_errors_total", "Bad client input answered with an error", metrics.client_errors.load());
  counter("ccbridge_spawn_failures_total", "CLI processes that could not be started", metrics.spawn_failures.load());
  o += "# HELP ccbridge_relay_latency_seconds From a CLI line read to its event handed to the clients\n"
       "# TYPE ccbridge_relay_latency_seconds histogram\n";
  std::uint64_t cum = 0;
  for (std::size_t i = 0; i < srv::Metrics::kBuckets.size(); ++i) {
    cum += metrics.latency_counts[i].load();
    o += fmt::format("ccbridge_relay_latency_seconds_bucket{{le=\"{}\"}} {}\n", srv::Metrics::kBuckets[i], cum);
  }
  cum += metrics.latency_counts.back().load();
  o += fmt::format("ccbridge_relay_latency_seconds_bucket{{le=\"+Inf\"}} {}\n", cum);
  o += fmt::format("ccbridge_relay_latency_seconds_sum {:.9f}\n", static_cast<double>(metrics.latency_sum_ns.load()) / 1e9);
  o += fmt::format("ccbridge_relay_latency_seconds_count {}\n", cum);
  for (const auto &p : srv::profile_table())  // each profile served adds its own
    if (p.metrics && serves(p.name)) p.metrics(ctx, req, o);
  srv::HttpResponse r;
  r.body = std::move(o);
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

void Server::Impl::http(std::size_t listener, srv::HttpRequest &req, srv::HttpReply reply)
{
  ++metrics.http_requests;
  std::string cors = cors_origin(req);
  auto respond = [this, reply, cors, method = req.method, path = req.path](srv::HttpResponse r) {
    if (!cors.empty()) {
      r.headers.emplace_back("Access-Control-Allow-Origin", cors);
      r.headers.emplace_back("Vary", "Origin");
    }
    if (r.status >= 400) ++metrics.http_errors;
    log.debug("http", {{"method", method}, {"path", path}, {"status", std::to_string(r.status)}});
    reply(std::move(r));
  };
  bool path_known = false;
  const srv::Router &router = routers[listener];
  const srv::HttpHandler *h = router.match_http(req, &path_known);
  // A profile with credentials of its own (cc-control, platform) answers everything under its
  // prefixes, errors included, in its own words.
  const srv::HttpHandler *mounted = !h && !path_known && req.path != "/metrics" ? router.match_mount(req) : nullptr;
  srv::ErrorRenderer error = [&router, mounted, &req](int status, const std::string &message) {
    return mounted ? router.error(req, status, message) : srv::HttpResponse::json(status, srv::error_body(message));
  };
  if (!req.refused.empty()) {
    respond(error(400, req.refused));
    return;
  }
  if (req.method == "OPTIONS" && cfg.cors) {
    srv::HttpResponse r;
    r.status = cors.empty() ? 403 : 204;
    r.content_type.clear();
    if (!cors.empty()) {
      r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
      r.headers.emplace_back("Access-Control-Max-Age", "600");
    }
    respond(std::move(r));
    return;
  }
  if (req.method == "GET" && (req.path == "/health" || req.path == "/healthz")) {
    respond(health());
    return;
  }
  if (mounted) {
    if (cross_site_write(req)) respond(error(403, "origin not allowed"));
    else run_handler(*mounted, req, respond, error);
    return;
  }
  if (!token_ok(req)) {
    auto r = srv::HttpResponse::json(401, srv::error_body("missing or wrong token: send 'Authorization: Bearer <token>'"));
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    respond(std::move(r));
    return;
  }
  // CORS or not: a simple cross-site POST needs no preflight, so the Origin is checked here too.
  if (cross_site_write(req)) {
    // A browser page from elsewhere posting to us (CSRF): refuse.
    respond(srv::HttpResponse::json(403, srv::error_body("origin not allowed")));
    return;
  }
  if (req.method == "GET" && req.path == "/metrics") {
    respond(prometheus(req));
    return;
  }
  if (!h) {
    respond(srv::HttpResponse::json(path_known ? 405 : 404,
                                    srv::error_body(path_known ? "method not allowed" : "not found")));
    return;
  }
  run_handler(*h, req, respond, error);
}

void Server::Impl::run_handler(const srv::HttpHandler &h, const srv::HttpRequest &req, const srv::HttpReply &respond,
                               const srv::ErrorRenderer &error)
{
  if (ctx.stopping) {
    respond(error(503, "the server is shutting down"));
    return;
  }
  try {
    h(req, respond);
  } catch (const std::exception &e) {
    log.error("http_handler_failed", {{"path", req.path}, {"error", e.what()}});
    respond(error(500, e.what()));
  }
}

srv::WsAccept Server::Impl::upgrade(std::size_t listener, srv::HttpRequest &req)
{
  srv::WsAccept acc;
  if (ctx.stopping) {
    acc.reject_status = 503;
    acc.reject_body = srv::error_body("the server is shutting down");
  } else if (!origin_ok(req)) {
    acc.reject_status = 403;
    acc.reject_body = srv::error_body("origin not allowed");
  } else if (auto m = routers[listener].match_ws(req); m.gate) {
    acc = (*m.gate)(req);
  } else if (m.factory) {
    if (!token_ok(req)) {
      acc.close_code = srv::close_code::policy_violation;
      acc.close_reason = "Invalid authentication";
    } else {
      acc.factory = *m.factory;
    }
  } else {
    acc.reject_status = 404;
    acc.reject_body = srv::error_body("no WebSocket endpoint at " + req.path);
  }
  if (acc.reject_status || acc.close_code) {
    ++metrics.ws_rejected;
    log.info("ws_rejected", {{"path", req.path}, {"remote", req.remote},
                             {"why", acc.reject_status ? acc.reject_body : acc.close_reason}});
  } else {
    ++metrics.ws_connections_total;
  }
  return acc;
}

void Server::Impl::begin_stop()
{
  if (ctx.stopping) return;
  ctx.stopping = true;
  log.info("stopping", {{"runs", std::to_string(hub.live_runs())}, {"connections", std::to_string(transport.open_connections())}});
  transport.stop_accepting();
  transport.shutdown_connections();
  for (auto &hook : ctx.on_stop) hook();
  for (auto &run : hub.runs())
    if (!run->finished() && run->cancel) run->cancel();
  // Wait for the processes (their shutdown ladder) and the close handshakes, then force the rest.
  auto deadline = std::chrono::steady_clock::now() + cfg.cli.shutdown.exit_wait + cfg.cli.shutdown.term_wait +
                  cfg.cli.shutdown.drain_wait + std::chrono::seconds(2);
  auto timer = std::make_shared<asio::steady_timer>(ioc);
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, timer, poll, deadline] {
    bool done = ctx.processes.live() == 0 && transport.open_connections() == 0;
    if (done || std::chrono::steady_clock::now() >= deadline) {
      Impl *self = this;
      auto keep = *poll;  // this lambda lives in *poll: keep it alive while it runs
      *poll = nullptr;    // break the cycle
      self->finish_stop();
      return;
    }
    timer->expires_after(std::chrono::milliseconds(10));
    timer->async_wait([poll](std::error_code) {
      if (*poll) (*poll)();
    });
  };
  (*poll)();
}

void Server::Impl::finish_stop()
{
  transport.abort_connections();
  log.info("stopped");
  guard.reset();
  ioc.stop();
}

Server::Server(Runtime &runtime, ServerConfig config) : impl_(std::make_shared<Impl>(runtime, std::move(config))) {}

Server::~Server()
{
  try {
    stop();
  } catch (...) {
  }
}

// Everything start() checks and sets up before the loop runs; throws on a bad setting.
void Server::Impl::prepare()
{
  detail::start_runtime_guard();
  if (cfg.listeners.empty()) cfg.listeners.push_back({});
  ctx.roots = srv::resolve_roots(cfg.allowed_roots);
  // The CLI never gets the host's whole environment: an agent allowed to run commands would read
  // the gateway's token and every other secret in it. A bad pass_env fails here, once.
  cfg.cli.inherit_env = EnvInherit::allow_list;
  (void)build_cli_env(cfg.cli, {});
  if (!ctx.mode_allowed(cfg.default_permission_mode)) {
    throw Error(errc::invalid_argument,
                "the default permission mode '" + cfg.default_permission_mode + "' is not among the allowed ones");
  }
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
    const char *set = cfg.tls_cert.empty() ? "tls_key (--tls-key)" : "tls_cert (--tls-cert)";
    const char *unset = cfg.tls_cert.empty() ? "tls_cert (--tls-cert)" : "tls_key (--tls-key)";
    throw Error(errc::invalid_argument,
                std::string("TLS needs both a certificate and a key: ") + set + " is set, " + unset + " is not");
  }
  if (!cfg.tls_cert.empty()) transport.use_tls(cfg.tls_cert, cfg.tls_key);
  for (auto &l : cfg.listeners) routers.push_back(srv::listener_router(ctx, l.profiles));
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    const auto &l = cfg.listeners[i];
    bound.push_back({l.host, transport.listen(i, l.host, l.port), l.profiles});
  }
}

// The server thread: runs the loop until stop, surviving a handler's exception.
void Server::Impl::run_loop()
{
  detail::forbid_waiting_on_this_thread();  // every client waits on this thread: it waits on nobody
  for (;;) {
    try {
      ioc.run();
      break;
    } catch (const std::exception &e) {
      log.error("server_loop_exception", {{"error", e.what()}});
    }
  }
  std::lock_guard<std::mutex> lk(mu);
  stopped = true;
  cv.notify_all();
}

void Server::start()
{
  Impl &s = *impl_;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (s.started) throw Error(errc::invalid_argument, "Server::start() was already called");
    s.started = true;
  }
  // A start that fails (bad setting, address in use) leaves a stopped server, so that stop(),
  // wait() and the destructor return at once instead of waiting for a loop that never ran.
  try {
    s.prepare();
  } catch (...) {
    std::lock_guard<std::mutex> lk(s.mu);
    s.stopped = true;
    s.cv.notify_all();
    throw;
  }
  s.guard.emplace(s.ioc.get_executor());
  std::weak_ptr<Impl> weak = impl_;
  s.thread = std::thread([weak] {
    if (auto self = weak.lock()) self->run_loop();
  });
  for (const auto &b : s.bound) {
    std::string profiles;
    for (const auto &p : b.profiles) profiles += (profiles.empty() ? "" : ",") + p;
    s.log.info("listening", {{"host", b.host}, {"port", std::to_string(b.port)}, {"profiles", profiles}});
  }
}

std::vector<ServerProfileInfo> server_profiles()
{
  std::vector<ServerProfileInfo> out;
  for (const auto &p : srv::profile_table())
    out.push_back({std::string(p.name), std::string(p.seed), p.default_port, p.by_default});
  return out;
}

std::vector<ServerEndpoint> Server::endpoints() const { return impl_->bound; }

void Server::stop()
{
  Impl &s = *impl_;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.started || s.stopped) {
      if (s.thread.joinable() && s.thread.get_id() != std::this_thread::get_id()) s.thread.join();
      return;
    }
    if (!s.stop_requested) {
      s.stop_requested = true;
      asio::post(s.ioc, [&s] { s.begin_stop(); });
    }
  }
  wait();
}

void Server::wait()
{
  Impl &s = *impl_;
  {
    std::unique_lock<std::mutex> lk(s.mu);
    if (!s.started) return;
    s.cv.wait(lk, [&s] { return s.stopped; });
  }
  if (s.thread.joinable() && s.thread.get_id() != std::this_thread::get_id()) s.thread.join();
}

CCB_END_NAMESPACE
