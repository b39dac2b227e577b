// Starting the CLI: vfork (fork to switch users) + execve of an argv vector (never a shell), in
// its own process group, with a parent-death signal, stdin/stdout/stderr pipes (or a PTY), and an
// error pipe that turns exec failures into distinct errors. POSIX (Linux) only.
#pragma once

#include <ccbridge/options.hpp>
#include <ccbridge/exit_status.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ccbridge::detail {

struct SpawnRequest {
  std::string program;            ///< path of the executable (already resolved)
  std::vector<std::string> args;  ///< argv[1..]
  std::vector<std::string> env;   ///< complete environment, "KEY=VALUE"
  std::optional<std::string> cwd;
  /// If set, the child enters this directory (fchdir) instead of `cwd` by name; `cwd` names it.
  DirectoryHandle cwd_dir;
  std::optional<std::string> user;  ///< name or numeric uid to run as
  /// A pseudo-terminal instead of pipes: the child leads a session of its own (setsid, so its
  /// process group is still its pid) with the PTY's slave as controlling terminal on fds 0, 1, 2.
  bool pty = false;
  std::uint16_t cols = 0, rows = 0;  ///< the PTY's initial window size (both > 0, else left alone)
};

struct SpawnedChild {
  int pid = -1;
  int pidfd = -1;  ///< -1 if pidfd_open is unavailable
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int pty_fd = -1;  ///< the PTY's master (pty requests; the three above are then -1): non-blocking, close-on-exec
};

/// Starts the process. Throws Error with errc::cwd_not_found, errc::cli_not_found or
/// errc::spawn_failed; the message names the path and what to do.
SpawnedChild spawn_child(const SpawnRequest &request);

/// Sets a PTY's window size (TIOCSWINSZ on its master); false if the kernel refused it.
bool set_pty_size(int pty_fd, std::uint16_t cols, std::uint16_t rows) noexcept;

/// Sends `sig` to the child's process group (the child is its leader). Safe until reaped.
/// (Descendants that left the group are ended by reap(), through the CLI's cgroup.)
void signal_group(int pgid, int sig) noexcept;

/// Non-blocking exit check without reaping (the pid stays reserved). True if exited.
bool has_exited(int pid) noexcept;

/// Reaps the child (blocking; call after has_exited() or an exit notification), takes its group
/// off the guard (process/guard.hpp), and kills and removes its cgroup if it has one
/// (process/cgroup.hpp), ending any descendant that left the group: SIGKILL the group first.
ExitStatus reap(int pid) noexcept;

/// write(2) that never raises SIGPIPE in the calling thread (EPIPE is returned instead).
long write_no_sigpipe(int fd, const void *data, std::size_t size) noexcept;

/// The host's environment as "KEY=VALUE" strings.
std::vector<std::string> current_environment();

}  // namespace ccbridge::detail
