// The validating scanner must agree with RapidJSON on what is a valid JSON object, and on the
// top-level "type"/"subtype", for every input: checked on hand-picked edge cases and on a large
// deterministic set of mutations of the real transcripts' lines.
#include "deep_json.hpp"
#include "detail/json.hpp"
#include "protocol/json_scan.hpp"

#include <ccbridge/message.hpp>

#include <doctest/doctest.h>

#include <dirent.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

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
