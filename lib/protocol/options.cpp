// Options -> argv and environment, following the Python SDK's ClaudeAgentOptions mapping
// (SDK-WIRE-SPEC.md 2.4/2.5) but always in the `--flag=value` form for user-controlled values.
#include "detail/json.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>

#include <cctype>
#include <strings.h>
#include <charconv>

#include <fstream>
#include <map>
#include <sstream>

CCB_BEGIN_NAMESPACE

namespace {

std::string join(const std::vector<std::string> &items)
{
  std::string out;
  for (const auto &s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

void flag(std::vector<std::string> &args, std::string_view name, std::string_view value)
{
  std::string a;
  a.reserve(name.size() + value.size() + 3);
  a += "--";
  a += name;
  a += '=';
  a += value;
  args.push_back(std::move(a));
}

void validate_skill(const std::string &name)
{
  bool bad = name.empty() || name.front() == '/';
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7F || c == '(' || c == ')' || c == ',' || c == '*') bad = true;
  if (bad) {
    throw Error(errc::invalid_argument,
                "skill name '" + name + "' is not valid: it must be non-empty, not start with '/', "
                "and contain no control characters, parentheses, commas or '*'");
  }
}

detail::JsonDocument parse_object(std::string_view text, const std::string &what)
{
  detail::JsonDocument doc;
  auto r = detail::parse_exact(doc, text);
  if (r.IsError() || !doc.IsObject()) {
    throw Error(errc::invalid_argument, what + " must be a JSON object" +
                                            (r.IsError() ? std::string(": ") + detail::parse_error_text(r)
                                                         : std::string()));
  }
  return doc;
}

// settings (JSON text or a file path) with the sandbox object merged in as "sandbox".
std::string merged_settings(const Options &o)
{
  std::string text;
  if (o.settings) {
    auto first = o.settings->find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (*o.settings)[first] == '{') {
      text = *o.settings;
    } else {
      // A relative path names a file in the CLI's directory, as the CLI itself would read it.
      std::string path = *o.settings;
      if (o.cwd && !path.empty() && path.front() != '/') path = *o.cwd + "/" + path;
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        throw Error(errc::invalid_argument,
                    "settings file '" + path + "' cannot be read (needed to merge sandbox settings)");
      }
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // a UTF-8 byte order mark
    }
  } else {
    text = "{}";
  }
  auto doc = parse_object(text, "settings");
  auto sandbox = parse_object(*o.sandbox_json, "sandbox settings");
  auto &a = doc.GetAllocator();
  doc.RemoveMember("sandbox");
  detail::JsonValue copy(sandbox, a);
  doc.AddMember("sandbox", copy, a);
  return detail::dump(doc);
}

std::string mcp_config_json(const std::map<std::string, std::string> &servers)
{
  detail::JsonDocument doc;
  doc.SetObject();
  auto &a = doc.GetAllocator();
  detail::JsonValue list(rapidjson::kObjectType);
  for (const auto &[name, config] : servers) {
    auto cfg = parse_object(config, "MCP server config '" + name + "'");
    list.AddMember(detail::JsonValue(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), a),
                   detail::JsonValue(cfg, a), a);
  }
  doc.AddMember("mcpServers", list, a);
  return detail::dump(doc);
}

void check_no_nul(const std::vector<std::string> &args)
{
  for (const auto &a : args) {
    if (a.find('\0') != std::string::npos) {
      throw Error(errc::invalid_argument,
                  "a command-line value contains a NUL byte, which cannot be passed to a process: '" +
                      a.substr(0, a.find('\0')) + "...'");
    }
  }
}

// What EnvInherit::allow_list passes: what the CLI (a Node program that starts shells and tools)
// needs to run, and its own settings. Names ending in '*' are prefixes.
const char *const kEnvAllowList[] = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR", "XDG_*",
    "ANTHROPIC_*", "CLAUDE_*", "DISABLE_*", "MAX_THINKING_TOKENS", "MAX_MCP_OUTPUT_TOKENS", "MCP_TIMEOUT",
    "MCP_TOOL_TIMEOUT", "BASH_DEFAULT_TIMEOUT_MS", "BASH_MAX_TIMEOUT_MS", "BASH_MAX_OUTPUT_LENGTH", "API_TIMEOUT_MS",
    "USE_BUILTIN_RIPGREP", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "IS_SANDBOX"};

// Cloud credentials: passed only when the CLI is told to use that provider.
struct Provider {
  const char *selector;
  std::vector<const char *> names;
};
const Provider kProviders[] = {
    {"CLAUDE_CODE_USE_BEDROCK", {"AWS_*"}},
    {"CLAUDE_CODE_USE_VERTEX", {"GOOGLE_*", "CLOUDSDK_*", "CLOUD_ML_REGION", "VERTEX_REGION_*"}},
    {"CLAUDE_CODE_USE_FOUNDRY", {"AZURE_*"}},
};

// ccbridge's own settings (the gateway's token among them) never reach the CLI by inheritance.
constexpr std::string_view kOwnPrefix = "CCBRIDGE_";

bool matches(std::string_view pattern, std::string_view name)
{
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return name.compare(0, pattern.size(), pattern) == 0;
  }
  return name == pattern;
}

void check_pass_env(const std::string &entry)
{
  std::string_view name = entry;
  if (!name.empty() && name.back() == '*') name.remove_suffix(1);
  bool valid = !name.empty();
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '_')) valid = false;
  if (!valid) {
    throw Error(errc::invalid_argument, "pass_env entry '" + entry +
                                            "' is not a variable name or a prefix ending in '*' (letters, digits, "
                                            "'_'; a lone '*' is not allowed)");
  }
  if (name.compare(0, kOwnPrefix.size(), kOwnPrefix) == 0) {
    throw Error(errc::invalid_argument, "pass_env entry '" + entry + "': ccbridge's own variables (" +
                                            std::string(kOwnPrefix) +
                                            "*, such as the gateway's token) are never passed to the CLI");
  }
}

bool truthy(const std::map<std::string, std::string> &env, const char *name)
{
  auto it = env.find(name);
  return it != env.end() && !it->second.empty() && it->second != "0" && it->second != "false";
}

// The allow-listed part of `all` (the host's variables), given the final `env` (to tell which
// cloud provider is selected).
void inherit_allow_listed(const Options &o, const std::map<std::string, std::string> &all,
                          std::map<std::string, std::string> &env)
{
  std::vector<std::string_view> allowed(std::begin(kEnvAllowList), std::end(kEnvAllowList));
  allowed.insert(allowed.end(), o.pass_env.begin(), o.pass_env.end());
  auto pass = [&](const std::vector<std::string_view> &patterns) {
    for (const auto &[k, v] : all) {
      if (k.compare(0, kOwnPrefix.size(), kOwnPrefix) == 0) continue;
      for (auto pat : patterns) {
        if (matches(pat, k)) {
          env.emplace(k, v);  // an explicit Options::env entry is already there and wins
          break;
        }
      }
    }
  };
  pass(allowed);
  for (const auto &p : kProviders) {
    if (truthy(env, p.selector)) pass(std::vector<std::string_view>(p.names.begin(), p.names.end()));
  }
}

}  // namespace

std::vector<std::string> cli_env_allow_list() { return {std::begin(kEnvAllowList), std::end(kEnvAllowList)}; }

std::vector<std::string> build_cli_args(const Options &o)
{
  std::vector<std::string> args{"--output-format", "stream-json", "--verbose"};

  if (!o.system_prompt) {
    flag(args, "system-prompt", "");
  } else {
    switch (o.system_prompt->kind) {
    case SystemPrompt::Kind::text: flag(args, "system-prompt", o.system_prompt->value); break;
    case SystemPrompt::Kind::file: flag(args, "system-prompt-file", o.system_prompt->value); break;
    case SystemPrompt::Kind::preset:
      if (o.system_prompt->append) flag(args, "append-system-prompt", *o.system_prompt->append);
      break;
    }
  }

  if (o.tools_preset_default) {
    flag(args, "tools", "default");
  } else if (o.tools) {
    flag(args, "tools", join(*o.tools));
  }

  std::vector<std::string> allowed = o.allowed_tools;
  if (o.skills_all) {
    allowed.emplace_back("Skill");
  } else {
    for (const auto &s : o.skills) {
      validate_skill(s);
      allowed.push_back("Skill(" + s + ")");
    }
  }
  if (!allowed.empty()) flag(args, "allowedTools", join(allowed));

  if (o.max_turns && *o.max_turns != 0) {
    if (*o.max_turns < 0) throw Error(errc::invalid_argument, "max_turns must be positive");
    flag(args, "max-turns", std::to_string(*o.max_turns));
  }
  if (o.max_budget_usd) {
    if (!(*o.max_budget_usd >= 0)) throw Error(errc::invalid_argument, "max_budget_usd must be >= 0");
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, *o.max_budget_usd);  // shortest round-trip form
    flag(args, "max-budget-usd", std::string_view(buf, static_cast<std::size_t>(res.ptr - buf)));
  }
  if (!o.disallowed_tools.empty()) flag(args, "disallowedTools", join(o.disallowed_tools));
  if (o.task_budget) flag(args, "task-budget", std::to_string(*o.task_budget));
  if (o.model) flag(args, "model", *o.model);
  if (o.fallback_model) {
    if (o.model && *o.model == *o.fallback_model) {
      throw Error(errc::invalid_argument,
                  "fallback_model must differ from model (both are '" + *o.model + "')");
    }
    flag(args, "fallback-model", *o.fallback_model);
  }
  if (!o.betas.empty()) flag(args, "betas", join(o.betas));
  if (o.permission_prompt_tool_name) flag(args, "permission-prompt-tool", *o.permission_prompt_tool_name);
  if (o.permission_mode) flag(args, "permission-mode", *o.permission_mode);
  if (o.continue_conversation) args.emplace_back("--continue");
  if (o.resume) flag(args, "resume", *o.resume);
  if (o.session_id) flag(args, "session-id", *o.session_id);
  if (o.sandbox_json) {
    flag(args, "settings", merged_settings(o));
  } else if (o.settings) {
    flag(args, "settings", *o.settings);
  }
  for (const auto &d : o.add_dirs) flag(args, "add-dir", d);
  if (o.mcp_config) {
    if (!o.mcp_servers.empty()) {
      throw Error(errc::invalid_argument, "set either mcp_servers or mcp_config, not both");
    }
    flag(args, "mcp-config", *o.mcp_config);
  } else if (!o.mcp_servers.empty()) {
    flag(args, "mcp-config", mcp_config_json(o.mcp_servers));
  }
  if (o.include_partial_messages) args.emplace_back("--include-partial-messages");
  if (o.include_hook_events) args.emplace_back("--include-hook-events");
  if (o.strict_mcp_config) args.emplace_back("--strict-mcp-config");
  if (o.fork_session) args.emplace_back("--fork-session");
  if (o.resume_session_at) flag(args, "resume-session-at", *o.resume_session_at);
  if (o.resume_drops_turn) flag(args, "resume-drops-turn", *o.resume_drops_turn);
  if (o.session_mirror) args.emplace_back("--session-mirror");
  if (o.setting_sources) {
    flag(args, "setting-sources", join(*o.setting_sources));
  } else if (o.skills_all || !o.skills.empty()) {
    flag(args, "setting-sources", "user,project");
  }
  for (const auto &p : o.plugin_dirs) flag(args, "plugin-dir", p);

  for (const auto &[name, value] : o.extra_args) {
    if (name.empty() || name.front() == '-' || name.find_first_of("= \t\r\n") != std::string::npos) {
      throw Error(errc::invalid_argument,
                  "extra_args flag '" + name + "' must be a bare flag name like 'debug-file' "
                  "(no leading dashes, '=' or whitespace)");
    }
    if (value) {
      flag(args, name, *value);
    } else {
      args.push_back("--" + name);
    }
  }

  if (o.thinking) {
    switch (o.thinking->kind) {
    case Thinking::Kind::adaptive: flag(args, "thinking", "adaptive"); break;
    case Thinking::Kind::enabled:
      if (o.thinking->budget_tokens <= 0) {
        throw Error(errc::invalid_argument, "thinking enabled needs budget_tokens > 0");
      }
      flag(args, "max-thinking-tokens", std::to_string(o.thinking->budget_tokens));
      break;
    case Thinking::Kind::disabled: flag(args, "thinking", "disabled"); break;
    }
    if (o.thinking->display) flag(args, "thinking-display", *o.thinking->display);
  } else if (o.max_thinking_tokens) {
    flag(args, "max-thinking-tokens", std::to_string(*o.max_thinking_tokens));
  }
  if (o.effort) flag(args, "effort", *o.effort);
  if (o.json_schema) {
    auto schema = parse_object(*o.json_schema, "json_schema");
    flag(args, "json-schema", detail::dump(schema));
  }

  args.emplace_back("--input-format");
  args.emplace_back("stream-json");
  check_no_nul(args);
  return args;
}

std::vector<std::string> build_cli_env(const Options &o, const std::vector<std::string> &parent)
{
  for (const auto &p : o.pass_env) check_pass_env(p);
  std::map<std::string, std::string> host;
  for (const auto &entry : parent) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    host[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  // The CLI refuses to start inside what looks like another Claude Code session.
  host.erase("CLAUDECODE");
  std::map<std::string, std::string> env;
  if (o.inherit_env == EnvInherit::all) env = host;
  // An entry point the CLI knows as an SDK's ("sdk-cli", "sdk-ts", "sdk-py"): with any other
  // name it adds a description of its agents to every request (about 270 input tokens). "sdk-cli"
  // is the one it gives itself when run without a terminal.
  env["CLAUDE_CODE_ENTRYPOINT"] = "sdk-cli";
  for (const auto &[k, v] : o.env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos ||
        v.find('\0') != std::string::npos) {
      throw Error(errc::invalid_argument,
                  "environment entry '" + k + "' is not valid (empty key, '=' in the key or a NUL byte)");
    }
    env[k] = v;
  }
  if (o.enable_file_checkpointing) env["CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING"] = "true";
  if (o.cwd) {
    env["PWD"] = *o.cwd;
  } else if (o.cwd_dir) {
    env["PWD"] = o.cwd_dir.path();
  }
  if (o.inherit_env == EnvInherit::allow_list) inherit_allow_listed(o, host, env);
  // A label an outer SDK session derived for its own app names that app, not this one (the Python
  // SDK drops it too, whatever its source). client_app wins over env; "" sends no label.
  env.erase("CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP");
  if (o.client_app) {
    if (o.client_app->find('\0') != std::string::npos) {
      throw Error(errc::invalid_argument, "client_app is not valid: it holds a NUL byte");
    }
    env["CLAUDE_AGENT_SDK_CLIENT_APP"] = *o.client_app;
  }
  // Ask for system/session_state_changed, so that a run with callbacks keeps stdin until the CLI
  // reports "idle" (Session::end_input_when_done), as the official SDKs do; unless the caller set
  // a value (in any case). The frames it sends only for this are not delivered (Stream).
  bool chosen = false;
  for (const auto &entry : env) chosen = chosen || strcasecmp(entry.first.c_str(), "CLAUDE_CODE_SDK_READS_SESSION_STATE") == 0;
  if (!chosen) env["CLAUDE_CODE_SDK_READS_SESSION_STATE"] = "1";

  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto &[k, v] : env) out.push_back(k + "=" + v);
  return out;
}

CCB_END_NAMESPACE
