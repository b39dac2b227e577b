// The network transport: listeners that serve HTTP requests and WebSocket connections, over TLS or
// not. The only implementation (transport_wspp.cpp) is the one translation unit that includes
// websocketpp.
#pragma once

#include "server/http.hpp"

#include <asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ccbridge::detail::server {

/// The answer to a WebSocket upgrade request.
struct WsAccept {
  int reject_status = 0;        ///< non-zero: refuse the upgrade with this HTTP status
  std::string reject_body;      ///< body of the refusal (JSON unless reject_content_type says)
  std::string reject_content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> reject_headers;  ///< e.g. Retry-After
  WsFactory factory;            ///< makes the connection's handler once it is open
  std::uint16_t close_code = 0; ///< accept, then close at once with this code (e.g. 1008 for auth)
  std::string close_reason;
  /// This connection's TransportLimits::messages_per_second instead of the server's (0: none),
  /// e.g. for a trusted peer that streams, such as a cc-control agent.
  std::optional<std::size_t> messages_per_second;
};

/// What the transport calls; implemented by the server. All calls come on the server thread.
class TransportHandler {
public:
  virtual ~TransportHandler() = default;
  virtual void http(std::size_t listener, HttpRequest &req, HttpReply reply) = 0;
  virtual WsAccept upgrade(std::size_t listener, HttpRequest &req) = 0;
};

struct TransportLimits {
  std::size_t max_connections = 1024;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_ws_message_bytes = 1 << 20;
  std::chrono::milliseconds idle_timeout{0};
  std::size_t messages_per_second = 0;  ///< per connection; 0: no limit
};

class Transport {
public:
  Transport(asio::io_context &ioc, TransportHandler &handler, TransportLimits limits);
  ~Transport();
  /// Serves TLS only (https://, wss://) on every listener bound after this, with this PEM
  /// certificate (chain) and private key (PKCS#8 or traditional, unencrypted), one TLS context
  /// for all. Throws Error(invalid_argument) naming the file when one cannot be read or the key
  /// does not match the certificate.
  void use_tls(const std::string &cert_file, const std::string &key_file);
  /// Binds host:port (port 0: any) for listener number `listener`; returns the bound port.
  /// Throws Error(io_error) when the address cannot be bound.
  std::uint16_t listen(std::size_t listener, const std::string &host, std::uint16_t port);
  /// Stops accepting new connections (open ones stay).
  void stop_accepting();
  /// Tells every open connection's handler that the server is stopping.
  void shutdown_connections();
  /// Force-closes whatever is still open (after the graceful phase).
  void abort_connections();
  std::size_t open_connections() const;
  /// WebSocket upgrades accepted whose connection is not open yet (they count against
  /// max_connections too).
  std::size_t pending_handshakes() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ccbridge::detail::server
