#include "core/control.hpp"
#include "core/mcp.hpp"

#include "detail/json.hpp"

#include <ccbridge/json.hpp>

#include <asio/post.hpp>

#include <atomic>
#include <chrono>

#include <sys/random.h>

CCB_BEGIN_NAMESPACE

// ---- PermissionDecision -----------------------------------------------------------------------

PermissionDecision PermissionDecision::allow() { return PermissionDecision(); }

PermissionDecision PermissionDecision::allow_with(std::string_view updated_input_json,
                                                  std::string_view updated_permissions_json)
{
  PermissionDecision d;
  d.updated_input_ = detail::parse_argument_json(updated_input_json, JsonKind::object, "updated input is not valid JSON: ",
                                                 "updated input must be a JSON object")
                        .dump();
  if (!updated_permissions_json.empty()) {
    d.updated_permissions_ = detail::parse_argument_json(updated_permissions_json, JsonKind::array,
                                                         "updated permissions are not valid JSON: ",
                                                         "updated permissions must be a JSON array")
                                 .dump();
  }
  return d;
}

PermissionDecision PermissionDecision::deny(std::string message, bool interrupt)
{
  PermissionDecision d;
  d.allow_ = false;
  d.message_ = std::move(message);
  d.interrupt_ = interrupt;
  return d;
}

std::string PermissionDecision::to_json(const JsonView &original_input) const
{
  std::string out;
  if (allow_) {
    // Like the Python SDK, always send updatedInput (the original when unchanged).
    out = R"({"behavior":"allow","updatedInput":)";
    if (!updated_input_.empty()) {
      out += updated_input_;
    } else {
      std::string orig = original_input.dump();
      out += orig.empty() ? "{}" : orig;
    }
    if (!updated_permissions_.empty()) out += R"(,"updatedPermissions":)" + updated_permissions_;
  } else {
    out = R"({"behavior":"deny","message":)";
    append_json_string(out, message_);
    if (interrupt_) out += R"(,"interrupt":true)";
  }
  out += '}';
  return out;
}

// ---- PermissionReply, ToolReply -----------------------------------------------------------------

struct PermissionReply::State : detail::ReplyState {
  using ReplyState::ReplyState;
  JsonView input;  // the tool input, for an allow without changes
};

void PermissionReply::operator()(const PermissionDecision &decision) const
{
  if (!state_) return;
  state_->send(decision.to_json(state_->input), {});
}

void PermissionReply::fail(std::string_view message) const
{
  if (!state_) return;
  state_->send({}, message.empty() ? std::string("the permission callback failed") : std::string(message));
}

bool PermissionReply::cancelled() const noexcept { return state_ && state_->cancelled.load(); }
bool PermissionReply::answered() const noexcept { return state_ && state_->answered.load(); }

struct ToolReply::State : detail::ReplyState {
  using ReplyState::ReplyState;
  std::string rpc_id;  // the JSON-RPC id of the tools/call (JSON text)
  std::string tool;
};

void ToolReply::operator()(const ToolResult &result) const
{
  if (!state_ || state_->answered.load()) return;
  state_->send(detail::mcp_response(detail::tool_response(state_->rpc_id, state_->tool, result)), {});
}

bool ToolReply::cancelled() const noexcept { return state_ && state_->cancelled.load(); }
bool ToolReply::answered() const noexcept { return state_ && state_->answered.load(); }

PermissionCallback permission_function(std::function<PermissionDecision(const PermissionRequest &)> fn)
{
  return [fn = std::move(fn)](const PermissionRequest &req, PermissionReply reply) { reply(fn(req)); };
}

CCB_END_NAMESPACE

namespace ccbridge::detail {

/// The replies' state and constructors, for the control layer that hands them out (below).
template <> struct Access<PermissionReply> {
  using State = PermissionReply::State;
  static PermissionReply make(std::shared_ptr<State> state) noexcept { return PermissionReply(std::move(state)); }
};
template <> struct Access<ToolReply> {
  using State = ToolReply::State;
  static ToolReply make(std::shared_ptr<State> state) noexcept { return ToolReply(std::move(state)); }
};
using PermissionReplyState = Access<PermissionReply>::State;
using ToolReplyState = Access<ToolReply>::State;

namespace {

// Tells this session's request ids from another's in a transcript; not a secret. getrandom, not
// std::random_device: constructing one costs more than opening the rest of a session.
std::string random_suffix()
{
  static const char hex[] = "0123456789abcdef";
  std::string s;
  unsigned v = 0;
  if (::getrandom(&v, sizeof v, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof v))
    v = static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 0; i < 8; ++i, v >>= 4) s.push_back(hex[v & 0xF]);
  return s;
}

}  // namespace

ReplyState::~ReplyState()
{
  if (answered.load() || cancelled.load()) return;
  if (unanswered_payload.empty()) {
    send({}, "the " + kind + " callback did not answer");
  } else {
    send(std::move(unanswered_payload), {});
  }
}

void ReplyState::send(std::string payload, std::string error)
{
  if (answered.exchange(true) || cancelled.load()) return;
  auto l = layer.lock();
  if (!l) return;
  asio::post(l->strand(), [l, id = request_id, payload = std::move(payload), error = std::move(error)] {
    // Checked on the strand: a cancel that arrived meanwhile means no answer at all.
    if (!l->take_inflight(id)) return;
    const bool failed = !error.empty();
    l->respond(id, failed ? nullptr : &payload, failed ? &error : nullptr);
  });
}

ControlLayer::ControlLayer(std::shared_ptr<StreamState> state, Handlers handlers)
    : state_(std::move(state)),
      handlers_(std::move(handlers)),
      run_end_(std::make_shared<RunEndWatch>(state_->strand_)),
      id_suffix_(random_suffix())
{
}

void ControlLayer::end_input_when_done(std::chrono::milliseconds ceiling)
{
  asio::post(strand(), [self = shared_from_this(), ceiling] {
    auto close = [state = self->state_] { state->close_stdin(); };
    const Handlers &h = self->handlers_;
    if (!h.can_use_tool && h.hooks.empty() && h.mcp_servers.empty()) return close();  // nothing can be asked
    self->run_end_->when_over(ceiling, close);
  });
}

void ControlLayer::request(std::string subtype, std::string fields_json, std::chrono::milliseconds timeout, Done done)
{
  // Check and build the body here, on the caller's thread; a bad request is still answered
  // through `done`, on the strand, like every other failure.
  std::string body;
  try {
    if (subtype.empty()) throw Error(errc::invalid_argument, "control request subtype is empty");
    body = control_request_body(subtype, fields_json);
  } catch (const Error &e) {
    asio::post(strand(), [done = std::move(done), code = e.code(), text = e.detail()] { done(code, text, {}); });
    return;
  }
  asio::post(strand(), [self = shared_from_this(), subtype = std::move(subtype), body = std::move(body), timeout,
                        done = std::move(done)]() mutable {
    std::string id = "req_" + std::to_string(self->next_id_++) + "_" + self->id_suffix_;
    std::string frame = control_request_frame(id, body);
    self->start_request(std::move(id), std::move(subtype), std::move(frame), timeout, std::move(done));
  });
}

void ControlLayer::interrupt_now()
{
  // On the strand already: written now, ahead of the stdin close that follows. The process ends
  // within the cancel ladder, and its end answers the request if the CLI does not.
  constexpr std::chrono::minutes kUnbounded{60};
  std::string id = "req_" + std::to_string(next_id_++) + "_" + id_suffix_;
  std::string frame = control_request_frame(id, control_request_body("interrupt", "{}"));
  start_request(std::move(id), "interrupt", std::move(frame), kUnbounded, [](std::error_code, const std::string &, const JsonView &) {});
}

void ControlLayer::start_request(std::string id, std::string subtype, std::string frame,
                                 std::chrono::milliseconds timeout, Done done)
{
  if (ended_ || !state_->channel_ || !state_->channel_->stdin_open()) {
    done(make_error_code(errc::closed),
         "control request '" + subtype + "' not sent: " + (ended_ ? end_reason_ : "the CLI's stdin is closed"), {});
    return;
  }
  Pending p;
  p.subtype = subtype;
  p.done = std::move(done);
  p.timer = std::make_unique<asio::steady_timer>(strand(), timeout);
  p.timer->async_wait([self = shared_from_this(), id](std::error_code ec) {
    if (ec) return;
    auto it = self->pending_.find(id);
    if (it == self->pending_.end()) return;
    Done d = std::move(it->second.done);
    std::string sub = it->second.subtype;
    self->pending_.erase(it);  // a late answer is ignored
    d(make_error_code(errc::timeout), "control request timeout: " + sub + " (no answer from the CLI)", {});
  });
  pending_.emplace(id, std::move(p));
  state_->channel_->write(std::move(frame));
  // If backpressure paused stdout, read on: the answer may be behind unread messages.
  state_->channel_->resume_stdout();
}

void ControlLayer::on_control(const Message &msg)
{
  switch (msg.type()) {
  case MessageType::control_response: on_response(msg); break;
  case MessageType::control_request: on_request(msg); break;
  case MessageType::control_cancel_request: on_cancel(msg); break;
  default: break;
  }
}

void ControlLayer::on_response(const Message &msg)
{
  auto it = pending_.find(std::string(msg.request_id()));
  if (it == pending_.end()) return;  // timed out already, or not ours
  Pending p = std::move(it->second);
  pending_.erase(it);
  p.timer->cancel();
  JsonView response = msg.json()["response"];
  if (response["subtype"].string_or() == "error") {
    std::string why(response["error"].string_or("(no message)"));
    p.done(make_error_code(errc::control_error), "the CLI refused '" + p.subtype + "': " + why, {});
  } else {
    p.done({}, {}, response["response"]);
  }
}

void ControlLayer::on_request(const Message &msg)
{
  std::string id(msg.request_id());
  std::string subtype(msg.json()["request"]["subtype"].string_or());
  if (subtype == "can_use_tool" && handlers_.can_use_tool) return handle_can_use_tool(msg, id);
  if (subtype == "hook_callback") return handle_hook(msg, id);
  if (subtype == "mcp_message") return handle_mcp(msg, id);
  std::string error = "Unsupported control request subtype: " + subtype;
  if (subtype == "can_use_tool") error = "no permission callback is registered (SessionOptions::can_use_tool)";
  respond(id, nullptr, &error);
}

void ControlLayer::dispatch(std::shared_ptr<ReplyState> reply, std::function<void()> work)
{
  reply->layer = weak_from_this();
  inflight_[reply->request_id] = reply;
  state_->runtime_->callbacks.post([reply, work = std::move(work)] {
    try {
      work();
    } catch (const std::exception &e) {
      reply->send({}, reply->kind + " callback failed: " + e.what());
    } catch (...) {
      reply->send({}, reply->kind + " callback failed with a non-standard exception");
    }
  });
}

void ControlLayer::handle_can_use_tool(const Message &msg, const std::string &id)
{
  JsonView r = msg.json()["request"];
  PermissionRequest req;
  req.tool_name = std::string(r["tool_name"].string_or());
  req.input = r["input"];
  req.tool_use_id = std::string(r["tool_use_id"].string_or());
  req.suggestions = r["permission_suggestions"];
  req.decision_reason = std::string(r["decision_reason"].string_or());
  req.blocked_path = std::string(r["blocked_path"].string_or());
  req.request = r;
  auto st = std::make_shared<PermissionReplyState>(id, "permission");
  st->input = r["input"];
  dispatch(st, [cb = handlers_.can_use_tool, req, st] { cb(req, Access<PermissionReply>::make(st)); });
}

void ControlLayer::handle_hook(const Message &msg, const std::string &id)
{
  JsonView r = msg.json()["request"];
  std::string cb_id(r["callback_id"].string_or());
  auto it = handlers_.hooks.find(cb_id);
  if (it == handlers_.hooks.end()) {
    std::string error = "unknown hook callback id '" + cb_id + "'";
    respond(id, nullptr, &error);
    return;
  }
  HookInput in;
  in.input = r["input"];
  in.event = std::string(in.input["hook_event_name"].string_or());
  in.tool_name = std::string(in.input["tool_name"].string_or());
  in.tool_input = in.input["tool_input"];
  in.tool_use_id = std::string(r["tool_use_id"].string_or(in.input["tool_use_id"].string_or()));
  auto st = std::make_shared<ReplyState>(id, "hook");
  dispatch(st, [cb = it->second, in, st] { st->send(cb(in).to_json(in.event), {}); });
}

void ControlLayer::handle_mcp(const Message &msg, const std::string &id)
{
  JsonView r = msg.json()["request"];
  std::string name(r["server_name"].string_or());
  JsonView message = r["message"];
  auto it = handlers_.mcp_servers.find(name);
  if (it == handlers_.mcp_servers.end()) {
    // Still a success at the control level, with a JSON-RPC error inside (as the SDKs do).
    std::string err = mcp_response(rpc_error(rpc_id(message), -32601, "no in-process MCP server named '" + name + "'"));
    respond(id, &err, nullptr);
    return;
  }
  const Tool *tool = called_tool(*it->second, message);
  if (tool && tool->async_handler) return start_async_tool(it->second, *tool, id, message);
  auto st = std::make_shared<ReplyState>(id, "MCP tool");
  dispatch(st, [server = it->second, message, st] { st->send(mcp_response(mcp_handle(*server, message)), {}); });
}

// A tools/call of a tool with an async_handler: the handler starts the work and answers through a
// ToolReply; the callback thread is free again as soon as it returns.
void ControlLayer::start_async_tool(const std::shared_ptr<const McpServer> &server, const Tool &tool,
                                    const std::string &id, const JsonView &message)
{
  auto st = std::make_shared<ToolReplyState>(id, "MCP tool");
  st->rpc_id = rpc_id(message);
  st->tool = tool.name;
  st->unanswered_payload = mcp_response(tool_response(
      st->rpc_id, tool.name, ToolResult::error("tool '" + tool.name + "' did not answer (its ToolReply was dropped)")));
  // `tool` lives in `server`, which the closure keeps alive.
  dispatch(st, [server, handler = &tool.async_handler, message, st] {
    if (auto refused = refused_call(*server, message)) return st->send(mcp_response(*refused), {});
    JsonView args = call_arguments(message);
    try {
      (*handler)(args, Access<ToolReply>::make(st));
    } catch (...) {
      if (!st->answered.load()) st->send(mcp_response(tool_failure(st->rpc_id, st->tool)), {});
    }
  });
}

void ControlLayer::on_cancel(const Message &msg)
{
  auto it = inflight_.find(std::string(msg.request_id()));
  if (it == inflight_.end()) return;
  if (auto st = it->second.lock()) st->cancelled = true;  // its answer will be dropped; no reply
  inflight_.erase(it);
}

void ControlLayer::respond(const std::string &id, const std::string *payload, const std::string *error)
{
  if (!state_->channel_ || !state_->channel_->stdin_open()) return;
  state_->channel_->write(error ? control_error_frame(id, *error) : control_success_frame(id, *payload));
}

void ControlLayer::on_end(const RunOutcome &outcome)
{
  ended_ = true;
  run_end_->stop();
  end_reason_ = outcome.ok() ? std::string("the CLI has exited")
                             : "the CLI has exited: " + (outcome.message.empty() ? outcome.exit.describe() : outcome.message);
  auto pending = std::move(pending_);
  pending_.clear();
  // A failed run passes its own code on (process_failed, session_not_found, ...), so that e.g.
  // Session::open reports why the CLI died, not just that it did.
  std::error_code code = outcome.error && outcome.error != errc::cancelled ? outcome.error : make_error_code(errc::closed);
  for (auto &[id, p] : pending) {
    p.timer->cancel();
    p.done(code, "control request '" + p.subtype + "' failed: " + end_reason_, {});
  }
  for (auto &[id, w] : inflight_)
    if (auto st = w.lock()) st->cancelled = true;
  inflight_.clear();
}

}  // namespace ccbridge::detail
