#include "server/profiles/cc_control/local_agent.hpp"

#include "core/permission_relay.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/terminal.hpp>

#include <asio/post.hpp>

#include <cctype>
#include <cstdlib>
#include <mutex>

#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

namespace ccbridge::detail::server::cc_control {
namespace {

// Output waiting for the server thread, per terminal: above kHigh the PTY is not read (the CLI
// then blocks on its writes) until the server thread has taken it below kLow. Small next to a
// client's send buffer, so that a client's hold (Agent::hold_output) takes effect within it.
constexpr std::size_t kHigh = 256u << 10;
constexpr std::size_t kLow = kHigh / 4;
constexpr unsigned kBacklog = 1;  // output waiting for the server thread
constexpr unsigned kClients = 2;  // the session's clients cannot take more (Agent::hold_output)

std::string go_arch(const std::string &machine)
{
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  return machine;
}

// The host's variables named by pass_env (names, or prefixes ending in '*').
std::map<std::string, std::string> passed_env(const Options &o)
{
  std::map<std::string, std::string> out(o.env.begin(), o.env.end());
  for (char **e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = kv.substr(0, eq);
    for (const auto &p : o.pass_env) {
      bool prefix = !p.empty() && p.back() == '*';
      if (prefix ? k.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0 : k == p) {
        out.emplace(std::string(k), std::string(kv.substr(eq + 1)));
        break;
      }
    }
  }
  return out;
}

std::string resume_problem(const std::string &id)
{
  if (id.size() > 128) return "reject_resume_id:too_long";
  for (unsigned char c : id)
    if (std::isspace(c)) return "reject_resume_id:contains_whitespace";
  return {};
}

}  // namespace

struct LocalAgent::Term {
  std::mutex mu;  // guards `term` while it is being set (its events may already run)
  std::optional<Terminal> term;
  std::shared_ptr<PermissionRelay> relay;  // the CLI's PermissionRequest hook asks here
  ProcessSlots::Slot slot;
  std::atomic<std::size_t> in_flight{0};
  unsigned holds = 0;  // why the PTY is not read (kBacklog, kClients); guarded by mu

  // Reading stops while there is any reason; the Terminal is told only on a change.
  void hold(unsigned reason, bool on)
  {
    std::lock_guard<std::mutex> lk(mu);
    unsigned before = holds;
    holds = on ? holds | reason : holds & ~reason;
    if (!term || (before == 0) == (holds == 0)) return;
    if (holds) term->pause_reading();
    else term->resume_reading();
  }
};

LocalAgent::LocalAgent(Context &ctx, AgentSink &sink) : ctx_(ctx), sink_(sink), server_id_(ctx.cfg.cc_control.server_id)
{
  try {
    cli_ = find_cli(ctx.cfg.cli);
  } catch (const Error &) {  // reported per session: start_failed
  }
}

LocalAgent::~LocalAgent() { stop_all(); }

ServerRecord LocalAgent::record() const
{
  ServerRecord r;
  r.server_id = server_id_;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  r.hostname = host;
  utsname u{};
  uname(&u);
  r.os = "linux";
  r.arch = go_arch(u.machine);
  r.agent_version = "ccbridge";
  r.last_seen_ms = now_ms();
  r.allow_roots = ctx_.roots;
  r.claude_path = cli_;
  return r;
}

void LocalAgent::reject(const std::string &session_id, const std::string &message)
{
  // Reported after the create call has answered, as a remote agent's error would be.
  asio::post(ctx_.ioc, [weak = weak_from_this(), session_id, message] {
    if (auto self = weak.lock()) self->sink_.agent_error(self->server_id_, session_id, message);
  });
}

std::string LocalAgent::start_session(const StartSession &req)
{
  if (stopped_) return "agent stopped";
  if (terms_.count(req.session_id)) return "session already exists";
  std::string resolved, why;
  DirectoryHandle dir;
  if (!ctx_.resolve_cwd(req.cwd, resolved, dir, why)) return reject(req.session_id, "reject_cwd:" + why), "";
  if (auto bad = resume_problem(req.resume_id); !bad.empty()) return reject(req.session_id, bad), "";
  if (cli_.empty()) return reject(req.session_id, "start_failed:Claude Code CLI not found"), "";
  const auto &cc = ctx_.cfg.cc_control;
  TerminalOptions o;
  o.cli_path = cli_;
  o.cwd = resolved;
  o.env = req.env;
  o.env_allow_keys = cc.env_allow_keys;
  o.env_allow_prefix = cc.env_allow_prefix;
  o.extra_env = passed_env(ctx_.cfg.cli);
  // The UI draws for a terminal: the host's TERM if it has one (as the original), else xterm's.
  if (!std::getenv("TERM")) o.extra_env.emplace("TERM", "xterm-256color");
  o.cols = req.cols;
  o.rows = req.rows;
  o.resume_id = req.resume_id;
  o.start_timeout = cc.start_timeout;
  // Asking mode: without it a fresh UI starts in auto mode, where tools run or are refused with
  // no prompt, and the PermissionRequest hook is never called.
  o.args = {"--permission-mode", "default"};
  auto t = std::make_shared<Term>();
  if (cc.exact_approvals) {
    try {
      t->relay = start_relay(req.session_id);
    } catch (const Error &e) {
      reject(req.session_id, "start_failed:" + e.detail());
      return "";
    }
    o.args = t->relay->cli_args();
    for (auto &kv : t->relay->cli_env()) o.extra_env[kv.first] = kv.second;
  }
  t->slot = ctx_.processes.take();
  std::weak_ptr<LocalAgent> weak = weak_from_this();
  std::weak_ptr<Term> wt = t;
  TerminalEvents ev;
  ev.output = [weak, wt, id = req.session_id](std::string_view bytes, std::uint64_t seq) {
    auto term = wt.lock();
    if (!term) return;
    if (term->in_flight.fetch_add(bytes.size()) + bytes.size() > kHigh) term->hold(kBacklog, true);
    if (auto self = weak.lock())
      asio::post(self->ctx_.ioc, [weak, id, seq, b = std::string(bytes)]() {
        if (auto s = weak.lock()) s->on_output(id, seq, b);
      });
  };
  ev.exit = [weak, id = req.session_id](const TerminalExit &x) {
    PtyExit e{x.exit_code, x.signal, x.error ? "start_failed:" + x.reason : x.reason};
    if (auto self = weak.lock())
      asio::post(self->ctx_.ioc, [weak, id, e] {
        if (auto s = weak.lock()) s->on_exit(id, e);
      });
  };
  try {
    std::lock_guard<std::mutex> lk(t->mu);
    t->term.emplace(Terminal::start(ctx_.runtime, o, std::move(ev)));
  } catch (const Error &e) {
    reject(req.session_id, "start_failed:" + e.detail());
    return "";
  }
  terms_.emplace(req.session_id, std::move(t));
  return "";
}

// The relay's handlers run on the server thread (its strand of ctx_.ioc).
std::shared_ptr<PermissionRelay> LocalAgent::start_relay(const std::string &session_id)
{
  PermissionRelayConfig rc;
  rc.hook_program = hook_program();
  std::weak_ptr<LocalAgent> weak = weak_from_this();
  PermissionRelay::Handlers h;
  h.on_ask = [weak, session_id](const detail::PermissionAsk &a) {
    if (auto self = weak.lock())
      self->sink_.permission_ask(self->server_id_, session_id, {std::to_string(a.id), a.tool_name, a.tool_input_json});
  };
  h.on_gone = [weak, session_id](std::uint64_t id) {
    if (auto self = weak.lock()) self->sink_.permission_gone(self->server_id_, session_id, std::to_string(id));
  };
  return PermissionRelay::start(ctx_.ioc, rc, std::move(h));
}

// `ccbridge permission-hook` is this program when it is ccbridge, else the installed one.
std::string LocalAgent::hook_program() const
{
  const auto &configured = ctx_.cfg.cc_control.hook_program;
  if (!configured.empty()) return configured;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string path = n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string();
  if (path.size() >= 9 && path.compare(path.size() - 9, 9, "/ccbridge") == 0) return path;
  return default_hook_program();
}

void LocalAgent::on_output(const std::string &session_id, std::uint64_t seq, const std::string &bytes)
{
  auto it = terms_.find(session_id);
  std::size_t n = bytes.size();
  sink_.pty_out(server_id_, session_id, seq, bytes);
  if (it == terms_.end()) return;
  Term &t = *it->second;
  if (t.in_flight.fetch_sub(n) - n < kLow) t.hold(kBacklog, false);
}

void LocalAgent::on_exit(const std::string &session_id, const PtyExit &exit)
{
  auto it = terms_.find(session_id);
  if (it == terms_.end()) return;
  auto keep = std::move(it->second);  // the Terminal is destroyed after its exit was handled
  terms_.erase(it);
  if (keep->relay) keep->relay->close();  // hooks still waiting print nothing
  if (exit.reason.rfind("start_failed:", 0) == 0) sink_.agent_error(server_id_, session_id, exit.reason);
  else sink_.pty_exit(server_id_, session_id, exit);
}

std::string LocalAgent::stop_session(const std::string &session_id, std::chrono::milliseconds grace,
                                     std::chrono::milliseconds kill_after)
{
  auto it = terms_.find(session_id);
  if (it == terms_.end()) return "session not found";
  it->second->term->stop(grace, kill_after);
  return "";
}

std::string LocalAgent::pty_in(const std::string &session_id, const std::string &bytes)
{
  auto it = terms_.find(session_id);
  if (it == terms_.end()) return "session not found";
  it->second->term->write(bytes);
  return "";
}

void LocalAgent::hold_output(const std::string &session_id, bool hold)
{
  if (auto it = terms_.find(session_id); it != terms_.end()) it->second->hold(kClients, hold);
}

std::string LocalAgent::resize(const std::string &session_id, std::uint16_t cols, std::uint16_t rows)
{
  auto it = terms_.find(session_id);
  if (it == terms_.end()) return "session not found";
  it->second->term->resize(cols, rows);
  return "";
}

std::string LocalAgent::answer_permission(const std::string &session_id, const std::string &ask_id, bool allow,
                                          const std::string &message)
{
  auto it = terms_.find(session_id);
  if (it == terms_.end()) return "session not found";
  if (!it->second->relay) return "no permission request is pending";
  char *end = nullptr;
  std::uint64_t id = std::strtoull(ask_id.c_str(), &end, 10);
  if (ask_id.empty() || *end || !it->second->relay->answer(id, allow, message)) return "the permission request is gone";
  return "";
}

void LocalAgent::stop_all()
{
  stopped_ = true;
  for (auto &[id, t] : terms_) {
    if (t->relay) t->relay->close();
    t->term->stop(std::chrono::milliseconds(0), std::chrono::milliseconds(2000));
  }
}

}  // namespace ccbridge::detail::server::cc_control
