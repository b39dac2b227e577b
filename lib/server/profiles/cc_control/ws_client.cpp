// cc-control's /ws/client (CC-CONTROL.md 4): attach, term_in, resize and action from UI clients;
// debug_probe, attach_ok, term_out, event, session_update and error to them. One writer per
// socket (the server thread), so attach_ok and the replay always precede live output. A client
// that cannot keep up with live output is not fed silently-dropped frames (bug 22): it is held
// back, resynced from the ring once its buffer drains, and closed if it stays stuck.
#include "server/profiles/cc_control/routes.hpp"

#include "server/base64.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <asio/steady_timer.hpp>

#include <algorithm>

namespace ccbridge::detail::server::cc_control {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(20);

std::optional<std::uint16_t> dimension(const JsonView &v)
{
  auto n = v.int64();
  if (!n || *n < 1 || *n > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

class ClientSocket final : public WsHandler, public Subscriber {
public:
  ClientSocket(Control &control, WsConn &conn, Caller caller)
      : control_(control), conn_(conn), caller_(std::move(caller)), timer_(control.ctx.ioc)
  {
  }
  ~ClientSocket() override { control_.leave(*this); }

  const Caller &caller() const override { return caller_; }
  void on_open() override { control_.join(*this); }
  void on_close(std::uint16_t) override
  {
    timer_.cancel();
    control_.leave(*this);
  }
  void on_shutdown() override { conn_.close(close_code::going_away, "server shutting down"); }
  void end(std::uint16_t code, const std::string &reason) override { conn_.close(code, reason); }
  std::size_t backlog() const override { return conn_.buffered(); }
  bool behind() const override { return behind_; }

  void deliver(const FramePtr &frame, std::uint64_t term_seq) override
  {
    if (!conn_.is_open()) return;
    std::size_t cap = control_.ctx.cfg.limits.send_buffer_bytes;
    if (term_seq) {
      // Already had: a client attached since a seq the control plane has not (yet) got again
      // from the agent, after a restart.
      if (term_seq <= sent_seq_) return;
      if (behind_) return;  // resent from the ring once the client catches up
      // Up to one buffer over: the session's output is held meanwhile (Control::check_hold)
      // unless other clients keep up, and then this one is left behind.
      if (conn_.buffered() > 2 * cap) return fall_behind();
      conn_.send(frame);
      sent_seq_ = term_seq;
      return;
    }
    // Small control frames; a client this far behind is not coming back.
    if (conn_.buffered() > 4 * cap) return conn_.close(close_code::policy_violation, "client too slow");
    conn_.send(frame);
  }

  // Messages are paced by the transport (--max-messages-per-second per connection: beyond it
  // they wait unread), not counted against the token's requests: a terminal sends one per key.
  void on_text(std::string_view text) override
  {
    JsonView msg;
    try {
      msg = parse_json(text);
    } catch (const Error &) {
      return error("", "bad_message");
    }
    std::string type(msg["type"].string_or());
    std::string sid(msg["session_id"].string_or());
    if (type == "attach") return attach(msg["data"]);
    if (type != "term_in" && type != "resize" && type != "action") return error(sid, "unknown_type");
    if (role_rank(caller_.token.role) < role_rank("operator")) return error(sid, "forbidden");
    if (sid.empty()) sid = attached;
    if (sid.empty()) return error("", "no_attached_session");
    if (type == "term_in") return term_in(sid, msg["data_b64"]);
    if (type == "resize") return resize(sid, msg["data"]);
    return action(sid, msg["data"]);
  }

private:
  void error(const std::string &sid, const std::string &message)
  {
    ++control_.ctx.metrics.client_errors;
    deliver(make_frame(envelope({"error", "", sid, 0, now_ms(), GoJson().str("message", message).done()})), 0);
  }
  void fail(const std::string &sid, const Failure &f)
  {
    if (f) error(sid, f.message);
  }

  void attach(const JsonView &data)
  {
    std::string sid(data["session_id"].string_or());
    auto since = data["since_seq"];
    if (sid.empty() || (since.exists() && (!since.int64() || *since.int64() < 0))) return error("", "bad_attach_payload");
    behind_ = false;
    std::uint64_t from = since.exists() ? static_cast<std::uint64_t>(*since.int64()) : 0;
    Failure f = control_.attach(*this, sid, from);
    if (f) return error(sid, f.message);
    if (auto *ls = control_.find(caller_.tenant(), sid)) sent_seq_ = std::max(from, ls->rec.latest_agent_out_seq);
  }

  void term_in(const std::string &sid, const JsonView &b64)
  {
    // Checked here: the original forwarded bad base64, and the agent's error killed the session (bug 14).
    auto bytes = b64.is_string() ? base64_decode(*b64.string()) : std::nullopt;
    if (!bytes) return error(sid, "bad_term_in_payload");
    fail(sid, control_.term_in(*this, sid, *bytes));
  }

  void resize(const std::string &sid, const JsonView &data)
  {
    auto cols = dimension(data["cols"]), rows = dimension(data["rows"]);
    if (!cols || !rows) return error(sid, "bad_resize_payload");
    fail(sid, control_.resize(*this, sid, *cols, *rows));
  }

  void action(const std::string &sid, const JsonView &data)
  {
    std::string kind(data["kind"].string_or());
    if (!data.is_object() || kind.empty()) return error(sid, "bad_action_payload");
    if (kind == "approve" || kind == "reject")
      return fail(sid, control_.answer(*this, sid, kind == "approve", std::string(data["event_id"].string_or())));
    if (kind == "stop") {
      using std::chrono::milliseconds;
      return fail(sid, control_.stop_session(caller_.tenant(), sid, milliseconds(4000), milliseconds(9000), caller_.actor()));
    }
    error(sid, "invalid action");
  }

  void fall_behind()
  {
    behind_ = true;
    behind_since_ = std::chrono::steady_clock::now();
    poll();
  }

  // While behind: once the buffer has drained to half, resend what was missed from the ring;
  // stuck for slow_client_timeout, close.
  void poll()
  {
    timer_.expires_after(kPoll);
    timer_.async_wait([this](std::error_code ec) {
      if (ec || !behind_ || !conn_.is_open()) return;
      const auto &limits = control_.ctx.cfg.limits;
      if (conn_.buffered() <= limits.send_buffer_bytes / 2) return catch_up();
      if (std::chrono::steady_clock::now() - behind_since_ > limits.slow_client_timeout)
        return conn_.close(close_code::policy_violation, "client too slow");
      poll();
    });
  }

  void catch_up()
  {
    behind_ = false;
    LiveSession *ls = attached.empty() ? nullptr : control_.find(caller_.tenant(), attached);
    if (!ls) return;
    control_.note_resync();
    sent_seq_ = control_.replay(*this, *ls, sent_seq_);
  }

  Control &control_;
  WsConn &conn_;
  Caller caller_;
  asio::steady_timer timer_;
  bool behind_ = false;
  std::chrono::steady_clock::time_point behind_since_{};
  std::uint64_t sent_seq_ = 0;  // the last term_out seq this client has been sent
};

}  // namespace

WsAccept client_gate(Control &control, const HttpRequest &req)
{
  WsAccept acc;
  Caller caller;
  if (Failure f = authenticate(control, req, TokenType::ui, "ui:", caller)) {
    acc.reject_status = f.status;
    acc.reject_body = f.message + "\n";
    acc.reject_content_type = "text/plain; charset=utf-8";
    if (f.status == 429) acc.reject_headers.emplace_back("Retry-After", f.retry_after);
    return acc;
  }
  if (role_rank(caller.token.role) < role_rank("viewer") || control.subscriber_count() >= control.cfg.max_subscribers) {
    acc.reject_status = role_rank(caller.token.role) < 1 ? 401 : 503;
    acc.reject_body = acc.reject_status == 401 ? "unauthorized\n" : "too many connections\n";
    acc.reject_content_type = "text/plain; charset=utf-8";
    return acc;
  }
  acc.factory = [&control, caller](WsConn &conn) { return std::make_unique<ClientSocket>(control, conn, caller); };
  return acc;
}

}  // namespace ccbridge::detail::server::cc_control
