// mcp_server_spec_from_json (include/ccbridge/mcp_client.hpp): an McpServerSpec from JSON, so that
// the C ABI and the Python module describe an MCP server the same way. Strict: an unknown key or a
// value of the wrong kind is an error naming the key. Threads: a pure function.
#include "protocol/frames.hpp"  // parse_argument_json

#include <ccbridge/json.hpp>
#include <ccbridge/mcp_client.hpp>

#include <functional>
#include <unordered_map>

CCB_BEGIN_NAMESPACE

namespace {

[[noreturn]] void wrong(std::string_view key, const char *what)
{
  throw Error(errc::invalid_argument, "MCP server spec: '" + std::string(key) + "' " + what);
}

std::string text_of(const JsonView &v, std::string_view key)
{
  if (!v.is_string()) wrong(key, "must be a string");
  return std::string(*v.string());
}

std::vector<std::string> list_of(const JsonView &v, std::string_view key)
{
  if (!v.is_array()) wrong(key, "must be an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) wrong(key, "must be an array of strings");
    out.emplace_back(*v[i].string());
  }
  return out;
}

std::map<std::string, std::string> map_of(const JsonView &v, std::string_view key)
{
  if (!v.is_object()) wrong(key, "must be an object of strings");
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v.value_at(i).is_string()) wrong(key, "must be an object of strings");
    out[std::string(v.key_at(i))] = std::string(*v.value_at(i).string());
  }
  return out;
}

// A positive count up to `max` (timeouts: a year of milliseconds; sizes: 1 GiB).
std::int64_t count_of(const JsonView &v, std::string_view key, std::int64_t max)
{
  auto n = v.int64();
  if (!n || *n <= 0 || *n > max) wrong(key, ("must be an integer from 1 to " + std::to_string(max)).c_str());
  return *n;
}

using Setter = std::function<void(McpServerSpec &, const JsonView &, std::string_view)>;

const std::unordered_map<std::string_view, Setter> &setters()
{
  constexpr std::int64_t kYearMs = std::int64_t{86400000} * 365;
  static const std::unordered_map<std::string_view, Setter> table = {
      {"name", [](auto &s, auto &v, auto k) { s.name = text_of(v, k); }},
      {"command", [](auto &s, auto &v, auto k) { s.command = text_of(v, k); }},
      {"args", [](auto &s, auto &v, auto k) { s.args = list_of(v, k); }},
      {"env", [](auto &s, auto &v, auto k) { s.env = map_of(v, k); }},
      {"cwd", [](auto &s, auto &v, auto k) { s.cwd = text_of(v, k); }},
      {"url", [](auto &s, auto &v, auto k) { s.url = text_of(v, k); }},
      {"headers", [](auto &s, auto &v, auto k) { s.headers = map_of(v, k); }},
      {"connect_timeout_ms",
       [](auto &s, auto &v, auto k) { s.connect_timeout = std::chrono::milliseconds(count_of(v, k, kYearMs)); }},
      {"request_timeout_ms",
       [](auto &s, auto &v, auto k) { s.request_timeout = std::chrono::milliseconds(count_of(v, k, kYearMs)); }},
      {"max_message_bytes",
       [](auto &s, auto &v, auto k) { s.max_message_bytes = static_cast<std::size_t>(count_of(v, k, 1LL << 30)); }},
      {"type", [](auto &, auto &v, auto k) {
         std::string t = text_of(v, k);
         if (t != "stdio" && t != "http") wrong(k, "must be \"stdio\" or \"http\" (SSE servers are not supported)");
       }},
  };
  return table;
}

}  // namespace

McpServerSpec mcp_server_spec_from_json(std::string_view json)
{
  JsonView v = detail::parse_argument_json(json, JsonKind::object, "MCP server spec: not valid JSON: ",
                                           "MCP server spec: must be a JSON object");
  McpServerSpec spec;
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string_view key = v.key_at(i);
    auto it = setters().find(key);
    if (it == setters().end()) {
      throw Error(errc::invalid_argument,
                  "MCP server spec: unknown key '" + std::string(key) +
                      "' (known: name, type, command, args, env, cwd, url, headers, connect_timeout_ms, "
                      "request_timeout_ms, max_message_bytes)");
    }
    if (!v.value_at(i).is_null()) it->second(spec, v.value_at(i), key);  // null keeps the default
  }
  std::string_view type = v["type"].string_or();
  if ((type == "stdio" && spec.command.empty()) || (type == "http" && spec.url.empty())) {
    throw Error(errc::invalid_argument, "MCP server spec: type \"" + std::string(type) + "\" needs '" +
                                            (type == "stdio" ? "command" : "url") + "'");
  }
  return spec;
}

CCB_END_NAMESPACE
