// The records' JSON exactly as the original (Go's encoding/json) writes them: struct field order,
// omitempty rules, and Go's string escaping (<, >, & as \u003c ...), so clients see the same bytes.
#include "server/profiles/cc_control/model.hpp"
#include "server/profiles/cc_control/wire.hpp"

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

std::string to_json(const ServerRecord &s)
{
  GoJson j;
  j.str("tenant_id", s.tenant_id).str("server_id", s.server_id).str("hostname", s.hostname);
  if (s.tags.empty()) j.raw("tags", "null");
  else j.strs("tags", s.tags);
  j.str("os", s.os).str("arch", s.arch).str("agent_version", s.agent_version);
  j.num("last_seen_ms", s.last_seen_ms).str("status", s.status);
  if (!s.allow_roots.empty()) j.strs("allow_roots", s.allow_roots);
  j.str_omit("claude_path", s.claude_path);
  j.num("active_sessions", static_cast<std::int64_t>(s.active_sessions));
  return j.done();
}

std::string to_json(const SessionRecord &s)
{
  GoJson j;
  j.str("tenant_id", s.tenant_id).str("session_id", s.session_id).str("server_id", s.server_id).str("cwd", s.cwd);
  j.strs("cmd", s.cmd).str_omit("resume_id", s.resume_id).strs("env_keys", s.env_keys).str("status", s.status);
  j.str("created_by", s.created_by).num("created_at_ms", s.created_at_ms);
  if (s.exit_code) j.num("exit_code", *s.exit_code);
  j.str_omit("exit_reason", s.exit_reason).boolean("awaiting_approval", s.awaiting_approval);
  j.str_omit("pending_event_id", s.pending_event_id);
  j.num("latest_agent_out_seq", static_cast<std::int64_t>(s.latest_agent_out_seq));
  return j.done();
}

std::string to_json(const EventRecord &e)
{
  GoJson j;
  j.str("event_id", e.event_id).str("session_id", e.session_id).str("server_id", e.server_id);
  j.str("tenant_id", e.tenant_id).str("kind", e.kind).str_omit("prompt_excerpt", e.prompt_excerpt);
  j.str_omit("actor", e.actor).num("ts_ms", e.ts_ms).boolean("resolved", e.resolved);
  j.str_omit("source", e.source).str_omit("tool_name", e.tool_name);
  if (!e.tool_input.empty()) j.raw("tool_input", e.tool_input);
  j.str_omit("decision", e.decision);
  return j.done();
}

std::string to_json(const TokenRecord &t)
{
  GoJson j;
  j.str("token_id", t.token_id).str("tenant_id", t.tenant_id).str("type", to_string(t.type));
  j.str_omit("role", t.role).num("created_at_ms", t.created_at_ms).boolean("revoked", t.revoked);
  j.str_omit("name", t.name);
  return j.done();
}

}  // namespace ccbridge::detail::server::cc_control
