// The only way ccbridge code includes RapidJSON. RapidJSON's default assert aborts (or is UB in
// release builds) on a wrong-type access; here it throws instead, and code checks types before
// reading anyway. Parsing stops at max_json_depth levels of nesting (ExactNumbers below), so that
// no recursive walk over a parsed value (dump(), the Python conversion) can overflow the stack;
// iterative parsing keeps the parser itself off the stack.
#pragma once

#include <ccbridge/json.hpp>

#include <cerrno>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <locale.h>

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
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace ccbridge::detail {

constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;

/// The error text of JSON nested deeper than max_json_depth, wherever it is refused.
constexpr char kNestedTooDeep[] = "nested deeper than 512 levels";
static_assert(max_json_depth == 512, "kNestedTooDeep names the limit");

using JsonValue = rapidjson::Value;
using JsonDocument = rapidjson::Document;

/// The writer to use for JSON text. Not Writer<StringBuffer>: RapidJSON 1.1.0 specialises that one
/// with an SSE2/SSE4.2 string loop that lets 0x1A-0x1F through unescaped (it compares with 0x19),
/// so its output was not JSON. Any other writer type (here, another stack allocator) takes the
/// portable loop, which escapes every control character.
using JsonTextWriter = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                         rapidjson::MemoryPoolAllocator<>>;

/// JsonView's constructor, for the library's code that makes views (json.cpp, message.cpp).
template <> struct Access<JsonView> {
  /// A view of `value`, kept alive by `owner` (its document, or the object that holds that).
  template <class Owner> static JsonView view(const std::shared_ptr<Owner> &owner, const JsonValue *value) noexcept
  {
    return JsonView(std::shared_ptr<const void>(owner, value), value);
  }
};

/// Returns the string member `key` of `v`, or `fallback` when absent or not a string.
inline std::string_view get_string(const JsonValue &v, const char *key, std::string_view fallback = {})
{
  if (!v.IsObject()) return fallback;
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return fallback;
  return {it->value.GetString(), it->value.GetStringLength()};
}

/// Compact serialisation of a value. RapidJSON's Writer recurses once per level: every value comes
/// from parse_exact (at most max_json_depth levels) or is built by code a level or two around one.
/// A number too large for a double (2e308, or 400 digits) is parsed as +-inf (exact_double below),
/// which RapidJSON's Writer refuses: it stopped there and left truncated, invalid JSON (found by
/// tests/fuzz/fuzz_options). It is written as +-2e308, which this parser, JavaScript and Python's
/// json all read back as +-inf.
inline std::string dump(const JsonValue &v)
{
  struct Writer : JsonTextWriter {
    using JsonTextWriter::JsonTextWriter;
    bool Double(double d)
    {
      if (std::isfinite(d)) return JsonTextWriter::Double(d);
      if (std::isnan(d)) return Null();  // not from JSON text
      return RawValue(d > 0 ? "2e308" : "-2e308", d > 0 ? 5 : 6, rapidjson::kNumberType);
    }
  };
  rapidjson::StringBuffer buf;
  Writer w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// ---- numbers, exactly --------------------------------------------------------------------------
// RapidJSON's default number parsing can be off by an ulp, and its full-precision mode has
// undefined behaviour on some zero-valued numbers (clz of 0 on "0e-400"). So numbers are taken as
// text and converted here: integers that fit 64 bits stay integers, everything else becomes the
// correctly rounded double (what Python's json and JavaScript give), locale-independently.

/// The double `text` (a JSON number) denotes; +-inf if it overflows (as JavaScript and Python's
/// json read it; RapidJSON's reader has already refused exponents far beyond the range). Returns
/// false in that case.
inline bool exact_double(const char *text, std::size_t n, double &out)
{
  auto r = std::from_chars(text, text + n, out);
  if (r.ec == std::errc() && r.ptr == text + n) return true;
  // Out of range: strtod in the C locale tells overflow (HUGE_VAL) from underflow (0 or denormal).
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  std::string z(text, n);
  out = strtod_l(z.c_str(), nullptr, c_locale);
  return !std::isinf(out);
}

/// Wraps a SAX handler (a JsonDocument, say) so that numbers, parsed as text
/// (kParseNumbersAsStringsFlag), arrive converted exactly, and so that an array or object nested
/// deeper than max_json_depth stops the parse (kParseErrorTermination; see parse_error_text).
template <class Handler>
struct ExactNumbers : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ExactNumbers<Handler>> {
  explicit ExactNumbers(Handler &handler) : h(handler) {}
  Handler &h;
  std::size_t depth = 0;

  bool Null() { return h.Null(); }
  bool Bool(bool b) { return h.Bool(b); }
  bool Int(int i) { return h.Int(i); }
  bool Uint(unsigned u) { return h.Uint(u); }
  bool Int64(std::int64_t i) { return h.Int64(i); }
  bool Uint64(std::uint64_t u) { return h.Uint64(u); }
  bool Double(double d) { return h.Double(d); }
  bool RawNumber(const char *s, rapidjson::SizeType n, bool)
  {
    bool integral = true;
    for (rapidjson::SizeType i = 0; i < n; ++i)
      if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') integral = false;
    if (integral) {
      if (s[0] == '-') {
        std::int64_t v;
        auto r = std::from_chars(s, s + n, v);
        if (r.ec == std::errc() && r.ptr == s + n) return h.Int64(v);
      } else {
        std::uint64_t v;
        auto r = std::from_chars(s, s + n, v);
        if (r.ec == std::errc() && r.ptr == s + n) return h.Uint64(v);
      }
    }
    double d;
    (void)exact_double(s, n, d);
    return h.Double(d);
  }
  bool String(const char *s, rapidjson::SizeType n, bool copy) { return h.String(s, n, copy); }
  bool StartObject() { return ++depth <= max_json_depth && h.StartObject(); }
  bool Key(const char *s, rapidjson::SizeType n, bool copy) { return h.Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType n)
  {
    --depth;
    return h.EndObject(n);
  }
  bool StartArray() { return ++depth <= max_json_depth && h.StartArray(); }
  bool EndArray(rapidjson::SizeType n)
  {
    --depth;
    return h.EndArray(n);
  }
};

/// Parses `stream` into `doc` with exact numbers, at most max_json_depth levels deep. Returns the
/// parse result (doc is unchanged on error; parse_error_text describes it). Flags: the reader's,
/// e.g. kParseInsituFlag or kParseIterativeFlag.
template <unsigned Flags, class Stream>
rapidjson::ParseResult parse_exact(JsonDocument &doc, Stream &stream)
{
  rapidjson::ParseResult result;
  auto generate = [&](JsonDocument &target) {
    rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>> reader;
    ExactNumbers<JsonDocument> handler(target);
    result = reader.Parse<Flags | rapidjson::kParseNumbersAsStringsFlag>(stream, handler);
    return !result.IsError();
  };
  doc.Populate(generate);
  return result;
}

/// Parses `text` (not necessarily NUL-terminated) with exact numbers, at most max_json_depth deep.
template <unsigned Flags = kParseFlags>
rapidjson::ParseResult parse_exact(JsonDocument &doc, std::string_view text)
{
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  return parse_exact<Flags>(doc, is);
}

/// What went wrong in a failed parse_exact: RapidJSON's description, or kNestedTooDeep when the
/// handler stopped the parse (the depth limit is the only reason ExactNumbers stops it, and a
/// JsonDocument never does).
inline const char *parse_error_text(const rapidjson::ParseResult &r)
{
  return r.Code() == rapidjson::kParseErrorTermination ? kNestedTooDeep : rapidjson::GetParseError_En(r.Code());
}

}  // namespace ccbridge::detail
