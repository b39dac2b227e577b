#include "server/session_run.hpp"

#include <ccbridge/error.hpp>

#include <asio/post.hpp>

namespace ccbridge::detail::server {

std::shared_ptr<SessionRun> SessionRun::open(Context &ctx, Request request, std::weak_ptr<Client> client)
{
  std::shared_ptr<SessionRun> run(new SessionRun(ctx));
  run->client_ = std::move(client);
  run->run_ = std::move(request.run);
  run->profile_ = request.profile;
  run->id_ = std::move(request.id);
  run->first_ = std::move(request.asked);
  run->first_.cwd_dir = DirectoryHandle();
  run->callbacks_ = static_cast<bool>(request.session.can_use_tool);
  SessionOptions so = std::move(request.session);
  std::string first_prompt = std::move(request.first_prompt);
  Premap premap = std::move(request.premap);
  run->slot_ = ctx.processes.take();
  std::weak_ptr<SessionRun> weak = run;
  run->inbox_ = std::make_shared<Inbox<CliEvent>>(ctx.ioc, kInboxDepth, [weak](std::vector<CliEvent> &batch) {
    if (auto self = weak.lock()) self->on_batch(batch);
  });
  std::weak_ptr<Inbox<CliEvent>> inbox = run->inbox_;
  asio::io_context &io = ctx.ioc;
  Runtime &rt = ctx.runtime;
  // The open holds the run until its result is back on the server thread, so a run closed
  // meanwhile still retires the Session it finds.
  ctx.workers.post(
      [run, so = std::move(so), first_prompt = std::move(first_prompt), inbox, premap, &io, &rt]() mutable {
        std::optional<Session> session;
        std::string err;
        bool not_found = false;
        try {
          session.emplace(Session::open(rt, std::move(so)));
          session->messages().on_message(
              [inbox, premap](const Message &m) {
                if (auto in = inbox.lock()) in->push(message_event(m, premap));
              },
              [inbox](const RunOutcome &o) {
                if (auto in = inbox.lock()) in->push(end_event(o));
              });
          session->send(first_prompt);
        } catch (const Error &e) {
          err = e.what();
          not_found = e.code() == errc::cli_not_found;
        } catch (const std::exception &e) {
          err = e.what();
        }
        if (!err.empty() && session) {
          session->close();  // opened, then the first message failed: reap it here, off the server thread
          session.reset();
        }
        asio::post(io, [run, session = std::make_shared<std::optional<Session>>(std::move(session)), err, not_found] {
          run->on_opened(std::move(*session), err, not_found);
        });
      });
  return run;
}

SessionRun::~SessionRun()
{
  if (inbox_) inbox_->close();
}

void SessionRun::on_opened(std::optional<Session> session, const std::string &error, bool not_found)
{
  if (!session) {
    slot_.release();  // a failed open has ended (and reaped) whatever it started
    inbox_->close();
    held_.clear();
    ++ctx_.metrics.spawn_failures;
    ctx_.log.warn("spawn_failed", {{"profile", profile_}, {"session", id_}, {"error", error}});
    if (auto c = client_.lock(); c && !closed_) c->open_failed(error, not_found);
    return;
  }
  session_ = std::make_shared<Session>(std::move(*session));
  if (closed_) return retire();  // nobody wants it any more
  // Flow control: a run whose client cannot keep up pauses its own CLI, not the I/O thread.
  std::weak_ptr<Session> ws = session_;
  inbox_->set_flow_control(
      [ws] {
        if (auto s = ws.lock()) s->messages().pause_reading();
      },
      [ws] {
        if (auto s = ws.lock()) s->messages().resume_reading();
      });
  for (const auto &text : std::exchange(held_, {})) send(text);
}

void SessionRun::send(const std::string &text)
{
  if (closed_) return;
  if (!session_) {
    held_.push_back(text);
    return;
  }
  try {
    session_->send(text);
  } catch (const Error &e) {
    report_send_failure(e.what());
  }
}

std::string SessionRun::next_turn(const Options &asked, bool callbacks, std::string text)
{
  if (asked.cwd && *asked.cwd != first_.cwd.value_or(""))
    return "cwd cannot change within a conversation; open a new connection";
  if (asked.allowed_tools != first_.allowed_tools || asked.max_thinking_tokens != first_.max_thinking_tokens ||
      callbacks != callbacks_)
    return "allowed_tools, max_thinking_tokens and permission_requests are fixed by the first query of a conversation; "
           "open a new connection to change them";
  if (asked.resume || asked.continue_conversation)
    return "resume and continue_conversation apply to the first query of a connection";
  // A model or mode asked for and different from the current one (none asked: it stays as it is).
  auto changed = [](const std::optional<std::string> &now, std::optional<std::string> &current) {
    if (!now || now == current) return std::optional<std::string>();
    current = now;
    return now;
  };
  auto model = changed(asked.model, first_.model);
  auto mode = changed(asked.permission_mode, first_.permission_mode);
  send_after(model, mode, std::move(text));
  return {};
}

void SessionRun::send_after(std::optional<std::string> model, std::optional<std::string> mode, std::string text)
{
  if (!ready()) return;
  auto session = session_;
  std::weak_ptr<SessionRun> weak = weak_from_this();
  asio::io_context &io = ctx_.ioc;
  ctx_.workers.post([session, model, mode, text, weak, &io] {
    std::string err;
    try {
      if (model) session->set_model(*model);
      if (mode) session->set_permission_mode(*mode);
      session->send(text);
    } catch (const std::exception &e) {
      err = e.what();
    }
    if (err.empty()) return;
    asio::post(io, [weak, err] {
      if (auto self = weak.lock()) self->report_send_failure(err);
    });
  });
}

void SessionRun::interrupt()
{
  if (!ready()) return;
  auto session = session_;
  ctx_.workers.post([session] {
    try {
      session->interrupt();
    } catch (...) {
      // the turn ends anyway, or the process is gone and its end is reported
    }
  });
}

void SessionRun::pause_intake()
{
  if (inbox_) inbox_->pause();
}

void SessionRun::resume_intake()
{
  if (inbox_) inbox_->resume();
}

void SessionRun::close()
{
  if (closed_) return;
  closed_ = true;  // the client is not called again
  held_.clear();
  // If the open is still under way, its result finds the run closed and retires the Session then;
  // until that, the slot stays taken.
  if (session_) retire();
}

// Ends the Session without blocking the server thread: the shutdown ladder starts now, on the
// runtime, and a teardown worker waits for it to finish (Session::close) before the process's slot
// is given back. Teardown workers are not the workers that open sessions, so a slow ladder never
// delays another client's query.
void SessionRun::retire()
{
  inbox_->close();
  auto session = std::exchange(session_, nullptr);
  if (!session) return;
  session->messages().cancel();
  ctx_.teardown.post([session, slot = std::make_shared<ProcessSlots::Slot>(std::move(slot_))] {
    session->close();
    slot->release();
  });
}

void SessionRun::report_send_failure(const std::string &why)
{
  if (auto c = client_.lock(); c && !closed_) c->send_failed(why);
}

void SessionRun::on_batch(std::vector<CliEvent> &batch)
{
  if (closed_) return;
  for (const auto &ev : batch) {
    if (ev.kind != CliEvent::Kind::message && ev.kind != CliEvent::Kind::frame) continue;
    ++ctx_.metrics.messages_from_cli;
    ctx_.metrics.bytes_from_cli += ev.kind == CliEvent::Kind::frame ? ev.cli_bytes : ev.msg.raw().size();
  }
  auto self = shared_from_this();                                           // the client may drop its reference
  bool ended = !batch.empty() && batch.back().kind == CliEvent::Kind::end;  // nothing follows the end
  if (auto c = client_.lock()) {
    Run::Hold hold(run_);  // the whole batch goes out together, before the backlog check below
    c->batch(batch);
  }
  // A burst the clients cannot take yet: hold the CLI back rather than drop what they need.
  if (run_ && !ended && !closed_) hold_back_if_backlogged(*run_, self);
  if (!ended || closed_) return;
  // The process has been reaped: this only frees the Session and gives the slot back.
  closed_ = true;
  retire();
}

}  // namespace ccbridge::detail::server
