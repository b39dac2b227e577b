// JSON-RPC 2.0 envelopes, shared by the in-process MCP servers (core/mcp.cpp, answering the CLI
// through control responses) and the MCP client (core/mcp_client*.cpp, talking to an external
// server): building requests, notifications, results and errors, and reading a message's kind.
// Plain functions on values: safe from any thread.
#pragma once

#include <ccbridge/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace ccbridge::detail {

/// JSON-RPC error codes used by ccbridge.
inline constexpr int rpc_method_not_found = -32601;
inline constexpr int rpc_invalid_params = -32602;
inline constexpr int rpc_internal_error = -32603;

/// {"jsonrpc":"2.0","id":<id>,"method":<method>,"params":<params>}; `params_json` is JSON text
/// ("" leaves params out).
std::string rpc_request(std::int64_t id, std::string_view method, std::string_view params_json);

/// {"jsonrpc":"2.0","method":<method>,"params":<params>} ("" leaves params out).
std::string rpc_notification(std::string_view method, std::string_view params_json);

/// {"jsonrpc":"2.0","id":<id>,"result":<result>}; `id` and `result` are JSON text.
std::string rpc_result(std::string_view id, std::string_view result);

/// {"jsonrpc":"2.0","id":<id>,"error":{"code":<code>,"message":<message>}}; `id` is JSON text.
std::string rpc_error(std::string_view id, int code, std::string_view message);

/// The JSON-RPC id of `message` as JSON text ("null" if it has none).
std::string rpc_id(const JsonView &message);

enum class RpcKind { request, notification, response, invalid };

/// What `message` is: a request (method and id), a notification (method, no id), a response (id
/// and result or error, no method), or none of these.
RpcKind rpc_kind(const JsonView &message);

}  // namespace ccbridge::detail
