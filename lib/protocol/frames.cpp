#include "protocol/frames.hpp"

#include "protocol/utf8.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

namespace ccbridge::detail {

std::string user_frame(std::string_view content_json, std::string_view session_id, bool client_composed)
{
  std::string f = R"({"type":"user","session_id":)";
  append_json_string(f, session_id);
  f += R"(,"message":{"role":"user","content":)";
  f += content_json;
  f += R"(},"parent_tool_use_id":null)";
  f += client_composed ? R"(,"client_composed":true})" : "}";
  f += '\n';
  return f;
}

std::string text_content(std::string_view text, std::string_view what)
{
  std::size_t bad = 0;
  if (!valid_utf8(text.data(), text.size(), &bad)) {
    throw Error(errc::invalid_argument,
                std::string(what) + " is not valid UTF-8 (first bad byte at offset " + std::to_string(bad) + ")");
  }
  std::string content;
  append_json_string(content, text);
  return content;
}

JsonView parse_argument_json(std::string_view text, JsonKind kind, std::string_view invalid, std::string_view wrong_kind)
{
  JsonView v;
  try {
    v = parse_json(text);
  } catch (const Error &e) {
    throw Error(errc::invalid_argument, std::string(invalid) + e.detail());
  }
  if (v.kind() != kind) throw Error(errc::invalid_argument, std::string(wrong_kind));
  return v;
}

std::string content_blocks(std::string_view content_json)
{
  return parse_argument_json(content_json, JsonKind::array, "content_json is not valid JSON: ",
                             "content_json must be a JSON array of content blocks")
      .dump();
}

std::string control_request_body(std::string_view subtype, std::string_view fields_json)
{
  JsonView fields = parse_argument_json(fields_json.empty() ? "{}" : fields_json, JsonKind::object,
                                        "control request fields are not valid JSON: ",
                                        "control request fields must be a JSON object");
  std::string body = R"({"subtype":)";
  append_json_string(body, subtype);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields.key_at(i) == "subtype") continue;
    body += ',';
    append_json_string(body, fields.key_at(i));
    body += ':';
    body += fields.value_at(i).dump();
  }
  body += '}';
  return body;
}

namespace {

// <head><request_id as a JSON string><key><value_json><tail>: the shape of every control frame.
std::string control_frame(std::string_view head, std::string_view request_id, std::string_view key,
                          std::string_view value_json, std::string_view tail)
{
  std::string f(head);
  append_json_string(f, request_id);
  f += key;
  f += value_json;
  f += tail;
  return f;
}

}  // namespace

std::string control_request_frame(std::string_view request_id, std::string_view body_json)
{
  return control_frame(R"({"type":"control_request","request_id":)", request_id, R"(,"request":)", body_json, "}\n");
}

std::string control_success_frame(std::string_view request_id, std::string_view response_json)
{
  return control_frame(R"({"type":"control_response","response":{"subtype":"success","request_id":)", request_id,
                       R"(,"response":)", response_json, "}}\n");
}

std::string control_error_frame(std::string_view request_id, std::string_view error)
{
  std::string text;
  append_json_string(text, error);
  return control_frame(R"({"type":"control_response","response":{"subtype":"error","request_id":)", request_id,
                       R"(,"error":)", text, "}}\n");
}

std::string mcp_response(std::string_view jsonrpc)
{
  std::string s = R"({"mcp_response":)";
  s += jsonrpc;
  s += '}';
  return s;
}

std::string rpc_notification_ack() { return R"({"jsonrpc":"2.0","result":{}})"; }

}  // namespace ccbridge::detail
