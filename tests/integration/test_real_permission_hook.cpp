// The exact approval path with the pinned real CLI: its interactive UI in a PTY, offline against
// the mock Messages API, started with a PermissionRelay's arguments and environment. The mock
// answers "create file approve_click_fix_case" with a Bash tool_use `touch approve_click_fix_case`;
// the relay must get that one prompt (tool and input), and its answer (or a key typed on the
// screen instead) must decide whether the file appears.
#include "../unit/relay_harness.hpp"
#include "mock_api.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ccb_test::RelayHarness;
using Clock = std::chrono::steady_clock;

namespace {

const char kPrompt[] = "create file approve_click_fix_case";
const char kFile[] = "approve_click_fix_case";

bool exists(const std::string &path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

/// The printable text of terminal output: escape sequences (CSI, OSC, two-byte ESC x) removed.
std::string strip_ansi(const std::string &in)
{
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\x1b') {
      out += in[i];
      continue;
    }
    if (i + 1 >= in.size()) break;
    char kind = in[++i];
    if (kind == '[') {
      while (++i < in.size() && !(in[i] >= 0x40 && in[i] <= 0x7e)) {
      }
      // The UI moves the cursor along the line (CSI n C, CSI n G) where it means blanks.
      if (i < in.size() && (in[i] == 'C' || in[i] == 'G')) out += ' ';
    } else if (kind == ']') {
      while (++i < in.size() && in[i] != '\a' && !(in[i] == '\x1b' && i + 1 < in.size() && in[i + 1] == '\\')) {
      }
      if (i < in.size() && in[i] == '\x1b') ++i;
    }
  }
  return out;
}

/// The scratch HOME's ~/.claude.json that skips the first-run screens (CLI-OBSERVED, PTY section).
void write_claude_json(const MockApi &api, const std::string &key)
{
  std::ofstream f(api.home_dir() + "/.claude.json");
  f << R"({"hasCompletedOnboarding":true,"projects":{")" << api.work_dir()
    << R"(":{"hasTrustDialogAccepted":true}},"customApiKeyResponses":{"approved":[")"
    << key.substr(key.size() > 20 ? key.size() - 20 : 0) << R"("],"rejected":[]}})";
}

/// The CLI's interactive UI on a 120x40 PTY; its output is read on a thread of its own.
class PtyCli {
public:
  PtyCli(const MockApi &api, ccbridge::detail::PermissionRelay &relay)
  {
    const std::string key = "sk-test";
    write_claude_json(api, key);
    const char *cli_env = std::getenv("CCB_REAL_CLI");
    std::vector<std::string> args = {cli_env && *cli_env ? cli_env : CCB_REAL_CLI, "--model", "mock-model"};
    for (auto &a : relay.cli_args()) args.push_back(a);
    std::vector<std::string> env = {
        "HOME=" + api.home_dir(),   "PATH=/usr/local/bin:/usr/bin:/bin",
        "TERM=xterm-256color",      "ANTHROPIC_BASE_URL=http://127.0.0.1:" + std::to_string(api.port()),
        "ANTHROPIC_API_KEY=" + key, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
        "DISABLE_TELEMETRY=1",      "DISABLE_AUTOUPDATER=1",
        "CLAUDE_CODE_MAX_RETRIES=1"};
    for (auto &kv : relay.cli_env()) env.push_back(kv.first + "=" + kv.second);
    spawn(args, env, api.work_dir());
    reader_ = std::thread([this] { read_loop(); });
  }
  ~PtyCli()
  {
    // CCB_PTY_DUMP=FILE keeps the raw screens of every run, for when a test needs looking into.
    if (const char *dump = std::getenv("CCB_PTY_DUMP")) std::ofstream(dump, std::ios::app) << raw_ << "\n=====\n";
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    reader_.join();
    ::close(master_);
  }

  /// Waits until the screen text, since `from` (an earlier size()), holds `text`.
  bool wait_for(const std::string &text, std::chrono::seconds wait, std::size_t from = 0)
  {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(
        lk, wait, [&] { return strip_ansi(raw_.substr(std::min(from, raw_.size()))).find(text) != std::string::npos; });
  }
  std::size_t size()
  {
    std::lock_guard<std::mutex> lk(mu_);
    return raw_.size();
  }
  std::string text()
  {
    std::lock_guard<std::mutex> lk(mu_);
    return strip_ansi(raw_);
  }
  void type(const std::string &keys) { REQUIRE(::write(master_, keys.data(), keys.size()) == ssize_t(keys.size())); }

  /// Ends the UI: Ctrl-C, and at "Press Ctrl-C again to exit" (shown for under a second) Ctrl-C
  /// again; the first one may only interrupt a turn, so this repeats until it exits (SIGKILL after 20 s).
  void quit()
  {
    auto deadline = Clock::now() + 20s;
    while (!exited(0ms) && Clock::now() < deadline) {
      std::size_t mark = size();
      type("\x03");
      if (wait_for("again to exit", 2s, mark)) type("\x03");
      exited(2000ms);
    }
    CHECK(Clock::now() < deadline);
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
    exited(5000ms);
  }
  /// Whether the UI has exited (reaped) within `wait`.
  bool exited(std::chrono::milliseconds wait)
  {
    auto deadline = Clock::now() + wait;
    for (;;) {
      if (pid_ <= 0) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
      else if (Clock::now() >= deadline) return false;
      else std::this_thread::sleep_for(20ms);
    }
  }

private:
  void spawn(const std::vector<std::string> &args, const std::vector<std::string> &env, const std::string &cwd)
  {
    std::vector<char *> argv, envp;  // built before forkpty: the child must not allocate
    for (auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    for (auto &e : env) envp.push_back(const_cast<char *>(e.c_str()));
    envp.push_back(nullptr);
    winsize ws{40, 120, 0, 0};
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
  }
  void read_loop()
  {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(master_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EIO once the UI and everything on its terminal are gone
      std::lock_guard<std::mutex> lk(mu_);
      raw_.append(buf, std::size_t(n));
      cv_.notify_all();
    }
  }

  pid_t pid_ = -1;
  int master_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string raw_;
};

/// Starts the UI, waits for its input prompt, types the request and waits for the relay's ask.
ccbridge::detail::PermissionAsk ask_for_file(PtyCli &ui, RelayHarness &relay)
{
  auto t0 = Clock::now();
  REQUIRE_MESSAGE(ui.wait_for("\xe2\x9d\xaf", 60s), ui.text());  // ❯, the input prompt
  MESSAGE("UI ready after " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
                            << " ms");
  std::size_t mark = ui.size();
  ui.type(kPrompt);
  REQUIRE_MESSAGE(ui.wait_for("approve_click_fix_case", 20s, mark), ui.text());
  ui.type("\r");
  auto t1 = Clock::now();
  auto ask = relay.next_ask(60000ms);
  REQUIRE_MESSAGE(ask, ui.text());
  MESSAGE("ask after " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t1).count()
                       << " ms: " << ask->request_json);
  CHECK(ask->tool_name == "Bash");
  CHECK(ask->tool_input_json.find(R"("command":"touch approve_click_fix_case")") != std::string::npos);
  CHECK(ask->request_json.find(R"("hook_event_name":"PermissionRequest")") != std::string::npos);
  return *ask;
}

/// A relay whose hook is the ccbridge of this build.
ccbridge::detail::PermissionRelayConfig built_hook()
{
  ccbridge::detail::PermissionRelayConfig c;
  c.hook_program = CCB_APP;
  return c;
}

bool wait_file(const std::string &path, std::chrono::seconds wait)
{
  auto deadline = Clock::now() + wait;
  while (!exists(path)) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// The mock's --script file: the typed prompt drives the Bash tool call.
struct MockScript {
  MockScript()
  {
    char tmpl[] = "/tmp/ccb-hook-script-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::ofstream(path) << R"({"create file approve_click_fix_case": "[[bash: touch approve_click_fix_case]]"})";
  }
  ~MockScript() { ::unlink(path.c_str()); }
  std::vector<std::string> args() const { return {"--script", path}; }
  std::string path;
};

}  // namespace

TEST_CASE("real-cli permission hook: the relay's allow runs the tool")
{
  MockScript script;
  MockApi api(script.args());
  RelayHarness relay(built_hook());
  PtyCli ui(api, *relay.relay);
  auto ask = ask_for_file(ui, relay);
  auto t = Clock::now();
  CHECK(relay.relay->answer(ask.id, true));
  CHECK_MESSAGE(wait_file(api.work_dir() + "/" + kFile, 30s), ui.text());
  MESSAGE("file created " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count()
                          << " ms after the answer");
  CHECK(ui.wait_for("Tool result", 30s));  // the mock's follow-up reply: the turn went on
  CHECK_FALSE(relay.next_gone(0ms));
  ui.quit();
  CHECK_FALSE(relay.next_gone(0ms));
  CHECK_FALSE(relay.next_ask(0ms));
}

TEST_CASE("real-cli permission hook: the relay's deny refuses the tool")
{
  MockScript script;
  MockApi api(script.args());
  RelayHarness relay(built_hook());
  PtyCli ui(api, *relay.relay);
  auto ask = ask_for_file(ui, relay);
  CHECK(relay.relay->answer(ask.id, false, "refused by the test"));
  CHECK_MESSAGE(ui.wait_for("refused by the test", 30s), ui.text());
  CHECK_FALSE(exists(api.work_dir() + "/" + kFile));
  ui.quit();
  CHECK_FALSE(exists(api.work_dir() + "/" + kFile));
  CHECK_FALSE(relay.next_gone(0ms));
}

TEST_CASE("real-cli permission hook: Enter on the screen answers instead, and the ask is then gone")
{
  MockScript script;
  MockApi api(script.args());
  RelayHarness relay(built_hook());
  PtyCli ui(api, *relay.relay);
  std::size_t mark = ui.size();
  auto ask = ask_for_file(ui, relay);
  // The relay does not answer, so the prompt is painted; its first choice, Yes, is selected.
  REQUIRE_MESSAGE(ui.wait_for("Do you want to proceed?", 30s, mark), ui.text());
  // A key that comes right after the menu is painted can be lost (it takes keys a moment later):
  // Enter again until the tool has run (once the menu is gone, Enter on an empty input does nothing).
  auto t = Clock::now();
  bool created = false;
  for (int i = 0; i < 20 && !created; ++i) {
    ui.type("\r");
    created = wait_file(api.work_dir() + "/" + kFile, 1s);
  }
  REQUIRE_MESSAGE(created, ui.text());
  // "Yes" runs the tool but leaves the hook, and the turn, waiting; the call's PostToolUse hook
  // tells the relay, which ends the question as gone and lets the turn go on.
  auto gone = relay.next_gone(20000ms);
  REQUIRE(gone);
  MESSAGE("gone " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count()
                  << " ms after the first Enter");
  CHECK(*gone == ask.id);
  CHECK_FALSE(relay.relay->answer(ask.id, true));
  CHECK_MESSAGE(ui.wait_for("Tool result", 30s), ui.text());
  ui.quit();
  CHECK_FALSE(relay.next_ask(0ms));
}
