// Agent platform: the local-filesystem tools. See fs_tools.hpp for how paths are confined.
#include "server/profiles/platform/fs_tools.hpp"

#include "protocol/utf8.hpp"
#include "server/base64.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ccbridge::detail::server::platform {
namespace {

constexpr int kMaxSymlinkHops = 40;  // as the kernel's MAXSYMLINKS

std::deque<std::string> components(const std::string &path)
{
  std::deque<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string> &parts)
{
  std::string out;
  for (const auto &p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// Whether `parts` (an absolute path's components) is root's or lies under it.
bool under(const std::vector<std::string> &parts, const std::deque<std::string> &root)
{
  if (parts.size() < root.size()) return false;
  for (std::size_t i = 0; i < root.size(); ++i)
    if (parts[i] != root[i]) return false;
  return true;
}

FsOutcome failure(int status, const char *code, std::string message)
{
  FsOutcome o;
  o.error = ApiError{status, code, std::move(message), "{\"field\":\"parameters.path\"}"};
  return o;
}

FsOutcome from_errno(int err, const std::string &shown)
{
  switch (err) {
  case ENOENT: return failure(404, "INVALID_INPUT", "no such file or directory: " + quoted(shown));
  case ENOTDIR: return failure(422, "INVALID_INPUT", "a component of " + quoted(shown) + " is not a directory");
  case EISDIR: return failure(422, "INVALID_INPUT", quoted(shown) + " is a directory");
  case ELOOP:
  case EXDEV:
    return failure(403, "RESOURCE_FORBIDDEN", quoted(shown) + " changed into a symbolic link while it was checked");
  case EACCES:
  case EPERM: return failure(403, "RESOURCE_FORBIDDEN", "permission denied: " + quoted(shown));
  default: return failure(500, "INTERNAL_ERROR", shown + ": " + std::strerror(err));
  }
}

class Fd {
public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(Fd &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd &operator=(Fd &&o) noexcept { std::swap(fd_, o.fd_); return *this; }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

private:
  int fd_;
};

// Opens the directory that holds `rel`'s last component, walking from root without following
// any symlink; `last` is that component ("" for the root itself). Sets errno on failure.
Fd open_parent(const std::string &root, const std::string &rel, std::string &last)
{
  Fd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto parts = components(rel);
  last = parts.empty() ? std::string() : parts.back();
  for (std::size_t i = 0; dir.ok() && i + 1 < parts.size(); ++i)
    dir = Fd(::openat(dir.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  return dir;
}

Fd open_confined(const std::string &root, const std::string &rel, int flags, mode_t mode = 0)
{
  std::string last;
  Fd dir = open_parent(root, rel, last);
  if (!dir.ok() || last.empty()) return last.empty() && dir.ok() ? Fd(::openat(dir.get(), ".", flags | O_CLOEXEC)) : Fd();
  return Fd(::openat(dir.get(), last.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
}

FsOutcome read_file(const FsCall &c, const std::string &root, const std::string &rel)
{
  Fd fd = open_confined(root, rel, O_RDONLY | O_NONBLOCK);
  if (!fd.ok()) return from_errno(errno, c.path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return from_errno(errno, c.path);
  if (S_ISDIR(st.st_mode)) return from_errno(EISDIR, c.path);
  if (!S_ISREG(st.st_mode)) return failure(422, "INVALID_INPUT", quoted(c.path) + " is not a regular file");
  if (static_cast<std::size_t>(st.st_size) > kFsMaxReadBytes)
    return failure(422, "INVALID_INPUT", fmt::format("{} has {} bytes; read_file reads at most {}", quoted(c.path),
                                                     st.st_size, kFsMaxReadBytes));
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return from_errno(errno, c.path);
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > kFsMaxReadBytes) return failure(422, "INVALID_INPUT", quoted(c.path) + " grew past the read limit");
  }
  FsOutcome o;
  if (c.base64) {
    o.result = json_str(base64_encode(data));
  } else if (valid_utf8(data.data(), data.size())) {
    o.result = json_str(data);
  } else {
    return failure(422, "INVALID_INPUT", quoted(c.path) + " is not UTF-8 text; read it with \"encoding\": \"base64\"");
  }
  return o;
}

// Written to a temporary file beside the target and renamed over it: a reader never sees half a
// file, and the rename replaces the name in the checked directory without following anything.
FsOutcome write_file(const FsCall &c, const std::string &root, const std::string &rel)
{
  std::string last;
  Fd dir = open_parent(root, rel, last);
  if (!dir.ok()) return from_errno(errno, c.path);
  if (last.empty()) return from_errno(EISDIR, c.path);
  struct stat st {};
  if (::fstatat(dir.get(), last.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
    return S_ISDIR(st.st_mode) ? from_errno(EISDIR, c.path) : failure(422, "INVALID_INPUT", quoted(c.path) + " is not a regular file");
  std::string tmp = "." + last.substr(0, 200) + ".ccbridge-" + new_id("");
  Fd out(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!out.ok()) return from_errno(errno, c.path);
  std::size_t off = 0;
  while (off < c.content.size()) {
    ssize_t n = ::write(out.get(), c.content.data() + off, c.content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlinkat(dir.get(), tmp.c_str(), 0);
      return from_errno(err, c.path);
    }
    off += static_cast<std::size_t>(n);
  }
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), last.c_str()) != 0) {
    int err = errno;
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return from_errno(err, c.path);
  }
  FsOutcome o;
  o.result = fmt::format("{{\"path\":{},\"bytesWritten\":{}}}", json_str(rel.empty() ? "." : rel), c.content.size());
  return o;
}

const char *kind_of(unsigned char d_type)
{
  switch (d_type) {
  case DT_REG: return "file";
  case DT_DIR: return "directory";
  case DT_LNK: return "symlink";
  default: return "other";
  }
}

// Lists `dir` (an open directory) into `out`; descends without following symlinks.
bool list_dir(int dirfd, const std::string &prefix, bool recursive, std::vector<std::string> &out, int depth)
{
  int own = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return false;
  DIR *d = ::fdopendir(own);  // owns `own` from here: closedir closes it
  if (!d) {
    ::close(own);
    return false;
  }
  std::vector<std::pair<std::string, unsigned char>> entries;
  while (dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        type = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
    }
    entries.emplace_back(std::move(name), type);
  }
  std::sort(entries.begin(), entries.end());
  bool complete = true;
  for (const auto &[name, type] : entries) {
    if (out.size() >= kFsMaxListEntries) {
      complete = false;
      break;
    }
    std::string path = prefix;
    if (!path.empty()) path += '/';
    path += name;
    struct stat st {};
    long long size = ::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_size : 0;
    out.push_back(fmt::format("{{\"name\":{},\"path\":{},\"type\":\"{}\",\"size\":{}}}", json_str(utf8_or_replaced(name)),
                              json_str(utf8_or_replaced(path)), kind_of(type), size));
    if (recursive && type == DT_DIR && depth < 64) {
      Fd sub(::openat(::dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.ok()) complete = list_dir(sub.get(), path, true, out, depth + 1) && complete;
    }
  }
  ::closedir(d);
  return complete;
}

FsOutcome list_files(const FsCall &c, const std::string &root, const std::string &rel)
{
  Fd dir = open_confined(root, rel, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) return from_errno(errno, c.path);
  std::vector<std::string> entries;
  bool complete = list_dir(dir.get(), rel, c.recursive, entries, 0);
  FsOutcome o;
  o.result = "{\"path\":" + json_str(rel.empty() ? "." : rel) + ",\"entries\":[";
  for (std::size_t i = 0; i < entries.size(); ++i) o.result += (i ? "," : "") + entries[i];
  o.result += std::string("],\"truncated\":") + (complete ? "false" : "true") + "}";
  return o;
}

}  // namespace

std::string resolve_confined(const std::string &root_real, const std::string &path, bool &outside)
{
  outside = false;
  std::deque<std::string> root = components(root_real);
  std::deque<std::string> todo = components(path);
  std::vector<std::string> done;
  if (path.empty() || path[0] != '/') done.assign(root.begin(), root.end());
  int hops = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(part);
    std::string here = join(done);
    struct stat st {};
    if (::lstat(here.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;  // missing: taken as written
    if (++hops > kMaxSymlinkHops) {
      outside = true;
      return {};
    }
    std::vector<char> target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 4096) + 1);
    ssize_t n = ::readlink(here.c_str(), target.data(), target.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= target.size()) {
      outside = true;  // changed under us, or unreadable: not followed anywhere
      return {};
    }
    std::string link(target.data(), static_cast<std::size_t>(n));
    done.pop_back();
    if (link[0] == '/') done.clear();
    auto more = components(link);
    todo.insert(todo.begin(), more.begin(), more.end());
  }
  if (!under(done, root)) {
    outside = true;
    return {};
  }
  std::string rel;
  for (std::size_t i = root.size(); i < done.size(); ++i) rel += (rel.empty() ? "" : "/") + done[i];
  return rel;
}

FsOutcome run_resolved(const FsCall &c, const std::string &root_real, const std::string &rel)
{
  if (c.tool == "read_file") return read_file(c, root_real, rel);
  if (c.tool == "write_file") return write_file(c, root_real, rel);
  return list_files(c, root_real, rel);
}

FsOutcome run_fs_tool(const FsCall &c)
{
  char *real = ::realpath(c.root.c_str(), nullptr);
  if (!real) return failure(422, "INVALID_INPUT", "the session's projectPath " + quoted(c.root) + " is not usable");
  std::string root(real);
  ::free(real);
  bool outside = false;
  std::string rel = resolve_confined(root, c.path, outside);
  if (outside) return failure(403, "RESOURCE_FORBIDDEN", quoted(c.path) + " is outside the session's project");
  return run_resolved(c, root, rel);
}

}  // namespace ccbridge::detail::server::platform
