// When a run that answers the CLI's requests is over, so that its stdin may be closed
// (Session::end_input_when_done). Strand-only.
//
// A result ends a turn, not the run: a background agent that finishes wakes the CLI for another
// turn, whose permission, hook and MCP requests need stdin. Asked to (with
// CLAUDE_CODE_SDK_READS_SESSION_STATE), the CLI reports system/session_state_changed: "running"
// while a turn is owed, "requires_action" while it waits for an answer, "idle" once none is owed.
// The run is over at a result (or the "idle" after one) with no background agent in flight; from a
// CLI that reports no state, the result alone tells. Between turns the wait for "idle" is bounded
// by a ceiling, the one the CLI itself applies once stdin is closed; a turn under way, a request
// being answered and an agent in flight stop that clock. The official SDKs do the same.
#pragma once

#include "process/channel.hpp"

#include <ccbridge/message.hpp>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace ccbridge::detail {

/// The ceiling from CLAUDE_CODE_PRINT_BG_WAIT_CEILING_MS as the CLI will read it: `env` (the
/// run's Options::env) over the inherited environment; 0 means none; anything but a plain
/// non-negative integer is the CLI's default of 10 minutes.
std::chrono::milliseconds run_end_ceiling(const std::map<std::string, std::string> &env);

class RunEndWatch : public std::enable_shared_from_this<RunEndWatch> {
public:
  explicit RunEndWatch(const Strand &strand) : timer_(strand) {}

  /// Every message of the run, in order (control frames excluded).
  void observe(const Message &msg);
  /// Runs `done` once the run is over: now if it already is. From then on the run stays over.
  /// `ceiling` 0: no bound between turns.
  void when_over(std::chrono::milliseconds ceiling, std::function<void()> done);
  /// The process is gone: nothing to wait for any more (`done` is dropped).
  void stop();

private:
  void on_state(std::string_view state);
  void track_task(const Message &msg);
  void maybe_end();
  void end();
  void reopen();
  void arm();
  void rearm_between_turns();
  void clear_ceiling();
  bool state_is(std::string_view s) const { return state_ && *state_ == s; }

  asio::steady_timer timer_;
  std::uint64_t generation_ = 0;  // of the armed timer: a stale expiry stands down
  std::chrono::milliseconds ceiling_{0};
  std::optional<std::string> state_;  // the CLI's last session state; none if it reports none
  std::set<std::string, std::less<>> agents_;  // background agent tasks in flight
  std::function<void()> waiter_;
  bool waiting_ = false;  // when_over() was called and has not fired yet
  bool result_ = false;   // a result has come
  bool turn_ = false;     // a main-thread turn is under way
  bool over_ = false;     // the run is over (may reopen until the waiter fired)
  bool final_ = false;    // the waiter fired, or the process is gone
};

}  // namespace ccbridge::detail
