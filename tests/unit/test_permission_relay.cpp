// PermissionRelay (lib/core/permission_relay.hpp) against a fake hook client on its socket, and the
// real hook (`ccbridge permission-hook`) against the relay.
#include "relay_harness.hpp"

#include "detail/json.hpp"

#include <ccbridge/error.hpp>

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ccb_test::RelayHarness;
using ccbridge::detail::PermissionRelayConfig;

namespace {

const std::string kRequest = R"({"session_id":"s1","hook_event_name":"PermissionRequest","tool_name":"Bash",)"
                             R"("tool_input":{"command": "touch x","description":"run"},"permission_suggestions":[]})";

/// A hook as the relay sees it: a connection to its socket.
class FakeHook {
public:
  explicit FakeHook(const std::string &path)
  {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
  }
  ~FakeHook() { close(); }
  void close()
  {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  /// Writes; false once the relay has closed the connection.
  bool send(const std::string &data)
  {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size());
  }
  void ask(const std::string &secret, const std::string &request = kRequest)
  {
    REQUIRE(send(R"({"secret":")" + secret + R"(","request":)" + request + "}\n"));
  }
  /// What the relay sends until it closes the connection (nullopt if it is still open after `wait`).
  std::optional<std::string> until_closed(std::chrono::milliseconds wait = 5000ms)
  {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) return std::nullopt;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, std::size_t(n));
    }
  }

private:
  int fd_ = -1;
};

std::string secret_of(RelayHarness &h) { return h.relay->cli_env().at("CCBRIDGE_PERMISSION_SECRET"); }
std::string path_of(RelayHarness &h) { return h.relay->socket_path(); }

const char kAllow[] = R"({"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"allow"}}})"
                      "\n";

}  // namespace

TEST_CASE("permission relay: the CLI's arguments and environment")
{
  PermissionRelayConfig c;
  c.hook_program = "/opt/it's here/ccbridge";
  RelayHarness h(c);
  auto args = h.relay->cli_args();
  REQUIRE(args.size() == 4);
  CHECK(args[0] == "--settings");
  CHECK(args[2] == "--permission-mode");
  CHECK(args[3] == "default");
  ccbridge::detail::JsonDocument d;
  REQUIRE_FALSE(ccbridge::detail::parse_exact(d, args[1]).IsError());  // (Parse() reads past a std::string with SSE)
  const auto &entry = d["hooks"]["PermissionRequest"][0];
  CHECK(std::string(entry["matcher"].GetString()) == "*");
  const auto &hook = entry["hooks"][0];
  CHECK(std::string(hook["type"].GetString()) == "command");
  CHECK(std::string(hook["command"].GetString()) == R"('/opt/it'\''s here/ccbridge' permission-hook)");
  CHECK_FALSE(hook.HasMember("timeout"));  // the owner may take as long as a person does
  for (const char *event : {"PostToolUse", "PostToolUseFailure"}) {
    CAPTURE(event);
    const auto &post = d["hooks"][event][0];
    CHECK(std::string(post["matcher"].GetString()) == "*");
    CHECK(std::string(post["hooks"][0]["command"].GetString()) == hook["command"].GetString());
  }

  auto env = h.relay->cli_env();
  CHECK(env.at("CCBRIDGE_PERMISSION_SOCKET") == path_of(h));
  CHECK(env.at("CCBRIDGE_PERMISSION_SECRET").size() == 64);
  struct stat st {};
  std::string dir = path_of(h).substr(0, path_of(h).rfind('/'));
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  PermissionRelayConfig no_mode;
  no_mode.permission_mode = "";
  RelayHarness h2(no_mode);
  CHECK(h2.relay->cli_args().size() == 2);
  CHECK(secret_of(h2) != secret_of(h));
  CHECK(ccbridge::detail::default_hook_program().find("/ccbridge") != std::string::npos);
}

TEST_CASE("permission relay: one ask, answered once")
{
  RelayHarness h;
  FakeHook hook(path_of(h));
  hook.ask(secret_of(h));
  auto ask = h.next_ask(5s);
  REQUIRE(ask);
  CHECK(ask->id == 1);
  CHECK(ask->tool_name == "Bash");
  CHECK(ask->tool_input_json == R"({"command": "touch x","description":"run"})");  // as written
  CHECK(ask->request_json == kRequest);
  CHECK(h.relay->answer(ask->id, true));
  CHECK_FALSE(h.relay->answer(ask->id, true));
  CHECK_FALSE(h.relay->answer(ask->id, false, "late"));
  CHECK_FALSE(h.relay->answer(99, true));
  CHECK(hook.until_closed() == std::string(kAllow));
  CHECK_FALSE(h.next_gone(100ms));  // answered questions are not gone
}

TEST_CASE("permission relay: deny carries its message, and a bad message does not use the answer up")
{
  RelayHarness h;
  FakeHook hook(path_of(h));
  hook.ask(secret_of(h));
  auto ask = h.next_ask(5s);
  REQUIRE(ask);
  CHECK_THROWS_AS(h.relay->answer(ask->id, false, "bad \xff"), ccbridge::Error);
  CHECK(h.relay->answer(ask->id, false, "not \"now\""));
  CHECK(hook.until_closed() == std::string(R"({"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":)"
                                           R"({"behavior":"deny","message":"not \"now\""}}})"
                                           "\n"));

  FakeHook second(path_of(h));
  second.ask(secret_of(h));
  auto ask2 = h.next_ask(5s);
  REQUIRE(ask2);
  CHECK(ask2->id == 2);
  CHECK(h.relay->answer(ask2->id, false));
  CHECK(second.until_closed()->find(R"("message":"Permission denied")") != std::string::npos);
}

TEST_CASE("permission relay: an answer given inside on_ask")
{
  RelayHarness h({}, true);
  FakeHook hook(path_of(h));
  hook.ask(secret_of(h));
  REQUIRE(h.next_ask(5s));
  CHECK(hook.until_closed() == std::string(kAllow));
}

TEST_CASE("permission relay: a hook that goes away before the answer is gone")
{
  RelayHarness h;
  FakeHook hook(path_of(h));
  hook.ask(secret_of(h));
  auto ask = h.next_ask(5s);
  REQUIRE(ask);
  hook.close();
  auto gone = h.next_gone(5s);
  REQUIRE(gone);
  CHECK(*gone == ask->id);
  CHECK_FALSE(h.relay->answer(ask->id, true));

  FakeHook chatty(path_of(h));  // sending anything after the request also ends the question
  chatty.ask(secret_of(h));
  auto ask2 = h.next_ask(5s);
  REQUIRE(ask2);
  chatty.send("more\n");
  CHECK(h.next_gone(5s) == ask2->id);
  CHECK(chatty.until_closed() == std::string());
}

TEST_CASE("permission relay: the PostToolUse of a waiting call means it was allowed on the screen")
{
  RelayHarness h;
  FakeHook waiting(path_of(h));
  waiting.ask(secret_of(h));
  auto ask = h.next_ask(5s);
  REQUIRE(ask);
  auto post = [&](const std::string &event, const std::string &command) {
    FakeHook hook(path_of(h));
    hook.ask(secret_of(h), R"({"session_id":"s1","hook_event_name":")" + event +
                               R"(","tool_name":"Bash",)"
                               R"("tool_input":{"command": ")" +
                               command + R"(","description":"run"},"tool_response":{}})");
    CHECK(hook.until_closed() == std::string());  // no answer: that hook prints nothing
  };
  post("PostToolUse", "touch y");  // another call: nothing happens
  CHECK_FALSE(h.next_gone(100ms));
  post("PostToolUseFailure", "touch x");
  CHECK(h.next_gone(5s) == ask->id);
  CHECK(waiting.until_closed() == std::string());
  CHECK_FALSE(h.relay->answer(ask->id, true));
  post("PostToolUse", "touch x");  // no waiting call: nothing happens
  CHECK_FALSE(h.next_gone(100ms));
  CHECK_FALSE(h.next_ask(0ms));
}

TEST_CASE("permission relay: a wrong secret or malformed input closes that connection only")
{
  PermissionRelayConfig c;
  c.max_message_bytes = 4096;
  RelayHarness h(c);
  FakeHook good(path_of(h));
  std::string secret = secret_of(h);
  std::string wrong = secret;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  const std::vector<std::string> bad = {
      R"({"secret":")" + wrong + R"(","request":)" + kRequest + "}\n",
      R"({"request":)" + kRequest + "}\n",
      "not json\n",
      R"({"secret":")" + secret + R"(","request":"text"})" + "\n",
      R"({"secret":")" + secret + R"(","request":{"tool_input":{}}})" + "\n",
      R"({"secret":")" + secret + R"(","request":{"tool_name":"Bash"}})" + "\n",
      R"({"secret":")" + secret + R"(","request":{"hook_event_name":"Stop","tool_name":"Bash","tool_input":{}}})" +
          "\n",
      R"({"secret":")" + secret + R"(","request":{"tool_name":"Bash","tool_input":{}}})" + "\n",  // no event
      R"({"secret":")" + secret + R"(","request":{"tool_name":"Bash","tool_input":{}})" + "\n",   // truncated
      R"({"secret":")" + secret + R"(","request":)" + kRequest + std::string(5000, ' ') + "}\n",  // too long
      std::string(5000, 'x'),                                                                     // no newline
  };
  for (const auto &line : bad) {
    CAPTURE(line.substr(0, 80));
    FakeHook hook(path_of(h));
    hook.send(line);
    CHECK(hook.until_closed() == std::string());
  }
  CHECK_FALSE(h.next_ask(100ms));
  good.ask(secret);  // opened before all of that, still served
  auto ask = h.next_ask(5s);
  REQUIRE(ask);
  CHECK(h.relay->answer(ask->id, true));
  CHECK(good.until_closed() == std::string(kAllow));
}

TEST_CASE("permission relay: a connection that sends no request is closed after request_wait")
{
  PermissionRelayConfig c;
  c.request_wait = 200ms;
  RelayHarness h(c);
  FakeHook idle(path_of(h));
  idle.send(R"({"secret":)");
  CHECK(idle.until_closed(5s) == std::string());
  CHECK_FALSE(h.next_gone(100ms));
}

TEST_CASE("permission relay: at most max_asks connections at once")
{
  PermissionRelayConfig c;
  c.max_asks = 2;
  RelayHarness h(c);
  FakeHook a(path_of(h)), b(path_of(h));
  a.ask(secret_of(h));
  b.ask(secret_of(h));
  auto first = h.next_ask(5s);
  REQUIRE(first);
  REQUIRE(h.next_ask(5s));
  FakeHook third(path_of(h));
  CHECK(third.until_closed() == std::string());  // closed at once, unheard
  CHECK(h.relay->answer(first->id, true));
  CHECK(a.until_closed() == std::string(kAllow));
  FakeHook fourth(path_of(h));  // a place is free again
  fourth.ask(secret_of(h));
  CHECK(h.next_ask(5s));
}

TEST_CASE("permission relay: close ends every connection, answers nothing and removes the socket")
{
  RelayHarness h;
  std::string path = path_of(h);
  FakeHook hook(path);
  hook.ask(secret_of(h));
  auto ask = h.next_ask(5s);
  REQUIRE(ask);
  h.relay->close();
  CHECK(hook.until_closed() == std::string());
  CHECK_FALSE(h.relay->answer(ask->id, true));
  CHECK_FALSE(h.next_gone(100ms));
  struct stat st {};
  for (int i = 0; i < 500 && ::stat(path.c_str(), &st) == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(::stat(path.c_str(), &st) != 0);
  CHECK(::stat(path.substr(0, path.rfind('/')).c_str(), &st) != 0);
}

// ---- the hook program ----------------------------------------------------------------------------

namespace {

struct HookRun {
  std::string out;
  int status = -1;
};

/// Starts `ccbridge permission-hook` with `env` (only) and writes `input` to its stdin, which it
/// then closes; `out` is the read end of the hook's stdout.
pid_t start_hook(const std::vector<std::string> &env, const std::string &input, int &out_fd)
{
  std::vector<char *> envp;  // built before fork: the child of a threaded process must not allocate
  for (const auto &e : env) envp.push_back(const_cast<char *>(e.c_str()));
  envp.push_back(nullptr);
  int in[2], out[2];
  REQUIRE(::pipe(in) == 0);
  REQUIRE(::pipe(out) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[1]);
    ::close(out[0]);
    ::execle(CCB_APP, CCB_APP, "permission-hook", static_cast<char *>(nullptr), envp.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::signal(SIGPIPE, SIG_IGN);
  (void)!::write(in[1], input.data(), input.size());
  ::close(in[1]);
  out_fd = out[0];
  return pid;
}

/// Runs the hook to its end.
HookRun run_hook(const std::vector<std::string> &env, const std::string &input)
{
  int out = -1;
  pid_t pid = start_hook(env, input, out);
  HookRun r;
  char buf[4096];
  for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;) r.out.append(buf, std::size_t(n));
  ::close(out);
  ::waitpid(pid, &r.status, 0);
  return r;
}

std::vector<std::string> hook_env(RelayHarness &h)
{
  std::vector<std::string> env;
  for (const auto &kv : h.relay->cli_env()) env.push_back(kv.first + "=" + kv.second);
  return env;
}

}  // namespace

TEST_CASE("permission hook: asks the relay and prints its answer")
{
  RelayHarness h({}, true);
  // Pretty-printed stdin: its newlines are blanks, sent as spaces on the one request line.
  HookRun r = run_hook(hook_env(h), "{\n  \"hook_event_name\": \"PermissionRequest\",\n  \"tool_name\": \"Write\",\n"
                                    "  \"tool_input\": {\"file_path\": \"a\\nb\"}\n}\n");
  CHECK(r.status == 0);
  CHECK(r.out == kAllow);
  auto ask = h.next_ask(5s);
  REQUIRE(ask);
  CHECK(ask->tool_name == "Write");
  CHECK(ask->tool_input_json == R"({"file_path": "a\nb"})");
}

TEST_CASE("permission hook: on any failure it prints nothing and exits 0")
{
  RelayHarness h;
  auto env = hook_env(h);
  std::string socket_env = env[0].rfind("CCBRIDGE_PERMISSION_SOCKET=", 0) == 0 ? env[0] : env[1];
  std::string secret_env = env[0].rfind("CCBRIDGE_PERMISSION_SECRET=", 0) == 0 ? env[0] : env[1];
  struct Case {
    const char *what;
    std::vector<std::string> env;
    std::string input;
  };
  const std::vector<Case> cases = {
      {"no environment", {}, kRequest},
      {"no secret", {socket_env}, kRequest},
      {"a secret that is not hex", {socket_env, "CCBRIDGE_PERMISSION_SECRET=x\"y"}, kRequest},
      {"no socket", {"CCBRIDGE_PERMISSION_SOCKET=/nonexistent/s", secret_env}, kRequest},
      {"empty stdin", env, ""},
      {"stdin too large", env, std::string(2 * 1024 * 1024, ' ')},
      {"stdin the relay refuses", env, "not json"},
  };
  for (const auto &c : cases) {
    CAPTURE(c.what);
    HookRun r = run_hook(c.env, c.input);
    CHECK(r.status == 0);
    CHECK(r.out.empty());
  }
  CHECK_FALSE(h.next_ask(100ms));
}

TEST_CASE("permission hook: a relay that closes without answering leaves the hook silent")
{
  RelayHarness h;
  auto env = hook_env(h);
  std::thread closer([&] {
    if (h.next_ask(10s)) h.relay->close();
  });
  HookRun r = run_hook(env, kRequest);
  closer.join();
  CHECK(r.status == 0);
  CHECK(r.out.empty());
}

TEST_CASE("permission hook: ends when the CLI that reads its output is gone")
{
  RelayHarness h;
  int out = -1;
  pid_t pid = start_hook(hook_env(h), kRequest, out);
  auto ask = h.next_ask(10s);
  REQUIRE(ask);
  ::close(out);  // what a CLI killed with its process group does to the hook's stdout
  CHECK(h.next_gone(10s) == ask->id);
  int status = -1;
  CHECK(::waitpid(pid, &status, 0) == pid);
  CHECK(status == 0);
}
