// In-process MCP servers: the JSON-RPC 2.0 side of `mcp_message` control requests
// (initialize, notifications, tools/list, tools/call), and the hook output encoding.
#include "core/mcp.hpp"

#include "core/json_schema.hpp"

#include <ccbridge/json.hpp>

CCB_BEGIN_NAMESPACE

ToolResult ToolResult::text(std::string_view text)
{
  ToolResult r;
  r.content_json = R"([{"type":"text","text":)";
  append_json_string(r.content_json, text);
  r.content_json += "}]";
  return r;
}

ToolResult ToolResult::error(std::string_view message)
{
  ToolResult r = text(message);
  r.is_error = true;
  return r;
}

HookOutput HookOutput::deny_tool(std::string why)
{
  HookOutput o;
  std::string s = R"({"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":)";
  append_json_string(s, why);
  o.hook_specific_json = s + "}";
  return o;
}

HookOutput HookOutput::allow_tool(std::string why)
{
  HookOutput o;
  std::string s = R"({"hookEventName":"PreToolUse","permissionDecision":"allow","permissionDecisionReason":)";
  append_json_string(s, why);
  o.hook_specific_json = s + "}";
  return o;
}

std::string HookOutput::to_json(std::string_view) const
{
  std::string out = "{";
  auto field = [&out](const char *name) {
    if (out.size() > 1) out += ',';
    append_json_string(out, name);
    out += ':';
  };
  if (continue_) {
    field("continue");
    out += *continue_ ? "true" : "false";
  }
  if (stop_reason) {
    field("stopReason");
    append_json_string(out, *stop_reason);
  }
  if (suppress_output) {
    field("suppressOutput");
    out += *suppress_output ? "true" : "false";
  }
  if (decision) {
    field("decision");
    append_json_string(out, *decision);
  }
  if (reason) {
    field("reason");
    append_json_string(out, *reason);
  }
  if (system_message) {
    field("systemMessage");
    append_json_string(out, *system_message);
  }
  if (!hook_specific_json.empty()) {
    field("hookSpecificOutput");
    out += detail::parse_argument_json(hook_specific_json, JsonKind::object,
                                       "HookOutput::hook_specific_json is not valid JSON: ",
                                       "HookOutput::hook_specific_json must be a JSON object")
               .dump();
  }
  out += '}';
  return out;
}

CCB_END_NAMESPACE

namespace ccbridge::detail {

namespace {

std::string tools_list(const McpServer &server)
{
  std::string s = R"({"tools":[)";
  bool first = true;
  for (const auto &t : server.tools) {
    if (!first) s += ',';
    first = false;
    s += R"({"name":)";
    append_json_string(s, t.name);
    s += R"(,"description":)";
    append_json_string(s, t.description);
    s += R"(,"inputSchema":)" + t.input_schema_json;
    if (!t.annotations_json.empty()) s += R"(,"annotations":)" + t.annotations_json;
    if (!t.meta_json.empty()) s += R"(,"_meta":)" + t.meta_json;
    s += '}';
  }
  return s + "]}";
}

// An error result (not a JSON-RPC error), which the model reads, as the Python SDK answers.
std::string error_result(const std::string &id, std::string_view text)
{
  std::string r = R"({"content":[{"type":"text","text":)";
  append_json_string(r, text);
  return rpc_result(id, r + R"(}],"isError":true})");
}

}  // namespace

JsonView call_arguments(const JsonView &message)
{
  JsonView args = message["params"]["arguments"];
  return args.exists() && !args.is_null() ? args : parse_json("{}");
}

std::optional<std::string> refused_call(const McpServer &server, const JsonView &message)
{
  if (!message["id"].exists() || message["method"].string_or() != "tools/call") return std::nullopt;
  std::string id = rpc_id(message);
  const Tool *t = called_tool(server, message);
  if (!t) return error_result(id, "Tool '" + std::string(message["params"]["name"].string_or()) + "' not found");
  JsonView schema;
  try {
    schema = parse_json(t->input_schema_json);
  } catch (const Error &e) {
    return error_result(id, "tool '" + t->name + "' has an input schema that is not valid JSON: " + e.detail());
  }
  auto failure = validate_json_schema(schema, call_arguments(message));
  if (!failure) return std::nullopt;
  return error_result(id, failure->invalid_input ? "Input validation error: " + failure->message : failure->message);
}

const Tool *called_tool(const McpServer &server, const JsonView &message)
{
  if (!message["id"].exists() || message["method"].string_or() != "tools/call") return nullptr;
  std::string_view name = message["params"]["name"].string_or();
  for (const auto &t : server.tools)
    if (t.name == name) return &t;
  return nullptr;
}

std::string tool_response(const std::string &id, const std::string &tool, const ToolResult &result)
{
  JsonView content;
  try {
    content = parse_json(result.content_json);
  } catch (const Error &) {
  }
  if (!content.is_array())
    return rpc_error(id, rpc_internal_error, "tool '" + tool + "' returned content that is not a JSON array");
  std::string out = R"({"content":)" + content.dump();
  out += result.is_error ? R"(,"isError":true)" : R"(,"isError":false)";
  return rpc_result(id, out + "}");
}

std::string tool_failure(const std::string &id, const std::string &tool)
{
  try {
    throw;
  } catch (const std::exception &e) {
    return rpc_error(id, rpc_internal_error, "tool '" + tool + "' failed: " + e.what());
  } catch (...) {
    return rpc_error(id, rpc_internal_error, "tool '" + tool + "' failed with a non-standard exception");
  }
}

namespace {

std::string tools_call(const McpServer &server, const std::string &id, const JsonView &message)
{
  if (auto refused = refused_call(server, message)) return *refused;
  const Tool *t = called_tool(server, message);
  if (!t->handler) return rpc_error(id, rpc_internal_error, "tool '" + t->name + "' has no synchronous handler");
  try {
    return tool_response(id, t->name, t->handler(call_arguments(message)));
  } catch (...) {
    return tool_failure(id, t->name);
  }
}

}  // namespace

std::string mcp_handle(const McpServer &server, const JsonView &message)
{
  std::string id = rpc_id(message);
  std::string_view method = message["method"].string_or();
  if (!message["id"].exists() || method.rfind("notifications/", 0) == 0) {
    // Notifications need no answer in MCP, but the control protocol wants one: an empty result.
    return rpc_notification_ack();
  }
  if (method == "initialize") {
    std::string version(message["params"]["protocolVersion"].string_or("2024-11-05"));
    std::string r = R"({"protocolVersion":)";
    append_json_string(r, version);
    r += R"(,"capabilities":{"tools":{"listChanged":false}},"serverInfo":{"name":)";
    append_json_string(r, server.name);
    r += R"(,"version":)";
    append_json_string(r, server.version);
    return rpc_result(id, r + "}}");
  }
  if (method == "tools/list") return rpc_result(id, tools_list(server));
  if (method == "tools/call") return tools_call(server, id, message);
  if (method == "ping") return rpc_result(id, "{}");
  return rpc_error(id, rpc_method_not_found, "method not found: " + std::string(method));
}

}  // namespace ccbridge::detail
