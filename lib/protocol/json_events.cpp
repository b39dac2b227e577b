#include "detail/json.hpp"

#include <ccbridge/detail/json_events.hpp>

namespace ccbridge::detail {

namespace {

// RapidJSON's handler concept over JsonEvents. Numbers arrive as text (kParseNumbersAsStringsFlag).
struct Adapter : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Adapter> {
  explicit Adapter(JsonEvents &events) : e(events) {}
  bool Null() { return e.null(); }
  bool Bool(bool b) { return e.boolean(b); }
  bool RawNumber(const char *s, rapidjson::SizeType n, bool)
  {
    for (rapidjson::SizeType i = 0; i < n; ++i)
      if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') return real(s, n);
    return e.integer(std::string_view(s, n));
  }
  bool real(const char *s, rapidjson::SizeType n)
  {
    double d;
    (void)exact_double(s, n, d);
    return e.real(d);
  }
  bool String(const char *s, rapidjson::SizeType n, bool) { return e.string(std::string_view(s, n)); }
  bool Key(const char *s, rapidjson::SizeType n, bool) { return e.key(std::string_view(s, n)); }
  bool StartObject() { return e.start_object(); }
  bool EndObject(rapidjson::SizeType) { return e.end_object(); }
  bool StartArray() { return e.start_array(); }
  bool EndArray(rapidjson::SizeType) { return e.end_array(); }
  JsonEvents &e;
};

}  // namespace

namespace {
constexpr unsigned kWalkFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseNumbersAsStringsFlag;
}

bool walk_json(std::string_view text, JsonEvents &events)
{
  Adapter adapter(events);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  return !reader.Parse<kWalkFlags>(ms, adapter).IsError();
}

bool walk_json_terminated(std::string_view text, JsonEvents &events)
{
  // RapidJSON copies strings from a StringStream 16 bytes at a time (SSE2), from a MemoryStream one
  // byte at a time; a StringStream reads up to a NUL, hence the caller's promise.
  Adapter adapter(events);
  rapidjson::Reader reader;
  rapidjson::StringStream ss(text.data());
  if (reader.Parse<kWalkFlags>(ss, adapter).IsError()) return false;
  return ss.Tell() <= text.size();
}

}  // namespace ccbridge::detail
