#include "server/cli_run.hpp"


namespace ccbridge::detail::server {

std::shared_ptr<CliRun> CliRun::start(Context &ctx, const std::string &prompt, Options opts, Handler handler,
                                      bool forward_stderr, Premap premap)
{
  std::shared_ptr<CliRun> run(new CliRun(ctx));
  run->handler_ = std::move(handler);
  std::weak_ptr<CliRun> weak = run;
  run->inbox_ = std::make_shared<Inbox<CliEvent>>(ctx.ioc, kInboxDepth, [weak](std::vector<CliEvent> &batch) {
    if (auto self = weak.lock()) self->on_batch(batch);
  });
  std::weak_ptr<Inbox<CliEvent>> inbox = run->inbox_;
  if (forward_stderr) {
    opts.stderr_callback = [inbox](std::string_view line) {
      auto in = inbox.lock();
      if (!in) return;
      CliEvent ev;
      ev.kind = CliEvent::Kind::stderr_line;
      ev.text = std::string(line);
      ev.at = std::chrono::steady_clock::now();
      in->push(std::move(ev));
    };
  }
  run->stream_.emplace(query(ctx.runtime, prompt, opts));  // throws on spawn failures
  std::weak_ptr<CliRun> weak_run = run;
  run->inbox_->set_flow_control(
      [weak_run] {
        if (auto r = weak_run.lock()) r->stream_->pause_reading();
      },
      [weak_run] {
        if (auto r = weak_run.lock())
          if (!r->ended_) r->stream_->resume_reading();
      });
  run->slot_ = ctx.processes.take();  // until the end event, which comes after the reap
  run->self_ = run;
  run->stream_->on_message(
      [inbox, premap = std::move(premap)](const Message &m) {
        if (auto in = inbox.lock()) in->push(message_event(m, premap));
      },
      [inbox](const RunOutcome &o) {
        if (auto in = inbox.lock()) in->push(end_event(o));
      });
  return run;
}

// A started run holds itself (self_) until its end event, so this runs after the end, and the
// Stream's destructor never waits on the server thread.
CliRun::~CliRun()
{
  if (inbox_) inbox_->close();
}

void CliRun::cancel()
{
  if (stream_ && !ended_) stream_->cancel();
}

int CliRun::pid() const { return stream_ ? stream_->pid() : 0; }

void CliRun::on_batch(std::vector<CliEvent> &batch)
{
  if (ended_) return;
  for (auto &ev : batch) {
    if (ev.kind == CliEvent::Kind::message || ev.kind == CliEvent::Kind::frame) {
      ++ctx_.metrics.messages_from_cli;
      ctx_.metrics.bytes_from_cli += ev.kind == CliEvent::Kind::frame ? ev.cli_bytes : ev.msg.raw().size();
    } else if (ev.kind == CliEvent::Kind::end) {
      ended_ = true;
      slot_.release();
      inbox_->close();
    }
  }
  auto self = shared_from_this();  // the handler may drop the last other reference
  if (handler_) handler_(batch);
  if (ended_) {
    handler_ = nullptr;
    self_.reset();
  }
}

}  // namespace ccbridge::detail::server
