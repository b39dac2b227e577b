// What the platform writes as JSON (detail::dump, task_tracker's JsonWriter) escapes every control
// character. RapidJSON 1.1.0's SSE2/SSE4.2 string writer let 0x1A-0x1F through raw when they fell
// in a 16-byte block it scanned at once (it compares with 0x19): the answer was not JSON (found by
// tests/server/test_platform_schema.py, an agent configuration with "\u001e" in a key).
#include "detail/json.hpp"
#include "server/profiles/platform/task_tracker.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace ccbridge::detail;
using namespace ccbridge::detail::server::platform;

namespace {

// No byte below 0x20 anywhere in `json` (inside a string it must be escaped; outside, none is written).
bool no_raw_control(const std::string &json)
{
  for (unsigned char c : json)
    if (c < 0x20) return false;
  return true;
}

// Strings with control character `c` at every offset of a block long enough for the SIMD loop.
template <class Check> void each_placement(Check check)
{
  for (int c = 0; c < 0x20; ++c)
    for (std::size_t at = 0; at < 48; ++at) {
      std::string s(64, 'x');
      s[at] = static_cast<char>(c);
      check(s, c, at);
    }
}

}  // namespace

TEST_CASE("platform json: dump escapes every control character, wherever it is in a long string")
{
  each_placement([](const std::string &s, int c, std::size_t at) {
    JsonDocument d(rapidjson::kObjectType);
    JsonValue key(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), d.GetAllocator());
    JsonValue value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), d.GetAllocator());
    d.AddMember(key, value, d.GetAllocator());
    std::string out = dump(d);
    INFO("char " << c << " at " << at);
    CHECK(no_raw_control(out));
  });
}

TEST_CASE("platform json: the task tracker's writer escapes every control character too")
{
  each_placement([](const std::string &s, int c, std::size_t at) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    w.EndObject();
    INFO("char " << c << " at " << at);
    CHECK(no_raw_control(std::string(buf.GetString(), buf.GetSize())));
  });
}
