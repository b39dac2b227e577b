#pragma once

#include "protocol/frames.hpp"   // mcp_response
#include "protocol/jsonrpc.hpp"  // rpc_result, rpc_error, rpc_id

#include <ccbridge/session.hpp>

#include <optional>
#include <string>

namespace ccbridge::detail {

/// Answers one JSON-RPC 2.0 message addressed to an in-process MCP server (runs synchronous tool
/// handlers; a tool with only an async_handler is started by the control layer instead, see
/// called_tool()). Never throws: failures are JSON-RPC errors.
std::string mcp_handle(const McpServer &server, const JsonView &message);

/// The answer to a `tools/call` that must not reach a handler, or nullopt: an unknown tool ("Tool 'x'
/// not found") or arguments its input schema refuses ("Input validation error: ..."), both error
/// results as the Python SDK answers them.
std::optional<std::string> refused_call(const McpServer &server, const JsonView &message);

/// A `tools/call`'s arguments, {} when it has none (as the Python SDK passes them).
JsonView call_arguments(const JsonView &message);

/// The tool that `message` (a `tools/call`) calls, or nullptr (another method, an unknown tool).
const Tool *called_tool(const McpServer &server, const JsonView &message);

/// The JSON-RPC response to the `tools/call` with id `id` (JSON text) that `tool` answered with
/// `result`: {"content":[...],"isError":true?}, or error -32603 if content_json is not a JSON array.
std::string tool_response(const std::string &id, const std::string &tool, const ToolResult &result);

/// The JSON-RPC error -32603 for a tool whose handler threw; call it only inside a catch block.
std::string tool_failure(const std::string &id, const std::string &tool);

}  // namespace ccbridge::detail
