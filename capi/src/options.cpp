// Options: the CLI options as JSON, the session settings, and the C callbacks (stderr, permission,
// hooks, in-process tools), each wrapped in a std::function that owns the caller's user data.
#include "capi.hpp"

#include <algorithm>
#include <stdexcept>

namespace ccbridge::detail::capi {

namespace {

// Keys of ccb_options_set_json that configure the session rather than the CLI.
constexpr std::string_view kSessionKeys[] = {"initialize", "initialize_timeout_ms", "control_timeout_ms"};

bool is_session_key(std::string_view key)
{
  return std::find(std::begin(kSessionKeys), std::end(kSessionKeys), key) != std::end(kSessionKeys);
}

JsonView parse_object(const char *json, const char *what)
{
  JsonView v;
  try {
    v = parse_json(json);
  } catch (const Error &e) {
    throw Error(errc::invalid_argument, std::string(what) + ": not valid JSON (" + e.detail() + ")");
  }
  if (!v.is_object()) throw Error(errc::invalid_argument, std::string(what) + ": must be a JSON object");
  return v;
}

std::chrono::milliseconds millis(const JsonView &v, std::string_view key)
{
  auto n = v.int64();
  if (!n || *n < 0 || *n > std::int64_t{86400000} * 365) {
    throw Error(errc::invalid_argument, "option '" + std::string(key) + "' must be a number of milliseconds");
  }
  return std::chrono::milliseconds(*n);
}

// Applies the session keys of `v` to `so` and returns the other keys as a JSON object text.
std::string split_session_keys(const JsonView &v, SessionOptions &so)
{
  std::string rest = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string_view key = v.key_at(i);
    JsonView value = v.value_at(i);
    if (!is_session_key(key)) {
      if (rest.size() > 1) rest += ',';
      append_json_string(rest, key);
      rest += ':' + value.dump();
    } else if (key == "initialize") {
      if (!value.is_bool()) throw Error(errc::invalid_argument, "option 'initialize' must be true or false");
      so.initialize = *value.boolean();
    } else if (key == "initialize_timeout_ms") {
      so.initialize_timeout = millis(value, key);
    } else {
      so.control_timeout = millis(value, key);
    }
  }
  return rest + "}";
}

// The handle a permission callback receives: the request as C strings, and the reply.
ccb_permission make_permission(const PermissionRequest &r, PermissionReply reply)
{
  auto data = std::make_shared<PermissionData>();
  data->tool_name = r.tool_name;
  data->input_json = r.input.exists() ? r.input.dump() : "{}";
  data->request_json = r.request.exists() ? r.request.dump() : "{}";
  return ccb_permission{std::move(reply), std::move(data)};
}

ToolResult to_tool_result(const JsonView &v)
{
  ToolResult r;
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string_view key = v.key_at(i);
    JsonView value = v.value_at(i);
    if (key == "content" && value.is_array()) {
      r.content_json = value.dump();
    } else if (key == "isError" && value.is_bool()) {
      r.is_error = *value.boolean();
    } else {
      throw Error(errc::invalid_argument, "unknown or malformed tool result key '" + std::string(key) +
                                              "' (a tool result has 'content', an array, and 'isError', a boolean)");
    }
  }
  if (!v["content"].exists()) throw Error(errc::invalid_argument, "a tool result needs 'content' (an array)");
  return r;
}

HookOutput to_hook_output(const JsonView &v)
{
  HookOutput o;
  auto text = [](const JsonView &value, std::string_view key) {
    if (!value.is_string()) throw Error(errc::invalid_argument, "hook output '" + std::string(key) + "' must be a string");
    return std::string(*value.string());
  };
  auto flag = [](const JsonView &value, std::string_view key) {
    if (!value.is_bool()) throw Error(errc::invalid_argument, "hook output '" + std::string(key) + "' must be a boolean");
    return *value.boolean();
  };
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string_view key = v.key_at(i);
    JsonView value = v.value_at(i);
    if (key == "continue") o.continue_ = flag(value, key);
    else if (key == "stopReason") o.stop_reason = text(value, key);
    else if (key == "suppressOutput") o.suppress_output = flag(value, key);
    else if (key == "decision") o.decision = text(value, key);
    else if (key == "reason") o.reason = text(value, key);
    else if (key == "systemMessage") o.system_message = text(value, key);
    else if (key == "hookSpecificOutput" && value.is_object()) o.hook_specific_json = value.dump();
    else throw Error(errc::invalid_argument, "unknown or malformed hook output key '" + std::string(key) + "'");
  }
  return o;
}

// A hook or tool callback's status: anything but CCB_OK becomes an exception, which the core turns
// into an error answer to the CLI.
void check_callback_status(int status, const char *what)
{
  if (status != CCB_OK) {
    throw std::runtime_error(std::string("the C ") + what + " callback returned " + ccb_errc_name(status) + " (" +
                             std::to_string(status) + ")");
  }
}

}  // namespace

}  // namespace ccbridge::detail::capi

using namespace ccbridge;
using namespace ccbridge::detail::capi;

extern "C" {

int ccb_options_new(ccb_options_t **out)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    *out = new ccb_options();
    return CCB_OK;
  });
}

void ccb_options_free(ccb_options_t *opts) { delete opts; }

int ccb_options_set_json(ccb_options_t *opts, const char *json)
{
  return guarded([&] {
    need(opts, "opts");
    JsonView v = parse_object(need(json, "json"), "options");
    SessionOptions so = opts->session;  // all or nothing: work on a copy
    merge_options_json(so.options, split_session_keys(v, so));
    opts->session = std::move(so);
    return CCB_OK;
  });
}

int ccb_options_set_runtime(ccb_options_t *opts, ccb_runtime_t *runtime)
{
  return guarded([&] {
    need(opts, "opts")->runtime = runtime ? runtime->runtime : nullptr;
    return CCB_OK;
  });
}

int ccb_options_set_stderr_callback(ccb_options_t *opts, ccb_stderr_cb cb, void *user, ccb_user_free_fn user_free)
{
  return guarded([&] {
    need(opts, "opts");
    StderrCallback fn;
    UserPtr u;
    if (cb) {
      u = make_user(user);
      fn = [cb, u](std::string_view line) {
        std::string s(line);
        cb(s.c_str(), s.size(), u->user);
      };
    }
    opts->session.options.stderr_callback = std::move(fn);
    if (u) u->user_free = user_free;
    return CCB_OK;
  });
}

int ccb_options_set_permission_callback(ccb_options_t *opts, ccb_permission_cb cb, void *user,
                                        ccb_user_free_fn user_free)
{
  return guarded([&] {
    need(opts, "opts");
    PermissionCallback fn;
    UserPtr u;
    if (cb) {
      u = make_user(user);
      fn = [cb, u](const PermissionRequest &r, PermissionReply reply) {
        ccb_permission borrowed = make_permission(r, std::move(reply));
        cb(&borrowed, u->user);
      };
    }
    opts->session.can_use_tool = std::move(fn);
    if (u) u->user_free = user_free;
    return CCB_OK;
  });
}

int ccb_options_add_hook(ccb_options_t *opts, const char *event, const char *matcher, int timeout_s, ccb_hook_cb cb,
                         void *user, ccb_user_free_fn user_free)
{
  return guarded([&] {
    need(opts, "opts");
    if (!*need(event, "event")) throw Error(errc::invalid_argument, "the hook event name is empty");
    need(cb, "cb");
    if (timeout_s < 0) throw Error(errc::invalid_argument, "the hook timeout must be >= 0 seconds");
    UserPtr u = make_user(user);
    HookMatcher m;
    if (matcher) m.matcher = std::string(matcher);
    if (timeout_s > 0) m.timeout = std::chrono::seconds(timeout_s);
    m.callbacks.push_back([cb, u](const HookInput &in) {
      ccb_output out(ccb_output::Kind::hook);
      std::string input = in.input.exists() ? in.input.dump() : "{}";
      check_callback_status(cb(input.c_str(), &out, u->user), "hook");
      return out.hook;
    });
    opts->session.hooks[event].push_back(std::move(m));
    u->user_free = user_free;
    return CCB_OK;
  });
}

int ccb_options_add_tool(ccb_options_t *opts, const char *server, const char *name, const char *description,
                         const char *input_schema_json, ccb_tool_cb cb, void *user, ccb_user_free_fn user_free)
{
  return guarded([&] {
    need(opts, "opts");
    if (!*need(server, "server")) throw Error(errc::invalid_argument, "the MCP server name is empty");
    if (!*need(name, "name")) throw Error(errc::invalid_argument, "the tool name is empty");
    need(cb, "cb");
    Tool tool;
    tool.name = name;
    tool.description = description ? description : "";
    if (input_schema_json) tool.input_schema_json = parse_object(input_schema_json, "the input schema").dump();
    auto &servers = opts->session.mcp_servers;
    auto it = std::find_if(servers.begin(), servers.end(), [&](const McpServer &s) { return s.name == server; });
    if (it == servers.end()) it = servers.insert(servers.end(), McpServer{server, "1.0.0", {}});
    for (const auto &t : it->tools) {
      if (t.name == tool.name) {
        throw Error(errc::invalid_argument, "tool '" + tool.name + "' is already on MCP server '" + it->name + "'");
      }
    }
    UserPtr u = make_user(user);
    tool.handler = [cb, u](const JsonView &arguments) {
      ccb_output out(ccb_output::Kind::tool);
      std::string args = arguments.exists() ? arguments.dump() : "{}";
      check_callback_status(cb(args.c_str(), &out, u->user), "tool");
      if (!out.set) throw Error(errc::invalid_argument, "the C tool callback set no result (ccb_output_set_text)");
      return out.tool;
    };
    it->tools.push_back(std::move(tool));
    u->user_free = user_free;
    return CCB_OK;
  });
}

int ccb_output_set_json(ccb_output_t *output, const char *json)
{
  return guarded([&] {
    need(output, "output");
    JsonView v = parse_object(need(json, "json"), output->kind == ccb_output::Kind::hook ? "hook output" : "tool result");
    if (output->kind == ccb_output::Kind::hook) {
      output->hook = to_hook_output(v);
    } else {
      output->tool = to_tool_result(v);
    }
    output->set = true;
    return CCB_OK;
  });
}

int ccb_output_set_text(ccb_output_t *output, const char *text, int is_error)
{
  return guarded([&] {
    need(output, "output");
    need(text, "text");
    if (output->kind != ccb_output::Kind::tool) {
      throw Error(errc::invalid_argument, "ccb_output_set_text is for tool results; hooks use ccb_output_set_json");
    }
    output->tool = is_error ? ToolResult::error(text) : ToolResult::text(text);
    output->set = true;
    return CCB_OK;
  });
}

}  // extern "C"
