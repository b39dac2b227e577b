#include "core/control.hpp"
#include "core/run_setup.hpp"
#include "protocol/utf8.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/session.hpp>

#include <future>

CCB_BEGIN_NAMESPACE

struct Session::Impl {
  std::shared_ptr<Stream::State> state;
  Stream stream;
  std::shared_ptr<detail::ControlLayer> control;
  SessionOptions options;
  JsonView server_info;
  std::vector<Message> partial_turn;  // receive_response() progress kept across a timeout
  bool closed = false;
  bool input_ended = false;

  Impl(std::shared_ptr<Stream::State> s, SessionOptions o)
      : state(s), stream(std::move(s)), options(std::move(o))
  {
  }

  JsonView call(std::string subtype, std::string fields, std::chrono::milliseconds timeout)
  {
    if (detail::on_io_thread()) {
      throw Error(errc::would_deadlock, "Session control request '" + subtype +
                                            "' made on a ccbridge I/O thread (inside a message callback?)");
    }
    struct Result {
      std::error_code ec;
      std::string text;
      JsonView response;
    };
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    control->request(std::move(subtype), std::move(fields), timeout,
                     [promise](std::error_code ec, std::string text, JsonView response) {
                       promise->set_value({ec, std::move(text), std::move(response)});
                     });
    Result r = future.get();
    if (r.ec) throw Error(r.ec, r.text);
    return r.response;
  }

  void send_frame(std::string content_json)
  {
    if (closed || state->finished()) {
      throw Error(errc::closed, "the session is closed (the CLI has exited or close() was called); open a new one");
    }
    if (input_ended) throw Error(errc::closed, "end_input() was called: the session takes no more messages");
    state->write(detail::user_frame(content_json, "default"));
  }
};

Session::Session(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Session::Session(Session &&) noexcept = default;

Session &Session::operator=(Session &&other) noexcept
{
  if (this != &other) {
    if (impl_) close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Session::~Session()
{
  if (impl_) close();
}

namespace {
Session::Impl &checked(const std::unique_ptr<Session::Impl> &impl)
{
  if (!impl) throw Error(errc::invalid_argument, "this Session was moved from");
  return *impl;
}
}  // namespace

namespace {

// The "hooks" field of initialize: {"<Event>":[{"matcher":..,"hookCallbackIds":["hook_0",..],"timeout":s}]}.
std::string init_hooks(const SessionOptions &so, std::map<std::string, HookCallback> &ids)
{
  if (!so.hooks.empty() && !so.initialize) {
    throw Error(errc::invalid_argument, "hooks are registered by initialize: keep SessionOptions::initialize true");
  }
  if (so.hooks.empty()) return R"({"hooks":null})";
  std::string out = R"({"hooks":{)";
  bool first_event = true;
  for (const auto &[event, matchers] : so.hooks) {
    if (!first_event) out += ',';
    first_event = false;
    append_json_string(out, event);
    out += ":[";
    for (std::size_t m = 0; m < matchers.size(); ++m) {
      if (m) out += ',';
      out += R"({"matcher":)";
      if (matchers[m].matcher) {
        append_json_string(out, *matchers[m].matcher);
      } else {
        out += "null";
      }
      out += R"(,"hookCallbackIds":[)";
      for (std::size_t c = 0; c < matchers[m].callbacks.size(); ++c) {
        if (!matchers[m].callbacks[c]) throw Error(errc::invalid_argument, "an empty hook callback for " + event);
        std::string id = "hook_" + std::to_string(ids.size());
        ids.emplace(id, matchers[m].callbacks[c]);
        if (c) out += ',';
        append_json_string(out, id);
      }
      out += ']';
      if (matchers[m].timeout) out += R"(,"timeout":)" + std::to_string(matchers[m].timeout->count());
      out += '}';
    }
    out += ']';
  }
  return out + "}}";
}

// Exactly one of handler and async_handler.
void check_tool(const McpServer &server, const Tool &tool)
{
  std::string which = "tool '" + tool.name + "' of MCP server '" + server.name + "'";
  if (!tool.handler && !tool.async_handler) {
    throw Error(errc::invalid_argument, which + " has no handler: set Tool::handler or Tool::async_handler");
  }
  if (tool.handler && tool.async_handler) {
    throw Error(errc::invalid_argument, which + " sets both Tool::handler and Tool::async_handler: set exactly one");
  }
}

}  // namespace

Session Session::open(Runtime &runtime, SessionOptions so)
{
  if (so.can_use_tool) {
    if (so.options.permission_prompt_tool_name) {
      throw Error(errc::invalid_argument,
                  "SessionOptions::can_use_tool and Options::permission_prompt_tool_name cannot both be set");
    }
    so.options.permission_prompt_tool_name = "stdio";  // permission prompts come over the control protocol
  }
  detail::ControlLayer::Handlers handlers;
  handlers.can_use_tool = so.can_use_tool;
  std::string init_fields = init_hooks(so, handlers.hooks);
  for (const auto &server : so.mcp_servers) {
    if (server.name.empty()) throw Error(errc::invalid_argument, "an in-process MCP server needs a name");
    for (const auto &tool : server.tools) check_tool(server, tool);
    if (so.options.mcp_config) {
      throw Error(errc::invalid_argument, "in-process MCP servers cannot be combined with Options::mcp_config "
                                          "(a path or verbatim JSON); use Options::mcp_servers instead");
    }
    std::string cfg = R"({"type":"sdk","name":)";
    append_json_string(cfg, server.name);
    if (!so.options.mcp_servers.emplace(server.name, cfg + "}").second ||
        !handlers.mcp_servers.emplace(server.name, std::make_shared<const McpServer>(server)).second) {
      throw Error(errc::invalid_argument, "MCP server name '" + server.name + "' is used twice");
    }
  }
  detail::SpawnRequest req = detail::prepare_spawn(so.options);
  auto state = std::make_shared<Stream::State>(runtime.impl(), so.options);
  auto control = std::make_shared<detail::ControlLayer>(state, std::move(handlers));
  state->control_ = control;
  try {
    state->start(std::move(req));
  } catch (...) {
    state->control_.reset();  // the state and its control layer point at each other
    throw;
  }

  so.options.cwd_dir = DirectoryHandle();  // the CLI has started: keep no descriptor for it
  auto impl = std::make_unique<Impl>(state, std::move(so));
  impl->control = std::move(control);
  Session session(std::move(impl));
  if (session.impl_->options.initialize) {
    // Python sends {"hooks": null} when there are none; the answer describes the CLI.
    session.impl_->server_info =
        session.impl_->call("initialize", init_fields, session.impl_->options.initialize_timeout);
  }
  return session;
}

void Session::send(std::string_view text)
{
  auto &impl = checked(impl_);
  impl.send_frame(detail::text_content(text, "the message"));
}

void Session::send_content(std::string_view content_json)
{
  auto &impl = checked(impl_);
  impl.send_frame(detail::content_blocks(content_json));
}

Stream &Session::messages() { return checked(impl_).stream; }

std::vector<Message> Session::receive_response(std::chrono::milliseconds timeout)
{
  auto &impl = checked(impl_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    Message m;
    switch (impl.stream.pull(m, left)) {
    case PullStatus::message: {
      bool is_result = m.is(MessageType::result);
      impl.partial_turn.push_back(std::move(m));
      if (is_result) return std::exchange(impl.partial_turn, {});
      break;
    }
    case PullStatus::timeout:
      throw Error(errc::timeout, "no result within the timeout; the messages received so far are kept for the "
                                 "next receive_response()");
    case PullStatus::end:
      throw Error(errc::closed, "the CLI exited before the turn ended: " +
                                    (impl.stream.outcome().message.empty() ? impl.stream.outcome().exit.describe()
                                                                           : impl.stream.outcome().message));
    }
  }
}

JsonView Session::interrupt()
{
  auto &impl = checked(impl_);
  return impl.call("interrupt", "{}", impl.options.control_timeout);
}

void Session::set_permission_mode(std::string_view mode)
{
  auto &impl = checked(impl_);
  std::string fields = R"({"mode":)";
  append_json_string(fields, mode);
  fields += '}';
  impl.call("set_permission_mode", fields, impl.options.control_timeout);
}

void Session::set_model(std::optional<std::string_view> model)
{
  auto &impl = checked(impl_);
  std::string fields = R"({"model":)";
  if (model) {
    append_json_string(fields, *model);
  } else {
    fields += "null";
  }
  fields += '}';
  impl.call("set_model", fields, impl.options.control_timeout);
}

JsonView Session::mcp_status()
{
  auto &impl = checked(impl_);
  return impl.call("mcp_status", "{}", impl.options.control_timeout);
}

JsonView Session::get_context_usage()
{
  auto &impl = checked(impl_);
  return impl.call("get_context_usage", "{}", impl.options.control_timeout);
}

JsonView Session::control(std::string_view subtype, std::string_view fields_json,
                          std::optional<std::chrono::milliseconds> timeout)
{
  auto &impl = checked(impl_);
  if (subtype.empty()) throw Error(errc::invalid_argument, "control request subtype is empty");
  return impl.call(std::string(subtype), std::string(fields_json), timeout.value_or(impl.options.control_timeout));
}

JsonView Session::server_info() const { return checked(impl_).server_info; }
int Session::pid() const { return checked(impl_).stream.pid(); }

void Session::end_input()
{
  auto &impl = checked(impl_);
  if (impl.input_ended || impl.closed) return;
  impl.input_ended = true;
  impl.state->close_stdin();
}

const RunOutcome &Session::close()
{
  auto &impl = checked(impl_);
  impl.closed = true;
  return impl.state->finish_gracefully();
}

CCB_END_NAMESPACE
