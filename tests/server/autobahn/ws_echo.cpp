// The gateway's own Transport (lib/server/transport_wspp.cpp, the websocketpp setup every endpoint
// uses) with an echo handler, so that the Autobahn|Testsuite fuzzing client can run its sections
// 1-10 against the real framing layer (the endpoints themselves do not echo). Built and run by
// run.sh beside this file. Usage: ws_echo PORT [MAX_MESSAGE_BYTES]
#include "server/transport.hpp"
#include <asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
using namespace ccbridge::detail::server;
struct Echo final : WsHandler {
  explicit Echo(WsConn &c) : c_(c) {}
  void on_text(std::string_view t) override { c_.send_text(std::string(t)); }
  void on_close(std::uint16_t) override {}
  void on_shutdown() override { c_.close(1001, "bye"); }
  WsConn &c_;
};
struct H final : TransportHandler {
  void http(std::size_t, HttpRequest &, HttpReply reply) override { reply(HttpResponse::json(404, "{}")); }
  WsAccept upgrade(std::size_t, HttpRequest &) override {
    WsAccept a; a.factory = [](WsConn &c) { return std::unique_ptr<WsHandler>(new Echo(c)); }; return a;
  }
};
int main(int argc, char **argv) {
  asio::io_context ioc{1};
  H h;
  TransportLimits lim;  // the server's defaults: 1 MiB messages
  if (argc > 2) lim.max_ws_message_bytes = std::strtoul(argv[2], nullptr, 10);
  Transport t(ioc, h, lim);
  auto port = t.listen(0, "127.0.0.1", static_cast<std::uint16_t>(std::atoi(argv[1])));
  std::printf("listening %u\n", port); std::fflush(stdout);
  asio::signal_set sig(ioc, SIGTERM, SIGINT);
  sig.async_wait([&](std::error_code, int) { t.stop_accepting(); t.abort_connections(); ioc.stop(); });
  ioc.run();
}
