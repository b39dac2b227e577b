#include "process/guard.hpp"

#include "process/cgroup.hpp"
#include "process/spawn.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ccbridge::detail {

namespace {

// The guard is a POSIX shell, not a fork of the host: a fork would keep the host's pages alive
// for as long as it lives (every page the host writes afterwards would be copied), and it would
// run in a copy of a multi-threaded process. The outer shell only starts the loop in the
// background and exits, so the guard is reparented at once and is nobody's child in the host.
// Its standard input (fd 3 here) is the pipe; lines are "+pgid" or "-pgid"; at end of file (the
// host is gone, or exec'ed) it SIGKILLs every group still listed.
// Each listed group is a shell variable g_<pgid>, so adding and removing one costs the same with
// ten groups or ten thousand (dash keeps variables in a hash table). The first version kept one
// string and cut groups out of it with ${live%% $g *}: 33 ms a removal with 1,000 groups live, so
// at 33 CLI starts a second the guard fell behind, its pipe filled and the host's spawns blocked
// on it (POST /claude/execute took seconds). Lines that are not a sign and digits are ignored,
// so nothing read ever reaches eval but digits.
// $1 is the host's cgroup prefix (process/cgroup.hpp: "<cgroup>/ccbridge-<pid>-"), "" if none:
// at the end every process in a cgroup under it is killed (cgroup.kill, or each pid listed on
// kernels without it) and the cgroups are removed once empty (a second at most).
constexpr const char *kScript =
    "{ while read -r r; do\n"
    "    n=${r#?}\n"
    "    case $n in ''|*[!0-9]*) continue ;; esac\n"
    "    case $r in\n"
    "      +*) eval \"g_$n=1\" ;;\n"
    "      -*) unset \"g_$n\" ;;\n"
    "    esac\n"
    "  done\n"
    "  for v in $(set); do\n"
    "    case $v in g_[0-9]*=*) g=${v%%=*}; kill -s KILL -- \"-${g#g_}\" 2>/dev/null ;; esac\n"
    "  done\n"
    "  if [ -n \"$1\" ]; then\n"
    "    for c in \"$1\"*/; do\n"
    "      [ -d \"$c\" ] || continue\n"
    "      echo 1 >\"${c}cgroup.kill\" && continue\n"
    "      for i in 1 2 3 4 5 6 7 8 9 10; do\n"
    "        for f in \"$c\"*/cgroup.procs; do\n"
    "          while read -r p; do kill -s KILL \"$p\"; done <\"$f\"\n"
    "        done\n"
    "      done\n"
    "    done\n"
    "    i=0\n"
    "    while [ $i -lt 100 ]; do\n"
    "      left=\n"
    "      for c in \"$1\"*/; do\n"
    "        [ -d \"$c\" ] && { rmdir \"$c\"*/ \"$c\"; [ -d \"$c\" ] && left=1; }\n"
    "      done\n"
    "      [ -z \"$left\" ] && break\n"
    "      i=$((i + 1)); /bin/sleep 0.01\n"
    "    done\n"
    "  fi\n"
    "} 0<&3 3<&- >/dev/null 2>&1 &\n";

class Guard {
public:
  void ensure_started() noexcept
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!off_ && fd_ < 0) start_listing_live();
  }

  void add(int pgid) noexcept { send(pgid, true); }
  void remove(int pgid) noexcept { send(pgid, false); }

private:
  void send(int pgid, bool live) noexcept
  {
    if (pgid <= 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (off_) return;
    try {
      if (live) {
        live_.insert(pgid);
      } else {
        live_.erase(pgid);
      }
    } catch (...) {
      // Out of memory: the line below still goes out; only a restarted guard would miss it.
    }
    if (fd_ >= 0 && write_line(pgid, live)) return;
    if (!live) return;  // nothing to remove from a guard that is gone
    start_listing_live();  // first use, or the guard died (EPIPE)
  }

  // Starts a guard and tells it everything that is live.
  void start_listing_live() noexcept
  {
    if (!start()) return;
    for (int g : live_) {
      if (!write_line(g, true)) return;
    }
  }

  // One short write per line (well under PIPE_BUF): lines from several threads never interleave.
  bool write_line(int pgid, bool live) noexcept
  {
    char line[16];
    int n = std::snprintf(line, sizeof line, "%c%d\n", live ? '+' : '-', pgid);
    for (;;) {
      long w = write_no_sigpipe(fd_, line, static_cast<std::size_t>(n));
      if (w == n) return true;
      if (w < 0 && errno == EINTR) continue;
      ::close(fd_);
      fd_ = -1;
      return false;
    }
  }

  bool start() noexcept
  {
    if (starts_++ >= 8) {  // something keeps killing it: stop trying, the CLIs still die with us
      off_ = true;
      return false;
    }
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[0], 3);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);  // none of the host's descriptors
#endif
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    // A session of its own: no terminal signals (Ctrl-C), not in the host's process group.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
    // argv[0] and $0 name it in ps; $1 is the host's cgroup prefix; $2, last, is the host's pid
    // (the tests find a host's guard by it).
    std::string cgroup = cgroup_prefix(), host = std::to_string(::getpid());
    char name[] = "ccbridge-guard", dash_c[] = "-c";
    char *argv[] = {name, dash_c, const_cast<char *>(kScript), name, cgroup.data(), host.data(), nullptr};
    char *envp[] = {nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(p[0]);
    if (rc != 0) {
      ::close(p[1]);
      off_ = true;  // no shell: run without a guard (each CLI still dies with its host)
      return false;
    }
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    fd_ = p[1];
    return true;
  }

  std::mutex mu_;
  int fd_ = -1;
  int starts_ = 0;
  bool off_ = [] {
    const char *v = std::getenv("CCBRIDGE_NO_GUARD");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  std::unordered_set<int> live_;
};

// Never destroyed: at exit the kernel closes the pipe, which is exactly the guard's signal.
Guard &the_guard()
{
  static Guard *g = new Guard;
  return *g;
}

}  // namespace

void start_guard() noexcept { the_guard().ensure_started(); }

void guard_group(int pgid) noexcept { the_guard().add(pgid); }

void unguard_group(int pgid) noexcept { the_guard().remove(pgid); }

}  // namespace ccbridge::detail
