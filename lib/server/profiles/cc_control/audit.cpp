#include "server/profiles/cc_control/audit.hpp"

#include "server/context.hpp"
#include "server/profiles/cc_control/model.hpp"
#include "server/sha256.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ccbridge::detail::server::cc_control {

AuditLog::AuditLog(std::string path, std::uint64_t max_bytes, unsigned keep)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep)
{
  std::lock_guard<std::mutex> lock(mu_);
  if (!path_.empty()) open_locked();
}

AuditLog::~AuditLog()
{
  if (fd_ >= 0) ::close(fd_);
}

std::string AuditLog::line(const AuditRecord &r)
{
  std::string out = "{\"ts_ms\":" + std::to_string(r.ts_ms ? r.ts_ms : now_ms()) + ",\"actor\":" + json_str(r.actor);
  if (!r.server_id.empty()) out += ",\"server_id\":" + json_str(r.server_id);
  if (!r.session_id.empty()) out += ",\"session_id\":" + json_str(r.session_id);
  out += ",\"kind\":" + json_str(r.kind);
  if (!r.meta.empty()) out += ",\"meta\":" + r.meta;
  return out + "}";
}

std::string AuditLog::term_in_meta(std::string_view decoded)
{
  return "{\"size\":" + std::to_string(decoded.size()) + ",\"sha\":\"" + sha256_hex(decoded) + "\"}";
}

void AuditLog::write(std::string_view actor, std::string_view server_id, std::string_view session_id,
                     std::string_view kind, std::string_view meta) noexcept
{
  try {
    write(AuditRecord{0, std::string(actor), std::string(server_id), std::string(session_id), std::string(kind),
                      std::string(meta)});
  } catch (...) {  // (only allocation can throw here)
    ++errors_;
  }
}

void AuditLog::write(const AuditRecord &record) noexcept
{
  if (path_.empty()) return;
  try {
    std::string text = line(record) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ < 0 && !open_locked()) return;
    if (max_bytes_ > 0 && size_ > 0 && size_ + text.size() > max_bytes_ && !rotate_locked()) return;
    append_locked(text);
  } catch (...) {
    ++errors_;
  }
}

std::string AuditLog::last_error() const
{
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

bool AuditLog::open_locked()
{
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    fail_locked("open " + path_, errno);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return false;
  }
  // A log left readable by an older version (or by hand) is made private again; devices are left alone.
  if (S_ISREG(st.st_mode) && (st.st_mode & 0777) != 0600) ::fchmod(fd_, 0600);
  size_ = static_cast<std::uint64_t>(st.st_size);
  return true;
}

// audit.jsonl.<keep-1> -> .<keep>, ..., audit.jsonl -> .1, then a fresh audit.jsonl.
bool AuditLog::rotate_locked()
{
  ::close(fd_);
  fd_ = -1;
  for (unsigned i = keep_; i > 1; --i) {
    std::string from = path_ + "." + std::to_string(i - 1), to = path_ + "." + std::to_string(i);
    if (std::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) fail_locked("rotate " + from, errno);
  }
  std::string first = path_ + ".1";
  int rc = keep_ > 0 ? std::rename(path_.c_str(), first.c_str()) : ::truncate(path_.c_str(), 0);
  if (rc != 0 && errno != ENOENT) {
    fail_locked("rotate " + path_, errno);
    return false;
  }
  return open_locked();
}

bool AuditLog::append_locked(const std::string &text)
{
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail_locked("write " + path_, n < 0 ? errno : EIO);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  size_ += done;
  return true;
}

void AuditLog::fail_locked(const std::string &what, int err)
{
  ++errors_;
  last_error_ = what + ": " + std::strerror(err);
}

}  // namespace ccbridge::detail::server::cc_control
