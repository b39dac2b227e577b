// Sessions (one CLI process for a conversation, with control requests) and permission requests.
#include "capi.hpp"

using namespace ccbridge;
using namespace ccbridge::detail::capi;

namespace {

// A Session call that returns nothing: CCB_OK, or the status of what it threw.
template <class F> int session_call(ccb_session_t *session, F &&call)
{
  return guarded([&] {
    call(need(session, "session")->session);
    return CCB_OK;
  });
}

// Answers are sent at most once and dropped when the CLI withdrew the request: say so.
void check_open(const ccb_permission_t *request)
{
  if (need(request, "request")->reply.answered()) {
    throw Error(errc::invalid_argument, "this permission request was already answered");
  }
  if (request->reply.cancelled()) {
    throw Error(errc::cancelled, "the CLI withdrew this permission request (an interrupt?); the answer was dropped");
  }
}

}  // namespace

extern "C" {

int ccb_session_open(ccb_session_t **out, const ccb_options_t *opts)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    std::shared_ptr<Runtime> runtime = runtime_for(opts);
    Session session = Session::open(*runtime, opts ? opts->session : SessionOptions());
    JsonView info = session.server_info();
    *out = new ccb_session{runtime, std::move(session), info.exists() ? info.dump() : "null"};
    return CCB_OK;
  });
}

int ccb_session_send(ccb_session_t *session, const char *text)
{
  return session_call(session, [text](Session &s) { s.send(need(text, "text")); });
}

int ccb_session_send_content(ccb_session_t *session, const char *content_json)
{
  return session_call(session, [content_json](Session &s) { s.send_content(need(content_json, "content_json")); });
}

int ccb_session_end_input(ccb_session_t *session)
{
  return session_call(session, [](Session &s) { s.end_input(); });
}

int ccb_session_end_input_when_done(ccb_session_t *session, long long ceiling_ms)
{
  return session_call(session, [ceiling_ms](Session &s) {
    std::optional<std::chrono::milliseconds> ceiling;
    if (ceiling_ms >= 0) ceiling = std::chrono::milliseconds(ceiling_ms);
    s.end_input_when_done(ceiling);
  });
}

int ccb_session_receive(ccb_message_t **out, ccb_session_t *session, int timeout_ms)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    return pull(need(session, "session")->session.messages(), timeout_ms, out);
  });
}

int ccb_session_on_message(ccb_session_t *session, ccb_message_cb on_message, ccb_end_cb on_end, void *user,
                           ccb_user_free_fn user_free)
{
  return guarded([&] {
    need(session, "session");
    UserPtr u = make_user(user);
    set_message_callbacks(session->session.messages(), need(on_message, "on_message"), on_end, u);
    session->callback_mode = true;
    u->user_free = user_free;
    return CCB_OK;
  });
}

int ccb_session_interrupt(ccb_session_t *session)
{
  return session_call(session, [](Session &s) { s.interrupt(); });
}

int ccb_session_set_permission_mode(ccb_session_t *session, const char *mode)
{
  return session_call(session, [mode](Session &s) { s.set_permission_mode(need(mode, "mode")); });
}

int ccb_session_set_model(ccb_session_t *session, const char *model)
{
  return session_call(session, [model](Session &s) {
    s.set_model(model ? std::optional<std::string_view>(model) : std::nullopt);
  });
}

int ccb_session_control(ccb_session_t *session, const char *subtype, const char *fields_json, int timeout_ms,
                        char **response_json)
{
  if (response_json) *response_json = nullptr;
  return session_call(session, [&](Session &s) {
    std::optional<std::chrono::milliseconds> timeout;
    if (timeout_ms > 0) timeout = std::chrono::milliseconds(timeout_ms);
    JsonView r = s.control(need(subtype, "subtype"), fields_json ? fields_json : "{}", timeout);
    if (response_json) *response_json = dup_string(r.exists() ? r.dump() : "null");
  });
}

const char *ccb_session_server_info(const ccb_session_t *session)
{
  return session ? session->server_info.c_str() : "";
}

int ccb_session_pid(const ccb_session_t *session)
{
  try {
    return session ? session->session.pid() : 0;
  } catch (...) {
    return 0;
  }
}

int ccb_session_cancel(ccb_session_t *session)
{
  return session_call(session, [](Session &s) { s.messages().cancel(); });
}

int ccb_session_close(ccb_session_t *session, const ccb_outcome_t **outcome)
{
  if (outcome) *outcome = nullptr;
  return guarded([&] {
    const RunOutcome &o = need(session, "session")->session.close();
    if (!session->session.messages().finished()) {  // close() only returns early on an I/O thread
      return fail(CCB_E_WOULD_DEADLOCK, "[ccbridge.would_deadlock] ccb_session_close called from a ccbridge "
                                        "callback; the session is being closed in the background");
    }
    const ccb_outcome_t *c = session->outcome.get(o);
    if (outcome) *outcome = c;
    return outcome_status(*c);
  });
}

void ccb_session_free(ccb_session_t *session)
{
  if (!session) return;
  try {
    session->session.close();
    if (session->callback_mode) session->session.messages().wait();  // on_end has run
  } catch (...) {
    // On an I/O thread: the ladder goes on in the background.
  }
  delete session;
}

// ---- permission requests ----------------------------------------------------------------------

const char *ccb_permission_tool_name(const ccb_permission_t *request)
{
  return request ? request->data->tool_name.c_str() : "";
}

const char *ccb_permission_input(const ccb_permission_t *request)
{
  return request ? request->data->input_json.c_str() : "";
}

const char *ccb_permission_request_json(const ccb_permission_t *request)
{
  return request ? request->data->request_json.c_str() : "";
}

int ccb_permission_cancelled(const ccb_permission_t *request) { return request && request->reply.cancelled() ? 1 : 0; }

int ccb_permission_allow(ccb_permission_t *request, const char *updated_input_json, const char *updated_permissions_json)
{
  return guarded([&] {
    check_open(request);
    if (!updated_input_json && !updated_permissions_json) {
      request->reply(PermissionDecision::allow());
    } else {
      request->reply(PermissionDecision::allow_with(
          updated_input_json ? updated_input_json : request->data->input_json.c_str(),
          updated_permissions_json ? updated_permissions_json : ""));
    }
    return CCB_OK;
  });
}

int ccb_permission_deny(ccb_permission_t *request, const char *message, int interrupt)
{
  return guarded([&] {
    check_open(request);
    request->reply(PermissionDecision::deny(message ? message : "", interrupt != 0));
    return CCB_OK;
  });
}

int ccb_permission_keep(ccb_permission_t **out, const ccb_permission_t *request)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    need(request, "request");
    *out = new ccb_permission{request->reply, request->data};
    return CCB_OK;
  });
}

void ccb_permission_free(ccb_permission_t *request) { delete request; }

}  // extern "C"
