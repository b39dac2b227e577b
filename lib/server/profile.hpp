// A profile: one server protocol served by the gateway (seed 000's OpCode API, seed 002's tasks-ui
// WebSocket, ...). Each lives in its own file under lib/server/profiles/ and describes itself with
// one Profile; profiles/table.cpp lists them. See docs/ARCHITECTURE.md, "How to add a profile".
#pragma once

#include "server/context.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::server {

struct Profile {
  std::string_view name;       ///< as listed in ServerConfig::Listener::profiles and --profiles
  std::string_view seed;       ///< the protocol document it serves ("000" ... "004"), "" for none
  std::uint16_t default_port;  ///< `ccbridge serve`'s port for it; profiles with one port share a listener
  bool by_default;             ///< served when a listener names no profiles
  /// Registers the profile's routes on a listener's router. Called once per listener that serves
  /// it; state shared by those listeners goes in Context::profile_state().
  void (*install)(Context &ctx, Router &router);
  /// Appends the profile's own Prometheus lines to /metrics (optional). `req` is the /metrics
  /// request: a profile with credentials of its own may show some series only to its admins.
  void (*metrics)(const Context &ctx, const HttpRequest &req, std::string &out) = nullptr;
};

/// A profile's service object (cc-control's Control, the platform's Platform): one per server,
/// shared by every listener that serves the profile, made and start()ed on first use (start may
/// throw: the server then does not start), stop()ped when the server stops.
template <class T> struct ProfileService {
  std::unique_ptr<T> service;
};
template <class T> T &profile_service(Context &ctx, std::string_view name)
{
  auto &holder = ctx.profile_state<ProfileService<T>>(name);
  if (!holder.service) {
    holder.service = std::make_unique<T>(ctx);
    holder.service->start();
    ctx.on_stop.push_back([&holder] { holder.service->stop(); });
  }
  return *holder.service;
}
/// The profile's service if it has been made, else null (for metrics).
template <class T> const T *find_profile_service(const Context &ctx, std::string_view name)
{
  const auto *holder = ctx.find_profile_state<ProfileService<T>>(name);
  return holder ? holder->service.get() : nullptr;
}

/// Every profile, in the order their routes are registered on a listener that serves several.
const std::vector<Profile> &profile_table();
/// The profile called `name`, or null.
const Profile *find_profile(std::string_view name);
/// "opcode, tasks-ui, ...": the known names, for error messages and --help.
std::string profile_names();

}  // namespace ccbridge::detail::server
