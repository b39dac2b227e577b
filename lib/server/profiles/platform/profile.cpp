// Profile "platform" (seed 001): the agent platform's REST API under /v1 and its chat WebSocket,
// with users and tokens of its own (so mounted outside the gateway's token). See platform.hpp.
#include "server/profile.hpp"
#include "server/profiles/platform/rest.hpp"

namespace ccbridge::detail::server {
namespace {

struct State {
  std::unique_ptr<platform::Platform> platform;
};

platform::Platform &platform_of(Context &ctx)
{
  auto &st = ctx.profile_state<State>("platform");
  if (!st.platform) {
    st.platform = std::make_unique<platform::Platform>(ctx);
    st.platform->start();  // throws: the server does not start with a store it cannot open
    ctx.on_stop.push_back([&st] { st.platform->stop(); });
  }
  return *st.platform;
}

void install(Context &ctx, Router &r)
{
  platform::Platform &p = platform_of(ctx);
  auto handler = [&p](const HttpRequest &req, HttpReply reply) { platform::dispatch(p, req, std::move(reply)); };
  r.mount("/v1", handler);
  r.mount("/api/v1", handler);  // the seed's other URL form, deprecated (dispatch.cpp)
  r.mount("/", handler);  // unknown paths get the seed's error envelope too
  platform::install_chat(p, r);
}

void metrics(const Context &ctx, std::string &out)
{
  if (const auto *st = ctx.find_profile_state<State>("platform"); st && st->platform) st->platform->metrics(out);
}

}  // namespace

// On its own port by default (its "/" takes every unknown path), like cc-control.
Profile platform_profile() { return {"platform", "001", 4000, false, install, metrics}; }

}  // namespace ccbridge::detail::server
