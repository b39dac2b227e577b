#include "core/run_setup.hpp"
#include "core/stream_state.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/query.hpp>

CCB_BEGIN_NAMESPACE

namespace {

Stream start_run(std::shared_ptr<detail::RuntimeImpl> runtime, const Options &options, std::string frame)
{
  if (options.forward_subagent_text) {
    throw Error(errc::invalid_argument, "Options::forward_subagent_text is sent in the initialize request, which a "
                                        "one-shot query does not send: open a Session instead");
  }
  detail::SpawnRequest req = detail::prepare_spawn(options);
  auto state = std::make_shared<detail::StreamState>(std::move(runtime), options);
  state->start(std::move(req));
  state->write(std::move(frame));
  // No callbacks need the control channel in a one-shot run: EOF tells the CLI to finish.
  state->close_stdin();
  return detail::Access<Stream>::make(std::move(state));
}

}  // namespace

Stream query(Runtime &runtime, std::string_view prompt, const Options &options)
{
  return start_run(detail::Access<Runtime>::impl(runtime), options,
                   detail::user_frame(detail::text_content(prompt, "the prompt"), "", options.verbatim_prompts));
}

Stream query(std::string_view prompt, const Options &options)
{
  return start_run(std::make_shared<detail::RuntimeImpl>(1), options,
                   detail::user_frame(detail::text_content(prompt, "the prompt"), "", options.verbatim_prompts));
}

Stream query_content(Runtime &runtime, std::string_view content_json, const Options &options)
{
  return start_run(detail::Access<Runtime>::impl(runtime), options,
                   detail::user_frame(detail::content_blocks(content_json), "", options.verbatim_prompts));
}

CCB_END_NAMESPACE

namespace ccbridge::detail {

SpawnRequest prepare_spawn(const Options &o)
{
  if (o.max_line_bytes == 0) throw Error(errc::invalid_argument, "Options::max_line_bytes must be > 0");
  if (o.max_buffered_messages == 0) {
    throw Error(errc::invalid_argument, "Options::max_buffered_messages must be > 0");
  }
  if (o.max_buffered_bytes == 0) throw Error(errc::invalid_argument, "Options::max_buffered_bytes must be > 0");
  SpawnRequest req;
  req.program = find_cli(o);
  req.args = build_cli_args(o);
  req.env = build_cli_env(o, current_environment());
  req.cwd = o.cwd;
  if (o.cwd_dir) {
    req.cwd_dir = o.cwd_dir;
    if (!req.cwd) req.cwd = o.cwd_dir.path();
  }
  req.user = o.user;
  return req;
}

}  // namespace ccbridge::detail
