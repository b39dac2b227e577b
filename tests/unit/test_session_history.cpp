// Session history (include/ccbridge/session_history.hpp) over fixture transcripts written to a
// temporary CLAUDE_CONFIG_DIR: project keys, metadata, the conversation chain (parallel tool
// calls, abandoned branches, cycles, garbage lines), subagents, git worktrees, and the writers.
#include "temp_dir.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace ccbridge;
namespace fs = std::filesystem;

namespace {

const std::string kSid = "11111111-2222-4333-8444-555555555555";

// A config dir in a temp dir, set as CLAUDE_CONFIG_DIR for the test's lifetime.
struct Config {
  TempDir tmp;
  std::string projects = tmp / ".claude/projects";
  std::string old;
  bool had_old = false;
  Config()
  {
    fs::create_directories(projects);
    if (const char *o = std::getenv("CLAUDE_CONFIG_DIR")) had_old = true, old = o;
    ::setenv("CLAUDE_CONFIG_DIR", (tmp / ".claude").c_str(), 1);
  }
  ~Config()
  {
    if (had_old) {
      ::setenv("CLAUDE_CONFIG_DIR", old.c_str(), 1);
    } else {
      ::unsetenv("CLAUDE_CONFIG_DIR");
    }
  }
  // A project's working directory (created) and its storage directory (created).
  std::string project(const std::string &name, std::string *storage = nullptr)
  {
    std::string dir = tmp / name;
    fs::create_directories(dir);
    std::string key_dir = projects + "/" + project_key_for_directory(dir);
    fs::create_directories(key_dir);
    if (storage) *storage = key_dir;
    return dir;
  }
};

void write(const std::string &path, const std::string &text)
{
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void set_mtime(const std::string &path, long seconds)
{
  struct timeval tv[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimes(path.c_str(), tv) == 0);
}

// One transcript line: {"type","uuid","parentUuid","sessionId", extra members..., "message"?}.
std::string entry(const std::string &type, const std::string &uuid, const std::string &parent, const std::string &extra = "",
                  const std::string &message = "")
{
  std::string out = R"({"type":")" + type + R"(","uuid":")" + uuid + R"(","parentUuid":)" +
                    (parent.empty() ? "null" : "\"" + parent + "\"") + R"(,"sessionId":")" + kSid + "\"";
  if (!extra.empty()) out += "," + extra;
  if (!message.empty()) out += R"(,"message":)" + message;
  return out + "}\n";
}

std::string text_message(const std::string &role, const std::string &text)
{
  return R"({"role":")" + role + R"(","content":")" + text + "\"}";
}

// A turn with `n` parallel tool calls, as the CLI writes it: one assistant entry per call, chained,
// sharing the message id; results in `order`, each hanging off its own call.
std::string parallel_turn(int n, const std::vector<int> &order, const std::vector<int> &call_order = {})
{
  std::vector<std::string> calls;
  for (int i = 0; i < n; ++i) {
    std::string id = std::to_string(i);
    calls.push_back(entry("assistant", "call-" + id, i == 0 ? "prompt" : "call-" + std::to_string(i - 1),
                          R"("timestamp":"2026-01-01T00:00:01.00)" + id + "Z\"",
                          R"({"id":"msg_p","role":"assistant","content":[{"type":"tool_use","id":"toolu_)" + id +
                              R"(","name":"Read","input":{}}]})"));
  }
  std::string out;
  for (std::size_t k = 0; k < calls.size(); ++k) out += calls[call_order.empty() ? k : static_cast<std::size_t>(call_order[k])];
  for (std::size_t pos = 0; pos < order.size(); ++pos) {
    std::string id = std::to_string(order[pos]);
    out += entry("user", "result-" + id, "call-" + id,
                 R"("sourceToolAssistantUUID":"call-)" + id + R"(","timestamp":"2026-01-01T00:00:02.00)" +
                     std::to_string(pos) + "Z\"",
                 R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_)" + id + R"(","content":"ok"}]})");
  }
  return out;
}

std::vector<std::string> uuids(const std::vector<SessionMessage> &messages)
{
  std::vector<std::string> out;
  for (const auto &m : messages) out.push_back(m.uuid);
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("session history: project keys are the CLI's, long ones cut with a hash suffix")
{
  CHECK(project_key_for_directory("/Users/foo/my-project") == "-Users-foo-my-project");
  CHECK(project_key_for_directory("/a/b/") == "-a-b");
  CHECK(project_key_for_directory("/x\xC3\xA9y\xF0\x9F\x8E\x89z") == "-x-y--z");  // é one UTF-16 unit, 🎉 two
  std::string long_path;
  for (int i = 0; i < 150; ++i) long_path += "/x";
  std::string key = project_key_for_directory(long_path);
  CHECK(key.size() > 201);
  std::string expected_prefix;
  for (int i = 0; i < 100; ++i) expected_prefix += "-x";
  CHECK(key.substr(0, 201) == expected_prefix + "-");
  CHECK(key.substr(201).find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") == std::string::npos);
  CHECK(is_session_uuid("550E8400-e29b-41d4-a716-446655440000"));
  CHECK_FALSE(is_session_uuid("550e8400-e29b-41d4-a716"));
  CHECK_FALSE(is_session_uuid("550e8400xe29b-41d4-a716-446655440000"));
}

TEST_CASE("session history: metadata from the transcript's ends")
{
  Config cfg;
  std::string storage, dir = cfg.project("proj", &storage);
  std::string a = "aaaaaaaa-0000-4000-8000-000000000001", b = "aaaaaaaa-0000-4000-8000-000000000002",
              c = "aaaaaaaa-0000-4000-8000-000000000003";
  // a: meta and tool-result lines and a slash command before the prompt; a title; a tag later cleared.
  write(storage + "/" + a + ".jsonl",
        R"({"type":"permission-mode","permissionMode":"default"})" "\n"
        R"({"type":"user","isMeta":true,"message":{"content":"meta"},"cwd":"/work/here","gitBranch":"old"})" "\n"
        R"({"type":"user","message":{"content":[{"type":"tool_result","content":"x"}]},"timestamp":"2026-01-15T10:30:00.000Z"})" "\n"
        R"({"type":"user","message":{"content":"<command-name>/help</command-name>"}})" "\n"
        R"({"type":"user","message":{"content":"[Request interrupted by user for tool use]"}})" "\n"
        R"({"type":"user","message":{"content":[{"type":"text","text":"  What is\n2+2?  "}]}})" "\n"
        "not json at all {{{\n"
        R"({"type":"summary","summary":"auto summary","gitBranch":"main"})" "\n"
        R"({"type":"custom-title","customTitle":"My \"Title\""})" "\n"
        R"({"type":"tag","tag":"keep","sessionId":"x"})" "\n"
        R"({"type":"assistant","message":{"content":[{"type":"tool_use","input":{"tag":"docker:v2"}}]}})" "\n");
  // b: only a slash command (its name is the prompt), a long prompt elsewhere is not reached.
  write(storage + "/" + b + ".jsonl",
        R"({"type": "user", "message": {"content": "<command-name>/review</command-name> args"}})" "\n");
  // c: a 300-character prompt; its tag was cleared.
  write(storage + "/" + c + ".jsonl", R"({"type":"user","message":{"content":")" + std::string(300, 'y') + "\"}}\n" +
                                          R"({"type":"tag","tag":"old","sessionId":"x"})" "\n" R"({"type":"tag","tag":"","sessionId":"x"})" "\n");
  set_mtime(storage + "/" + a + ".jsonl", 3000);
  set_mtime(storage + "/" + b + ".jsonl", 1000);
  set_mtime(storage + "/" + c + ".jsonl", 2000);
  // Not sessions: a sidechain, an empty file, a metadata-only one, a non-uuid name, another suffix.
  write(storage + "/aaaaaaaa-0000-4000-8000-000000000004.jsonl", R"({"type":"user","isSidechain":true,"message":{"content":"side"}})" "\n");
  write(storage + "/aaaaaaaa-0000-4000-8000-000000000005.jsonl", "");
  write(storage + "/aaaaaaaa-0000-4000-8000-000000000006.jsonl", R"({"type":"user","isMeta":true,"message":{"content":"m"}})" "\n");
  write(storage + "/not-a-uuid.jsonl", R"({"type":"user","message":{"content":"x"}})" "\n");
  write(storage + "/" + a + ".txt", "x");

  auto sessions = list_sessions({dir, std::nullopt, 0, false});
  REQUIRE(sessions.size() == 3);
  CHECK(V{sessions[0].session_id, sessions[1].session_id, sessions[2].session_id} == V{a, c, b});
  const SessionInfo &sa = sessions[0];
  CHECK(sa.last_modified == 3000000);
  CHECK(sa.file_size == static_cast<std::int64_t>(fs::file_size(storage + "/" + a + ".jsonl")));
  CHECK(sa.custom_title == "My \"Title\"");
  CHECK(sa.summary == "My \"Title\"");
  CHECK(sa.first_prompt == "What is 2+2?");
  CHECK(sa.git_branch == "main");
  CHECK(sa.cwd == "/work/here");
  CHECK(sa.tag == "keep");
  CHECK(sa.created_at == 1768473000000);
  const SessionInfo &sc = sessions[1];
  CHECK(sc.first_prompt == std::string(200, 'y') + "\u2026");
  CHECK(sc.summary == *sc.first_prompt);
  CHECK_FALSE(sc.tag);
  CHECK_FALSE(sc.created_at);
  CHECK(sc.cwd == fs::canonical(dir).string());  // no cwd recorded: the project directory
  CHECK(sessions[2].first_prompt == "/review");

  auto page = list_sessions({dir, 1, 1, false});
  REQUIRE(page.size() == 1);
  CHECK(page[0].session_id == c);
  CHECK(list_sessions({dir, 0, 0, false}).size() == 3);  // limit 0: all
  CHECK(list_sessions({dir, std::nullopt, 5, false}).empty());
  CHECK(list_sessions().size() == 3);  // every project

  auto info = get_session_info(a, dir);
  REQUIRE(info);
  CHECK(info->summary == sa.summary);
  CHECK(get_session_info(a));  // searched for
  CHECK_FALSE(get_session_info("aaaaaaaa-0000-4000-8000-000000000004", dir));  // sidechain
  CHECK_FALSE(get_session_info("not-a-uuid", dir));
  CHECK_FALSE(get_session_info("aaaaaaaa-0000-4000-8000-00000000000f", dir));
}

TEST_CASE("session history: a missing config dir or project is empty, not an error")
{
  TempDir tmp;
  const char *old = std::getenv("CLAUDE_CONFIG_DIR");
  std::string saved = old ? old : "";
  ::setenv("CLAUDE_CONFIG_DIR", (tmp / "nowhere").c_str(), 1);
  CHECK(list_sessions().empty());
  CHECK(list_sessions({tmp.path(), std::nullopt, 0, true}).empty());
  CHECK(get_session_messages(kSid).empty());
  CHECK(list_subagents(kSid).empty());
  CHECK_FALSE(get_session_info(kSid));
  try {
    rename_session(kSid, "t");
    FAIL("no error");
  } catch (const Error &e) {
    CHECK(e.code() == errc::session_not_found);
    CHECK(std::string(e.what()).find("no projects directory") != std::string::npos);
  }
  if (old) {
    ::setenv("CLAUDE_CONFIG_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("CLAUDE_CONFIG_DIR");
  }
}

TEST_CASE("session history: a long project path is found under the CLI's differently hashed key")
{
  Config cfg;
  std::string dir = cfg.tmp.path();
  for (int i = 0; i < 30; ++i) dir += "/long-directory-name";
  fs::create_directories(dir);
  std::string key = project_key_for_directory(dir);
  REQUIRE(key.size() > 200);
  std::string storage = cfg.projects + "/" + key.substr(0, 200) + "-otherhash";
  write(storage + "/" + kSid + ".jsonl", entry("user", "u1", "", "", text_message("user", "hello")));
  auto sessions = list_sessions({dir, std::nullopt, 0, false});
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0].first_prompt == "hello");
  CHECK(get_session_messages(kSid, dir).size() == 1);
}

TEST_CASE("session history: the chain from the latest main leaf, visible messages only")
{
  Config cfg;
  std::string storage, dir = cfg.project("proj", &storage);
  std::string file = storage + "/" + kSid + ".jsonl";
  write(file, entry("user", "u1", "", "", text_message("user", "hello")) +
                  entry("user", "meta", "u1", R"("isMeta":true)", text_message("user", "meta")) +
                  entry("progress", "p1", "meta") + entry("assistant", "a1", "p1", "", text_message("assistant", "hi")) +
                  "\n   \nnot json {{{\n[1,2]\n" + R"({"type":"summary","summary":"s"})" "\n" +
                  entry("user", "bad\xff", "a1", "", text_message("user", "invalid UTF-8")) +
                  entry("assistant", "side", "u1", R"("isSidechain":true)", text_message("assistant", "side")) +
                  entry("user", "old", "a1", "", text_message("user", "rewound")) +
                  entry("user", "u2", "a1", "", R"({"role":"user","content":"again","n":12345678901234567890})") +
                  entry("system", "s1", "u2"));
  auto messages = get_session_messages(kSid, dir);
  CHECK(uuids(messages) == V{"u1", "a1", "u2"});
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].type == "user");
  CHECK(messages[0].session_id == kSid);
  CHECK(messages[0].message["content"].string() == "hello");
  CHECK(messages[1].type == "assistant");
  CHECK_FALSE(messages[1].parent_tool_use_id);
  CHECK(messages[2].message.dump() == R"({"role":"user","content":"again","n":12345678901234567890})");
  CHECK(uuids(get_session_messages(kSid, dir, 2)) == V{"u1", "a1"});
  CHECK(uuids(get_session_messages(kSid, dir, 1, 1)) == V{"a1"});
  CHECK(uuids(get_session_messages(kSid, dir, std::nullopt, 2)) == V{"u2"});
  CHECK(uuids(get_session_messages(kSid, dir, 0)).size() == 3);
  CHECK(get_session_messages(kSid, dir, std::nullopt, 9).empty());
  CHECK(get_session_messages(kSid).size() == 3);  // searched for
  CHECK(get_session_messages("not-a-uuid", dir).empty());

  // Entries that are each other's parents: no leaf, nothing (and no endless walk).
  write(file, entry("user", "x", "y", "", text_message("user", "a")) + entry("assistant", "y", "x", "", text_message("assistant", "b")));
  CHECK(get_session_messages(kSid, dir).empty());
  write(file, "");
  CHECK(get_session_messages(kSid, dir).empty());
}

TEST_CASE("session history: every call and result of a parallel tool turn, in order")
{
  Config cfg;
  std::string storage, dir = cfg.project("proj", &storage);
  std::string file = storage + "/" + kSid + ".jsonl";
  std::string prompt = entry("user", "prompt", "", "", text_message("user", "read them"));
  auto answer = [](const std::string &parent) { return entry("assistant", "answer", parent, "", text_message("assistant", "done")); };

  SUBCASE("the walk went through the first result")
  {
    write(file, prompt + parallel_turn(3, {1, 2, 0}) + answer("result-0"));
    CHECK(uuids(get_session_messages(kSid, dir)) ==
          V{"prompt", "call-0", "call-1", "call-2", "result-1", "result-2", "result-0", "answer"});
    CHECK(uuids(get_session_messages(kSid, dir, 3, 4)) == V{"result-1", "result-2", "result-0"});
  }
  SUBCASE("recovered results in completion order")
  {
    write(file, prompt + parallel_turn(3, {1, 0, 2}) + answer("result-2"));
    CHECK(uuids(get_session_messages(kSid, dir)) ==
          V{"prompt", "call-0", "call-1", "call-2", "result-1", "result-0", "result-2", "answer"});
  }
  SUBCASE("recovered calls in timestamp order")
  {
    write(file, prompt + parallel_turn(3, {1, 2, 0}, {0, 2, 1}) + answer("result-0"));
    auto got = uuids(get_session_messages(kSid, dir));
    CHECK(V(got.begin() + 1, got.begin() + 4) == V{"call-0", "call-1", "call-2"});
  }
  SUBCASE("the turn ends the transcript")
  {
    write(file, prompt + parallel_turn(2, {1, 0}));
    CHECK(uuids(get_session_messages(kSid, dir)) == V{"prompt", "call-0", "call-1", "result-1", "result-0"});
  }
  SUBCASE("an abandoned attempt at the turn stays out")
  {
    write(file, prompt +
                    entry("assistant", "old-call", "prompt", "",
                          R"({"id":"msg_old","content":[{"type":"tool_use","id":"toolu_old"}]})") +
                    entry("user", "old-result", "old-call", "", R"({"content":[{"type":"tool_result","tool_use_id":"toolu_old"}]})") +
                    parallel_turn(2, {0, 1}));
    CHECK(uuids(get_session_messages(kSid, dir)) == V{"prompt", "call-0", "call-1", "result-0", "result-1"});
  }
  SUBCASE("a result with a parent outside the turn, matched by its tool_use_id; a duplicate left out")
  {
    std::string turn = parallel_turn(2, {0, 1});
    auto at = turn.find(R"("uuid":"result-0","parentUuid":"call-0")");
    REQUIRE(at != std::string::npos);
    turn.replace(at, 39, R"("uuid":"result-0","parentUuid":"missing")");
    turn.replace(turn.find(R"("sourceToolAssistantUUID":"call-0",)"), 35, "");
    std::string dup = entry("user", "result-1-copy", "elsewhere", "",
                            R"({"content":[{"type":"tool_result","tool_use_id":"toolu_1"}]})");
    write(file, prompt + turn + dup + answer("result-1"));
    CHECK(uuids(get_session_messages(kSid, dir)) == V{"prompt", "call-0", "call-1", "result-0", "result-1", "answer"});
  }
  SUBCASE("another agent's result for the same call id is not pulled in")
  {
    std::string turn = parallel_turn(2, {0, 1});
    turn.replace(turn.find(R"("uuid":"result-0","parentUuid":"call-0")"), 39,
                 R"("uuid":"result-0","parentUuid":"sidechain-call","isSidechain":true,"agentId":"a1")");
    turn.replace(turn.find(R"("sourceToolAssistantUUID":"call-0",)"), 35, "");
    write(file, prompt + turn + answer("result-1"));
    CHECK(uuids(get_session_messages(kSid, dir)) == V{"prompt", "call-0", "call-1", "result-1", "answer"});
  }
  SUBCASE("odd shapes in unrelated fields")
  {
    std::string turn = parallel_turn(2, {0, 1});
    turn.replace(turn.find(R"("timestamp":"2026-01-01T00:00:02.000Z")"), 38, R"("timestamp":12345)");
    write(file, prompt + turn + entry("assistant", "no-message", "result-1") +
                    entry("assistant", "odd", "no-message", "", R"({"id":7,"content":["text",null,{"type":"tool_use"}]})") +
                    entry("user", "odd-result", "odd", "", R"({"content":[{"type":"tool_result","tool_use_id":3}]})"));
    CHECK(uuids(get_session_messages(kSid, dir)) ==
          V{"prompt", "call-0", "call-1", "result-0", "result-1", "no-message", "odd", "odd-result"});
  }
}

TEST_CASE("session history: subagents, nested, with their spawning tool_use from the sidecar")
{
  Config cfg;
  std::string storage, dir = cfg.project("proj", &storage);
  write(storage + "/" + kSid + ".jsonl", entry("user", "u", "", "", text_message("user", "hi")));
  std::string sub = storage + "/" + kSid + "/subagents";
  std::string transcript = entry("user", "s1", "", "", text_message("user", "task")) +
                           entry("assistant", "s2", "s1", "", text_message("assistant", "done")) + "garbage\n";
  write(sub + "/agent-top.jsonl", transcript);
  write(sub + "/agent-top.meta.json", R"({"toolUseId":"toolu_A","parentAgentId":"p1"})");
  write(sub + "/workflows/run-1/agent-deep.jsonl", transcript);
  write(sub + "/workflows/run-1/agent-deep.meta.json", R"({"toolUseId":42})");
  write(sub + "/other.jsonl", transcript);
  write(sub + "/agent-noext", "x");
  CHECK(list_subagents(kSid, dir) == V{"top", "deep"});
  CHECK(list_subagents(kSid) == V{"top", "deep"});
  CHECK(list_subagents("bad", dir).empty());
  auto top = get_subagent_messages(kSid, "top", dir);
  CHECK(uuids(top) == V{"s1", "s2"});
  REQUIRE(top.size() == 2);
  CHECK(top[1].parent_tool_use_id == "toolu_A");
  CHECK(top[1].parent_agent_id == "p1");
  auto deep = get_subagent_messages(kSid, "deep", dir, 1, 1);
  CHECK(uuids(deep) == V{"s2"});
  REQUIRE(deep.size() == 1);
  CHECK_FALSE(deep[0].parent_tool_use_id);  // not a string
  CHECK(get_subagent_messages(kSid, "missing", dir).empty());
  CHECK(get_subagent_messages(kSid, "", dir).empty());
}

TEST_CASE("session history: sessions of the repository's other git worktrees")
{
  Config cfg;
  // A repository with one linked worktree, laid out as git lays it out.
  std::string main_storage, wt_storage;
  std::string main_dir = cfg.project("repo", &main_storage), wt_dir = cfg.project("repo-wt", &wt_storage);
  main_dir = fs::canonical(main_dir).string();
  wt_dir = fs::canonical(wt_dir).string();
  fs::create_directories(main_dir + "/.git/worktrees/wt");
  write(main_dir + "/.git/worktrees/wt/gitdir", wt_dir + "/.git\n");
  write(main_dir + "/.git/worktrees/wt/commondir", "../..\n");
  write(wt_dir + "/.git", "gitdir: " + main_dir + "/.git/worktrees/wt\n");
  fs::create_directories(main_dir + "/sub");
  std::string other = "bbbbbbbb-0000-4000-8000-000000000001";
  write(main_storage + "/" + kSid + ".jsonl", entry("user", "m1", "", "", text_message("user", "in main")));
  write(wt_storage + "/" + other + ".jsonl", entry("user", "w1", "", "", text_message("user", "in worktree")));
  // A directory of a similar name is no worktree of it.
  write(cfg.projects + "/" + project_key_for_directory(wt_dir + "x") + "/bbbbbbbb-0000-4000-8000-000000000002.jsonl",
        entry("user", "x", "", "", text_message("user", "unrelated")));

  CHECK(list_sessions({main_dir, std::nullopt, 0, true}).size() == 2);
  CHECK(list_sessions({wt_dir + "/", std::nullopt, 0, true}).size() == 2);
  CHECK(list_sessions({main_dir + "/sub", std::nullopt, 0, true}).size() == 2);
  CHECK(list_sessions({main_dir, std::nullopt, 0, false}).size() == 1);
  auto found = get_session_info(other, main_dir);
  REQUIRE(found);
  CHECK(found->cwd == wt_dir);
  CHECK(uuids(get_session_messages(other, main_dir)) == V{"w1"});
  rename_session(other, "renamed", main_dir);
  CHECK(get_session_info(other, wt_dir)->custom_title == "renamed");
}

TEST_CASE("session history: rename and tag append one whole line, bad input is refused")
{
  Config cfg;
  std::string storage, dir = cfg.project("proj", &storage);
  std::string file = storage + "/" + kSid + ".jsonl";
  std::string original = entry("user", "u1", "", "", text_message("user", "hello"));
  write(file, original.substr(0, original.size() - 1));  // cut off mid-line: no final '\n'
  rename_session(kSid, "  New \xE2\x80\x83Title\n", dir);
  tag_session(kSid, std::string_view("\xE2\x80\x8B" "exp\xEF\xBB\xBF" "eriment "), dir);
  CHECK(read(file) == original + R"({"type":"custom-title","customTitle":")" + "New \xE2\x80\x83Title" + R"(","sessionId":")" + kSid + "\"}\n" +
                          R"({"type":"tag","tag":"experiment","sessionId":")" + kSid + "\"}\n");
  tag_session(kSid, std::nullopt);
  CHECK(read(file).substr(read(file).rfind("{")) == R"({"type":"tag","tag":"","sessionId":")" + kSid + "\"}\n");
  auto info = get_session_info(kSid, dir);
  REQUIRE(info);
  CHECK(info->custom_title == "New \xE2\x80\x83Title");
  CHECK_FALSE(info->tag);

  auto code_of = [](auto fn) {
    try {
      fn();
    } catch (const Error &e) {
      return std::make_pair(e.code(), std::string(e.what()));
    }
    return std::make_pair(std::error_code(), std::string());
  };
  auto r = code_of([&] { rename_session("not-a-uuid", "t", dir); });
  CHECK(r.first == errc::invalid_argument);
  CHECK(r.second.find("Invalid session_id: not-a-uuid") != std::string::npos);
  CHECK(code_of([&] { rename_session(kSid, " \t\n", dir); }).second.find("title must be non-empty") != std::string::npos);
  CHECK(code_of([&] { tag_session(kSid, std::string_view("\xE2\x80\x8B\xEF\xBB\xBF "), dir); }).second.find("tag must be non-empty") !=
        std::string::npos);
  std::string missing = "cccccccc-0000-4000-8000-000000000001";
  CHECK(code_of([&] { rename_session(missing, "t", dir); }).first == errc::session_not_found);
  CHECK(code_of([&] { tag_session(missing, std::string_view("t")); }).first == errc::session_not_found);

  // An empty file of the id in one project is a stub: the session is the non-empty one elsewhere.
  std::string stub_dir = cfg.projects + "/-aaa";
  write(stub_dir + "/" + missing + ".jsonl", "");
  write(cfg.projects + "/-zzz/" + missing + ".jsonl", original);
  rename_session(missing, "found");
  CHECK(read(stub_dir + "/" + missing + ".jsonl").empty());
  CHECK(read(cfg.projects + "/-zzz/" + missing + ".jsonl").find("\"customTitle\":\"found\"") != std::string::npos);
}

TEST_CASE("session history: delete removes the transcript and its subagents")
{
  Config cfg;
  std::string storage, dir = cfg.project("proj", &storage);
  std::string file = storage + "/" + kSid + ".jsonl";
  write(file, entry("user", "u1", "", "", text_message("user", "hello")));
  write(storage + "/" + kSid + "/subagents/agent-a.jsonl", "{}\n");
  delete_session(kSid, dir);
  CHECK_FALSE(fs::exists(file));
  CHECK_FALSE(fs::exists(storage + "/" + kSid));
  CHECK(list_sessions({dir, std::nullopt, 0, true}).empty());
  try {
    delete_session(kSid);
    FAIL("no error");
  } catch (const Error &e) {
    CHECK(e.code() == errc::session_not_found);
  }
  CHECK_THROWS_AS(delete_session("nope"), Error);
}

TEST_CASE("session history: fork writes a complete new transcript with fresh ids")
{
  Config cfg;
  std::string storage, dir = cfg.project("proj", &storage);
  std::string file = storage + "/" + kSid + ".jsonl";
  std::string u1 = "dddddddd-0000-4000-8000-000000000001", a1 = "dddddddd-0000-4000-8000-000000000002",
              u2 = "dddddddd-0000-4000-8000-000000000003", a2 = "dddddddd-0000-4000-8000-000000000004";
  write(file, entry("user", u1, "", R"("timestamp":"2026-03-01T00:00:00Z","slug":"s","teamName":"t")", text_message("user", "Question one")) +
                  entry("progress", "prog", u1) +
                  entry("assistant", a1, "prog", R"("timestamp":"2026-03-01T00:00:01Z","agentName":"x")", text_message("assistant", "one")) +
                  entry("assistant", "side", a1, R"("isSidechain":true)", text_message("assistant", "side")) +
                  R"({"type":"content-replacement","sessionId":")" + kSid + R"(","replacements":[{"k":1}]})" "\n" +
                  entry("user", u2, a1, R"("logicalParentUuid":")" + u1 + "\"", text_message("user", "Question two")) +
                  entry("assistant", a2, u2, "", text_message("assistant", "two")));
  std::string before = read(file);

  std::string fork = fork_session(kSid, {dir, std::nullopt, std::nullopt});
  CHECK(is_session_uuid(fork));
  CHECK(read(file) == before);
  std::string fork_file = storage + "/" + fork + ".jsonl";
  std::vector<JsonView> lines;
  {
    std::istringstream in(read(fork_file));
    for (std::string line; std::getline(in, line);) lines.push_back(parse_json(line));
  }
  REQUIRE(lines.size() == 6);  // 4 messages (progress and sidechain left out), replacements, title
  std::vector<std::string> new_ids;
  for (int i = 0; i < 4; ++i) {
    const JsonView &l = lines[static_cast<std::size_t>(i)];
    CHECK(l["sessionId"].string() == fork);
    CHECK(l["forkedFrom"]["sessionId"].string() == kSid);
    CHECK(l["isSidechain"].boolean() == false);
    CHECK_FALSE(l["slug"].exists());
    CHECK_FALSE(l["teamName"].exists());
    CHECK_FALSE(l["agentName"].exists());
    new_ids.emplace_back(l["uuid"].string_or());
    CHECK(before.find(new_ids.back()) == std::string::npos);
  }
  CHECK(lines[0]["parentUuid"].is_null());
  CHECK(lines[1]["parentUuid"].string() == new_ids[0]);  // bridged over the progress entry
  CHECK(lines[1]["forkedFrom"]["messageUuid"].string() == a1);
  CHECK(lines[1]["timestamp"].string() == "2026-03-01T00:00:01Z");
  CHECK(lines[2]["logicalParentUuid"].string() == new_ids[0]);
  CHECK(lines[3]["timestamp"].string() != "");
  CHECK(lines[4]["type"].string() == "content-replacement");
  CHECK(lines[4]["replacements"].dump() == R"([{"k":1}])");
  CHECK(lines[5]["customTitle"].string() == "Question one (fork)");
  CHECK(uuids(get_session_messages(fork, dir)).size() == 4);
  for (const auto &name : fs::directory_iterator(storage)) CHECK(name.path().extension() != ".tmp");

  std::string cut = fork_session(kSid, {dir, a1, std::string("  Mine  ")});
  CHECK(get_session_messages(cut, dir).size() == 2);
  CHECK(get_session_info(cut, dir)->custom_title == "Mine");

  auto error_of = [&](const ForkSessionOptions &o, const std::string &id = kSid) {
    try {
      fork_session(id, o);
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error_of({dir, std::string("not-valid"), std::nullopt}).find("Invalid up_to_message_id") != std::string::npos);
  CHECK(error_of({dir, std::string("eeeeeeee-0000-4000-8000-000000000000"), std::nullopt}).find("not found in session") !=
        std::string::npos);
  CHECK(error_of({dir, std::nullopt, std::nullopt}, "eeeeeeee-0000-4000-8000-000000000000").find("not found") != std::string::npos);
  write(file, R"({"type":"summary","summary":"nothing"})" "\n" + entry("progress", "p", ""));
  CHECK(error_of({dir, std::nullopt, std::nullopt}).find("has no messages to fork") != std::string::npos);
}

// ---- transcripts given as text ------------------------------------------------------------------

namespace {

bool same_info(const SessionInfo &a, const SessionInfo &b)
{
  return a.session_id == b.session_id && a.summary == b.summary && a.custom_title == b.custom_title &&
         a.first_prompt == b.first_prompt && a.git_branch == b.git_branch && a.cwd == b.cwd && a.tag == b.tag &&
         a.created_at == b.created_at;
}

bool same_messages(const std::vector<SessionMessage> &a, const std::vector<SessionMessage> &b)
{
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].uuid != b[i].uuid || a[i].session_id != b[i].session_id ||
        a[i].message.dump() != b[i].message.dump() || a[i].parent_tool_use_id != b[i].parent_tool_use_id ||
        a[i].parent_agent_id != b[i].parent_agent_id)
      return false;
  }
  return true;
}

}  // namespace

TEST_CASE("session history from text: the same info and messages as from the file")
{
  Config cfg;
  std::string storage;
  std::string dir = cfg.project("textproj", &storage);
  std::string text = entry("user", "u1", "", R"("timestamp":"2026-01-15T10:30:00.000Z","cwd":"/w","gitBranch":"main")",
                           text_message("user", "first question")) +
                     entry("assistant", "a1", "u1", "", text_message("assistant", "answer")) +
                     R"({"type":"custom-title","customTitle":"Named","sessionId":")" + kSid + "\"}\n" +
                     parallel_turn(2, {1, 0}) + R"({"type":"tag","tag":"t1","sessionId":")" + kSid + "\"}\n" +
                     "not json\n";
  // The parallel turn hangs off "prompt": give it one, after the answer.
  text += entry("user", "prompt", "a1", "", text_message("user", "read both"));
  write(storage + "/" + kSid + ".jsonl", text);

  auto from_file = get_session_info(kSid, dir);
  REQUIRE(from_file);
  auto from_text = session_info_from_text(kSid, text, 1234, dir);
  REQUIRE(from_text);
  CHECK(same_info(*from_file, *from_text));
  CHECK(from_text->summary == "Named");
  CHECK(from_text->tag == "t1");
  CHECK(from_text->last_modified == 1234);
  CHECK(from_text->file_size == static_cast<std::int64_t>(text.size()));

  CHECK(same_messages(get_session_messages(kSid, dir), session_messages_from_text(text)));
  CHECK(same_messages(get_session_messages(kSid, dir, 2, 1), session_messages_from_text(text, 2, 1)));
  CHECK(uuids(session_messages_from_text(text, 2, 1)) == V{"a1", "prompt"});

  // The cwd falls back to the given project path; nothing for empty text or a sidechain.
  std::string bare = entry("user", "u1", "", "", text_message("user", "hi"));
  CHECK(session_info_from_text(kSid, bare, 0, "/proj")->cwd == "/proj");
  CHECK_FALSE(session_info_from_text(kSid, bare, 0)->cwd);
  CHECK_FALSE(session_info_from_text(kSid, "", 0));
  CHECK_FALSE(session_info_from_text(kSid, entry("user", "u1", "", R"("isSidechain":true)", text_message("user", "x")), 0));
  CHECK(session_messages_from_text("").empty());
  CHECK(session_messages_from_text("garbage\n{\"type\":\"user\"}\n").empty());
}

TEST_CASE("session history from text: a subagent's messages carry the given parent ids")
{
  Config cfg;
  std::string storage;
  std::string dir = cfg.project("textsub", &storage);
  write(storage + "/" + kSid + ".jsonl", entry("user", "u1", "", "", text_message("user", "main")));
  std::string sub = entry("user", "s1", "", "", text_message("user", "task")) +
                    entry("assistant", "s2", "s1", "", text_message("assistant", "done"));
  write(storage + "/" + kSid + "/subagents/agent-x1.jsonl", sub);
  write(storage + "/" + kSid + "/subagents/agent-x1.meta.json", R"({"toolUseId":"toolu_9","parentAgentId":"p1"})");
  auto from_file = get_subagent_messages(kSid, "x1", dir);
  auto from_text = subagent_messages_from_text(sub, std::string("toolu_9"), std::string("p1"));
  CHECK(uuids(from_text) == V{"s1", "s2"});
  CHECK(same_messages(from_file, from_text));
  CHECK(from_text[1].parent_tool_use_id == "toolu_9");
  CHECK(uuids(subagent_messages_from_text(sub, std::nullopt, std::nullopt, 1, 1)) == V{"s2"});
  CHECK_FALSE(subagent_messages_from_text(sub, std::nullopt, std::nullopt)[0].parent_agent_id);
}

TEST_CASE("session history from text: the fork transform, and the file fork is the same transform")
{
  std::string text = entry("user", "aaaaaaaa-0000-4000-8000-000000000001", "", R"("timestamp":"2026-01-01T00:00:00Z")",
                           text_message("user", "hello")) +
                     entry("assistant", "aaaaaaaa-0000-4000-8000-000000000002", "aaaaaaaa-0000-4000-8000-000000000001", "",
                           text_message("assistant", "hi"));
  ForkedTranscript fork = fork_transcript(kSid, text);
  CHECK(is_session_uuid(fork.session_id));
  CHECK(fork.session_id != kSid);
  auto messages = session_messages_from_text(fork.text);
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].session_id == fork.session_id);
  CHECK(messages[1].message.dump() == text_message("assistant", "hi"));
  CHECK(fork.text.find(R"("forkedFrom":{"sessionId":")" + kSid) != std::string::npos);
  auto info = session_info_from_text(fork.session_id, fork.text, 0);
  REQUIRE(info);
  CHECK(info->custom_title == "hello (fork)");

  ForkedTranscript cut = fork_transcript(kSid, text, {"", std::string("aaaaaaaa-0000-4000-8000-000000000001"), std::string("T")});
  CHECK(session_messages_from_text(cut.text).size() == 1);
  CHECK(session_info_from_text(cut.session_id, cut.text, 0)->custom_title == "T");

  auto fails_with = [](auto &&fn, errc code, const std::string &text_part) {
    try {
      fn();
    } catch (const Error &e) {
      return e.code() == code && std::string(e.what()).find(text_part) != std::string::npos;
    }
    return false;
  };
  CHECK(fails_with([&] { fork_transcript("nope", text); }, errc::invalid_argument, "Invalid session_id: nope"));
  CHECK(fails_with([&] { fork_transcript(kSid, ""); }, errc::invalid_argument, "has no messages to fork"));
  CHECK(fails_with([&] { fork_transcript(kSid, "{\"type\":\"tag\",\"tag\":\"x\"}\n"); }, errc::invalid_argument,
                   "has no messages to fork"));
  CHECK(fails_with([&] { fork_transcript(kSid, text, {"", std::string("bad"), std::nullopt}); }, errc::invalid_argument,
                   "Invalid up_to_message_id"));
  CHECK(fails_with([&] { fork_transcript(kSid, text, {"", std::string(kSid), std::nullopt}); }, errc::invalid_argument,
                   "not found in session"));

  // The file fork writes what the transform makes: the same messages under the new id.
  Config cfg;
  std::string storage;
  std::string dir = cfg.project("textfork", &storage);
  write(storage + "/" + kSid + ".jsonl", text);
  CHECK(session_transcript_path(kSid, dir) == storage + "/" + kSid + ".jsonl");
  CHECK_FALSE(session_transcript_path("99999999-2222-4333-8444-555555555555", dir));
  CHECK_FALSE(session_transcript_path("nope", dir));
  std::string id = fork_session(kSid, {dir, std::nullopt, std::nullopt});
  auto written = read(storage + "/" + id + ".jsonl");
  auto a = session_messages_from_text(written), b = session_messages_from_text(fork.text);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].message.dump() == b[i].message.dump());
}

TEST_CASE("session history: the first prompt of one line, as the head scan takes it")
{
  auto user = [](const std::string &content, const std::string &extra = "") {
    return std::string(R"({"type":"user")") + extra + R"(,"message":{"role":"user","content":)" + content + "}}";
  };
  CHECK(first_prompt_of_line(user("\"  hello\\nthere \"")).prompt == "hello there");
  auto cmd = first_prompt_of_line(user("\"<command-name>/clear</command-name>\""));
  CHECK_FALSE(cmd.prompt);
  CHECK(cmd.command == "/clear");
  CHECK_FALSE(first_prompt_of_line(user("\"hi\"", R"(,"isMeta":true)")).prompt);
  CHECK_FALSE(first_prompt_of_line(user(R"([{"type":"tool_result","content":"x"}])")).prompt);
  CHECK_FALSE(first_prompt_of_line(R"({"type":"assistant","message":{"content":"hi"}})").prompt);
  CHECK_FALSE(first_prompt_of_line("not json").prompt);
  CHECK(first_prompt_of_line(user(R"([{"type":"image"},{"type":"text","text":"look"}])")).prompt == "look");
  std::string long_text(300, 'x');
  CHECK(first_prompt_of_line(user("\"" + long_text + "\"")).prompt == std::string(200, 'x') + "\xE2\x80\xA6");
}
