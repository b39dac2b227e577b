// Agent platform (seed 001): the profile's state and services. REST (/v1/...) and the chat
// WebSocket (/ws/v1/chat) are thin layers over this class:
//  - auth: users in the store, HS256 access tokens, rotated refresh tokens (auth.cpp);
//  - sessions and agents: documents in the store (rest.cpp);
//  - tasks: one task is one turn of its session's conversation, run in the session's CLI process
//    (a SessionRun, opened on the first task, resumed by the CLI's session id after it was closed);
//    queued by priority, tracked by TaskTracker from what the CLI does (engine.cpp);
//  - events: every session has a Hub run whose log numbers its events, so several chat clients
//    see the same events and a reconnecting one resumes after the last id it saw (chat.cpp).
// Server thread only.
#pragma once

#include "server/context.hpp"
#include "server/profiles/platform/api.hpp"
#include "server/profiles/platform/config.hpp"
#include "server/profiles/platform/monitoring.hpp"
#include "server/profiles/platform/store.hpp"
#include "server/profiles/platform/worker.hpp"
#include "server/rate_limit.hpp"

#include <asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ccbridge::detail::server::platform {

class LiveSession;
class Tools;
struct TaskTotals;

/// The authenticated user of a request or a connection.
struct Caller {
  UserRow user;
  std::string jti;
  std::int64_t exp = 0;
  bool can(std::string_view permission) const;
};

class Platform {
public:
  explicit Platform(Context &ctx);
  ~Platform();
  Platform(const Platform &) = delete;
  Platform &operator=(const Platform &) = delete;

  /// Opens the store (throws: the server does not start without it), seeds the built-in agents.
  void start();
  /// The server is stopping: every CLI is closed, waiting sync requests are answered.
  void stop();
  void install(Router &r);
  void metrics(std::string &out) const;

  Context &ctx;
  const PlatformSettings &cfg;
  Store &store() { return *store_; }
  const std::string &signing_key() const { return key_; }

  // ---- auth (auth.cpp) ----
  /// The caller of a bearer token; throws ApiFailure 401 (AUTH_REQUIRED, INVALID_TOKEN, TOKEN_EXPIRED).
  Caller authenticate(const std::string &bearer);
  std::string login(const JsonValue &body);
  std::string refresh(const JsonValue &body);
  void logout(const Caller &c);
  std::string user_json(const UserRow &u) const;

  // ---- agents (agents.cpp) ----
  /// The agent's document, or null document when unknown.
  JsonDocument agent_doc(const std::string &id);
  std::string agent_summary(const std::string &id);  ///< {id,name,type} for a session

  // ---- sessions and tasks (engine.cpp) ----
  /// A session of `c`'s, or throws 404 SESSION_NOT_FOUND (also for another user's session).
  SessionRow own_session(const Caller &c, const std::string &id);
  TaskRow own_task(const Caller &c, const std::string &id);
  /// Validates and queues a task; `on_done` (sync requests) gets the finished task's JSON.
  TaskRow submit_task(const Caller &c, const JsonValue &body, bool from_chat);
  void wait_for(const std::string &task_id, std::function<void(const std::string &task_json)> on_done);
  TaskRow cancel_task(const Caller &c, const std::string &task_id);
  void delete_session(const SessionRow &s);
  /// agent:switch: the session's agent becomes `agent_id` (with `overrides` of its configuration).
  void switch_agent(const Caller &c, const std::string &session_id, const std::string &agent_id,
                    const JsonValue *overrides);
  std::shared_ptr<Run> events_of(const std::string &session_id);
  /// Publishes `type` with `data` (JSON text) to the session's chat clients.
  void publish(const std::string &session_id, std::string_view type, const std::string &data);
  /// The session's document as the API shows it (list form, or the detail with tasks ...).
  std::string session_json(const SessionRow &s, bool detail);
  /// The task as the API shows it: while it runs, as it is now (unless `as_stored`).
  std::string task_json(const TaskRow &t, bool as_stored = false);
  /// A task ended (LiveSession): statistics, waiting sync requests.
  void task_finished(const std::string &session_id, const std::string &task_id, const std::string &task_json,
                     const std::string &status, std::int64_t elapsed_ms, const TaskTotals *totals);
  /// system:status data: the last health check's status and services (monitoring.cpp).
  std::string system_status() const { return monitor_->status_json(); }

  // ---- configuration (config.cpp) ----
  /// The current configuration, parsed; replaced (not changed in place) by each PUT /config.
  const SystemConfig &config() const { return config_; }
  /// `fn` runs after every successful PUT /config of `section`, with the new configuration.
  void on_config_change(const std::string &section, std::function<void(const SystemConfig &)> fn);
  /// The section as it is now, secrets in clear.
  JsonDocument config_section(const std::string &section);
  /// `{"<section>":{...},...}` of one section ("" all), secrets masked unless `include_secrets`.
  std::string config_json(const std::string &section, bool include_secrets);
  /// Merges `patch` into the section (RFC 7396), validates, stores, applies; the answer's message.
  std::string update_config(const std::string &section, const JsonValue &patch);

  // ---- monitoring (monitoring.cpp) ----
  Monitor &monitor() { return *monitor_; }
  /// A service of its own in every health check (the /tools code: one per MCP server).
  void add_health_probe(const std::string &name, HealthProbe probe) { monitor_->add_probe(name, std::move(probe)); }
  std::size_t live_sessions() const { return live_.size(); }
  std::int64_t uptime_ms() const
  {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count();
  }
  /// The directory the session's CLI works in: its projectPath, else the server's default.
  std::string project_path(const SessionRow &s) const;

  // ---- tools (tools.cpp, mcp_servers.cpp) ----
  Tools &tools() { return *tools_; }

private:
  friend class LiveSession;
  LiveSession &live(const SessionRow &s);
  void seed_agents();
  void bootstrap_admin();
  void load_key();
  void load_config();
  void write_section(const std::string &section, const JsonValue &next, const JsonValue &now);

  std::unique_ptr<Store> store_;
  std::unique_ptr<Worker> hasher_;  ///< password hashing, off the server thread
  std::shared_ptr<Tools> tools_;
  std::string key_;  ///< the HMAC key of access tokens
  RateLimiter limiter_;
  RateLimiter login_limiter_;    ///< login attempts per email
  RateLimiter address_limiter_;  ///< login and refresh attempts per client address
  std::map<std::string, std::shared_ptr<LiveSession>> live_;
  std::map<std::string, std::vector<std::function<void(const std::string &)>>> waiting_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  SystemConfig config_;
  std::map<std::string, std::vector<std::function<void(const SystemConfig &)>>> config_listeners_;
  std::unique_ptr<Monitor> monitor_;

public:
  RateLimiter &limiter() { return limiter_; }
  Worker &hasher() { return *hasher_; }
  RateLimiter &login_limiter() { return login_limiter_; }
  RateLimiter &address_limiter() { return address_limiter_; }
  std::uint64_t tasks_started = 0, tasks_finished = 0, logins = 0, logins_failed = 0;
};

/// A new user row (id, lower-case email, scrypt hash at 2^cost_log2); not stored yet.
UserRow make_user(const std::string &email, const std::string &password, const std::string &name,
                  std::vector<std::string> permissions, int cost_log2);
void install_chat(Platform &p, Router &r);

}  // namespace ccbridge::detail::server::platform
