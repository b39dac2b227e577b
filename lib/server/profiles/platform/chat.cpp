// Agent platform: /ws/v1/chat?token=&sessionId=[&lastEventId=]. The handshake is refused (401,
// 403, 404) for a missing or bad token, a user without session:read, or a session that is not
// the user's. A connection reads its session's events (Platform::publish) through a Hub
// subscription: every client of a session sees every event, and one that reconnects with
// lastEventId=evt_N gets what came after N (connection:restored instead of established). Its
// own events are checked like REST calls: the permission, the rate limit, then the data; a
// refusal is an `error` event with originalEvent, sent to that client only.
#include "server/profiles/platform/rest.hpp"

#include <ccbridge/json.hpp>

#include <asio/steady_timer.hpp>

namespace ccbridge::detail::server::platform {

namespace {

constexpr auto kStatusEvery = std::chrono::seconds(60);

std::string event(std::string_view type, const std::string &session_id, const std::string &data)
{
  return "{\"type\":" + json_str(type) + ",\"id\":" + json_str(new_id("conn_")) + ",\"timestamp\":" +
         json_str(now_iso()) + ",\"sessionId\":" + json_str(session_id) + ",\"data\":" + data + "}";
}

// "evt_12" or "12": 12; anything else: nullopt.
std::optional<std::uint64_t> event_seq(std::string_view id)
{
  if (id.rfind("evt_", 0) == 0) id.remove_prefix(4);
  if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return std::stoull(std::string(id));
}

class ChatHandler final : public WsHandler {
public:
  ChatHandler(Platform &p, WsConn &conn, Caller caller, std::string session_id, std::optional<std::uint64_t> since)
      : p_(p), conn_(conn), caller_(std::move(caller)), session_(std::move(session_id)), since_(since), status_(p.ctx.ioc)
  {
  }

  void on_open() override
  {
    auto run = p_.events_of(session_);
    bool restored = since_.has_value();
    std::uint64_t from = restored ? *since_ : run->log().next_seq() - 1;
    conn_.send_text(event(restored ? "connection:restored" : "connection:established", session_,
                          "{\"message\":" + json_str(restored ? "resumed after the last event seen" : "connected") +
                              ",\"lastEventId\":\"evt_" + std::to_string(from) + "\"}"));
    conn_.send_text(event("system:status", session_, p_.system_status()));
    SubscriberEvents ev;
    ev.gap = [this](std::uint64_t since, std::uint64_t first) {
      conn_.send_text(event("error", session_,
                            "{\"code\":\"EVENTS_LOST\",\"message\":\"events " + std::to_string(since + 1) + " to " +
                                std::to_string(first - 1) + " are no longer held\"}"));
    };
    ev.complete = [this] {
      conn_.send_text(event("connection:lost", session_, "{\"message\":\"the session was deleted\"}"));
      conn_.close(close_code::normal, "session deleted");
    };
    ev.dropped = [this](std::uint64_t resume, const std::string &why) {
      conn_.send_text(event("connection:lost", session_,
                            "{\"message\":" + json_str(why) + ",\"lastEventId\":\"evt_" + std::to_string(resume) +
                                "\",\"reconnectIn\":1000}"));
      conn_.close(close_code::try_again_later, "too slow");
    };
    sub_ = run->subscribe(conn_, from, std::move(ev));
    p_.monitor().connection_opened();
    counted_ = true;
    if (!caller_.can("admin:monitoring")) return;
    schedule_status();
    // and at once when a service's status changes (the monitor's health checks)
    p_.monitor().watch(this, [this](const std::string &status) {
      if (conn_.is_open()) conn_.send_text(event("system:status", session_, status));
    });
  }

  // system:status to monitoring users at least every minute (PLATFORM-DECISIONS.md).
  void schedule_status()
  {
    status_.expires_after(kStatusEvery);
    status_.async_wait([this](std::error_code ec) {
      if (ec || !conn_.is_open()) return;  // cancelled: the handler may be gone, touch nothing
      conn_.send_text(event("system:status", session_, p_.system_status()));
      schedule_status();
    });
  }

  void on_text(std::string_view text) override
  {
    JsonDocument msg = parse_object(text);
    std::string type = text_of(msg, "type");
    try {
      if (!msg.IsObject()) fail(422, "INVALID_INPUT", "an event must be a JSON object");
      auto d = p_.limiter().check("user:" + caller_.user.id);
      if (!d.allowed) fail(429, "SERVICE_UNAVAILABLE", "rate limit exceeded", "{\"retryAfter\":" + std::to_string(d.retry_after.count()) + "}");
      handle(type, msg);
    } catch (const ApiFailure &f) {
      reply_error(type, text_of(msg, "id"), f.error);
    } catch (const std::exception &e) {
      p_.ctx.log.error("platform_ws_error", {{"what", e.what()}});
      reply_error(type, text_of(msg, "id"), ApiError{500, "INTERNAL_ERROR", "internal error", ""});
    }
  }

  void on_close(std::uint16_t) override
  {
    sub_.reset();
    status_.cancel();
    leave();
  }
  void on_shutdown() override
  {
    leave();
    conn_.send_text(event("connection:lost", session_, "{\"message\":\"the server is stopping\",\"reconnectIn\":5000}"));
    conn_.close(close_code::going_away, "server stopping");
  }

private:
  // No longer a connection of the metrics, nor a watcher of the status.
  void leave()
  {
    if (!counted_) return;
    counted_ = false;
    p_.monitor().connection_closed();
    p_.monitor().unwatch(this);
  }

  void require(const char *permission)
  {
    if (!caller_.can(permission))
      fail(403, "INSUFFICIENT_PERMISSIONS", std::string("this needs the permission ") + permission,
           std::string("{\"required\":") + json_str(permission) + "}");
  }

  void handle(const std::string &type, const JsonDocument &msg)
  {
    const JsonValue &data = sub(msg, "data");
    if (type == "chat:message") return chat(data);
    if (type == "task:submit") return submit(data);
    if (type == "agent:switch") return switch_agent(data);
    if (type == "system:status") return conn_.send_text(event("system:status", session_, p_.system_status()));
    fail(422, "INVALID_INPUT", type.empty() ? "the event has no type" : "unknown event type " + quoted(type));
  }

  void chat(const JsonValue &data)
  {
    require("task:submit");
    if (!data.IsObject()) bad_field("data", "'data' must be an object", data.IsNull());
    JsonDocument body(rapidjson::kObjectType);
    Json j(body);
    j.set(body, "sessionId", session_);
    if (const JsonValue *c = member(data, "content")) j.set(body, "content", j.copy(*c));
    std::string kind = text_of(data, "type", "text");
    if (kind != "text" && kind != "command") bad_field("data.type", "'data.type' must be text or command");
    j.set(body, "type", kind == "command" ? "command" : "chat");
    if (const JsonValue *ctx = member(data, "context")) j.set(body, "context", j.copy(*ctx));
    p_.submit_task(caller_, body, true);
  }

  void submit(const JsonValue &data)
  {
    require("task:submit");
    if (!data.IsObject()) bad_field("data", "'data' must be an object", data.IsNull());
    JsonDocument body;
    body.CopyFrom(data, body.GetAllocator());
    if (!body.HasMember("sessionId")) Json(body).set(body, "sessionId", session_);
    p_.submit_task(caller_, body, false);
  }

  void switch_agent(const JsonValue &data)
  {
    require("agent:configure");
    std::string agent = required_string(data, "agentId", 128);
    const JsonValue *conf = member(data, "configuration");
    if (conf && conf->IsNull()) conf = nullptr;
    if (conf) check_agent_configuration(*conf, true);
    p_.switch_agent(caller_, session_, agent, conf);
    p_.publish(session_, "agent:status", "{\"agentId\":" + json_str(agent) + ",\"status\":\"available\"}");
  }

  void reply_error(const std::string &type, const std::string &id, const ApiError &e)
  {
    std::string data = "{\"code\":" + json_str(e.code) + ",\"message\":" + json_str(utf8_or_replaced(e.message));
    if (!type.empty()) data += ",\"originalEvent\":" + json_str(utf8_or_replaced(type.substr(0, 64)));
    std::string details = e.details.empty() ? "{}" : e.details;
    if (!id.empty()) {
      JsonDocument d = parse_object(details);
      Json(d).set(d, "eventId", utf8_or_replaced(id.substr(0, 128)));
      details = to_json(d);
    }
    conn_.send_text(event("error", session_, data + ",\"details\":" + details + "}"));
  }

  Platform &p_;
  WsConn &conn_;
  Caller caller_;
  std::string session_;
  std::optional<std::uint64_t> since_;
  std::shared_ptr<Subscription> sub_;
  asio::steady_timer status_;
  bool counted_ = false;
};

WsAccept refuse(int status, const char *code, const std::string &message)
{
  WsAccept a;
  a.reject_status = status;
  a.reject_body = error_envelope(ApiError{status, code, message, ""}, new_id("req_"));
  return a;
}

}  // namespace

void install_chat(Platform &p, Router &r)
{
  r.ws("/ws/v1/chat", WsGate([&p](const HttpRequest &req) -> WsAccept {
         std::string token = req.query_param("token").value_or("");
         if (token.empty() && req.header("authorization").rfind("Bearer ", 0) == 0) token = req.header("authorization").substr(7);
         std::string session = req.query_param("sessionId").value_or("");
         try {
           if (token.empty()) fail(401, "AUTH_REQUIRED", "a token is required (?token=)");
           Caller c = p.authenticate(token);
           if (!c.can("session:read")) fail(403, "INSUFFICIENT_PERMISSIONS", "this needs the permission session:read");
           if (session.empty()) bad_field("sessionId", "'sessionId' is required", true);
           p.own_session(c, session);
           std::optional<std::uint64_t> since;
           if (auto last = req.query_param("lastEventId")) {
             since = event_seq(*last);
             if (!since) bad_field("lastEventId", "'lastEventId' must be an event id (evt_N)");
           }
           WsAccept a;
           a.factory = [&p, c, session, since](WsConn &conn) {
             return std::unique_ptr<WsHandler>(new ChatHandler(p, conn, c, session, since));
           };
           return a;
         } catch (const ApiFailure &f) {
           return refuse(f.error.status, f.error.code.c_str(), f.error.message);
         }
       }));
}

}  // namespace ccbridge::detail::server::platform
