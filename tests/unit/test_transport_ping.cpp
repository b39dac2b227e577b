// The transport's WebSocket pings (lib/server/transport_wspp.cpp): WsConn::ping reaches the peer,
// its pong reaches WsHandler::on_pong, the peer's own pings are answered, and a ping once the
// connection is closing sends nothing; over plain TCP and over TLS (Transport::use_tls). The
// client is a few lines of raw RFC 6455 over Asio, so each frame on the wire is checked.
#include "temp_dir.hpp"

#include "server/transport.hpp"

#include <ccbridge/error.hpp>

#include <doctest/doctest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <sys/socket.h>

using namespace ccbridge::detail::server;

namespace {

// on_open: ping. on_pong: says so in a text frame. "ping": pings again. "close then ping": closes,
// then pings (which must send nothing).
struct PingHandler final : WsHandler {
  explicit PingHandler(WsConn &c) : conn(c) {}
  void on_open() override { conn.ping(); }
  void on_text(std::string_view t) override
  {
    if (t == "ping") conn.ping();
    if (t == "close then ping") {
      conn.close(close_code::normal, "bye");
      conn.ping();
    }
  }
  void on_pong() override { conn.send_text("pong " + std::to_string(++pongs)); }
  void on_close(std::uint16_t) override {}
  void on_shutdown() override { conn.close(close_code::going_away, "bye"); }
  WsConn &conn;
  int pongs = 0;
};

struct Accept final : TransportHandler {
  void http(std::size_t, HttpRequest &, HttpReply reply) override { reply(HttpResponse::json(404, "{}")); }
  WsAccept upgrade(std::size_t, HttpRequest &) override
  {
    WsAccept a;
    a.factory = [](WsConn &c) { return std::unique_ptr<WsHandler>(new PingHandler(c)); };
    return a;
  }
};

// A Transport on its own thread, with TLS when cert/key are given.
struct Served {
  Served(const std::string &cert = {}, const std::string &key = {})
  {
    if (!cert.empty()) transport.use_tls(cert, key);
    port = transport.listen(0, "127.0.0.1", 0);
    thread = std::thread([this] { ioc.run(); });
  }
  ~Served()
  {
    // As the server's own stop: the aborted connections are let go (their TLS shutdown included)
    // before the loop stops; stopped at once, a loaded machine left the pending TLS connection to
    // LeakSanitizer. The close handshake's grace timer would keep the loop 10 s longer.
    asio::post(ioc, [this] {
      transport.stop_accepting();
      transport.abort_connections();
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      std::promise<std::size_t> open;
      asio::post(ioc, [&] { open.set_value(transport.open_connections()); });
      if (open.get_future().get() == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    asio::post(ioc, [this] { asio::post(ioc, [this] { ioc.stop(); }); });
    thread.join();
  }
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
  Accept handler;
  Transport transport{ioc, handler, TransportLimits{}};
  std::uint16_t port = 0;
  std::thread thread;
};

struct Frame {
  int opcode = -1;
  std::string payload;
};

// A blocking client on a Stream (a TCP socket, or a TLS stream over one).
template <class Stream>
struct Client {
  explicit Client(Stream &s) : stream(s) {}

  void upgrade()
  {
    std::string req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    asio::write(stream, asio::buffer(req));
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) head += byte();
    REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  }
  // A masked client frame (RFC 6455 5.3), payload under 126 bytes.
  void send(int opcode, const std::string &payload)
  {
    const unsigned char mask[4] = {1, 2, 3, 4};
    std::string f{static_cast<char>(0x80 | opcode), static_cast<char>(0x80 | payload.size())};
    f.append(reinterpret_cast<const char *>(mask), 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    asio::write(stream, asio::buffer(f));
  }
  Frame read()
  {
    Frame f;
    f.opcode = static_cast<unsigned char>(byte()) & 0x0F;
    std::size_t n = static_cast<unsigned char>(byte()) & 0x7F;
    if (n == 126) n = (static_cast<unsigned char>(byte()) << 8) | static_cast<unsigned char>(byte());
    for (std::size_t i = 0; i < n; ++i) f.payload += byte();
    return f;
  }
  char byte()
  {
    char c = 0;
    asio::read(stream, asio::buffer(&c, 1));  // throws on EOF or the receive timeout
    return c;
  }
  Stream &stream;
};

// A reply that does not come fails the test after 10 s instead of hanging it: the socket is shut
// down, so the blocked read ends with EOF (Asio's blocking reads do not honour SO_RCVTIMEO).
struct Watchdog {
  explicit Watchdog(asio::ip::tcp::socket &s)
      : thread([this, fd = s.native_handle()] {
          std::unique_lock<std::mutex> lk(mu);
          if (!cv.wait_for(lk, std::chrono::seconds(10), [this] { return done; })) ::shutdown(fd, SHUT_RDWR);
        })
  {
  }
  ~Watchdog()
  {
    {
      std::lock_guard<std::mutex> lk(mu);
      done = true;
    }
    cv.notify_all();
    thread.join();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread thread;
};

template <class Stream>
void check_pings(Stream &stream)
{
  Client<Stream> c(stream);
  c.upgrade();
  Frame ping = c.read();  // the handler's on_open ping
  CHECK(ping.opcode == 0x9);
  c.send(0xA, ping.payload);
  Frame seen = c.read();
  CHECK(seen.opcode == 0x1);
  CHECK(seen.payload == "pong 1");  // on_pong was delivered
  c.send(0x9, "are you there");     // the peer's own ping is answered with its payload
  Frame pong = c.read();
  CHECK(pong.opcode == 0xA);
  CHECK(pong.payload == "are you there");
  c.send(0x1, "ping");
  CHECK(c.read().opcode == 0x9);
  c.send(0xA, "");
  CHECK(c.read().payload == "pong 2");
  c.send(0x1, "close then ping");
  Frame close = c.read();  // the close frame, no ping before it
  CHECK(close.opcode == 0x8);
}

void make_cert(const TempDir &dir)
{
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 "
                    "-keyout '" + dir / "key.pem" + "' -out '" + dir / "cert.pem" + "' >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

}  // namespace

TEST_CASE("transport: ping reaches the peer, its pong reaches on_pong, the peer's pings are answered")
{
  Served server;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), server.port});
  Watchdog dog(s);
  check_pings(s);
}

TEST_CASE("transport: pings and pongs over TLS (use_tls)")
{
  TempDir dir;
  make_cert(dir);
  Served server(dir / "cert.pem", dir / "key.pem");
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(dir / "cert.pem");
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<asio::ip::tcp::socket> tls(io, ctx);
  tls.next_layer().connect({asio::ip::make_address("127.0.0.1"), server.port});
  Watchdog dog(tls.next_layer());
  tls.handshake(asio::ssl::stream_base::client);
  check_pings(tls);
}

TEST_CASE("transport: use_tls refuses a missing file and a key that does not match, naming them")
{
  TempDir dir;
  make_cert(dir);
  asio::io_context ioc;
  Accept handler;
  Transport t(ioc, handler, TransportLimits{});
  CHECK_THROWS_WITH_AS(t.use_tls(dir / "nope.pem", dir / "key.pem"), doctest::Contains((dir / "nope.pem").c_str()),
                       ccbridge::Error);
  REQUIRE(std::system(("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + dir / "other.pem" +
                       "' >/dev/null 2>&1").c_str()) == 0);
  CHECK_THROWS_WITH_AS(t.use_tls(dir / "cert.pem", dir / "other.pem"), doctest::Contains("does not match"),
                       ccbridge::Error);
  CHECK_NOTHROW(t.use_tls(dir / "cert.pem", dir / "key.pem"));
}
