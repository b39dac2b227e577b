// Profile "sdk-ws" (seed 003, EnhancedClaudeWebSocketServer): WS /ws plus GET /sessions.
//
// One conversation per connection, kept across queries in one CLI process (a Session), unlike the
// original, which started a fresh process per query. Client messages: query, interrupt, input
// (delivered into the running conversation), define_tool (a tool the model can call; each call is
// forwarded to this client as tool_call and answered with tool_result), get_tools, ping, and the
// opt-in permission flow (query option "permission_requests": true): permission_request frames
// answered with permission_response. Server frames keep the original's shapes: connection_established,
// query_start, assistant_message (tool_result blocks included), system_message, result_message,
// query_end, query_interrupted, interrupt_acknowledged, input_acknowledged, tool_defined,
// tools_list, pong, error {data:{error}}.
//
// Security: the permission mode is checked against the server's allowed modes (bypassPermissions
// is refused unless the operator enables it) and cwd must lie inside the allowed roots.
#include "protocol/json_scan.hpp"
#include "server/cli_run.hpp"
#include "server/context.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>
#include <ccbridge/session.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>

namespace ccbridge::detail::server {

namespace {

constexpr const char *kProfile = "sdk-ws";
constexpr const char *kToolServer = "ccbridge";
constexpr std::chrono::seconds kToolCallTimeout{120};
constexpr std::chrono::seconds kPermissionTimeout{120};

std::string error_frame(std::string_view msg) { return "{\"type\":\"error\",\"data\":{\"error\":" + json_str(msg) + "}}"; }

bool tool_name_ok(std::string_view n)
{
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
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
  schema = "{\"type\":\"object\",\"properties\":{" + props + "}" + (required.empty() ? "" : ",\"required\":[" + required + "]") + "}";
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

struct DefinedTool {
  std::string name, description, schema;
};

// Shared between the connection (server thread) and the workers that open and close the
// Session. `session` is set once by the opening worker, read on the server thread after that
// worker's result has been posted back.
struct Conversation {
  ProcessSlots::Slot slot;  // first: given back only after the Session (and its process) is gone
  std::optional<Session> session;
  std::shared_ptr<Inbox<CliEvent>> inbox;
};

// Ends a conversation whose Session is open without blocking the server thread: the shutdown
// ladder starts now, on the runtime, and a teardown worker waits for it to finish (Session::close)
// before the process's slot is given back. Teardown workers are not the workers that open
// sessions, so a slow ladder never delays another client's query.
void retire(Context &ctx, std::shared_ptr<Conversation> conv)
{
  if (conv->inbox) conv->inbox->close();
  conv->session->messages().cancel();
  ctx.teardown.post([conv] {
    conv->session->close();
    conv->slot.release();
  });
}

class SdkConnection final : public WsHandler, public std::enable_shared_from_this<SdkConnection> {
public:
  SdkConnection(Context &ctx, WsConn &conn) : ctx_(ctx), conn_(&conn), idle_(ctx.ioc), grace_(ctx.ioc) {}

  ~SdkConnection() override { end_conversation(); }

  void on_open() override
  {
    id_ = "session_" + Context::new_id();
    resumable_ = conn_->request().query_param("resumable").value_or("") == "1";
    // The id is listed by GET /sessions; taking the conversation over needs this secret too, which
    // only the client that opened it is given.
    if (resumable_) resume_token_ = Context::new_secret();
    run_ = ctx_.hub.create(id_, kProfile);
    registry(ctx_)[id_] = shared_from_this();
    attach(*conn_, 0, false);
  }

  /// Connects a client: sends connection_established (not counted), then every frame of the
  /// conversation after `since` (the number of frames the client already has), then live ones.
  void attach(WsConn &conn, std::uint64_t since, bool resumed)
  {
    conn_ = &conn;
    grace_.cancel();
    touch();
    conn.send_text("{\"type\":\"connection_established\",\"data\":{\"session_id\":" + json_str(id_) +
                   ",\"capabilities\":{\"concurrent_input\":true,\"tool_definition\":true,\"interrupt_query\":true,"
                   "\"permission_requests\":true,\"resume\":" + (resumable_ ? "true" : "false") + "}" +
                   (resumable_ && !resumed ? ",\"resume_token\":" + json_str(resume_token_) : std::string()) +
                   (resumed ? ",\"resumed\":true,\"since_seq\":" + std::to_string(since) : std::string()) + "}}");
    SubscriberEvents ev;
    WsConn *c = &conn;
    ev.gap = [c](std::uint64_t asked, std::uint64_t first) {
      c->send_text("{\"type\":\"error\",\"data\":{\"error\":" +
                   json_str("frames " + std::to_string(asked + 1) + " to " + std::to_string(first - 1) + " are no longer held") +
                   ",\"code\":\"replay_gap\",\"first_seq\":" + std::to_string(first) + "}}");
    };
    ev.dropped = [c](std::uint64_t resume, const std::string &why) {
      c->close(close_code::try_again_later, "too slow (" + why + "); reconnect with since_seq=" + std::to_string(resume));
    };
    sub_ = run_->subscribe(conn, since, std::move(ev));
  }

  bool detached() const { return conn_ == nullptr; }

  void on_text(std::string_view text) override
  {
    touch();
    JsonView msg;
    try {
      msg = parse_json(text);
    } catch (const Error &e) {
      return client_error(std::string("invalid JSON (") + e.what() + "): every message must be a JSON object with a \"type\"");
    }
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
    if (type.empty()) return client_error("missing \"type\"");
    client_error("unknown message type " + quoted(type));
  }

  void on_close(std::uint16_t) override
  {
    sub_.reset();
    conn_ = nullptr;
    if (resumable_ && !ctx_.stopping && run_ && !run_->finished()) {
      // Kept for a client that reconnects with ?session_id=<id>&since_seq=<n>.
      grace_.expires_after(ctx_.cfg.sdk_ws_reconnect_grace);
      auto weak = weak_from_this();
      grace_.async_wait([weak](std::error_code ec) {
        auto self = weak.lock();
        if (!ec && self && self->detached()) self->finish();
      });
      return;
    }
    finish();
  }

  void on_shutdown() override
  {
    WsConn *c = conn_;
    sub_.reset();
    finish();
    if (c) c->close(close_code::going_away, "server shutting down");
  }

  /// Ends the conversation for good and forgets it.
  void finish()
  {
    auto keep = shared_from_this();
    idle_.cancel();
    grace_.cancel();
    end_conversation();
    registry(ctx_).erase(id_);
    // Nobody can attach to an ended conversation (reconnects go through the registry): its
    // events are not held for the finished-run grace period.
    if (run_) ctx_.hub.forget(id_);
  }

  /// Conversations by session id (server thread only); they own themselves while no client is
  /// attached.
  using Registry = std::map<std::string, std::shared_ptr<SdkConnection>>;
  static Registry &registry(Context &ctx)
  {
    // Set up by register_sdk_ws as the first profile state of this server.
    return *static_cast<Registry *>(ctx.profile_state.at(ctx.sdk_ws_registry).get());
  }

  const std::string &id() const { return id_; }
  bool query_active() const { return query_active_; }
  bool resume_token_ok(std::string_view token) const { return resumable_ && secret_equal(token, resume_token_); }
  /// Frames of the conversation so far (what since_seq counts).
  std::uint64_t events() const { return run_ ? run_->log().next_seq() - 1 : 0; }

private:
  // SESSION_TIMEOUT_MINUTES: a connection with no query running and nothing from the client for
  // that long ends its conversation and is closed.
  void touch()
  {
    idle_.expires_after(ctx_.cfg.sdk_ws_session_timeout);
    auto weak = weak_from_this();
    idle_.async_wait([weak](std::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      if (self->query_active_) return self->touch();
      self->ctx_.log.info("session_timeout", {{"profile", kProfile}, {"session", self->id_}});
      WsConn *c = self->conn_;
      self->finish();
      if (c) c->close(close_code::normal, "session timed out");
    });
  }

  // A reply to the client's own message that is not an event of the conversation: sent to this
  // connection only, never held for replay, and not counted in since_seq.
  void reply(std::string frame)
  {
    if (conn_) conn_->send_text(std::move(frame));
  }

  void client_error(const std::string &why)
  {
    ++ctx_.metrics.client_errors;
    publish(error_frame(why));
  }
  void publish(std::string frame)
  {
    if (run_) run_->publish(std::move(frame));
  }

  // ---- query ---------------------------------------------------------------------------------

  void on_query(const JsonView &msg)
  {
    if (query_active_) return client_error("A query is already in progress. Use interrupt to stop it.");
    auto prompt = msg["prompt"].string();
    if (!prompt || prompt->empty()) return client_error("'prompt' must be a non-empty string");
    JsonView o = msg["options"];
    if (o.exists() && !o.is_null() && !o.is_object()) return client_error("'options' must be an object");

    Options opts = ctx_.base_options();
    std::string why;
    JsonView mode = o["permission_mode"];
    if (mode.exists() && !mode.is_null()) {
      auto m = mode.string();
      if (!m) return client_error("'permission_mode' must be a string");
      if (!ctx_.mode_allowed(std::string(*m)))
        return client_error("permission_mode " + quoted(*m) + " is not allowed by this server");
      opts.permission_mode = std::string(*m);
    }
    JsonView tools = o["allowed_tools"];
    if (tools.exists() && !tools.is_null()) {
      if (!tools.is_array()) return client_error("'allowed_tools' must be an array of strings");
      for (std::size_t i = 0; i < tools.size(); ++i) {
        auto t = tools[i].string();
        if (!t) return client_error("'allowed_tools' must be an array of strings");
        auto grant = ctx_.client_tool(*t, opts.permission_mode.value_or(""), why);
        if (grant == Context::ToolGrant::refused) return client_error(why);
        if (grant == Context::ToolGrant::rule) opts.allowed_tools.emplace_back(*t);
      }
    }
    JsonView mtt = o["max_thinking_tokens"];
    if (mtt.exists() && !mtt.is_null()) {
      auto n = mtt.int64();
      if (!n || *n < 0 || *n > 10000000) return client_error("'max_thinking_tokens' must be a non-negative integer");
      opts.max_thinking_tokens = static_cast<int>(*n);
    }
    JsonView model = o["model"];
    if (model.exists() && !model.is_null()) {
      if (!model.is_string() || !Context::model_ok(model.string_or()))
        return client_error("'model' must be a model name such as \"claude-sonnet-4-5\" (letters, digits and ._-:/@[])");
      opts.model = std::string(model.string_or());
    }
    JsonView cwd = o["cwd"];
    std::string resolved;
    if (cwd.exists() && !cwd.is_null()) {
      if (!cwd.is_string()) return client_error("'cwd' must be a string");
      if (!ctx_.resolve_cwd(std::string(cwd.string_or()), resolved, opts.cwd_dir, why)) return client_error("cwd: " + why);
      opts.cwd = resolved;
    }
    JsonView cont = o["continue_conversation"], resume = o["resume"];
    if (cont.exists() && !cont.is_null()) {
      if (!cont.is_bool()) return client_error("'continue_conversation' must be true or false");
      opts.continue_conversation = *cont.boolean();
    }
    if (resume.exists() && !resume.is_null()) {
      if (!resume.is_string() || !Context::session_id_ok(resume.string_or()))
        return client_error("'resume' must be a Claude Code session id (a UUID)");
      opts.resume = std::string(resume.string_or());
    }
    JsonView perm = o["permission_requests"];
    if (perm.exists() && !perm.is_null() && !perm.is_bool()) return client_error("'permission_requests' must be true or false");

    std::string text(*prompt);
    query_active_ = true;
    interrupted_ = false;
    publish("{\"type\":\"query_start\",\"data\":{\"prompt\":" + json_str(text) + "}}");

    if (conv_ && session_ready_) {
      // Same conversation: what can change between turns changes through control requests.
      // What the CLI took on its command line cannot change in the running process: say so rather
      // than ignore it.
      if (opts.cwd && *opts.cwd != opened_cwd_) return fail_query("cwd cannot change within a conversation; open a new connection");
      if (opts.allowed_tools != opened_tools_ || opts.max_thinking_tokens != opened_thinking_ ||
          perm.boolean().value_or(false) != opened_permission_requests_) {
        return fail_query("allowed_tools, max_thinking_tokens and permission_requests are fixed by the first query of a "
                          "conversation; open a new connection to change them");
      }
      if (opts.resume || opts.continue_conversation) {
        return fail_query("resume and continue_conversation apply to the first query of a connection");
      }
      std::optional<std::string> new_model = opts.model != opened_model_ ? opts.model : std::nullopt;
      std::optional<std::string> new_mode = opts.permission_mode != opened_mode_ ? opts.permission_mode : std::nullopt;
      if (new_model) opened_model_ = opts.model;
      if (new_mode) opened_mode_ = opts.permission_mode;
      auto conv = conv_;
      auto weak = weak_from_this();
      asio::io_context &io = ctx_.ioc;
      ctx_.workers.post([conv, new_model, new_mode, text, weak, &io] {
        std::string err;
        try {
          if (new_model) conv->session->set_model(*new_model);
          if (new_mode) conv->session->set_permission_mode(*new_mode);
          conv->session->send(text);
        } catch (const std::exception &e) {
          err = e.what();
        }
        asio::post(io, [weak, err] {
          auto self = weak.lock();
          if (self && !err.empty()) self->fail_query(err);
        });
      });
      return;
    }
    if (!ctx_.can_start_process()) return fail_query("too many sessions are running; try again later");
    open_conversation(std::move(opts), perm.boolean().value_or(false), text);
  }

  void fail_query(const std::string &why)
  {
    if (!query_active_) return;
    query_active_ = false;
    publish(error_frame(why));
    publish(R"({"type":"query_end"})");
  }

  void open_conversation(Options opts, bool permission_requests, const std::string &first_prompt)
  {
    SessionOptions so;
    opened_cwd_ = opts.cwd.value_or("");
    opened_model_ = opts.model;
    opened_mode_ = opts.permission_mode;
    opened_tools_ = opts.allowed_tools;
    opened_thinking_ = opts.max_thinking_tokens;
    opened_permission_requests_ = permission_requests;
    auto weak = weak_from_this();
    asio::io_context &io = ctx_.ioc;
    // Tools defined by this client: each call is forwarded to it and answered by its tool_result,
    // without holding a callback thread while the client thinks.
    if (!tools_.empty()) {
      McpServer server;
      server.name = kToolServer;
      for (const auto &t : tools_) {
        Tool tool;
        tool.name = t.name;
        tool.description = t.description;
        tool.input_schema_json = t.schema;
        std::string name = t.name;
        tool.async_handler = [weak, &io, name](const JsonView &args, ToolReply reply) {
          asio::post(io, [weak, name, args = args.dump(), reply] {
            auto self = weak.lock();
            if (!self) return reply(ToolResult::error("the client has gone"));
            self->forward_tool_call(name, args, reply);
          });
        };
        server.tools.push_back(std::move(tool));
        opts.allowed_tools.push_back(std::string("mcp__") + kToolServer + "__" + t.name);
      }
      so.mcp_servers.push_back(std::move(server));
    }
    if (permission_requests) {
      so.can_use_tool = [weak, &io](const PermissionRequest &r, PermissionReply reply) {
        std::string frame = "{\"tool_name\":" + json_str(r.tool_name) + ",\"input\":" + r.input.dump() +
                            ",\"tool_use_id\":" + json_str(r.tool_use_id) + ",\"decision_reason\":" + json_str(r.decision_reason) +
                            ",\"suggestions\":" + (r.suggestions.exists() ? r.suggestions.dump() : std::string("[]"));
        std::string input = r.input.dump();
        asio::post(io, [weak, frame, input, reply] {
          auto self = weak.lock();
          if (!self) return reply(PermissionDecision::deny("the client has gone"));
          self->ask_permission(frame, input, reply);
        });
      };
    }
    so.options = std::move(opts);
    conv_ = std::make_shared<Conversation>();
    auto conv = conv_;
    conv->inbox = std::make_shared<Inbox<CliEvent>>(io, kInboxDepth, [weak](std::vector<CliEvent> &batch) {
      if (auto self = weak.lock()) self->on_events(batch);
    });
    conv->slot = ctx_.processes.take();
    Runtime &rt = ctx_.runtime;
    Context *ctx = &ctx_;
    ctx_.workers.post([conv, so = std::move(so), first_prompt, weak, &io, &rt, ctx]() mutable {
      std::string err;
      bool not_found = false;
      try {
        Session s = Session::open(rt, std::move(so));
        std::weak_ptr<Inbox<CliEvent>> inbox = conv->inbox;
        s.messages().on_message(
            [inbox](const Message &m) {
              if (auto in = inbox.lock()) in->push(message_event(m, assistant_frame));
            },
            [inbox](const RunOutcome &o) {
              if (auto in = inbox.lock()) in->push(end_event(o));
            });
        s.send(first_prompt);
        conv->session.emplace(std::move(s));
        // Flow control: a run whose client cannot keep up pauses its own CLI, not the I/O thread.
        std::weak_ptr<Conversation> wc = conv;
        conv->inbox->set_flow_control(
            [wc] {
              if (auto c = wc.lock()) c->session->messages().pause_reading();
            },
            [wc] {
              if (auto c = wc.lock()) c->session->messages().resume_reading();
            });
      } catch (const Error &e) {
        err = e.what();
        not_found = e.code() == errc::cli_not_found;
      } catch (const std::exception &e) {
        err = e.what();
      }
      // A failed open has ended (and reaped) whatever it started.
      if (!err.empty()) conv->slot.release();
      asio::post(io, [weak, conv, err, not_found, ctx] {
        auto self = weak.lock();
        if (self && self->conv_ == conv) {
          if (!err.empty()) return self->open_failed(err, not_found);
          return self->on_opened();
        }
        // Nobody wants this conversation any more (the client left, or it ended meanwhile).
        if (conv->session) retire(*ctx, conv);
      });
    });
  }

  // The Session is set (by the opening worker, before it posted this): from now on the server
  // thread uses it directly.
  void on_opened()
  {
    session_ready_ = true;
    auto inputs = std::move(pending_inputs_);
    pending_inputs_.clear();
    for (const auto &t : inputs) {
      try {
        conv_->session->send(t);
      } catch (const Error &e) {
        client_error(e.what());
      }
    }
  }

  void open_failed(const std::string &err, bool not_found)
  {
    pending_inputs_.clear();
    ++ctx_.metrics.spawn_failures;
    ctx_.log.warn("spawn_failed", {{"profile", kProfile}, {"session", id_}, {"error", err}});
    conv_.reset();
    fail_query(not_found ? "Claude binary not found" : "could not start Claude Code: " + err);
  }

  void end_conversation()
  {
    bool ready = session_ready_;
    session_ready_ = false;
    pending_inputs_.clear();
    for (auto &kv : permissions_) kv.second.reply(PermissionDecision::deny("the client has gone"));
    permissions_.clear();
    for (auto &kv : tool_calls_) {
      kv.second.timer->cancel();
      kv.second.reply(ToolResult::error("the client has gone"));
    }
    tool_calls_.clear();
    if (run_ && !run_->finished()) run_->finish();
    if (!conv_) return;
    auto conv = std::move(conv_);
    // If the open is still under way, its result finds the conversation abandoned and retires
    // it then; until that, its slot stays taken.
    if (ready) {
      retire(ctx_, std::move(conv));
    } else if (conv->inbox) {
      conv->inbox->close();
    }
  }

  // ---- messages from the CLI ---------------------------------------------------------------------

  void on_events(std::vector<CliEvent> &batch)
  {
    {
      Run::Hold hold(run_);  // the whole batch goes out together, before the backlog check below
      map_events(batch);
    }
    // A burst the client cannot take yet: hold the CLI back rather than drop what it needs.
    if (run_ && conv_ && conv_->inbox && run_->backlogged()) {
      conv_->inbox->pause();
      std::weak_ptr<Inbox<CliEvent>> inbox = conv_->inbox;
      run_->pause_intake([inbox] {
        if (auto in = inbox.lock()) in->resume();
      });
    }
  }

  void map_events(std::vector<CliEvent> &batch)
  {
    for (auto &ev : batch) {
      if (ev.kind == CliEvent::Kind::end) {
        const RunOutcome &o = *ev.outcome;
        ctx_.log.info("session_end", {{"profile", kProfile}, {"session", id_}, {"outcome", o.ok() ? "ok" : o.message}});
        bool ready = session_ready_;
        session_ready_ = false;
        if (conv_) {
          auto conv = std::move(conv_);
          if (ready) {
            retire(ctx_, std::move(conv));  // the process has been reaped: this only frees the Session
          } else if (conv->inbox) {
            conv->inbox->close();
          }
        }
        fail_query(o.ok() ? "the Claude Code process ended" : o.message);
        continue;
      }
      if (ev.kind == CliEvent::Kind::frame) {  // an assistant message, mapped on the I/O thread
        ++ctx_.metrics.messages_from_cli;
        ctx_.metrics.bytes_from_cli += ev.cli_bytes;
        publish(std::move(ev.text));
      } else if (ev.kind == CliEvent::Kind::message) {
        ++ctx_.metrics.messages_from_cli;
        ctx_.metrics.bytes_from_cli += ev.msg.raw().size();
        map_message(ev.msg);
      } else {
        continue;
      }
      ctx_.metrics.observe_relay(ev.at);
    }
  }

  // Every message but an assistant one (assistant_frame maps those on the I/O thread).
  void map_message(const Message &m)
  {
    switch (m.type()) {
    case MessageType::user: {
      if (m.raw().find("\"tool_result\"") == std::string_view::npos) break;
      // Tool results come back in user messages; the seed's clients read them as assistant_message.
      JsonView content = m.json()["message"]["content"];
      if (!content.is_array()) break;
      std::string blocks;
      for (std::size_t i = 0; i < content.size(); ++i) {
        JsonView b = content[i];
        if (b["type"].string_or() != "tool_result") continue;
        blocks += (blocks.empty() ? "" : ",") + std::string("{\"type\":\"tool_result\",\"tool_use_id\":") +
                  json_str(b["tool_use_id"].string_or()) + ",\"content\":" +
                  (b["content"].exists() ? b["content"].dump() : std::string("null")) +
                  ",\"is_error\":" + (b["is_error"].boolean().value_or(false) ? "true" : "false") + "}";
      }
      if (!blocks.empty()) publish("{\"type\":\"assistant_message\",\"data\":{\"content\":[" + blocks + "]}}");
      break;
    }
    case MessageType::system:
      publish("{\"type\":\"system_message\",\"data\":" + std::string(m.raw()) + "}");
      break;
    case MessageType::result: {
      const JsonView &j = m.json();
      auto num = [&](const char *k) { return j[k].exists() ? j[k].dump() : std::string("null"); };
      publish("{\"type\":\"result_message\",\"data\":{\"subtype\":" + json_str(j["subtype"].string_or()) +
              ",\"cost_usd\":" + num("total_cost_usd") + ",\"duration_ms\":" + num("duration_ms") +
              ",\"session_id\":" + num("session_id") + ",\"total_cost_usd\":" + num("total_cost_usd") +
              ",\"num_turns\":" + num("num_turns") + ",\"usage\":" + num("usage") + ",\"is_error\":" + num("is_error") +
              ",\"result\":" + num("result") + "}}");
      if (interrupted_) publish(R"({"type":"query_interrupted"})");
      query_active_ = false;
      publish(R"({"type":"query_end"})");
      touch();
      break;
    }
    default: break;  // stream events, rate-limit notices ... are not part of this protocol
    }
  }

  // ---- interrupt, input ---------------------------------------------------------------------------

  void on_interrupt()
  {
    if (!query_active_) return client_error("no query is running");
    interrupted_ = true;
    publish(R"({"type":"interrupt_acknowledged"})");
    if (!conv_) return;
    auto conv = conv_;
    ctx_.workers.post([conv] {
      try {
        if (conv->session) conv->session->interrupt();
      } catch (...) {
        // the turn ends anyway, or the process is gone and its end is reported
      }
    });
  }

  void on_input(const JsonView &msg)
  {
    auto text = msg["text"].string();
    if (!text || text->empty()) return client_error("'text' must be a non-empty string");
    if (!query_active_ || !conv_) return client_error("no query is running; send a query instead");
    if (!session_ready_) {
      // The CLI is still starting: the text follows the first prompt once it is up.
      pending_inputs_.emplace_back(*text);
    } else {
      try {
        conv_->session->send(*text);
      } catch (const Error &e) {
        return client_error(e.what());
      }
    }
    publish("{\"type\":\"input_acknowledged\",\"data\":{\"text\":" + json_str(*text) + "}}");
  }

  // ---- tools ----------------------------------------------------------------------------------------

  void on_define_tool(const JsonView &msg)
  {
    JsonView t = msg["tool"];
    if (!t.is_object()) return client_error("'tool' must be an object {name, description, parameters}");
    auto name = t["name"].string();
    if (!name || !tool_name_ok(*name)) return client_error("tool 'name' must be 1 to 64 letters, digits, '_' or '-'");
    JsonView desc = t["description"];
    if (desc.exists() && !desc.is_string()) return client_error("tool 'description' must be a string");
    std::string schema, why;
    if (!to_schema(t["parameters"], schema, why)) return client_error(why);
    if (conv_) return client_error("define tools before the first query of this connection (the conversation has started)");
    for (const auto &d : tools_)
      if (d.name == *name) return client_error("a tool named '" + std::string(*name) + "' is already defined");
    if (tools_.size() >= 64) return client_error("at most 64 tools per connection");
    tools_.push_back({std::string(*name), std::string(desc.string_or()), schema});
    publish("{\"type\":\"tool_defined\",\"data\":{\"tool_id\":" + json_str(std::string("mcp__") + kToolServer + "__" + std::string(*name)) +
                    ",\"tool_name\":" + json_str(*name) + ",\"status\":\"success\",\"details\":{\"input_schema\":" + schema + "}}}");
  }

  void on_get_tools()
  {
    std::string list;
    for (const auto &t : tools_)
      list += (list.empty() ? "" : ",") + std::string("{\"name\":") + json_str(t.name) + ",\"description\":" + json_str(t.description) +
              ",\"input_schema\":" + t.schema + "}";
    publish("{\"type\":\"tools_list\",\"data\":{\"tools\":[" + list + "],\"source\":\"connection\"}}");
  }

  // A tool call forwarded to the client, waiting for its tool_result (server thread).
  struct PendingToolCall {
    ToolReply reply;
    std::shared_ptr<asio::steady_timer> timer;
  };

  // Server thread: publishes the tool_call frame; the client's tool_result, the timeout or the
  // end of the conversation answers `reply`.
  void forward_tool_call(const std::string &name, const std::string &args, ToolReply reply)
  {
    std::string id = "call_" + Context::new_id();
    auto timer = std::make_shared<asio::steady_timer>(ctx_.ioc, kToolCallTimeout);
    auto weak = weak_from_this();
    timer->async_wait([weak, id](std::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      auto it = self->tool_calls_.find(id);
      if (it == self->tool_calls_.end()) return;
      it->second.reply(ToolResult::error("the client did not answer the tool call within " +
                                         std::to_string(kToolCallTimeout.count()) + " s"));
      self->tool_calls_.erase(it);
    });
    tool_calls_.emplace(id, PendingToolCall{std::move(reply), timer});
    publish("{\"type\":\"tool_call\",\"data\":{\"call_id\":" + json_str(id) + ",\"tool_name\":" + json_str(name) +
            ",\"input\":" + args + "}}");
  }

  void on_tool_result(const JsonView &msg)
  {
    auto id = msg["call_id"].string();
    if (!id) return client_error("'call_id' must be the id of a tool_call");
    auto it = tool_calls_.find(std::string(*id));
    if (it == tool_calls_.end()) return client_error("no tool call " + quoted(*id) + " is waiting (answered already, or timed out)");
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
    PendingToolCall call = std::move(it->second);
    tool_calls_.erase(it);
    call.timer->cancel();
    if (call.reply.cancelled()) return client_error("tool call " + quoted(*id) + " was withdrawn by Claude Code (the turn was interrupted)");
    call.reply(r);
  }

  // ---- permissions -----------------------------------------------------------------------------------

  struct PendingPermission {
    PermissionReply reply;
    std::string input;
    std::shared_ptr<asio::steady_timer> timer;
  };

  void ask_permission(const std::string &fields, const std::string &input, PermissionReply reply)
  {
    std::string id = "perm_" + Context::new_id();
    auto timer = std::make_shared<asio::steady_timer>(ctx_.ioc, kPermissionTimeout);
    auto weak = weak_from_this();
    timer->async_wait([weak, id](std::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      auto it = self->permissions_.find(id);
      if (it == self->permissions_.end()) return;
      it->second.reply(PermissionDecision::deny("no answer within " + std::to_string(kPermissionTimeout.count()) + " s"));
      self->permissions_.erase(it);
      self->publish("{\"type\":\"permission_timeout\",\"data\":{\"request_id\":" + json_str(id) + "}}");
    });
    permissions_.emplace(id, PendingPermission{std::move(reply), input, timer});
    publish("{\"type\":\"permission_request\",\"data\":{\"request_id\":" + json_str(id) + "," + fields.substr(1) + "}}");
  }

  void on_permission_response(const JsonView &msg)
  {
    auto id = msg["request_id"].string();
    if (!id) return client_error("'request_id' must be the id of a permission_request");
    auto it = permissions_.find(std::string(*id));
    if (it == permissions_.end()) return client_error("no permission request " + quoted(*id) + " is waiting (answered already, timed out or cancelled)");
    // Check the answer before taking the request: a malformed one leaves it waiting.
    std::string_view behavior = msg["behavior"].string_or();
    JsonView updated = msg["updated_input"];
    bool has_update = updated.exists() && !updated.is_null();
    if (behavior != "allow" && behavior != "deny") return client_error("'behavior' must be \"allow\" or \"deny\"");
    if (has_update && (behavior != "allow" || !updated.is_object())) return client_error("'updated_input' must be an object, with behavior \"allow\"");
    PendingPermission p = std::move(it->second);
    permissions_.erase(it);
    if (p.timer) p.timer->cancel();
    if (p.reply.cancelled()) return client_error("permission request " + quoted(*id) + " was withdrawn by Claude Code (the turn was interrupted)");
    if (behavior == "deny") {
      p.reply(PermissionDecision::deny(std::string(msg["message"].string_or("denied by the user")), msg["interrupt"].boolean().value_or(false)));
    } else if (has_update) {
      p.reply(PermissionDecision::allow_with(updated.dump()));
    } else {
      p.reply(PermissionDecision::allow());
    }
  }

  Context &ctx_;
  WsConn *conn_;  // null while no client is attached
  asio::steady_timer idle_;
  asio::steady_timer grace_;
  bool resumable_ = false;
  std::string resume_token_;
  std::string id_;
  std::shared_ptr<Run> run_;
  std::shared_ptr<Subscription> sub_;
  std::shared_ptr<Conversation> conv_;
  std::vector<DefinedTool> tools_;
  std::map<std::string, PendingToolCall> tool_calls_;
  std::map<std::string, PendingPermission> permissions_;
  std::vector<std::string> pending_inputs_;
  bool session_ready_ = false;
  std::string opened_cwd_;
  std::optional<std::string> opened_model_, opened_mode_;
  std::vector<std::string> opened_tools_;
  std::optional<int> opened_thinking_;
  bool opened_permission_requests_ = false;
  bool query_active_ = false;
  bool interrupted_ = false;
};

// The transport owns one of these per connection; it points at the conversation, a new one or
// one a reconnecting client re-attaches to.
class Owner final : public WsHandler {
public:
  Owner(std::shared_ptr<SdkConnection> c, WsConn &conn, bool resume, std::uint64_t since)
      : c_(std::move(c)), conn_(conn), resume_(resume), since_(since)
  {
  }
  void on_open() override
  {
    if (resume_) {
      c_->attach(conn_, since_, true);
    } else {
      c_->on_open();
    }
  }
  void on_text(std::string_view t) override { c_->on_text(t); }
  void on_close(std::uint16_t code) override { c_->on_close(code); }
  void on_shutdown() override { c_->on_shutdown(); }

private:
  std::shared_ptr<SdkConnection> c_;
  WsConn &conn_;
  bool resume_;
  std::uint64_t since_;
};

// A reconnect that cannot be honoured: an error frame, then 1008.
class Refuse final : public WsHandler {
public:
  Refuse(WsConn &conn, std::string why) : conn_(conn), why_(std::move(why)) {}
  void on_open() override
  {
    conn_.send_text(error_frame(why_));
    conn_.close(close_code::policy_violation, why_);
  }
  void on_text(std::string_view) override {}
  void on_close(std::uint16_t) override {}
  void on_shutdown() override {}

private:
  WsConn &conn_;
  std::string why_;
};

}  // namespace

void register_sdk_ws(Context &ctx, Router &r)
{
  Context *c = &ctx;
  if (ctx.sdk_ws_registry == static_cast<std::size_t>(-1)) {
    ctx.sdk_ws_registry = ctx.profile_state.size();
    ctx.profile_state.push_back(std::make_shared<SdkConnection::Registry>());
    // Conversations waiting for a reconnect have no connection to be told: end them here.
    ctx.on_stop.push_back([c] {
      auto waiting = SdkConnection::registry(*c);  // finish() erases from the registry
      for (auto &kv : waiting)
        if (kv.second->detached()) kv.second->finish();
    });
  }
  r.ws("/ws", [c](WsConn &conn) -> std::unique_ptr<WsHandler> {
    const HttpRequest &req = conn.request();
    auto sid = req.query_param("session_id");
    if (!sid) return std::make_unique<Owner>(std::make_shared<SdkConnection>(*c, conn), conn, false, 0);
    ++c->metrics.client_errors;  // undone below when the reconnect is valid
    std::uint64_t since = 0;
    if (auto s = req.query_param("since_seq")) {
      char *end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(s->c_str(), &end, 10);
      if (s->empty() || *end || errno || (*s)[0] == '-') return std::make_unique<Refuse>(conn, "since_seq must be a non-negative integer");
      since = v;
    }
    auto &reg = SdkConnection::registry(*c);
    auto it = reg.find(*sid);
    // A wrong token gets the same answer as an unknown id: which ids exist is no secret
    // (GET /sessions), but nothing is confirmed to someone without the token.
    if (it == reg.end() || !it->second->resume_token_ok(req.query_param("resume_token").value_or("")))
      return std::make_unique<Refuse>(conn, "no conversation " + quoted(*sid) +
                                                " to resume with this resume_token (unknown, ended, not opened with "
                                                "?resumable=1, or a wrong or missing resume_token)");
    if (!it->second->detached()) return std::make_unique<Refuse>(conn, "conversation " + quoted(*sid) + " already has a client");
    if (since > it->second->events())
      return std::make_unique<Refuse>(conn, "since_seq " + std::to_string(since) + " is beyond the last frame of the conversation (" +
                                                std::to_string(it->second->events()) + ")");
    --c->metrics.client_errors;
    return std::make_unique<Owner>(it->second, conn, true, since);
  });
  r.http("GET", "/sessions", [c](const HttpRequest &, HttpReply reply) {
    std::string list;
    for (const auto &kv : SdkConnection::registry(*c))
      list += (list.empty() ? "" : ",") + std::string("{\"session_id\":") + json_str(kv.first) +
              ",\"query_active\":" + (kv.second->query_active() ? "true" : "false") +
              ",\"connected\":" + (kv.second->detached() ? "false" : "true") + "}";
    reply(HttpResponse::json(200, "{\"sessions\":[" + list + "],\"count\":" + std::to_string(SdkConnection::registry(*c).size()) +
                                      ",\"max_sessions\":" + std::to_string(c->cfg.limits.max_sessions) + "}"));
  });
}

}  // namespace ccbridge::detail::server
