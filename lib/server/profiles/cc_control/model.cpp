// (cc/store: only the small helpers the storage pieces need, so this branch links; the lead's
// model.cpp, with the to_json functions, replaces this file.)
#include "server/profiles/cc_control/model.hpp"

#include <chrono>

namespace ccbridge::detail::server::cc_control {

std::int64_t now_ms()
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const char *to_string(TokenType t)
{
  switch (t) {
  case TokenType::admin: return "admin";
  case TokenType::tenant: return "tenant";
  case TokenType::ui: return "ui";
  case TokenType::agent: return "agent";
  }
  return "";
}

std::optional<TokenType> token_type_from(std::string_view s)
{
  for (TokenType t : {TokenType::admin, TokenType::tenant, TokenType::ui, TokenType::agent})
    if (s == to_string(t)) return t;
  return std::nullopt;
}

int role_rank(std::string_view role)
{
  if (role == "viewer") return 1;
  if (role == "operator") return 2;
  if (role == "owner") return 3;
  return 0;
}

}  // namespace ccbridge::detail::server::cc_control
