// A small RAII layer over the SQLite C API, for the stores of the profiles (cc-control's tokens and
// state, the platform's data).
// Every failure throws ccbridge::Error(io_error) whose text carries SQLite's message and the file.
// Thread safety: a Db and its Statements are used by one thread at a time (the owner serialises);
// two Db objects may open the same file (WAL: readers never wait, writers wait up to 5 s).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace ccbridge::detail::server {

class Db;

/// A prepared statement. Parameters are numbered from 1, columns from 0.
class Statement {
public:
  Statement(Db &db, std::string_view sql);
  ~Statement();
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;

  Statement &bind(int index, std::string_view text);
  Statement &bind(int index, std::int64_t value);
  Statement &bind_blob(int index, std::string_view bytes);
  Statement &bind_null(int index);
  Statement &bind_real(int index, double value);
  /// True when a row is ready to read, false when the statement is done.
  bool step();
  /// Steps to the end (for statements that return no rows), then resets for reuse.
  void run();
  /// Ready to run again; bindings are kept until rebound.
  void reset();

  std::string text(int column) const;
  std::string blob(int column) const;
  std::int64_t int64(int column) const;
  double real(int column) const;
  bool is_null(int column) const;

private:
  Db &db_;
  sqlite3_stmt *stmt_ = nullptr;
};

/// One connection. Opening creates the file and its parent directory (mode 0755) if missing, and
/// sets journal_mode=WAL, synchronous=NORMAL, foreign_keys=ON, busy_timeout=5000 (as the original).
class Db {
public:
  explicit Db(const std::string &path);
  ~Db();
  Db(const Db &) = delete;
  Db &operator=(const Db &) = delete;

  /// Runs one or more statements that return no rows we need.
  void exec(const std::string &sql);
  /// Rows changed by the last INSERT, UPDATE or DELETE.
  int changes() const;
  const std::string &path() const { return path_; }
  sqlite3 *handle() const { return db_; }
  /// Throws Error(io_error) "sqlite <path>: <what>: <SQLite's message>".
  [[noreturn]] void fail(std::string_view what) const;

private:
  std::string path_;
  sqlite3 *db_ = nullptr;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() ran.
class Transaction {
public:
  explicit Transaction(Db &db);
  ~Transaction();
  Transaction(const Transaction &) = delete;
  Transaction &operator=(const Transaction &) = delete;
  void commit();

private:
  Db &db_;
  bool done_ = false;
};

}  // namespace ccbridge::detail::server
