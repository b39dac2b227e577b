// Profile "platform" (seed 001): the agent platform's REST API under /v1 and its chat WebSocket,
// with users and tokens of its own (so mounted outside the gateway's token). See platform.hpp.
#include "server/profile.hpp"
#include "server/profiles/platform/rest.hpp"

namespace ccbridge::detail::server {
namespace {

void install(Context &ctx, Router &r)
{
  auto &p = profile_service<platform::Platform>(ctx, "platform");
  auto handler = [&p](const HttpRequest &req, HttpReply reply) { platform::dispatch(p, req, std::move(reply)); };
  r.mount("/v1", handler, platform::error_response);
  r.mount("/api/v1", handler, platform::error_response);  // the seed's other URL form, deprecated (dispatch.cpp)
  r.mount("/", handler, platform::error_response);        // unknown paths get the seed's error envelope too
  platform::install_chat(p, r);
}

void metrics(const Context &ctx, const HttpRequest &, std::string &out)
{
  if (const auto *p = find_profile_service<platform::Platform>(ctx, "platform")) p->metrics(out);
}

}  // namespace

// On its own port by default (its "/" takes every unknown path), like cc-control.
Profile platform_profile() { return {"platform", "001", 4000, false, install, metrics}; }

}  // namespace ccbridge::detail::server
