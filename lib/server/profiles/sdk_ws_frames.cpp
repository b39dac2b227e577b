// The frames of seed 003 (EnhancedClaudeWebSocketServer) that carry more than a type: their
// shapes are the original's, so its clients read them unchanged.
#include "server/profiles/sdk_ws_frames.hpp"

#include "protocol/json_scan.hpp"

namespace ccbridge::detail::server::sdk_ws {

// {"type":"error","data":{"error":why}}, with "code" and `extra` members when given.
std::string error_frame(std::string_view why, std::string_view code, std::string_view extra)
{
  return "{\"type\":\"error\",\"data\":{\"error\":" + json_str(why) +
         (code.empty() ? std::string() : ",\"code\":" + json_str(code)) + (extra.empty() ? "" : ",") +
         std::string(extra) + "}}";
}

// The seed's parameter shape ({name: {type, required, enum}}) or a JSON Schema object, as a
// JSON Schema object.
bool to_schema(const JsonView &params, std::string &schema, std::string &why)
{
  if (!params.exists() || params.is_null()) {
    schema = R"({"type":"object","properties":{}})";
    return true;
  }
  if (!params.is_object()) {
    why = "'parameters' must be an object";
    return false;
  }
  if (params["type"].string_or() == "object" && params["properties"].is_object()) {
    schema = params.dump();
    return true;
  }
  std::string props, required;
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::string_view name = params.key_at(i);
    JsonView p = params.value_at(i);
    if (!p.is_object()) {
      why = "parameter '" + std::string(name) + "' must be an object like {\"type\":\"string\"}";
      return false;
    }
    std::string prop = "{";
    bool first = true;
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (p.key_at(k) == "required") continue;
      prop += (first ? "" : ",") + json_str(p.key_at(k)) + ":" + p.value_at(k).dump();
      first = false;
    }
    prop += "}";
    props += (props.empty() ? "" : ",") + json_str(name) + ":" + prop;
    if (p["required"].boolean().value_or(false)) required += (required.empty() ? "" : ",") + json_str(name);
  }
  schema = "{\"type\":\"object\",\"properties\":{" + props + "}" +
           (required.empty() ? "" : ",\"required\":[" + required + "]") + "}";
  return true;
}

// An assistant message as the seed's assistant_message frame, with the content array as the CLI
// wrote it (no DOM on the hot path). A Premap: runs on the I/O thread that read the line.
bool assistant_frame(const Message &m, std::string &frame)
{
  if (!m.is(MessageType::assistant)) return false;
  auto content = json_member_span(m.raw(), {"message", "content"});
  bool array = content && !content->empty() && content->front() == '[';
  frame.reserve(m.raw().size() + 48);
  frame += "{\"type\":\"assistant_message\",\"data\":{\"content\":";
  frame += array ? *content : std::string_view("[]");
  frame += "}}";
  return true;
}

// Tool results come back in user messages; the seed's clients read them as assistant_message.
std::string tool_results_frame(const Message &m)
{
  if (m.raw().find("\"tool_result\"") == std::string_view::npos) return {};
  JsonView content = m.json()["message"]["content"];
  if (!content.is_array()) return {};
  std::string blocks;
  for (std::size_t i = 0; i < content.size(); ++i) {
    JsonView b = content[i];
    if (b["type"].string_or() != "tool_result") continue;
    blocks += (blocks.empty() ? "" : ",") + std::string("{\"type\":\"tool_result\",\"tool_use_id\":") +
              json_str(b["tool_use_id"].string_or()) +
              ",\"content\":" + (b["content"].exists() ? b["content"].dump() : std::string("null")) +
              ",\"is_error\":" + (b["is_error"].boolean().value_or(false) ? "true" : "false") + "}";
  }
  return blocks.empty() ? std::string() : "{\"type\":\"assistant_message\",\"data\":{\"content\":[" + blocks + "]}}";
}

std::string result_frame(const JsonView &j)
{
  auto num = [&](const char *k) { return j[k].exists() ? j[k].dump() : std::string("null"); };
  return "{\"type\":\"result_message\",\"data\":{\"subtype\":" + json_str(j["subtype"].string_or()) +
         ",\"cost_usd\":" + num("total_cost_usd") + ",\"duration_ms\":" + num("duration_ms") +
         ",\"session_id\":" + num("session_id") + ",\"total_cost_usd\":" + num("total_cost_usd") +
         ",\"num_turns\":" + num("num_turns") + ",\"usage\":" + num("usage") + ",\"is_error\":" + num("is_error") +
         ",\"result\":" + num("result") + "}}";
}

// The fields of a permission_request frame after its request_id.
std::string permission_fields(const PermissionRequest &r)
{
  return "\"tool_name\":" + json_str(r.tool_name) + ",\"input\":" + r.input.dump() +
         ",\"tool_use_id\":" + json_str(r.tool_use_id) + ",\"decision_reason\":" + json_str(r.decision_reason) +
         ",\"suggestions\":" + (r.suggestions.exists() ? r.suggestions.dump() : std::string("[]"));
}

std::string connection_established(const std::string &id, bool resumable, const std::string *token, bool resumed,
                                   std::uint64_t since)
{
  return "{\"type\":\"connection_established\",\"data\":{\"session_id\":" + json_str(id) +
         ",\"capabilities\":{\"concurrent_input\":true,\"tool_definition\":true,\"interrupt_query\":true,"
         "\"permission_requests\":true,\"resume\":" +
         (resumable ? "true" : "false") + "}" + (token ? ",\"resume_token\":" + json_str(*token) : std::string()) +
         (resumed ? ",\"resumed\":true,\"since_seq\":" + std::to_string(since) : std::string()) + "}}";
}

}  // namespace ccbridge::detail::server::sdk_ws
