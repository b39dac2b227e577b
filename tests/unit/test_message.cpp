#include "deep_json.hpp"
#include "protocol/framer.hpp"

#include <ccbridge/message.hpp>

#include <doctest/doctest.h>

#include <limits>

#include <dirent.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace ccbridge;

namespace {

std::string read_file(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ends_with(const std::string &s, const std::string &suffix)
{
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The CLI's stdout transcripts (not the stdin, timeline or SDK-level files).
std::vector<std::string> stdout_transcripts()
{
  std::vector<std::string> out;
  const std::string dir = CCB_FIXTURES_DIR "/transcripts";
  DIR *d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (auto *e = readdir(d)) {
    std::string name = e->d_name;
    if (!ends_with(name, ".jsonl") || ends_with(name, ".stdin.jsonl") || ends_with(name, ".timeline.jsonl") ||
        ends_with(name, ".sdk-messages.jsonl") || ends_with(name, ".cli-stdin.jsonl")) {
      continue;
    }
    out.push_back(dir + "/" + name);
  }
  closedir(d);
  return out;
}

std::vector<Message> parse_transcript(const std::string &path)
{
  std::string data = read_file(path);
  std::vector<Message> msgs;
  detail::LineFramer framer(64u << 20);
  auto sink = [&](const detail::FramerEvent &ev) {
    if (ev.kind == detail::FramerEvent::Kind::line) msgs.push_back(Message::parse(std::string(ev.bytes), ev.line_number));
  };
  framer.feed(data.data(), data.size(), sink);
  framer.finish(sink);
  return msgs;
}

std::vector<Message> transcript(const std::string &name)
{
  return parse_transcript(CCB_FIXTURES_DIR "/transcripts/" + name + ".jsonl");
}

const Message *find(const std::vector<Message> &msgs, MessageType t, std::string_view subtype = {})
{
  for (const auto &m : msgs)
    if (m.type() == t && (subtype.empty() || m.subtype() == subtype)) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("message: every line of every transcript parses, classifies and round-trips byte for byte")
{
  auto files = stdout_transcripts();
  REQUIRE(files.size() >= 60);
  std::map<std::string, int> types;
  std::size_t total = 0;
  for (const auto &path : files) {
    std::string data = read_file(path);
    std::istringstream lines(data);
    std::string line;
    std::size_t n = 0;
    for (const auto &m : parse_transcript(path)) {
      INFO(path);
      CHECK(m.type() != MessageType::invalid_line);
      // Byte-for-byte: the message serialises to exactly the line the CLI wrote.
      while (std::getline(lines, line) && (line.empty() || line[0] != '{')) {
      }
      CHECK(m.to_json() == line);
      CHECK(m.raw() == line);
      CHECK(m.type_name() == m.json()["type"].string_or());
      if (m.type() == MessageType::unknown) CHECK(!m.type_name().empty());
      types[std::string(to_string(m.type()))]++;
      ++n;
    }
    total += n;
  }
  CHECK(total > 400);
  for (const char *t : {"system", "assistant", "user", "result", "stream_event", "control_response",
                        "control_request", "control_cancel_request"}) {
    CHECK_MESSAGE(types[t] > 0, t);
  }
}

TEST_CASE("message: system/init and result accessors")
{
  auto msgs = transcript("a_oneshot_say_hi__v2.1.330");
  REQUIRE(msgs.size() == 3);
  const Message &init = msgs[0];
  CHECK(init.is_system("init"));
  CHECK(init.session_id() == init.json()["session_id"].string_or());
  CHECK(!init.session_id().empty());
  CHECK(!init.model().empty());
  CHECK(init.claude_code_version() == "2.1.330");
  CHECK(init.tools().is_array());
  CHECK(init.tools().size() > 3);
  CHECK(!init.cwd().empty());
  CHECK(init.permission_mode() == "default");

  const Message &reply = msgs[1];
  CHECK(reply.is(MessageType::assistant));
  CHECK(!reply.text().empty());
  CHECK(reply.content().size() == 1);
  CHECK(reply.content()[0].type() == BlockType::text);
  CHECK(!reply.message_id().empty());
  CHECK(reply.usage()["output_tokens"].int64().has_value());
  CHECK(!reply.parent_tool_use_id().has_value());

  const Message &result = msgs[2];
  CHECK(result.is(MessageType::result));
  CHECK(result.subtype() == "success");
  CHECK_FALSE(result.is_error());
  CHECK_FALSE(result.is_error_result());
  CHECK(result.result_text().has_value());
  CHECK(result.total_cost_usd().has_value());
  CHECK(result.duration_ms().has_value());
  CHECK(result.num_turns() == 1);
  CHECK(result.terminal_reason() == std::optional<std::string_view>("completed"));
  CHECK(result.usage()["input_tokens"].int64().has_value());
  CHECK(result.model_usage().is_object());
  CHECK(result.permission_denials().empty());
}

TEST_CASE("message: an API error ends with subtype success and is_error true")
{
  auto msgs = transcript("f_http500_always_maxretries2__v2.1.330");
  const Message *retry = find(msgs, MessageType::system, "api_retry");
  REQUIRE(retry);
  CHECK(retry->attempt() == 1);
  CHECK(retry->max_retries() == 2);
  CHECK(retry->error_status() == 500);
  CHECK(retry->retry_delay_ms().has_value());
  const Message *synthetic = find(msgs, MessageType::assistant);
  REQUIRE(synthetic);
  CHECK(synthetic->model() == "<synthetic>");
  CHECK(synthetic->error() == std::optional<std::string_view>("server_error"));
  const Message *result = find(msgs, MessageType::result);
  REQUIRE(result);
  CHECK(result->subtype() == "success");
  CHECK(result->is_error());
  CHECK(result->is_error_result());
  CHECK(result->api_error_status() == 500);
}

TEST_CASE("message: tool use, tool result, denials and subagents")
{
  auto msgs = transcript("c_tool_bash_allowedTools");
  const Message *use = nullptr;
  for (const auto &m : msgs)
    if (m.is(MessageType::assistant) && m.content()[0].type() == BlockType::tool_use) use = &m;
  REQUIRE(use);
  ContentBlock b = use->content()[0];
  CHECK(b.name() == "Bash");
  CHECK(b.id().substr(0, 5) == "toolu");
  CHECK(b.input()["command"].is_string());
  const Message *res = find(msgs, MessageType::user);
  REQUIRE(res);
  ContentBlock r = res->content()[0];
  CHECK(r.type() == BlockType::tool_result);
  CHECK(r.tool_use_id() == b.id());
  CHECK(!r.content_text().empty());
  CHECK(res->tool_use_result()["stdout"].is_string());

  auto denied = transcript("c_tool_bash_default_denied__v2.1.330");
  const Message *dres = find(denied, MessageType::result);
  REQUIRE(dres);
  auto d = dres->permission_denials();
  REQUIRE(d.size() == 1);
  CHECK(d[0].tool_name == "Bash");
  CHECK(!d[0].tool_use_id.empty());
  CHECK(d[0].tool_input["command"].is_string());

  auto sub = transcript("g_subagent_task");
  const Message *started = find(sub, MessageType::system, "task_started");
  REQUIRE(started);
  CHECK(!started->task_id().empty());
  bool saw_child = false;
  for (const auto &m : sub)
    if (m.parent_tool_use_id().has_value()) saw_child = true;
  CHECK(saw_child);
}

TEST_CASE("message: stream events, thinking, max turns, control frames")
{
  auto partial = transcript("a_oneshot_say_hi_partial__v2.1.330");
  std::string text;
  for (const auto &m : partial)
    if (m.is(MessageType::stream_event) && m.event_type() == "content_block_delta") text += m.delta_text();
  const Message *final_reply = find(partial, MessageType::assistant);
  REQUIRE(final_reply);
  CHECK(text == final_reply->text());

  auto thinking = transcript("g_thinking_block");
  bool saw = false;
  for (const auto &m : thinking) {
    if (!m.is(MessageType::assistant)) continue;
    for (const auto &blk : m.content()) {
      if (blk.type() == BlockType::thinking) {
        saw = true;
        CHECK(!blk.text().empty());
        CHECK(!blk.signature().empty());
      }
    }
  }
  CHECK(saw);

  auto turns = transcript("g_max_turns_1");
  const Message *r = find(turns, MessageType::result);
  REQUIRE(r);
  CHECK(r->subtype() == "error_max_turns");
  CHECK(r->terminal_reason() == std::optional<std::string_view>("max_turns"));
  CHECK(!r->result_text().has_value());

  auto ctl = transcript("d_control_can_use_tool_allow__v2.1.330");
  const Message *req = find(ctl, MessageType::control_request);
  REQUIRE(req);
  CHECK(!req->request_id().empty());
  CHECK(req->json()["request"]["subtype"].string_or() == "can_use_tool");
  auto ctl2 = transcript("d_control_initialize__v2.1.330");
  const Message *resp = find(ctl2, MessageType::control_response);
  REQUIRE(resp);
  CHECK(resp->request_id() == "req_1");
}

TEST_CASE("message: unknown types, subtypes and fields pass through untouched")
{
  const std::string line = R"({"type":"tool_progress","new_field":{"a":[1,2.50,"x"]},"z":null})";
  Message m = Message::parse(line);
  CHECK(m.type() == MessageType::unknown);
  CHECK(m.type_name() == "tool_progress");
  CHECK(m.raw() == line);
  CHECK(m.json()["new_field"]["a"][1].number() == 2.5);
  CHECK(m.json()["new_field"]["a"][2].string_or() == "x");
  CHECK(m.json()["z"].is_null());
  CHECK(!m.json()["missing"]["deeper"][3].exists());

  Message s = Message::parse(R"({"type":"system","subtype":"brand_new","x":1})");
  CHECK(s.type() == MessageType::system);
  CHECK(s.subtype() == "brand_new");

  Message rl = Message::parse(
      R"({"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","utilization":0.9},"uuid":"u","session_id":"s"})");
  CHECK(rl.type() == MessageType::rate_limit_event);
  CHECK(rl.rate_limit_info()["status"].string_or() == "allowed_warning");
  CHECK(rl.session_id() == "s");

  Message blocks = Message::parse(
      R"({"type":"assistant","message":{"content":[{"type":"redacted_thinking","data":"x"},{"type":"server_tool_use","id":"s1","name":"web_search","input":{"q":1}},{"type":"new_block"}]}})");
  auto c = blocks.content();
  REQUIRE(c.size() == 3);
  CHECK(c[0].type() == BlockType::redacted_thinking);
  CHECK(c[1].type() == BlockType::server_tool_use);
  CHECK(c[1].name() == "web_search");
  CHECK(c[2].type() == BlockType::unknown);
  CHECK(c[2].type_name() == "new_block");
}

TEST_CASE("message: bad lines become invalid_line messages with a reason")
{
  for (const char *bad : {"{\"type\":", "{\"a\":1}{\"b\":2}", "{\"a\":01}", "{\"a\":NaN}", "{'a':1}"}) {
    Message m = Message::parse(bad, 7);
    CHECK(m.type() == MessageType::invalid_line);
    CHECK(m.line_error().code == make_error_code(errc::parse_error));
    CHECK(m.line_error().line_number == 7);
    CHECK(m.line_error().description.find("line 7") != std::string::npos);
    CHECK(m.raw() == bad);
    CHECK(!m.json().exists());
    CHECK(m.session_id().empty());
  }
  Message arr = Message::parse("[1,2]");
  CHECK(arr.type() == MessageType::invalid_line);
  // Deep nesting overflows no stack: the line is refused (see the nesting test below).
  std::string deep = "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  Message d = Message::parse(deep);
  CHECK(d.type() == MessageType::invalid_line);
  Message user = Message::parse(R"({"type":"user","message":{"role":"user","content":"plain prompt"}})");
  REQUIRE(user.content().size() == 1);
  CHECK(user.content()[0].text() == "plain prompt");
  CHECK(user.text() == "plain prompt");
}

TEST_CASE("message: a line nested 512 levels deep is a message, 513 is an invalid line that says why")
{
  // Also when the line has content the scanner leaves to RapidJSON (an exponent beyond two
  // digits): the depth is the scanner's call either way.
  for (std::string head : {"{\"type\":\"x\",\"a\":", "{\"type\":\"x\",\"e\":1e100,\"a\":"}) {
    for (auto nested : {ccb_test::nested_arrays, ccb_test::nested_mixed}) {
      INFO(head << " " << nested(3));
      Message ok = Message::parse(head + nested(511) + "}", 3);  // the line's own object is level 1
      REQUIRE(ok.type() == MessageType::unknown);
      CHECK(ok.json()["a"].dump() == nested(511));
      CHECK(ok.json().dump().size() > 1000);
      for (std::size_t levels : {std::size_t(512), std::size_t(200000)}) {
        Message bad = Message::parse(head + nested(levels) + "}", 3);
        CHECK(bad.type() == MessageType::invalid_line);
        CHECK(bad.line_error().code == make_error_code(errc::parse_error));
        CHECK(bad.line_error().description.find("stdout line 3 is not valid JSON: nested deeper than 512 levels") == 0);
        CHECK(!bad.json().exists());
      }
    }
  }
}

TEST_CASE("message: numbers are read at full precision, as Python's json and JavaScript read them")
{
  auto m = Message::parse(R"({"type":"result","total_cost_usd":0.021892000000000002,"x":2267.6083286100998})");
  CHECK(m.total_cost_usd() == 0.021892000000000002);
  CHECK(m.json()["x"].number() == 2267.6083286100998);
  // The line over 4 KiB takes the iterative parser; it must be as exact.
  std::string big = R"({"type":"result","total_cost_usd":0.021892000000000002,"pad":")" + std::string(5000, 'a') + "\"}";
  CHECK(Message::parse(big).total_cost_usd() == 0.021892000000000002);
}

TEST_CASE("message: zero with a huge exponent or many zeros parses (RapidJSON's exact mode has UB there)")
{
  auto m = Message::parse(R"({"type":"result","a":0e-400,"b":0.00000000000000000000000000,"c":-0E-999,"d":12345678901234567890,"e":-9223372036854775808})");
  REQUIRE(m.type() == MessageType::result);
  CHECK(m.json()["a"].number() == 0.0);
  CHECK(m.json()["b"].number() == 0.0);
  CHECK(m.json()["c"].number() == 0.0);
  CHECK(m.json()["d"].number() == 12345678901234567890.0);
  CHECK(m.json()["e"].int64() == std::numeric_limits<std::int64_t>::min());
  CHECK(Message::parse(R"({"type":"result","x":1e400})").type() == MessageType::invalid_line);  // no double holds it
  CHECK(parse_json("[1.5e-310, 123456789012345678901234567890]")[0].number() == 1.5e-310);
}
