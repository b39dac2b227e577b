// A conversation kept in one CLI process (a Session) whose messages and end reach the server
// thread in batches through an Inbox: the long-lived counterpart of CliRun, for the profiles that
// keep a process per client (sdk-ws today). It owns what every such profile needs besides its
// wire format: opening the Session without blocking the server thread, the process's slot,
// messages sent before the CLI is up, changes between turns, interrupt, flow control and the
// teardown. PendingReplies holds the callbacks a client answers later (tool calls, permissions).
#pragma once

#include "server/cli_run.hpp"
#include "server/context.hpp"

#include <ccbridge/session.hpp>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ccbridge::detail::server {

class SessionRun : public std::enable_shared_from_this<SessionRun> {
public:
  /// The profile's side of a run. Everything here runs on the server thread, and never after
  /// close() or once the profile's object is gone (the run holds it weakly).
  class Client {
  public:
    virtual ~Client() = default;
    /// The CLI could not be started (its slot is given back, the failure counted and logged);
    /// `not_found`: no CLI binary.
    virtual void open_failed(const std::string &why, bool not_found) = 0;
    /// Messages from the CLI (mapped by the premap where it could); the last batch ends with the
    /// end event, after which the process has been reaped and the run is closed. With
    /// Request::run set, a batch goes out to the clients together, and the CLI is held back while
    /// they cannot take more.
    virtual void batch(std::vector<CliEvent> &batch) = 0;
    /// A message sent with send() or next_turn() could not be delivered.
    virtual void send_failed(const std::string &why) = 0;
  };

  struct Request {
    SessionOptions session;
    std::string first_prompt;
    /// The client's options as asked for (before the profile's own additions): what a later turn
    /// may not change is compared with these.
    Options asked;
    /// Turns CLI messages into frames on the I/O thread (see Premap).
    Premap premap;
    /// The Hub run the profile publishes the batches to (optional: see Client::batch).
    std::shared_ptr<Run> run;
    const char *profile = "";  ///< for the log
    std::string id;            ///< the conversation's id, for the log
  };
  /// Takes a process slot and opens the Session in the background. The caller checks
  /// Context::can_start_process() first.
  static std::shared_ptr<SessionRun> open(Context &ctx, Request request, std::weak_ptr<Client> client);
  ~SessionRun();
  SessionRun(const SessionRun &) = delete;
  SessionRun &operator=(const SessionRun &) = delete;

  /// Whether the Session is open (and not closed or ended).
  bool ready() const { return session_ && !closed_; }
  /// A user message into the running turn; held until the CLI is up if it is not yet.
  void send(const std::string &text);
  /// The next turn, with the client's options for it: a changed model or permission mode is set
  /// first (control requests), then `text` is sent. What the CLI took on its command line cannot
  /// change in the running process, nor whether it has a permission callback (`callbacks`): then
  /// nothing is sent and the reason is returned.
  std::string next_turn(const Options &asked, bool callbacks, const std::string &text);
  /// Asks the CLI to stop the current turn (its result follows); nothing happens if it is not up.
  void interrupt();
  /// Stops taking events (the CLI's stdout then pauses once the inbox is full) / takes them again.
  void pause_intake();
  void resume_intake();
  /// Ends the conversation without waiting: no event is delivered after this, the shutdown ladder
  /// starts now (or once the open finishes), and the slot is given back when the process is reaped.
  void close();
  /// Like close(), for a conversation that goes on in a new process (resumed from the CLI's
  /// transcript): `reaped` runs on the server thread once this process has exited, its transcript
  /// complete and its slot given back (at once if the run was closed already).
  void close_then(std::function<void()> reaped);

private:
  explicit SessionRun(Context &ctx) : ctx_(ctx) {}
  static void deliver_to(Session &s, const std::weak_ptr<Inbox<CliEvent>> &inbox, const Premap &premap);
  void opened(std::optional<Error> error, std::optional<Session> s, const std::string &first_prompt);
  void hold_back_with(const std::shared_ptr<Session> &session);
  void on_opened(std::shared_ptr<Session> session, const std::optional<Error> &error);
  Session::ControlCallback then(const std::optional<std::string> &model, const std::optional<std::string> &mode,
                                const std::string &text);
  void on_batch(std::vector<CliEvent> &batch);
  void retire();
  void report_send_failure(const std::string &why);
  void send_after(const std::optional<std::string> &model, const std::optional<std::string> &mode,
                  const std::string &text);

  Context &ctx_;
  std::weak_ptr<Client> client_;
  std::shared_ptr<Run> run_;
  const char *profile_ = "";
  std::string id_;
  ProcessSlots::Slot slot_;
  std::shared_ptr<Inbox<CliEvent>> inbox_;
  // Set on the server thread once the open has finished.
  std::shared_ptr<Session> session_;
  std::vector<std::string> held_;  // sent before the CLI was up
  Options first_;                  // the first turn's options as asked; model and mode follow changes
  bool callbacks_ = false;         // the session has a permission callback
  bool closed_ = false;
  std::function<void()> reaped_;  // close_then()'s, once the process is gone
};

/// Requests a client answers later (a tool call, a permission): each has an id, a Reply handle
/// (ToolReply, PermissionReply) and a deadline. Server thread only.
template <class Reply> class PendingReplies {
public:
  /// `on_timeout(id, reply)` answers a request that got no answer in time.
  using Timeout = std::function<void(const std::string &id, Reply &reply)>;
  PendingReplies(asio::io_context &ioc, std::chrono::seconds timeout, Timeout on_timeout)
      : ioc_(ioc),
        timeout_(timeout),
        state_(std::make_shared<State>())
  {
    state_->on_timeout = std::move(on_timeout);
  }
  // The replies are destroyed unanswered, and each then answers the CLI with an error itself.
  ~PendingReplies()
  {
    try {
      fail_all(nullptr);
    } catch (...) {  // cancelling a timer only throws if the reactor is gone: nothing left to stop
    }
  }
  PendingReplies(const PendingReplies &) = delete;
  PendingReplies &operator=(const PendingReplies &) = delete;

  /// Holds `reply` under a new id ("<prefix><uuid>") until taken or timed out.
  std::string add(const std::string &prefix, Reply reply)
  {
    std::string id = prefix + Context::new_id();
    auto timer = std::make_unique<asio::steady_timer>(ioc_, timeout_);
    std::weak_ptr<State> weak = state_;
    timer->async_wait([weak, id](std::error_code ec) {
      auto st = weak.lock();
      if (ec || !st) return;
      auto it = st->waiting.find(id);
      if (it == st->waiting.end()) return;
      Entry e = std::move(it->second);
      st->waiting.erase(it);
      st->on_timeout(id, e.reply);
    });
    state_->waiting.emplace(id, Entry{std::move(reply), std::move(timer)});
    return id;
  }
  bool waiting(const std::string &id) const { return state_->waiting.count(id) > 0; }
  /// The reply waiting under `id`, no longer waiting; nullopt if none is.
  std::optional<Reply> take(const std::string &id)
  {
    auto it = state_->waiting.find(id);
    if (it == state_->waiting.end()) return std::nullopt;
    Reply r = std::move(it->second.reply);
    it->second.timer->cancel();
    state_->waiting.erase(it);
    return r;
  }
  /// Answers every waiting request with `answer` (e.g. "the client has gone") and forgets them.
  void fail_all(const std::function<void(Reply &)> &answer)
  {
    auto waiting = std::move(state_->waiting);
    state_->waiting.clear();
    for (auto &kv : waiting) {
      kv.second.timer->cancel();
      if (answer) answer(kv.second.reply);
    }
  }
  std::chrono::seconds timeout() const { return timeout_; }

private:
  struct Entry {
    Reply reply;
    std::unique_ptr<asio::steady_timer> timer;
  };
  // Shared with the timers' handlers, which may run after this object is gone.
  struct State {
    std::map<std::string, Entry> waiting;
    Timeout on_timeout;
  };
  asio::io_context &ioc_;
  std::chrono::seconds timeout_;
  std::shared_ptr<State> state_;
};

/// When the clients of `run` cannot take more yet, stops `source` (a CliRun or SessionRun) from
/// delivering until they have caught up: the CLI is held back rather than its output dropped.
template <class Source> void hold_back_if_backlogged(Run &run, const std::shared_ptr<Source> &source)
{
  if (run.finished() || !run.backlogged() || !source) return;
  source->pause_intake();
  std::weak_ptr<Source> weak = source;
  run.pause_intake([weak] {
    if (auto s = weak.lock()) s->resume_intake();
  });
}

}  // namespace ccbridge::detail::server
