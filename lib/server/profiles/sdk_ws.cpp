// Profile "sdk-ws" (seed 003, EnhancedClaudeWebSocketServer): WS /ws plus GET /sessions.
//
// One conversation per connection, kept across queries in one CLI process (a SessionRun), unlike
// the original, which started a fresh process per query. A query's options stay in force until a
// later query changes them: a new model or permission mode is set in the running CLI, any other
// change ends the process after its turn and resumes the conversation (--resume) in a new one.
// A batch {"type":"batch","messages":[...]} is its messages, one by one. Client messages: query,
// interrupt, input (delivered into the running conversation), define_tool (a tool the model can call; each call is
// forwarded to this client as tool_call and answered with tool_result), get_tools, ping, and the
// opt-in permission flow (query option "permission_requests": true): permission_request frames
// answered with permission_response. Server frames keep the original's shapes: connection_established,
// query_start, assistant_message (tool_result blocks included), system_message, result_message,
// query_end, query_interrupted, interrupt_acknowledged, input_acknowledged, tool_defined,
// tools_list, pong, error {data:{error}}. A connection opened with ?resumable=1 can be resumed
// (server/resumable.hpp).
//
// Security: the client's options, as in force after each query, pass apply_client_options
// (permission modes, allowed roots, tools a client may pre-approve).
#include "server/client_callbacks.hpp"
#include "server/client_options.hpp"
#include "server/profile.hpp"
#include "server/profiles/sdk_ws_frames.hpp"
#include "server/resumable.hpp"
#include "server/session_run.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <asio/steady_timer.hpp>

#include <map>
#include <string>
#include <vector>

namespace ccbridge::detail::server {

namespace {

constexpr const char *kProfile = "sdk-ws";
constexpr const char *kToolServer = "ccbridge";
// The messages one batch may hold: each costs what a message of its own would, and the rate
// limit counts the batch as one.
constexpr std::size_t kMaxBatch = 100;

class SdkConnection final : public Conversation, public SessionRun::Client {
public:
  SdkConnection(Context &ctx, Conversations &reg)
      : Conversation(ctx, reg, kProfile),
        idle_(ctx.ioc),
        callbacks_(ctx, kToolServer, hooks(), {})
  {}

  ~SdkConnection() override
  {
    try {
      ended();
    } catch (...) {  // only allocation can fail here; the replies then answer the CLI themselves
    }
  }

  bool query_active() const { return query_active_; }

  void on_text(std::string_view text) override
  {
    touch();
    JsonView msg;
    try {
      msg = parse_json(text);
    } catch (const Error &e) {
      return client_error(std::string("invalid JSON (") + e.what() + "): every message must be a JSON object with a \"type\"");
    }
    on_message(msg, false);
  }

private:
  // Inner messages of a batch are handled as if each had been sent alone.
  void on_message(const JsonView &msg, bool in_batch)
  {
    if (!msg.is_object()) return client_error("every message must be a JSON object with a \"type\"");
    std::string_view type = msg["type"].string_or();
    if (type == "query") return on_query(msg);
    if (type == "interrupt") return on_interrupt();
    if (type == "ping") return reply(R"({"type":"pong"})");
    if (type == "input") return on_input(msg);
    if (type == "define_tool") return on_define_tool(msg);
    if (type == "get_tools") return on_get_tools();
    if (type == "tool_result") return on_tool_result(msg);
    if (type == "permission_response") return on_permission_response(msg);
    if (type == "batch") return in_batch ? client_error("a batch cannot hold another batch") : on_batch(msg);
    if (type.empty()) return client_error("missing \"type\"");
    client_error("unknown message type " + quoted(type));
  }

  // {"type":"batch","messages":[...]} (the seed's MessageBatcher): each in order; a bad one gets
  // its error frame and the rest go on.
  void on_batch(const JsonView &msg)
  {
    JsonView list = msg["messages"];
    if (!list.is_array()) return client_error("'messages' must be an array of messages");
    if (list.size() > kMaxBatch)
      return client_error("a batch may hold at most " + std::to_string(kMaxBatch) + " messages, not " +
                          std::to_string(list.size()));
    for (std::size_t i = 0; i < list.size(); ++i) on_message(list[i], true);
  }

  std::string error_frame(std::string_view why, std::string_view code, std::string_view extra) override
  {
    return sdk_ws::error_frame(why, code, extra);
  }

  std::string hello(const std::string *token, bool resumed, std::uint64_t since) override
  {
    return sdk_ws::connection_established(id(), resumable(), token, resumed, since);
  }

  void attached() override { touch(); }

  std::weak_ptr<SdkConnection> weak_self() { return std::static_pointer_cast<SdkConnection>(shared_from_this()); }

  // SESSION_TIMEOUT_MINUTES: a connection with no query running and nothing from the client for
  // that long ends its conversation and is closed.
  void touch()
  {
    idle_.expires_after(ctx_.cfg.sdk_ws.session_timeout);
    idle_.async_wait([weak = weak_self()](std::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      if (self->query_active_) return self->touch();
      self->ctx_.log.info("session_timeout", {{"profile", kProfile}, {"session", self->id()}});
      WsConn *c = self->conn_;
      self->finish();
      if (c) c->close(close_code::normal, "session timed out");
    });
  }

  void client_error(const std::string &why)
  {
    ++ctx_.metrics.client_errors;
    publish(sdk_ws::error_frame(why));
  }

  // ---- query ---------------------------------------------------------------------------------

  void on_query(const JsonView &msg)
  {
    if (query_active_) return client_error("A query is already in progress. Use interrupt to stop it.");
    auto prompt = msg["prompt"].string();
    if (!prompt || prompt->empty()) return client_error("'prompt' must be a non-empty string");
    JsonView o = msg["options"];
    if (o.exists() && !o.is_null() && !o.is_object()) return client_error("'options' must be an object");
    // The options in force: the earlier queries' with this one's over them.
    std::map<std::string, std::string> kept = kept_options_;
    for (std::size_t i = 0; i < o.size(); ++i)
      if (!o.value_at(i).is_null()) kept[std::string(o.key_at(i))] = o.value_at(i).dump();
    JsonView merged = parse_json(object_text(kept));
    Options opts = ctx_.base_options();
    std::string why;
    if (!apply_client_options(ctx_, merged, opts, why)) return client_error(why);
    JsonView perm = merged["permission_requests"];
    if (perm.exists() && !perm.is_bool()) return client_error("'permission_requests' must be true or false");

    std::string text(*prompt);
    query_active_ = true;
    interrupted_ = false;
    publish("{\"type\":\"query_start\",\"data\":{\"prompt\":" + json_str(text) + "}}");
    bool running = session_ && session_->ready();
    if (running && (opts.resume || opts.continue_conversation))
      return fail_query("resume and continue_conversation apply to the first query of a connection");
    // Where a conversation starts is not kept for the next query.
    kept.erase("resume");
    kept.erase("continue_conversation");
    kept_options_ = std::move(kept);
    if (running) return next_query(std::move(opts), perm.boolean().value_or(false), text);
    if (!ctx_.can_start_process()) return fail_query("too many sessions are running; try again later");
    open_conversation(std::move(opts), perm.boolean().value_or(false), std::move(text));
  }

  static std::string object_text(const std::map<std::string, std::string> &members)
  {
    std::string out = "{";
    for (const auto &kv : members) out += (out.size() > 1 ? "," : "") + json_str(kv.first) + ":" + kv.second;
    return out + "}";
  }

  // A query in the running conversation: a changed model or permission mode is set in the running
  // CLI; any other change (tools, cwd, thinking tokens, permission requests) ends this process and
  // resumes the conversation in a new one started with the new options.
  void next_query(Options opts, bool permission_requests, const std::string &text)
  {
    if (session_->next_turn(opts, permission_requests, text).empty()) return;
    if (cli_session_.empty())
      return fail_query("these options need a new Claude Code process, and the running one has not said which "
                        "conversation to resume; open a new connection to change them");
    opts.resume = cli_session_;
    reopening_ = true;
    auto reaped = [weak = weak_self(), opts = std::move(opts), permission_requests, text]() mutable {
      auto self = weak.lock();
      if (self && !self->finished_) self->reopen(std::move(opts), permission_requests, text);
    };
    std::exchange(session_, nullptr)->close_then(std::move(reaped));
  }

  // The old process has exited: the conversation goes on in a new one, unless the query was
  // interrupted meanwhile (then the next query resumes it).
  void reopen(Options opts, bool permission_requests, const std::string &text)
  {
    reopening_ = false;
    auto inputs = std::exchange(held_inputs_, {});
    if (interrupted_) {
      resume_next_ = *opts.resume;
      query_active_ = false;
      publish(R"({"type":"query_interrupted"})");
      publish(R"({"type":"query_end"})");
      return touch();
    }
    if (!ctx_.can_start_process()) return fail_query("too many sessions are running; try again later");
    open_conversation(std::move(opts), permission_requests, text);
    for (const auto &t : inputs) session_->send(t);
  }

  void fail_query(const std::string &why)
  {
    if (!query_active_) return;
    query_active_ = false;
    publish(sdk_ws::error_frame(why));
    publish(R"({"type":"query_end"})");
  }

  void open_conversation(Options opts, bool permission_requests, std::string first_prompt)
  {
    if (!resume_next_.empty()) opts.resume = std::exchange(resume_next_, {});
    SessionRun::Request req;
    req.asked = opts;
    req.session.options = std::move(opts);
    callbacks_.attach(req.session, permission_requests);
    req.first_prompt = std::move(first_prompt);
    req.premap = sdk_ws::assistant_frame;
    req.run = run_;
    req.profile = kProfile;
    req.id = id();
    session_ = SessionRun::open(ctx_, std::move(req), weak_self());
  }

  ClientCallbacks::Hooks hooks()
  {
    ClientCallbacks::Hooks h;
    h.tool_call = [this](const std::string &id, const std::string &name, const std::string &args) {
      publish("{\"type\":\"tool_call\",\"data\":{\"call_id\":" + json_str(id) + ",\"tool_name\":" + json_str(name) +
              ",\"input\":" + args + "}}");
    };
    h.describe_permission = sdk_ws::permission_fields;
    h.permission = [this](const std::string &id, const std::string &fields) {
      publish("{\"type\":\"permission_request\",\"data\":{\"request_id\":" + json_str(id) + "," + fields + "}}");
    };
    h.permission_timeout = [this](const std::string &id) {
      publish("{\"type\":\"permission_timeout\",\"data\":{\"request_id\":" + json_str(id) + "}}");
    };
    return h;
  }

  void open_failed(const std::string &err, bool not_found) override
  {
    session_.reset();
    fail_query(not_found ? "Claude binary not found" : "could not start Claude Code: " + err);
  }

  void send_failed(const std::string &why) override
  {
    if (query_active_) return fail_query(why);
    client_error(why);
  }

  void ended() override
  {
    finished_ = true;
    idle_.cancel();
    callbacks_.fail_all();
    if (session_) std::exchange(session_, nullptr)->close();
  }

  // ---- messages from the CLI ---------------------------------------------------------------------

  void batch(std::vector<CliEvent> &batch) override
  {
    for (auto &ev : batch) map_event(ev);
  }

  void map_event(CliEvent &ev)
  {
    if (ev.kind == CliEvent::Kind::end) return on_end(*ev.outcome);
    if (ev.kind == CliEvent::Kind::stderr_line) return;
    if (ev.kind == CliEvent::Kind::frame) {  // an assistant message, mapped on the I/O thread
      publish(std::move(ev.text));
    } else {
      map_message(ev.msg);
    }
    ctx_.metrics.observe_relay(ev.at);
  }

  void on_end(const RunOutcome &o)
  {
    ctx_.log.info("session_end", {{"profile", kProfile}, {"session", id()}, {"outcome", o.ok() ? "ok" : o.message}});
    session_.reset();  // the SessionRun frees the Session and its slot itself
    fail_query(o.ok() ? "the Claude Code process ended" : o.message);
  }

  // Every message but an assistant one (assistant_frame maps those on the I/O thread).
  void map_message(const Message &m)
  {
    if (m.is(MessageType::user)) {
      if (auto frame = sdk_ws::tool_results_frame(m); !frame.empty()) publish(std::move(frame));
    } else if (m.is(MessageType::system)) {
      if (m.subtype() == "init" && !m.session_id().empty()) cli_session_ = std::string(m.session_id());
      publish("{\"type\":\"system_message\",\"data\":" + std::string(m.raw()) + "}");
    } else if (m.is(MessageType::result)) {
      publish(sdk_ws::result_frame(m.json()));
      if (interrupted_) publish(R"({"type":"query_interrupted"})");
      query_active_ = false;
      publish(R"({"type":"query_end"})");
      touch();
    }
    // stream events, rate-limit notices ... are not part of this protocol
  }

  // ---- interrupt, input ---------------------------------------------------------------------------

  void on_interrupt()
  {
    if (!query_active_) return client_error("no query is running");
    interrupted_ = true;
    publish(R"({"type":"interrupt_acknowledged"})");
    if (session_) session_->interrupt();
  }

  void on_input(const JsonView &msg)
  {
    auto text = msg["text"].string();
    if (!text || text->empty()) return client_error("'text' must be a non-empty string");
    if (!query_active_) return client_error("no query is running; send a query instead");
    if (reopening_) held_inputs_.emplace_back(*text);  // for the new process
    else if (session_) session_->send(std::string(*text));  // held until the CLI is up if it is still starting
    publish("{\"type\":\"input_acknowledged\",\"data\":{\"text\":" + json_str(*text) + "}}");
  }

  // ---- tools ----------------------------------------------------------------------------------------

  void on_define_tool(const JsonView &msg)
  {
    JsonView t = msg["tool"];
    if (!t.is_object()) return client_error("'tool' must be an object {name, description, parameters}");
    auto name = t["name"].string();
    if (!name || !ClientCallbacks::tool_name_ok(*name))
      return client_error("tool 'name' must be 1 to 64 letters, digits, '_' or '-'");
    JsonView desc = t["description"];
    if (desc.exists() && !desc.is_string()) return client_error("tool 'description' must be a string");
    std::string schema, why;
    if (!sdk_ws::to_schema(t["parameters"], schema, why)) return client_error(why);
    if (session_ || reopening_)
      return client_error("define tools before the first query of this connection (the conversation has started)");
    why = callbacks_.define_tool({std::string(*name), std::string(desc.string_or()), schema});
    if (!why.empty()) return client_error(why);
    publish("{\"type\":\"tool_defined\",\"data\":{\"tool_id\":" + json_str(callbacks_.tool_id(*name)) +
            ",\"tool_name\":" + json_str(*name) + ",\"status\":\"success\",\"details\":{\"input_schema\":" + schema +
            "}}}");
  }

  void on_get_tools()
  {
    std::string list;
    for (const auto &t : callbacks_.tools())
      list += (list.empty() ? "" : ",") + std::string("{\"name\":") + json_str(t.name) + ",\"description\":" + json_str(t.description) +
              ",\"input_schema\":" + t.schema + "}";
    publish("{\"type\":\"tools_list\",\"data\":{\"tools\":[" + list + "],\"source\":\"connection\"}}");
  }

  void on_tool_result(const JsonView &msg)
  {
    auto id = msg["call_id"].string();
    if (!id) return client_error("'call_id' must be the id of a tool_call");
    if (!callbacks_.tool_calls().waiting(std::string(*id)))
      return client_error("no tool call " + quoted(*id) + " is waiting (answered already, or timed out)");
    JsonView content = msg["content"];
    bool is_error = msg["is_error"].boolean().value_or(false);
    ToolResult r;
    if (content.is_string()) {
      r = is_error ? ToolResult::error(content.string_or()) : ToolResult::text(content.string_or());
    } else if (content.is_array()) {
      r.content_json = content.dump();
      r.is_error = is_error;
    } else {
      return client_error("'content' must be a string or an array of content blocks");
    }
    auto call = callbacks_.tool_calls().take(std::string(*id));
    if (call->cancelled())
      return client_error("tool call " + quoted(*id) + " was withdrawn by Claude Code (the turn was interrupted)");
    (*call)(r);
  }

  // ---- permissions -----------------------------------------------------------------------------------

  void on_permission_response(const JsonView &msg)
  {
    auto id = msg["request_id"].string();
    if (!id) return client_error("'request_id' must be the id of a permission_request");
    if (!callbacks_.permissions().waiting(std::string(*id)))
      return client_error("no permission request " + quoted(*id) +
                          " is waiting (answered already, timed out or cancelled)");
    // Check the answer before taking the request: a malformed one leaves it waiting.
    std::string_view behavior = msg["behavior"].string_or();
    JsonView updated = msg["updated_input"];
    bool has_update = updated.exists() && !updated.is_null();
    if (behavior != "allow" && behavior != "deny") return client_error("'behavior' must be \"allow\" or \"deny\"");
    if (has_update && (behavior != "allow" || !updated.is_object())) return client_error("'updated_input' must be an object, with behavior \"allow\"");
    auto p = callbacks_.permissions().take(std::string(*id));
    if (p->cancelled())
      return client_error("permission request " + quoted(*id) +
                          " was withdrawn by Claude Code (the turn was interrupted)");
    if (behavior == "deny") {
      (*p)(PermissionDecision::deny(std::string(msg["message"].string_or("denied by the user")),
                                    msg["interrupt"].boolean().value_or(false)));
    } else {
      (*p)(has_update ? PermissionDecision::allow_with(updated.dump()) : PermissionDecision::allow());
    }
  }

  asio::steady_timer idle_;
  std::shared_ptr<SessionRun> session_;
  ClientCallbacks callbacks_;
  std::map<std::string, std::string> kept_options_;  // the query options in force, as JSON text
  std::string cli_session_;                          // the CLI's session id (its init message)
  std::string resume_next_;                          // the conversation the next process resumes
  std::vector<std::string> held_inputs_;             // input while the process is replaced
  bool query_active_ = false;
  bool interrupted_ = false;
  bool reopening_ = false;  // the old process is exiting; the new one starts after
  bool finished_ = false;
};

void install(Context &ctx, Router &r)
{
  Context *c = &ctx;
  Conversations *reg = &ctx.profile_state<Conversations>(kProfile);
  r.ws("/ws", resumable_ws(ctx, *reg,
                           {"session_", ctx.cfg.sdk_ws.reconnect_grace,
                            [c, reg] { return std::make_shared<SdkConnection>(*c, *reg); },
                            [](std::string_view why) { return sdk_ws::error_frame(why); }}));
  r.http("GET", "/sessions", [c, reg](const HttpRequest &, const HttpReply &reply) {
    std::string list;
    for (const auto &kv : *reg)
      list += (list.empty() ? "" : ",") + std::string("{\"session_id\":") + json_str(kv.first) + ",\"query_active\":" +
              (static_cast<const SdkConnection &>(*kv.second).query_active() ? "true" : "false") +
              ",\"connected\":" + (kv.second->detached() ? "false" : "true") + "}";
    reply(HttpResponse::json(200, "{\"sessions\":[" + list + "],\"count\":" + std::to_string(reg->size()) +
                                      ",\"max_sessions\":" + std::to_string(c->cfg.limits.max_sessions) + "}"));
  });
}

void metrics(const Context &ctx, const HttpRequest &, std::string &out)
{
  const auto *reg = ctx.find_profile_state<Conversations>(kProfile);
  std::size_t open = reg ? reg->size() : 0, waiting = 0;
  if (reg)
    for (const auto &kv : *reg) waiting += kv.second->detached() ? 1 : 0;
  out += "# HELP ccbridge_sdk_ws_conversations sdk-ws conversations open (with a client or waiting for one)\n"
         "# TYPE ccbridge_sdk_ws_conversations gauge\nccbridge_sdk_ws_conversations " + std::to_string(open) + "\n"
         "# HELP ccbridge_sdk_ws_conversations_detached sdk-ws ?resumable=1 conversations waiting for their client\n"
         "# TYPE ccbridge_sdk_ws_conversations_detached gauge\nccbridge_sdk_ws_conversations_detached " +
         std::to_string(waiting) + "\n";
}

}  // namespace

Profile sdk_ws_profile() { return {kProfile, "003", 8000, true, install, metrics}; }

}  // namespace ccbridge::detail::server
