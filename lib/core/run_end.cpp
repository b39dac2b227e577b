#include "core/run_end.hpp"

#include <ccbridge/json.hpp>

#include <charconv>
#include <cstdlib>

namespace ccbridge::detail {

namespace {
constexpr std::chrono::milliseconds kDefaultCeiling{600000};  // the CLI's own default
constexpr long long kMaxCeilingMs = 2147483647;                // what JavaScript timers can hold

bool plain_count(std::string_view s)
{
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Agent tasks: their completion wakes the CLI for a follow-up turn. Background shells and
// monitors may never end, so waiting on them would hold stdin open for ever.
bool deferring_task(std::string_view type) { return type == "local_agent" || type == "local_workflow"; }

bool terminal_status(std::string_view s)
{
  return s == "completed" || s == "failed" || s == "stopped" || s == "killed";
}
}  // namespace

std::chrono::milliseconds run_end_ceiling(const std::map<std::string, std::string> &env)
{
  static const char kName[] = "CLAUDE_CODE_PRINT_BG_WAIT_CEILING_MS";
  std::string_view raw;
  auto it = env.find(kName);
  if (it != env.end()) {
    raw = it->second;
  } else if (const char *v = std::getenv(kName)) {
    raw = v;
  } else {
    return kDefaultCeiling;
  }
  long long ms = 0;
  if (!plain_count(raw) || std::from_chars(raw.data(), raw.data() + raw.size(), ms).ec != std::errc()) {
    return kDefaultCeiling;
  }
  return std::chrono::milliseconds(ms > kMaxCeilingMs ? kMaxCeilingMs : ms);
}

void RunEndWatch::observe(const Message &msg)
{
  if (final_) return;
  switch (msg.type()) {
  case MessageType::system: {
    bool had_agents = !agents_.empty();
    track_task(msg);
    if (had_agents && agents_.empty()) rearm_between_turns();  // the wait between turns starts over
    if (msg.subtype() == "session_state_changed") on_state(msg.json()["state"].string_or());
    return;
  }
  case MessageType::result:
    result_ = true;
    turn_ = false;
    if (!state_ || state_is("idle")) {
      maybe_end();
    } else if (!state_is("requires_action")) {
      arm();
    }
    return;
  case MessageType::assistant:
  case MessageType::stream_event:
    // A turn under way matters only between turns (after a result) and while someone waits:
    // only then is the parent id read, which needs the message's JSON tree.
    if (!waiting_ || !result_ || msg.parent_tool_use_id()) return;
    turn_ = true;
    reopen();
    clear_ceiling();
    return;
  default: return;
  }
}

void RunEndWatch::track_task(const Message &msg)
{
  std::string_view sub = msg.subtype();
  if (sub != "task_started" && sub != "task_notification" && sub != "task_updated") return;
  JsonView j = msg.json();
  std::string_view id = j["task_id"].string_or();
  if (id.empty()) return;
  if (sub == "task_started") {
    if (deferring_task(j["task_type"].string_or())) agents_.emplace(id);
  } else if (sub == "task_notification" || terminal_status(j["patch"]["status"].string_or())) {
    auto it = agents_.find(id);
    if (it != agents_.end()) agents_.erase(it);
  }
}

void RunEndWatch::on_state(std::string_view state)
{
  state_ = std::string(state);
  if (state == "idle") {
    if (result_) maybe_end();
    return;
  }
  reopen();  // work taken up after the run ended (a finished agent woke the CLI)
  if (state == "requires_action") {
    clear_ceiling();  // a request is being answered: stdin must outlast it
  } else {
    rearm_between_turns();
  }
}

void RunEndWatch::when_over(std::chrono::milliseconds ceiling, std::function<void()> done)
{
  if (final_) return;
  ceiling_ = ceiling;
  waiter_ = std::move(done);
  waiting_ = true;
  if (over_) return end();
  rearm_between_turns();
}

void RunEndWatch::stop()
{
  final_ = true;
  waiting_ = false;
  waiter_ = nullptr;
  clear_ceiling();
}

void RunEndWatch::maybe_end()
{
  if (agents_.empty()) end();  // an agent in flight will wake the CLI for a turn that ends it
}

void RunEndWatch::end()
{
  clear_ceiling();
  over_ = true;
  if (!waiting_) return;
  final_ = true;
  waiting_ = false;
  auto done = std::move(waiter_);
  waiter_ = nullptr;
  if (done) done();
}

void RunEndWatch::reopen()
{
  if (over_ && !final_) over_ = false;
}

void RunEndWatch::arm()
{
  clear_ceiling();
  if (!waiting_ || ceiling_.count() <= 0 || over_ || final_ || turn_) return;
  timer_.expires_after(ceiling_);
  timer_.async_wait([w = weak_from_this(), gen = generation_](std::error_code ec) {
    auto self = w.lock();
    if (ec || !self || gen != self->generation_) return;
    if (self->agents_.empty()) self->end();  // an agent still in flight keeps stdin; its end re-arms
  });
}

void RunEndWatch::rearm_between_turns()
{
  if (result_ && state_ && !state_is("idle") && !state_is("requires_action")) arm();
}

void RunEndWatch::clear_ceiling()
{
  ++generation_;
  timer_.cancel();
}

}  // namespace ccbridge::detail
