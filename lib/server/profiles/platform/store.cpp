#include "server/profiles/platform/store.hpp"

#include "server/sqlite.hpp"

#include <ccbridge/error.hpp>

#include <algorithm>
#include <string_view>

namespace ccbridge::detail::server::platform {

namespace {

// Applied in order, each once; a migration is never edited after it shipped, only followed.
const char *const kMigrations[] = {
    // 1: users, tokens, sessions, tasks, agents, meta
    "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    " password_hash TEXT NOT NULL, permissions TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE refresh_tokens (hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, family TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0,"
    " access_jti TEXT NOT NULL, access_exp INTEGER NOT NULL);"
    "CREATE INDEX refresh_family ON refresh_tokens(family);"
    "CREATE INDEX refresh_access ON refresh_tokens(access_jti);"
    "CREATE TABLE revoked_access (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL);"
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,"
    " agent_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, doc TEXT NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user_id, created_at);"
    "CREATE TABLE tasks (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL,"
    " type TEXT NOT NULL, priority INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    " doc TEXT NOT NULL);"
    "CREATE INDEX tasks_user ON tasks(user_id, created_at);"
    "CREATE INDEX tasks_session ON tasks(session_id, created_at);"
    "CREATE TABLE agents (id TEXT PRIMARY KEY, owner TEXT NOT NULL, doc TEXT NOT NULL);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: the system configuration, metrics per minute, hour and day, and how far each was rolled up
    "CREATE TABLE config (section TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE metrics_minute (ts INTEGER NOT NULL, name TEXT NOT NULL, sum REAL NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (ts, name)) WITHOUT ROWID;"
    "CREATE TABLE metrics_hour (ts INTEGER NOT NULL, name TEXT NOT NULL, sum REAL NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (ts, name)) WITHOUT ROWID;"
    "CREATE TABLE metrics_day (ts INTEGER NOT NULL, name TEXT NOT NULL, sum REAL NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (ts, name)) WITHOUT ROWID;"
    "CREATE TABLE metrics_rolled (tier TEXT PRIMARY KEY, until INTEGER NOT NULL);",
};
constexpr int kVersion = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);

std::string join(const std::vector<std::string> &v)
{
  std::string out;
  for (const auto &s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<std::string> split(const std::string &s)
{
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// LIKE with the client's % and _ taken literally.
std::string like_pattern(const std::string &s)
{
  std::string out = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

constexpr std::int64_t kHour = 3600, kDay = 86400;
// A complete minute is written within this long after it ended (the sampling timer's slack).
constexpr std::int64_t kSampleSlack = 120;

std::int64_t floor_to(std::int64_t t, std::int64_t step) { return t - ((t % step) + step) % step; }

std::int64_t offset_of(const Page &p) { return static_cast<std::int64_t>(p.page - 1) * p.limit; }

class SqliteStore final : public Store {
public:
  explicit SqliteStore(const std::string &path) : db_(path) { migrate(); }

  void add_user(const UserRow &u) override
  {
    if (user_by_email(u.email)) throw Error(errc::invalid_argument, "a user with email " + u.email + " exists");
    Statement q(db_, "INSERT INTO users VALUES (?,?,?,?,?,?,?)");
    q.bind(1, u.id).bind(2, u.email).bind(3, u.name).bind(4, u.password_hash).bind(5, join(u.permissions));
    q.bind(6, std::int64_t{u.disabled}).bind(7, u.created_at).run();
  }
  void update_user(const UserRow &u) override
  {
    Statement q(db_, "UPDATE users SET name=?, password_hash=?, permissions=?, disabled=? WHERE id=?");
    q.bind(1, u.name).bind(2, u.password_hash).bind(3, join(u.permissions)).bind(4, std::int64_t{u.disabled});
    q.bind(5, u.id).run();
  }
  std::optional<UserRow> user_by_email(const std::string &email) override
  {
    return one_user("SELECT * FROM users WHERE email=?", email);
  }
  std::optional<UserRow> user_by_id(const std::string &id) override
  {
    return one_user("SELECT * FROM users WHERE id=?", id);
  }
  std::vector<UserRow> users() override
  {
    Statement q(db_, "SELECT * FROM users ORDER BY created_at, email");
    std::vector<UserRow> out;
    while (q.step()) out.push_back(user_of(q));
    return out;
  }

  void add_refresh(const RefreshRow &r) override
  {
    Statement q(db_, "INSERT INTO refresh_tokens VALUES (?,?,?,?,?,?,?,?)");
    q.bind(1, r.hash).bind(2, r.user_id).bind(3, r.family).bind(4, r.expires_at).bind(5, std::int64_t{r.used});
    q.bind(6, std::int64_t{r.revoked}).bind(7, r.access_jti).bind(8, r.access_exp).run();
  }
  std::optional<RefreshRow> refresh(const std::string &hash) override
  {
    Statement q(db_, "SELECT * FROM refresh_tokens WHERE hash=?");
    q.bind(1, hash);
    if (!q.step()) return std::nullopt;
    RefreshRow r;
    r.hash = q.text(0);
    r.user_id = q.text(1);
    r.family = q.text(2);
    r.expires_at = q.int64(3);
    r.used = q.int64(4) != 0;
    r.revoked = q.int64(5) != 0;
    r.access_jti = q.text(6);
    r.access_exp = q.int64(7);
    return r;
  }
  bool use_refresh(const std::string &hash) override
  {
    Statement q(db_, "UPDATE refresh_tokens SET used=1 WHERE hash=? AND used=0");
    q.bind(1, hash).run();
    return db_.changes() == 1;
  }
  void revoke_family(const std::string &family) override
  {
    Transaction tx(db_);
    Statement a(db_, "INSERT OR IGNORE INTO revoked_access SELECT access_jti, access_exp FROM refresh_tokens"
                     " WHERE family=?");
    a.bind(1, family).run();
    Statement q(db_, "UPDATE refresh_tokens SET revoked=1 WHERE family=?");
    q.bind(1, family).run();
    tx.commit();
  }
  std::optional<std::string> family_of_access(const std::string &jti) override
  {
    Statement q(db_, "SELECT family FROM refresh_tokens WHERE access_jti=?");
    q.bind(1, jti);
    if (!q.step()) return std::nullopt;
    return q.text(0);
  }
  void revoke_access(const std::string &jti, std::int64_t exp) override
  {
    Statement q(db_, "INSERT OR IGNORE INTO revoked_access VALUES (?,?)");
    q.bind(1, jti).bind(2, exp).run();
  }
  bool access_revoked(const std::string &jti) override
  {
    Statement q(db_, "SELECT 1 FROM revoked_access WHERE jti=?");
    q.bind(1, jti);
    return q.step();
  }
  void prune(std::int64_t now) override
  {
    Statement a(db_, "DELETE FROM revoked_access WHERE exp < ?");
    a.bind(1, now).run();
    Statement r(db_, "DELETE FROM refresh_tokens WHERE expires_at < ?");
    r.bind(1, now).run();
  }

  void put_session(const SessionRow &s) override
  {
    Statement q(db_, "INSERT OR REPLACE INTO sessions VALUES (?,?,?,?,?,?,?,?)");
    q.bind(1, s.id).bind(2, s.user_id).bind(3, s.name).bind(4, s.status).bind(5, s.agent_id);
    q.bind(6, s.created_at).bind(7, s.updated_at).bind(8, s.doc).run();
  }
  std::optional<SessionRow> session(const std::string &id) override
  {
    Statement q(db_, "SELECT * FROM sessions WHERE id=?");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return session_of(q);
  }
  Listing<SessionRow> sessions(const SessionFilter &f) override
  {
    const std::string where =
        " FROM sessions WHERE user_id=?1 AND (?2='' OR status=?2) AND (?3='' OR agent_id=?3)"
        " AND (?4='' OR name LIKE ?5 ESCAPE '\\')";
    Listing<SessionRow> out;
    Statement n(db_, "SELECT count(*)" + where);
    bind_session_filter(n, f);
    if (n.step()) out.total = n.int64(0);
    Statement q(db_, "SELECT *" + where + " ORDER BY created_at DESC, id LIMIT ?6 OFFSET ?7");
    bind_session_filter(q, f);
    q.bind(6, std::int64_t{f.page.limit}).bind(7, offset_of(f.page));
    while (q.step()) out.rows.push_back(session_of(q));
    return out;
  }
  void delete_session(const std::string &id) override
  {
    Transaction tx(db_);
    Statement t(db_, "DELETE FROM tasks WHERE session_id=?");
    t.bind(1, id).run();
    Statement s(db_, "DELETE FROM sessions WHERE id=?");
    s.bind(1, id).run();
    tx.commit();
  }

  void put_task(const TaskRow &t) override
  {
    Statement q(db_, "INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?)");
    q.bind(1, t.id).bind(2, t.session_id).bind(3, t.user_id).bind(4, t.status).bind(5, t.type);
    q.bind(6, std::int64_t{t.priority}).bind(7, t.created_at).bind(8, t.updated_at).bind(9, t.doc).run();
  }
  std::optional<TaskRow> task(const std::string &id) override
  {
    Statement q(db_, "SELECT * FROM tasks WHERE id=?");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return task_of(q);
  }
  Listing<TaskRow> tasks(const TaskFilter &f) override
  {
    const std::string where = " FROM tasks WHERE user_id=?1 AND (?2='' OR session_id=?2) AND (?3='' OR status=?3)"
                              " AND (?4='' OR type=?4)";
    Listing<TaskRow> out;
    Statement n(db_, "SELECT count(*)" + where);
    bind_task_filter(n, f);
    if (n.step()) out.total = n.int64(0);
    // The column comes from a fixed list, never from the client's text.
    std::string column = f.sort_by == "updatedAt" ? "updated_at" : f.sort_by == "priority" ? "priority" : "created_at";
    std::string order = f.ascending ? " ASC" : " DESC";
    Statement q(db_, "SELECT *" + where + " ORDER BY " + column + order + ", created_at" + order + ", id" +
                         " LIMIT ?5 OFFSET ?6");
    bind_task_filter(q, f);
    q.bind(5, std::int64_t{f.page.limit}).bind(6, offset_of(f.page));
    while (q.step()) out.rows.push_back(task_of(q));
    return out;
  }

  void put_agent(const AgentRow &a) override
  {
    Statement q(db_, "INSERT OR REPLACE INTO agents VALUES (?,?,?)");
    q.bind(1, a.id).bind(2, a.owner).bind(3, a.doc).run();
  }
  std::optional<AgentRow> agent(const std::string &id) override
  {
    Statement q(db_, "SELECT * FROM agents WHERE id=?");
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return AgentRow{q.text(0), q.text(1), q.text(2)};
  }
  std::vector<AgentRow> agents() override
  {
    Statement q(db_, "SELECT * FROM agents ORDER BY rowid");
    std::vector<AgentRow> out;
    while (q.step()) out.push_back(AgentRow{q.text(0), q.text(1), q.text(2)});
    return out;
  }
  void delete_agent(const std::string &id) override
  {
    Statement q(db_, "DELETE FROM agents WHERE id=?");
    q.bind(1, id).run();
  }

  std::optional<std::string> meta(const std::string &key) override
  {
    Statement q(db_, "SELECT value FROM meta WHERE key=?");
    q.bind(1, key);
    if (!q.step()) return std::nullopt;
    return q.text(0);
  }
  void set_meta(const std::string &key, const std::string &value) override
  {
    Statement q(db_, "INSERT OR REPLACE INTO meta VALUES (?,?)");
    q.bind(1, key).bind(2, value).run();
  }

  std::optional<std::string> config_section(const std::string &section) override
  {
    Statement q(db_, "SELECT doc FROM config WHERE section=?");
    q.bind(1, section);
    if (!q.step()) return std::nullopt;
    return q.text(0);
  }
  void put_config_section(const std::string &section, const std::string &doc) override
  {
    Statement q(db_, "INSERT OR REPLACE INTO config VALUES (?,?)");
    q.bind(1, section).bind(2, doc).run();
  }
  void atomically(const std::function<void()> &fn) override
  {
    Transaction tx(db_);
    fn();
    tx.commit();
  }
  void ping() override
  {
    Statement q(db_, "SELECT count(*) FROM config");
    q.step();
  }

  void add_samples(std::int64_t minute, const std::vector<MetricSample> &samples) override
  {
    Transaction tx(db_);
    std::int64_t hours_until = rolled("minute"), days_until = rolled("hour");
    for (const auto &s : samples) {
      add_to("metrics_minute", minute, s);
      if (minute < hours_until) add_to("metrics_hour", floor_to(minute, kHour), s);
      if (floor_to(minute, kHour) < days_until) add_to("metrics_day", floor_to(minute, kDay), s);
    }
    tx.commit();
  }
  bool roll_up(std::int64_t now, int max_steps) override
  {
    int steps = 0;
    while (steps < max_steps && roll_one("metrics_minute", "metrics_hour", "minute", kHour, now - kSampleSlack)) ++steps;
    std::int64_t hours_done = rolled("minute");
    while (steps < max_steps && roll_one("metrics_hour", "metrics_day", "hour", kDay, hours_done)) ++steps;
    return steps >= max_steps;
  }
  void prune_metrics(std::int64_t now, const MetricRetention &keep, int max_rows) override
  {
    std::int64_t minute_until = std::min(now - keep.minute, rolled("minute"));
    std::int64_t hour_until = std::min(now - keep.hour, rolled("hour"));
    max_rows -= prune_table("metrics_minute", minute_until, max_rows);
    if (max_rows > 0) max_rows -= prune_table("metrics_hour", hour_until, max_rows);
    if (max_rows > 0) prune_table("metrics_day", now - keep.day, max_rows);
  }
  std::vector<MetricBucket> metric_series(const std::string &name, std::int64_t from, std::int64_t to,
                                          std::int64_t step) override
  {
    // Day rows hold what is before the hour table's watermark, hour rows what is before the
    // minute table's: each table is read only for what the coarser one it feeds has not got.
    bool days = step >= kDay, hours = step >= kHour;
    std::int64_t hour_from = days ? rolled("hour") : 0, minute_from = hours ? rolled("minute") : 0;
    Statement q(db_,
                "SELECT (ts/?4)*?4 AS b, SUM(sum), SUM(n) FROM ("
                " SELECT ts, sum, n FROM metrics_day WHERE ?5 AND ts>=?2 AND ts<?3 AND name=?1"
                " UNION ALL SELECT ts, sum, n FROM metrics_hour WHERE ?6 AND ts>=max(?2,?7) AND ts<?3 AND name=?1"
                " UNION ALL SELECT ts, sum, n FROM metrics_minute WHERE ts>=max(?2,?8) AND ts<?3 AND name=?1"
                ") GROUP BY b ORDER BY b");
    q.bind(1, name).bind(2, from).bind(3, to).bind(4, step).bind(5, std::int64_t{days}).bind(6, std::int64_t{hours});
    q.bind(7, hour_from).bind(8, minute_from);
    std::vector<MetricBucket> out;
    while (q.step()) out.push_back(MetricBucket{q.int64(0), q.real(1), q.int64(2)});
    return out;
  }

private:
  // Up to where the tier's rows were rolled into the next coarser table (0: nothing yet).
  std::int64_t rolled(const char *tier)
  {
    Statement q(db_, "SELECT until FROM metrics_rolled WHERE tier=?");
    q.bind(1, tier);
    return q.step() ? q.int64(0) : 0;
  }
  void add_to(const std::string &table, std::int64_t ts, const MetricSample &s)
  {
    Statement q(db_, "INSERT INTO " + table + " VALUES (?,?,?,?) ON CONFLICT (ts, name) DO UPDATE"
                     " SET sum=sum+excluded.sum, n=n+excluded.n");
    q.bind(1, ts).bind(2, s.name).bind_real(3, s.sum).bind(4, s.n).run();
  }
  // Rolls the next bucket of `size` of `from` into `into` if it is complete before `complete`.
  bool roll_one(const std::string &from, const std::string &into, const char *tier, std::int64_t size,
                std::int64_t complete)
  {
    std::int64_t start = rolled(tier);
    Statement first(db_, "SELECT min(ts) FROM " + from + " WHERE ts>=?");
    first.bind(1, start);
    if (!first.step() || first.is_null(0)) return false;  // nothing new: wait for rows
    start = std::max(start, floor_to(first.int64(0), size));  // skips a gap (the server was down)
    if (start + size > complete) return false;
    Transaction tx(db_);
    Statement q(db_, "INSERT INTO " + into + " SELECT ?1, name, SUM(sum), SUM(n) FROM " + from +
                         " WHERE ts>=?1 AND ts<?2 GROUP BY name ON CONFLICT (ts, name) DO UPDATE"
                         " SET sum=sum+excluded.sum, n=n+excluded.n");
    q.bind(1, start).bind(2, start + size).run();
    Statement w(db_, "INSERT OR REPLACE INTO metrics_rolled VALUES (?,?)");
    w.bind(1, tier).bind(2, start + size).run();
    tx.commit();
    return true;
  }
  int prune_table(const std::string &table, std::int64_t before, int max_rows)
  {
    Statement q(db_, "DELETE FROM " + table + " WHERE (ts, name) IN (SELECT ts, name FROM " + table +
                         " WHERE ts<? ORDER BY ts LIMIT ?)");
    q.bind(1, before).bind(2, std::int64_t{max_rows}).run();
    return db_.changes();
  }

  void migrate()
  {
    int version = 0;
    {
      Statement q(db_, "PRAGMA user_version");
      if (q.step()) version = static_cast<int>(q.int64(0));
    }
    if (version > kVersion)
      throw Error(errc::io_error, "platform store " + db_.path() + ": schema version " + std::to_string(version) +
                                      " is newer than this ccbridge knows (" + std::to_string(kVersion) + ")");
    for (int v = version; v < kVersion; ++v) {
      Transaction tx(db_);
      db_.exec(kMigrations[v]);
      db_.exec("PRAGMA user_version=" + std::to_string(v + 1));
      tx.commit();
    }
  }
  std::optional<UserRow> one_user(const char *sql, const std::string &key)
  {
    Statement q(db_, sql);
    q.bind(1, key);
    if (!q.step()) return std::nullopt;
    return user_of(q);
  }
  static UserRow user_of(const Statement &q)
  {
    UserRow u;
    u.id = q.text(0);
    u.email = q.text(1);
    u.name = q.text(2);
    u.password_hash = q.text(3);
    u.permissions = split(q.text(4));
    u.disabled = q.int64(5) != 0;
    u.created_at = q.text(6);
    return u;
  }
  static SessionRow session_of(const Statement &q)
  {
    return SessionRow{q.text(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5), q.text(6), q.text(7)};
  }
  static TaskRow task_of(const Statement &q)
  {
    TaskRow t{q.text(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(6), q.text(7), 1, q.text(8)};
    t.priority = static_cast<int>(q.int64(5));
    return t;
  }
  static void bind_session_filter(Statement &q, const SessionFilter &f)
  {
    q.bind(1, f.user_id).bind(2, f.status).bind(3, f.agent).bind(4, f.search).bind(5, like_pattern(f.search));
  }
  static void bind_task_filter(Statement &q, const TaskFilter &f)
  {
    q.bind(1, f.user_id).bind(2, f.session_id).bind(3, f.status).bind(4, f.type);
  }

  Db db_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string &path) { return std::make_unique<SqliteStore>(path); }

int store_schema_version() { return kVersion; }

}  // namespace ccbridge::detail::server::platform
