// The MCP client's transports (core/mcp_client.cpp): how JSON-RPC messages reach one MCP server
// and come back. stdio (core/mcp_stdio.cpp): a child process, newline-delimited JSON. Streamable
// HTTP (core/mcp_http.cpp): a POST per message, answers as JSON or an SSE stream.
// Threads: every member function is called on the client's strand, and the events run there.
#pragma once

#include "process/channel.hpp"  // Strand

#include <ccbridge/error.hpp>
#include <ccbridge/mcp_client.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ccbridge::detail {

struct McpTransportEvents {
  /// One message from the server (a stdio line, an HTTP JSON body, an SSE event's data).
  std::function<void(std::string_view message)> message;
  /// Request `id` will get no answer through this transport (HTTP: the exchange failed or ended
  /// without one). Ignored by the client if the request is no longer pending.
  std::function<void(std::int64_t id, const Error &why)> request_failed;
  /// The connection is over (the process exited, a stdio line was too long, the HTTP session
  /// expired). At most once, never after close().
  std::function<void(const Error &why)> failed;
};

class McpTransport {
public:
  virtual ~McpTransport() = default;
  /// Connects (stdio: spawns, on an I/O thread so that the child's parent-death signal is tied to
  /// the runtime). Throws Error: invalid_argument, cli_not_found, cwd_not_found, spawn_failed.
  virtual void start(McpTransportEvents events) = 0;
  /// Sends one message; `id` is the request's id, or -1 for notifications and answers.
  virtual void send(std::string message, std::int64_t id) = 0;
  /// The client stopped waiting for request `id` (timeout, cancel): HTTP drops its exchange.
  virtual void abandon(std::int64_t id) = 0;
  /// initialize succeeded with `protocol_version` (HTTP: sent as MCP-Protocol-Version from now on).
  virtual void initialized(const std::string &protocol_version) = 0;
  /// Ends the connection (stdio: the shutdown ladder until reaped; HTTP: DELETE of the session);
  /// `done` runs once, on the strand, when it is over. No event runs after this call.
  virtual void close(std::function<void()> done) = 0;
};

std::shared_ptr<McpTransport> make_stdio_transport(const Strand &strand, const McpServerSpec &spec);
std::shared_ptr<McpTransport> make_http_transport(const Strand &strand, const McpServerSpec &spec);

}  // namespace ccbridge::detail
