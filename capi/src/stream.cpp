// One-shot queries and their streams.
#include "capi.hpp"

using namespace ccbridge;
using namespace ccbridge::detail::capi;

namespace {

// A one-shot run has no control channel for callbacks: refuse them rather than ignore them.
const Options &query_options(const ccb_options_t *opts, const Options &defaults)
{
  if (!opts) return defaults;
  const SessionOptions &so = opts->session;
  if (so.can_use_tool || !so.hooks.empty() || !so.mcp_servers.empty()) {
    throw Error(errc::invalid_argument,
                "permission callbacks, hooks and in-process tools need a session (ccb_session_open), not ccb_query");
  }
  return so.options;
}

template <class Start> int start_stream(ccb_stream_t **out, const ccb_options_t *opts, Start start)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    Options defaults;
    const Options &options = query_options(opts, defaults);
    std::shared_ptr<Runtime> runtime = runtime_for(opts);
    *out = new ccb_stream{runtime, start(*runtime, options)};
    return CCB_OK;
  });
}

}  // namespace

extern "C" {

int ccb_query(ccb_stream_t **out, const char *prompt, const ccb_options_t *opts)
{
  return start_stream(out, opts, [prompt](Runtime &rt, const Options &o) { return query(rt, need(prompt, "prompt"), o); });
}

int ccb_query_content(ccb_stream_t **out, const char *content_json, const ccb_options_t *opts)
{
  return start_stream(out, opts, [content_json](Runtime &rt, const Options &o) {
    return query_content(rt, need(content_json, "content_json"), o);
  });
}

int ccb_stream_next(ccb_message_t **out, ccb_stream_t *stream, int timeout_ms)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    return pull(need(stream, "stream")->stream, timeout_ms, out);
  });
}

int ccb_stream_on_message(ccb_stream_t *stream, ccb_message_cb on_message, ccb_end_cb on_end, void *user,
                          ccb_user_free_fn user_free)
{
  return guarded([&] {
    need(stream, "stream");
    UserPtr u = make_user(user);
    set_message_callbacks(stream->stream, need(on_message, "on_message"), on_end, u);
    stream->callback_mode = true;
    u->user_free = user_free;
    return CCB_OK;
  });
}

int ccb_stream_wait(ccb_stream_t *stream, const ccb_outcome_t **outcome)
{
  if (outcome) *outcome = nullptr;
  return guarded([&] {
    need(stream, "stream");
    const ccb_outcome_t *c = stream->outcome.get(stream->stream.wait());
    if (outcome) *outcome = c;
    return outcome_status(*c);
  });
}

int ccb_stream_close(ccb_stream_t *stream, const ccb_outcome_t **outcome)
{
  if (outcome) *outcome = nullptr;
  return guarded([&] {
    need(stream, "stream")->stream.close();
    if (!stream->stream.finished()) {  // close() only returns early on an I/O thread
      return fail(CCB_E_WOULD_DEADLOCK, "[ccbridge.would_deadlock] ccb_stream_close called from a ccbridge callback; "
                                        "the run is being closed in the background (use ccb_stream_cancel there)");
    }
    const ccb_outcome_t *c = stream->outcome.get(stream->stream.outcome());
    if (outcome) *outcome = c;
    return outcome_status(*c);
  });
}

int ccb_stream_cancel(ccb_stream_t *stream)
{
  return guarded([&] {
    need(stream, "stream")->stream.cancel();
    return CCB_OK;
  });
}

const ccb_outcome_t *ccb_stream_outcome(ccb_stream_t *stream)
{
  try {
    if (!stream || !stream->stream.finished()) return nullptr;
    return stream->outcome.get(stream->stream.outcome());
  } catch (...) {
    return nullptr;
  }
}

int ccb_stream_pid(const ccb_stream_t *stream)
{
  try {
    return stream ? stream->stream.pid() : 0;
  } catch (...) {
    return 0;
  }
}

void ccb_stream_free(ccb_stream_t *stream)
{
  if (!stream) return;
  try {
    stream->stream.close();
    if (stream->callback_mode) stream->stream.wait();  // on_end has run: the user data is free to go
  } catch (...) {
    // On an I/O thread: the ladder goes on in the background.
  }
  delete stream;
}

}  // extern "C"
