// `ccbridge agent`: runs terminal sessions on this host for a cc-control control plane, dialling
// out to its /ws/agent (docs/AGENT-PROTOCOL.md). A foreground process for systemd: logs to
// stderr; SIGTERM or SIGINT stops every session (after --drain-sec of letting them end), sends
// their last output and exits 0. The sessions run through the control plane's own LocalAgent.
#include "agent_main.hpp"

#include "args.hpp"

#include "server/context.hpp"
#include "server/profiles/cc_control/agent_link.hpp"
#include "server/profiles/cc_control/local_agent.hpp"
#include "server/ws_client.hpp"

#include <ccbridge/ccbridge.hpp>
#include <ccbridge/server.hpp>

#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace srv = ccbridge::detail::server;
namespace cc = ccbridge::detail::server::cc_control;
using std::chrono::milliseconds;
using std::chrono::seconds;

const char kAgentUsage[] =
    "usage: ccbridge agent --control URL --token T --allow-root DIR[,DIR] [options]\n"
    "\n"
    "Runs terminal sessions on this host for a cc-control control plane (seed 004): dials out to\n"
    "its /ws/agent and keeps dialling (1, 2, 4, 8 s apart) until stopped. The original cc-agent's\n"
    "flags are accepted too (-control-url, -agent-token, ...; as -flag, --flag and -flag=value).\n"
    "\n"
    "options:\n"
    "  --control URL          the control plane's /ws/agent: ws://, wss://, http:// or https://\n"
    "                         (-control-url; env CONTROL_URL; default ws://127.0.0.1:18080/ws/agent)\n"
    "  --token T              agent token, sent as Authorization: Bearer (-agent-token; env AGENT_TOKEN;\n"
    "                         required: there is no default token)\n"
    "  --allow-root DIR[,DIR] directories sessions may run in (repeatable; env ALLOW_ROOT; required,\n"
    "                         each must exist)\n"
    "  --server-id ID         this agent's server id (env SERVER_ID; default the host name)\n"
    "  --hostname H           host name shown by the control plane (default the host name)\n"
    "  --tags A,B             tags shown by the control plane (env TAGS)\n"
    "  --claude-path P        the CLI to run (env CLAUDE_PATH; default: PATH, then the usual places)\n"
    "  --ca-file F            PEM CA certificates for wss:// (default: the system's)\n"
    "  --tls-skip-verify      do not check the control plane's certificate (env TLS_SKIP_VERIFY=1;\n"
    "                         development only)\n"
    "  --env-allow-keys A,B   request env keys passed to the CLI (env ENV_ALLOW_KEYS)\n"
    "  --env-allow-prefix P   request env key prefix passed (default CC_, env ENV_ALLOW_PREFIX)\n"
    "  --replay-bytes N       output kept per session for the control plane across reconnects\n"
    "                         (default 1048576)\n"
    "  --keep-ended-sec N     an ended session's output waits this long for the control plane (default 600)\n"
    "  --drain-sec N          on SIGTERM, refuse new sessions and let running ones end for up to N s\n"
    "                         before stopping them (default 0)\n"
    "  --log-level L          debug, info, warn, error (default info)\n"
    "  --log-json             log JSON lines\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM or SIGINT; 1 could not run (a bad CA file, URL ...);\n"
    "2 bad usage (unknown flag, no token, a missing allow-root).\n";

[[noreturn]] void usage_error(const std::string &msg)
{
  std::cerr << "ccbridge agent: " << msg << "\n\n" << kAgentUsage;
  std::exit(2);
}

long to_number(const std::string &what, const std::string &v, long lo, long hi)
{
  char *end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < lo || n > hi)
    usage_error(what + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not '" + v + "'");
  return n;
}

std::string host_name()
{
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

struct AgentSettings {
  std::string control = "ws://127.0.0.1:18080/ws/agent";
  std::string token, server_id, hostname, claude_path, ca_file, env_allow_prefix = "CC_";
  std::vector<std::string> roots, tags, env_allow_keys;
  bool skip_verify = false;
  long replay_bytes = 1L << 20, keep_ended_sec = 600, drain_sec = 0;
  ccbridge::ServerLog log;
};

bool truthy(const std::string &v) { return v == "1" || v == "true" || v == "yes"; }

// The original's variables; an empty one counts as unset, as there.
void apply_env(AgentSettings &s)
{
  auto env = [](const char *name, const std::function<void(const std::string &)> &apply) {
    if (const char *v = std::getenv(name); v && *v) apply(v);
  };
  env("CONTROL_URL", [&](const std::string &v) { s.control = v; });
  env("AGENT_TOKEN", [&](const std::string &v) { s.token = v; });
  env("SERVER_ID", [&](const std::string &v) { s.server_id = v; });
  env("TAGS", [&](const std::string &v) { s.tags = split_commas(v); });
  env("ALLOW_ROOT", [&](const std::string &v) { s.roots = split_commas(v); });
  env("CLAUDE_PATH", [&](const std::string &v) { s.claude_path = v; });
  env("TLS_SKIP_VERIFY", [&](const std::string &v) { s.skip_verify = truthy(v); });
  env("ENV_ALLOW_KEYS", [&](const std::string &v) { s.env_allow_keys = split_commas(v); });
  env("ENV_ALLOW_PREFIX", [&](const std::string &v) { s.env_allow_prefix = v; });
}

// "-flag" as "--flag", the original's names as ours, and "--flag=value" as two arguments.
std::vector<std::string> agent_args(int argc, char **argv)
{
  static const std::set<std::string> kBooleans{"--tls-skip-verify", "--log-json"};
  std::vector<std::string> out;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a[0] == '-' && a[1] != '-') a.insert(0, 1, '-');
    auto eq = a.find('=');
    std::string name = a.substr(0, eq);
    if (name == "--control-url") name = "--control";
    if (name == "--agent-token") name = "--token";
    if (eq == std::string::npos) out.push_back(name);
    else if (kBooleans.count(name)) {
      std::string v = a.substr(eq + 1);
      if (!truthy(v) && v != "false" && v != "0" && v != "no") {
        std::string why = name + " takes true or false, not '";
        usage_error(why.append(v).append("'"));
      }
      if (truthy(v)) out.push_back(name);
    } else {
      out.push_back(name);
      out.push_back(a.substr(eq + 1));
    }
  }
  return out;
}

// One flag with a value; false if `a` is not one.
bool value_flag(const std::string &a, const std::function<std::string()> &value, AgentSettings &s, bool &roots_given)
{
  if (a == "--control") s.control = value();
  else if (a == "--token") s.token = value();
  else if (a == "--allow-root") {
    if (!roots_given) s.roots.clear();  // flags replace ALLOW_ROOT
    roots_given = true;
    for (auto &r : split_commas(value())) s.roots.push_back(r);
  } else if (a == "--server-id") s.server_id = value();
  else if (a == "--hostname") s.hostname = value();
  else if (a == "--tags") s.tags = split_commas(value());
  else if (a == "--claude-path") s.claude_path = value();
  else if (a == "--ca-file") s.ca_file = value();
  else if (a == "--env-allow-keys") s.env_allow_keys = split_commas(value());
  else if (a == "--env-allow-prefix") s.env_allow_prefix = value();
  else if (a == "--replay-bytes") s.replay_bytes = to_number(a, value(), 65536, 1L << 30);
  else if (a == "--keep-ended-sec") s.keep_ended_sec = to_number(a, value(), 1, 86400 * 7);
  else if (a == "--drain-sec") s.drain_sec = to_number(a, value(), 0, 86400);
  else if (a == "--log-level") {
    const std::string v = value();
    using L = ccbridge::ServerLog::Level;
    s.log.level = v == "debug" ? L::debug : v == "info" ? L::info : v == "warn" ? L::warn : v == "error" ? L::error : L::off;
    if (s.log.level == L::off) usage_error("--log-level must be debug, info, warn or error, not '" + v + "'");
  } else return false;
  return true;
}

AgentSettings parse(int argc, char **argv)
{
  AgentSettings s;
  apply_env(s);
  std::vector<std::string> args = agent_args(argc, argv);
  bool roots_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string a = args[i];
    std::function<std::string()> value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (value_flag(a, value, s, roots_given)) continue;
    if (a == "--tls-skip-verify") s.skip_verify = true;
    else if (a == "--log-json") s.log.json = true;
    else if (a == "-h" || a == "--help") {
      std::cout << kAgentUsage;
      std::exit(0);
    } else usage_error("unknown option " + a);
  }
  return s;
}

// The original's checks: a token (none by default here), and allowed roots that are existing
// directories (resolved once, symlinks and all).
std::vector<std::string> checked_roots(const AgentSettings &s)
{
  if (s.token.empty()) usage_error("no agent token: give --token or AGENT_TOKEN (there is no default token)");
  if (s.roots.empty()) usage_error("no allowed root: give --allow-root DIR[,DIR] or ALLOW_ROOT");
  std::vector<std::string> roots;
  try {
    roots = srv::resolve_roots(s.roots);
  } catch (const ccbridge::Error &e) {
    usage_error(e.detail());
  }
  for (const auto &r : roots) {
    struct stat st{};
    if (::stat(r.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) usage_error("allowed root '" + r + "' is not a directory");
  }
  return roots;
}

ccbridge::ServerConfig server_config(const AgentSettings &s)
{
  ccbridge::ServerConfig cfg;
  cfg.cli.cli_path = s.claude_path;
  cfg.cli.inherit_env = ccbridge::EnvInherit::allow_list;
  cfg.allowed_roots = s.roots;
  cfg.log = s.log;
  cfg.cc_control.server_id = s.server_id;
  cfg.cc_control.env_allow_keys = s.env_allow_keys;
  cfg.cc_control.env_allow_prefix = s.env_allow_prefix;
  return cfg;
}

// The process: the dial loop, the sessions (LocalAgent, reporting to the AgentLink) and the stop.
class AgentProcess {
public:
  AgentProcess(const AgentSettings &s, const ccbridge::ServerConfig &cfg, std::vector<std::string> roots)
      : settings_(s), log_(cfg.log), hub_(ioc_, {}), ctx_(ioc_, runtime_, cfg, hub_, log_, metrics_),
        link_(ioc_, log_, link_config(s)), retry_(ioc_), poll_(ioc_), signals_(ioc_, SIGINT, SIGTERM)
  {
    ctx_.roots = std::move(roots);
    srv::WsClientOptions o;
    o.url = s.control;
    o.bearer = s.token;
    o.ca_file = s.ca_file;
    o.tls_skip_verify = s.skip_verify;
    dialer_ = srv::make_ws_dialer(ioc_, o);  // throws for a bad URL or CA file
    local_ = std::make_shared<cc::LocalAgent>(ctx_, link_);
    cc::ServerRecord rec = local_->record();
    rec.hostname = s.hostname.empty() ? rec.hostname : s.hostname;
    rec.tags = s.tags;
    link_.set_record(rec);
    link_.set_agent(local_.get());
    link_.on_registered = [this] { backoff_.reset(); };
  }

  int run()
  {
    log_.info("agent_start", {{"server_id", settings_.server_id}, {"control", srv::ws_url(settings_.control)}});
    signals_.async_wait([this](std::error_code ec, int sig) {
      if (!ec) begin_stop(sig);
    });
    dial();
    ioc_.run();
    return 0;
  }

private:
  static cc::AgentLinkConfig link_config(const AgentSettings &s)
  {
    cc::AgentLinkConfig c;
    c.instance_id = srv::Context::new_id();
    c.replay_bytes = static_cast<std::size_t>(s.replay_bytes);
    c.keep_ended = seconds(s.keep_ended_sec);
    return c;
  }

  void dial()
  {
    srv::WsClientHandlers h;
    h.open = [this](std::shared_ptr<srv::WsClientLink> socket) {
      socket_ = socket;
      log_.info("agent_connected", {{"control", srv::ws_url(settings_.control)}});
      link_.open(std::move(socket));
    };
    h.message = [this](const std::string &text) { link_.message(text); };
    h.closed = [this](int code, const std::string &reason, const std::string &error) { on_closed(code, reason, error); };
    dialer_->dial(std::move(h));
  }

  void on_closed(int code, const std::string &reason, const std::string &error)
  {
    const bool was_open = socket_ != nullptr;
    socket_.reset();
    link_.closed();
    if (stopping_ && closing_) return finish();
    auto delay = backoff_.next();
    const std::string retry = std::to_string(delay.count()) + " s";
    if (code == 1008)
      log_.error("agent_refused", {{"reason", reason}, {"retry_in", retry}, {"hint", "another agent is connected with this server id? rename it with --server-id"}});
    else if (!was_open) log_.warn("agent_dial_failed", {{"error", error}, {"retry_in", retry}});
    else log_.warn("agent_disconnected", {{"code", std::to_string(code)}, {"reason", reason}, {"retry_in", retry}});
    retry_.expires_after(delay);
    retry_.async_wait([this](std::error_code ec) {
      if (!ec && !closing_) dial();
    });
  }

  // SIGTERM/SIGINT: refuse new sessions; with --drain-sec let the running ones end for that
  // long; then the ladder for the rest, their last output and exits, close 1001, exit 0. A second
  // signal skips the drain.
  void begin_stop(int sig)
  {
    signals_.async_wait([this](std::error_code ec, int) {
      if (!ec) stop_sessions();
    });
    if (stopping_) return;
    stopping_ = true;
    link_.set_draining(true);
    log_.info("agent_stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"},
                                 {"sessions", std::to_string(link_.running())},
                                 {"drain_sec", std::to_string(settings_.drain_sec)}});
    if (settings_.drain_sec <= 0) return stop_sessions();
    wait_until([this] { return link_.running() == 0; }, seconds(settings_.drain_sec), [this] { stop_sessions(); });
  }

  void stop_sessions()
  {
    if (ladder_) return;
    ladder_ = true;
    const milliseconds grace(3000), kill_after(7000);
    link_.stop_all(grace, kill_after);
    wait_until([this] { return local_->live() == 0 && link_.running() == 0 && link_.delivered(); },
               kill_after + seconds(3), [this] { close_link(); });
  }

  void close_link()
  {
    closing_ = true;
    retry_.cancel();
    if (!socket_) return finish();
    socket_->close(1001, "agent stopping");
    wait_until([] { return false; }, seconds(3), [this] { finish(); });  // the close handshake, at most
  }

  void finish()
  {
    log_.info("agent_stopped", {});
    signals_.cancel();
    poll_.cancel();
    retry_.cancel();
    local_->stop_all();
    ioc_.stop();
  }

  // Polls `done` every 20 ms until it holds or `limit` has passed, then runs `then` once.
  void wait_until(std::function<bool()> done, milliseconds limit, std::function<void()> then)
  {
    auto deadline = std::chrono::steady_clock::now() + limit;
    poll(std::move(done), deadline, std::make_shared<std::function<void()>>(std::move(then)));
  }
  void poll(std::function<bool()> done, std::chrono::steady_clock::time_point deadline,
            const std::shared_ptr<std::function<void()>> &then)
  {
    if (done() || std::chrono::steady_clock::now() >= deadline) return (*then)();
    poll_.expires_after(milliseconds(20));
    poll_.async_wait([this, done = std::move(done), deadline, then](std::error_code ec) mutable {
      if (!ec) poll(std::move(done), deadline, then);
    });
  }

  const AgentSettings &settings_;
  asio::io_context ioc_;
  ccbridge::Runtime runtime_;
  srv::Logger log_;
  srv::Metrics metrics_;
  srv::Hub hub_;
  srv::Context ctx_;
  cc::AgentLink link_;
  std::unique_ptr<srv::WsDialer> dialer_;
  std::shared_ptr<cc::LocalAgent> local_;
  std::shared_ptr<srv::WsClientLink> socket_;
  cc::Backoff backoff_;
  asio::steady_timer retry_, poll_;
  asio::signal_set signals_;
  bool stopping_ = false, ladder_ = false, closing_ = false;
};

}  // namespace

int run_agent(int argc, char **argv)
{
  AgentSettings s = parse(argc, argv);
  std::vector<std::string> roots = checked_roots(s);
  if (s.server_id.empty()) s.server_id = host_name();
  const ccbridge::ServerConfig cfg = server_config(s);
  try {
    AgentProcess agent(s, cfg, std::move(roots));
    return agent.run();
  } catch (const ccbridge::Error &e) {
    std::cerr << "ccbridge agent: " << e.what() << '\n';
    return 1;
  }
}
