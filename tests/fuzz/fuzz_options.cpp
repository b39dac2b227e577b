// Fuzz target 3: options_from_json / merge_options_json (lib/protocol/options_json.cpp),
// server_config_from_json (lib/server/config_json.cpp), and what the options become: the CLI's
// argv (build_cli_args), its environment (build_cli_env) and the first stdin frame.
//
// Checks, besides the sanitizers:
//  - bad input is refused with ccbridge::Error(invalid_argument), never another exception (a
//    RapidJSON assertion here would mean a value was read as the wrong type);
//  - a refused merge leaves the options as they were (the documented guarantee);
//  - argv and environment entries never carry a NUL byte, env keys never contain '=';
//  - the user frame is one valid JSON line.
#include "fuzz_common.hpp"

#include "core/run_setup.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>
#include <ccbridge/server.hpp>

#include <string>
#include <vector>

namespace {

using ccbridge::Error;
using ccbridge::Options;

template <class Fn> bool refused_properly(Fn &&fn, std::string_view input)
{
  try {
    fn();
    return false;
  } catch (const Error &e) {
    CCB_FUZZ_CHECK(e.code() == ccbridge::errc::invalid_argument, std::string(e.what()) + " <- " + std::string(input));
    CCB_FUZZ_CHECK(std::string(e.what()).size() > 0, input);
    return true;
  } catch (const std::exception &e) {
    ccb_fuzz::fail(std::string("unexpected exception: ") + e.what(), input);
  } catch (...) {
    ccb_fuzz::fail("unexpected non-standard exception", input);
  }
}

// argv + env as one comparable value, or the reason they cannot be built.
std::vector<std::string> render(const Options &o)
{
  std::vector<std::string> out;
  static const std::vector<std::string> parent{"PATH=/usr/bin:/bin", "HOME=/root", "CLAUDECODE=1", "LANG=C.UTF-8",
                                               "noequals", "=leading"};
  try {
    out = ccbridge::build_cli_args(o);
    for (const auto &a : out) CCB_FUZZ_CHECK(a.find('\0') == std::string::npos, a);
    out.push_back("--");
    for (const auto &e : ccbridge::build_cli_env(o, parent)) {
      CCB_FUZZ_CHECK(e.find('\0') == std::string::npos, e);
      auto eq = e.find('=');
      CCB_FUZZ_CHECK(eq != std::string::npos && eq > 0, e);
      CCB_FUZZ_CHECK(e.compare(0, 11, "CLAUDECODE=") != 0, e);
      out.push_back(e);
    }
  } catch (const Error &e) {
    CCB_FUZZ_CHECK(e.code() == ccbridge::errc::invalid_argument, e.what());
    out.push_back(std::string("error: ") + e.what());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  std::string_view input(reinterpret_cast<const char *>(data), size);

  Options parsed;
  bool refused = refused_properly([&] { parsed = ccbridge::options_from_json(input); }, input);
  if (!refused) {
    (void)render(parsed);
    // Merging the same object again over the result gives the same options.
    Options twice = parsed;
    CCB_FUZZ_CHECK(!refused_properly([&] { ccbridge::merge_options_json(twice, input); }, input), input);
    CCB_FUZZ_CHECK(render(twice) == render(parsed), input);
  }

  // A merge over non-default options: refused merges change nothing.
  Options base;
  base.model = "claude-fuzz";
  base.allowed_tools = {"Read", "Bash(ls:*)"};
  base.env = {{"A", "1"}};
  base.cwd = "/tmp";
  base.max_turns = 3;
  const std::vector<std::string> before = render(base);
  Options merged = base;
  if (refused_properly([&] { ccbridge::merge_options_json(merged, input); }, input)) {
    CCB_FUZZ_CHECK(render(merged) == before, input);
  } else {
    (void)render(merged);
  }

  ccbridge::ServerConfig cfg;
  if (!refused_properly([&] { cfg = ccbridge::server_config_from_json(input); }, input)) (void)render(cfg.cli);

  // The prompt and content paths of query(): a prompt is any UTF-8 text; content must be an array.
  try {
    std::string frame = ccbridge::detail::user_frame(ccbridge::detail::text_content(input, "the prompt"), "s");
    CCB_FUZZ_CHECK(!frame.empty() && frame.back() == '\n', frame);
    CCB_FUZZ_CHECK(ccb_fuzz::valid_json(std::string_view(frame).substr(0, frame.size() - 1)), frame);
    CCB_FUZZ_CHECK(frame.find('\n') == frame.size() - 1, frame);
  } catch (const Error &e) {
    CCB_FUZZ_CHECK(e.code() == ccbridge::errc::invalid_argument, e.what());
  }
  try {
    std::string frame = ccbridge::detail::user_frame(ccbridge::detail::content_blocks(input), "");
    CCB_FUZZ_CHECK(ccb_fuzz::valid_json(std::string_view(frame).substr(0, frame.size() - 1)), frame);
    CCB_FUZZ_CHECK(frame.find('\n') == frame.size() - 1, frame);
  } catch (const Error &e) {
    CCB_FUZZ_CHECK(e.code() == ccbridge::errc::invalid_argument, e.what());
  }
  return 0;
}
