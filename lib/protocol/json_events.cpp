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

bool walk_json(std::string_view text, JsonEvents &events)
{
  Adapter adapter(events);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  constexpr unsigned flags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseNumbersAsStringsFlag;
  return !reader.Parse<flags>(ms, adapter).IsError();
}

}  // namespace ccbridge::detail
