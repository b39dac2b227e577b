// The pinned real Claude Code CLI (tests/support/claude-cli.sh), offline against the project's
// mock Messages API, inside a loopback-only network namespace (tests/support/netns-run.sh).
#include "mock_api.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <vector>

using namespace ccbridge;

namespace {

std::vector<Message> collect(Stream &s)
{
  std::vector<Message> out;
  for (const Message &m : s) out.push_back(m);
  return out;
}

const Message *first(const std::vector<Message> &msgs, MessageType t, std::string_view sub = {})
{
  for (const auto &m : msgs)
    if (m.type() == t && (sub.empty() || m.subtype() == sub)) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("real-cli: one-shot text")
{
  MockApi api;
  Options o = api.options();
  o.system_prompt = SystemPrompt::text("Be brief.");
  o.max_turns = 3;
  o.setting_sources = std::vector<std::string>{};
  Stream s = query("[[reply: Hi from the mock]]", o);
  auto msgs = collect(s);
  INFO("stderr: " << s.outcome().stderr_tail);
  const Message *init = first(msgs, MessageType::system, "init");
  REQUIRE(init);
  CHECK(init->model() == "mock-model");
  CHECK(init->claude_code_version() == "2.1.330");
  CHECK(init->cwd() == api.work_dir());
  const Message *reply = first(msgs, MessageType::assistant);
  REQUIRE(reply);
  CHECK(reply->text() == "Hi from the mock");
  const Message *result = first(msgs, MessageType::result);
  REQUIRE(result);
  CHECK(result->subtype() == "success");
  CHECK_FALSE(result->is_error());
  CHECK(result->result_text() == std::optional<std::string_view>("Hi from the mock"));
  CHECK(result->session_id() == init->session_id());
  CHECK(s.outcome().ok());
  CHECK(s.outcome().exit.code == 0);
  CHECK(s.outcome().invalid_lines == 0);
}

TEST_CASE("real-cli: Bash tool round trip with allowed_tools")
{
  MockApi api;
  Options o = api.options();
  o.allowed_tools = {"Bash"};
  Stream s = query("[[bash: echo hello-from-bash]]", o);
  auto msgs = collect(s);
  INFO("stderr: " << s.outcome().stderr_tail);
  std::string tool_use_id;
  for (const auto &m : msgs) {
    if (!m.is(MessageType::assistant)) continue;
    for (const auto &b : m.content()) {
      if (b.type() == BlockType::tool_use) {
        CHECK(b.name() == "Bash");
        CHECK(b.input()["command"].string_or() == "echo hello-from-bash");
        tool_use_id = std::string(b.id());
      }
    }
  }
  REQUIRE(!tool_use_id.empty());
  bool saw_result = false;
  for (const auto &m : msgs) {
    if (!m.is(MessageType::user)) continue;
    for (const auto &b : m.content()) {
      if (b.type() == BlockType::tool_result && b.tool_use_id() == tool_use_id) {
        saw_result = true;
        CHECK_FALSE(b.is_error());
        CHECK(b.content_text().find("hello-from-bash") != std::string::npos);
        CHECK(m.tool_use_result()["stdout"].string_or().find("hello-from-bash") != std::string_view::npos);
      }
    }
  }
  CHECK(saw_result);
  const Message *result = first(msgs, MessageType::result);
  REQUIRE(result);
  CHECK_FALSE(result->is_error());
  CHECK(result->num_turns() == 2);
  CHECK(result->permission_denials().empty());
  CHECK(s.outcome().ok());
}

TEST_CASE("real-cli: an API 500 ends in a typed error with the error result")
{
  MockApi api;
  Options o = api.options();
  o.env["CLAUDE_CODE_MAX_RETRIES"] = "1";
  Stream s = query("[[status: 500]]", o);
  std::vector<Message> msgs;
  try {
    for (const Message &m : s) msgs.push_back(m);
    FAIL("expected ProcessError");
  } catch (const ProcessError &e) {
    CHECK(e.exit_code() == 1);
    REQUIRE(e.last_error_result().has_value());
    CHECK(e.last_error_result()->subtype() == "success");  // API errors end as "success" + is_error
    CHECK(e.last_error_result()->is_error());
    CHECK(e.last_error_result()->api_error_status() == 500);
    CHECK(std::string(e.what()).find("API status 500") != std::string::npos);
  }
  const Message *retry = first(msgs, MessageType::system, "api_retry");
  REQUIRE(retry);
  CHECK(retry->error_status() == 500);
  const Message *synthetic = first(msgs, MessageType::assistant);
  REQUIRE(synthetic);
  CHECK(synthetic->model() == "<synthetic>");
}

TEST_CASE("real-cli: a missing cwd and a missing binary are distinct errors, before any spawn")
{
  MockApi api;
  Options o = api.options();
  o.cwd = api.work_dir() + "/does-not-exist";
  try {
    query("hi", o);
    FAIL("expected cwd_not_found");
  } catch (const Error &e) {
    CHECK(e.code() == errc::cwd_not_found);
  }
  o = api.options();
  o.cli_path = api.work_dir() + "/no-claude-here";
  try {
    query("hi", o);
    FAIL("expected cli_not_found");
  } catch (const Error &e) {
    CHECK(e.code() == errc::cli_not_found);
  }
}

TEST_CASE("real-cli: partial messages stream text deltas before the whole reply")
{
  MockApi api;
  Options o = api.options();
  o.include_partial_messages = true;
  Stream s = query("[[reply: one two three]]", o);
  std::string deltas;
  std::string final_text;
  for (const Message &m : s) {
    if (m.is(MessageType::stream_event) && m.event_type() == "content_block_delta") {
      CHECK(final_text.empty());  // deltas come before the assembled assistant line
      deltas += m.delta_text();
    }
    if (m.is(MessageType::assistant)) final_text = m.text();
  }
  CHECK(deltas == "one two three");
  CHECK(final_text == "one two three");
}
