#include "process/spawn.hpp"

#include "process/cgroup.hpp"
#include "process/guard.hpp"

#include <ccbridge/error.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace ccbridge::detail {

namespace {

// What the child reports through the error pipe when a step before exec fails.
enum class Stage : int { pdeathsig = 1, dup, chdir, setgroups, setgid, setuid, exec, cgroup };

struct ChildError {
  int stage;
  int err;
};

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  ~Fd() { reset(); }
  void reset() noexcept
  {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int release() noexcept
  {
    int f = fd;
    fd = -1;
    return f;
  }
};

void make_pipe(Fd &read_end, Fd &write_end)
{
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    throw Error(errc::spawn_failed, std::string("could not create a pipe for the CLI: ") +
                                        std::strerror(errno) + " (too many open files?)");
  }
  read_end.fd = p[0];
  write_end.fd = p[1];
}

struct UserIds {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

UserIds resolve_user(const std::string &user)
{
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd *found = nullptr;
  bool numeric = !user.empty() && user.find_first_not_of("0123456789") == std::string::npos;
  int rc = numeric ? ::getpwuid_r(static_cast<uid_t>(std::stoul(user)), &pw, buf.data(), buf.size(), &found)
                   : ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || !found) {
    throw Error(errc::spawn_failed, "user '" + user + "' (Options::user) does not exist on this system");
  }
  UserIds ids{pw.pw_uid, pw.pw_gid, {}};
  int n = 64;
  ids.groups.resize(static_cast<std::size_t>(n));
  if (::getgrouplist(pw.pw_name, pw.pw_gid, ids.groups.data(), &n) < 0) {
    ids.groups.resize(static_cast<std::size_t>(n));
    ::getgrouplist(pw.pw_name, pw.pw_gid, ids.groups.data(), &n);
  }
  ids.groups.resize(static_cast<std::size_t>(n));
  return ids;
}

[[noreturn]] void child_fail(int fd, Stage stage) noexcept
{
  ChildError e{static_cast<int>(stage), errno};
  ssize_t ignored = ::write(fd, &e, sizeof e);
  (void)ignored;
  ::_exit(127);
}

// Runs in the child (of vfork or fork): only async-signal-safe calls from here to execve, no
// allocation, no return.
[[noreturn]] void child_main(pid_t parent, int in_fd, int out_fd, int err_fd, int report_fd, int cgroup_fd,
                             int cwd_fd, const char *cwd, const UserIds *ids, const char *program,
                             char *const argv[], char *const envp[]) noexcept
{
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
  ::setpgid(0, 0);
  // Into the CLI's own cgroup (process/cgroup.hpp) before anything can start a descendant.
  if (cgroup_fd >= 0 && ::write(cgroup_fd, "0", 1) != 1) child_fail(report_fd, Stage::cgroup);
  // Die with the thread that spawned us (a runtime I/O thread, alive as long as the runtime).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(report_fd, Stage::pdeathsig);
  if (::getppid() != parent) ::_exit(127);  // the parent is already gone
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
    child_fail(report_fd, Stage::dup);
  }
  if (cwd_fd >= 0 ? ::fchdir(cwd_fd) != 0 : cwd && ::chdir(cwd) != 0) child_fail(report_fd, Stage::chdir);
  if (ids) {
    if (::setgroups(ids->groups.size(), ids->groups.data()) != 0) child_fail(report_fd, Stage::setgroups);
    if (::setgid(ids->gid) != 0) child_fail(report_fd, Stage::setgid);
    if (::setuid(ids->uid) != 0) child_fail(report_fd, Stage::setuid);
  }
  // Keep no descriptor of the host's open across exec (ours are O_CLOEXEC already).
  if (::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) {
    struct rlimit rl {};
    int max_fd = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? static_cast<int>(rl.rlim_cur) : 65536;
    for (int fd = 3; fd < max_fd; ++fd)
      if (fd != report_fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(program, argv, envp);
  child_fail(report_fd, Stage::exec);
}

// vfork: the child borrows the parent's memory until it execs, so the cost does not grow with
// the host's size (fork copies the page tables: ~9 ms at 150 MB, ~19 ms at 300 MB). child_main
// only makes system calls and never returns. Switching users needs fork: glibc's setuid and
// setgroups signal every thread of the process, and a vfork child shares the parent's memory.
// A function of its own, so that nothing the caller keeps in registers is live across vfork.
__attribute__((noinline)) pid_t start_child(const UserIds *ids, int in_fd, int out_fd, int err_fd, int report_fd,
                                            int cgroup_fd, int cwd_fd, const char *cwd, const char *program,
                                            char *const argv[], char *const envp[]) noexcept
{
  pid_t parent = ::getpid();
  pid_t pid = ids ? ::fork() : ::vfork();
  if (pid == 0) child_main(parent, in_fd, out_fd, err_fd, report_fd, cgroup_fd, cwd_fd, cwd, ids, program, argv, envp);
  return pid;
}

std::vector<char *> c_array(std::vector<std::string> &items)
{
  std::vector<char *> out;
  out.reserve(items.size() + 1);
  for (auto &s : items) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void set_nonblocking(int fd)
{
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

[[noreturn]] void throw_child_error(const ChildError &e, const SpawnRequest &req, const std::string &cgroup)
{
  std::string why = std::strerror(e.err);
  switch (static_cast<Stage>(e.stage)) {
  case Stage::cgroup:
    throw Error(errc::spawn_failed, "could not move the CLI into its cgroup " + cgroup + ": " + why +
                                        ". Set CCBRIDGE_NO_CGROUP=1 to run it in a process group only");
  case Stage::exec:
    if (e.err == ENOENT) {
      throw Error(errc::cli_not_found, "Claude Code CLI not found at '" + req.program +
                                           "' (or its interpreter is missing): install it with "
                                           "`npm install -g @anthropic-ai/claude-code` or fix Options::cli_path");
    }
    throw Error(errc::spawn_failed, "could not execute '" + req.program + "': " + why +
                                        (e.err == EACCES ? " (is it executable, on a noexec mount?)" : ""));
  case Stage::chdir:
    if (e.err == ENOENT || e.err == ENOTDIR) {
      throw Error(errc::cwd_not_found, "working directory '" + req.cwd.value_or("") +
                                           "' does not exist: create it or fix Options::cwd");
    }
    throw Error(errc::spawn_failed, "cannot enter working directory '" + req.cwd.value_or("") + "': " + why);
  case Stage::setgroups:
  case Stage::setgid:
  case Stage::setuid:
    throw Error(errc::spawn_failed, "cannot run the CLI as user '" + req.user.value_or("") + "': " + why +
                                        " (switching users needs root or CAP_SETUID)");
  default:
    throw Error(errc::spawn_failed, "could not prepare the CLI process: " + why);
  }
}

}  // namespace

SpawnedChild spawn_child(const SpawnRequest &req)
{
  if (req.cwd && !req.cwd_dir) {
    struct stat st {};
    if (::stat(req.cwd->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw Error(errc::cwd_not_found, "working directory '" + *req.cwd + "' " +
                                           (errno == ENOENT || errno == ENOTDIR ? "does not exist" : "is not a directory") +
                                           ": create it or fix Options::cwd");
    }
  }
  if (::access(req.program.c_str(), F_OK) != 0) {
    throw Error(errc::cli_not_found, "Claude Code CLI not found at '" + req.program +
                                         "': install it with `npm install -g @anthropic-ai/claude-code` "
                                         "or fix Options::cli_path");
  }
  std::optional<UserIds> ids;
  if (req.user) ids = resolve_user(*req.user);

  Fd in_r, in_w, out_r, out_w, err_r, err_w, rep_r, rep_w;
  make_pipe(in_r, in_w);
  make_pipe(out_r, out_w);
  // A bigger stdout pipe means fewer wake-ups per megabyte when output is heavy. Best effort: the
  // kernel caps it (fs.pipe-max-size, 1 MiB by default) and the default 64 KiB still works.
  ::fcntl(out_r.fd, F_SETPIPE_SZ, 1 << 20);
  make_pipe(err_r, err_w);
  make_pipe(rep_r, rep_w);

  std::vector<std::string> argv_s;
  argv_s.reserve(req.args.size() + 1);
  argv_s.push_back(req.program);
  argv_s.insert(argv_s.end(), req.args.begin(), req.args.end());
  std::vector<std::string> env_s = req.env;
  auto argv = c_array(argv_s);
  auto envp = c_array(env_s);
  const char *cwd = req.cwd ? req.cwd->c_str() : nullptr;

  // The guard first: a host killed from here on leaves neither a process nor a cgroup behind.
  start_guard();
  RunCgroup cg = make_run_cgroup();
  Fd cg_procs(cg.procs_fd);

  // Block every signal so no host handler runs in the child between fork and exec.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // The directory handle is close-on-exec (and the child marks every descriptor so before exec).
  pid_t pid = start_child(ids ? &*ids : nullptr, in_r.fd, out_w.fd, err_w.fd, rep_w.fd, cg_procs.fd,
                          req.cwd_dir.native_handle(), cwd, req.program.c_str(), argv.data(), envp.data());
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  cg_procs.reset();
  if (pid < 0) {
    remove_cgroup(cg.path);
    throw Error(errc::spawn_failed, std::string("fork failed: ") + std::strerror(fork_errno) +
                                        " (process or memory limit reached?)");
  }
  ::setpgid(pid, pid);  // also from the parent, so signal_group() works at once
  guard_group(pid);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  rep_w.reset();

  ChildError ce{};
  ssize_t n;
  do {
    n = ::read(rep_r.fd, &ce, sizeof ce);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof ce)) {
    unguard_group(pid);  // it never ran the CLI: nothing can be left in its group
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    remove_cgroup(cg.path);
    throw_child_error(ce, req, cg.path);
  }
  if (!cg.path.empty()) adopt_cgroup(pid, std::move(cg.path));

  SpawnedChild child;
  child.pid = pid;
  child.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (child.pidfd >= 0) ::fcntl(child.pidfd, F_SETFD, FD_CLOEXEC);
  set_nonblocking(in_w.fd);
  set_nonblocking(out_r.fd);
  set_nonblocking(err_r.fd);
  child.stdin_fd = in_w.release();
  child.stdout_fd = out_r.release();
  child.stderr_fd = err_r.release();
  return child;
}

void signal_group(int pgid, int sig) noexcept
{
  if (pgid > 0) ::kill(-pgid, sig);
}

bool has_exited(int pid) noexcept
{
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return errno == ECHILD;  // reaped by someone else: it is gone
  return info.si_pid == pid;
}

ExitStatus reap(int pid) noexcept
{
  unguard_group(pid);  // the callers have SIGKILLed the group; its id stays reserved until waitpid
  release_cgroup(pid);  // and whatever left the group but not the CLI's cgroup
  ExitStatus st;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid) {
    if (WIFEXITED(status)) {
      st.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      st.signal = WTERMSIG(status);
    }
  }
  return st;
}

long write_no_sigpipe(int fd, const void *data, std::size_t size) noexcept
{
  sigset_t pipe_set, old, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t r = ::write(fd, data, size);
  int err = errno;
  if (r < 0 && err == EPIPE && !was_pending) {
    // Consume the SIGPIPE this write raised so it never reaches the host once unblocked.
    struct timespec zero {};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return r;
}

std::vector<std::string> current_environment()
{
  std::vector<std::string> out;
  for (char **e = environ; e && *e; ++e) out.emplace_back(*e);
  return out;
}

}  // namespace ccbridge::detail
