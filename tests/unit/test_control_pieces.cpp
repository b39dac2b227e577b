// Pieces of the Session layer that need no process: the stream-event accumulator, the in-process
// MCP server's JSON-RPC answers, hook outputs and permission decisions.
#include "core/mcp.hpp"

#include <ccbridge/ccbridge.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

using namespace ccbridge;

namespace {

std::vector<Message> transcript(const std::string &name)
{
  std::ifstream in(CCB_FIXTURES_DIR "/transcripts/" + name + ".jsonl");
  std::vector<Message> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') out.push_back(Message::parse(line));
  return out;
}

}  // namespace

TEST_CASE("stream events: the accumulator rebuilds each block as it arrives")
{
  for (const char *name : {"a_oneshot_say_hi_partial", "a_oneshot_say_hi_partial__v2.1.330"}) {
    DeltaAccumulator acc;
    std::string final_text;
    std::size_t grew = 0, last = 0;
    for (const auto &m : transcript(name)) {
      if (acc.add(m) && acc.text(0).size() > last) {
        ++grew;
        last = acc.text(0).size();
      }
      if (m.is(MessageType::assistant)) final_text = m.text();
    }
    CHECK(acc.message_complete());
    REQUIRE(acc.blocks().size() == 1);
    CHECK(acc.blocks()[0].type == "text");
    CHECK(acc.blocks()[0].complete);
    CHECK(acc.text(0) == final_text);
    CHECK(grew >= 1);
    CHECK(!acc.message_id().empty());
  }
  // Thinking and tool input JSON.
  DeltaAccumulator acc;
  bool saw_thinking = false;
  for (const auto &m : transcript("g_thinking_block")) {
    acc.add(m);
    for (const auto &b : acc.blocks())
      if (b.type == "thinking" && b.complete && !b.text.empty()) saw_thinking = true;
  }
  CHECK(saw_thinking);
  DeltaAccumulator tools;
  std::string json;
  for (const auto &m : transcript("c_stream_tool_roundtrip_partial_replay")) {
    tools.add(m);
    for (const auto &b : tools.blocks())
      if (b.type == "tool_use" && b.complete) json = b.text;
  }
  CHECK(parse_json(json).is_object());
  // Other messages and malformed events are ignored.
  CHECK_FALSE(acc.add(Message::parse(R"({"type":"assistant"})")));
  CHECK_FALSE(acc.add(Message::parse(R"({"type":"stream_event","event":{"type":"content_block_delta","index":-1}})")));
  CHECK_FALSE(acc.add(Message::parse(R"({"type":"stream_event","event":{"type":"content_block_delta","index":99999999}})")));
}

TEST_CASE("mcp: the in-process server answers JSON-RPC like an MCP server")
{
  McpServer s;
  s.name = "calc";
  s.version = "2.0";
  Tool add;
  add.name = "add";
  add.description = "adds";
  add.handler = [](const JsonView &a) {
    return ToolResult::text(std::to_string(a["a"].int64().value_or(0) + a["b"].int64().value_or(0)));
  };
  Tool boom;
  boom.name = "boom";
  boom.handler = [](const JsonView &) -> ToolResult { throw std::runtime_error("kaput"); };
  Tool bad;
  bad.name = "bad";
  bad.handler = [](const JsonView &) {
    ToolResult r;
    r.content_json = "{not an array";
    return r;
  };
  Tool typed;
  typed.name = "typed";
  typed.input_schema_json = R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})";
  typed.annotations_json = R"({"readOnlyHint":true,"title":"Typed"})";
  typed.meta_json = R"({"anthropic/maxResultSizeChars":5000})";
  int typed_runs = 0;
  typed.handler = [&typed_runs](const JsonView &a) {
    ++typed_runs;
    return ToolResult::text(a.dump());
  };
  s.tools = {add, boom, bad, typed};
  auto call = [&](const char *msg) { return parse_json(detail::mcp_handle(s, parse_json(msg))); };

  JsonView init = call(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})");
  CHECK(init["id"].int64() == 1);
  CHECK(init["result"]["protocolVersion"].string_or() == "2025-06-18");
  CHECK(init["result"]["serverInfo"]["name"].string_or() == "calc");
  CHECK(init["result"]["capabilities"]["tools"].is_object());
  CHECK(call(R"({"jsonrpc":"2.0","method":"notifications/initialized"})")["result"].is_object());
  JsonView list = call(R"({"jsonrpc":"2.0","id":"x","method":"tools/list"})");
  CHECK(list["id"].string_or() == "x");
  REQUIRE(list["result"]["tools"].size() == 4);
  CHECK(list["result"]["tools"][0]["inputSchema"]["type"].string_or() == "object");
  CHECK_FALSE(list["result"]["tools"][0]["annotations"].exists());
  CHECK_FALSE(list["result"]["tools"][0]["_meta"].exists());
  CHECK(list["result"]["tools"][3].dump() ==
        R"({"name":"typed","description":"","inputSchema":{"type":"object","properties":{"n":{"type":"integer"}},)"
        R"("required":["n"]},"annotations":{"readOnlyHint":true,"title":"Typed"},)"
        R"("_meta":{"anthropic/maxResultSizeChars":5000}})");
  JsonView sum = call(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}})");
  CHECK(sum["result"]["content"][0]["text"].string_or() == "5");
  CHECK(sum["result"]["isError"].boolean() == false);
  CHECK(call(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"boom"}})")["error"]["code"].int64() == -32603);
  CHECK(call(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"bad"}})")["error"]["code"].int64() == -32603);
  // An unknown tool and refused arguments are error results the model reads, as the Python SDK's.
  CHECK(call(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope"}})")["result"].dump() ==
        R"({"content":[{"type":"text","text":"Tool 'nope' not found"}],"isError":true})");
  for (const char *args : {"", R"(,"arguments":null)", R"(,"arguments":{})"}) {
    std::string msg = R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"typed")" + std::string(args) + "}}";
    CHECK(call(msg.c_str())["result"].dump() ==
          R"({"content":[{"type":"text","text":"Input validation error: 'n' is a required property"}],"isError":true})");
  }
  CHECK(call(R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"typed","arguments":{"n":true}}})")
            ["result"]["content"][0]["text"]
                .string_or() == "Input validation error: True is not of type 'integer'");
  CHECK(typed_runs == 0);
  CHECK(call(R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"typed","arguments":{"n":1}}})")
            ["result"]["content"][0]["text"]
                .string_or() == R"({"n":1})");
  CHECK(typed_runs == 1);
  CHECK(call(R"({"jsonrpc":"2.0","id":6,"method":"resources/list"})")["error"]["code"].int64() == -32601);
  JsonView err = call(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{}}})");
  CHECK(err["result"]["content"][0]["text"].string_or() == "0");
  CHECK(ToolResult::error("x").is_error);
}

TEST_CASE("hooks and permissions: wire encodings")
{
  JsonView deny = parse_json(HookOutput::deny_tool("no \"way\"").to_json("PreToolUse"));
  CHECK(deny["hookSpecificOutput"]["permissionDecision"].string_or() == "deny");
  CHECK(deny["hookSpecificOutput"]["permissionDecisionReason"].string_or() == "no \"way\"");
  HookOutput o;
  o.continue_ = false;
  o.stop_reason = "enough";
  o.decision = "block";
  o.system_message = "hi";
  JsonView v = parse_json(o.to_json("Stop"));
  CHECK(v["continue"].boolean() == false);
  CHECK(v["stopReason"].string_or() == "enough");
  CHECK(v["decision"].string_or() == "block");
  CHECK(v["systemMessage"].string_or() == "hi");
  CHECK(parse_json(HookOutput().to_json("X")).size() == 0);
  o.hook_specific_json = "[1]";
  CHECK_THROWS_AS(o.to_json("X"), Error);

  JsonView input = parse_json(R"({"command":"ls"})");
  JsonView allow = parse_json(PermissionDecision::allow().to_json(input));
  CHECK(allow["behavior"].string_or() == "allow");
  CHECK(allow["updatedInput"]["command"].string_or() == "ls");
  JsonView edited = parse_json(PermissionDecision::allow_with(R"({"command":"pwd"})", R"([{"type":"setMode","mode":"acceptEdits","destination":"session"}])").to_json(input));
  CHECK(edited["updatedInput"]["command"].string_or() == "pwd");
  CHECK(edited["updatedPermissions"][0]["mode"].string_or() == "acceptEdits");
  JsonView deny2 = parse_json(PermissionDecision::deny("nope", true).to_json(input));
  CHECK(deny2["behavior"].string_or() == "deny");
  CHECK(deny2["message"].string_or() == "nope");
  CHECK(deny2["interrupt"].boolean() == true);
  CHECK_THROWS_AS(PermissionDecision::allow_with("[]"), Error);
  CHECK_THROWS_AS(PermissionDecision::allow_with("{}", "{}"), Error);
}
