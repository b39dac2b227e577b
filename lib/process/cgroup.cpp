#include "process/cgroup.hpp"

#include <ccbridge/error.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ccbridge::detail {

namespace {

// mountinfo escapes blanks and backslashes in paths as \ooo.
std::string unescape(const std::string &s)
{
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Where the cgroup v2 hierarchy is mounted ("/sys/fs/cgroup", or ".../unified" on hybrid hosts).
std::string cgroup2_mount()
{
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos || line.compare(sep + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, sep));
    std::string f, mount;
    for (int i = 0; i < 5 && fields >> f; ++i) mount = f;  // the 5th field is the mount point
    return unescape(mount);
  }
  return {};
}

// This process's cgroup v2 path ("0::<path>" in /proc/self/cgroup).
std::string own_cgroup()
{
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, 3, "0::") == 0) return line.substr(3);
  return {};
}

bool write_text(const std::string &file, const char *text) noexcept
{
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  auto n = static_cast<ssize_t>(std::strlen(text));
  bool ok = ::write(fd, text, static_cast<std::size_t>(n)) == n;
  ::close(fd);
  return ok;
}

// A child that only moves itself into the cgroup and exits: vfork, so probing costs the same
// in a large host. A function of its own, so that nothing the caller keeps in registers is live
// across vfork.
__attribute__((noinline)) pid_t start_mover(int procs_fd) noexcept
{
  pid_t pid = ::vfork();
  if (pid == 0) ::_exit(::write(procs_fd, "0", 1) == 1 ? 0 : 1);
  return pid;
}

// Whether a process can be moved into a child cgroup of `dir`: the rules (permissions on the
// common ancestor, delegation, cgroup namespaces, threaded subtrees) are the kernel's; trying
// once is the only honest check.
bool can_move_into(const std::string &dir)
{
  std::string probe = dir + "/probe";
  if (::mkdir(probe.c_str(), 0755) != 0) return false;
  int fd = ::open((probe + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = false;
  if (fd >= 0) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = start_mover(fd);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    int status = 0;
    if (pid > 0) {
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    ::close(fd);
  }
  ::rmdir(probe.c_str());
  return ok;
}

std::string prefix()
{
  const char *off = std::getenv("CCBRIDGE_NO_CGROUP");
  if (off && *off && std::strcmp(off, "0") != 0) return {};
  std::string mount = cgroup2_mount(), own = own_cgroup();
  if (mount.empty() || own.empty() || own[0] != '/' || own.find("/..") != std::string::npos) return {};
  std::string parent = own == "/" ? mount : mount + own;
  return parent + "/ccbridge-" + std::to_string(::getpid()) + "-";
}

std::string probe()
{
  const std::string &base = cgroup_prefix();
  if (base.empty()) return {};
  for (int n = 0; n < 100; ++n) {
    std::string dir = base + std::to_string(n);
    if (::mkdir(dir.c_str(), 0755) == 0) {
      if (can_move_into(dir)) return dir;
      ::rmdir(dir.c_str());
      return {};
    }
    if (errno != EEXIST) return {};  // read-only, not delegated to us, no cgroup v2 ...
  }
  return {};
}

void kill_all(const std::string &dir) noexcept
{
  if (write_text(dir + "/cgroup.kill", "1")) return;
  // Linux < 5.14 has no cgroup.kill: SIGKILL every process listed until none is left (a process
  // forking meanwhile shows up in the next round).
  for (int round = 0; round < 100; ++round) {
    std::ifstream in(dir + "/cgroup.procs");
    int pid = 0, killed = 0;
    while (in >> pid) {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ++killed;
    }
    if (killed == 0) return;
  }
}

struct Registry {
  std::mutex mu;
  std::unordered_map<int, std::string> by_pid;
  std::vector<std::string> emptying;  // killed, removed once their last process is gone
  std::atomic<unsigned long> next{0};

  // Removes what has emptied since; keeps the rest. Called with `mu` held.
  void sweep() noexcept
  {
    std::size_t kept = 0;
    for (auto &dir : emptying)
      if (::rmdir(dir.c_str()) != 0 && errno == EBUSY) emptying[kept++] = std::move(dir);
    emptying.resize(kept);
  }
};

// Never destroyed: a run may end while static objects are being torn down.
Registry &registry()
{
  static Registry *r = new Registry;
  return *r;
}

void kill_and_remove(const std::string &path) noexcept
{
  kill_all(path);
  auto &r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.sweep();
  if (::rmdir(path.c_str()) != 0 && errno == EBUSY) {
    try {
      r.emptying.push_back(path);
    } catch (...) {
      // Out of memory: the guard removes it with the host cgroup.
    }
  }
}

// fn() computed on first call and kept for good ("" if it failed). Never destroyed: runs may
// still end while static objects are being torn down. One static per Fn (each caller's lambda).
template <class Fn> const std::string &computed_once(Fn fn) noexcept
{
  static const std::string *value = [&fn]() -> const std::string * {
    try {
      return new std::string(fn());
    } catch (...) {
      static const std::string none;
      return &none;
    }
  }();
  return *value;
}

}  // namespace

const std::string &cgroup_prefix() noexcept
{
  return computed_once([] { return prefix(); });
}

const std::string &host_cgroup() noexcept
{
  return computed_once([] { return probe(); });
}

const char *containment_name() noexcept { return host_cgroup().empty() ? "process-group" : "cgroup"; }

RunCgroup make_run_cgroup()
{
  RunCgroup cg;
  const std::string &host = host_cgroup();
  if (host.empty()) return cg;
  cg.path = host + "/run-" + std::to_string(registry().next++);
  if (::mkdir(cg.path.c_str(), 0755) != 0 ||
      (cg.procs_fd = ::open((cg.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC)) < 0) {
    int err = errno;
    ::rmdir(cg.path.c_str());
    throw Error(errc::spawn_failed, "could not make a cgroup for the CLI (" + cg.path + "): " + std::strerror(err) +
                                        ". Set CCBRIDGE_NO_CGROUP=1 to run it in a process group only");
  }
  return cg;
}

void adopt_cgroup(int pid, std::string path) noexcept
{
  auto &r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  try {
    r.by_pid[pid] = std::move(path);
  } catch (...) {
    // Out of memory: the guard still kills it with the host cgroup.
  }
}

void release_cgroup(int pid) noexcept
{
  std::string path;
  {
    auto &r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.by_pid.find(pid);
    if (it == r.by_pid.end()) return;
    path = std::move(it->second);
    r.by_pid.erase(it);
  }
  kill_and_remove(path);
}

void remove_cgroup(const std::string &path) noexcept
{
  if (!path.empty()) kill_and_remove(path);
}

}  // namespace ccbridge::detail
