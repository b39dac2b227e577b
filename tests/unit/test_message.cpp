#include "deep_json.hpp"
#include "protocol/framer.hpp"
#include "protocol/message_impl.hpp"

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

namespace {

// What session_id(), text() and token_usage() answer when read through the DOM (the reference
// the readers that work on the line's bytes must agree with).
struct Common {
  std::string session_id, text;
  std::optional<std::int64_t> in, out, cache_creation, cache_read;
  bool operator==(const Common &o) const
  {
    return session_id == o.session_id && text == o.text && in == o.in && out == o.out &&
           cache_creation == o.cache_creation && cache_read == o.cache_read;
  }
};

Common from_dom(const Message &m)
{
  Common c;
  c.session_id = std::string(m.json()["session_id"].string_or());
  for (const auto &b : m.content()) {
    if (b.type() != BlockType::text) continue;
    if (!c.text.empty()) c.text += '\n';
    c.text += b.text();
  }
  JsonView u = m.usage();
  c.in = u["input_tokens"].int64();
  c.out = u["output_tokens"].int64();
  c.cache_creation = u["cache_creation_input_tokens"].int64();
  c.cache_read = u["cache_read_input_tokens"].int64();
  return c;
}

// Read first, before anything builds the DOM, so the line's own bytes answer where they can.
Common from_accessors(const Message &m)
{
  Common c;
  c.session_id = std::string(m.session_id());
  c.text = m.text();
  auto u = m.token_usage();
  c.in = u.input_tokens;
  c.out = u.output_tokens;
  c.cache_creation = u.cache_creation_input_tokens;
  c.cache_read = u.cache_read_input_tokens;
  return c;
}

std::string describe(const Common &c)
{
  auto n = [](const std::optional<std::int64_t> &v) { return v ? std::to_string(*v) : std::string("-"); };
  return "session_id=" + c.session_id + " text=" + c.text + " usage=" + n(c.in) + "/" + n(c.out) + "/" +
         n(c.cache_creation) + "/" + n(c.cache_read);
}

}  // namespace

TEST_CASE("message: session_id, text and token usage read from the bytes agree with the DOM on every transcript line")
{
  std::size_t read = 0, with_text = 0, with_usage = 0, without_dom = 0;
  for (const auto &path : stdout_transcripts()) {
    for (const auto &parsed : parse_transcript(path)) {
      // Two copies of the line: one read through the accessors first, one through the DOM.
      Message fast = Message::parse(std::string(parsed.raw()));
      Message dom = Message::parse(std::string(parsed.raw()));
      Common a = from_accessors(fast);
      without_dom += !detail::Access<Message>::dom_built(fast);
      Common b = from_dom(dom);
      INFO(path, " ", parsed.raw().substr(0, 200));
      CHECK_MESSAGE(a == b, describe(a), " vs ", describe(b));
      ++read;
      with_text += !b.text.empty();
      with_usage += b.out.has_value();
    }
  }
  CHECK(read > 400);
  CHECK(with_text > 50);
  CHECK(with_usage > 50);
  // The point of the byte readers: most lines are answered without a DOM.
  CHECK(without_dom * 10 > read * 9);
}

TEST_CASE("message: session_id, text and token usage agree with the DOM on lines shaped to trip a byte reader")
{
  const char *lines[] = {
      // escapes in text, \u escapes (ASCII, 2 and 3 bytes), a surrogate pair (the DOM decides)
      R"({"type":"assistant","message":{"content":[{"type":"text","text":"a\"b\\c\/d\n\t\r\b\f"}]},"session_id":"s1"})",
      R"({"type":"assistant","message":{"content":[{"type":"text","text":"\u0041\u00e9\u20ac\u0000z"}]},"session_id":"s\u0032"})",
      R"({"type":"assistant","message":{"content":[{"type":"text","text":"\ud83d\ude00"}]},"session_id":"s"})",
      // escaped member names, at the top and inside blocks
      R"({"type":"assistant","message":{"content":[{"type":"text","t\u0065xt":"hidden"}]},"session_id":"s"})",
      R"({"type":"assistant","m\u0065ssage":{"content":[{"type":"text","text":"x"}]},"session_id":"s"})",
      R"({"type":"assistant","message":{"content":[{"t\u0079pe":"text","text":"x"}]},"sess\u0069on_id":"s"})",
      // an escaped type value, a non-string type, a non-object block, thinking in a text block
      R"({"type":"assistant","message":{"content":[{"type":"t\u0065xt","text":"x"},{"type":1,"text":"y"},7,"z"]}})",
      R"({"type":"assistant","message":{"content":[{"type":"text","thinking":"th"},{"type":"text","text":""},{"type":"text","text":"b"}]}})",
      R"({"type":"assistant","message":{"content":[{"type":"text","text":5},{"type":"text"},{"type":"text","text":"c"}]}})",
      // duplicates: the first wins, as in RapidJSON
      R"({"type":"assistant","session_id":"first","session_id":"second","message":{"content":"p","content":"q"}})",
      R"({"type":"assistant","message":{"content":[{"type":"text","type":"tool_use","text":"a","text":"b"}]}})",
      // content shapes: string, object, null, number, absent; message not an object; no message
      R"({"type":"user","message":{"role":"user","content":"a plain\nprompt"},"session_id":"u"})",
      R"({"type":"user","message":{"content":{"type":"text","text":"x"}}})",
      R"({"type":"user","message":{"content":null}})",
      R"({"type":"user","message":{"content":3}})",
      R"({"type":"user","message":{"role":"user"}})",
      R"({"type":"user","message":"text"})",
      R"({"type":"user","session_id":null})",
      R"({"type":"user","session_id":42})",
      R"({"type":"system","subtype":"init"})",
      // more blocks than the byte reader takes at once
      R"({"type":"assistant","message":{"content":[{"type":"text","text":"1"},{"type":"text","text":"2"},{"type":"text","text":"3"},{"type":"text","text":"4"},{"type":"text","text":"5"},{"type":"text","text":"6"},{"type":"text","text":"7"},{"type":"text","text":"8"},{"type":"text","text":"9"},{"type":"text","text":"10"},{"type":"text","text":"11"},{"type":"text","text":"12"},{"type":"text","text":"13"},{"type":"text","text":"14"},{"type":"text","text":"15"},{"type":"text","text":"16"},{"type":"text","text":"17"}]}})",
      // usage: assistant (inside message) and result (top level); numbers of every kind
      R"({"type":"assistant","message":{"usage":{"input_tokens":3,"output_tokens":0,"cache_creation_input_tokens":999999999999999999,"cache_read_input_tokens":9223372036854775807}}})",
      R"({"type":"assistant","message":{"usage":{"input_tokens":-3,"output_tokens":1.5,"cache_creation_input_tokens":2e1,"cache_read_input_tokens":"7"}}})",
      R"({"type":"assistant","message":{"usage":{"input_tokens":92233720368547758070,"output_tokens":-0,"cache_read_input_tokens":null}}})",
      R"({"type":"assistant","usage":{"input_tokens":1},"message":{"usage":[1]}})",
      R"({"type":"result","subtype":"success","usage":{"input_tokens":10,"output_tokens":20},"message":{"usage":{"input_tokens":99}}})",
      R"({"type":"result","usage":{"input_tokens" : 10 , "output_tokens":	20 }})",
      R"({"type":"result","usage":"none"})",
      R"({"type":"result","u\u0073age":{"input_tokens":10}})",
      R"( { "type" : "assistant" , "message" : { "content" : [ { "type" : "text" , "text" : "spaced" } ] } , "session_id" : "sp" } )",
  };
  for (const char *line : lines) {
    Message fast = Message::parse(line), dom = Message::parse(line);
    REQUIRE_MESSAGE(fast.type() != MessageType::invalid_line, line);
    Common a = from_accessors(fast), b = from_dom(dom);
    CHECK_MESSAGE(a == b, line, "\n  bytes: ", describe(a), "\n  DOM:   ", describe(b));
  }
}
