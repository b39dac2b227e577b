// The frames of profile "sdk-ws" (seed 003) that carry more than a type. See sdk_ws.cpp.
#pragma once

#include "server/context.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/message.hpp>
#include <ccbridge/session.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace ccbridge::detail::server::sdk_ws {

/// {"type":"error","data":{"error":why}}, with "code" and the `extra` members when given.
std::string error_frame(std::string_view why, std::string_view code = {}, std::string_view extra = {});
/// The first frame of a connection; `token` for the client that opened a resumable conversation,
/// `resumed` and `since` for one that resumes it.
std::string connection_established(const std::string &id, bool resumable, const std::string *token, bool resumed,
                                   std::uint64_t since);
/// define_tool's "parameters" (the seed's {name: {type, required, enum}} or a JSON Schema object) as
/// a JSON Schema object; false with `why` if malformed.
bool to_schema(const JsonView &params, std::string &schema, std::string &why);
/// A Premap: an assistant message as assistant_message, on the I/O thread that read it.
bool assistant_frame(const Message &m, std::string &frame);
/// The tool_result blocks of a user message as an assistant_message frame, or "" if it has none.
std::string tool_results_frame(const Message &m);
/// A result message as result_message.
std::string result_frame(const JsonView &result);
/// The fields of a permission_request frame after its request_id.
std::string permission_fields(const PermissionRequest &r);

}  // namespace ccbridge::detail::server::sdk_ws
