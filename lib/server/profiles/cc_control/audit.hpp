// cc-control: the audit log (CC-CONTROL.md 6 "Audit log"): JSONL, mode 0600, one object per line
// {ts_ms, actor, server_id?, session_id?, kind, meta?}, as the original writes it, plus rotation by
// size (audit.jsonl -> audit.jsonl.1 -> ... -> audit.jsonl.<keep>). Writing never throws: a failed
// open, write or rotation is counted (write_errors) and remembered (last_error), and the next
// record tries again. Keystrokes are never logged in clear: term_in records carry term_in_meta().
// Thread safety: every member may be called from any thread; lines never interleave.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace ccbridge::detail::server::cc_control {

struct AuditRecord {
  std::int64_t ts_ms = 0;   ///< 0: now
  std::string actor;        ///< "ui:<token_id>", "agent:<server_id>", "system", "admin"
  std::string server_id;    ///< omitted when empty
  std::string session_id;   ///< omitted when empty
  std::string kind;         ///< "create_session", "term_in", "token_create", ...
  std::string meta;         ///< a JSON object, written as given; omitted when empty
};

class AuditLog {
public:
  /// Appends to `path` ("" disables the log). Rotates before a line would take the file past
  /// `max_bytes` (0: never), keeping `keep` old files (0: the file is truncated instead).
  explicit AuditLog(std::string path, std::uint64_t max_bytes = 64u << 20, unsigned keep = 5);
  ~AuditLog();
  AuditLog(const AuditLog &) = delete;
  AuditLog &operator=(const AuditLog &) = delete;

  void write(const AuditRecord &record) noexcept;
  /// The same, in the line's field order.
  void write(std::string_view actor, std::string_view server_id, std::string_view session_id,
             std::string_view kind, std::string_view meta = {}) noexcept;
  /// Failed opens, writes and rotations since construction (a failed record counts at least once).
  std::uint64_t write_errors() const noexcept { return errors_.load(); }
  /// The last failure's text ("" if none).
  std::string last_error() const;
  const std::string &path() const { return path_; }

  /// One record as its line, without the newline.
  static std::string line(const AuditRecord &record);
  /// term_in's meta: {"size":<bytes>,"sha":"<SHA-256 hex of the decoded bytes>"}.
  static std::string term_in_meta(std::string_view decoded);

private:
  bool open_locked();
  bool rotate_locked();
  bool append_locked(const std::string &text);
  void fail_locked(const std::string &what, int err);

  const std::string path_;
  const std::uint64_t max_bytes_;
  const unsigned keep_;
  mutable std::mutex mu_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string last_error_;
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace ccbridge::detail::server::cc_control
