// The gateway server (ccbridge::server): HTTP and WebSocket front-ends that serve existing server
// protocols ("profiles") over the core library, so that their clients work unchanged.
//
//   opcode    seed 000: POST /claude/execute, WS /ws/claude/{session_id}, POST /claude/cancel/{id}
//   tasks-ui  seed 002: WS /ws/claude with {prompt, meta}
//   sdk-ws    seed 003: WS /ws (query, interrupt, input, define_tool, ping), GET /sessions
//
// Every listener also answers GET /health and GET /metrics (Prometheus text). Network I/O runs on
// the server's own thread; the CLI processes run on a Runtime. See docs/PROTOCOL.md for each
// profile's wire format and docs/ARCHITECTURE.md for the Hub (event log, replay, fan-out).
//
// Thread safety: start(), stop() and run() may be called from any thread; stop() may also be
// called from a signal-watching thread. A Server is not copyable.
#pragma once

#include <ccbridge/export.h>
#include <ccbridge/options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

CCB_BEGIN_NAMESPACE

class Runtime;

struct ServerLimits {
  std::size_t max_connections = 1024;          ///< open WebSocket connections, all listeners
  std::size_t max_sessions = 100;              ///< live CLI processes started by clients
  std::size_t max_body_bytes = 1 << 20;        ///< HTTP request body
  std::size_t max_ws_message_bytes = 1 << 20;  ///< one incoming WebSocket message
  /// Bytes queued on one connection before sending pauses (the rest waits in the run's log).
  std::size_t send_buffer_bytes = 1 << 20;
  /// A subscriber whose connection accepts nothing for this long is closed (code 1013, with the
  /// sequence number to resume from), so it never holds memory or slows the others.
  std::chrono::milliseconds slow_client_timeout{10000};
  /// Events kept per run for replay; beyond it the oldest are dropped and a client asking for
  /// them is told so explicitly.
  std::size_t run_log_bytes = 64u << 20;
  /// How long a finished run stays available for late clients and replay.
  std::chrono::milliseconds finished_run_grace{300000};
  /// Close a WebSocket on which nothing arrives or leaves for this long (0: never).
  std::chrono::milliseconds idle_timeout{0};
  /// Incoming WebSocket messages handled per connection and second (a burst of as many is
  /// taken at once). Beyond it the connection's messages wait and its socket is not read, so a
  /// flood is slowed down, never dropped. 0: no limit.
  std::size_t ws_messages_per_second = 100;
};

struct ServerLog {
  enum class Level { debug, info, warn, error, off };
  Level level = Level::info;
  bool json = false;  ///< JSON lines instead of text
  /// Where log lines go (without the newline); default: stderr.
  std::function<void(std::string_view line)> sink;
};

/// Profile "tasks-ui" (seed 002).
struct TasksUiSettings {
  std::chrono::milliseconds timeout{300000};  ///< a run is stopped after this long (the seed's 5 minutes)
};

/// Profile "sdk-ws" (seed 003).
struct SdkWsSettings {
  /// A conversation with no query running and nothing from its client for this long ends
  /// (the seed's SESSION_TIMEOUT_MINUTES, 30).
  std::chrono::milliseconds session_timeout{1800000};
  /// Connections opened with ?resumable=1 keep their conversation this long after the client
  /// goes, for a reconnect with ?session_id=<id>&since_seq=<n>.
  std::chrono::milliseconds reconnect_grace{60000};
};

/// Profile "cc-control" (seed 004): terminal sessions of the interactive CLI in a PTY, tokens
/// with roles and tenants, approvals. The original's flags and environment variables map onto
/// these (docs/SERVER.md); durations in milliseconds in the JSON config.
struct CcControlSettings {
  /// The built-in local agent's server_id (sessions on this host), `--server-id`.
  std::string server_id = "srv-local";
  /// The admin token (ADMIN_TOKEN). Empty: the stored one; with none stored, a fresh one is
  /// made at the first start, printed once and written to `<token_db>.admin-token` (mode 0600).
  std::string admin_token;
  /// Legacy tokens seeded into one tenant (UI_TOKEN as a ui owner token, AGENT_TOKEN). Empty:
  /// none. The original's well-known defaults are seeded only with `dev`.
  std::string ui_token;
  std::string agent_token;
  bool dev = false;  ///< `--dev`: seed admin-dev-token / agent-dev-token when none are given
  /// SQLite file for tokens and state (TOKEN_DB). Empty: cc-control.db next to the config file,
  /// or in the current directory. ":memory:" keeps everything in memory (lost at exit).
  std::string token_db;
  std::string audit_path = "./audit.jsonl";
  std::size_t audit_max_bytes = 64u << 20;  ///< the audit log is rotated beyond this size
  std::size_t ring_buffer_bytes = 131072;   ///< terminal output kept per session for attach
  std::chrono::milliseconds offline_after{20000};
  /// Raise approvals from the screen too (the original's -enable-prompt-detection heuristic).
  bool prompt_detection = false;
  /// Raise approvals from the CLI's PermissionRequest hook (exact; started with
  /// --permission-mode default). The hook runs `hook_program permission-hook`.
  bool exact_approvals = true;
  /// The ccbridge executable for the hook. Empty: this program if it is ccbridge, else the
  /// installed one.
  std::string hook_program;
  std::size_t requests_per_minute = 1200;  ///< per token (REST, WS connects and WS messages)
  std::chrono::milliseconds start_timeout{60000};  ///< a terminal that prints nothing is stopped
  std::vector<std::string> env_allow_keys;  ///< request env keys passed to the CLI (ENV_ALLOW_KEYS)
  std::string env_allow_prefix = "CC_";      ///< request env key prefix passed (ENV_ALLOW_PREFIX)
  std::size_t max_events_per_session = 1000;
  std::size_t max_subscribers = 1000;  ///< /ws/client connections at most
  // Remote agents (/ws/agent, docs/AGENT-PROTOCOL.md):
  std::chrono::milliseconds heartbeat_interval{5000};  ///< told to agents in register_ok
  std::chrono::milliseconds agent_ping_interval{10000};  ///< WebSocket pings to each agent
  std::chrono::milliseconds agent_idle_timeout{45000};   ///< an agent heard from for this long is gone
  /// An agent gone this long leaves its live sessions `orphaned` (stoppable, deletable).
  std::chrono::milliseconds orphan_after{60000};
  std::size_t max_agents = 1000;  ///< /ws/agent connections at most
};

/// The agent platform (seed 001, profile "platform"): users, sessions, tasks and agents.
struct PlatformSettings {
  /// SQLite file of users, sessions, tasks, agents and refresh tokens (`--db`; also used by
  /// `ccbridge users`). ":memory:" keeps everything in memory (lost at exit).
  std::string db = "ccbridge.db";
  /// The HMAC-SHA256 key of access tokens (`--jwt-secret`, env CCB_JWT_SECRET), at least 32 bytes.
  /// Empty: a random key made once and kept in the database, so tokens survive a restart.
  std::string jwt_secret;
  std::string issuer = "ccbridge";
  std::chrono::seconds access_ttl{3600};
  std::chrono::seconds refresh_ttl{7 * 86400};
  std::chrono::seconds remember_ttl{30 * 86400};  ///< refresh tokens of a login with remember: true
  std::chrono::seconds clock_leeway{30};
  std::size_t requests_per_hour = 1000;  ///< per user, REST and WebSocket events
  /// Login attempts per 15 minutes per email (password guessing); a client address gets ten times
  /// as many login and refresh attempts (an address may be many users).
  std::size_t login_attempts_per_15min = 30;
  /// scrypt cost of new password hashes: N = 2^password_cost_log2 (r 8, p 1).
  int password_cost_log2 = 15;
  std::chrono::seconds default_task_timeout{1800};  ///< a task without options.timeout
  /// A session's CLI with no task for this long is closed; its next task resumes the conversation.
  std::chrono::seconds idle_close{600};
  std::size_t max_queued_tasks = 100;  ///< per session
  /// Metrics (GET /v1/monitoring/metrics) are written to the database this often; tests make it
  /// short (`--metrics-interval-ms`), in production it stays a minute.
  std::chrono::milliseconds metrics_interval{60000};
  /// Per-minute metric rows are kept this long (then only hour and day rows remain).
  std::chrono::seconds metrics_minute_retention{48 * 3600};
};

struct ServerConfig {
  struct Listener {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;             ///< 0: any free port (see Server::endpoints())
    /// "opcode", "tasks-ui", "sdk-ws" (and "hello", the example profile); empty: the three seeds'.
    std::vector<std::string> profiles;
  };
  std::vector<Listener> listeners;

  /// Base options of every run (cli_path, env, model ...). Per-request fields override them.
  Options cli;

  /// Working directories a client may ask for, after symlinks and ".." are resolved. Empty: the
  /// directory the server was started in.
  std::vector<std::string> allowed_roots;
  /// Permission modes a client may ask for. bypassPermissions is refused unless listed here.
  std::vector<std::string> allowed_permission_modes{"default", "acceptEdits", "plan"};
  /// The mode used when a client asks for none.
  std::string default_permission_mode = "default";
  /// Tools a client may pre-approve (sdk-ws `allowed_tools`), checked per element: "X" allows "X"
  /// and any rule "X(...)", "X(rule)" allows exactly that rule, "*" allows any. Default: the
  /// read-only tools. Elements with a comma, or a space outside "(...)", are always refused (the
  /// CLI would read them as several tools).
  std::vector<std::string> client_allowed_tools{"Read", "Glob", "Grep", "LS", "NotebookRead"};

  /// Bearer token required on every route except /health (header `Authorization: Bearer <t>`, or
  /// `?token=<t>` for browsers' WebSockets). Empty: no token.
  std::string token;
  /// Browser Origins allowed on WebSockets and CORS, besides the server's own. "*" allows any.
  std::vector<std::string> allowed_origins;
  /// Answer CORS preflights and add Access-Control-Allow-Origin for allowed origins.
  bool cors = false;

  /// TLS: with both set, every listener serves only https:// and wss:// with this PEM certificate
  /// (chain, leaf first) and PEM private key (PKCS#8 or traditional, unencrypted). start() throws
  /// Error(invalid_argument) naming the file when only one is set, one cannot be read, or the key
  /// does not match the certificate. Both empty: plain HTTP and WebSocket.
  std::string tls_cert;
  std::string tls_key;

  /// Settings of one profile each (a profile without settings has none here).
  TasksUiSettings tasks_ui;
  SdkWsSettings sdk_ws;
  CcControlSettings cc_control;
  PlatformSettings platform;
  ServerLimits limits;
  ServerLog log;
};

/// A ServerConfig from a JSON object with the struct's field names; durations are in
/// milliseconds with an `_ms` suffix and the log settings are flat:
///   {"listeners": [{"host": "127.0.0.1", "port": 0, "profiles": ["sdk-ws"]}],
///    "cli": {<options, see options_from_json()>}, "allowed_roots": [...],
///    "allowed_permission_modes": [...], "default_permission_mode": "default", "token": "...",
///    "allowed_origins": [...], "cors": false, "tls_cert": "", "tls_key": "",
///    "tasks_ui": {"timeout_ms": 300000},
///    "sdk_ws": {"session_timeout_ms": 1800000, "reconnect_grace_ms": 60000},
///    "limits": {"max_connections", "max_sessions", "max_body_bytes", "max_ws_message_bytes",
///               "send_buffer_bytes", "slow_client_timeout_ms", "run_log_bytes",
///               "finished_run_grace_ms", "idle_timeout_ms",
///               "ws_messages_per_second"},
///    "log_level": "info", "log_json": false}
/// Keys not given keep the defaults. The flat names of earlier versions ("tasks_ui_timeout_ms",
/// "sdk_ws_session_timeout_ms", "sdk_ws_reconnect_grace_ms") are still read. Throws Error(invalid_argument) naming the key for an unknown
/// key, a value of the wrong kind or out of range (the ranges of `ccbridge serve`'s flags, see
/// docs/SERVER.md), or JSON nested deeper than max_json_depth.
CCB_API ServerConfig server_config_from_json(std::string_view json);

/// A protocol the server can serve (a "profile").
struct ServerProfileInfo {
  std::string name;            ///< as in ServerConfig::Listener::profiles
  std::string seed;            ///< the protocol document it serves ("000" ...), empty for none
  std::uint16_t default_port;  ///< `ccbridge serve`'s port for it (profiles on one port share a listener)
  bool by_default;             ///< served by a listener that names no profiles
};
/// Every profile this build of the server knows.
CCB_API std::vector<ServerProfileInfo> server_profiles();

/// One bound listener.
struct ServerEndpoint {
  std::string host;
  std::uint16_t port = 0;
  std::vector<std::string> profiles;
};

class CCB_API Server {
public:
  /// The server runs its CLI processes on `runtime`, which must outlive it.
  Server(Runtime &runtime, ServerConfig config);
  ~Server();  ///< stops (gracefully) if still running
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  /// Binds every listener and starts serving on the server's thread. Throws Error
  /// (invalid_argument for a bad config, io_error when an address cannot be bound).
  void start();
  /// The bound listeners (real ports when 0 was asked for). Valid after start().
  std::vector<ServerEndpoint> endpoints() const;
  /// Graceful stop: stop accepting, end every run with the shutdown ladder, close sockets with
  /// 1001, wait for the processes. Returns when done. Idempotent.
  void stop();
  /// Blocks until stop() has completed (from another thread or a signal watcher).
  void wait();

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

CCB_END_NAMESPACE
