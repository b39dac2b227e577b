#pragma once

#include <ccbridge/session.hpp>

#include <string>

namespace ccbridge::detail {

/// Answers one JSON-RPC 2.0 message addressed to an in-process MCP server (runs tool handlers).
/// Never throws: failures are JSON-RPC errors.
std::string mcp_handle(const McpServer &server, const JsonView &message);

}  // namespace ccbridge::detail
