#include "core/run_setup.hpp"
#include "core/stream_state.hpp"
#include "protocol/utf8.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/query.hpp>

CCB_BEGIN_NAMESPACE

namespace {

Stream start_run(std::shared_ptr<Runtime::Impl> runtime, const Options &options, std::string frame)
{
  detail::SpawnRequest req = detail::prepare_spawn(options);
  auto state = std::make_shared<Stream::State>(std::move(runtime), options);
  state->start(std::move(req));
  state->write(std::move(frame));
  // No callbacks need the control channel in a one-shot run: EOF tells the CLI to finish.
  state->close_stdin();
  return Stream(std::move(state));
}

}  // namespace

Stream query(Runtime &runtime, std::string_view prompt, const Options &options)
{
  return start_run(runtime.impl(), options, detail::user_frame(detail::text_content(prompt, "the prompt"), ""));
}

Stream query(std::string_view prompt, const Options &options)
{
  return start_run(std::make_shared<Runtime::Impl>(1), options,
                   detail::user_frame(detail::text_content(prompt, "the prompt"), ""));
}

Stream query_content(Runtime &runtime, std::string_view content_json, const Options &options)
{
  return start_run(runtime.impl(), options, detail::user_frame(detail::content_blocks(content_json), ""));
}

CCB_END_NAMESPACE

namespace ccbridge::detail {

std::string user_frame(std::string_view content_json, std::string_view session_id)
{
  std::string f = R"({"type":"user","session_id":)";
  append_json_string(f, session_id);
  f += R"(,"message":{"role":"user","content":)";
  f += content_json;
  f += R"(},"parent_tool_use_id":null})";
  f += '\n';
  return f;
}

std::string text_content(std::string_view text, std::string_view what)
{
  std::size_t bad = 0;
  if (!valid_utf8(text.data(), text.size(), &bad)) {
    throw Error(errc::invalid_argument,
                std::string(what) + " is not valid UTF-8 (first bad byte at offset " + std::to_string(bad) + ")");
  }
  std::string content;
  append_json_string(content, text);
  return content;
}

std::string content_blocks(std::string_view content_json)
{
  JsonView v;
  try {
    v = parse_json(content_json);
  } catch (const Error &e) {
    throw Error(errc::invalid_argument, "content_json is not valid JSON: " + e.detail());
  }
  if (!v.is_array()) throw Error(errc::invalid_argument, "content_json must be a JSON array of content blocks");
  return v.dump();
}

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
