// `ccbridge agent`'s protocol logic (AgentLink) with a fake socket and a fake agent: the replay
// buffer's bound, the resume handshake (replay after a seq, release, stop of an unknown session,
// a session that ended while away), the fallback for an original control plane, pty_exit after
// the last pty_out, the heartbeat, and the reconnect backoff.
#include "server/profiles/cc_control/agent_link.hpp"

#include "server/base64.hpp"

#include <ccbridge/json.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ccbridge::detail::server::cc_control;
namespace srv = ccbridge::detail::server;
using std::chrono::milliseconds;

namespace {

struct FakeSocket : srv::WsClientLink {
  std::vector<std::string> frames;
  std::size_t backlog = 0;  // what buffered() reports
  int close_code = 0;
  void send(const std::string &text) override { frames.push_back(text); }
  std::size_t buffered() const override { return backlog; }
  void close(int code, const std::string &) override { close_code = code; }
};

struct FakeAgent : Agent {
  std::vector<std::string> calls;
  std::string fail_start;
  bool connected() const override { return true; }
  std::string start_session(const StartSession &r) override
  {
    calls.push_back("start " + r.session_id + " " + r.cwd);
    return fail_start;
  }
  std::string stop_session(const std::string &id, milliseconds g, milliseconds k) override
  {
    calls.push_back("stop " + id + " " + std::to_string(g.count()) + " " + std::to_string(k.count()));
    return "";
  }
  std::string pty_in(const std::string &id, const std::string &b) override
  {
    calls.push_back("in " + id + " " + b);
    return "";
  }
  std::string resize(const std::string &id, std::uint16_t c, std::uint16_t r) override
  {
    calls.push_back("resize " + id + " " + std::to_string(c) + "x" + std::to_string(r));
    return "";
  }
  std::string answer_permission(const std::string &id, const std::string &ask, bool allow, const std::string &) override
  {
    calls.push_back("answer " + id + " " + ask + (allow ? " allow" : " deny"));
    return "";
  }
  void hold_output(const std::string &id, bool hold) override { calls.push_back("hold " + id + (hold ? " on" : " off")); }
};

struct Fixture {
  asio::io_context ioc;
  srv::Logger log{ccbridge::ServerLog{ccbridge::ServerLog::Level::off, false, {}}};
  FakeAgent agent;
  std::shared_ptr<FakeSocket> sock = std::make_shared<FakeSocket>();
  std::unique_ptr<AgentLink> link;

  explicit Fixture(std::size_t replay_bytes = 1u << 20)
  {
    AgentLinkConfig c;
    c.record.server_id = "srv-1";
    c.record.allow_roots = {"/r"};
    c.instance_id = "inst";
    c.replay_bytes = replay_bytes;
    c.send_high = 1000;
    link = std::make_unique<AgentLink>(ioc, log, c);
    link->set_agent(&agent);
  }
  void cp(const std::string &json) { link->message(json); }
  // A fresh connection, registered (with or without resume); returns its register frame.
  ccbridge::JsonView connect(bool resume = true)
  {
    sock = std::make_shared<FakeSocket>();
    link->open(sock);
    REQUIRE(sock->frames.size() == 1);
    auto reg = ccbridge::parse_json(sock->frames[0]);
    sock->frames.clear();
    cp(std::string(R"({"type":"register_ok","data":{"heartbeat_interval_ms":5000)") + (resume ? R"(,"resume":true}})" : "}}"));
    return reg;
  }
  void start(const std::string &id)
  {
    cp(R"({"type":"start_session","session_id":")" + id + R"(","data":{"cwd":"/r","cols":80,"rows":24}})");
  }
  void out(const std::string &id, std::uint64_t seq, const std::string &bytes = "x") { link->pty_out("srv-1", id, seq, bytes); }
  void exit(const std::string &id, int code) { link->pty_exit("srv-1", id, PtyExit{code, "", "exited"}); }
  // The frames sent, as "type session seq" (pty_exit: "pty_exit session last_seq").
  std::vector<std::string> sent()
  {
    std::vector<std::string> r;
    for (const auto &f : sock->frames) {
      auto j = ccbridge::parse_json(f);
      std::string t(j["type"].string_or());
      std::string s = t + " " + std::string(j["session_id"].string_or());
      if (t == "pty_out") s += " " + std::to_string(*j["seq"].int64());
      if (t == "pty_exit") s += " " + std::to_string(*j["data"]["last_seq"].int64());
      if (t == "error") s += " " + std::string(j["data"]["message"].string_or());
      r.push_back(s);
    }
    sock->frames.clear();
    return r;
  }
};

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("agent link: backoff is 1, 2, 4, 8, 8 s and starts again after a registration")
{
  Backoff b;
  std::vector<long> got;
  for (int i = 0; i < 6; ++i) got.push_back(static_cast<long>(b.next().count()));
  CHECK(got == std::vector<long>{1, 2, 4, 8, 8, 8});
  b.reset();
  CHECK(b.next().count() == 1);
}

TEST_CASE("agent link: register carries the original's fields, the sessions held and the instance id")
{
  Fixture f;
  auto reg = f.connect();
  CHECK(reg["type"].string_or() == "register");
  CHECK(reg["server_id"].string_or() == "srv-1");
  CHECK(reg["data"]["tags"].is_null());
  CHECK(reg["data"]["allow_roots"][0].string_or() == "/r");
  CHECK(reg["data"]["sessions"].is_array());
  CHECK(reg["data"]["sessions"].size() == 0);
  CHECK(reg["data"]["instance_id"].string_or() == "inst");
  f.start("s1");
  f.out("s1", 1);
  f.out("s1", 2);
  f.exit("s1", 0);
  f.start("s2");
  f.out("s2", 1);
  f.link->closed();
  f.sock = std::make_shared<FakeSocket>();
  f.link->open(f.sock);
  auto again = ccbridge::parse_json(f.sock->frames[0]);
  const auto s = again["data"]["sessions"];
  REQUIRE(s.size() == 2);
  CHECK(s[0]["session_id"].string_or() == "s1");
  CHECK(*s[0]["last_seq"].int64() == 2);
  CHECK(*s[0]["exit"]["exit_code"].int64() == 0);
  CHECK(s[0]["exit"]["reason"].string_or() == "exited");
  CHECK(s[1]["session_id"].string_or() == "s2");
  CHECK(!s[1]["exit"].exists());
}

TEST_CASE("agent link: live output and pty_exit after the last pty_out, and one error per failed request")
{
  Fixture f;
  f.connect();
  f.start("s1");
  CHECK(f.agent.calls == V{"start s1 /r"});
  f.out("s1", 1);
  f.out("s1", 2);
  f.exit("s1", 3);
  CHECK(f.sent() == V{"pty_out s1 1", "pty_out s1 2", "pty_exit s1 2"});
  f.agent.fail_start = "session already exists";
  f.start("s9");
  f.cp(R"({"type":"pty_in","session_id":"nope","data_b64":"aGk="})");
  f.cp(R"({"type":"pty_in","session_id":"s1","data_b64":"aGk="})");  // ended
  CHECK(f.sent() == V{"error s9 session already exists", "error nope session not found", "error s1 session not found"});
  f.link->set_draining(true);
  f.start("s3");
  CHECK(f.sent() == V{"error s3 agent draining"});
}

TEST_CASE("agent link: requests reach the agent (pty_in, resize, hold, stop with the original's defaults)")
{
  Fixture f;
  f.connect();
  f.start("s1");
  f.cp(R"({"type":"pty_in","session_id":"s1","data_b64":"aGk="})");
  f.cp(R"({"type":"pty_in","session_id":"s1","data_b64":"!!"})");
  f.cp(R"({"type":"resize","session_id":"s1","data":{"cols":100,"rows":40}})");
  f.cp(R"({"type":"hold","session_id":"s1","data":{"hold":true}})");
  f.cp(R"({"type":"stop_session","session_id":"s1","data":{"grace_ms":0,"signal":"SIGTERM"}})");
  f.cp(R"({"type":"stop_session","session_id":"s1","data":{"grace_ms":9000,"kill_after_ms":100}})");
  CHECK(f.agent.calls == V{"start s1 /r", "in s1 hi", "resize s1 100x40", "hold s1 on", "stop s1 3000 7000", "stop s1 9000 9000"});
  CHECK(f.sent() == V{"error s1 illegal base64 data in data_b64"});
}

TEST_CASE("agent link: the replay buffer keeps the newest replay_bytes of each session")
{
  Fixture f(100);
  f.connect();
  f.start("s1");
  f.link->closed();
  for (std::uint64_t i = 1; i <= 30; ++i) f.out("s1", i, std::string(10, 'a'));
  auto reg = f.connect();
  CHECK(*reg["data"]["sessions"][0]["last_seq"].int64() == 30);
  f.cp(R"({"type":"replay","session_id":"s1","seq":0})");
  V want;
  for (int i = 21; i <= 30; ++i) want.push_back("pty_out s1 " + std::to_string(i));
  CHECK(f.sent() == want);
}

TEST_CASE("agent link: on resume, listed sessions wait for replay, release or stop_session")
{
  Fixture f;
  f.connect();
  for (const char *id : {"s1", "s2", "s3"}) f.start(id);
  for (std::uint64_t i = 1; i <= 5; ++i) f.out("s1", i);
  f.sent();
  f.link->closed();
  for (std::uint64_t i = 6; i <= 8; ++i) f.out("s1", i);
  f.out("s2", 1);
  f.exit("s2", 0);  // ended while away
  f.connect();
  f.out("s1", 9);  // live output of a listed session is held back until its replay
  CHECK(f.sent().empty());
  f.cp(R"({"type":"replay","session_id":"s1","seq":5})");
  CHECK(f.sent() == V{"pty_out s1 6", "pty_out s1 7", "pty_out s1 8", "pty_out s1 9"});
  f.out("s1", 10);
  CHECK(f.sent() == V{"pty_out s1 10"});
  f.cp(R"({"type":"replay","session_id":"s2","seq":0})");
  CHECK(f.sent() == V{"pty_out s2 1", "pty_exit s2 1"});
  f.cp(R"({"type":"release","session_id":"s2"})");
  f.cp(R"({"type":"stop_session","session_id":"s3","data":{}})");  // unknown to the control plane
  CHECK(f.agent.calls.back() == "stop s3 3000 7000");
  f.out("s3", 1);
  f.exit("s3", 0);
  CHECK(f.sent().empty());  // nothing of it is sent
  f.link->closed();
  auto reg = f.connect();
  const auto s = reg["data"]["sessions"];
  REQUIRE(s.size() == 1);  // s2 released, s3 forgotten
  CHECK(s[0]["session_id"].string_or() == "s1");
}

TEST_CASE("agent link: an original control plane (no resume) gets every buffered chunk again, and exits")
{
  Fixture f;
  f.connect(false);
  f.start("s1");
  f.start("s2");
  f.out("s1", 1);
  f.out("s1", 2);
  f.out("s2", 1);
  f.link->closed();
  f.out("s1", 3);
  f.exit("s2", 1);
  f.connect(false);
  CHECK(f.sent() == V{"pty_out s1 1", "pty_out s1 2", "pty_out s1 3", "pty_out s2 1", "pty_exit s2 1"});
  // The original never releases: an exit it was sent is not sent again at the next reconnect.
  f.link->closed();
  f.connect(false);
  CHECK(f.sent() == V{"pty_out s1 1", "pty_out s1 2", "pty_out s1 3"});
}

TEST_CASE("agent link: a full socket holds output and the PTYs, and pty_exit still follows the last pty_out")
{
  Fixture f;
  f.connect();
  f.start("s1");
  f.out("s1", 1);
  f.sock->backlog = 5000;  // over send_high
  f.out("s1", 2);
  f.out("s1", 3);
  f.exit("s1", 0);
  CHECK(f.sent() == V{"pty_out s1 1"});
  CHECK(f.agent.calls.back() == "hold s1 on");
  f.sock->backlog = 0;
  f.ioc.run_for(milliseconds(200));
  CHECK(f.sent() == V{"pty_out s1 2", "pty_out s1 3", "pty_exit s1 3"});
  CHECK(f.link->delivered());
}

TEST_CASE("agent link: heartbeats at register_ok's interval, and nothing but register before register_ok")
{
  Fixture f;
  f.link->open(f.sock);
  f.cp(R"({"type":"start_session","session_id":"s1","data":{"cwd":"/r"}})");
  CHECK(f.agent.calls.empty());
  f.sock->frames.clear();
  f.cp(R"({"type":"register_ok","data":{"heartbeat_interval_ms":100,"resume":true}})");
  f.ioc.run_for(milliseconds(350));
  auto got = f.sent();
  CHECK(got.size() >= 2);
  for (const auto &g : got) CHECK(g == "heartbeat ");
}

TEST_CASE("agent link: permission asks go to the control plane, again after a reconnect until answered")
{
  Fixture f;
  f.connect();
  f.start("s1");
  f.link->permission_ask("srv-1", "s1", {"7", "Bash", R"({"command":"ls"})"});
  CHECK(f.sent() == V{"permission_ask s1"});
  f.link->closed();
  f.connect();
  f.cp(R"({"type":"replay","session_id":"s1","seq":0})");
  CHECK(f.sent() == V{"permission_ask s1"});
  f.cp(R"({"type":"permission_answer","session_id":"s1","data":{"ask_id":"7","allow":true}})");
  CHECK(f.agent.calls.back() == "answer s1 7 allow");
  f.link->permission_ask("srv-1", "s1", {"8", "Bash", "{}"});
  f.link->permission_gone("srv-1", "s1", "8");
  CHECK(f.sent() == V{"permission_ask s1", "permission_gone s1"});
}
