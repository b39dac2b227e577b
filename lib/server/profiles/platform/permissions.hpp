// The agent platform's permissions: the seed's `Permission` enum (15 strings, in its order) and
// the parsing of a configured list ("session:read,task:read" or "all").
// Thread safety: every function may be called from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::server::platform {

/// Every permission, exactly as the seed spells them, in its order.
const std::vector<std::string> &all_permissions();

/// Whether `s` is one of all_permissions().
bool known_permission(std::string_view s);

struct PermissionList {
  std::vector<std::string> permissions;  ///< known, each once, in the seed's order
  std::string error;                     ///< "" when parsed, else which entry is wrong
  bool ok() const { return error.empty(); }
};

/// A comma-separated list of permissions (spaces around entries ignored; an entry "all" means
/// every permission; "" is no permission). An unknown or empty entry is an error naming it.
PermissionList parse_permissions(std::string_view text);

}  // namespace ccbridge::detail::server::platform
