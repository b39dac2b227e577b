// DirectoryHandle: a directory opened once, component by component without following symlinks,
// so that the CLI starts (fchdir) in the directory that was checked, not in whatever its path
// names when the child gets to it (a symlink swapped in between escaped the allowed roots).
#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

CCB_BEGIN_NAMESPACE

struct DirectoryHandle::Impl {
  int fd;
  std::string path;
  Impl(int f, std::string p) : fd(f), path(std::move(p)) {}
  Impl(const Impl &) = delete;
  Impl &operator=(const Impl &) = delete;
  ~Impl() { ::close(fd); }
};

const std::string &DirectoryHandle::path() const noexcept
{
  static const std::string none;
  return impl_ ? impl_->path : none;
}

int DirectoryHandle::native_handle() const noexcept { return impl_ ? impl_->fd : -1; }

DirectoryHandle open_directory_nofollow(const std::string &path)
{
  auto fail = [&path](const std::string &why) -> DirectoryHandle {
    throw Error(errc::cwd_not_found, "working directory '" + path + "' " + why);
  };
  if (path.empty() || path[0] != '/') return fail("is not an absolute path");
  if (path.find('\0') != std::string::npos) return fail("contains a NUL byte");
  // O_PATH: entering a directory needs search permission only, as chdir does.
  constexpr int kFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::open("/", kFlags);
  if (fd < 0) return fail(std::string("cannot be opened: ") + std::strerror(errno));
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t end = path.find('/', i);
    if (end == std::string::npos) end = path.size();
    std::string name = path.substr(i, end - i);
    i = end + 1;
    if (name.empty() || name == ".") continue;
    int next = ::openat(fd, name.c_str(), kFlags);
    int err = errno;
    ::close(fd);
    if (next < 0) {
      // ELOOP or ENOTDIR: a symlink (or a file) where a directory was: refused, never followed.
      return fail(err == ENOENT ? "does not exist"
                                : (err == ELOOP || err == ENOTDIR) ? "is not a directory reached without symlinks ('" + name + "')"
                                                                   : std::string("cannot be opened: ") + std::strerror(err));
    }
    fd = next;
  }
  DirectoryHandle h;
  try {
    h.impl_ = std::make_shared<const DirectoryHandle::Impl>(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return h;
}

CCB_END_NAMESPACE
