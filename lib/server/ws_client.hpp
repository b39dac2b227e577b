// A WebSocket client (ws:// and wss://) on an io_context the caller runs: `ccbridge agent` dials
// its control plane with it. The implementation (ws_client_wspp.cpp) is the one translation unit
// of the client that includes websocketpp; it is built into the ccbridge program, not the
// libraries (lib/app/CMakeLists.txt). Every handler runs on the io_context's thread.
#pragma once

#include <asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace ccbridge::detail::server {

struct WsClientOptions {
  std::string url;          ///< ws://, wss://, or http:// and https:// (rewritten as the original does)
  std::string bearer;       ///< sent as `Authorization: Bearer <bearer>`
  std::string ca_file;      ///< PEM roots for wss://; empty: the system's default verify paths
  bool tls_skip_verify = false;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds ping_interval{10000};
  /// Nothing heard (no frame, no pong) this long: the connection is closed as dead.
  std::chrono::milliseconds idle_limit{30000};
  std::size_t max_message_bytes = 16u << 20;
};

/// One open connection.
class WsClientLink {
public:
  virtual ~WsClientLink() = default;
  virtual void send(const std::string &text) = 0;
  /// Bytes handed to send() and not yet written to the socket.
  virtual std::size_t buffered() const = 0;
  virtual void close(int code, const std::string &reason) = 0;
};

struct WsClientHandlers {
  std::function<void(std::shared_ptr<WsClientLink>)> open;
  std::function<void(const std::string &text)> message;
  /// Exactly once per dial: the link closed (close code and reason, 1006 if none), or the dial
  /// failed (`error` then says why, for the log).
  std::function<void(int code, const std::string &reason, const std::string &error)> closed;
};

class WsDialer {
public:
  virtual ~WsDialer() = default;
  /// One connection attempt; its handlers run until `closed`.
  virtual void dial(WsClientHandlers h) = 0;
};

/// `url` as dialled: http:// becomes ws://, https:// becomes wss://, anything else is kept.
std::string ws_url(const std::string &url);
/// Throws Error(invalid_argument) for a URL that is not ws:// or wss:// after ws_url().
std::unique_ptr<WsDialer> make_ws_dialer(asio::io_context &ioc, WsClientOptions options);

}  // namespace ccbridge::detail::server
