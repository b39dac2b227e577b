// A one-shot CLI run (query()) whose messages, stderr lines and end reach the server thread in
// batches through an Inbox. Shared by the profiles that start one process per prompt.
#pragma once

#include "server/context.hpp"

#include <ccbridge/message.hpp>
#include <ccbridge/query.hpp>
#include <ccbridge/stream.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ccbridge::detail::server {

struct CliEvent {
  enum class Kind { message, frame, stderr_line, end };
  Kind kind = Kind::message;
  Message msg;       ///< message
  std::string text;  ///< stderr_line: the line; frame: a frame already in the profile's wire shape
  std::size_t cli_bytes = 0;  ///< frame: the size of the CLI line it was made from
  std::unique_ptr<RunOutcome> outcome;        ///< end
  std::chrono::steady_clock::time_point at;  ///< when the I/O thread read it (Message::read_at)
};

/// Turns a CLI message into its frame on the I/O thread that read it, while the line is still in
/// that core's cache (and is freed by the thread that allocated it). Returns false to hand the
/// message to the server thread instead. Must not touch profile state: it runs on an I/O thread.
/// The line has been read once already, by the validating scan of Message::parse; a premap that
/// forwards a part of it finds that part with json_member_span (protocol/json_scan.hpp), never
/// with a DOM, and leaves invalid lines (the reason is in line_error()) to the server thread.
using Premap = std::function<bool(const Message &m, std::string &frame)>;

/// A Premap: every usable line as written; invalid lines go to the server thread.
inline bool verbatim_frame(const Message &m, std::string &frame)
{
  if (m.is(MessageType::invalid_line)) return false;
  frame.assign(m.raw());
  return true;
}

/// The CliEvent for one message read from the CLI: pre-mapped when `premap` takes it.
inline CliEvent message_event(const Message &m, const Premap &premap)
{
  CliEvent ev;
  if (premap && premap(m, ev.text)) {
    ev.kind = CliEvent::Kind::frame;
    ev.cli_bytes = m.raw().size();
  } else {
    ev.msg = m;
  }
  ev.at = m.read_at();
  return ev;
}

inline CliEvent end_event(const RunOutcome &o)
{
  CliEvent ev;
  ev.kind = CliEvent::Kind::end;
  ev.outcome = std::make_unique<RunOutcome>(o);
  ev.at = std::chrono::steady_clock::now();
  return ev;
}

/// Owns the Stream of one run. The process counts against limits.max_sessions until its end
/// event (sent once it has been reaped) has been handled on the server thread.
class CliRun : public std::enable_shared_from_this<CliRun> {
public:
  using Handler = std::function<void(std::vector<CliEvent> &)>;

  /// Starts the CLI. Throws Error (cli_not_found, cwd_not_found, spawn_failed ...) synchronously.
  /// `handler` runs on the server thread; after the end event it is never called again.
  /// `premap`, if set, runs on the I/O thread for each message (see Premap).
  static std::shared_ptr<CliRun> start(Context &ctx, const std::string &prompt, Options opts, Handler handler,
                                       bool forward_stderr, Premap premap = nullptr);
  ~CliRun();
  /// Non-blocking: starts the shutdown ladder; the end event follows.
  void cancel();
  /// Stops taking events (the CLI's stdout then pauses once the inbox is full) / takes them again.
  void pause_intake() { if (inbox_) inbox_->pause(); }
  void resume_intake() { if (inbox_) inbox_->resume(); }
  bool ended() const { return ended_; }
  int pid() const;

private:
  explicit CliRun(Context &ctx) : ctx_(ctx) {}
  void on_batch(std::vector<CliEvent> &batch);

  Context &ctx_;
  std::optional<Stream> stream_;
  std::shared_ptr<Inbox<CliEvent>> inbox_;
  ProcessSlots::Slot slot_;
  Handler handler_;
  bool ended_ = false;
  std::shared_ptr<CliRun> self_;  // alive until the end event, whoever else lets go
};

/// Inbox depth per run: beyond it the run's stdout reading pauses until the server catches up.
constexpr std::size_t kInboxDepth = 1024;

}  // namespace ccbridge::detail::server
