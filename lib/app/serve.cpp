// `ccbridge serve`: the gateway server as a program. Flags override the config file, which
// overrides the environment (the seed's WEBSOCKET_HOST, WEBSOCKET_PORT, MAX_SESSIONS,
// SESSION_TIMEOUT_MINUTES, CORS), which overrides the defaults.
#include "serve.hpp"

#include "args.hpp"

#include <ccbridge/ccbridge.hpp>
#include <ccbridge/server.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <pthread.h>

namespace {

const char kServeUsage[] =
    "usage: ccbridge serve [options]\n"
    "\n"
    "Serves the OpCode API (seed 000) and tasks-ui (seed 002) protocols on port 3000 and the SDK\n"
    "WebSocket server protocol (seed 003) on port 8000, all on 127.0.0.1, plus GET /health and\n"
    "GET /metrics on every port.\n"
    "\n"
    "options:\n"
    "  --host ADDR                  address to bind (default 127.0.0.1)\n"
    "  --port N                     serve every profile on this one port instead\n"
    "  --opcode-port N              port of opcode + tasks-ui (default 3000)\n"
    "  --sdk-ws-port N              port of sdk-ws (default 8000, or WEBSOCKET_PORT)\n"
    "  --cc-control-port N          port of cc-control (default 18080)\n"
    "  --profiles A,B               profiles to serve (opcode, tasks-ui, sdk-ws, cc-control, platform,\n"
    "                               or the example profile hello; default: the five seeds' on their own\n"
    "                               ports, or the first three with --port)\n"
    "  --cli PATH                   Claude Code executable (default: PATH, then the usual places)\n"
    "  --root DIR                   allowed working-directory root (repeatable; default: the cwd)\n"
    "  --token T                    require 'Authorization: Bearer T' (or ?token=T); env CCBRIDGE_TOKEN\n"
    "  --allow-origin O             browser Origin allowed besides the server's own (repeatable, * = any)\n"
    "  --cors                       answer CORS preflights for allowed origins (env CORS=1)\n"
    "  --tls-cert FILE              with --tls-key: serve only https:// and wss:// on every port with this\n"
    "                               PEM certificate (chain, leaf first)\n"
    "  --tls-key FILE               its PEM private key (PKCS#8 or traditional, unencrypted)\n"
    "  --permission-modes A,B       modes clients may ask for (default: default,acceptEdits,plan)\n"
    "  --default-permission-mode M  mode when a client asks for none (default: default)\n"
    "  --client-allowed-tools A,B   tools clients may pre-approve; X allows X and X(...), * any\n"
    "                               (default: Read,Glob,Grep,LS,NotebookRead)\n"
    "  --max-sessions N             live CLI processes at most (default 100, env MAX_SESSIONS)\n"
    "  --session-timeout-minutes N  sdk-ws idle session timeout (default 30, env SESSION_TIMEOUT_MINUTES)\n"
    "  --session-timeout-seconds N  the same in seconds\n"
    "  --reconnect-grace-seconds N  sdk-ws ?resumable=1 conversations wait this long for a reconnect (default 60)\n"
    "  --tasks-timeout-seconds N    tasks-ui run timeout (default 300)\n"
    "  --max-connections N          WebSocket connections, open or accepted and opening, at most (default 1024)\n"
    "  --max-body-bytes N           HTTP request body limit (default 1 MiB)\n"
    "  --max-message-bytes N        incoming WebSocket message limit (default 1 MiB)\n"
    "  --send-buffer-bytes N        bytes queued per connection before sending pauses (default 1 MiB)\n"
    "  --slow-client-timeout-ms N   close a client that accepts nothing this long (default 10000)\n"
    "  --run-log-bytes N            events kept per run for replay (default 64 MiB)\n"
    "  --max-messages-per-second N  incoming WebSocket messages handled per connection and second;\n"
    "                               beyond it they wait, unread (default 100, 0 = no limit)\n"
    "  --idle-timeout-seconds N     close a WebSocket with no traffic either way for this long (default: never)\n"
    "  --run-grace-seconds N        finished runs stay available this long (default 300)\n"
    "  --pass-env NAME              pass this host variable to the CLI too (repeatable; NAME_* for a prefix).\n"
    "                               The CLI gets only an allow-list (PATH, HOME, LANG, ANTHROPIC_*, CLAUDE_*,\n"
    "                               proxies ...; see docs/SERVER.md), never CCBRIDGE_TOKEN\n"
    "  --exit-wait-ms N             ending a run: after closing its stdin, wait this long (default 5000)\n"
    "  --cancel-grace-ms N          cancelling a run (opcode cancel, a tasks-ui client leaving): after\n"
    "                               closing its stdin, SIGTERM after this long instead (default 300)\n"
    "  --term-wait-ms N             ... then SIGTERM, and after this long SIGKILL (default 5000)\n"
    "  --config FILE                JSON object of these settings, named in snake_case (max_sessions,\n"
    "                               roots, allowed_origins ...; see docs/SERVER.md); unknown keys are errors\n"
    "\n"
    "agent platform (seed 001, port 4000, docs/PLATFORM.md):\n"
    "  --db FILE                    SQLite file of users, sessions, tasks, agents (default ccbridge.db;\n"
    "                               the same file `ccbridge users` manages)\n"
    "  --jwt-secret S               HMAC key of access tokens, >= 32 bytes (env CCB_JWT_SECRET; default:\n"
    "                               a random key kept in the database)\n"
    "  --password-cost N            scrypt cost of new password hashes, N = 2^n (default 15)\n"
    "  --requests-per-hour N        per user, REST and WebSocket events (default 1000)\n"
    "  --login-attempts N           logins per 15 min per email; 10 N per client address (default 30)\n"
    "  --metrics-interval-ms N      how often metrics are written (default 60000; shorter is for tests)\n"
    "\n"
    "cc-control (seed 004; the original's flags are accepted as -flag, --flag and -flag=value):\n"
    "  --addr [HOST]:PORT           where cc-control listens (default :18080 = 127.0.0.1:18080 here)\n"
    "  --server-id ID               the built-in local agent's server_id (default srv-local)\n"
    "  --admin-token T              admin token (env ADMIN_TOKEN); none: a fresh one is made once\n"
    "  --ui-token T / --agent-token T  legacy tokens seeded into one tenant (env UI_TOKEN, AGENT_TOKEN)\n"
    "  --dev                        seed the original's well-known dev tokens when none are given\n"
    "  --token-db FILE              SQLite file of tokens and state (env TOKEN_DB; default\n"
    "                               cc-control.db next to --config, or in the current directory)\n"
    "  --audit-path FILE            audit log, JSONL (default ./audit.jsonl)\n"
    "  --ring-buffer-bytes N        terminal output kept per session (default 131072)\n"
    "  --offline-after-sec N        heartbeat staleness before a server is offline (default 20)\n"
    "  --enable-prompt-detection    also raise approvals read from the screen\n"
    "  --no-exact-approvals         no PermissionRequest hook (approvals only from the screen)\n"
    "  --env-allow-keys A,B         request env keys passed to the CLI (env ENV_ALLOW_KEYS)\n"
    "  --env-allow-prefix P         request env key prefix passed (default CC_, env ENV_ALLOW_PREFIX)\n"
    "  --start-timeout-seconds N    stop a terminal that prints nothing this long (default 60)\n"
    "  --ui-dir DIR                 accepted for compatibility; the console is built in\n"
    "  agents on other hosts (`ccbridge agent`, /ws/agent; docs/AGENT-PROTOCOL.md):\n"
    "  --heartbeat-sec N            heartbeat interval told to agents (default 5)\n"
    "  --agent-ping-sec N           WebSocket ping to each agent every N s (default 10)\n"
    "  --agent-idle-sec N           an agent not heard from this long is disconnected (default 45)\n"
    "  --orphan-after-sec N         an agent gone this long leaves its sessions orphaned (default 60)\n"
    "\n"
    "  --log-level L                debug, info, warn, error (default info)\n"
    "  --log-json                   log JSON lines\n"
    "\n"
    "Each CLI runs in a cgroup of its own where cgroup v2 is writable (root, or systemd Delegate=yes),\n"
    "so that ending a run ends everything it started; CCBRIDGE_NO_CGROUP=1 keeps to process groups.\n"
    "GET /health says which: \"containment\":\"cgroup\" or \"process-group\".\n";

[[noreturn]] void usage_error(const std::string &msg)
{
  std::cerr << "ccbridge serve: " << msg << "\n\n" << kServeUsage;
  std::exit(2);
}

long to_number(const std::string &what, const std::string &v, long lo, long hi)
{
  char *end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < lo || n > hi) usage_error(what + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not '" + v + "'");
  return n;
}

ccbridge::ServerLog::Level to_level(const std::string &what, const std::string &v)
{
  using L = ccbridge::ServerLog::Level;
  if (v == "debug") return L::debug;
  if (v == "info") return L::info;
  if (v == "warn" || v == "warning") return L::warn;
  if (v == "error") return L::error;
  usage_error(what + " must be debug, info, warn or error, not '" + v + "'");
}

struct Settings {
  std::string host = "127.0.0.1";
  std::string sdk_host;  // WEBSOCKET_HOST
  long port = -1;        // one port for all
  long opcode_port = -1;              // the profiles on opcode's default port; -1: that default
  long sdk_port = -1;                 // the profiles on sdk-ws's default port
  long cc_port = -1;                  // cc-control's port (--cc-control-port, --addr)
  std::string cc_host;                // cc-control's host (--addr HOST:PORT)
  std::string config_path;
  std::vector<std::string> profiles;  // empty: those served by default
};

// The numeric settings, each with one range for its flag, its config-file key (the flag's name
// in snake_case: --max-sessions, "max_sessions") and its environment variable if any.
struct NumberSetting {
  const char *flag;
  long lo, hi;
  void (*apply)(Settings &, ccbridge::ServerConfig &, long);
};

using ccbridge::ServerConfig;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
auto to_size = [](long n) { return static_cast<std::size_t>(n); };

const NumberSetting kNumbers[] = {
    {"--port", 0, 65535, [](Settings &s, ServerConfig &, long n) { s.port = n; }},
    {"--opcode-port", 0, 65535, [](Settings &s, ServerConfig &, long n) { s.opcode_port = n; }},
    {"--sdk-ws-port", 0, 65535, [](Settings &s, ServerConfig &, long n) { s.sdk_port = n; }},
    {"--cc-control-port", 0, 65535, [](Settings &s, ServerConfig &, long n) { s.cc_port = n; }},
    {"--ring-buffer-bytes", 1024, 1L << 30,
     [](Settings &, ServerConfig &c, long n) { c.cc_control.ring_buffer_bytes = to_size(n); }},
    {"--offline-after-sec", 1, 86400,
     [](Settings &, ServerConfig &c, long n) { c.cc_control.offline_after = seconds(n); }},
    {"--heartbeat-sec", 1, 3600,
     [](Settings &, ServerConfig &c, long n) { c.cc_control.heartbeat_interval = seconds(n); }},
    {"--agent-ping-sec", 1, 3600,
     [](Settings &, ServerConfig &c, long n) { c.cc_control.agent_ping_interval = seconds(n); }},
    {"--agent-idle-sec", 1, 86400,
     [](Settings &, ServerConfig &c, long n) { c.cc_control.agent_idle_timeout = seconds(n); }},
    {"--orphan-after-sec", 0, 86400,
     [](Settings &, ServerConfig &c, long n) { c.cc_control.orphan_after = seconds(n); }},
    {"--start-timeout-seconds", 1, 86400,
     [](Settings &, ServerConfig &c, long n) { c.cc_control.start_timeout = seconds(n); }},
    {"--max-sessions", 1, 1000000, [](Settings &, ServerConfig &c, long n) { c.limits.max_sessions = to_size(n); }},
    {"--session-timeout-minutes", 1, 100000,
     [](Settings &, ServerConfig &c, long n) { c.sdk_ws.session_timeout = minutes(n); }},
    {"--session-timeout-seconds", 1, 6000000,
     [](Settings &, ServerConfig &c, long n) { c.sdk_ws.session_timeout = seconds(n); }},
    {"--reconnect-grace-seconds", 0, 86400,
     [](Settings &, ServerConfig &c, long n) { c.sdk_ws.reconnect_grace = seconds(n); }},
    {"--tasks-timeout-seconds", 1, 86400, [](Settings &, ServerConfig &c, long n) { c.tasks_ui.timeout = seconds(n); }},
    {"--max-connections", 1, 1000000,
     [](Settings &, ServerConfig &c, long n) { c.limits.max_connections = to_size(n); }},
    {"--max-body-bytes", 1, 1L << 32,
     [](Settings &, ServerConfig &c, long n) { c.limits.max_body_bytes = to_size(n); }},
    {"--max-message-bytes", 1, 1L << 32,
     [](Settings &, ServerConfig &c, long n) { c.limits.max_ws_message_bytes = to_size(n); }},
    {"--send-buffer-bytes", 1, 1L << 32,
     [](Settings &, ServerConfig &c, long n) { c.limits.send_buffer_bytes = to_size(n); }},
    {"--slow-client-timeout-ms", 1, 86400000,
     [](Settings &, ServerConfig &c, long n) { c.limits.slow_client_timeout = milliseconds(n); }},
    {"--max-messages-per-second", 0, 1000000,
     [](Settings &, ServerConfig &c, long n) { c.limits.ws_messages_per_second = to_size(n); }},
    {"--idle-timeout-seconds", 0, 86400 * 7,
     [](Settings &, ServerConfig &c, long n) { c.limits.idle_timeout = seconds(n); }},
    {"--run-log-bytes", 1, 1L << 40, [](Settings &, ServerConfig &c, long n) { c.limits.run_log_bytes = to_size(n); }},
    {"--run-grace-seconds", 0, 86400 * 7,
     [](Settings &, ServerConfig &c, long n) { c.limits.finished_run_grace = seconds(n); }},
    {"--exit-wait-ms", 0, 3600000,
     [](Settings &, ServerConfig &c, long n) { c.cli.shutdown.exit_wait = milliseconds(n); }},
    {"--cancel-grace-ms", 0, 3600000,
     [](Settings &, ServerConfig &c, long n) { c.cli.shutdown.cancel_grace = milliseconds(n); }},
    {"--term-wait-ms", 0, 3600000,
     [](Settings &, ServerConfig &c, long n) { c.cli.shutdown.term_wait = milliseconds(n); }},
};

std::string key_of(const char *flag)
{
  std::string key(flag + 2);
  for (char &c : key)
    if (c == '-') c = '_';
  return key;
}

/// The numeric setting whose flag is `name` (or whose config-file key, with `as_key`), or null.
const NumberSetting *number_setting(const std::string &name, bool as_key = false)
{
  for (const auto &n : kNumbers)
    if (name == (as_key ? key_of(n.flag) : std::string(n.flag))) return &n;
  return nullptr;
}

void set_number(const char *flag, const std::string &what, const std::string &text, Settings &st, ServerConfig &cfg)
{
  const NumberSetting &n = *number_setting(flag);
  n.apply(st, cfg, to_number(what, text, n.lo, n.hi));
}

void apply_env(Settings &st, ccbridge::ServerConfig &cfg)
{
  if (const char *h = std::getenv("WEBSOCKET_HOST"); h && *h) st.sdk_host = h;
  if (const char *p = std::getenv("WEBSOCKET_PORT"); p && *p) set_number("--sdk-ws-port", "WEBSOCKET_PORT", p, st, cfg);
  if (const char *m = std::getenv("MAX_SESSIONS"); m && *m) set_number("--max-sessions", "MAX_SESSIONS", m, st, cfg);
  if (const char *t = std::getenv("SESSION_TIMEOUT_MINUTES"); t && *t)
    set_number("--session-timeout-minutes", "SESSION_TIMEOUT_MINUTES", t, st, cfg);
  if (const char *c = std::getenv("CORS"); c && *c && std::strcmp(c, "0") != 0 && std::strcmp(c, "false") != 0) cfg.cors = true;
  if (const char *tok = std::getenv("CCBRIDGE_TOKEN"); tok && *tok) cfg.token = tok;
  // cc-control: the original's variables (an empty one counts as unset, as there).
  auto env = [](const char *name, auto apply) {
    if (const char *v = std::getenv(name); v && *v) apply(std::string(v));
  };
  auto &cc = cfg.cc_control;
  env("ADMIN_TOKEN", [&](std::string v) { cc.admin_token = std::move(v); });
  env("UI_TOKEN", [&](std::string v) { cc.ui_token = std::move(v); });
  env("AGENT_TOKEN", [&](std::string v) { cc.agent_token = std::move(v); });
  env("TOKEN_DB", [&](std::string v) { cc.token_db = std::move(v); });
  env("ENV_ALLOW_KEYS", [&](const std::string &v) { cc.env_allow_keys = split_commas(v); });
  env("ENV_ALLOW_PREFIX", [&](std::string v) { cc.env_allow_prefix = std::move(v); });
  env("CCB_JWT_SECRET", [&](std::string v) { cfg.platform.jwt_secret = std::move(v); });
}

// --addr [HOST]:PORT, as the original's -addr (":18080" listens on every address there; here on
// --host, loopback by default).
void set_addr(Settings &st, ServerConfig &cfg, const std::string &addr)
{
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) usage_error("--addr must be [HOST]:PORT, not '" + addr + "'");
  if (colon > 0) st.cc_host = addr.substr(0, colon);
  set_number("--cc-control-port", "--addr", addr.substr(colon + 1), st, cfg);
}

// The cc-control flags that take a value; true if `a` was one.
bool cc_control_flag(const std::string &a, const std::function<std::string()> &value, Settings &st, ServerConfig &cfg)
{
  auto &cc = cfg.cc_control;
  if (a == "--addr") set_addr(st, cfg, value());
  else if (a == "--server-id") cc.server_id = value();
  else if (a == "--admin-token") cc.admin_token = value();
  else if (a == "--ui-token") cc.ui_token = value();
  else if (a == "--agent-token") cc.agent_token = value();
  else if (a == "--token-db") cc.token_db = value();
  else if (a == "--audit-path") cc.audit_path = value();
  else if (a == "--env-allow-keys") cc.env_allow_keys = split_commas(value());
  else if (a == "--env-allow-prefix") cc.env_allow_prefix = value();
  else if (a == "--ui-dir") (void)value();
  else if (a == "--enable-prompt-detection") cc.prompt_detection = true;
  else if (a == "--no-exact-approvals") cc.exact_approvals = false;
  else if (a == "--dev") cc.dev = true;
  else return false;
  return true;
}

// The original's Go flags: "-flag" as "--flag", and "--flag=value" as two arguments.
std::vector<std::string> normalised_args(int argc, char **argv)
{
  static const std::set<std::string> kBooleans{"--enable-prompt-detection", "--no-exact-approvals", "--dev", "--cors",
                                               "--log-json"};
  std::vector<std::string> out;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a[0] == '-' && a[1] != '-') a.insert(0, 1, '-');
    auto eq = a.find('=');
    if (eq != std::string::npos && kBooleans.count(a.substr(0, eq))) {
      std::string v = a.substr(eq + 1);
      if (v != "true" && v != "1" && v != "false" && v != "0") usage_error(a.substr(0, eq) + " takes true or false, not '" + v + "'");
      if (v == "true" || v == "1") out.push_back(a.substr(0, eq));
    } else if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      out.push_back(a.substr(0, eq));
      out.push_back(a.substr(eq + 1));
    } else {
      out.push_back(a);
    }
  }
  return out;
}

void apply_file(const std::string &path, Settings &st, ccbridge::ServerConfig &cfg)
{
  std::ifstream in(path);
  if (!in) usage_error("cannot read config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  ccbridge::JsonView j;
  try {
    j = ccbridge::parse_json(ss.str());
  } catch (const ccbridge::Error &e) {
    usage_error("config file '" + path + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object()) usage_error("config file '" + path + "' must hold a JSON object");
  // Every key is checked like its flag: a typo, a value of the wrong kind or out of range stops
  // the server with the key's name, instead of being ignored or wrapped around.
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string key(j.key_at(i));
    const ccbridge::JsonView v = j.value_at(i);
    const std::string what = "config file '" + path + "': '" + key + "'";
    auto text = [&] {
      if (!v.is_string()) usage_error(what + " must be a string");
      return std::string(*v.string());
    };
    auto texts = [&] {
      std::vector<std::string> out;
      if (!v.is_array()) usage_error(what + " must be an array of strings");
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (!v[k].is_string()) usage_error(what + " must be an array of strings");
        out.emplace_back(*v[k].string());
      }
      return out;
    };
    auto flag = [&] {
      if (!v.is_bool()) usage_error(what + " must be true or false");
      return *v.boolean();
    };
    if (const NumberSetting *n = number_setting(key, true)) {
      auto x = v.int64();
      if (!x || *x < n->lo || *x > n->hi)
        usage_error(what + " must be an integer from " + std::to_string(n->lo) + " to " + std::to_string(n->hi) + ", not " + v.dump());
      n->apply(st, cfg, static_cast<long>(*x));
    } else if (key == "host") st.host = text();
    else if (key == "profiles") st.profiles = texts();
    else if (key == "cli") cfg.cli.cli_path = text();
    else if (key == "pass_env") cfg.cli.pass_env = texts();
    else if (key == "roots") cfg.allowed_roots = texts();
    else if (key == "token") cfg.token = text();
    else if (key == "allowed_origins") cfg.allowed_origins = texts();
    else if (key == "cors") cfg.cors = flag();
    else if (key == "tls_cert") cfg.tls_cert = text();
    else if (key == "tls_key") cfg.tls_key = text();
    else if (key == "permission_modes") cfg.allowed_permission_modes = texts();
    else if (key == "default_permission_mode") cfg.default_permission_mode = text();
    else if (key == "client_allowed_tools") cfg.client_allowed_tools = texts();
    else if (key == "log_level") cfg.log.level = to_level(what, text());
    else if (key == "log_json") cfg.log.json = flag();
    else if (key == "cc_control") {
      try {  // the library's reader checks every key of it
        cfg.cc_control = ccbridge::server_config_from_json("{\"cc_control\":" + v.dump() + "}").cc_control;
      } catch (const ccbridge::Error &e) {
        usage_error("config file '" + path + "': " + e.detail());
      }
    }
    else if (key == "platform") {
      try {  // the library's reader checks every key of it
        cfg.platform = ccbridge::server_config_from_json("{\"platform\":" + v.dump() + "}").platform;
      } catch (const ccbridge::Error &e) {
        usage_error("config file '" + path + "': " + e.detail());
      }
    }
    else usage_error("config file '" + path + "': unknown key '" + key + "' (the keys are the flags below, in snake_case)");
  }
}

// The listeners: every profile on --port, or each on its default port (profiles that share one
// share a listener), where --opcode-port and --sdk-ws-port move those on opcode's and sdk-ws's.
std::vector<ServerConfig::Listener> listeners(Settings &st)
{
  auto known = ccbridge::server_profiles();
  std::string names;
  std::vector<std::string> by_default;
  for (const auto &p : known) {
    names += (names.empty() ? "" : ", ") + p.name;
    if (p.by_default) by_default.push_back(p.name);
  }
  // With no --port, every seed's profile on its own default port; with one port, the first three
  // (cc-control's /api/ would take the OpCode API's unknown paths there).
  if (st.profiles.empty() && st.port < 0)
    for (const auto &p : known)
      if (!p.by_default && !p.seed.empty()) by_default.push_back(p.name);
  if (st.profiles.empty()) st.profiles = by_default;
  std::vector<ServerConfig::Listener> out;
  auto default_port = [&](const std::string &name) -> long {
    for (const auto &p : known)
      if (p.name == name) return p.default_port;
    usage_error("unknown profile '" + name + "' (known: " + names + ")");
  };
  if (st.port >= 0) return {{st.host, static_cast<std::uint16_t>(st.port), st.profiles}};
  const long opcode = default_port("opcode"), sdk = default_port("sdk-ws"), cc = default_port("cc-control");
  for (const auto &name : st.profiles) {
    long d = default_port(name);
    long port = d == opcode && st.opcode_port >= 0 ? st.opcode_port
                : d == sdk && st.sdk_port >= 0     ? st.sdk_port
                : d == cc && st.cc_port >= 0       ? st.cc_port
                                                   : d;
    std::string host = d == sdk && !st.sdk_host.empty() ? st.sdk_host : d == cc && !st.cc_host.empty() ? st.cc_host : st.host;
    auto same = std::find_if(out.begin(), out.end(), [&](const auto &l) { return l.port == port && l.host == host; });
    if (same == out.end()) same = out.insert(out.end(), {host, static_cast<std::uint16_t>(port), {}});
    same->profiles.push_back(name);
  }
  return out;
}

}  // namespace

int run_serve(int argc, char **argv)
{
  ccbridge::ServerConfig cfg;
  Settings st;
  apply_env(st, cfg);
  std::vector<std::string> args = normalised_args(argc, argv);
  const int nargs = static_cast<int>(args.size());
  // The config file first, so that flags win over it.
  for (int i = 0; i + 1 < nargs; ++i)
    if (args[i] == "--config") {
      apply_file(args[i + 1], st, cfg);
      st.config_path = args[i + 1];
    }
  std::vector<std::string> roots;
  for (int i = 0; i < nargs; ++i) {
    const std::string a = args[i];
    std::function<std::string()> value = [&]() -> std::string {
      if (i + 1 >= nargs) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--host") st.host = value();
    else if (const NumberSetting *n = number_setting(a)) n->apply(st, cfg, to_number(a, value(), n->lo, n->hi));
    else if (a == "--profiles") st.profiles = split_commas(value());
    else if (a == "--cli") cfg.cli.cli_path = value();
    else if (a == "--pass-env") cfg.cli.pass_env.push_back(value());
    else if (a == "--root") roots.push_back(value());
    else if (a == "--token") cfg.token = value();
    else if (a == "--allow-origin") cfg.allowed_origins.push_back(value());
    else if (a == "--cors") cfg.cors = true;
    else if (a == "--tls-cert") cfg.tls_cert = value();
    else if (a == "--tls-key") cfg.tls_key = value();
    else if (a == "--permission-modes") cfg.allowed_permission_modes = split_commas(value());
    else if (a == "--default-permission-mode") cfg.default_permission_mode = value();
    else if (a == "--client-allowed-tools") cfg.client_allowed_tools = split_commas(value());
    else if (a == "--config") (void)value();
    else if (a == "--log-level") cfg.log.level = to_level(a, value());
    else if (a == "--log-json") cfg.log.json = true;
    else if (cc_control_flag(a, value, st, cfg)) continue;
    else if (a == "--db") cfg.platform.db = value();
    else if (a == "--jwt-secret") cfg.platform.jwt_secret = value();
    else if (a == "--password-cost") cfg.platform.password_cost_log2 = static_cast<int>(to_number(a, value(), 10, 20));
    else if (a == "--requests-per-hour") cfg.platform.requests_per_hour = static_cast<std::size_t>(to_number(a, value(), 1, 100000000));
    else if (a == "--metrics-interval-ms") cfg.platform.metrics_interval = std::chrono::milliseconds(to_number(a, value(), 10, 3600000));
    else if (a == "--login-attempts") cfg.platform.login_attempts_per_15min = static_cast<std::size_t>(to_number(a, value(), 1, 100000000));
    else if (a == "-h" || a == "--help") {
      std::cout << kServeUsage;
      return 0;
    } else usage_error("unknown option " + a);
  }
  if (!roots.empty()) cfg.allowed_roots = roots;
  // cc-control's database: next to the config file unless named.
  if (cfg.cc_control.token_db.empty() && !st.config_path.empty()) {
    auto slash = st.config_path.rfind('/');
    cfg.cc_control.token_db = (slash == std::string::npos ? std::string() : st.config_path.substr(0, slash + 1)) + "cc-control.db";
  }
  cfg.listeners = listeners(st);

  // Say clearly when the CLI is missing: the server still runs, and every request that would
  // start it gets the documented error.
  try {
    std::string cli = ccbridge::find_cli(cfg.cli);
    std::cerr << "ccbridge serve: using Claude Code at " << cli << '\n';
  } catch (const ccbridge::Error &e) {
    std::cerr << "ccbridge serve: WARNING: " << e.what() << "\n  Requests that start a run will fail with 'Claude binary not found'.\n";
  }

  // Signals are taken by sigwait() below, so every thread started from here on blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  ccbridge::Runtime runtime;
  ccbridge::Server server(runtime, cfg);
  try {
    server.start();
  } catch (const ccbridge::Error &e) {
    std::cerr << "ccbridge serve: " << e.what() << '\n';
    return 1;
  }
  for (const auto &ep : server.endpoints()) {
    std::string profiles;
    for (const auto &p : ep.profiles) profiles += (profiles.empty() ? "" : ", ") + p;
    std::cout << "ccbridge serve: listening on " << (cfg.tls_cert.empty() ? "http://" : "https://") << ep.host << ':' << ep.port << " (" << profiles << ")\n";
  }
  std::cout.flush();
  int sig = 0;
  sigwait(&sigs, &sig);
  std::cerr << "ccbridge serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
  server.stop();
  return 0;
}
