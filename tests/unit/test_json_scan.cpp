// The validating scanner must agree with RapidJSON on what is a valid JSON object, and on the
// top-level "type"/"subtype", for every input: checked on hand-picked edge cases and on a large
// deterministic set of mutations of the real transcripts' lines. json_member_span, the other
// entry point of the same reader, must find the bytes the DOM finds, and only in JSON.
#include "deep_json.hpp"
#include "detail/json.hpp"
#include "protocol/json_scan.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>
#include <ccbridge/message.hpp>

#include <doctest/doctest.h>

#include <dirent.h>

#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using ccbridge::detail::json_member_span;
using ccbridge::detail::scan_json_object;

namespace {

struct Verdict {
  bool ok;
  std::string type, subtype;
};

Verdict rapidjson_verdict(const std::string &line)
{
  ccbridge::detail::JsonDocument doc;
  auto r = ccbridge::detail::parse_exact(doc, line);  // the library's reader: its nesting limit too
  if (r.IsError() || !doc.IsObject()) return {false, {}, {}};
  return {true, std::string(ccbridge::detail::get_string(doc, "type")),
          std::string(ccbridge::detail::get_string(doc, "subtype"))};
}

void check_agrees(const std::string &line)
{
  Verdict expected = rapidjson_verdict(line);
  auto scan = scan_json_object(line.c_str(), line.size());
  INFO("line: " << line.substr(0, 300));
  if (!scan.needs_dom) {
    REQUIRE(scan.ok == expected.ok);
    if (scan.ok) {
      CHECK(std::string(scan.type) == expected.type);
      CHECK(std::string(scan.subtype) == expected.subtype);
    }
  } else if (!scan.ok) {
    REQUIRE_FALSE(expected.ok);  // a scan failure is final only when RapidJSON agrees
  }
  // Through the public API the answer must always be RapidJSON's.
  if (line.find('\0') == std::string::npos) {
    ccbridge::Message m = ccbridge::Message::parse(line);
    REQUIRE((m.type() != ccbridge::MessageType::invalid_line) == expected.ok);
    if (expected.ok) {
      CHECK(std::string(m.type_name()) == expected.type);
      CHECK(std::string(m.subtype()) == expected.subtype);
      CHECK(m.json().is_object());
    }
  }
}

std::vector<std::string> transcript_lines()
{
  std::vector<std::string> out;
  const std::string dir = CCB_FIXTURES_DIR "/transcripts";
  DIR *d = opendir(dir.c_str());
  REQUIRE(d);
  while (auto *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 6 || name.substr(name.size() - 6) != ".jsonl") continue;
    std::ifstream in(dir + "/" + name);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && line[0] == '{') out.push_back(line);
  }
  closedir(d);
  return out;
}

}  // namespace

TEST_CASE("json scan: edge cases agree with RapidJSON")
{
  const char *cases[] = {
      "{}", "{ }", " {} ", "{\"type\":\"a\"}", "{\"type\":\"a\",\"subtype\":\"b\"}", "{\"x\":{\"type\":\"inner\"}}",
      "{\"type\":{\"subtype\":\"inner\"}}", "{\"type\":[\"x\"],\"subtype\":\"s\"}", "{\"type\":1}",
      "{\"t\\u0079pe\":\"escaped-name\"}", "{\"type\":\"esc\\\"aped\"}", "{\"a\":[1,2,[3,{\"b\":null}]]}",
      "{\"a\":-0}", "{\"a\":0.5}", "{\"a\":1e5}", "{\"a\":1E-5}", "{\"a\":1e400}", "{\"a\":-1.5e+3}",
      "{\"a\":12345678901234567890123}", "{\"a\":1e99}", "{\"a\":-1.5e-99}", "{\"a\":1e-400}", "{\"a\":12345678901234567e99}",
      "{\"a\":1.7976931348623157e308}", "{\"a\":1.8e308}", "{\"a\":0.000000000000000000001}", "{\"a\":true,\"b\":false,\"c\":null}", "{\"s\":\"\\ud83d\\ude00\"}",
      "{\"s\":\"\\ud83d\"}", "{\"s\":\"\\ude00\"}", "{\"s\":\"\\u00e9\\n\\t\\/\\b\\f\\r\\\\\"}",
      // invalid
      "", "{", "}", "[]", "\"s\"", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":01}", "{\"a\":1.}",
      "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}",
      "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}",
      "{\"a\":\"tab\there\"}", "{\"a\":1}{}", "{\"a\":1} x", "{'a':1}", "{a:1}", "{\"a\":[1,2}", "{\"a\":{]}",
      "{\"a\":[1,]}", "{\"a\" 1}", "{\"a\":\"unterminated}", "{\"a\":\"ends with backslash\\",
      "{\"a\":[[[[[[[[[[]]]]]]]]]]}", "{\"a\":[[[[[[[[[[]]]]]]]]]}",
  };
  for (const char *c : cases) check_agrees(c);
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  check_agrees(deep);
  check_agrees(deep.substr(0, deep.size() - 2) + "}");
  std::string long_str = "{\"type\":\"big\",\"s\":\"" + std::string(100000, 'x') + "\\n" + std::string(33, 'y') + "\"}";
  check_agrees(long_str);
}

TEST_CASE("json scan: 512 levels of nesting pass, 513 fail at the opening bracket, with the reason")
{
  for (auto nested : {ccb_test::nested_arrays, ccb_test::nested_mixed}) {
    std::string ok = "{\"type\":\"t\",\"a\":" + nested(511) + "}";
    auto scan = scan_json_object(ok.c_str(), ok.size());
    CHECK(scan.ok);
    CHECK(scan.type == "t");
    check_agrees(ok);
    std::string bad = "{\"type\":\"t\",\"a\":" + nested(512) + "}";
    scan = scan_json_object(bad.c_str(), bad.size());
    REQUIRE_FALSE(scan.ok);
    CHECK(std::string(scan.error) == "nested deeper than 512 levels");
    // The 513th opening bracket, counting the line's own object.
    std::size_t opened = 0, at = 0;
    for (; at < bad.size() && opened < 513; ++at)
      if (bad[at] == '[' || bad[at] == '{') ++opened;
    CHECK(scan.error_offset == at - 1);
    check_agrees(bad);
  }
}

TEST_CASE("json scan: agrees with RapidJSON on every transcript line and 200,000 mutations of them")
{
  auto lines = transcript_lines();
  REQUIRE(lines.size() > 400);
  for (const auto &l : lines) check_agrees(l);

  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\":,\\ -+.0123456789eEtrufalsn\t\x01u\xe9";
  std::size_t accepted = 0, total = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string l = lines[rng() % lines.size()];
    if (l.size() > 4000) l.resize(4000 + rng() % 100);  // keep it fast; truncation is a mutation too
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !l.empty(); ++e) {
      std::size_t pos = rng() % l.size();
      switch (rng() % 4) {
      case 0: l[pos] = alphabet[rng() % alphabet.size()]; break;
      case 1: l.erase(pos, 1 + rng() % 3); break;
      case 2: l.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
      case 3: l.resize(pos); break;
      }
    }
    check_agrees(l);
    ++total;
    accepted += rapidjson_verdict(l).ok ? 1 : 0;
  }
  // The mutations must exercise both sides.
  CHECK(accepted > total / 20);
  CHECK(accepted < total - total / 20);
}

TEST_CASE("json span: members, nesting, strings with braces and escapes, missing keys")
{
  std::string j = R"({"a":1, "s":"x}\"{[", "m" : {"k":[1,{"z":"]"}], "t":true} , "n":null})";
  CHECK(json_member_span(j, {"a"}) == std::optional<std::string_view>("1"));
  CHECK(json_member_span(j, {"s"}) == std::optional<std::string_view>(R"("x}\"{[")"));
  CHECK(json_member_span(j, {"m", "k"}) == std::optional<std::string_view>(R"([1,{"z":"]"}])"));
  CHECK(json_member_span(j, {"m", "t"}) == std::optional<std::string_view>("true"));
  CHECK(json_member_span(j, {"n"}) == std::optional<std::string_view>("null"));
  CHECK_FALSE(json_member_span(j, {"missing"}));
  CHECK_FALSE(json_member_span(j, {"a", "b"}));  // 1 is not an object
  // A later member of the outer object is not a member of the inner one.
  CHECK_FALSE(json_member_span(j, {"m", "n"}));
  CHECK_FALSE(json_member_span(R"({"m":{"q":{"k":1}},"k":2})", {"m", "k"}));
  CHECK(json_member_span(R"({"m":{"q":{"k":1}},"k":2})", {"m", "q", "k"}) == std::optional<std::string_view>("1"));
  CHECK_FALSE(json_member_span("[1,2]", {"a"}));
  CHECK_FALSE(json_member_span("{}", {"a"}));
}

TEST_CASE("json span: message.content of every transcript line equals the DOM's")
{
  std::string dir = std::string(CCB_FIXTURES_DIR) + "/transcripts";
  DIR *d = opendir(dir.c_str());
  REQUIRE(d);
  int checked = 0;
  while (auto *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 6 || name.compare(name.size() - 6, 6, ".jsonl") != 0) continue;
    std::ifstream in(dir + "/" + name);
    std::string line;
    while (std::getline(in, line)) {
      ccbridge::JsonView v;
      try {
        v = ccbridge::parse_json(line);
      } catch (const ccbridge::Error &) {
        continue;
      }
      if (!v.is_object()) continue;
      auto span = json_member_span(line, {"message", "content"});
      ccbridge::JsonView dom = v["message"]["content"];
      REQUIRE(span.has_value() == dom.exists());
      if (span) {
        CHECK(ccbridge::parse_json(*span).dump() == dom.dump());
        ++checked;
      }
    }
  }
  closedir(d);
  CHECK(checked > 100);
}

TEST_CASE("json span: blanks around a member are not part of it, an empty path gives the text")
{
  std::string j = " { \"a\" :  1 ,\t\"b\"\n:\r[ 1 , 2 ]  , \"c\" : { \"d\" : \"x\" } } ";
  CHECK(json_member_span(j, {"a"}) == std::optional<std::string_view>("1"));
  CHECK(json_member_span(j, {"b"}) == std::optional<std::string_view>("[ 1 , 2 ]"));
  CHECK(json_member_span(j, {"c", "d"}) == std::optional<std::string_view>("\"x\""));
  CHECK(json_member_span(j, {}) == std::optional<std::string_view>(j));
  // Names are compared as written, and the first of two equal names counts (as RapidJSON's FindMember).
  CHECK_FALSE(json_member_span(R"({"\u0061":1})", {"a"}));
  CHECK(json_member_span(R"({"a":1,"a":2})", {"a"}) == std::optional<std::string_view>("1"));
}

TEST_CASE("json span: text that is not JSON on the way to the member gives nothing")
{
  // Most of these once gave the bytes of "b": the finder trusted its input.
  const char *bad[] = {
      R"({"a":tru,"b":1})",
      R"({"a":1 "b":2})",
      R"({"a":[1,2},"b":1})",
      R"({"a":{]},"b":1})",
      R"({"a":01,"b":1})",
      R"({"a":"x\q","b":1})",
      R"({"a" 1,"b":1})",
      R"({a:1,"b":1})",
      R"({"a":1,,"b":1})",
      R"({"a":[1,],"b":1})",
      R"({"a":-,"b":1})",
      R"({"b":tru})",
      "{\"a\":\"tab\there\",\"b\":1}",
      R"({"b":"unterminated})",
      R"({"b":[1,2)",
      R"({"b":{"c":1)",
  };
  for (const char *j : bad) {
    INFO(j);
    CHECK_FALSE(json_member_span(j, {"b"}));
  }
  // What comes after the member is not walked, and not judged.
  CHECK(json_member_span(R"({"b":1,"c":tru)", {"b"}) == std::optional<std::string_view>("1"));
}

TEST_CASE("json span: 512 levels of nesting, counting the path's own, pass, 513 give nothing")
{
  for (auto nested : {ccb_test::nested_arrays, ccb_test::nested_mixed}) {
    std::string ok = "{\"type\":\"t\",\"v\":" + nested(511) + "}";
    CHECK(json_member_span(ok, {"v"}) == std::optional<std::string_view>(nested(511)));
    CHECK_FALSE(json_member_span("{\"type\":\"t\",\"v\":" + nested(512) + "}", {"v"}));
    // The same depth on the way to another member.
    CHECK(json_member_span("{\"v\":" + nested(511) + ",\"w\":1}", {"w"}) == std::optional<std::string_view>("1"));
    CHECK_FALSE(json_member_span("{\"v\":" + nested(512) + ",\"w\":1}", {"w"}));
    // Two levels of path: the value may nest 510 more.
    CHECK(json_member_span("{\"m\":{\"v\":" + nested(510) + "}}", {"m", "v"}) ==
          std::optional<std::string_view>(nested(510)));
    CHECK_FALSE(json_member_span("{\"m\":{\"v\":" + nested(511) + "}}", {"m", "v"}));
  }
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + ",\"b\":1}";
  CHECK_FALSE(json_member_span(deep, {"b"}));
}

TEST_CASE("json span: on every transcript line and 20,000 mutations, a span found is the DOM's member")
{
  auto lines = transcript_lines();
  std::mt19937 rng(777);
  std::size_t found = 0;
  for (int round = 0; round < 20000 + static_cast<int>(lines.size()); ++round) {
    std::string l = lines[static_cast<std::size_t>(round) % lines.size()];
    if (round >= static_cast<int>(lines.size())) {
      std::size_t pos = rng() % l.size();
      l[pos] = "{}[]\":,\\ 0e-tn"[rng() % 15];
    }
    INFO("line: " << l.substr(0, 300));
    auto span = json_member_span(l, {"message", "content"});
    if (!span) continue;
    // The span is a JSON value (as the scanner judges it: a number such as 1e999 is RapidJSON's
    // call), and where the whole line is valid, it is the DOM's member.
    std::string wrapped = "{\"v\":" + std::string(*span) + "}";
    REQUIRE(scan_json_object(wrapped.c_str(), wrapped.size()).ok);
    if (rapidjson_verdict(l).ok) {
      CHECK(ccbridge::parse_json(*span).dump() == ccbridge::parse_json(l)["message"]["content"].dump());
      ++found;
    }
  }
  CHECK(found > 1000);
}
