// Conversations that outlive their WebSocket: a client that opened one with ?resumable=1 and lost
// its connection reconnects with ?session_id=<id>&resume_token=<token>&since_seq=<n> and gets the
// frames after the n it has, then live ones. A Conversation is one such client conversation (a
// Hub run, its subscriber, the reconnect grace and its place in the profile's registry); a profile
// derives from it and adds its wire format. resumable_ws() routes a connection to a new
// conversation or to the one it resumes, and refuses a reconnect that cannot be honoured.
#pragma once

#include "server/context.hpp"

#include <asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace ccbridge::detail::server {

class Conversation;
/// A profile's conversations by id (server thread only); they own themselves while no client is
/// attached.
using Conversations = std::map<std::string, std::shared_ptr<Conversation>>;

class Conversation : public std::enable_shared_from_this<Conversation> {
public:
  Conversation(Context &ctx, Conversations &registry, const char *profile);
  virtual ~Conversation() = default;
  Conversation(const Conversation &) = delete;
  Conversation &operator=(const Conversation &) = delete;

  /// A new connection opened this conversation: it gets an id (`id_prefix` + a UUID), a Hub run
  /// and, with ?resumable=1, a resume token.
  void start(WsConn &conn, const std::string &id_prefix);
  /// A client resumes it, having the first `since` frames.
  void attach(WsConn &conn, std::uint64_t since) { connect(conn, since, true); }
  virtual void on_text(std::string_view text) = 0;
  /// The client went: a resumable conversation waits `grace` for it, any other one ends.
  void on_close(std::chrono::milliseconds grace);
  void on_shutdown();
  /// Ends the conversation for good and forgets it.
  void finish();

  const std::string &id() const { return id_; }
  bool detached() const { return conn_ == nullptr; }
  bool resume_token_ok(std::string_view token) const;
  /// Frames of the conversation so far (what since_seq counts).
  std::uint64_t events() const;

protected:
  /// The first frame a client gets (not counted in since_seq). `token` is set for the client that
  /// opened a resumable conversation, `resumed` for one that resumes it from `since`.
  virtual std::string hello(const std::string *token, bool resumed, std::uint64_t since) = 0;
  /// An error frame in the profile's shape: `code`, when not empty, is a machine-readable reason.
  virtual std::string error_frame(std::string_view why, std::string_view code = {}, std::string_view extra = {}) = 0;
  /// The conversation ends (finish()): end what runs for it.
  virtual void ended() = 0;
  /// A client has attached (opened or resumed) and has been sent what it missed.
  virtual void attached() {}

  /// An event of the conversation: held for replay, sent to the client attached.
  void publish(std::string frame);
  /// A reply to the client's own message that is not an event of the conversation: sent to this
  /// connection only, never held for replay, and not counted in since_seq.
  void reply(std::string frame);
  bool resumable() const { return resumable_; }

  Context &ctx_;
  WsConn *conn_ = nullptr;  // null while no client is attached
  std::shared_ptr<Run> run_;

private:
  void connect(WsConn &conn, std::uint64_t since, bool resumed);

  Conversations &registry_;
  const char *profile_;
  asio::steady_timer grace_;
  std::shared_ptr<Subscription> sub_;
  std::string id_;
  std::string resume_token_;
  bool resumable_ = false;
};

/// The WebSocket factory of a profile with resumable conversations: a connection without
/// ?session_id gets `make()`, started with `id_prefix`; one with it resumes its conversation in
/// `registry` if the id, resume_token and since_seq check out, and otherwise gets
/// `refusal_frame(why)` and a close with 1008. `grace` is how long a resumable conversation waits
/// for its client. When the server stops, the conversations waiting for a client are ended.
struct ResumableRoute {
  std::string id_prefix;
  std::chrono::milliseconds grace;
  std::function<std::shared_ptr<Conversation>()> make;
  std::function<std::string(std::string_view why)> refusal_frame;
};
WsFactory resumable_ws(Context &ctx, Conversations &registry, ResumableRoute route);

}  // namespace ccbridge::detail::server
