// cc-control's token store (lib/server/profiles/cc_control/tokens.*) and its SQLite layer.
#include "temp_dir.hpp"

#include "server/sha256.hpp"
#include "server/sqlite.hpp"
#include "server/profiles/cc_control/tokens.hpp"

#include <ccbridge/error.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

using namespace ccbridge;
using namespace ccbridge::detail::server;
using namespace ccbridge::detail::server::cc_control;

namespace {

bool is_lower_hex(const std::string &s)
{
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_uuid_v4(const std::string &s)
{
  if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' || s[14] != '4') return false;
  std::string hex = s;
  hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
  return hex.size() == 32 && is_lower_hex(hex);
}

// The Error's detail, or "" if `f` did not throw one; the code must be `code`.
std::string error_of(const std::function<void()> &f, errc code)
{
  try {
    f();
  } catch (const Error &e) {
    CHECK(e.code() == code);
    return e.detail();
  }
  return "";
}

std::vector<std::string> ids(const std::vector<TokenRecord> &records)
{
  std::vector<std::string> out;
  for (const auto &r : records) out.push_back(r.token_id);
  return out;
}

int file_mode(const std::string &path)
{
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 0777);
}

std::string read_all(const std::string &path)
{
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("cc-control tokens: sha256_hex is lower-case hex SHA-256 (FIPS 180-2 vectors)")
{
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("cc-control tokens: a new token is 64 lower-case hex digits, stored as its SHA-256, with UUID ids")
{
  TokenStore store;
  IssuedToken a = store.create(TokenType::ui, "", "owner", "laptop");
  IssuedToken b = store.create(TokenType::agent, a.record.tenant_id, "", "");
  CHECK(a.plaintext.size() == 64);
  CHECK(is_lower_hex(a.plaintext));
  CHECK(a.plaintext != b.plaintext);
  CHECK(a.record.token_hash == sha256_hex(a.plaintext));
  CHECK(is_uuid_v4(a.record.token_id));
  CHECK(is_uuid_v4(a.record.tenant_id));  // an empty tenant makes a new one
  CHECK(b.record.tenant_id == a.record.tenant_id);
  CHECK(a.record.role == "owner");
  CHECK(a.record.name == "laptop");
  CHECK(a.record.created_at_ms > 0);
  CHECK_FALSE(a.record.revoked);
}

TEST_CASE("cc-control tokens: roles only for ui tokens, required there, admin tokens are not created by the API")
{
  TokenStore store;
  CHECK(store.create(TokenType::agent, "t", "owner", "").record.role.empty());
  CHECK(store.create(TokenType::tenant, "t", "viewer", "").record.role.empty());
  CHECK(store.create(TokenType::ui, "t", "viewer", "").record.role == "viewer");
  CHECK(error_of([&] { store.create(TokenType::admin, "", "", ""); }, errc::invalid_argument) == "invalid token type");
  CHECK(error_of([&] { store.create(TokenType::ui, "t", "", ""); }, errc::invalid_argument) == "invalid role");
  CHECK(error_of([&] { store.create(TokenType::ui, "t", "boss", ""); }, errc::invalid_argument) == "invalid role");
  CHECK(store.list().size() == 3);
}

TEST_CASE("cc-control tokens: lookup, authenticate by type, revoke (idempotent) and list by tenant")
{
  TokenStore store;
  IssuedToken ui = store.create(TokenType::ui, "t1", "operator", "");
  IssuedToken agent = store.create(TokenType::agent, "t2", "", "");
  CHECK(store.lookup(ui.plaintext)->token_id == ui.record.token_id);
  CHECK_FALSE(store.lookup("0000"));
  CHECK_FALSE(store.lookup(ui.plaintext.substr(1)));
  CHECK(store.authenticate(ui.plaintext, TokenType::ui));
  CHECK_FALSE(store.authenticate(ui.plaintext, TokenType::agent));

  CHECK(store.revoke(ui.record.token_id));
  CHECK_FALSE(store.authenticate(ui.plaintext, TokenType::ui));
  CHECK(store.lookup(ui.plaintext)->revoked);  // the record is kept
  CHECK(store.revoke(ui.record.token_id));     // already revoked: still success
  CHECK_FALSE(store.revoke("no-such-id"));
  CHECK(store.authenticate(agent.plaintext, TokenType::agent));

  CHECK(ids(store.list("t1")) == std::vector<std::string>{ui.record.token_id});
  CHECK(ids(store.list("t2")) == std::vector<std::string>{agent.record.token_id});
  CHECK(store.list().size() == 2);
  CHECK(store.list("t3").empty());
}

TEST_CASE("cc-control tokens: seeding keeps an existing token unchanged, revoked flag and tenant included")
{
  TokenStore store;
  SeedResult first = store.seed("legacy-ui", TokenType::ui, "tenant-a", "owner", "legacy-ui");
  CHECK(first.created);
  CHECK(first.record.token_hash == sha256_hex("legacy-ui"));
  CHECK(store.authenticate("legacy-ui", TokenType::ui)->tenant_id == "tenant-a");
  store.revoke(first.record.token_id);

  SeedResult again = store.seed("legacy-ui", TokenType::agent, "tenant-b", "", "other");
  CHECK_FALSE(again.created);
  CHECK(again.record.token_id == first.record.token_id);
  CHECK(again.record.tenant_id == "tenant-a");
  CHECK(again.record.type == TokenType::ui);
  CHECK(again.record.revoked);
  CHECK(store.list().size() == 1);
  CHECK(error_of([&] { store.seed("", TokenType::admin, "", "", "admin"); }, errc::invalid_argument) != "");
}

TEST_CASE("cc-control tokens: tenant rotation revokes the tenant's live ui and agent tokens and issues two new ones")
{
  TokenStore store;
  IssuedToken tenant = store.create(TokenType::tenant, "T", "", "");
  IssuedToken ui1 = store.create(TokenType::ui, "T", "viewer", "");
  IssuedToken ui2 = store.create(TokenType::ui, "T", "owner", "");
  IssuedToken agent = store.create(TokenType::agent, "T", "", "");
  IssuedToken other = store.create(TokenType::ui, "U", "owner", "");
  store.revoke(ui2.record.token_id);
  std::vector<std::vector<std::string>> heard;
  store.set_revoke_listener([&](const std::vector<std::string> &v) { heard.push_back(v); });

  Rotation r = store.rotate_tenant("T", "", "new-ui", "new-agent");
  std::vector<std::string> expected{ui1.record.token_id, agent.record.token_id};
  std::sort(r.revoked_ids.begin(), r.revoked_ids.end());
  std::sort(expected.begin(), expected.end());
  CHECK(r.revoked_ids == expected);
  REQUIRE(heard.size() == 1);
  CHECK(heard[0].size() == 2);
  CHECK(r.ui.record.role == "owner");
  CHECK(r.ui.record.name == "new-ui");
  CHECK(r.agent.record.name == "new-agent");
  CHECK(r.ui.record.tenant_id == "T");
  CHECK(store.authenticate(r.ui.plaintext, TokenType::ui));
  CHECK(store.authenticate(r.agent.plaintext, TokenType::agent));
  CHECK_FALSE(store.authenticate(ui1.plaintext, TokenType::ui));
  CHECK_FALSE(store.authenticate(agent.plaintext, TokenType::agent));
  CHECK(store.authenticate(tenant.plaintext, TokenType::tenant));  // the tenant token stays
  CHECK(store.authenticate(other.plaintext, TokenType::ui));       // other tenants are untouched

  CHECK(error_of([&] { store.rotate_tenant("T", "boss", "", ""); }, errc::invalid_argument) == "invalid role");
  CHECK(error_of([&] { store.rotate_tenant("", "owner", "", ""); }, errc::invalid_argument) == "tenant id required");
  CHECK(store.authenticate(r.ui.plaintext, TokenType::ui));  // a refused rotation changes nothing
  CHECK(heard.size() == 1);
}

TEST_CASE("cc-control tokens: the revoke listener hears each newly revoked token once")
{
  TokenStore store;
  IssuedToken t = store.create(TokenType::agent, "T", "", "");
  std::vector<std::string> heard;
  store.set_revoke_listener([&](const std::vector<std::string> &v) { heard.insert(heard.end(), v.begin(), v.end()); });
  store.revoke(t.record.token_id);
  store.revoke(t.record.token_id);
  store.revoke("unknown");
  CHECK(heard == std::vector<std::string>{t.record.token_id});
}

TEST_CASE("cc-control tokens: a SQLite store keeps its tokens across a re-open")
{
  TempDir dir;
  std::string path = dir / "db/tokens.db";
  IssuedToken ui, agent;
  {
    TokenStore store(path);
    CHECK(store.db_path() == path);
    ui = store.create(TokenType::ui, "", "viewer", "phone");
    agent = store.create(TokenType::agent, ui.record.tenant_id, "", "box");
    store.revoke(agent.record.token_id);
    store.seed("seeded", TokenType::admin, "", "", "admin");
  }
  TokenStore store(path);
  auto back = store.authenticate(ui.plaintext, TokenType::ui);
  REQUIRE(back);
  CHECK(back->token_id == ui.record.token_id);
  CHECK(back->tenant_id == ui.record.tenant_id);
  CHECK(back->role == "viewer");
  CHECK(back->name == "phone");
  CHECK(back->created_at_ms == ui.record.created_at_ms);
  CHECK(store.lookup(agent.plaintext)->revoked);
  CHECK(store.authenticate("seeded", TokenType::admin));
  CHECK(store.list().size() == 3);
}

TEST_CASE("cc-control tokens: a token file made with the original's schema is read and extended")
{
  TempDir dir;
  std::string path = dir / "orig.db";
  {
    Db db(path);
    db.exec("CREATE TABLE tokens(token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL,"
            " type TEXT NOT NULL, role TEXT NOT NULL, created_at_ms INTEGER NOT NULL, revoked INTEGER NOT NULL,"
            " name TEXT NOT NULL);"
            "CREATE INDEX idx_tokens_tenant ON tokens(tenant_id); CREATE INDEX idx_tokens_hash ON tokens(token_hash);");
    db.exec("INSERT INTO tokens VALUES('id-1', '" + sha256_hex("go-ui-token") +
            "', 'tenant-go', 'ui', 'operator', 1700000000000, 0, 'legacy-ui');"
            "INSERT INTO tokens VALUES('id-2', '" + sha256_hex("go-old") + "', 'tenant-go', 'agent', '', 1, 1, '');");
  }
  TokenStore store(path);
  auto ui = store.authenticate("go-ui-token", TokenType::ui);
  REQUIRE(ui);
  CHECK(ui->token_id == "id-1");
  CHECK(ui->tenant_id == "tenant-go");
  CHECK(ui->role == "operator");
  CHECK(ui->created_at_ms == 1700000000000);
  CHECK(store.lookup("go-old")->revoked);
  IssuedToken added = store.create(TokenType::agent, "tenant-go", "", "");
  CHECK(TokenStore(path).authenticate(added.plaintext, TokenType::agent));
}

TEST_CASE("cc-control tokens: a failed rotation in SQLite changes nothing, on disk or in memory")
{
  TempDir dir;
  std::string path = dir / "tokens.db";
  TokenStore store(path);
  IssuedToken ui = store.create(TokenType::ui, "T", "owner", "");
  {
    Db raw(path);  // the new agent token's insert fails, after the revoke and the ui insert
    raw.exec("CREATE TRIGGER no_agents BEFORE INSERT ON tokens WHEN NEW.type = 'agent' "
             "BEGIN SELECT RAISE(ABORT, 'agents refused'); END;");
  }
  std::string err = error_of([&] { store.rotate_tenant("T", "owner", "", ""); }, errc::io_error);
  CHECK(err.find("agents refused") != std::string::npos);
  CHECK(err.find(path) != std::string::npos);
  CHECK(store.authenticate(ui.plaintext, TokenType::ui));
  CHECK(store.list().size() == 1);
  TokenStore reopened(path);
  CHECK(reopened.authenticate(ui.plaintext, TokenType::ui));
  CHECK(reopened.list().size() == 1);
}

TEST_CASE("cc-control tokens: bootstrap makes one fresh admin token, writes it 0600 next to the db, and only once")
{
  TempDir dir;
  std::string path = dir / "tokens.db";
  std::string token;
  {
    TokenStore store(path);
    auto boot = store.bootstrap_admin("");
    REQUIRE(boot);
    token = boot->plaintext;
    CHECK(boot->file == path + ".admin-token");
    CHECK(read_all(boot->file) == token + "\n");
    CHECK(file_mode(boot->file) == 0600);
    CHECK(token.size() == 64);
    CHECK(store.authenticate(token, TokenType::admin));
    CHECK_FALSE(store.bootstrap_admin(""));
  }
  TokenStore store(path);
  CHECK_FALSE(store.bootstrap_admin(""));  // a live admin token is stored
  CHECK(store.authenticate(token, TokenType::admin));
}

TEST_CASE("cc-control tokens: bootstrap seeds a configured admin token, and makes none of its own")
{
  TokenStore store;
  CHECK_FALSE(store.bootstrap_admin("configured-admin"));
  auto admin = store.authenticate("configured-admin", TokenType::admin);
  REQUIRE(admin);
  CHECK(admin->name == "admin");
  CHECK(admin->tenant_id.empty());
  CHECK(store.list().size() == 1);
}

TEST_CASE("cc-control tokens: bootstrap in memory returns the token only, and a revoked admin does not count")
{
  TokenStore store;
  auto first = store.bootstrap_admin("");
  REQUIRE(first);
  CHECK(first->file.empty());
  store.revoke(store.authenticate(first->plaintext, TokenType::admin)->token_id);
  auto second = store.bootstrap_admin("");
  REQUIRE(second);
  CHECK(second->plaintext != first->plaintext);
}

TEST_CASE("cc-control tokens: bootstrap that cannot write its file throws and leaves no live admin token")
{
  TempDir dir;
  TokenStore store(dir / "tokens.db");
  CHECK(error_of([&] { store.bootstrap_admin("", dir / "missing/admin-token"); }, errc::io_error).find("missing") !=
        std::string::npos);
  auto all = store.list();
  REQUIRE(all.size() == 1);
  CHECK(all[0].revoked);
}

TEST_CASE("cc-control sqlite: the parent directory is made 0755 and the original's pragmas are set")
{
  TempDir dir;
  mode_t mask = ::umask(022);
  Db db(dir / "a/b/c.db");
  ::umask(mask);
  CHECK(file_mode(dir / "a") == 0755);
  CHECK(file_mode(dir / "a/b") == 0755);
  auto pragma = [&](const char *name) {
    Statement q(db, std::string("PRAGMA ") + name);
    REQUIRE(q.step());
    return q.text(0);
  };
  CHECK(pragma("journal_mode") == "wal");
  CHECK(pragma("synchronous") == "1");  // NORMAL
  CHECK(pragma("foreign_keys") == "1");
  CHECK(pragma("busy_timeout") == "5000");
}

TEST_CASE("cc-control sqlite: errors carry SQLite's message and the file, and a transaction rolls back unless committed")
{
  TempDir dir;
  std::string path = dir / "x.db";
  Db db(path);
  std::string err = error_of([&] { Statement(db, "SELEC 1"); }, errc::io_error);
  CHECK(err.find("syntax error") != std::string::npos);
  CHECK(err.find(path) != std::string::npos);
  CHECK(error_of([&] { Db(dir.path()); }, errc::io_error).find(dir.path()) != std::string::npos);

  db.exec("CREATE TABLE t(v BLOB)");
  {
    Transaction tx(db);
    Statement(db, "INSERT INTO t VALUES(?)").bind_blob(1, std::string("a\0b", 3)).run();
  }
  Statement count(db, "SELECT count(*) FROM t");
  REQUIRE(count.step());
  CHECK(count.int64(0) == 0);
  {
    Transaction tx(db);
    Statement(db, "INSERT INTO t VALUES(?)").bind_blob(1, std::string("a\0b", 3)).run();
    tx.commit();
  }
  Statement q(db, "SELECT v FROM t");
  REQUIRE(q.step());
  CHECK(q.blob(0) == std::string("a\0b", 3));
  CHECK_FALSE(q.step());
}

TEST_CASE("cc-control tokens: concurrent create, lookup, revoke and list on one SQLite store")
{
  TempDir dir;
  TokenStore store(dir / "tokens.db");
  std::atomic<int> heard{0};
  store.set_revoke_listener([&](const std::vector<std::string> &v) { heard += static_cast<int>(v.size()); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 25; ++i) {
        IssuedToken tok = store.create(TokenType::agent, "T" + std::to_string(t), "", "");
        CHECK(store.authenticate(tok.plaintext, TokenType::agent));
        if (i % 2 == 0) CHECK(store.revoke(tok.record.token_id));
        CHECK(store.list("T" + std::to_string(t)).size() == static_cast<std::size_t>(i + 1));
      }
    });
  for (auto &th : threads) th.join();
  CHECK(heard == 4 * 13);
  TokenStore reopened(dir / "tokens.db");
  CHECK(reopened.list().size() == 100);
}
