// Profile "cc-control" (seed 004): the control plane for Claude Code terminal sessions. Its REST
// routes and WebSockets check tokens of their own (roles and tenants), so they are mounted
// outside the gateway's token; sessions on this host run through the built-in local agent, and
// sessions on other hosts through agents that dial /ws/agent (`ccbridge agent`).
#include "server/profile.hpp"
#include "server/profiles/cc_control/routes.hpp"

namespace ccbridge::detail::server {
namespace {

void install(Context &ctx, Router &r)
{
  auto &c = profile_service<cc_control::Control>(ctx, "cc-control");
  cc_control::install_rest(c, r);
  r.ws("/ws/client", WsGate([&c](const HttpRequest &req) { return cc_control::client_gate(c, req); }));
  r.ws("/ws/agent", WsGate([&c](const HttpRequest &req) { return cc_control::agent_gate(c, req); }));
  cc_control::install_console(c, r);
}

// The per-agent series name tenants and server ids: only for a request with an admin token (an
// open /metrics must not tell one tenant what another runs; CC-CONTROL.md 8 item 2).
void metrics(const Context &ctx, const HttpRequest &req, std::string &out)
{
  if (const auto *c = find_profile_service<cc_control::Control>(ctx, "cc-control")) c->metrics(out, cc_control::is_admin(*c, req));
}

}  // namespace

// Not on a listener that names no profiles (its /api/ would take the OpCode API's unknown paths);
// `ccbridge serve` with no flags serves it on its own port.
Profile cc_control_profile() { return {"cc-control", "004", 18080, false, install, metrics}; }

}  // namespace ccbridge::detail::server
