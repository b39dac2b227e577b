// json_member_span (lib/server/json_span.hpp): the bytes of a member of a validated JSON object,
// checked against the RapidJSON DOM on every line of the CLI transcripts.
#include "server/json_span.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <doctest/doctest.h>

#include <dirent.h>

#include <fstream>
#include <string>

using ccbridge::detail::server::json_member_span;

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
