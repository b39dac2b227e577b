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
#include <sys/ioctl.h>
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
enum class Stage : int { pdeathsig = 1, dup, chdir, setgroups, setgid, setuid, exec, cgroup, setsid, ctty };

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

// What the child needs, prepared by the parent: from fork to exec the child may not allocate.
struct ChildPlan {
  pid_t parent = 0;
  int stdio[3] = {-1, -1, -1};  ///< become the child's fds 0, 1, 2
  bool new_session = false;     ///< setsid, and stdio[0] (a PTY's slave) as controlling terminal
  int report_fd = -1;
  int cgroup_fd = -1;
  int cwd_fd = -1;
  const char *cwd = nullptr;
  const UserIds *ids = nullptr;
  const char *program = nullptr;
  char *const *argv = nullptr;
  char *const *envp = nullptr;
};

// The child's own process group (a session of its own on a PTY: setsid also makes it the group's
// leader), so that the whole group can be signalled.
void enter_group(const ChildPlan &p) noexcept
{
  if (!p.new_session) {
    ::setpgid(0, 0);
    return;
  }
  if (::setsid() < 0) child_fail(p.report_fd, Stage::setsid);
  if (::ioctl(p.stdio[0], TIOCSCTTY, 0) != 0) child_fail(p.report_fd, Stage::ctty);
}

// Runs in the child (of vfork or fork): only async-signal-safe calls from here to execve, no
// allocation, no return.
[[noreturn]] void child_main(const ChildPlan &p) noexcept
{
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
  enter_group(p);
  // Into the CLI's own cgroup (process/cgroup.hpp) before anything can start a descendant.
  if (p.cgroup_fd >= 0 && ::write(p.cgroup_fd, "0", 1) != 1) child_fail(p.report_fd, Stage::cgroup);
  // Die with the thread that spawned us (a runtime I/O thread, alive as long as the runtime).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(p.report_fd, Stage::pdeathsig);
  if (::getppid() != p.parent) ::_exit(127);  // the parent is already gone
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(p.stdio[fd], fd) < 0) child_fail(p.report_fd, Stage::dup);
  if (p.cwd_fd >= 0 ? ::fchdir(p.cwd_fd) != 0 : p.cwd && ::chdir(p.cwd) != 0) child_fail(p.report_fd, Stage::chdir);
  if (p.ids) {
    if (::setgroups(p.ids->groups.size(), p.ids->groups.data()) != 0) child_fail(p.report_fd, Stage::setgroups);
    if (::setgid(p.ids->gid) != 0) child_fail(p.report_fd, Stage::setgid);
    if (::setuid(p.ids->uid) != 0) child_fail(p.report_fd, Stage::setuid);
  }
  // Keep no descriptor of the host's open across exec (ours are O_CLOEXEC already).
  if (::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) {
    struct rlimit rl {};
    int max_fd = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? static_cast<int>(rl.rlim_cur) : 65536;
    for (int fd = 3; fd < max_fd; ++fd)
      if (fd != p.report_fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(p.program, p.argv, p.envp);
  child_fail(p.report_fd, Stage::exec);
}

// vfork: the child borrows the parent's memory until it execs, so the cost does not grow with
// the host's size (fork copies the page tables: ~9 ms at 150 MB, ~19 ms at 300 MB). child_main
// only makes system calls and never returns. Switching users needs fork: glibc's setuid and
// setgroups signal every thread of the process, and a vfork child shares the parent's memory.
// A function of its own, so that nothing the caller keeps in registers is live across vfork.
__attribute__((noinline)) pid_t start_child(const ChildPlan &plan) noexcept
{
  pid_t pid = plan.ids ? ::fork() : ::vfork();
  if (pid == 0) child_main(plan);
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

// The child's standard streams: three pipes, or a PTY whose slave is all three. The parent closes
// the child's ends once the child has started and keeps the others.
struct Stdio {
  Fd in_r, in_w, out_r, out_w, err_r, err_w;  // pipes
  Fd master, slave;                            // PTY

  void child_fds(int (&fds)[3]) const noexcept
  {
    bool pty = slave.fd >= 0;
    fds[0] = pty ? slave.fd : in_r.fd;
    fds[1] = pty ? slave.fd : out_w.fd;
    fds[2] = pty ? slave.fd : err_w.fd;
  }
  void close_child_ends() noexcept
  {
    in_r.reset();
    out_w.reset();
    err_w.reset();
    slave.reset();
  }
  void hand_over(SpawnedChild &child) noexcept
  {
    for (Fd *f : {&in_w, &out_r, &err_r, &master})
      if (f->fd >= 0) set_nonblocking(f->fd);
    child.stdin_fd = in_w.release();
    child.stdout_fd = out_r.release();
    child.stderr_fd = err_r.release();
    child.pty_fd = master.release();
  }
};

void open_pipes(Stdio &io)
{
  make_pipe(io.in_r, io.in_w);
  make_pipe(io.out_r, io.out_w);
  // A bigger stdout pipe means fewer wake-ups per megabyte when output is heavy. Best effort: the
  // kernel caps it (fs.pipe-max-size, 1 MiB by default) and the default 64 KiB still works.
  ::fcntl(io.out_r.fd, F_SETPIPE_SZ, 1 << 20);
  make_pipe(io.err_r, io.err_w);
}

[[noreturn]] void pty_failed(const char *step)
{
  throw Error(errc::spawn_failed, std::string("could not open a pseudo-terminal (") + step + "): " +
                                      std::strerror(errno) + " (is /dev/pts mounted? too many PTYs open?)");
}

void open_pty(Stdio &io, const SpawnRequest &req)
{
  io.master.fd = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (io.master.fd < 0) pty_failed("/dev/ptmx");
  char name[128];
  if (::grantpt(io.master.fd) != 0 || ::unlockpt(io.master.fd) != 0) pty_failed("unlockpt");
  if (::ptsname_r(io.master.fd, name, sizeof name) != 0) pty_failed("ptsname");
  io.slave.fd = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (io.slave.fd < 0) pty_failed(name);
  if (req.cols > 0 && req.rows > 0) set_pty_size(io.master.fd, req.cols, req.rows);
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
      throw Error(errc::cli_not_found, "Claude Code not found at: " + req.program +
                                           " (or its interpreter is missing): install it with "
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
  case Stage::setsid:
  case Stage::ctty:
    throw Error(errc::spawn_failed, std::string("could not give the CLI its terminal (") +
                                        (static_cast<Stage>(e.stage) == Stage::setsid ? "setsid" : "TIOCSCTTY") +
                                        "): " + why);
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
    throw Error(errc::cli_not_found, "Claude Code not found at: " + req.program +
                                         ": install it with `npm install -g @anthropic-ai/claude-code` "
                                         "or fix Options::cli_path");
  }
  std::optional<UserIds> ids;
  if (req.user) ids = resolve_user(*req.user);

  Stdio io;
  if (req.pty) {
    open_pty(io, req);
  } else {
    open_pipes(io);
  }
  Fd rep_r, rep_w;
  make_pipe(rep_r, rep_w);

  std::vector<std::string> argv_s;
  argv_s.reserve(req.args.size() + 1);
  argv_s.push_back(req.program);
  argv_s.insert(argv_s.end(), req.args.begin(), req.args.end());
  std::vector<std::string> env_s = req.env;
  auto argv = c_array(argv_s);
  auto envp = c_array(env_s);

  // The guard first: a host killed from here on leaves neither a process nor a cgroup behind.
  start_guard();
  RunCgroup cg = make_run_cgroup();
  Fd cg_procs(cg.procs_fd);

  ChildPlan plan;
  plan.parent = ::getpid();
  io.child_fds(plan.stdio);
  plan.new_session = req.pty;
  plan.report_fd = rep_w.fd;
  plan.cgroup_fd = cg_procs.fd;
  plan.cwd_fd = req.cwd_dir.native_handle();  // close-on-exec (the child marks every descriptor so)
  plan.cwd = req.cwd ? req.cwd->c_str() : nullptr;
  plan.ids = ids ? &*ids : nullptr;
  plan.program = req.program.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();

  // Block every signal so no host handler runs in the child between fork and exec.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = start_child(plan);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  cg_procs.reset();
  if (pid < 0) {
    remove_cgroup(cg.path);
    throw Error(errc::spawn_failed, std::string("fork failed: ") + std::strerror(fork_errno) +
                                        " (process or memory limit reached?)");
  }
  // Also from the parent, so signal_group() works at once. Not for a session leader: setsid
  // fails in a process that already leads a group (after vfork it has run anyway).
  if (!req.pty) ::setpgid(pid, pid);
  guard_group(pid);
  io.close_child_ends();
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
  io.hand_over(child);
  return child;
}

bool set_pty_size(int pty_fd, std::uint16_t cols, std::uint16_t rows) noexcept
{
  struct winsize ws {};
  ws.ws_col = cols;
  ws.ws_row = rows;
  return ::ioctl(pty_fd, TIOCSWINSZ, &ws) == 0;
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
