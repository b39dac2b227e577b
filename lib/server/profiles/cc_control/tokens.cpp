#include "server/profiles/cc_control/tokens.hpp"

#include "server/context.hpp"
#include "server/sha256.hpp"
#include "server/sqlite.hpp"

#include <ccbridge/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ccbridge::detail::server::cc_control {

namespace {

// The original's schema, verbatim in substance (CC-CONTROL.md 2.2): its files open here unchanged.
constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS tokens (
  token_id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  type TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tokens_tenant ON tokens(tenant_id);
CREATE INDEX IF NOT EXISTS idx_tokens_hash ON tokens(token_hash);
)";

constexpr char kInsert[] = "INSERT INTO tokens(token_id, token_hash, tenant_id, type, role, created_at_ms, revoked, name) "
                           "VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kRevoke[] = "UPDATE tokens SET revoked=1 WHERE token_id=?";

bool valid_role(const std::string &role) { return role_rank(role) > 0; }

// Writes `text` to `path`, which only its owner may read or write (also if it existed before).
void write_secret_file(const std::string &path, const std::string &text)
{
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(errc::io_error, "cannot write " + path + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int saved = errno;
  ::close(fd);
  if (!ok) throw Error(errc::io_error, "cannot write " + path + ": " + std::strerror(saved));
}

}  // namespace

TokenStore::TokenStore() = default;

TokenStore::TokenStore(const std::string &db_path) : path_(db_path), db_(std::make_unique<Db>(db_path))
{
  db_->exec(kSchema);
  load();
}

TokenStore::~TokenStore() = default;

void TokenStore::load()
{
  Statement q(*db_, "SELECT token_id, token_hash, tenant_id, type, role, created_at_ms, revoked, name FROM tokens");
  while (q.step()) {
    auto type = token_type_from(q.text(3));
    if (!type) continue;  // (not a type this version knows: such a token authenticates nowhere)
    TokenRecord r;
    r.token_id = q.text(0);
    r.token_hash = q.text(1);
    r.tenant_id = q.text(2);
    r.type = *type;
    r.role = q.text(4);
    r.created_at_ms = q.int64(5);
    r.revoked = q.int64(6) != 0;
    r.name = q.text(7);
    remember_locked(r);
  }
}

IssuedToken TokenStore::make(TokenType type, const std::string &tenant_id, const std::string &role,
                             const std::string &name) const
{
  IssuedToken t;
  t.plaintext = Context::new_secret();
  t.record.token_id = Context::new_id();
  t.record.token_hash = sha256_hex(t.plaintext);
  t.record.tenant_id = tenant_id;
  t.record.type = type;
  t.record.role = type == TokenType::ui ? role : "";
  t.record.created_at_ms = now_ms();
  t.record.name = name;
  return t;
}

void TokenStore::insert_locked(const TokenRecord &r)
{
  if (db_) {
    Statement q(*db_, kInsert);
    q.bind(1, r.token_id).bind(2, r.token_hash).bind(3, r.tenant_id).bind(4, to_string(r.type)).bind(5, r.role);
    q.bind(6, r.created_at_ms).bind(7, std::int64_t{r.revoked ? 1 : 0}).bind(8, r.name);
    q.run();
  }
}

void TokenStore::remember_locked(const TokenRecord &r)
{
  hash_of_id_[r.token_id] = r.token_hash;
  by_hash_[r.token_hash] = r;
}

IssuedToken TokenStore::create(TokenType type, const std::string &tenant_id, const std::string &role,
                               const std::string &name)
{
  if (type == TokenType::admin) throw Error(errc::invalid_argument, "invalid token type");
  if (type == TokenType::ui && !valid_role(role)) throw Error(errc::invalid_argument, "invalid role");
  IssuedToken t = make(type, tenant_id.empty() ? Context::new_id() : tenant_id, role, name);
  std::lock_guard<std::mutex> lock(mu_);
  insert_locked(t.record);
  remember_locked(t.record);
  return t;
}

const TokenRecord *TokenStore::find_locked(std::string_view plaintext) const
{
  std::string hash = sha256_hex(plaintext);
  auto it = by_hash_.find(hash);
  // The map finds the candidate by hash; the final check compares in constant time.
  if (it == by_hash_.end() || !secret_equal(it->second.token_hash, hash)) return nullptr;
  return &it->second;
}

std::optional<TokenRecord> TokenStore::lookup(std::string_view plaintext) const
{
  std::lock_guard<std::mutex> lock(mu_);
  const TokenRecord *r = find_locked(plaintext);
  return r ? std::optional<TokenRecord>(*r) : std::nullopt;
}

std::optional<TokenRecord> TokenStore::authenticate(std::string_view plaintext, TokenType type) const
{
  auto r = lookup(plaintext);
  if (!r || r->revoked || r->type != type) return std::nullopt;
  return r;
}

bool TokenStore::revoke(const std::string &token_id)
{
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto id = hash_of_id_.find(token_id);
    if (id == hash_of_id_.end()) return false;
    TokenRecord &r = by_hash_.at(id->second);
    if (r.revoked) return true;
    if (db_) Statement(*db_, kRevoke).bind(1, token_id).run();
    r.revoked = true;
  }
  notify({token_id});
  return true;
}

std::vector<TokenRecord> TokenStore::list(const std::string &tenant_id) const
{
  std::vector<TokenRecord> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto &[hash, r] : by_hash_)
      if (tenant_id.empty() || r.tenant_id == tenant_id) out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const TokenRecord &a, const TokenRecord &b) {
    return std::tie(a.created_at_ms, a.token_id) < std::tie(b.created_at_ms, b.token_id);
  });
  return out;
}

SeedResult TokenStore::seed(const std::string &plaintext, TokenType type, const std::string &tenant_id,
                            const std::string &role, const std::string &name)
{
  if (plaintext.empty()) throw Error(errc::invalid_argument, "a seeded token must not be empty");
  std::lock_guard<std::mutex> lock(mu_);
  if (const TokenRecord *existing = find_locked(plaintext)) return {*existing, false};
  TokenRecord r = make(type, tenant_id, role, name).record;
  r.token_hash = sha256_hex(plaintext);
  insert_locked(r);
  remember_locked(r);
  return {r, true};
}

Rotation TokenStore::rotate_tenant(const std::string &tenant_id, const std::string &ui_role,
                                   const std::string &ui_name, const std::string &agent_name)
{
  const std::string role = ui_role.empty() ? "owner" : ui_role;
  if (tenant_id.empty()) throw Error(errc::invalid_argument, "tenant id required");
  if (!valid_role(role)) throw Error(errc::invalid_argument, "invalid role");
  Rotation out{{}, make(TokenType::ui, tenant_id, role, ui_name), make(TokenType::agent, tenant_id, "", agent_name)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto &[hash, r] : by_hash_)
      if (r.tenant_id == tenant_id && !r.revoked && (r.type == TokenType::ui || r.type == TokenType::agent))
        out.revoked_ids.push_back(r.token_id);
    std::optional<Transaction> tx;
    if (db_) tx.emplace(*db_);
    for (const auto &id : out.revoked_ids)
      if (db_) Statement(*db_, kRevoke).bind(1, id).run();
    insert_locked(out.ui.record);
    insert_locked(out.agent.record);
    if (tx) tx->commit();
    // Only now, with everything on disk, does memory change.
    for (const auto &id : out.revoked_ids) by_hash_.at(hash_of_id_.at(id)).revoked = true;
    remember_locked(out.ui.record);
    remember_locked(out.agent.record);
  }
  notify(out.revoked_ids);
  return out;
}

std::optional<AdminBootstrap> TokenStore::bootstrap_admin(const std::string &configured, const std::string &file)
{
  if (!configured.empty()) {
    seed(configured, TokenType::admin, "", "", "admin");
    return std::nullopt;
  }
  for (const auto &r : list())
    if (r.type == TokenType::admin && !r.revoked) return std::nullopt;
  IssuedToken t = make(TokenType::admin, "", "", "admin");
  {
    std::lock_guard<std::mutex> lock(mu_);
    insert_locked(t.record);
    remember_locked(t.record);
  }
  AdminBootstrap out{t.plaintext, file.empty() && db_ ? path_ + ".admin-token" : file};
  try {
    if (!out.file.empty()) write_secret_file(out.file, t.plaintext + "\n");
  } catch (...) {
    revoke(t.record.token_id);  // (nobody has seen it: do not leave a live admin token behind)
    throw;
  }
  return out;
}

void TokenStore::set_revoke_listener(RevokeListener listener)
{
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

void TokenStore::notify(const std::vector<std::string> &ids)
{
  if (ids.empty()) return;
  RevokeListener l;
  {
    std::lock_guard<std::mutex> lock(listener_mu_);
    l = listener_;
  }
  if (l) l(ids);
}

}  // namespace ccbridge::detail::server::cc_control
