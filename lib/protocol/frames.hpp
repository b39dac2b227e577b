// The outgoing half of the wire: every line ccbridge writes to the CLI's stdin (SDK-WIRE-SPEC),
// and the JSON-RPC envelopes of in-process MCP answers. Each frame is built byte for byte as the
// SDKs write it (tests compare the bytes); a *_frame is one line, newline included.
#pragma once

#include "protocol/jsonrpc.hpp"

#include <ccbridge/json.hpp>

#include <string>
#include <string_view>

namespace ccbridge::detail {

// ---- user messages ------------------------------------------------------------------------------

/// One user message line as the SDKs write it (SDK-WIRE-SPEC 3.2), newline included;
/// `content_json` is a JSON value. query() sends session_id "", a Session "default" (as
/// ClaudeSDKClient does). `client_composed` adds "client_composed":true (Options::verbatim_prompts).
std::string user_frame(std::string_view content_json, std::string_view session_id, bool client_composed = false);

/// `text` as a JSON string. Throws Error(invalid_argument) naming `what` if it is not UTF-8.
std::string text_content(std::string_view text, std::string_view what);

/// `content_json` checked to be a JSON array of content blocks, written compactly. Throws
/// Error(invalid_argument) otherwise.
std::string content_blocks(std::string_view content_json);

/// `text`, a caller's argument that must be JSON of `kind`, parsed; otherwise
/// Error(invalid_argument): `invalid` followed by the parser's reason, or `wrong_kind`.
JsonView parse_argument_json(std::string_view text, JsonKind kind, std::string_view invalid, std::string_view wrong_kind);

// ---- control protocol ---------------------------------------------------------------------------

/// The body of a control request: {"subtype":<subtype>,<the members of fields_json but subtype>}.
/// Throws Error(invalid_argument) if `fields_json` is not a JSON object ("" counts as {}).
std::string control_request_body(std::string_view subtype, std::string_view fields_json);

/// {"type":"control_request","request_id":<id>,"request":<body>}, newline included.
std::string control_request_frame(std::string_view request_id, std::string_view body_json);

/// A success answer to request `request_id` carrying `response_json`, newline included.
std::string control_success_frame(std::string_view request_id, std::string_view response_json);

/// An error answer to request `request_id` with the text `error`, newline included.
std::string control_error_frame(std::string_view request_id, std::string_view error);

// ---- MCP (JSON-RPC 2.0: the envelopes are in protocol/jsonrpc.hpp) ------------------------------

/// The payload of a control response carrying a JSON-RPC message: {"mcp_response":<jsonrpc>}.
std::string mcp_response(std::string_view jsonrpc);

/// The answer to a JSON-RPC notification: MCP wants none, the control protocol one.
std::string rpc_notification_ack();

}  // namespace ccbridge::detail
