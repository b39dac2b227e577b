// cc-control: the token store (CC-CONTROL.md 2). Tokens are 32 bytes from the OS's CSPRNG as 64
// lower-case hex digits, shown once; the store keeps only their unsalted SHA-256 (hex), in memory
// and, with a database path, also in SQLite with exactly the original's `tokens` table, so an
// existing -token-db file is reused. Every change is written to SQLite first (one transaction) and
// then to memory, so the two never disagree; a failed write throws Error(io_error) and changes
// nothing. There are no well-known default tokens: bootstrap_admin() makes a fresh one.
//
// Thread safety: every member may be called from any thread. The revoke listener runs on the
// thread that revoked, after the change, with no lock held.
#pragma once

#include "server/profiles/cc_control/model.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ccbridge::detail::server {
class Db;
}

namespace ccbridge::detail::server::cc_control {

struct IssuedToken {
  std::string plaintext;  ///< the only time it exists outside the client: show once, never log
  TokenRecord record;
};

struct SeedResult {
  TokenRecord record;
  bool created = false;  ///< false: a token with that hash existed and was kept unchanged
};

/// POST /tenant/tokens: what was revoked and the two new tokens.
struct Rotation {
  std::vector<std::string> revoked_ids;  ///< revoked_count is its size; close their sockets
  IssuedToken ui;
  IssuedToken agent;
};

struct AdminBootstrap {
  std::string plaintext;  ///< print it once
  std::string file;       ///< where it was written (mode 0600), "" for an in-memory store
};

class TokenStore {
public:
  using RevokeListener = std::function<void(const std::vector<std::string> &token_ids)>;

  /// Tokens in memory only (lost at exit).
  TokenStore();
  /// Tokens in the SQLite file `db_path` (created with the original's schema if missing, parent
  /// directory 0755); every row is loaded. Throws Error(io_error) if it cannot be opened.
  explicit TokenStore(const std::string &db_path);
  ~TokenStore();

  /// POST /admin/tokens. An empty tenant_id makes a new tenant (UUID v4). `role` is required and
  /// checked for ui tokens and forced to "" for the others. Throws Error(invalid_argument) with
  /// detail "invalid token type" (admin) or "invalid role", the original's texts; Error(io_error).
  IssuedToken create(TokenType type, const std::string &tenant_id, const std::string &role,
                     const std::string &name);
  /// The record of a presented token, revoked or not; nullopt if unknown.
  std::optional<TokenRecord> lookup(std::string_view plaintext) const;
  /// The record if the token exists, is not revoked and has type `type`.
  std::optional<TokenRecord> authenticate(std::string_view plaintext, TokenType type) const;
  /// False if no such token; true if it is now revoked (also when it already was). Rows are
  /// never deleted. The listener hears only tokens this call revoked.
  bool revoke(const std::string &token_id);
  /// Every token (admin and revoked ones too), oldest first; "" lists all tenants.
  std::vector<TokenRecord> list(const std::string &tenant_id = "") const;
  /// Startup seeding (CC-CONTROL.md 2.3): if a token with this plaintext's hash exists it is kept
  /// unchanged (tenant, role, revoked flag), else it is added. Throws on an empty plaintext.
  SeedResult seed(const std::string &plaintext, TokenType type, const std::string &tenant_id,
                  const std::string &role, const std::string &name);
  /// POST /tenant/tokens, atomically: revokes the tenant's live ui and agent tokens and creates
  /// one ui token (role "" means owner) and one agent token, all or nothing. Throws
  /// Error(invalid_argument) "invalid role" or "tenant id required"; Error(io_error).
  Rotation rotate_tenant(const std::string &tenant_id, const std::string &ui_role, const std::string &ui_name,
                         const std::string &agent_name);
  /// At startup. A configured admin token is seeded (name "admin") and nullopt returned. With none
  /// configured and no live admin token stored, a fresh one is made, written with a newline to
  /// `file` (default: "<db_path>.admin-token"; none for an in-memory store) with mode 0600, and
  /// returned for the caller to print once. Throws Error(io_error) if the file cannot be written
  /// (the new token is then revoked).
  std::optional<AdminBootstrap> bootstrap_admin(const std::string &configured, const std::string &file = "");
  /// Called with the ids of tokens as they are revoked (revoke, rotate_tenant). Replaces any
  /// previous listener; pass nullptr to remove it.
  void set_revoke_listener(RevokeListener listener);
  /// "" for an in-memory store.
  const std::string &db_path() const { return path_; }

private:
  IssuedToken make(TokenType type, const std::string &tenant_id, const std::string &role,
                   const std::string &name) const;
  void load();
  void insert_locked(const TokenRecord &r);
  void remember_locked(const TokenRecord &r);
  const TokenRecord *find_locked(std::string_view plaintext) const;
  void notify(const std::vector<std::string> &ids);

  std::string path_;
  std::unique_ptr<Db> db_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, TokenRecord> by_hash_;
  std::unordered_map<std::string, std::string> hash_of_id_;
  std::mutex listener_mu_;
  RevokeListener listener_;
};

}  // namespace ccbridge::detail::server::cc_control
