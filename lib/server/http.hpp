// Transport-neutral HTTP and WebSocket types: what profiles see of a request and a connection.
// Only lib/server/transport_wspp.cpp knows websocketpp; everything else uses these.
#pragma once

#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::server {

struct HttpRequest {
  std::string method;                         ///< "GET", "POST" ...
  std::string path;                           ///< decoded path, without the query
  std::map<std::string, std::string> query;   ///< decoded query parameters (last one wins)
  std::map<std::string, std::string> headers; ///< lower-case names
  std::string body;
  std::string remote;                         ///< "ip:port" of the peer
  std::map<std::string, std::string> params;  ///< {name} segments of the matched route
  /// Set by the transport for a request it refuses (a header with CR/LF/NUL, a body framing it
  /// does not read): the server answers 400 with this reason and no route sees the request.
  std::string refused;

  std::string header(const std::string &lower_name) const
  {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::optional<std::string> query_param(const std::string &name) const
  {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, std::string body)
  {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

/// Answers one HTTP request, now or later (from the server thread). Calling it twice is ignored.
using HttpReply = std::function<void(HttpResponse)>;

/// One serialised server-to-client text message, shared by every subscriber of a run and sent
/// without copying. `wire` caches the transport's prepared frame (server thread only).
struct Frame {
  explicit Frame(std::string t) : text(std::move(t)) {}
  std::string text;
  mutable std::shared_ptr<void> wire;
};
using FramePtr = std::shared_ptr<const Frame>;

inline FramePtr make_frame(std::string text) { return std::make_shared<const Frame>(std::move(text)); }

/// A WebSocket connection, seen from a profile. Server thread only.
class WsConn {
public:
  virtual ~WsConn() = default;
  virtual void send(const FramePtr &frame) = 0;
  /// Sends several frames in order; a transport may write them at once.
  virtual void send_batch(const FramePtr *frames, std::size_t n)
  {
    for (std::size_t i = 0; i < n; ++i) send(frames[i]);
  }
  void send_text(std::string text) { send(make_frame(std::move(text))); }
  /// Starts the close handshake (idempotent). Frames sent before it are delivered first.
  virtual void close(std::uint16_t code, const std::string &reason) = 0;
  /// Bytes accepted by send() but not yet written to the socket.
  virtual std::size_t buffered() const = 0;
  virtual bool is_open() const = 0;
  /// The upgrade request (path, query, headers, route params).
  virtual const HttpRequest &request() const = 0;
  /// Sends a ping; the peer's pong comes to WsHandler::on_pong (keepalive, liveness probes). The
  /// ping waits behind the frames already queued; nothing is sent once the connection is closing.
  /// Pings and pongs are not activity for the idle timeout.
  virtual void ping() {}
};

/// What a profile does with one WebSocket connection. Server thread only.
class WsHandler {
public:
  virtual ~WsHandler() = default;
  virtual void on_open() {}
  virtual void on_text(std::string_view text) = 0;
  /// The connection is gone (closed by either side or failed); `code` is the close code seen.
  virtual void on_close(std::uint16_t code) = 0;
  /// The server is stopping: end what runs and close with 1001.
  virtual void on_shutdown() = 0;
  /// The peer answered a ping (WsConn::ping).
  virtual void on_pong() {}
};

using WsFactory = std::function<std::unique_ptr<WsHandler>(WsConn &conn)>;
using HttpHandler = std::function<void(const HttpRequest &req, HttpReply reply)>;

/// WebSocket close codes used across profiles (RFC 6455 section 7.4.1).
namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t unsupported_data = 1003;
constexpr std::uint16_t policy_violation = 1008;
constexpr std::uint16_t too_big = 1009;
constexpr std::uint16_t internal_error = 1011;
constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

}  // namespace ccbridge::detail::server
