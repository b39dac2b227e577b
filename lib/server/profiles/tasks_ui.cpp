// Profile "tasks-ui" (seed 002, scopecraft's Bun server): WS /ws/claude. The server greets with
// {"info":"send {prompt,meta}"}, the client sends one {prompt, meta}, the server runs it and
// streams the output, then closes: 1000 on success, 1011 on a process error or the timeout (after
// an {"error":...} frame), 1008 for bad input.
//
// Output: one frame per CLI line (the original forwarded raw stdout chunks, which split lines).
// An assistant line is sent as its inner "message" object ({"type":"message","content":[...]}),
// the shape the seed's JavaScript client reads; every other line goes verbatim. stderr lines
// become {"error": line} frames, as in the original. One process per connection, killed when the
// client goes; a second prompt on the same connection is refused instead of leaking a process.
#include "protocol/json_scan.hpp"
#include "server/cli_run.hpp"
#include "server/context.hpp"
#include "server/profile.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <asio/steady_timer.hpp>

namespace ccbridge::detail::server {

namespace {

constexpr const char *kProfile = "tasks-ui";
constexpr std::size_t kMaxPromptBytes = 8192;

bool meta_ok(std::string_view m)
{
  if (m.empty()) return false;
  for (char c : m)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

// A CLI line as its frame (runs on the I/O thread, see Premap). Invalid lines send nothing.
bool message_frame(const Message &m, std::string &frame)
{
  if (m.is(MessageType::assistant)) {
    // The seed's client reads {"type":"message","content":[...]}: the inner message object.
    auto inner = json_member_span(m.raw(), {"message"});
    if (inner && !inner->empty() && inner->front() == '{') {
      frame.assign(*inner);
      return true;
    }
  }
  return verbatim_frame(m, frame);
}

class TasksConnection final : public WsHandler, public std::enable_shared_from_this<TasksConnection> {
public:
  TasksConnection(Context &ctx, WsConn &conn) : ctx_(ctx), conn_(conn), timer_(ctx.ioc) {}
  ~TasksConnection() override { stop_run(); }

  void on_open() override { conn_.send_text(R"({"info":"send {prompt,meta}"})"); }

  void on_text(std::string_view text) override
  {
    if (cli_ || finished_) {
      ++ctx_.metrics.client_errors;
      conn_.send_text(error_body("a prompt is already running on this connection; open a new one for another"));
      return;
    }
    JsonView msg;
    try {
      msg = parse_json(text);
    } catch (const Error &) {
      return refuse("Invalid JSON");
    }
    if (!msg.is_object()) return refuse("Invalid JSON: expected an object {prompt, meta}");
    auto prompt = msg["prompt"].string();
    if (!prompt || prompt->empty()) return refuse("Invalid input: prompt must be a non-empty string");
    if (prompt->size() > kMaxPromptBytes) return refuse("Invalid input: prompt exceeds 8192 bytes");
    JsonView meta = msg["meta"];
    std::string full(*prompt);
    if (meta.exists() && !meta.is_null()) {
      auto m = meta.string();
      if (!m || !meta_ok(*m)) return refuse("Invalid input: meta must match ^[A-Z0-9_\\-]+$");
      full += "\n\n[meta:" + std::string(*m) + "]";
    }
    if (!ctx_.can_start_process()) return fail("too many sessions are running; try again later");

    Options opts = ctx_.base_options();
    auto weak = weak_from_this();
    try {
      cli_ = CliRun::start(
          ctx_, full, opts,
          [weak](std::vector<CliEvent> &batch) {
            if (auto self = weak.lock()) self->on_events(batch);
          },
          true, message_frame);
    } catch (const Error &e) {
      ++ctx_.metrics.spawn_failures;
      ctx_.log.warn("spawn_failed", {{"profile", kProfile}, {"error", e.what()}});
      return fail(e.code() == errc::cli_not_found ? "Claude binary not found" : std::string("Failed to start Claude: ") + e.what());
    }
    ctx_.log.info("run_start", {{"profile", kProfile}, {"pid", std::to_string(cli_->pid())}});
    timer_.expires_after(ctx_.cfg.tasks_ui.timeout);
    timer_.async_wait([weak](std::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->finished_) return;
      self->timed_out_ = true;
      self->cli_->cancel();
    });
  }

  void on_close(std::uint16_t) override { stop_run(); }
  void on_shutdown() override
  {
    shutting_down_ = true;
    if (cli_ && !finished_) {
      cli_->cancel();  // the end event closes with 1001
    } else {
      conn_.close(close_code::going_away, "server shutting down");
    }
  }

private:
  void refuse(const std::string &why)
  {
    ++ctx_.metrics.client_errors;
    conn_.send_text(error_body(why));
    conn_.close(close_code::policy_violation, why);
  }
  void fail(const std::string &why)
  {
    finished_ = true;
    conn_.send_text(error_body(why));
    conn_.close(close_code::internal_error, why);
  }
  void stop_run()
  {
    timer_.cancel();
    if (cli_ && !finished_) cli_->cancel();  // the client is gone: so is its process
    cli_.reset();
  }

  void on_events(std::vector<CliEvent> &batch)
  {
    for (auto &ev : batch) {
      switch (ev.kind) {
      case CliEvent::Kind::message:  // invalid lines only (premap takes the rest)
        break;
      case CliEvent::Kind::frame:
        conn_.send_text(std::move(ev.text));
        ctx_.metrics.observe_relay(ev.at);
        break;
      case CliEvent::Kind::stderr_line:
        conn_.send_text(error_body(ev.text));
        break;
      case CliEvent::Kind::end: {
        finished_ = true;
        timer_.cancel();
        const RunOutcome &o = *ev.outcome;
        ctx_.log.info("run_end", {{"profile", kProfile}, {"outcome", o.ok() ? "ok" : o.message}});
        if (shutting_down_) {
          conn_.close(close_code::going_away, "server shutting down");
        } else if (timed_out_) {
          conn_.send_text(error_body("timeout: the run took longer than " +
                                     std::to_string(ctx_.cfg.tasks_ui.timeout.count() / 1000) + " s and was stopped"));
          conn_.close(close_code::internal_error, "timeout");
        } else if (o.ok()) {
          conn_.close(close_code::normal, "done");
        } else {
          conn_.send_text(error_body(o.message));
          conn_.close(close_code::internal_error, "process error");
        }
        break;
      }
      }
    }
  }

  Context &ctx_;
  WsConn &conn_;
  asio::steady_timer timer_;
  std::shared_ptr<CliRun> cli_;
  bool finished_ = false;
  bool timed_out_ = false;
  bool shutting_down_ = false;
};

// WsHandler is owned by the transport through a unique_ptr; TasksConnection needs weak_from_this
// for its callbacks, so the transport holds this thin owner.
class Owner final : public WsHandler {
public:
  explicit Owner(std::shared_ptr<TasksConnection> c) : c_(std::move(c)) {}
  void on_open() override { c_->on_open(); }
  void on_text(std::string_view t) override { c_->on_text(t); }
  void on_close(std::uint16_t code) override { c_->on_close(code); }
  void on_shutdown() override { c_->on_shutdown(); }

private:
  std::shared_ptr<TasksConnection> c_;
};

void install(Context &ctx, Router &r)
{
  Context *c = &ctx;
  r.ws("/ws/claude", [c](WsConn &conn) { return std::make_unique<Owner>(std::make_shared<TasksConnection>(*c, conn)); });
}

}  // namespace

Profile tasks_ui_profile() { return {kProfile, "002", 3000, true, install}; }

}  // namespace ccbridge::detail::server
