#include "deep_json.hpp"
#include "protocol/utf8.hpp"

#include <ccbridge/detail/json_events.hpp>
#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <doctest/doctest.h>

using namespace ccbridge;

TEST_CASE("json: views, kinds and safe missing access")
{
  JsonView v = parse_json(R"({"s":"x","n":-5,"d":1.5,"b":true,"z":null,"a":[1,{"k":"v"}],"o":{}})");
  CHECK(v.is_object());
  CHECK(v.size() == 7);
  CHECK(v["s"].string() == std::optional<std::string_view>("x"));
  CHECK(v["n"].int64() == -5);
  CHECK(v["d"].number() == 1.5);
  CHECK_FALSE(v["d"].int64().has_value());
  CHECK(v["b"].boolean() == true);
  CHECK(v["z"].is_null());
  CHECK(v["a"][1]["k"].string_or() == "v");
  CHECK(v["a"][-1].kind() == JsonKind::missing);
  CHECK(v["a"][9].kind() == JsonKind::missing);
  CHECK(v["s"]["not-an-object"].kind() == JsonKind::missing);
  CHECK(v.key_at(0) == "s");
  CHECK(v.value_at(1).int64() == -5);
  CHECK(v["a"].dump() == R"([1,{"k":"v"}])");
  CHECK(JsonView().dump().empty());
  CHECK_THROWS_AS(parse_json("{bad"), Error);
  // A view outlives the parse result it came from.
  JsonView inner;
  {
    JsonView tmp = parse_json(R"({"deep":{"x":"kept"}})");
    inner = tmp["deep"];
  }
  CHECK(inner["x"].string_or() == "kept");
}

TEST_CASE("json: parse_json accepts 512 levels of nesting and refuses 513 with a clear error")
{
  // A DOM nested without bound would overflow the stack wherever it is walked recursively
  // (dump(), the Python conversion): the parser stops at the limit (issue 12, item 2).
  for (auto nested : {ccb_test::nested_arrays, ccb_test::nested_mixed}) {
    std::string at_limit = nested(512);
    JsonView v = parse_json(at_limit);
    CHECK(v.dump() == at_limit);
    for (std::size_t levels : {std::size_t(513), std::size_t(200000)}) {
      try {
        (void)parse_json(nested(levels));
        FAIL("accepted " << levels << " levels");
      } catch (const Error &e) {
        CHECK(e.code() == errc::parse_error);
        CHECK(std::string(e.what()).find("nested deeper than 512 levels") != std::string::npos);
      }
    }
  }
  // Depth counts open containers, not their number: 512 levels twice side by side is fine.
  CHECK(parse_json("[" + ccb_test::nested_arrays(511) + "," + ccb_test::nested_arrays(511) + "]").size() == 2);
}

TEST_CASE("json: string escaping round-trips through the parser")
{
  std::string s = std::string("quote\" back\\ nl\n tab\t ctl\x01\x1f uni caf\xc3\xa9", 36);
  std::string out;
  append_json_string(out, s);
  CHECK(out.find('\n') == std::string::npos);
  CHECK(parse_json("{\"k\":" + out + "}")["k"].string_or() == s);
}

TEST_CASE("utf8: validator")
{
  CHECK(detail::valid_utf8("", 0));
  CHECK(detail::valid_utf8("plain ascii long enough for the fast path", 41));
  const char good[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";
  CHECK(detail::valid_utf8(good, sizeof good - 1));
  std::size_t off = 0;
  CHECK_FALSE(detail::valid_utf8("abcdefgh\x80", 9, &off));
  CHECK(off == 8);
  CHECK_FALSE(detail::valid_utf8("\xe0\x80\x80", 3));  // overlong
  CHECK_FALSE(detail::valid_utf8("\xf0\x80\x80\x80", 4));
  CHECK_FALSE(detail::valid_utf8("\xed\xbf\xbf", 3));  // surrogate
  CHECK_FALSE(detail::valid_utf8("\xf5\x80\x80\x80", 4));
  CHECK_FALSE(detail::valid_utf8("\xc3", 1));          // truncated
  CHECK(detail::valid_utf8("\xef\xbf\xbf", 3));
}

TEST_CASE("errors: codes, names and message prefixes")
{
  std::error_code ec = errc::cwd_not_found;
  CHECK(ec.category().name() == std::string("ccbridge"));
  CHECK(ec.message() == "working directory not found");
  Error e(errc::spawn_failed, "detail here");
  CHECK(std::string(e.what()) == "[ccbridge.spawn_failed] detail here");
  CHECK(e.detail() == "detail here");
  CHECK(e.code() == errc::spawn_failed);
  for (int i = 0; i <= static_cast<int>(errc::session_not_found); ++i) {
    CHECK(std::string(errc_name(static_cast<errc>(i))) != "unknown");
  }
}

namespace {
// Every event as text, to compare two walks.
struct EventLog final : ccbridge::detail::JsonEvents {
  std::string log;
  bool null() override { return add("n"); }
  bool boolean(bool b) override { return add(b ? "t" : "f"); }
  bool integer(std::string_view d) override { return add("i:" + std::string(d)); }
  bool real(double d) override { return add("r:" + std::to_string(d)); }
  bool string(std::string_view s) override { return add("s:" + std::string(s)); }
  bool key(std::string_view k) override { return add("k:" + std::string(k)); }
  bool start_object() override { return add("{"); }
  bool end_object() override { return add("}"); }
  bool start_array() override { return add("["); }
  bool end_array() override { return add("]"); }
  bool add(const std::string &e)
  {
    log += e + "\n";
    return true;
  }
};
}  // namespace

TEST_CASE("json events: the walk of a NUL-terminated text equals the general walk")
{
  const std::string long_text(5000, 'x');
  for (std::string text : {std::string(R"({"a":[1,-2.5e3,true,false,null,"t\u00e9\n\"q\""],"b":{"c":"\ud83d\ude00"}})"),
                           std::string(R"({"type":"assistant","text":")") + long_text + R"(\\","n":18446744073709551616})",
                           std::string(R"("just a string" trailing)"), std::string("[1,2"), std::string(R"({"a":"\x"})"),
                           std::string("{\"a\":\"caf\xc3\xa9\"}"), std::string("")}) {
    CAPTURE(text.substr(0, 80));
    EventLog general, terminated;
    bool ok_general = ccbridge::detail::walk_json(text, general);
    bool ok_terminated = ccbridge::detail::walk_json_terminated(text, terminated);
    CHECK(ok_general == ok_terminated);
    if (ok_general) CHECK(general.log == terminated.log);
  }
}
