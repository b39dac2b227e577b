// The core's door to the host-wide process machinery (process/guard.hpp, process/cgroup.hpp),
// for layers above core that must not reach into process: a server starts the guard before it
// listens, so it is in place before any run (a library host gets it on its first spawn), and
// reports how runs are contained.
#pragma once

namespace ccbridge::detail {

/// Starts the process-group guard now if it is not running yet (off with CCBRIDGE_NO_GUARD=1).
void start_runtime_guard() noexcept;

/// "cgroup" or "process-group": what ends a run's descendants on this host.
const char *runtime_containment() noexcept;

}  // namespace ccbridge::detail
