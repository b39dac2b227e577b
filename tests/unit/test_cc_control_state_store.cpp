// cc-control's state store (state_store.*): records and ring tails survive a re-open.
#include "temp_dir.hpp"

#include "server/sqlite.hpp"
#include "server/profiles/cc_control/state_store.hpp"
#include "server/profiles/cc_control/tokens.hpp"

#include <ccbridge/error.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace ccbridge;
using namespace ccbridge::detail::server;
using namespace ccbridge::detail::server::cc_control;

namespace {

ServerRecord server(const std::string &tenant, const std::string &id)
{
  ServerRecord s;
  s.tenant_id = tenant;
  s.server_id = id;
  s.hostname = "host-" + id;
  s.tags = {"gpu", "eu \"west\""};
  s.os = "linux";
  s.arch = "amd64";
  s.agent_version = "1.2";
  s.last_seen_ms = 1700000000001;
  s.status = "offline";
  s.allow_roots = {"/srv", "/home/ü"};
  s.claude_path = "/usr/bin/claude";
  return s;
}

SessionRecord session(const std::string &id, std::int64_t created)
{
  SessionRecord s;
  s.tenant_id = "T";
  s.session_id = id;
  s.server_id = "srv-local";
  s.cwd = "/srv/project";
  s.cmd = {"claude", "--resume", "abc"};
  s.resume_id = "abc";
  s.env_keys = {"CC_A", "CC_B"};
  s.status = "running";
  s.created_by = "ui:tok";
  s.created_at_ms = created;
  s.awaiting_approval = true;
  s.pending_event_id = "ev-1";
  s.latest_agent_out_seq = 0xFFFFFFFF00000001ull;  // the whole u64 range round-trips
  return s;
}

EventRecord event(const std::string &id, const std::string &session_id, std::int64_t ts)
{
  EventRecord e;
  e.event_id = id;
  e.session_id = session_id;
  e.server_id = "srv-local";
  e.tenant_id = "T";
  e.prompt_excerpt = "Allow Bash?\nline 2";
  e.ts_ms = ts;
  e.source = "hook";
  e.tool_name = "Bash";
  e.tool_input = R"({"command":"ls -la"})";
  return e;
}

void check_same(const ServerRecord &a, const ServerRecord &b)
{
  CHECK(a.tenant_id == b.tenant_id);
  CHECK(a.server_id == b.server_id);
  CHECK(a.hostname == b.hostname);
  CHECK(a.tags == b.tags);
  CHECK(a.os == b.os);
  CHECK(a.arch == b.arch);
  CHECK(a.agent_version == b.agent_version);
  CHECK(a.last_seen_ms == b.last_seen_ms);
  CHECK(a.status == b.status);
  CHECK(a.allow_roots == b.allow_roots);
  CHECK(a.claude_path == b.claude_path);
}

void check_same(const SessionRecord &a, const SessionRecord &b)
{
  CHECK(a.tenant_id == b.tenant_id);
  CHECK(a.session_id == b.session_id);
  CHECK(a.server_id == b.server_id);
  CHECK(a.cwd == b.cwd);
  CHECK(a.cmd == b.cmd);
  CHECK(a.resume_id == b.resume_id);
  CHECK(a.env_keys == b.env_keys);
  CHECK(a.status == b.status);
  CHECK(a.created_by == b.created_by);
  CHECK(a.created_at_ms == b.created_at_ms);
  CHECK(a.exit_code == b.exit_code);
  CHECK(a.exit_reason == b.exit_reason);
  CHECK(a.awaiting_approval == b.awaiting_approval);
  CHECK(a.pending_event_id == b.pending_event_id);
  CHECK(a.latest_agent_out_seq == b.latest_agent_out_seq);
}

void check_same(const EventRecord &a, const EventRecord &b)
{
  CHECK(a.event_id == b.event_id);
  CHECK(a.session_id == b.session_id);
  CHECK(a.server_id == b.server_id);
  CHECK(a.tenant_id == b.tenant_id);
  CHECK(a.kind == b.kind);
  CHECK(a.prompt_excerpt == b.prompt_excerpt);
  CHECK(a.actor == b.actor);
  CHECK(a.ts_ms == b.ts_ms);
  CHECK(a.resolved == b.resolved);
  CHECK(a.source == b.source);
  CHECK(a.tool_name == b.tool_name);
  CHECK(a.tool_input == b.tool_input);
  CHECK(a.decision == b.decision);
}

}  // namespace

TEST_CASE("cc-control state store: servers, sessions, events and ring tails round-trip across a re-open")
{
  TempDir dir;
  std::string path = dir / "state/state.db";
  SessionRecord live = session("s-live", 20), done = session("s-done", 10);
  done.status = "exited";
  done.exit_code = -1;
  done.exit_reason = "killed";
  done.awaiting_approval = false;
  live.exit_code = std::nullopt;
  EventRecord resolved = event("ev-1", "s-done", 5);
  resolved.resolved = true;
  resolved.actor = "ui:tok";
  resolved.decision = "approve";
  std::string binary("\x1b[0m\0\xff tail", 11);
  {
    StateStore store(path);
    store.save(server("T", "srv-b"));
    store.save(server("T", "srv-a"));
    store.save(live);
    store.save(done);
    store.save(resolved);
    store.save(event("ev-2", "s-live", 6));
    store.save_ring_tail("s-done", 7, binary);
    store.mark_ring_dirty("s-live");
    CHECK(store.flush([&](const std::string &id) {
      return id == "s-live" ? std::optional<RingTail>(RingTail{live.latest_agent_out_seq, "live bytes"}) : std::nullopt;
    }) == 8);
    CHECK_FALSE(store.dirty());
  }
  SavedState back = StateStore(path).load();
  REQUIRE(back.servers.size() == 2);
  check_same(back.servers[0], server("T", "srv-a"));
  check_same(back.servers[1], server("T", "srv-b"));
  REQUIRE(back.sessions.size() == 2);
  check_same(back.sessions[0], done);  // oldest first
  check_same(back.sessions[1], live);
  REQUIRE(back.events.size() == 2);
  check_same(back.events[0], resolved);
  check_same(back.events[1], event("ev-2", "s-live", 6));
  REQUIRE(back.tails.size() == 2);
  CHECK(back.tails["s-done"].latest_seq == 7);
  CHECK(back.tails["s-done"].bytes == binary);
  CHECK(back.tails["s-live"].bytes == "live bytes");
}

TEST_CASE("cc-control state store: nothing reaches the file before flush, and repeated saves coalesce")
{
  TempDir dir;
  std::string path = dir / "state.db";
  StateStore store(path);
  StateStore reader(path);
  CHECK_FALSE(store.dirty());
  CHECK(store.flush() == 0);
  SessionRecord s = session("s1", 1);
  for (std::uint64_t seq = 1; seq <= 1000; ++seq) {
    s.latest_agent_out_seq = seq;
    store.save(s);
    store.mark_ring_dirty("s1");
  }
  CHECK(store.dirty());
  CHECK(reader.load().sessions.empty());
  int asked = 0;
  CHECK(store.flush([&](const std::string &) {
    ++asked;
    return std::optional<RingTail>(RingTail{1000, "x"});
  }) == 2);
  CHECK(asked == 1);
  auto back = reader.load();
  REQUIRE(back.sessions.size() == 1);
  CHECK(back.sessions[0].latest_agent_out_seq == 1000);
}

TEST_CASE("cc-control state store: tails are cut to tail_bytes, and a tail's seq lifts its session's")
{
  TempDir dir;
  std::string path = dir / "state.db";
  StateStore store(path, 8);
  SessionRecord s = session("s1", 1);
  s.latest_agent_out_seq = 3;
  store.save(s);
  store.save_ring_tail("s1", 9, "0123456789abcdef");
  store.mark_ring_dirty("s2");
  store.flush([](const std::string &) { return std::optional<RingTail>(RingTail{4, std::string(100, 'z')}); });
  auto back = StateStore(path).load();
  CHECK(back.tails["s1"].bytes == "89abcdef");
  CHECK(back.tails["s2"].bytes == std::string(8, 'z'));
  REQUIRE(back.sessions.size() == 1);
  CHECK(back.sessions[0].latest_agent_out_seq == 9);
}

TEST_CASE("cc-control state store: removing a session takes its events and tail, and servers go by tenant")
{
  TempDir dir;
  std::string path = dir / "state.db";
  StateStore store(path);
  store.save(session("s1", 1));
  store.save(session("s2", 2));
  store.save(event("e1", "s1", 1));
  store.save(event("e2", "s2", 2));
  store.save(event("e3", "s2", 3));
  store.save_ring_tail("s1", 1, "one");
  store.save(server("T", "srv"));
  store.save(server("U", "srv"));
  store.flush();
  store.remove_session("s1");
  store.save(event("e4", "s1", 4));  // saved after the removal, in the same batch: goes too
  store.remove_event("e3");
  store.remove_server("U", "srv");
  store.flush();
  auto back = StateStore(path).load();
  REQUIRE(back.sessions.size() == 1);
  CHECK(back.sessions[0].session_id == "s2");
  REQUIRE(back.events.size() == 1);
  CHECK(back.events[0].event_id == "e2");
  CHECK(back.tails.empty());
  REQUIRE(back.servers.size() == 1);
  CHECK(back.servers[0].tenant_id == "T");
}

TEST_CASE("cc-control state store: a failed flush writes nothing and keeps everything pending")
{
  TempDir dir;
  std::string path = dir / "state.db";
  StateStore store(path);
  Db raw(path);
  raw.exec("CREATE TRIGGER refuse BEFORE INSERT ON cc_events BEGIN SELECT RAISE(ABORT, 'disk says no'); END;");
  store.save(session("s1", 1));
  store.save(event("e1", "s1", 1));
  store.save_ring_tail("s1", 1, "bytes");
  bool threw = false;
  try {
    store.flush();
  } catch (const Error &e) {
    threw = true;
    CHECK(e.code() == errc::io_error);
    CHECK(std::string(e.what()).find("disk says no") != std::string::npos);
  }
  CHECK(threw);
  CHECK(store.dirty());
  CHECK(store.load().sessions.empty());  // the session's insert was rolled back with the rest
  raw.exec("DROP TRIGGER refuse");
  CHECK(store.flush() == 3);
  auto back = store.load();
  CHECK(back.sessions.size() == 1);
  CHECK(back.events.size() == 1);
  CHECK(back.tails.size() == 1);
}

TEST_CASE("cc-control state store: dirty tails wait for a flush that can read them")
{
  TempDir dir;
  StateStore store(dir / "state.db");
  store.mark_ring_dirty("s1");
  store.flush();
  CHECK(store.dirty());
  store.flush([](const std::string &) { return std::optional<RingTail>(RingTail{1, "b"}); });
  CHECK_FALSE(store.dirty());
  CHECK(store.load().tails.size() == 1);
}

TEST_CASE("cc-control state store: shares one file with the token store")
{
  TempDir dir;
  std::string path = dir / "cc-control.db";
  std::string plaintext;
  {
    TokenStore tokens(path);
    StateStore state(path);
    plaintext = tokens.create(TokenType::ui, "T", "owner", "").plaintext;
    state.save(session("s1", 1));
    state.flush();
    tokens.create(TokenType::agent, "T", "", "");
  }
  TokenStore tokens(path);
  CHECK(tokens.authenticate(plaintext, TokenType::ui));
  CHECK(tokens.list().size() == 2);
  CHECK(StateStore(path).load().sessions.size() == 1);
}

TEST_CASE("cc-control state store: a bounded flush writes the longest-dirty tails first and keeps the rest")
{
  TempDir dir;
  StateStore store(dir / "state.db", 64);
  std::vector<std::string> asked;
  auto source = [&](const std::string &id) {
    asked.push_back(id);
    return std::optional<RingTail>(RingTail{1, "tail of " + id});
  };
  for (const char *id : {"s1", "s2", "s3", "s4", "s5"}) store.mark_ring_dirty(id);
  store.mark_ring_dirty("s1");  // marked again: still one entry, still first
  CHECK(store.flush(source, 2) == 2);
  CHECK(asked == std::vector<std::string>{"s1", "s2"});
  CHECK(store.dirty_tail_count() == 3);
  store.mark_ring_dirty("s1");  // dirty again: behind the ones still waiting
  store.remove_session("s4");   // gone: not asked for
  asked.clear();
  store.flush(source, 2);
  CHECK(asked == std::vector<std::string>{"s3", "s5"});
  asked.clear();
  store.flush(source);
  CHECK(asked == std::vector<std::string>{"s1"});
  CHECK_FALSE(store.dirty());
  SavedState back = StateStore(dir / "state.db").load();
  CHECK(back.tails.size() == 4);
  CHECK(back.tails["s5"].bytes == "tail of s5");
}
