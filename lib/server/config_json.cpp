// ServerConfig from JSON: the same field names as the C++ struct (durations in *_ms), so that the
// C ABI and the Python module describe a server exactly as C++ does. Unknown keys are errors, and
// numbers are range-checked with the ranges of `ccbridge serve`'s flags (lib/app/serve.cpp).
#include "detail/json.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/server.hpp>

#include <string>

namespace ccbridge::detail::server {
namespace {

[[noreturn]] void bad(const std::string &key, const std::string &what)
{
  throw Error(errc::invalid_argument, "server setting '" + key + "' " + what);
}

std::string str(const JsonValue &v, const std::string &key)
{
  if (!v.IsString()) bad(key, "must be a string");
  return {v.GetString(), v.GetStringLength()};
}

bool boolean(const JsonValue &v, const std::string &key)
{
  if (!v.IsBool()) bad(key, "must be true or false");
  return v.GetBool();
}

std::int64_t integer(const JsonValue &v, const std::string &key, std::int64_t lo, std::int64_t hi)
{
  if (!v.IsInt64() || v.GetInt64() < lo || v.GetInt64() > hi)
    bad(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v.GetInt64();
}

std::size_t count(const JsonValue &v, const std::string &key, std::int64_t hi)
{
  return static_cast<std::size_t>(integer(v, key, 1, hi));
}

constexpr std::int64_t kMillion = 1000000;
constexpr std::int64_t kDayMs = 86400000;

std::chrono::milliseconds millis(const JsonValue &v, const std::string &key, std::int64_t lo, std::int64_t hi)
{
  return std::chrono::milliseconds(integer(v, key, lo, hi));
}

std::vector<std::string> strings(const JsonValue &v, const std::string &key)
{
  if (!v.IsArray()) bad(key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto &e : v.GetArray()) out.push_back(str(e, key));
  return out;
}

template <class Fn> void members(const JsonValue &v, const std::string &key, Fn &&fn)
{
  if (!v.IsObject()) bad(key, "must be an object");
  for (const auto &m : v.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    std::string path = key.empty() ? name : key + "." + name;
    if (!fn(name, m.value, path)) throw Error(errc::invalid_argument, "unknown server setting '" + path + "'");
  }
}

void limits(ServerLimits &l, const JsonValue &v)
{
  members(v, "limits", [&](const std::string &n, const JsonValue &x, const std::string &k) {
    if (n == "max_connections") l.max_connections = count(x, k, kMillion);
    else if (n == "max_sessions") l.max_sessions = count(x, k, kMillion);
    else if (n == "max_body_bytes") l.max_body_bytes = count(x, k, std::int64_t{1} << 32);
    else if (n == "max_ws_message_bytes") l.max_ws_message_bytes = count(x, k, std::int64_t{1} << 32);
    else if (n == "send_buffer_bytes") l.send_buffer_bytes = count(x, k, std::int64_t{1} << 32);
    else if (n == "slow_client_timeout_ms") l.slow_client_timeout = millis(x, k, 1, kDayMs);
    else if (n == "run_log_bytes") l.run_log_bytes = count(x, k, std::int64_t{1} << 40);
    else if (n == "finished_run_grace_ms") l.finished_run_grace = millis(x, k, 0, 7 * kDayMs);
    else if (n == "idle_timeout_ms") l.idle_timeout = millis(x, k, 0, 7 * kDayMs);
    else if (n == "ws_messages_per_second") l.ws_messages_per_second = static_cast<std::size_t>(integer(x, k, 0, kMillion));
    else return false;
    return true;
  });
}

// One key of "tasks_ui" / "sdk_ws" (also read under its flat name of earlier versions).
bool tasks_ui_key(TasksUiSettings &t, const std::string &n, const JsonValue &x, const std::string &k)
{
  if (n == "timeout_ms") t.timeout = millis(x, k, 1, kDayMs);
  else return false;
  return true;
}

bool sdk_ws_key(SdkWsSettings &s, const std::string &n, const JsonValue &x, const std::string &k)
{
  if (n == "session_timeout_ms") s.session_timeout = millis(x, k, 1, 6 * kMillion * 1000);
  else if (n == "reconnect_grace_ms") s.reconnect_grace = millis(x, k, 0, kDayMs);
  else return false;
  return true;
}

bool cc_control_text(CcControlSettings &c, const std::string &n, const JsonValue &x, const std::string &k)
{
  if (n == "server_id") c.server_id = str(x, k);
  else if (n == "admin_token") c.admin_token = str(x, k);
  else if (n == "ui_token") c.ui_token = str(x, k);
  else if (n == "agent_token") c.agent_token = str(x, k);
  else if (n == "token_db") c.token_db = str(x, k);
  else if (n == "audit_path") c.audit_path = str(x, k);
  else if (n == "hook_program") c.hook_program = str(x, k);
  else if (n == "env_allow_keys") c.env_allow_keys = strings(x, k);
  else if (n == "env_allow_prefix") c.env_allow_prefix = str(x, k);
  else if (n == "dev") c.dev = boolean(x, k);
  else if (n == "prompt_detection") c.prompt_detection = boolean(x, k);
  else if (n == "exact_approvals") c.exact_approvals = boolean(x, k);
  else return false;
  return true;
}

bool cc_control_key(CcControlSettings &c, const std::string &n, const JsonValue &x, const std::string &k)
{
  if (cc_control_text(c, n, x, k)) return true;
  if (n == "audit_max_bytes") c.audit_max_bytes = count(x, k, std::int64_t{1} << 40);
  else if (n == "ring_buffer_bytes") c.ring_buffer_bytes = count(x, k, std::int64_t{1} << 32);
  else if (n == "offline_after_ms") c.offline_after = millis(x, k, 1, kDayMs);
  else if (n == "requests_per_minute") c.requests_per_minute = count(x, k, kMillion);
  else if (n == "start_timeout_ms") c.start_timeout = millis(x, k, 1, kDayMs);
  else if (n == "max_events_per_session") c.max_events_per_session = count(x, k, kMillion);
  else if (n == "max_subscribers") c.max_subscribers = count(x, k, kMillion);
  else if (n == "max_agents") c.max_agents = count(x, k, kMillion);
  else if (n == "heartbeat_interval_ms") c.heartbeat_interval = millis(x, k, 1, kDayMs);
  else if (n == "agent_ping_interval_ms") c.agent_ping_interval = millis(x, k, 1, kDayMs);
  else if (n == "agent_idle_timeout_ms") c.agent_idle_timeout = millis(x, k, 1, kDayMs);
  else if (n == "orphan_after_ms") c.orphan_after = millis(x, k, 0, kDayMs);
  else return false;
  return true;
}

std::chrono::seconds secs(const JsonValue &v, const std::string &key, std::int64_t lo, std::int64_t hi)
{
  return std::chrono::duration_cast<std::chrono::seconds>(millis(v, key, lo * 1000, hi * 1000));
}

bool platform_key(PlatformSettings &p, const std::string &n, const JsonValue &x, const std::string &k)
{
  constexpr std::int64_t kYear = 366 * 86400;
  if (n == "db") p.db = str(x, k);
  else if (n == "jwt_secret") p.jwt_secret = str(x, k);
  else if (n == "issuer") p.issuer = str(x, k);
  else if (n == "access_ttl_ms") p.access_ttl = secs(x, k, 1, kYear);
  else if (n == "refresh_ttl_ms") p.refresh_ttl = secs(x, k, 1, kYear);
  else if (n == "remember_ttl_ms") p.remember_ttl = secs(x, k, 1, kYear);
  else if (n == "clock_leeway_ms") p.clock_leeway = secs(x, k, 0, 3600);
  else if (n == "requests_per_hour") p.requests_per_hour = count(x, k, kMillion * 100);
  else if (n == "login_attempts_per_15min") p.login_attempts_per_15min = count(x, k, kMillion * 100);
  else if (n == "password_cost_log2") p.password_cost_log2 = static_cast<int>(integer(x, k, 10, 20));
  else if (n == "default_task_timeout_ms") p.default_task_timeout = secs(x, k, 1, 86400);
  else if (n == "idle_close_ms") p.idle_close = secs(x, k, 1, kYear);
  else if (n == "max_queued_tasks") p.max_queued_tasks = count(x, k, kMillion);
  else if (n == "metrics_interval_ms") p.metrics_interval = millis(x, k, 10, 3600 * 1000);
  else if (n == "metrics_minute_retention_ms") p.metrics_minute_retention = secs(x, k, 3600, kYear);
  else return false;
  return true;
}

ServerLog::Level level(const JsonValue &v, const std::string &key)
{
  auto s = str(v, key);
  if (s == "debug") return ServerLog::Level::debug;
  if (s == "info") return ServerLog::Level::info;
  if (s == "warn" || s == "warning") return ServerLog::Level::warn;
  if (s == "error") return ServerLog::Level::error;
  if (s == "off") return ServerLog::Level::off;
  bad(key, "must be debug, info, warn, error or off");
}

}  // namespace
}  // namespace ccbridge::detail::server

CCB_BEGIN_NAMESPACE

ServerConfig server_config_from_json(std::string_view json)
{
  using namespace detail::server;
  detail::JsonDocument doc;
  auto r = detail::parse_exact<detail::kParseFlags | rapidjson::kParseValidateEncodingFlag>(doc, json);
  if (r.IsError())
    throw Error(errc::invalid_argument, std::string("server config is not valid JSON: ") + detail::parse_error_text(r));
  ServerConfig c;
  members(doc, "", [&](const std::string &n, const detail::JsonValue &x, const std::string &k) {
    if (n == "listeners") {
      if (!x.IsArray()) bad(k, "must be an array of {host, port, profiles}");
      for (const auto &e : x.GetArray()) {
        ServerConfig::Listener l;
        members(e, k, [&](const std::string &ln, const detail::JsonValue &lx, const std::string &lk) {
          if (ln == "host") l.host = str(lx, lk);
          else if (ln == "port") l.port = static_cast<std::uint16_t>(integer(lx, lk, 0, 65535));
          else if (ln == "profiles") l.profiles = strings(lx, lk);
          else return false;
          return true;
        });
        c.listeners.push_back(std::move(l));
      }
    } else if (n == "cli") {
      if (!x.IsObject()) bad(k, "must be an options object");
      try {
        merge_options_json(c.cli, detail::dump(x));
      } catch (const Error &e) {
        bad(k, "is not valid: " + e.detail());
      }
    } else if (n == "allowed_roots") c.allowed_roots = strings(x, k);
    else if (n == "allowed_permission_modes") c.allowed_permission_modes = strings(x, k);
    else if (n == "default_permission_mode") c.default_permission_mode = str(x, k);
    else if (n == "client_allowed_tools") c.client_allowed_tools = strings(x, k);
    else if (n == "token") c.token = str(x, k);
    else if (n == "allowed_origins") c.allowed_origins = strings(x, k);
    else if (n == "cors") c.cors = boolean(x, k);
    else if (n == "tls_cert") c.tls_cert = str(x, k);
    else if (n == "tls_key") c.tls_key = str(x, k);
    else if (n == "tasks_ui")
      members(x, k, [&](const std::string &tn, const detail::JsonValue &tx, const std::string &tk) {
        return tasks_ui_key(c.tasks_ui, tn, tx, tk);
      });
    else if (n == "sdk_ws")
      members(x, k, [&](const std::string &sn, const detail::JsonValue &sx, const std::string &sk) {
        return sdk_ws_key(c.sdk_ws, sn, sx, sk);
      });
    else if (n == "cc_control")
      members(x, k, [&](const std::string &cn, const detail::JsonValue &cx, const std::string &ck) {
        return cc_control_key(c.cc_control, cn, cx, ck);
      });
    else if (n == "platform")
      members(x, k, [&](const std::string &pn, const detail::JsonValue &px, const std::string &pk) {
        return platform_key(c.platform, pn, px, pk);
      });
    // The flat names of earlier versions.
    else if (n.rfind("tasks_ui_", 0) == 0) return tasks_ui_key(c.tasks_ui, n.substr(9), x, k);
    else if (n.rfind("sdk_ws_", 0) == 0) return sdk_ws_key(c.sdk_ws, n.substr(7), x, k);
    else if (n == "limits") limits(c.limits, x);
    else if (n == "log_level") c.log.level = level(x, k);
    else if (n == "log_json") c.log.json = boolean(x, k);
    else return false;
    return true;
  });
  return c;
}

CCB_END_NAMESPACE
