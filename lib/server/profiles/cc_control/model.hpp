// cc-control (seed 004): the records the control plane keeps — servers (agents), terminal
// sessions, approval events and tokens — with the JSON shapes of CC-CONTROL.md 3.5. Plain data:
// the state machine is in control.hpp, persistence in state_store.hpp, tokens in tokens.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ccbridge::detail::server::cc_control {

/// Unix time in milliseconds (the wire's ts_ms, created_at_ms, last_seen_ms).
std::int64_t now_ms();

struct ServerRecord {
  std::string tenant_id;
  std::string server_id;
  std::string hostname;
  std::vector<std::string> tags;  ///< serialised as null when empty (as the original does)
  std::string os, arch, agent_version;
  std::int64_t last_seen_ms = 0;
  std::string status = "online";  ///< "online" | "offline"
  std::vector<std::string> allow_roots;  ///< omitted when empty
  std::string claude_path;               ///< omitted when empty
  // Addition: its sessions that are live or orphaned (counted when listed).
  std::size_t active_sessions = 0;
};

/// starting -> running (first output) -> stopping -> exited | error. See CC-CONTROL.md 1.7.
/// `orphaned`: its agent has been gone longer than the grace (running again if it returns).
struct SessionRecord {
  std::string tenant_id;
  std::string session_id;
  std::string server_id;
  std::string cwd;
  std::vector<std::string> cmd;
  std::string resume_id;              ///< omitted when empty
  std::vector<std::string> env_keys;  ///< sorted request env keys, possibly []
  std::string status = "starting";
  std::string created_by;             ///< "ui:<token_id>"
  std::int64_t created_at_ms = 0;
  std::optional<int> exit_code;       ///< omitted when unknown
  std::string exit_reason;            ///< omitted when empty
  bool awaiting_approval = false;     ///< always present
  std::string pending_event_id;       ///< omitted when empty
  std::uint64_t latest_agent_out_seq = 0;

  bool active() const { return status == "starting" || status == "running" || status == "stopping"; }
};

/// An approval_needed event (the only kind the seed has). Resolution changes it in place.
struct EventRecord {
  std::string event_id;
  std::string session_id;
  std::string server_id;
  std::string tenant_id;
  std::string kind = "approval_needed";
  std::string prompt_excerpt;  ///< omitted when empty
  std::string actor;           ///< the resolver, "ui:<token_id>"; omitted when empty
  std::int64_t ts_ms = 0;
  bool resolved = false;
  // Additions (omitted when empty, so the original's clients see the same object):
  std::string source;      ///< "hook" (exact, from the CLI's PermissionRequest hook) or "screen"
  std::string tool_name;   ///< the tool asking, for hook events
  std::string tool_input;  ///< its input, raw JSON, for hook events
  std::string decision;    ///< "approve" | "reject" once resolved
};

enum class TokenType { admin, tenant, ui, agent };
const char *to_string(TokenType t);
std::optional<TokenType> token_type_from(std::string_view s);
/// viewer 1 < operator 2 < owner 3; anything else 0.
int role_rank(std::string_view role);

struct TokenRecord {
  std::string token_id;
  std::string token_hash;  ///< lower-case hex SHA-256 of the plaintext; never sent to clients
  std::string tenant_id;
  TokenType type = TokenType::ui;
  std::string role;  ///< only for ui tokens; "" otherwise
  std::int64_t created_at_ms = 0;
  bool revoked = false;
  std::string name;
};

// JSON objects exactly as the original writes them (field order, omitempty rules).
std::string to_json(const ServerRecord &s);
std::string to_json(const SessionRecord &s);
std::string to_json(const EventRecord &e);
/// The list form of a token (no hash, role and name omitted when empty).
std::string to_json(const TokenRecord &t);

}  // namespace ccbridge::detail::server::cc_control
