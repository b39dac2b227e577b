#include "core/control.hpp"
#include "core/run_setup.hpp"
#include "protocol/utf8.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/session.hpp>

#include <asio/post.hpp>

#include <atomic>
#include <future>
#include <utility>

namespace ccbridge::detail {
/// Session's Impl (below), for the helpers of open() and open_async() outside the class.
template <> struct Access<Session> {
  using Impl = Session::Impl;
};
using SessionImpl = Access<Session>::Impl;
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

using detail::call_safely;

struct Session::Impl {
  std::shared_ptr<detail::StreamState> state;
  Stream stream;
  std::shared_ptr<detail::ControlLayer> control;
  SessionOptions options;
  JsonView server_info;
  std::vector<Message> partial_turn;  // receive_response() progress kept across a timeout
  // Atomic: close_async() may run in a message callback while the owner's thread sends.
  std::atomic<bool> closed{false};
  std::atomic<bool> input_ended{false};
  std::atomic<bool> closing_async{false};  // close_async() runs the ladder: nobody waits for it

  Impl(std::shared_ptr<detail::StreamState> s, SessionOptions o)
      : state(s), stream(detail::Access<Stream>::make(std::move(s))), options(std::move(o))
  {
  }

  static Session make(std::unique_ptr<Impl> impl) { return Session(std::move(impl)); }
  static Impl &of(Session &session) { return *session.impl_; }

  /// Sends a control request; `done` (may be empty) runs once, on the strand.
  void request(std::string subtype, std::string fields, std::chrono::milliseconds timeout, ControlCallback done)
  {
    control->request(std::move(subtype), std::move(fields), timeout,
                     [done = std::move(done)](std::error_code ec, const std::string &text, JsonView response) {
                       if (ec) return call_safely(done, std::optional<Error>(Error(ec, text)), JsonView());
                       call_safely(done, std::optional<Error>(), std::move(response));
                     });
  }

  /// The blocking form of request(): waits for its answer and throws its error.
  JsonView call(std::string subtype, std::string fields, std::chrono::milliseconds timeout)
  {
    if (detail::on_io_thread()) {
      throw Error(errc::would_deadlock, "Session control request '" + subtype +
                                            "' made on a ccbridge I/O thread (inside a message callback?); "
                                            "use its *_async form there");
    }
    using Answer = std::pair<std::optional<Error>, JsonView>;
    auto answer = std::make_shared<std::promise<Answer>>();
    auto future = answer->get_future();
    request(std::move(subtype), std::move(fields), timeout, [answer](std::optional<Error> error, JsonView response) {
      answer->set_value({std::move(error), std::move(response)});
    });
    Answer a = future.get();
    if (a.first) throw Error(*a.first);  // a copy made on this thread
    return a.second;
  }

  void send_frame(std::string content_json, bool client_composed)
  {
    if (closed || state->finished()) {
      throw Error(errc::closed, "the session is closed (the CLI has exited or close() was called); open a new one");
    }
    if (input_ended) {
      throw Error(errc::closed, "end_input() or end_input_when_done() was called: the session takes no more messages");
    }
    state->write(detail::user_frame(content_json, "default", client_composed || options.options.verbatim_prompts));
  }

  const RunOutcome &finish()
  {
    closed = true;
    return state->finish_gracefully();
  }

  /// ~Session and move-assignment: close() and wait, unless close_async() already runs the ladder.
  void release()
  {
    if (!closing_async) finish();
  }
};

Session::Session(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Session::Session(Session &&) noexcept = default;

Session &Session::operator=(Session &&other) noexcept
{
  if (this != &other) {
    if (impl_) impl_->release();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Session::~Session()
{
  if (impl_) impl_->release();
}

namespace {
detail::SessionImpl &checked(const std::unique_ptr<detail::SessionImpl> &impl)
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

// initialize's fields: the hooks, SessionOptions::initialize_fields' members, then
// "forwardSubagentText" (the Python SDK's order).
std::string initialize_request_fields(const SessionOptions &so, std::map<std::string, HookCallback> &ids)
{
  std::string out = init_hooks(so, ids);
  if (so.initialize_fields.empty() && !so.options.forward_subagent_text) return out;
  if (!so.initialize) {
    throw Error(errc::invalid_argument, std::string(so.initialize_fields.empty() ? "Options::forward_subagent_text is"
                                                                                  : "initialize_fields are") +
                                            " sent in initialize: keep SessionOptions::initialize true");
  }
  out.pop_back();  // the closing brace of {"hooks":...}
  if (!so.initialize_fields.empty()) {
    JsonView extra;
    try {
      extra = parse_json(so.initialize_fields);
    } catch (const Error &e) {
      throw Error(errc::invalid_argument, std::string("SessionOptions::initialize_fields is not valid JSON: ") + e.what());
    }
    if (!extra.is_object()) throw Error(errc::invalid_argument, "SessionOptions::initialize_fields must be a JSON object");
    for (std::size_t i = 0; i < extra.size(); ++i) {
      std::string_view key = extra.key_at(i);
      if (key == "subtype" || key == "hooks" || (key == "forwardSubagentText" && so.options.forward_subagent_text)) {
        throw Error(errc::invalid_argument, "SessionOptions::initialize_fields cannot set \"" + std::string(key) +
                                                "\" (the session sets it)");
      }
      out += ',';
      append_json_string(out, key);
      out += ':';
      out += extra.value_at(i).dump();
    }
  }
  if (so.options.forward_subagent_text) out += R"(,"forwardSubagentText":true)";
  return out + '}';
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
  // Sent as they are in tools/list (and the schema validates every call): JSON objects or nothing.
  detail::parse_argument_json(tool.input_schema_json, JsonKind::object, which + ": input_schema_json is not valid JSON: ",
                              which + ": input_schema_json must be a JSON object");
  for (const auto *field : {&tool.annotations_json, &tool.meta_json}) {
    const char *name = field == &tool.annotations_json ? "annotations_json" : "meta_json";
    if (!field->empty())
      detail::parse_argument_json(*field, JsonKind::object, which + ": " + name + " is not valid JSON: ",
                                  which + ": " + name + " must be a JSON object");
  }
}

// An in-process MCP server: announced to the CLI in --mcp-config, served by the control layer.
void add_mcp_server(Options &options, detail::ControlLayer::Handlers &handlers, const McpServer &server)
{
  if (server.name.empty()) throw Error(errc::invalid_argument, "an in-process MCP server needs a name");
  for (const auto &tool : server.tools) check_tool(server, tool);
  if (options.mcp_config) {
    throw Error(errc::invalid_argument, "in-process MCP servers cannot be combined with Options::mcp_config "
                                        "(a path or verbatim JSON); use Options::mcp_servers instead");
  }
  std::string cfg = R"({"type":"sdk","name":)";
  append_json_string(cfg, server.name);
  if (!options.mcp_servers.emplace(server.name, cfg + "}").second ||
      !handlers.mcp_servers.emplace(server.name, std::make_shared<const McpServer>(server)).second) {
    throw Error(errc::invalid_argument, "MCP server name '" + server.name + "' is used twice");
  }
}

// The control layer's handlers for these options, with the CLI options they need, and
// initialize's fields. Throws Error(invalid_argument).
detail::ControlLayer::Handlers control_handlers(SessionOptions &so, std::string &init_fields)
{
  detail::ControlLayer::Handlers handlers;
  if (so.can_use_tool) {
    if (so.options.permission_prompt_tool_name) {
      throw Error(errc::invalid_argument,
                  "SessionOptions::can_use_tool and Options::permission_prompt_tool_name cannot both be set");
    }
    so.options.permission_prompt_tool_name = "stdio";  // permission prompts come over the control protocol
  }
  handlers.can_use_tool = so.can_use_tool;
  init_fields = initialize_request_fields(so, handlers.hooks);
  for (const auto &server : so.mcp_servers) add_mcp_server(so.options, handlers, server);
  return handlers;
}

// A session being opened: checked and built, not started yet.
struct Launch {
  SessionOptions options;
  std::string init_fields;  // initialize's fields (the hooks)
  detail::SpawnRequest request;
  std::shared_ptr<detail::StreamState> state;
  std::shared_ptr<detail::ControlLayer> control;
  Session::OpenCallback done;      // open_async only
  std::optional<Session> session;  // open_async: once the CLI has started
};

// Checks the options and builds the run. Throws Error(invalid_argument, cli_not_found).
std::shared_ptr<Launch> prepare(Runtime &runtime, SessionOptions so)
{
  auto l = std::make_shared<Launch>();
  detail::ControlLayer::Handlers handlers = control_handlers(so, l->init_fields);
  l->request = detail::prepare_spawn(so.options);
  so.options.cwd_dir = DirectoryHandle();  // the spawn request holds it until the CLI has started
  l->state = std::make_shared<detail::StreamState>(detail::Access<Runtime>::impl(runtime), so.options);
  l->control = std::make_shared<detail::ControlLayer>(l->state, std::move(handlers));
  l->state->control_ = l->control;
  l->options = std::move(so);
  return l;
}

// The spawn failed: nothing more to do but break the state's cycle with its control layer.
void abandon(Launch &l) { l.state->control_.reset(); }

// The CLI has started: the Session's state.
std::unique_ptr<detail::SessionImpl> started(Launch &l)
{
  auto impl = std::make_unique<detail::SessionImpl>(std::move(l.state), std::move(l.options));
  impl->control = std::move(l.control);
  return impl;
}

// open_async's one answer, on the strand.
void report(Launch &l, std::optional<Error> error)
{
  std::optional<Session> session = std::move(l.session);
  l.session.reset();
  call_safely(l.done, std::move(error), std::move(session));
}

// initialize failed with `error`: if the CLI ended first (an unknown resume id, a bad flag), its
// outcome (exit code, stderr, the error result it ended on) says why, as a stream's ProcessError.
std::optional<ProcessError> ended_first(const Error &error, const RunOutcome &outcome)
{
  if (error.code() == errc::timeout || outcome.ok() || outcome.error == errc::cancelled) return std::nullopt;
  return ProcessError(outcome);
}

// open_async: initialize failed. The CLI is ended and reaped before the error is reported.
void fail_open(const std::shared_ptr<Launch> &l, const Error &error)
{
  Session session = std::move(*l->session);
  l->session.reset();
  session.close_async([l, error](const RunOutcome &outcome) {
    auto ended = ended_first(error, outcome);
    report(*l, ended ? Error(*ended) : error);
  });
}

// open_async, on the strand: the spawn was tried; initialize next, unless disabled.
void on_spawned(const std::shared_ptr<Launch> &l, std::optional<Error> error)
{
  if (error) {
    abandon(*l);
    return report(*l, std::move(error));
  }
  l->session.emplace(detail::SessionImpl::make(started(*l)));
  detail::SessionImpl &impl = detail::SessionImpl::of(*l->session);
  if (!impl.options.initialize) return report(*l, std::nullopt);
  impl.request("initialize", l->init_fields, impl.options.initialize_timeout,
               [l](std::optional<Error> failed, JsonView info) {
                 if (failed) return fail_open(l, *failed);
                 detail::SessionImpl::of(*l->session).server_info = std::move(info);
                 report(*l, std::nullopt);
               });
}

}  // namespace

Session Session::open(Runtime &runtime, SessionOptions options)
{
  // Refused before anything starts: waiting for initialize here would deadlock (or stall a thread
  // that must not wait), and a CLI started only to be abandoned would be a process for nothing.
  if (options.initialize && detail::on_io_thread()) {
    throw Error(errc::would_deadlock, "Session::open waits for the CLI's answer to initialize and was called on a "
                                      "ccbridge I/O thread (inside a message callback?) or a thread that must not "
                                      "wait; use Session::open_async there");
  }
  auto launch = prepare(runtime, std::move(options));
  try {
    launch->state->start(std::move(launch->request));
  } catch (...) {
    abandon(*launch);
    throw;
  }
  Session session(started(*launch));
  Impl &impl = *session.impl_;
  if (impl.options.initialize) {
    // Python sends {"hooks": null} when there are none; the answer describes the CLI.
    try {
      impl.server_info = impl.call("initialize", launch->init_fields, impl.options.initialize_timeout);
    } catch (const Error &e) {
      if (e.code() == errc::timeout) throw;  // no need to wait for the end here
      if (auto ended = ended_first(e, impl.finish())) throw ProcessError(std::move(*ended));
      throw;
    }
  }
  return session;
}

void Session::open_async(Runtime &runtime, SessionOptions options, OpenCallback done)
{
  if (!done) throw Error(errc::invalid_argument, "Session::open_async needs a callback");
  std::shared_ptr<Launch> launch;
  try {
    launch = prepare(runtime, std::move(options));
  } catch (const Error &e) {
    asio::post(*detail::Access<Runtime>::impl(runtime)->ioc,
               [done = std::move(done), e] { call_safely(done, e, std::nullopt); });
    return;
  }
  launch->done = std::move(done);
  launch->state->start_async(std::move(launch->request),
                             [launch](std::optional<Error> error) { on_spawned(launch, std::move(error)); });
}

void Session::send(std::string_view text, bool client_composed)
{
  auto &impl = checked(impl_);
  impl.send_frame(detail::text_content(text, "the message"), client_composed);
}

void Session::send_content(std::string_view content_json, bool client_composed)
{
  auto &impl = checked(impl_);
  impl.send_frame(detail::content_blocks(content_json), client_composed);
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

namespace {
// A control request's fields: {"<key>":"<value>"}, or null for no value.
std::string one_field(const char *key, std::optional<std::string_view> value)
{
  std::string fields = "{";
  append_json_string(fields, key);
  fields += ':';
  if (value) {
    append_json_string(fields, *value);
  } else {
    fields += "null";
  }
  return fields + '}';
}
}  // namespace

JsonView Session::interrupt()
{
  auto &impl = checked(impl_);
  return impl.call("interrupt", "{}", impl.options.control_timeout);
}

void Session::interrupt_async(ControlCallback done)
{
  auto &impl = checked(impl_);
  impl.request("interrupt", "{}", impl.options.control_timeout, std::move(done));
}

void Session::set_permission_mode(std::string_view mode)
{
  auto &impl = checked(impl_);
  impl.call("set_permission_mode", one_field("mode", mode), impl.options.control_timeout);
}

void Session::set_permission_mode_async(std::string_view mode, ControlCallback done)
{
  auto &impl = checked(impl_);
  impl.request("set_permission_mode", one_field("mode", mode), impl.options.control_timeout, std::move(done));
}

void Session::set_model(std::optional<std::string_view> model)
{
  auto &impl = checked(impl_);
  impl.call("set_model", one_field("model", model), impl.options.control_timeout);
}

void Session::set_model_async(std::optional<std::string_view> model, ControlCallback done)
{
  auto &impl = checked(impl_);
  impl.request("set_model", one_field("model", model), impl.options.control_timeout, std::move(done));
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

// The field names are the CLI's: snake_case for these two, camelCase for the MCP ones.
void Session::stop_task(std::string_view task_id)
{
  auto &impl = checked(impl_);
  impl.call("stop_task", one_field("task_id", task_id), impl.options.control_timeout);
}

JsonView Session::rewind_files(std::string_view user_message_id)
{
  auto &impl = checked(impl_);
  return impl.call("rewind_files", one_field("user_message_id", user_message_id), impl.options.control_timeout);
}

void Session::reconnect_mcp_server(std::string_view server_name)
{
  auto &impl = checked(impl_);
  impl.call("mcp_reconnect", one_field("serverName", server_name), impl.options.control_timeout);
}

void Session::toggle_mcp_server(std::string_view server_name, bool enabled)
{
  auto &impl = checked(impl_);
  std::string fields = one_field("serverName", server_name);
  fields.pop_back();
  fields += enabled ? R"(,"enabled":true})" : R"(,"enabled":false})";
  impl.call("mcp_toggle", std::move(fields), impl.options.control_timeout);
}

JsonView Session::control(std::string_view subtype, std::string_view fields_json,
                          std::optional<std::chrono::milliseconds> timeout)
{
  auto &impl = checked(impl_);
  return impl.call(std::string(subtype), std::string(fields_json), timeout.value_or(impl.options.control_timeout));
}

void Session::control_async(std::string_view subtype, std::string_view fields_json, ControlCallback done,
                            std::optional<std::chrono::milliseconds> timeout)
{
  auto &impl = checked(impl_);
  impl.request(std::string(subtype), std::string(fields_json), timeout.value_or(impl.options.control_timeout),
               std::move(done));
}

JsonView Session::server_info() const { return checked(impl_).server_info; }
int Session::pid() const { return checked(impl_).stream.pid(); }

void Session::end_input()
{
  auto &impl = checked(impl_);
  if (impl.closed || impl.input_ended.exchange(true)) return;
  impl.state->close_stdin();
}

void Session::end_input_when_done(std::optional<std::chrono::milliseconds> ceiling)
{
  auto &impl = checked(impl_);
  if (impl.closed || impl.input_ended.exchange(true)) return;
  impl.control->end_input_when_done(ceiling.value_or(detail::run_end_ceiling(impl.options.options.env)));
}

const RunOutcome &Session::close() { return checked(impl_).finish(); }

void Session::close_async(Stream::EndCallback done)
{
  auto &impl = checked(impl_);
  impl.closed = true;
  impl.closing_async = true;
  impl.state->finish_gracefully_async(std::move(done));
}

CCB_END_NAMESPACE
