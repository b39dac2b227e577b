// The agent platform's SQLite store (lib/server/profiles/platform/store.*): migrations and the
// schema version, users, refresh-token rotation and revocation, pruning, and the session and task
// lists' filters, sorting and pages.
#include "temp_dir.hpp"

#include "server/sqlite.hpp"
#include "server/profiles/platform/store.hpp"

#include <ccbridge/error.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ccbridge;
using namespace ccbridge::detail::server;
using namespace ccbridge::detail::server::platform;

namespace {

int user_version(const std::string &path)
{
  Db db(path);
  Statement q(db, "PRAGMA user_version");
  REQUIRE(q.step());
  return static_cast<int>(q.int64(0));
}

UserRow user(const std::string &id, const std::string &email)
{
  UserRow u;
  u.id = id;
  u.email = email;
  u.name = "N " + id;
  u.password_hash = "scrypt$x";
  u.permissions = {"session:read", "task:submit"};
  u.created_at = "2026-01-01T00:00:00.000Z";
  return u;
}

RefreshRow refresh_row(const std::string &hash, const std::string &family, const std::string &jti, std::int64_t exp)
{
  RefreshRow r;
  r.hash = hash;
  r.user_id = "user_1";
  r.family = family;
  r.expires_at = exp;
  r.access_jti = jti;
  r.access_exp = exp;
  return r;
}

SessionRow session(const std::string &id, const std::string &user, const std::string &name, const std::string &status,
                   const std::string &agent, const std::string &created)
{
  return SessionRow{id, user, name, status, agent, created, created, "{\"id\":\"" + id + "\"}"};
}

TaskRow task(const std::string &id, const std::string &session, int priority, const std::string &created,
             const std::string &updated, const std::string &status = "completed")
{
  TaskRow t{id, session, "user_1", status, "chat", created, updated, priority, "{}"};
  return t;
}

std::vector<std::string> ids_of(const std::vector<SessionRow> &rows)
{
  std::vector<std::string> out;
  for (const auto &r : rows) out.push_back(r.id);
  return out;
}

std::vector<std::string> ids_of(const std::vector<TaskRow> &rows)
{
  std::vector<std::string> out;
  for (const auto &r : rows) out.push_back(r.id);
  return out;
}

std::vector<std::string> session_ids(Store &s, SessionFilter f)
{
  f.user_id = "user_1";
  return ids_of(s.sessions(f).rows);
}

}  // namespace

TEST_CASE("platform store: the migrations run once, set user_version, and a re-open keeps the data")
{
  TempDir dir;
  const std::string path = dir / "p.db";
  REQUIRE(store_schema_version() >= 1);
  {
    auto s = open_sqlite_store(path);
    s->add_user(user("user_1", "a@example.com"));
    s->set_meta("jwt-key", "k1");
  }
  CHECK(user_version(path) == store_schema_version());
  // A second open finds the schema in place: re-running a migration would fail on its CREATE TABLE.
  auto s = open_sqlite_store(path);
  CHECK(user_version(path) == store_schema_version());
  REQUIRE(s->user_by_id("user_1"));
  CHECK(s->user_by_id("user_1")->email == "a@example.com");
  CHECK(s->meta("jwt-key") == std::optional<std::string>("k1"));
}

TEST_CASE("platform store: a file from a newer schema is refused with a clear error, and left as it was")
{
  TempDir dir;
  const std::string path = dir / "p.db";
  { open_sqlite_store(path)->add_user(user("user_1", "a@example.com")); }
  const int newer = store_schema_version() + 1;
  {
    Db db(path);
    db.exec("PRAGMA user_version=" + std::to_string(newer));
  }
  try {
    open_sqlite_store(path);
    FAIL("a newer schema was opened");
  } catch (const Error &e) {
    CHECK(e.code() == errc::io_error);
    std::string what = e.what();
    CHECK(what.find(path) != std::string::npos);
    CHECK(what.find("schema version " + std::to_string(newer)) != std::string::npos);
    CHECK(what.find("newer") != std::string::npos);
  }
  CHECK(user_version(path) == newer);
}

TEST_CASE("platform store: users by id and email, and an email is taken once")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  s->add_user(user("user_1", "a@example.com"));
  s->add_user(user("user_2", "b@example.com"));
  CHECK_THROWS_AS(s->add_user(user("user_3", "a@example.com")), Error);
  CHECK(s->users().size() == 2);
  CHECK_FALSE(s->user_by_id("user_3"));
  auto a = s->user_by_email("a@example.com");
  REQUIRE(a);
  CHECK(a->id == "user_1");
  CHECK(a->permissions == std::vector<std::string>{"session:read", "task:submit"});
  CHECK_FALSE(a->disabled);
  a->disabled = true;
  a->permissions = {"all"};
  a->name = "Changed";
  s->update_user(*a);
  auto again = s->user_by_id("user_1");
  REQUIRE(again);
  CHECK(again->disabled);
  CHECK(again->name == "Changed");
  CHECK(again->permissions == std::vector<std::string>{"all"});
  CHECK(again->email == "a@example.com");
  CHECK_FALSE(s->user_by_email("nobody@example.com"));
}

TEST_CASE("platform store: a refresh token is used once, and revoking its family revokes the access tokens too")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  s->add_refresh(refresh_row("h1", "fam_a", "jti_1", 2000));
  s->add_refresh(refresh_row("h2", "fam_a", "jti_2", 2000));
  s->add_refresh(refresh_row("h3", "fam_b", "jti_3", 2000));
  CHECK(s->use_refresh("h1"));
  CHECK_FALSE(s->use_refresh("h1"));
  CHECK_FALSE(s->use_refresh("no-such-hash"));
  REQUIRE(s->refresh("h1"));
  CHECK(s->refresh("h1")->used);
  CHECK_FALSE(s->refresh("h2")->used);
  CHECK(s->family_of_access("jti_2") == std::optional<std::string>("fam_a"));
  CHECK_FALSE(s->family_of_access("jti_x"));

  s->revoke_family("fam_a");
  CHECK(s->refresh("h1")->revoked);
  CHECK(s->refresh("h2")->revoked);
  CHECK(s->access_revoked("jti_1"));
  CHECK(s->access_revoked("jti_2"));
  CHECK_FALSE(s->refresh("h3")->revoked);
  CHECK_FALSE(s->access_revoked("jti_3"));
  s->revoke_family("fam_a");  // again: nothing changes, nothing fails
  CHECK(s->access_revoked("jti_2"));

  s->revoke_access("jti_3", 2000);
  CHECK(s->access_revoked("jti_3"));
  CHECK_FALSE(s->refresh("h3")->revoked);  // the access token alone
}

TEST_CASE("platform store: prune forgets what expired before now, and only that")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  s->add_refresh(refresh_row("old", "f1", "jti_old", 100));
  s->add_refresh(refresh_row("new", "f2", "jti_new", 300));
  s->revoke_access("jti_old", 100);
  s->revoke_access("jti_new", 300);
  s->prune(200);
  CHECK_FALSE(s->refresh("old"));
  CHECK_FALSE(s->access_revoked("jti_old"));
  CHECK(s->refresh("new"));
  CHECK(s->access_revoked("jti_new"));
  s->prune(300);  // "before now": a row expiring at now stays
  CHECK(s->refresh("new"));
  CHECK(s->access_revoked("jti_new"));
}

TEST_CASE("platform store: sessions filter by user, status, agent and name, with % and _ taken literally")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  s->put_session(session("s1", "user_1", "Alpha 100%", "active", "build", "2026-01-01T00:00:01Z"));
  s->put_session(session("s2", "user_1", "alpha_two", "completed", "plan", "2026-01-01T00:00:02Z"));
  s->put_session(session("s3", "user_1", "alphaXtwo", "active", "build", "2026-01-01T00:00:03Z"));
  s->put_session(session("s4", "user_1", "Beta 1000", "error", "agent_c", "2026-01-01T00:00:04Z"));
  s->put_session(session("s5", "user_2", "alpha of another", "active", "build", "2026-01-01T00:00:05Z"));

  using V = std::vector<std::string>;
  CHECK(session_ids(*s, {}) == V{"s4", "s3", "s2", "s1"});  // the newest first, only user_1's
  SessionFilter f;
  f.status = "active";
  CHECK(session_ids(*s, f) == V{"s3", "s1"});
  f = {};
  f.agent = "build";
  CHECK(session_ids(*s, f) == V{"s3", "s1"});
  f.status = "completed";
  CHECK(session_ids(*s, f).empty());
  f = {};
  f.search = "ALPHA";  // any case
  CHECK(session_ids(*s, f) == V{"s3", "s2", "s1"});
  f.search = "_";  // not "any one character"
  CHECK(session_ids(*s, f) == V{"s2"});
  f.search = "a_t";
  CHECK(session_ids(*s, f) == V{"s2"});
  f.search = "%";  // not "anything"
  CHECK(session_ids(*s, f) == V{"s1"});
  f.search = "100%";
  CHECK(session_ids(*s, f) == V{"s1"});
  f.search = "\\";
  CHECK(session_ids(*s, f).empty());

  REQUIRE(s->session("s2"));
  CHECK(s->session("s2")->doc == "{\"id\":\"s2\"}");
  SessionRow changed = *s->session("s2");
  changed.status = "error";
  s->put_session(changed);  // a put replaces
  f = {};
  f.status = "error";
  CHECK(session_ids(*s, f) == V{"s4", "s2"});
}

TEST_CASE("platform store: session pages carry the total over every page")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  for (int i = 1; i <= 5; ++i)
    s->put_session(session("s" + std::to_string(i), "user_1", "n", "active", "build", "2026-01-01T00:00:0" + std::to_string(i) + "Z"));
  SessionFilter f;
  f.user_id = "user_1";
  f.page = Page{2, 2};
  auto page = s->sessions(f);
  CHECK(page.total == 5);
  CHECK(ids_of(page.rows) == std::vector<std::string>{"s3", "s2"});
  f.page = Page{3, 2};
  page = s->sessions(f);
  CHECK(page.total == 5);
  CHECK(ids_of(page.rows) == std::vector<std::string>{"s1"});
  f.page = Page{4, 2};
  page = s->sessions(f);
  CHECK(page.total == 5);
  CHECK(page.rows.empty());
  f.page = Page{1, 20};
  f.status = "completed";
  CHECK(s->sessions(f).total == 0);
}

TEST_CASE("platform store: tasks filter by session, status and type, and sort by priority or updatedAt both ways")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  s->put_task(task("t1", "sA", 0, "2026-01-01T00:00:01Z", "2026-01-01T00:00:09Z"));
  s->put_task(task("t2", "sA", 2, "2026-01-01T00:00:02Z", "2026-01-01T00:00:05Z", "failed"));
  s->put_task(task("t3", "sB", 1, "2026-01-01T00:00:03Z", "2026-01-01T00:00:07Z"));
  s->put_task(task("t4", "sB", 2, "2026-01-01T00:00:04Z", "2026-01-01T00:00:06Z"));
  TaskRow other = task("t5", "sC", 2, "2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z");
  other.user_id = "user_2";
  other.type = "command";
  s->put_task(other);

  using V = std::vector<std::string>;
  TaskFilter f;
  f.user_id = "user_1";
  CHECK(ids_of(s->tasks(f).rows) == V{"t4", "t3", "t2", "t1"});  // createdAt, newest first
  f.ascending = true;
  CHECK(ids_of(s->tasks(f).rows) == V{"t1", "t2", "t3", "t4"});
  f.sort_by = "priority";
  CHECK(ids_of(s->tasks(f).rows) == V{"t1", "t3", "t2", "t4"});  // ties by createdAt, same direction
  f.ascending = false;
  CHECK(ids_of(s->tasks(f).rows) == V{"t4", "t2", "t3", "t1"});
  f.sort_by = "updatedAt";
  CHECK(ids_of(s->tasks(f).rows) == V{"t1", "t3", "t4", "t2"});
  f.ascending = true;
  CHECK(ids_of(s->tasks(f).rows) == V{"t2", "t4", "t3", "t1"});

  f = {};
  f.user_id = "user_1";
  f.session_id = "sB";
  CHECK(ids_of(s->tasks(f).rows) == V{"t4", "t3"});
  f.session_id.clear();
  f.status = "failed";
  CHECK(ids_of(s->tasks(f).rows) == V{"t2"});
  f.status.clear();
  f.type = "command";
  CHECK(s->tasks(f).total == 0);  // t5 is user_2's
  f.type = "chat";
  f.page = Page{2, 3};
  auto page = s->tasks(f);
  CHECK(page.total == 4);
  CHECK(ids_of(page.rows) == V{"t1"});
  REQUIRE(s->task("t2"));
  CHECK(s->task("t2")->priority == 2);
  CHECK(s->task("t2")->status == "failed");
}

TEST_CASE("platform store: deleting a session deletes its tasks and nothing else")
{
  TempDir dir;
  auto s = open_sqlite_store(dir / "p.db");
  s->put_session(session("sA", "user_1", "a", "active", "build", "2026-01-01T00:00:01Z"));
  s->put_session(session("sB", "user_1", "b", "active", "build", "2026-01-01T00:00:02Z"));
  s->put_task(task("t1", "sA", 1, "2026-01-01T00:00:01Z", "2026-01-01T00:00:01Z"));
  s->put_task(task("t2", "sA", 1, "2026-01-01T00:00:02Z", "2026-01-01T00:00:02Z"));
  s->put_task(task("t3", "sB", 1, "2026-01-01T00:00:03Z", "2026-01-01T00:00:03Z"));
  s->delete_session("sA");
  CHECK_FALSE(s->session("sA"));
  CHECK_FALSE(s->task("t1"));
  CHECK_FALSE(s->task("t2"));
  CHECK(s->session("sB"));
  CHECK(s->task("t3"));
  TaskFilter f;
  f.user_id = "user_1";
  CHECK(s->tasks(f).total == 1);
}
