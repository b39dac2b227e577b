// The core's door to the host-wide process machinery and to its thread rules (process/guard.hpp, process/cgroup.hpp),
// for layers above core that must not reach into process: a server starts the guard before it
// listens, so it is in place before any run (a library host gets it on its first spawn), and
// reports how runs are contained.
#pragma once

namespace ccbridge::detail {

/// Starts the process-group guard now if it is not running yet (off with CCBRIDGE_NO_GUARD=1).
void start_runtime_guard() noexcept;

/// Marks the calling thread as one that must never wait on a run, like a ccbridge I/O thread:
/// from then on the blocking calls (Session::open with initialize, its control requests, pulls)
/// throw Error(would_deadlock) there instead of waiting, and destructors do not wait for a
/// shutdown ladder. The gateway's server thread marks itself, so a blocking call that slips into
/// a profile fails loudly in its tests instead of stalling every client.
void forbid_waiting_on_this_thread() noexcept;

/// "cgroup" or "process-group": what ends a run's descendants on this host.
const char *runtime_containment() noexcept;

}  // namespace ccbridge::detail
