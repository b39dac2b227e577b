#include "server/sqlite.hpp"

#include <ccbridge/error.hpp>

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <sys/stat.h>

namespace ccbridge::detail::server {

namespace {

// mkdir -p with mode 0755 for each directory it creates (os.MkdirAll(dir, 0755) in the original).
void make_parent_dirs(const std::string &path)
{
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      throw Error(errc::io_error, std::string("sqlite ").append(path).append(": cannot create directory ").append(dir).append(": ").append(std::strerror(errno)));
  }
}

}  // namespace

// ---- Db ----------------------------------------------------------------------------------------

Db::Db(const std::string &path) : path_(path)
{
  if (path.empty()) throw Error(errc::invalid_argument, "sqlite: empty database path");
  make_parent_dirs(path);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(errc::io_error, "sqlite " + path + ": open: " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA busy_timeout=5000; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

Db::~Db() { sqlite3_close(db_); }

void Db::exec(const std::string &sql)
{
  char *err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return;
  std::string msg = err ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  throw Error(errc::io_error, "sqlite " + path_ + ": " + msg);
}

int Db::changes() const { return sqlite3_changes(db_); }

void Db::fail(std::string_view what) const
{
  throw Error(errc::io_error, "sqlite " + path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

// ---- Statement ---------------------------------------------------------------------------------

Statement::Statement(Db &db, std::string_view sql) : db_(db)
{
  if (sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    db.fail("prepare \"" + std::string(sql.substr(0, 60)) + "\"");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement &Statement::bind(int index, std::string_view text)
{
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    db_.fail("bind");
  return *this;
}

Statement &Statement::bind(int index, std::int64_t value)
{
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_.fail("bind");
  return *this;
}

Statement &Statement::bind_blob(int index, std::string_view bytes)
{
  if (sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT) != SQLITE_OK) db_.fail("bind");
  return *this;
}

Statement &Statement::bind_null(int index)
{
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) db_.fail("bind");
  return *this;
}

Statement &Statement::bind_real(int index, double value)
{
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) db_.fail("bind");
  return *this;
}

bool Statement::step()
{
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);  // (sets the connection's error message to this statement's)
  db_.fail("step");
}

void Statement::run()
{
  while (step()) {
  }
  reset();
}

void Statement::reset() { sqlite3_reset(stmt_); }

std::string Statement::text(int column) const
{
  const auto *p = sqlite3_column_text(stmt_, column);
  return p ? std::string(reinterpret_cast<const char *>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string();
}

std::string Statement::blob(int column) const
{
  const void *p = sqlite3_column_blob(stmt_, column);
  return p ? std::string(static_cast<const char *>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string();
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

// ---- Transaction -------------------------------------------------------------------------------

Transaction::Transaction(Db &db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction()
{
  if (done_) return;
  try {
    db_.exec("ROLLBACK");
  } catch (...) {  // (SQLite may have rolled back already, after an I/O error or a full disk)
  }
}

void Transaction::commit()
{
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace ccbridge::detail::server
