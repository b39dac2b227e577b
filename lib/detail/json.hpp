// The only way ccbridge code includes RapidJSON. RapidJSON's default assert aborts (or is UB in
// release builds) on a wrong-type access; here it throws instead, and code checks types before
// reading anyway. Iterative parsing keeps deeply nested input from overflowing the stack.
#pragma once

#include <stdexcept>

namespace ccbridge::detail {
struct JsonAssertFailure : std::logic_error {
  using std::logic_error::logic_error;
};
}  // namespace ccbridge::detail

#ifndef RAPIDJSON_ASSERT
#define RAPIDJSON_ASSERT(x) \
  ((x) ? static_cast<void>(0) : throw ::ccbridge::detail::JsonAssertFailure("RapidJSON assertion: " #x))
#endif
#ifndef RAPIDJSON_HAS_STDSTRING
#define RAPIDJSON_HAS_STDSTRING 1
#endif

// Vectorised whitespace skipping and string copying (the bulk of parsing CLI output).
#if defined(__SSE4_2__) && !defined(RAPIDJSON_SSE42)
#define RAPIDJSON_SSE42
#elif defined(__SSE2__) && !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#endif
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace ccbridge::detail {

// Full precision: numbers read back exactly as Python's json and JavaScript read them (costs, delays).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag;

using JsonValue = rapidjson::Value;
using JsonDocument = rapidjson::Document;

/// Returns the string member `key` of `v`, or `fallback` when absent or not a string.
inline std::string_view get_string(const JsonValue &v, const char *key, std::string_view fallback = {})
{
  if (!v.IsObject()) return fallback;
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return fallback;
  return {it->value.GetString(), it->value.GetStringLength()};
}

/// Compact serialisation of a value.
inline std::string dump(const JsonValue &v)
{
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace ccbridge::detail
