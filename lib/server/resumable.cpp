#include "server/resumable.hpp"

#include <cerrno>
#include <cstdlib>

namespace ccbridge::detail::server {

// ---- Conversation ------------------------------------------------------------------------------

Conversation::Conversation(Context &ctx, Conversations &registry, const char *profile)
    : ctx_(ctx),
      registry_(registry),
      profile_(profile),
      grace_(ctx.ioc)
{}

void Conversation::start(WsConn &conn, const std::string &id_prefix)
{
  id_ = id_prefix + Context::new_id();
  resumable_ = conn.request().query_param("resumable").value_or("") == "1";
  // The id may be listed (GET /sessions); taking the conversation over needs this secret too,
  // which only the client that opened it is given.
  if (resumable_) resume_token_ = Context::new_secret();
  run_ = ctx_.hub.create(id_, profile_);
  registry_[id_] = shared_from_this();
  connect(conn, 0, false);
}

// Sends the hello (not counted), then every frame of the conversation after `since` (the number
// of frames the client already has), then live ones.
void Conversation::connect(WsConn &conn, std::uint64_t since, bool resumed)
{
  conn_ = &conn;
  grace_.cancel();
  conn.send_text(hello(resumable_ && !resumed ? &resume_token_ : nullptr, resumed, since));
  SubscriberEvents ev;
  WsConn *c = &conn;
  auto weak = weak_from_this();
  ev.gap = [c, weak](std::uint64_t asked, std::uint64_t first) {
    auto self = weak.lock();
    if (!self) return;
    c->send_text(self->error_frame("frames " + std::to_string(asked + 1) + " to " + std::to_string(first - 1) +
                                       " are no longer held",
                                   "replay_gap", "\"first_seq\":" + std::to_string(first)));
  };
  ev.dropped = [c](std::uint64_t resume, const std::string &why) {
    c->close(close_code::try_again_later, "too slow (" + why + "); reconnect with since_seq=" + std::to_string(resume));
  };
  sub_ = run_->subscribe(conn, since, std::move(ev));
  attached();
}

void Conversation::on_close(std::chrono::milliseconds grace)
{
  sub_.reset();
  conn_ = nullptr;
  if (!resumable_ || ctx_.stopping || !run_ || run_->finished()) return finish();
  // Kept for a client that reconnects with ?session_id=<id>&since_seq=<n>.
  grace_.expires_after(grace);
  grace_.async_wait([weak = weak_from_this()](std::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && self->detached()) self->finish();
  });
}

void Conversation::on_shutdown()
{
  WsConn *c = conn_;
  sub_.reset();
  finish();
  if (c) c->close(close_code::going_away, "server shutting down");
}

void Conversation::finish()
{
  auto keep = shared_from_this();
  grace_.cancel();
  ended();
  if (run_ && !run_->finished()) run_->finish();
  registry_.erase(id_);
  // Nobody can attach to an ended conversation (reconnects go through the registry): its events
  // are not held for the finished-run grace period.
  if (run_) ctx_.hub.forget(id_);
}

bool Conversation::resume_token_ok(std::string_view token) const
{
  return resumable_ && secret_equal(token, resume_token_);
}

std::uint64_t Conversation::events() const { return run_ ? run_->log().next_seq() - 1 : 0; }

void Conversation::publish(std::string frame)
{
  if (run_) run_->publish(std::move(frame));
}

void Conversation::reply(std::string frame)
{
  if (conn_) conn_->send_text(std::move(frame));
}

// ---- the route ---------------------------------------------------------------------------------

namespace {

// The transport owns one of these per connection; it points at the conversation, a new one or
// one a reconnecting client re-attaches to.
class Owner final : public WsHandler {
public:
  Owner(std::shared_ptr<Conversation> c, WsConn &conn, std::shared_ptr<const ResumableRoute> route, bool resume,
        std::uint64_t since)
      : c_(std::move(c)),
        conn_(conn),
        route_(std::move(route)),
        resume_(resume),
        since_(since)
  {}
  void on_open() override
  {
    if (resume_) {
      c_->attach(conn_, since_);
    } else {
      c_->start(conn_, route_->id_prefix);
    }
  }
  void on_text(std::string_view t) override { c_->on_text(t); }
  void on_close(std::uint16_t) override { c_->on_close(route_->grace); }
  void on_shutdown() override { c_->on_shutdown(); }

private:
  std::shared_ptr<Conversation> c_;
  WsConn &conn_;
  std::shared_ptr<const ResumableRoute> route_;
  bool resume_;
  std::uint64_t since_;
};

// A reconnect that cannot be honoured: an error frame, then 1008.
class Refuse final : public WsHandler {
public:
  Refuse(WsConn &conn, std::string frame, std::string why) : conn_(conn), frame_(std::move(frame)), why_(std::move(why))
  {}
  void on_open() override
  {
    conn_.send_text(std::move(frame_));
    conn_.close(close_code::policy_violation, why_);
  }
  void on_text(std::string_view) override {}
  void on_close(std::uint16_t) override {}
  void on_shutdown() override {}

private:
  WsConn &conn_;
  std::string frame_, why_;
};

// since_seq as a count of frames; false if it is not a non-negative integer.
bool parse_since(const std::optional<std::string> &s, std::uint64_t &since)
{
  since = 0;
  if (!s) return true;
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s->c_str(), &end, 10);
  if (s->empty() || *end || errno || (*s)[0] == '-') return false;
  since = v;
  return true;
}

// Why the reconnect to `c` (found under `sid`, or null) cannot be honoured, or "".
std::string refusal(const Conversation *c, const std::string &sid, const HttpRequest &req, std::uint64_t since)
{
  // A wrong token gets the same answer as an unknown id: which ids exist may be no secret, but
  // nothing is confirmed to someone without the token.
  if (!c || !c->resume_token_ok(req.query_param("resume_token").value_or("")))
    return "no conversation " + quoted(sid) +
           " to resume with this resume_token (unknown, ended, not opened with ?resumable=1, or a wrong or missing "
           "resume_token)";
  if (!c->detached()) return "conversation " + quoted(sid) + " already has a client";
  if (since > c->events())
    return "since_seq " + std::to_string(since) + " is beyond the last frame of the conversation (" +
           std::to_string(c->events()) + ")";
  return {};
}

}  // namespace

WsFactory resumable_ws(Context &ctx, Conversations &registry, ResumableRoute route)
{
  Context *c = &ctx;
  Conversations *reg = &registry;
  // Conversations waiting for a reconnect have no connection to be told: end them here.
  ctx.on_stop.push_back([reg] {
    auto waiting = *reg;  // finish() erases from the registry
    for (auto &kv : waiting)
      if (kv.second->detached()) kv.second->finish();
  });
  auto r = std::make_shared<const ResumableRoute>(std::move(route));
  return [c, reg, r](WsConn &conn) -> std::unique_ptr<WsHandler> {
    const HttpRequest &req = conn.request();
    auto sid = req.query_param("session_id");
    if (!sid) return std::make_unique<Owner>(r->make(), conn, r, false, 0);
    std::uint64_t since = 0;
    std::string why =
        parse_since(req.query_param("since_seq"), since) ? std::string() : "since_seq must be a non-negative integer";
    auto it = reg->find(*sid);
    std::shared_ptr<Conversation> found = it == reg->end() ? nullptr : it->second;
    if (why.empty()) why = refusal(found.get(), *sid, req, since);
    if (why.empty()) return std::make_unique<Owner>(std::move(found), conn, r, true, since);
    ++c->metrics.client_errors;
    return std::make_unique<Refuse>(conn, r->refusal_frame(why), why);
  };
}

}  // namespace ccbridge::detail::server
