#include "server/profiles/platform/permissions.hpp"

#include "server/context.hpp"

#include <algorithm>

namespace ccbridge::detail::server::platform {

namespace {

std::string_view trim(std::string_view s)
{
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

const std::vector<std::string> &all_permissions()
{
  static const std::vector<std::string> kAll = {
      "session:read", "session:create", "session:delete",  "task:submit",      "task:read",
      "task:cancel",  "agent:read",     "agent:create",    "agent:configure",  "tool:read",
      "tool:execute", "config:read",    "config:write",    "admin:monitoring", "admin:users",
  };
  return kAll;
}

bool known_permission(std::string_view s)
{
  const auto &all = all_permissions();
  return std::find(all.begin(), all.end(), s) != all.end();
}

PermissionList parse_permissions(std::string_view text)
{
  PermissionList out;
  if (trim(text).empty()) return out;
  std::vector<bool> wanted(all_permissions().size(), false);
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t comma = std::min(text.find(',', start), text.size());
    std::string_view entry = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (entry == "all") {
      wanted.assign(wanted.size(), true);
      continue;
    }
    const auto &all = all_permissions();
    auto it = std::find(all.begin(), all.end(), entry);
    if (it == all.end()) {
      out.error = entry.empty() ? "empty permission in the list" : "unknown permission " + quoted(entry);
      return out;
    }
    wanted[static_cast<std::size_t>(it - all.begin())] = true;
  }
  for (std::size_t i = 0; i < wanted.size(); ++i)
    if (wanted[i]) out.permissions.push_back(all_permissions()[i]);
  return out;
}

}  // namespace ccbridge::detail::server::platform
