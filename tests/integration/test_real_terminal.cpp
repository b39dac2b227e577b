// Terminal against the pinned real CLI: its interactive UI in a PTY, offline against the mock
// Messages API (loopback-only namespace), with the first-run screens answered in ~/.claude.json
// (../shared/claude-cli/CLI-OBSERVED.md, "The interactive UI in a PTY").
#include "mock_api.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>

using namespace ccbridge;
using namespace std::chrono_literals;

namespace {
// The UI paints an answer as "●", cursor moves, then the text; the typed prompt has no "●".
bool answer_shown(const std::string &screen, const std::string &text)
{
  for (auto at = screen.find(text); at != std::string::npos; at = screen.find(text, at + 1)) {
    std::size_t from = at > 24 ? at - 24 : 0;
    if (screen.substr(from, at - from).find("\xE2\x97\x8F") != std::string::npos) return true;  // ●
  }
  return false;
}
}  // namespace

TEST_CASE("real-cli terminal: the interactive UI shows its prompt, answers a prompt, then stops")
{
  MockApi api;
  Options o = api.options();
  const std::string home = o.env.at("HOME");
  const std::string key = o.env.at("ANTHROPIC_API_KEY");
  {
    std::ofstream cfg(home + "/.claude.json");
    cfg << R"({"hasCompletedOnboarding":true,"projects":{")" << api.work_dir()
        << R"(":{"hasTrustDialogAccepted":true}},"customApiKeyResponses":{"approved":[")"
        << key.substr(key.size() > 20 ? key.size() - 20 : 0) << R"("],"rejected":[]}})";
  }
  TerminalOptions t;
  t.cli_path = *o.cli_path;
  t.cwd = api.work_dir();
  t.cols = 120;
  t.rows = 40;
  t.extra_env = o.env;  // HOME, ANTHROPIC_BASE_URL, the API key and the offline switches
  t.extra_env["TERM"] = "xterm-256color";
  t.args = {"--model", "mock-model"};

  std::mutex mu;
  std::condition_variable cv;
  std::string screen;
  std::optional<TerminalExit> exit;
  TerminalEvents ev;
  ev.output = [&](std::string_view bytes, std::uint64_t) {
    std::lock_guard<std::mutex> lk(mu);
    screen.append(bytes);
    cv.notify_all();
  };
  ev.exit = [&](const TerminalExit &x) {
    std::lock_guard<std::mutex> lk(mu);
    exit = x;
    cv.notify_all();
  };
  Runtime rt;
  Terminal term = Terminal::start(rt, t, ev);
  {
    std::unique_lock<std::mutex> lk(mu);
    bool prompt = cv.wait_for(lk, 60s, [&] { return screen.find("\xE2\x9D\xAF") != std::string::npos || exit; });
    CHECK_MESSAGE(prompt, screen.substr(screen.size() > 2000 ? screen.size() - 2000 : 0));
    REQUIRE_MESSAGE(!exit, "the CLI exited: " << exit->reason << ", screen: " << screen);
  }
  CHECK(screen.find("Claude Code") != std::string::npos);
  // A prompt typed into the UI gets the mock's answer on the screen.
  term.write("[[reply: pong-from-the-mock]]");
  term.write("\r");
  {
    std::unique_lock<std::mutex> lk(mu);
    bool answered = cv.wait_for(lk, 60s, [&] { return answer_shown(screen, "pong-from-the-mock") || exit; });
    CHECK_MESSAGE(answered, screen.substr(screen.size() > 2000 ? screen.size() - 2000 : 0));
  }
  term.stop(2000ms, 5000ms);
  std::unique_lock<std::mutex> lk(mu);
  REQUIRE(cv.wait_for(lk, 30s, [&] { return exit.has_value(); }));
  CHECK(exit->reason == "exited");
  CHECK_FALSE(exit->error);
}
