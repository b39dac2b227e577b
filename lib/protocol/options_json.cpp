// Options from JSON: the Python SDK's ClaudeAgentOptions field names and shapes, so that the C ABI,
// the Python module and server config files describe a run the same way. Strict on purpose: an
// unknown key or a value of the wrong kind is an error naming the key, never silently ignored.
#include "detail/json.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

CCB_BEGIN_NAMESPACE

namespace {

using detail::JsonValue;

[[noreturn]] void bad(const std::string &key, const std::string &what)
{
  throw Error(errc::invalid_argument, "option '" + key + "' " + what);
}

std::string str(const JsonValue &v, const std::string &key)
{
  if (!v.IsString()) bad(key, "must be a string");
  return {v.GetString(), v.GetStringLength()};
}

std::optional<std::string> opt_str(const JsonValue &v, const std::string &key)
{
  if (v.IsNull()) return std::nullopt;
  return str(v, key);
}

bool boolean(const JsonValue &v, const std::string &key)
{
  if (v.IsNull()) return false;
  if (!v.IsBool()) bad(key, "must be true or false");
  return v.GetBool();
}

std::int64_t integer(const JsonValue &v, const std::string &key, std::int64_t lo, std::int64_t hi)
{
  if (!v.IsInt64()) bad(key, "must be an integer");
  auto n = v.GetInt64();
  if (n < lo || n > hi) bad(key, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  return n;
}

std::optional<int> opt_int(const JsonValue &v, const std::string &key)
{
  if (v.IsNull()) return std::nullopt;
  return static_cast<int>(integer(v, key, 0, std::numeric_limits<int>::max()));
}

std::size_t size(const JsonValue &v, const std::string &key, std::size_t fallback)
{
  if (v.IsNull()) return fallback;
  return static_cast<std::size_t>(integer(v, key, 1, std::numeric_limits<std::int64_t>::max()));
}

std::chrono::milliseconds millis(const JsonValue &v, const std::string &key, std::chrono::milliseconds fallback)
{
  if (v.IsNull()) return fallback;
  return std::chrono::milliseconds(integer(v, key, 0, 86400000LL * 365));
}

std::vector<std::string> strings(const JsonValue &v, const std::string &key)
{
  std::vector<std::string> out;
  if (v.IsNull()) return out;
  if (!v.IsArray()) bad(key, "must be an array of strings");
  for (const auto &e : v.GetArray()) {
    if (!e.IsString()) bad(key, "must be an array of strings");
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

std::map<std::string, std::string> string_map(const JsonValue &v, const std::string &key)
{
  std::map<std::string, std::string> out;
  if (v.IsNull()) return out;
  if (!v.IsObject()) bad(key, "must be an object of strings");
  for (const auto &m : v.GetObject()) {
    if (!m.value.IsString()) bad(key, "must be an object of strings ('" + std::string(m.name.GetString()) + "' is not)");
    out.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                std::string(m.value.GetString(), m.value.GetStringLength()));
  }
  return out;
}

std::string object_text(const JsonValue &v, const std::string &key)
{
  if (!v.IsObject()) bad(key, "must be an object");
  return detail::dump(v);
}

// "type" of a tagged object such as {"type": "preset", ...}.
std::string_view tag(const JsonValue &v) { return detail::get_string(v, "type"); }

void system_prompt(Options &o, const JsonValue &v, const std::string &key)
{
  if (v.IsNull()) {
    o.system_prompt.reset();
  } else if (v.IsString()) {
    o.system_prompt = SystemPrompt::text(str(v, key));
  } else if (v.IsObject() && tag(v) == "preset") {
    auto append = detail::get_string(v, "append");
    o.system_prompt = SystemPrompt::preset(v.HasMember("append") ? std::optional<std::string>(append) : std::nullopt);
  } else if (v.IsObject() && tag(v) == "file") {
    if (!v.HasMember("path") || !v["path"].IsString()) bad(key, "of type file needs a string 'path'");
    o.system_prompt = SystemPrompt::file(str(v["path"], key));
  } else {
    bad(key, "must be a string, {\"type\": \"preset\", \"preset\": \"claude_code\", \"append\"?: ...} or "
             "{\"type\": \"file\", \"path\": ...}");
  }
}

void tools(Options &o, const JsonValue &v, const std::string &key)
{
  o.tools_preset_default = false;
  o.tools.reset();
  if (v.IsNull()) return;
  if (v.IsObject() && tag(v) == "preset") {
    o.tools_preset_default = true;
  } else if (v.IsArray()) {
    o.tools = strings(v, key);
  } else {
    bad(key, "must be an array of tool names or {\"type\": \"preset\", \"preset\": \"claude_code\"}");
  }
}

void skills(Options &o, const JsonValue &v, const std::string &key)
{
  o.skills_all = false;
  o.skills.clear();
  if (v.IsString() && std::string_view(v.GetString()) == "all") o.skills_all = true;
  else if (v.IsNull() || v.IsArray()) o.skills = strings(v, key);
  else bad(key, "must be \"all\" or an array of skill names");
}

void mcp_servers(Options &o, const JsonValue &v, const std::string &key)
{
  o.mcp_servers.clear();
  o.mcp_config.reset();
  if (v.IsNull()) return;
  if (v.IsString()) {
    o.mcp_config = str(v, key);
    return;
  }
  if (!v.IsObject()) bad(key, "must be an object of server configs or a path / JSON string");
  for (const auto &m : v.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsObject()) bad(key, "entry '" + name + "' must be an object");
    if (tag(m.value) == "sdk") {
      bad(key, "entry '" + name + "' is an in-process (sdk) server: register it as a tool server, not as JSON");
    }
    o.mcp_servers.emplace(name, detail::dump(m.value));
  }
}

void thinking(Options &o, const JsonValue &v, const std::string &key)
{
  if (v.IsNull()) {
    o.thinking.reset();
    return;
  }
  if (!v.IsObject()) bad(key, "must be an object with 'type' adaptive, enabled or disabled");
  Thinking t;
  auto type = tag(v);
  if (type == "adaptive") t.kind = Thinking::Kind::adaptive;
  else if (type == "enabled") t.kind = Thinking::Kind::enabled;
  else if (type == "disabled") t.kind = Thinking::Kind::disabled;
  else bad(key, "'type' must be adaptive, enabled or disabled");
  if (t.kind == Thinking::Kind::enabled) {
    if (!v.HasMember("budget_tokens")) bad(key, "of type enabled needs 'budget_tokens'");
    t.budget_tokens = static_cast<int>(integer(v["budget_tokens"], key + ".budget_tokens", 1, std::numeric_limits<int>::max()));
  }
  if (v.HasMember("display")) t.display = opt_str(v["display"], key + ".display");
  o.thinking = t;
}

void output_format(Options &o, const JsonValue &v, const std::string &key)
{
  if (v.IsNull()) {
    o.json_schema.reset();
    return;
  }
  if (!v.IsObject() || tag(v) != "json_schema" || !v.HasMember("schema") || !v["schema"].IsObject())
    bad(key, "must be {\"type\": \"json_schema\", \"schema\": {...}}");
  o.json_schema = detail::dump(v["schema"]);
}

void extra_args(Options &o, const JsonValue &v, const std::string &key)
{
  o.extra_args.clear();
  if (v.IsNull()) return;
  if (!v.IsObject()) bad(key, "must be an object of flag -> string or null");
  for (const auto &m : v.GetObject()) {
    std::string flag(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsNull() && !m.value.IsString()) bad(key, "value of '" + flag + "' must be a string or null");
    o.extra_args.emplace_back(flag, opt_str(m.value, key));
  }
}

void plugins(Options &o, const JsonValue &v, const std::string &key)
{
  o.plugin_dirs.clear();
  if (v.IsNull()) return;
  if (!v.IsArray()) bad(key, "must be an array of {\"type\": \"local\", \"path\": ...}");
  for (const auto &p : v.GetArray()) {
    if (!p.IsObject() || tag(p) != "local" || !p.HasMember("path") || !p["path"].IsString())
      bad(key, "entries must be {\"type\": \"local\", \"path\": ...}");
    o.plugin_dirs.push_back(str(p["path"], key));
  }
}

void task_budget(Options &o, const JsonValue &v, const std::string &key)
{
  if (v.IsNull()) o.task_budget.reset();
  else if (v.IsObject() && v.HasMember("total")) o.task_budget = static_cast<int>(integer(v["total"], key + ".total", 1, std::numeric_limits<int>::max()));
  else o.task_budget = static_cast<int>(integer(v, key, 1, std::numeric_limits<int>::max()));
}

void shutdown(Options &o, const JsonValue &v, const std::string &key)
{
  ShutdownPolicy d;
  if (v.IsNull()) {
    o.shutdown = d;
    return;
  }
  if (!v.IsObject()) bad(key, "must be an object with exit_wait_ms, cancel_grace_ms, term_wait_ms, drain_wait_ms");
  for (const auto &m : v.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    std::string k = key + "." + std::string(name);
    if (name == "exit_wait_ms") o.shutdown.exit_wait = millis(m.value, k, d.exit_wait);
    else if (name == "cancel_grace_ms") o.shutdown.cancel_grace = millis(m.value, k, d.cancel_grace);
    else if (name == "term_wait_ms") o.shutdown.term_wait = millis(m.value, k, d.term_wait);
    else if (name == "drain_wait_ms") o.shutdown.drain_wait = millis(m.value, k, d.drain_wait);
    else throw Error(errc::invalid_argument, "unknown option '" + k + "'");
  }
}

using Setter = void (*)(Options &, const JsonValue &, const std::string &);

const std::unordered_map<std::string_view, Setter> &setters()
{
  static const std::unordered_map<std::string_view, Setter> table{
      {"system_prompt", system_prompt},
      {"tools", tools},
      {"allowed_tools", [](Options &o, const JsonValue &v, const std::string &k) { o.allowed_tools = strings(v, k); }},
      {"disallowed_tools", [](Options &o, const JsonValue &v, const std::string &k) { o.disallowed_tools = strings(v, k); }},
      {"skills", skills},
      {"max_turns", [](Options &o, const JsonValue &v, const std::string &k) { o.max_turns = opt_int(v, k); }},
      {"max_budget_usd",
       [](Options &o, const JsonValue &v, const std::string &k) {
         if (v.IsNull()) o.max_budget_usd.reset();
         else if (!v.IsNumber() || !std::isfinite(v.GetDouble()) || v.GetDouble() < 0) bad(k, "must be a non-negative number");
         else o.max_budget_usd = v.GetDouble();
       }},
      {"task_budget", task_budget},
      {"model", [](Options &o, const JsonValue &v, const std::string &k) { o.model = opt_str(v, k); }},
      {"fallback_model", [](Options &o, const JsonValue &v, const std::string &k) { o.fallback_model = opt_str(v, k); }},
      {"betas", [](Options &o, const JsonValue &v, const std::string &k) { o.betas = strings(v, k); }},
      {"permission_prompt_tool_name",
       [](Options &o, const JsonValue &v, const std::string &k) { o.permission_prompt_tool_name = opt_str(v, k); }},
      {"permission_mode", [](Options &o, const JsonValue &v, const std::string &k) { o.permission_mode = opt_str(v, k); }},
      {"continue_conversation",
       [](Options &o, const JsonValue &v, const std::string &k) { o.continue_conversation = boolean(v, k); }},
      {"resume", [](Options &o, const JsonValue &v, const std::string &k) { o.resume = opt_str(v, k); }},
      {"session_id", [](Options &o, const JsonValue &v, const std::string &k) { o.session_id = opt_str(v, k); }},
      {"settings", [](Options &o, const JsonValue &v, const std::string &k) { o.settings = opt_str(v, k); }},
      {"sandbox",
       [](Options &o, const JsonValue &v, const std::string &k) {
         if (v.IsNull()) o.sandbox_json.reset();
         else o.sandbox_json = object_text(v, k);
       }},
      {"add_dirs", [](Options &o, const JsonValue &v, const std::string &k) { o.add_dirs = strings(v, k); }},
      {"mcp_servers", mcp_servers},
      {"include_partial_messages",
       [](Options &o, const JsonValue &v, const std::string &k) { o.include_partial_messages = boolean(v, k); }},
      {"include_hook_events",
       [](Options &o, const JsonValue &v, const std::string &k) { o.include_hook_events = boolean(v, k); }},
      {"strict_mcp_config",
       [](Options &o, const JsonValue &v, const std::string &k) { o.strict_mcp_config = boolean(v, k); }},
      {"fork_session", [](Options &o, const JsonValue &v, const std::string &k) { o.fork_session = boolean(v, k); }},
      {"resume_session_at", [](Options &o, const JsonValue &v, const std::string &k) { o.resume_session_at = opt_str(v, k); }},
      {"resume_drops_turn", [](Options &o, const JsonValue &v, const std::string &k) { o.resume_drops_turn = opt_str(v, k); }},
      {"session_mirror", [](Options &o, const JsonValue &v, const std::string &k) { o.session_mirror = boolean(v, k); }},
      {"setting_sources",
       [](Options &o, const JsonValue &v, const std::string &k) {
         if (v.IsNull()) o.setting_sources.reset();
         else o.setting_sources = strings(v, k);
       }},
      {"plugins", plugins},
      {"plugin_dirs", [](Options &o, const JsonValue &v, const std::string &k) { o.plugin_dirs = strings(v, k); }},
      {"thinking", thinking},
      {"max_thinking_tokens", [](Options &o, const JsonValue &v, const std::string &k) { o.max_thinking_tokens = opt_int(v, k); }},
      {"effort", [](Options &o, const JsonValue &v, const std::string &k) { o.effort = opt_str(v, k); }},
      {"output_format", output_format},
      {"extra_args", extra_args},
      {"enable_file_checkpointing",
       [](Options &o, const JsonValue &v, const std::string &k) { o.enable_file_checkpointing = boolean(v, k); }},
      {"client_app", [](Options &o, const JsonValue &v, const std::string &k) { o.client_app = opt_str(v, k); }},
      {"verbatim_prompts",
       [](Options &o, const JsonValue &v, const std::string &k) { o.verbatim_prompts = boolean(v, k); }},
      {"forward_subagent_text",
       [](Options &o, const JsonValue &v, const std::string &k) { o.forward_subagent_text = boolean(v, k); }},
      {"env", [](Options &o, const JsonValue &v, const std::string &k) { o.env = string_map(v, k); }},
      {"inherit_env",
       [](Options &o, const JsonValue &v, const std::string &k) {
         auto mode = opt_str(v, k).value_or("all");
         if (mode != "all" && mode != "allow_list") bad(k, "must be \"all\" or \"allow_list\"");
         o.inherit_env = mode == "all" ? EnvInherit::all : EnvInherit::allow_list;
       }},
      {"pass_env", [](Options &o, const JsonValue &v, const std::string &k) { o.pass_env = strings(v, k); }},
      {"cli_path", [](Options &o, const JsonValue &v, const std::string &k) { o.cli_path = opt_str(v, k); }},
      {"cwd", [](Options &o, const JsonValue &v, const std::string &k) { o.cwd = opt_str(v, k); }},
      {"user", [](Options &o, const JsonValue &v, const std::string &k) { o.user = opt_str(v, k); }},
      // The Python SDK's name for the longest stdout line it accepts.
      {"max_buffer_size",
       [](Options &o, const JsonValue &v, const std::string &k) { o.max_line_bytes = size(v, k, Options{}.max_line_bytes); }},
      {"max_line_bytes",
       [](Options &o, const JsonValue &v, const std::string &k) { o.max_line_bytes = size(v, k, Options{}.max_line_bytes); }},
      {"stderr_tail_bytes",
       [](Options &o, const JsonValue &v, const std::string &k) {
         o.stderr_tail_bytes = v.IsNull() ? Options{}.stderr_tail_bytes
                                          : static_cast<std::size_t>(integer(v, k, 0, std::int64_t{1} << 40));
       }},
      {"max_buffered_messages",
       [](Options &o, const JsonValue &v, const std::string &k) {
         o.max_buffered_messages = size(v, k, Options{}.max_buffered_messages);
       }},
      {"max_buffered_bytes",
       [](Options &o, const JsonValue &v, const std::string &k) {
         o.max_buffered_bytes = size(v, k, Options{}.max_buffered_bytes);
       }},
      {"shutdown", shutdown},
  };
  return table;
}

}  // namespace

void merge_options_json(Options &options, std::string_view json)
{
  detail::JsonDocument doc;
  auto r = detail::parse_exact<detail::kParseFlags | rapidjson::kParseValidateEncodingFlag>(doc, json);
  if (r.IsError()) {
    throw Error(errc::invalid_argument, std::string("options are not valid JSON: ") + detail::parse_error_text(r) +
                                            " at offset " + std::to_string(r.Offset()));
  }
  const JsonValue &v = doc;
  if (!v.IsObject()) throw Error(errc::invalid_argument, "options must be a JSON object");
  // Work on a copy so that a bad key leaves `options` as it was.
  Options out = options;
  const auto &table = setters();
  for (const auto &m : v.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    auto it = table.find(key);
    if (it == table.end()) throw Error(errc::invalid_argument, "unknown option '" + key + "'");
    it->second(out, m.value, key);
  }
  options = std::move(out);
}

Options options_from_json(std::string_view json)
{
  Options o;
  merge_options_json(o, json);
  return o;
}

CCB_END_NAMESPACE
