// The group guard: nothing a CLI started may outlive the host, even a host killed by SIGKILL.
//
// Each CLI runs as the leader of its own process group and dies with its parent (a parent-death
// signal), but its descendants (tool shells, MCP servers it starts) get no such signal. Killing
// the group is what ccbridge does when a run ends; a host that is SIGKILLed never gets to do it.
// So the host keeps one guard: a small POSIX shell loop (`ccbridge-guard` in ps, started with
// posix_spawn from /bin/sh, an empty environment and none of the host's descriptors, in a session
// of its own, reparented to init at once). The host writes the live groups to it through a pipe;
// when the host is gone, however it ended, the pipe's write end closes and the guard SIGKILLs
// every group still listed and exits. A group is listed from fork until ccbridge has SIGKILLed it
// and is about to reap its leader (the leader's pid, which is the group id, stays reserved until
// then, so the guard never signals a reused id). A server starts it before it listens; a library
// host on its first spawn.
//
// Descendants that leave the group (setsid, setpgid) are beyond its reach, unless the CLIs run in
// cgroups (process/cgroup.hpp): the guard then also kills the host cgroup. Setting
// CCBRIDGE_NO_GUARD=1 in the host's environment turns the guard off. A copy of the host made by
// fork() without exec holds the pipe too: the guard then waits for that copy as well.
#pragma once

namespace ccbridge::detail {

/// Starts the guard now if it is not running yet (a server calls this before it listens, so the
/// guard is in place before any run starts).
void start_guard() noexcept;

/// Lists a new CLI's process group with the guard (starting the guard on first use).
void guard_group(int pgid) noexcept;

/// Removes a group: call after it has been SIGKILLed, before its leader is reaped.
void unguard_group(int pgid) noexcept;

}  // namespace ccbridge::detail
