// Profile "opcode" (seed 000, the OpCode API Server): POST /claude/execute starts a run,
// WS /ws/claude/{session_id} streams the CLI's JSON lines verbatim plus error, complete and
// cancelled frames, POST /claude/cancel/{session_id} ends it.
//
// Unlike the original: any number of clients may watch one run, each receiving everything from
// the start (or from ?since_seq=N, the count of frames it already has); cancel really stops the
// process (shutdown ladder); the prompt goes over stdin, never argv; project_path must lie inside
// the allowed roots; the permission mode is the operator's, not --dangerously-skip-permissions.
#include "server/cli_run.hpp"
#include "server/context.hpp"
#include "server/profile.hpp"
#include "server/sha256.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <cstdlib>

namespace ccbridge::detail::server {

namespace {

constexpr const char *kProfile = "opcode";

struct OpcodeRun {
  std::shared_ptr<CliRun> cli;
  bool cancel_requested = false;
};

std::string error_frame(std::string_view message) { return "{\"type\":\"error\",\"message\":" + json_str(message) + "}"; }

// Maps one batch of CLI events onto the run's log.
void publish_batch(Context &ctx, Run &run, OpcodeRun &st, std::vector<CliEvent> &batch)
{
  for (auto &ev : batch) {
    switch (ev.kind) {
    case CliEvent::Kind::message: {  // an invalid line (the premap, verbatim_frame, forwards every other)
      // Why, in the core's words: not JSON, not UTF-8, a NUL byte, or over the line limit.
      std::string_view why = ev.msg.line_error().description;
      constexpr std::string_view kDropped = "; it was dropped";
      if (why.size() >= kDropped.size() && why.substr(why.size() - kDropped.size()) == kDropped)
        why.remove_suffix(kDropped.size());
      run.publish(error_frame("the CLI wrote a line that was skipped: " + std::string(why)));
      ctx.metrics.observe_relay(ev.at);
      break;
    }
    case CliEvent::Kind::frame:  // a line forwarded as written (premap)
      run.publish(std::move(ev.text));
      ctx.metrics.observe_relay(ev.at);
      break;
    case CliEvent::Kind::stderr_line:
      run.publish(error_frame(ev.text));
      break;
    case CliEvent::Kind::end: {
      const RunOutcome &o = *ev.outcome;
      if (st.cancel_requested) {
        run.publish("{\"type\":\"cancelled\",\"session_id\":" + json_str(run.id()) + "}");
      } else {
        if (!o.ok() && !o.exit.success()) {
          // The reason, when the CLI said nothing on stderr that already reached the clients.
          run.publish(error_frame(o.message));
        }
        int code = o.exit.signal ? 128 + o.exit.signal : o.exit.code;
        run.publish(std::string("{\"type\":\"complete\",\"success\":") + (o.exit.success() && o.ok() ? "true" : "false") +
                    ",\"code\":" + std::to_string(code) + "}");
      }
      ctx.log.info("run_end", {{"profile", kProfile}, {"session_id", run.id()},
                               {"outcome", o.ok() ? "ok" : o.message}});
      run.finish();
      // The run is kept for late clients for the grace period: keep only its events, not the CLI
      // machinery behind them (Stream, channel buffers, the parsed result: ~10 KB a run).
      // CliRun holds itself while its handler runs, so this does not destroy it under our feet.
      st.cli.reset();
      break;
    }
    }
  }
  // A burst the clients cannot take yet: hold the CLI back rather than drop what they need.
  if (!run.finished() && run.backlogged() && st.cli) {
    st.cli->pause_intake();
    std::weak_ptr<CliRun> cli = st.cli;
    run.pause_intake([cli] {
      if (auto c = cli.lock()) c->resume_intake();
    });
  }
}

// A POST /claude/execute body, checked and turned into the run's options.
struct ExecuteRequest {
  std::string prompt, project, session_type, cwd;
  Options opts;
};

constexpr const char *kBodyShape =
    "the body must be a JSON object: {project_path, prompt, model, session_type, session_id}";

void client_error(Context &ctx, const HttpReply &reply, int status, const std::string &msg)
{
  ++ctx.metrics.client_errors;
  reply(HttpResponse::json(status, error_body(msg)));
}

// The optional fields of the body with a wrong type or shape: the reason, or "" when they are fine.
std::string optional_fields_error(const JsonView &body)
{
  JsonView model = body["model"], type = body["session_type"], sid = body["session_id"];
  if (model.exists() && !model.is_null() && !model.is_string()) return "'model' must be a string";
  if (model.is_string() && !model.string_or().empty() && !Context::model_ok(model.string_or()))
    return "'model' must be a model name such as \"claude-sonnet-4-5\" (letters, digits and ._-:/@[])";
  if (type.exists() && !type.is_null() && !type.is_string())
    return "'session_type' must be \"new\", \"continue\" or \"resume\"";
  if (sid.exists() && !sid.is_null() && !sid.is_string()) return "'session_id' must be a string";
  return {};
}

// session_type (new, continue, or resume with a session_id) onto the options: "" or the reason.
std::string apply_session_type(const JsonView &body, ExecuteRequest &r)
{
  JsonView sid = body["session_id"];
  r.session_type = std::string(body["session_type"].string_or("new"));
  if (r.session_type == "continue") {
    r.opts.continue_conversation = true;
  } else if (r.session_type == "resume") {
    if (!sid.is_string() || sid.string_or().empty()) return "'session_id' is required when session_type is \"resume\"";
    if (!Context::session_id_ok(sid.string_or())) return "'session_id' must be a Claude Code session id (a UUID)";
    r.opts.resume = std::string(sid.string_or());
  } else if (r.session_type != "new") {
    return "'session_type' must be \"new\", \"continue\" or \"resume\"";
  }
  return {};
}

// Reads the body into `r`: "" when it is usable, else the reason for a 400.
std::string read_execute_body(Context &ctx, const std::string &text, ExecuteRequest &r)
{
  JsonView body;
  try {
    body = parse_json(text);
  } catch (const Error &e) {
    return std::string(kBodyShape) + " (" + e.detail() + ")";
  }
  if (!body.is_object()) return kBodyShape;
  auto prompt = body["prompt"].string();
  auto project = body["project_path"].string();
  if (!prompt || prompt->empty()) return "'prompt' must be a non-empty string";
  if (!project) return "'project_path' must be a string (an absolute path)";
  std::string why = optional_fields_error(body);
  if (!why.empty()) return why;
  r.prompt = std::string(*prompt);
  r.project = std::string(*project);
  r.opts = ctx.base_options();
  JsonView model = body["model"];
  if (model.is_string() && !model.string_or().empty()) r.opts.model = std::string(model.string_or());
  return apply_session_type(body, r);
}

// project_path as the run's working directory. False when it is refused (and answered).
bool resolve_project(Context &ctx, ExecuteRequest &r, const HttpReply &reply)
{
  std::string why;
  if (ctx.resolve_cwd(r.project, r.cwd, r.opts.cwd_dir, why)) {
    r.opts.cwd = r.cwd;
    return true;
  }
  // The seed documents HTTP 500 "Failed to spawn Claude process" for an invalid project path.
  bool outside = why.find("allowed roots") != std::string::npos;
  ++ctx.metrics.client_errors;
  reply(HttpResponse::json(outside ? 403 : 500, "{\"error\":\"Failed to spawn Claude process\",\"detail\":" +
                                                    json_str("project_path: " + why) + "}"));
  return false;
}

// Starts the CLI of `run`, whose every usable line is forwarded verbatim. Throws Error.
std::shared_ptr<CliRun> start_cli(Context &ctx, const std::shared_ptr<Run> &run, const std::shared_ptr<OpcodeRun> &st,
                                  const ExecuteRequest &r)
{
  std::weak_ptr<Run> weak_run = run;
  Context *c = &ctx;
  return CliRun::start(
      ctx, r.prompt, r.opts,
      [c, weak_run, st](std::vector<CliEvent> &batch) {
        if (auto live = weak_run.lock()) {
          Run::Hold hold(live);  // the batch leaves as one write per client
          publish_batch(*c, *live, *st, batch);
        }
      },
      true, verbatim_frame);
}

void answer_spawn_failure(Context &ctx, const std::string &id, const Error &e, const HttpReply &reply)
{
  ctx.hub.forget(id);
  ++ctx.metrics.spawn_failures;
  ctx.log.warn("spawn_failed", {{"profile", kProfile}, {"error", e.what()}});
  const char *what = e.code() == errc::cli_not_found ? "Claude binary not found" : "Failed to spawn Claude process";
  reply(
      HttpResponse::json(500, std::string("{\"error\":") + json_str(what) + ",\"detail\":" + json_str(e.what()) + "}"));
}

void execute(Context &ctx, const HttpRequest &req, const HttpReply &reply)
{
  ExecuteRequest r;
  std::string why = read_execute_body(ctx, req.body, r);
  if (!why.empty()) return client_error(ctx, reply, 400, why);
  if (!resolve_project(ctx, r, reply)) return;
  if (!ctx.can_start_process()) {
    reply(HttpResponse::json(503, error_body("too many sessions are running (limit " +
                                             std::to_string(ctx.cfg.limits.max_sessions) + "); try again later")));
    return;
  }
  std::string id = Context::new_id();
  auto run = ctx.hub.create(id, kProfile);
  auto st = std::make_shared<OpcodeRun>();
  run->state = st;
  try {
    st->cli = start_cli(ctx, run, st, r);
  } catch (const Error &e) {
    return answer_spawn_failure(ctx, id, e, reply);
  }
  run->cancel = [st] {
    st->cancel_requested = true;
    if (st->cli) st->cli->cancel();
  };
  ctx.log.info("run_start", {{"profile", kProfile},
                             {"session_id", id},
                             {"cwd", r.cwd},
                             {"type", r.session_type},
                             {"pid", std::to_string(st->cli->pid())}});
  reply(HttpResponse::json(200, "{\"session_id\":" + json_str(id) + ",\"status\":\"started\",\"websocket_url\":" +
                                    json_str("/ws/claude/" + id) + "}"));
}

void cancel(Context &ctx, const HttpRequest &req, const HttpReply &reply)
{
  const std::string &id = req.params.at("session_id");
  auto run = ctx.hub.find(id);
  bool cancelled = false;
  if (run && run->profile() == kProfile && !run->finished() && run->cancel) {
    auto st = std::static_pointer_cast<OpcodeRun>(run->state);
    if (!st->cancel_requested) {
      run->cancel();
      cancelled = true;
      ctx.log.info("run_cancel", {{"profile", kProfile}, {"session_id", id}});
    }
  }
  reply(HttpResponse::json(200, "{\"session_id\":" + json_str(id) + ",\"cancelled\":" + (cancelled ? "true" : "false") + "}"));
}

class Watcher final : public WsHandler {
public:
  Watcher(Context &ctx, WsConn &conn) : ctx_(ctx), conn_(conn) {}

  void on_open() override
  {
    const HttpRequest &req = conn_.request();
    const std::string &id = req.params.at("session_id");
    auto run = ctx_.hub.find(id);
    if (!run || run->profile() != kProfile) {
      ++ctx_.metrics.client_errors;
      conn_.send_text(error_frame("session not found: " + id));
      conn_.close(close_code::policy_violation, "session not found");
      return;
    }
    std::uint64_t since = 0;
    if (auto s = req.query_param("since_seq")) {
      char *end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(s->c_str(), &end, 10);
      if (s->empty() || *end || errno || (*s)[0] == '-') {
        ++ctx_.metrics.client_errors;
        conn_.send_text(error_frame("since_seq must be a non-negative integer"));
        conn_.close(close_code::policy_violation, "bad since_seq");
        return;
      }
      since = v;
    }
    std::uint64_t held = run->log().next_seq() - 1;
    if (since > held) {
      ++ctx_.metrics.client_errors;
      conn_.send_text(error_frame("since_seq " + std::to_string(since) + " is beyond the last event (" + std::to_string(held) + ")"));
      conn_.close(close_code::policy_violation, "bad since_seq");
      return;
    }
    SubscriberEvents ev;
    WsConn *conn = &conn_;
    ev.gap = [conn](std::uint64_t asked, std::uint64_t first) {
      conn->send_text("{\"type\":\"error\",\"message\":" +
                      json_str("events " + std::to_string(asked + 1) + " to " + std::to_string(first - 1) +
                               " are no longer held; continuing from " + std::to_string(first)) +
                      ",\"code\":\"replay_gap\",\"first_seq\":" + std::to_string(first) + "}");
    };
    ev.complete = [conn] { conn->close(close_code::normal, "session ended"); };
    ev.dropped = [conn](std::uint64_t resume, const std::string &why) {
      conn->close(close_code::try_again_later, "too slow (" + why + "); reconnect with since_seq=" + std::to_string(resume));
    };
    sub_ = run->subscribe(conn_, since, std::move(ev));
  }

  // The seed's server only logs client text. Its size and digest, not the text itself (a client
  // must not write into the log): what arrived can be checked (tests/server/test_ws_conformance.py).
  void on_text(std::string_view text) override
  {
    if (!ctx_.log.enabled(Logger::Level::debug)) return;
    ctx_.log.debug("client_text", {{"profile", kProfile}, {"bytes", std::to_string(text.size())}, {"sha256", sha256_hex(text)}});
  }
  void on_close(std::uint16_t) override { sub_.reset(); }
  void on_shutdown() override
  {
    sub_.reset();
    conn_.close(close_code::going_away, "server shutting down");
  }

private:
  Context &ctx_;
  WsConn &conn_;
  std::shared_ptr<Subscription> sub_;
};

void install(Context &ctx, Router &r)
{
  Context *c = &ctx;
  r.http("POST", "/claude/execute", [c](const HttpRequest &req, HttpReply reply) { execute(*c, req, reply); });
  r.http("POST", "/claude/cancel/{session_id}", [c](const HttpRequest &req, HttpReply reply) { cancel(*c, req, reply); });
  r.ws("/ws/claude/{session_id}", [c](WsConn &conn) { return std::make_unique<Watcher>(*c, conn); });
  register_demo(ctx, r);  // the demo page drives this profile
}

}  // namespace

Profile opcode_profile() { return {kProfile, "000", 3000, true, install}; }

}  // namespace ccbridge::detail::server
