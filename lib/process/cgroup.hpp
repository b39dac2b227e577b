// Cgroup containment: where the host allows it, each CLI runs in a cgroup of its own, so that
// ending a run ends everything it started, even a descendant that left the CLI's process group
// (a daemon started with `setsid`), which the group kill and the guard cannot reach.
//
// Where: a cgroup v2 subtree the host can write to (root, or a delegated subtree such as a
// systemd service or scope with Delegate=yes). On first use the host makes
// <its own cgroup>/ccbridge-<pid>-<n> ("the host cgroup", no processes of its own) and checks
// that a process can be moved into a child of it; each CLI then gets <host cgroup>/run-<n>,
// which the child joins (writes "0" to its cgroup.procs) before exec. No controller is enabled,
// so the "no internal processes" rule never applies: the host's own cgroup may hold the host and
// these children side by side. Ending a run writes 1 to cgroup.kill (Linux >= 5.14; before that
// every pid in cgroup.procs is SIGKILLed until it is empty) and removes the cgroup once empty.
// The guard (guard.hpp) kills and removes the host cgroup when the host is gone, however it
// ended. Elsewhere, or with CCBRIDGE_NO_CGROUP=1, containment is the process group only.
#pragma once

#include <string>

namespace ccbridge::detail {

/// "cgroup" or "process-group": what ends a run's descendants here. Probes on first call.
const char *containment_name() noexcept;

/// The host cgroup's path ("" without cgroup containment). Probes on first call.
const std::string &host_cgroup() noexcept;

/// What every cgroup this host may make starts with, "<own cgroup>/ccbridge-<pid>-" ("" where
/// there is no cgroup v2 or CCBRIDGE_NO_CGROUP is set); known without making anything, so the
/// guard can clean up after a host that dies while it probes.
const std::string &cgroup_prefix() noexcept;

/// A new CLI's cgroup: `procs_fd` is its cgroup.procs opened for writing (close-on-exec), for
/// the child to write "0" to before exec; -1 and an empty path without cgroup containment.
struct RunCgroup {
  std::string path;
  int procs_fd = -1;
};

/// Makes a cgroup for a CLI about to start. Throws Error(spawn_failed) if it cannot be made.
RunCgroup make_run_cgroup();

/// Records that `pid` (a CLI's leader) runs in `path`, for release_cgroup().
void adopt_cgroup(int pid, std::string path) noexcept;

/// Kills every process left in `pid`'s cgroup and removes the cgroup (once its processes are
/// gone: a cgroup still emptying is removed by a later call, or by the guard). No-op for a pid
/// without one.
void release_cgroup(int pid) noexcept;

/// The same for a cgroup that no pid was recorded for (a spawn that failed).
void remove_cgroup(const std::string &path) noexcept;

}  // namespace ccbridge::detail
