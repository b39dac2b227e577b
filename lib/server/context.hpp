// What every profile shares: the server thread's io_context, the config, the Hub, logging,
// metrics and the security checks; and the Router a profile registers its routes on.
#pragma once

#include "server/http.hpp"
#include "server/hub.hpp"
#include "server/transport.hpp"

#include <ccbridge/runtime.hpp>
#include <ccbridge/server.hpp>

#include <asio/io_context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ccbridge::detail::server {

/// Structured log lines (text or JSON), thread-safe.
class Logger {
public:
  using Level = ServerLog::Level;
  using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  explicit Logger(ServerLog cfg) : cfg_(std::move(cfg)) {}
  bool enabled(Level l) const { return l >= cfg_.level && cfg_.level != Level::off; }
  void write(Level l, std::string_view event, Fields fields = {});
  void debug(std::string_view e, Fields f = {}) { write(Level::debug, e, f); }
  void info(std::string_view e, Fields f = {}) { write(Level::info, e, f); }
  void warn(std::string_view e, Fields f = {}) { write(Level::warn, e, f); }
  void error(std::string_view e, Fields f = {}) { write(Level::error, e, f); }

private:
  ServerLog cfg_;
  std::mutex mu_;
};

/// Counters for /metrics that are not the Hub's.
struct Metrics {
  std::atomic<std::uint64_t> http_requests{0};
  std::atomic<std::uint64_t> http_errors{0};  ///< 4xx and 5xx answers
  std::atomic<std::uint64_t> ws_connections_total{0};
  std::atomic<std::uint64_t> ws_rejected{0};
  std::atomic<std::uint64_t> client_errors{0};   ///< bad input answered with an error frame or close
  std::atomic<std::uint64_t> spawn_failures{0};
  std::atomic<std::uint64_t> messages_from_cli{0};
  std::atomic<std::uint64_t> bytes_from_cli{0};
  /// Relay latency: from the CLI's line being read to its frame being handed to the clients.
  static constexpr std::array<double, 12> kBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> latency_counts{};
  std::atomic<std::uint64_t> latency_sum_ns{0};
  void observe_latency(double seconds);
  /// Relay latency of a line read at `read_at` (Message::read_at), handed on now.
  void observe_relay(std::chrono::steady_clock::time_point read_at)
  {
    observe_latency(std::chrono::duration<double>(std::chrono::steady_clock::now() - read_at).count());
  }
};

class Router;

/// CLI processes started for clients: each counts from the moment it is asked for until it has
/// been reaped (limits.max_sessions holds across every profile, and a process whose client left
/// still counts while its shutdown ladder runs). A Slot gives its place back once, when released
/// or destroyed, on any thread, even after the server is gone.
class ProcessSlots {
public:
  class Slot {
  public:
    Slot() = default;
    explicit Slot(std::shared_ptr<std::atomic<std::size_t>> count) : count_(std::move(count)) { ++*count_; }
    Slot(Slot &&o) noexcept : count_(std::move(o.count_)) {}
    Slot &operator=(Slot &&o) noexcept
    {
      if (this != &o) {
        release();
        count_ = std::move(o.count_);
      }
      return *this;
    }
    Slot(const Slot &) = delete;
    Slot &operator=(const Slot &) = delete;
    ~Slot() { release(); }
    void release() noexcept
    {
      if (count_) --*count_;
      count_.reset();
    }
    explicit operator bool() const noexcept { return count_ != nullptr; }

  private:
    std::shared_ptr<std::atomic<std::size_t>> count_;
  };
  explicit ProcessSlots(std::size_t max) : max_(max) {}
  /// A slot, or an empty one when `max` processes are already counted.
  Slot take()
  {
    if (live() >= max_) return {};
    return Slot(count_);
  }
  std::size_t live() const { return count_->load(); }

private:
  std::size_t max_;
  std::shared_ptr<std::atomic<std::size_t>> count_ = std::make_shared<std::atomic<std::size_t>>(0);
};

struct Context {
  Context(asio::io_context &io, Runtime &rt, const ServerConfig &c, Hub &h, Logger &l, Metrics &m)
      : ioc(io), runtime(rt), cfg(c), hub(h), log(l), metrics(m)
  {
  }
  asio::io_context &ioc;
  Runtime &runtime;
  const ServerConfig &cfg;
  Hub &hub;
  Logger &log;
  Metrics &metrics;
  ProcessSlots processes{cfg.limits.max_sessions};
  std::vector<std::string> roots;     ///< allowed roots, resolved (realpath) at start
  bool stopping = false;
  /// Called (server thread) when the server starts stopping: profiles end what no connection
  /// handler would (e.g. sdk-ws conversations waiting for a reconnect).
  std::vector<std::function<void()>> on_stop;
  /// The state of profile `name` shared by every listener that serves it (e.g. its conversations
  /// by id), made on first use; it lives exactly as long as the server (not in static storage).
  template <class T> T &profile_state(std::string_view name)
  {
    auto &slot = profile_states_[std::string(name)];
    if (!slot) slot = std::make_shared<T>();
    return *static_cast<T *>(slot.get());
  }
  /// The state of profile `name` if it has been made, else null.
  template <class T> const T *find_profile_state(std::string_view name) const
  {
    auto it = profile_states_.find(std::string(name));
    return it == profile_states_.end() ? nullptr : static_cast<const T *>(it->second.get());
  }

  /// Resolves a client's working directory (symlinks, "..") and checks it lies inside an allowed
  /// root; `dir` is then that directory held open, for the spawn (Options::cwd_dir): the CLI
  /// starts in the directory checked even if the path is swapped for a symlink meanwhile. On
  /// failure returns false with a reason fit for the client.
  bool resolve_cwd(const std::string &requested, std::string &resolved, DirectoryHandle &dir, std::string &why) const;
  /// Whether a resolved path (no symlink, no "..") lies inside an allowed root.
  bool in_roots(const std::string &real) const;
  /// The resolved path of the nearest ancestor of `path` that exists.
  static std::string nearest_existing_ancestor(const std::string &path);
  /// A permission mode the operator lets clients ask for.
  bool mode_allowed(const std::string &mode) const;
  /// What may become of one element of a client's allowed_tools under permission mode `mode`.
  enum class ToolGrant {
    refused,  ///< malformed, or not among ServerConfig::client_allowed_tools; `why` says which
    rule,     ///< pass it to the CLI as an allow rule
    by_mode,  ///< an edit tool under acceptEdits: the mode grants it inside the working
              ///< directory already, and an allow rule would reach beyond it, so it is not passed
  };
  ToolGrant client_tool(std::string_view element, const std::string &mode, std::string &why) const;
  /// Whether one more CLI process may start (limits.max_sessions).
  bool can_start_process() const { return processes.live() < cfg.limits.max_sessions; }
  /// The options of a new run: the configured base, with the CLI's stderr kept short.
  Options base_options() const;
  /// A Claude Code session id as clients pass it to resume: a UUID (8-4-4-4-12 hex digits).
  static bool session_id_ok(std::string_view id);
  /// A model name or alias: 1 to 128 of letters, digits and . _ - : / @ [ ], not starting with
  /// '-' (Bedrock and Vertex ids have ':', '/' and '@'; "[1m]" marks a context size).
  static bool model_ok(std::string_view model);
  /// A fresh random id (UUID v4 text, 122 bits from the OS's CSPRNG).
  static std::string new_id();
  /// A fresh secret (256 bits from the OS's CSPRNG, as 64 hex digits): resume tokens.
  static std::string new_secret();

private:
  std::map<std::string, std::shared_ptr<void>> profile_states_;
};

/// Decides a WebSocket upgrade itself (a profile with its own credentials, such as cc-control's
/// tokens): the answer's reject_status refuses it, its factory accepts it.
using WsGate = std::function<WsAccept(const HttpRequest &req)>;

/// How a mounted profile words an error the server answers for it (a request the transport
/// refused, a cross-site write, shutting down, a handler that threw): its clients parse its own
/// error body, not the gateway's `{"error":...}`.
using ErrorRenderer = std::function<HttpResponse(int status, const std::string &message)>;

/// Routes by method and path; `{name}` matches one path segment into HttpRequest::params.
/// Routes added with http() and ws() sit behind the gateway's token (ServerConfig::token);
/// mount() and a ws() with a gate are for profiles that check credentials of their own.
class Router {
public:
  void http(std::string method, std::string pattern, HttpHandler h);
  void ws(std::string pattern, WsFactory f);
  void ws(std::string pattern, WsGate gate);
  /// Every request whose path is `prefix` or starts with it ("/api/"; "/" takes all the rest),
  /// any method, when no http() route matches; the longest prefix wins. No gateway token.
  /// `errors` words the errors the server answers for paths under `prefix` (default: the
  /// gateway's JSON `{"error":...}`).
  void mount(std::string prefix, HttpHandler h, ErrorRenderer errors = {});
  /// The handler for req (filling req.params); *path_known tells a 405 from a 404.
  const HttpHandler *match_http(HttpRequest &req, bool *path_known) const;
  /// The mounted handler for req, or null.
  const HttpHandler *match_mount(const HttpRequest &req) const;
  /// An error answer for req, in the words of the mount that serves its path.
  HttpResponse error(const HttpRequest &req, int status, const std::string &message) const;
  /// The route for an upgrade: its factory (behind the gateway's token) or its gate.
  struct WsMatch {
    const WsFactory *factory = nullptr;
    const WsGate *gate = nullptr;
  };
  WsMatch match_ws(HttpRequest &req) const;

private:
  static bool match(const std::string &pattern, const std::string &path, std::map<std::string, std::string> &params);
  struct HttpRoute {
    std::string method, pattern;
    HttpHandler handler;
  };
  struct WsRoute {
    std::string pattern;
    WsFactory factory;
    WsGate gate;
  };
  struct Mount {
    std::string prefix;
    HttpHandler handler;
    ErrorRenderer errors;
  };
  const Mount *find_mount(const HttpRequest &req) const;
  std::vector<HttpRoute> http_;
  std::vector<WsRoute> ws_;
  std::vector<Mount> mounts_;
};

/// The allowed roots, resolved (realpath) once; none given: the current directory. Throws
/// Error(invalid_argument) naming a root that does not exist.
std::vector<std::string> resolve_roots(const std::vector<std::string> &given);

/// JSON helpers for hand-built frames.
std::string json_str(std::string_view s);
/// `s` with every byte that is not part of valid UTF-8 (including encoded lone surrogates)
/// replaced by U+FFFD: client ids, decoded escapes and CLI stderr end up in text frames, which
/// RFC 6455 requires to be UTF-8.
std::string utf8_or_replaced(std::string_view s);
std::string error_body(std::string_view message);
/// Client text quoted in an error, in single quotes and cut to 64 bytes: a reply must not echo
/// a megabyte the client sent.
std::string quoted(std::string_view client_text);
/// `n` bytes from the kernel's CSPRNG (getrandom); throws Error(io_error) if it fails.
void random_bytes(void *out, std::size_t n);
/// Compares two secrets in time that depends only on their lengths.
bool secret_equal(std::string_view a, std::string_view b);

/// The browser demo page (GET /, /demo, /demo/config), served with the opcode profile it uses.
void register_demo(Context &ctx, Router &r);

}  // namespace ccbridge::detail::server
