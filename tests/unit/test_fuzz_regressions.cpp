// Findings of the fuzz targets (tests/fuzz, docs/RELIABILITY.md "Fuzzing") as unit tests, where a
// finding has a rule wider than its input. The inputs themselves, tests/fuzz/regressions/<target>/,
// are replayed through the targets' own checks by the "unit: fuzz regressions replay <target>"
// tests (tests/fuzz/replay_main.cpp, registered in CMakeLists.txt next to this file).
#include "protocol/framer.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/message.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include <string>
#include <vector>

using ccbridge::errc;
using ccbridge::detail::FramerEvent;
using ccbridge::detail::LineFramer;

namespace {

struct Event {
  FramerEvent::Kind kind;
  errc code;
  std::uint64_t size;
  std::string bytes;
};

std::vector<Event> frame(const std::string &input, std::size_t limit, std::size_t chunk)
{
  std::vector<Event> out;
  LineFramer f(limit);
  auto sink = [&](const FramerEvent &e) { out.push_back({e.kind, e.code, e.size, std::string(e.bytes)}); };
  for (std::size_t off = 0; off < input.size(); off += chunk)
    f.feed(input.data() + off, std::min(chunk, input.size() - off), sink);
  f.finish(sink);
  return out;
}

}  // namespace

// fuzz_framer: the sample of an over-long line depended on how the reads split it (the part that
// arrived after the limit was crossed was left out), so the same stdout gave invalid_line
// messages with different raw() bytes. It is now the line's first kSampleBytes bytes, always.
TEST_CASE("fuzz regression: the sample of an over-long line does not depend on the reads")
{
  for (std::size_t len : {262u, 1000u, 1024u, 1500u, 5000u}) {
    std::string line = "{\"type\":\"x\",\"pad\":\"" + std::string(len - 21, 'a') + "\"}";
    REQUIRE(line.size() == len);
    std::string input = "{\"a\":1}\n" + line + "\n{\"b\":2}\n" + line;  // the last one ends at EOF
    std::string expected = line.substr(0, std::min(len, LineFramer::kSampleBytes));
    for (std::size_t chunk : {1u, 7u, 97u, 255u, 256u, 257u, 4096u, 100000u}) {
      auto ev = frame(input, 256, chunk);
      INFO("len " << len << ", chunk " << chunk);
      REQUIRE(ev.size() == 4);
      for (int i : {1, 3}) {
        CHECK(ev[i].kind == FramerEvent::Kind::error);
        CHECK(ev[i].code == errc::line_too_long);
        CHECK(ev[i].size == len);
        CHECK(ev[i].bytes == expected);
      }
      CHECK(ev[0].bytes == "{\"a\":1}");
      CHECK(ev[2].bytes == "{\"b\":2}");
    }
  }
}

// fuzz_options: a number too large for a double ("[2e308]", or 130 digits and e184) parses as inf,
// which RapidJSON's Writer refused to write, so dump() stopped there: query() with such content
// sent the CLI '"content":[}', and Message::json().dump() of such a CLI line was cut off. Every
// dump() is now valid JSON; +-inf is written as +-2e308 and reads back as +-inf.
TEST_CASE("fuzz regression: dump() of a number beyond the double range is valid JSON")
{
  auto v = ccbridge::parse_json("[2e308,-2e308,100e307,1e308,{\"a\":[-1797693134862315807937289714053034150799341327710" +
                                std::string(260, '0') + "]}]");
  CHECK(std::isinf(v[0].number().value_or(0)));
  std::string d = v.dump();
  CHECK(d == "[2e308,-2e308,2e308,1e308,{\"a\":[-2e308]}]");
  auto again = ccbridge::parse_json(d);
  CHECK(again.dump() == d);
  CHECK(*again[1].number() == -HUGE_VAL);
  auto m = ccbridge::Message::parse(R"({"type":"result","subtype":"success","total_cost_usd":2e308})");
  REQUIRE(m.type() == ccbridge::MessageType::result);
  CHECK(m.json().dump() == R"({"type":"result","subtype":"success","total_cost_usd":2e308})");
}
