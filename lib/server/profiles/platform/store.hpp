// Agent platform (seed 001): everything the profile keeps, behind one interface so that a server
// database can stand in for the embedded SQLite file without touching the handlers.
//
// Users, refresh tokens and revoked access tokens are typed rows. Sessions, tasks and agents are
// JSON documents (the API's own representation, as the handlers build it) beside the few columns
// that lists filter and sort on: the document is what a client reads, the columns are an index.
//
// SqliteStore: one file, WAL, migrations numbered and applied in order at open (the schema's
// version is SQLite's user_version), one writer. Thread safety: a store is used by one thread at
// a time (the server thread; `ccbridge users` on its own).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ccbridge::detail::server::platform {

struct UserRow {
  std::string id;  ///< "user_<hex>"
  std::string email;  ///< stored lower-case; unique
  std::string name;
  std::string password_hash;  ///< crypto.hpp's self-describing scrypt string
  std::vector<std::string> permissions;
  bool disabled = false;
  std::string created_at;  ///< ISO 8601, UTC
};

struct RefreshRow {
  std::string hash;    ///< SHA-256 hex of the token; the token itself is never stored
  std::string user_id;
  std::string family;  ///< one login: every rotation of its refresh token shares it
  std::int64_t expires_at = 0;  ///< unix seconds
  bool used = false;            ///< rotated already: presenting it again revokes the family
  bool revoked = false;
  std::string access_jti;       ///< the access token issued with it (revoked with the family)
  std::int64_t access_exp = 0;
};

/// A document and its index columns.
struct SessionRow {
  std::string id, user_id, name, status, agent_id, created_at, updated_at;
  std::string doc;  ///< JSON object
};

struct TaskRow {
  std::string id, session_id, user_id, status, type, created_at, updated_at;
  int priority = 1;  ///< low 0, normal 1, high 2
  std::string doc;
};

struct AgentRow {
  std::string id, owner;  ///< owner: the user who made it, "" for the built-in ones
  std::string doc;
};

struct Page {
  int page = 1;   ///< from 1
  int limit = 20;
};

struct SessionFilter {
  std::string user_id;  ///< required: a user sees only their own sessions
  std::string status, agent, search;  ///< "" = any; search matches the name (substring, any case)
  Page page;
};

struct TaskFilter {
  std::string user_id;
  std::string session_id, status, type;
  std::string sort_by = "createdAt";  ///< createdAt | updatedAt | priority
  bool ascending = false;
  Page page;
};

/// What one metric adds to a time bucket: `sum` over `n` observations. A count is its sum; a
/// mean (latency, a sampled gauge) is sum / n. Buckets of any size add up the same way.
struct MetricSample {
  std::string name;
  double sum = 0;
  std::int64_t n = 0;
};

struct MetricBucket {
  std::int64_t ts = 0;  ///< the bucket's start, unix seconds
  double sum = 0;
  std::int64_t n = 0;
};

/// How long each table of samples keeps its rows (seconds): minute rows are rolled into hour
/// rows, hour rows into day rows; a row goes only once it was rolled and is older than this.
struct MetricRetention {
  std::int64_t minute = 48 * 3600;
  std::int64_t hour = 35 * 86400;
  std::int64_t day = 400 * 86400;
};

template <class Row> struct Listing {
  std::vector<Row> rows;
  std::int64_t total = 0;  ///< rows matching the filter, over every page
};

class Store {
public:
  virtual ~Store() = default;

  // users
  /// Throws Error(invalid_argument) when the email is taken.
  virtual void add_user(const UserRow &u) = 0;
  virtual void update_user(const UserRow &u) = 0;
  virtual std::optional<UserRow> user_by_email(const std::string &email) = 0;
  virtual std::optional<UserRow> user_by_id(const std::string &id) = 0;
  virtual std::vector<UserRow> users() = 0;

  // refresh tokens and revoked access tokens
  virtual void add_refresh(const RefreshRow &r) = 0;
  virtual std::optional<RefreshRow> refresh(const std::string &hash) = 0;
  /// Marks it used; false if it was used already (the caller then revokes the family).
  virtual bool use_refresh(const std::string &hash) = 0;
  /// Revokes every refresh token of the family and the access tokens issued with them.
  virtual void revoke_family(const std::string &family) = 0;
  /// The family of the refresh token issued with access token `jti` (logout revokes it).
  virtual std::optional<std::string> family_of_access(const std::string &jti) = 0;
  virtual void revoke_access(const std::string &jti, std::int64_t exp) = 0;
  virtual bool access_revoked(const std::string &jti) = 0;
  /// Forgets what expired before `now` (unix seconds).
  virtual void prune(std::int64_t now) = 0;

  // sessions, tasks, agents
  virtual void put_session(const SessionRow &s) = 0;
  virtual std::optional<SessionRow> session(const std::string &id) = 0;
  virtual Listing<SessionRow> sessions(const SessionFilter &f) = 0;
  virtual void delete_session(const std::string &id) = 0;  ///< and its tasks
  virtual void put_task(const TaskRow &t) = 0;
  virtual std::optional<TaskRow> task(const std::string &id) = 0;
  virtual Listing<TaskRow> tasks(const TaskFilter &f) = 0;
  virtual void put_agent(const AgentRow &a) = 0;
  virtual std::optional<AgentRow> agent(const std::string &id) = 0;
  virtual std::vector<AgentRow> agents() = 0;
  virtual void delete_agent(const std::string &id) = 0;

  // settings that must survive a restart (the JWT key when none is configured)
  virtual std::optional<std::string> meta(const std::string &key) = 0;
  virtual void set_meta(const std::string &key, const std::string &value) = 0;

  // the system configuration (GET/PUT /config): one JSON object per section
  virtual std::optional<std::string> config_section(const std::string &section) = 0;
  virtual void put_config_section(const std::string &section, const std::string &doc) = 0;
  /// Runs `fn` in one transaction: all of its writes or, when it throws, none.
  virtual void atomically(const std::function<void()> &fn) = 0;
  /// A real query, for the health check; throws when the database does not answer.
  virtual void ping() = 0;

  // metrics: per-minute rows, rolled into hour and day rows
  /// Adds to the bucket of minute `minute` (unix seconds, a multiple of 60) of each metric; a
  /// minute already rolled up is added to its hour (and day) too.
  virtual void add_samples(std::int64_t minute, const std::vector<MetricSample> &samples) = 0;
  /// Rolls complete hours (complete at `now`) into hour rows and complete days into day rows, at
  /// most `max_steps` buckets, each in its own transaction. True when more are left to roll.
  virtual bool roll_up(std::int64_t now, int max_steps) = 0;
  /// Deletes at most `max_rows` rows that were rolled up and are past their retention.
  virtual void prune_metrics(std::int64_t now, const MetricRetention &keep, int max_rows) = 0;
  /// The metric's buckets of `step` seconds (60, 300, 3600 or 86400) in [from, to), ascending,
  /// from the coarsest table that has them and the finer ones for what is not rolled yet.
  virtual std::vector<MetricBucket> metric_series(const std::string &name, std::int64_t from, std::int64_t to,
                                                  std::int64_t step) = 0;
};

/// The embedded default. Throws Error(io_error) if the file cannot be opened or migrated, or if
/// it was written by a newer ccbridge (a schema version this one does not know).
std::unique_ptr<Store> open_sqlite_store(const std::string &path);

/// The schema version this build writes (the number of migrations).
int store_schema_version();

}  // namespace ccbridge::detail::server::platform
