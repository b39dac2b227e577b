// The profile table: one line per profile. Each NAME names a function `Profile NAME_profile()`
// defined in the profile's own file under lib/server/profiles/.
#include "server/profile.hpp"

// clang-format off
#define CCB_SERVER_PROFILES(X) \
  X(opcode)                    \
  X(tasks_ui)                  \
  X(sdk_ws)                    \
  X(cc_control)                \
  X(platform)                  \
  X(hello)
// clang-format on

namespace ccbridge::detail::server {

#define CCB_DECLARE_PROFILE(NAME) Profile NAME##_profile();
CCB_SERVER_PROFILES(CCB_DECLARE_PROFILE)
#undef CCB_DECLARE_PROFILE

const std::vector<Profile> &profile_table()
{
#define CCB_PROFILE_ENTRY(NAME) NAME##_profile(),
  static const std::vector<Profile> table{CCB_SERVER_PROFILES(CCB_PROFILE_ENTRY)};
#undef CCB_PROFILE_ENTRY
  return table;
}

const Profile *find_profile(std::string_view name)
{
  for (const auto &p : profile_table())
    if (p.name == name) return &p;
  return nullptr;
}

std::string profile_names()
{
  std::string out;
  for (const auto &p : profile_table()) out += (out.empty() ? "" : ", ") + std::string(p.name);
  return out;
}

}  // namespace ccbridge::detail::server
