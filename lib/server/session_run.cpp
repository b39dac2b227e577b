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
  // The open holds the run until its result is back on the server thread, so a run closed
  // meanwhile still retires the Session it finds. Nothing here waits: the spawn and the
  // initialize answer complete on the run's strand.
  Session::open_async(ctx.runtime, std::move(so),
                      [run, inbox = std::weak_ptr<Inbox<CliEvent>>(run->inbox_), premap = std::move(premap),
                       first_prompt = std::move(first_prompt)](std::optional<Error> error, std::optional<Session> s) {
                        if (s) deliver_to(*s, inbox, premap);
                        run->opened(std::move(error), std::move(s), first_prompt);
                      });
  return run;
}

// Strand: the Session's messages and end go to the inbox (messages wait until this is set).
void SessionRun::deliver_to(Session &s, const std::weak_ptr<Inbox<CliEvent>> &inbox, const Premap &premap)
{
  s.messages().on_message(
      [inbox, premap](const Message &m) {
        if (auto in = inbox.lock()) in->push(message_event(m, premap));
      },
      [inbox](const RunOutcome &o) {
        if (auto in = inbox.lock()) in->push(end_event(o));
      });
}

// Strand: sends the first prompt, then hands the result to the server thread. A Session whose
// first message fails is closed first, and reported once it has been reaped.
void SessionRun::opened(std::optional<Error> error, std::optional<Session> s, const std::string &first_prompt)
{
  auto self = shared_from_this();
  auto session = s ? std::make_shared<Session>(std::move(*s)) : nullptr;
  if (session) {
    hold_back_with(session);  // before the first message is delivered (later on this strand)
    try {
      session->send(first_prompt);
    } catch (const Error &e) {
      error = e;
      return session->close_async([self, error](const RunOutcome &) {
        asio::post(self->ctx_.ioc, [self, error] { self->on_opened(nullptr, error); });
      });
    }
  }
  asio::post(ctx_.ioc, [self, session, error] { self->on_opened(session, error); });
}

// Flow control: a run whose client cannot keep up pauses its own CLI, not the I/O thread.
void SessionRun::hold_back_with(const std::shared_ptr<Session> &session)
{
  std::weak_ptr<Session> ws = session;
  inbox_->set_flow_control(
      [ws] {
        if (auto s = ws.lock()) s->messages().pause_reading();
      },
      [ws] {
        if (auto s = ws.lock()) s->messages().resume_reading();
      });
}

SessionRun::~SessionRun()
{
  if (inbox_) inbox_->close();
}

void SessionRun::on_opened(std::shared_ptr<Session> session, const std::optional<Error> &error)
{
  if (!session) {
    std::string why = error ? error->what() : "the session could not be opened";
    bool not_found = error && error->code() == errc::cli_not_found;
    slot_.release();  // a failed open has ended (and reaped) whatever it started
    inbox_->close();
    held_.clear();
    ++ctx_.metrics.spawn_failures;
    ctx_.log.warn("spawn_failed", {{"profile", profile_}, {"session", id_}, {"error", why}});
    if (auto c = client_.lock(); c && !closed_) c->open_failed(why, not_found);
    if (reaped_) asio::post(ctx_.ioc, std::exchange(reaped_, nullptr));
    return;
  }
  session_ = std::move(session);
  if (closed_) return retire();  // nobody wants it any more
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

std::string SessionRun::next_turn(const Options &asked, bool callbacks, const std::string &text)
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
  send_after(model, mode, text);
  return {};
}

// The model, then the mode, each after the CLI's answer to the one before, then the text.
void SessionRun::send_after(const std::optional<std::string> &model, const std::optional<std::string> &mode,
                            const std::string &text)
{
  if (!ready()) return;
  if (model) return session_->set_model_async(*model, then(std::nullopt, mode, text));
  if (mode) return session_->set_permission_mode_async(*mode, then(std::nullopt, std::nullopt, text));
  send(text);
}

// A control request's completion (on the strand): back on the server thread, the next step.
Session::ControlCallback SessionRun::then(const std::optional<std::string> &model,
                                          const std::optional<std::string> &mode, const std::string &text)
{
  return [weak = weak_from_this(), &io = ctx_.ioc, model, mode, text](const std::optional<Error> &error,
                                                                        const JsonView &) {
    asio::post(io, [weak, error, model, mode, text] {
      auto self = weak.lock();
      if (!self) return;
      if (error) return self->report_send_failure(error->what());
      self->send_after(model, mode, text);
    });
  };
}

void SessionRun::interrupt()
{
  // Fire and forget: the turn ends with its result either way, or the process is gone and its
  // end is reported.
  if (ready()) session_->interrupt_async();
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

void SessionRun::close_then(std::function<void()> reaped)
{
  if (closed_) return asio::post(ctx_.ioc, std::move(reaped));
  reaped_ = std::move(reaped);
  close();
}

// Ends the Session without blocking the server thread: the shutdown ladder starts now, on the
// runtime, and the process's slot is given back once it has been reaped.
void SessionRun::retire()
{
  inbox_->close();
  auto session = std::exchange(session_, nullptr);
  if (!session) return;
  session->close_async([slot = std::make_shared<ProcessSlots::Slot>(std::move(slot_)), &io = ctx_.ioc,
                        reaped = std::exchange(reaped_, nullptr)](const RunOutcome &) {
    slot->release();  // on the strand: a Slot may be given back from any thread
    if (reaped) asio::post(io, reaped);
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
