// Profile "hello": the example that docs/ARCHITECTURE.md ("How to add a profile") walks through.
// GET /hello names the profiles this server knows; on WS /ws/hello, {"type":"hello","name":N}
// is answered with {"type":"greeting","text":"Hello, N"}. Not served unless asked for.
#include "server/profile.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

namespace ccbridge::detail::server {
namespace {

class HelloSocket final : public WsHandler {
public:
  explicit HelloSocket(WsConn &conn) : conn_(conn) {}
  void on_text(std::string_view text) override
  {
    JsonView msg;
    try {
      msg = parse_json(text);
    } catch (const Error &) {  // not JSON: refused below, like any other wrong message
    }
    auto name = msg["type"].string_or() == "hello" ? msg["name"].string() : std::nullopt;
    if (!name) return conn_.close(close_code::policy_violation, "send {\"type\":\"hello\",\"name\":\"...\"}");
    conn_.send_text("{\"type\":\"greeting\",\"text\":" + json_str("Hello, " + std::string(*name)) + "}");
  }
  void on_close(std::uint16_t) override {}
  void on_shutdown() override { conn_.close(close_code::going_away, "server shutting down"); }

private:
  WsConn &conn_;
};

void install(Context &, Router &r)
{
  r.http("GET", "/hello", [](const HttpRequest &, const HttpReply &reply) {
    reply(HttpResponse::json(200, "{\"hello\":\"ccbridge\",\"profiles\":" + json_str(profile_names()) + "}"));
  });
  r.ws("/ws/hello", [](WsConn &conn) { return std::make_unique<HelloSocket>(conn); });
}

}  // namespace

Profile hello_profile() { return {"hello", "", 3000, false, install}; }

}  // namespace ccbridge::detail::server
