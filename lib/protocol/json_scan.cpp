#include "protocol/json_scan.hpp"

#include "detail/json.hpp"  // max_json_depth and its error text, shared with the RapidJSON parse

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ccbridge::detail {

namespace {

// Container stack ('o' object, 'a' array), as deep as the JSON ccbridge reads may nest counting
// the `outer` containers around the value it walks.
class Nesting {
public:
  explicit Nesting(std::size_t outer) : limit_(outer < max_json_depth ? max_json_depth - outer : 0) {}
  /// False when `c` would be nested deeper than max_json_depth.
  bool push(char c)
  {
    if (depth_ == limit_) return false;
    open_[depth_++] = c;
    return true;
  }
  void pop() { --depth_; }
  char top() const { return open_[depth_ - 1]; }
  bool empty() const { return depth_ == 0; }

private:
  char open_[max_json_depth];
  std::size_t depth_ = 0;
  std::size_t limit_;
};

// The grammar over [begin, end), one token or one value at a time. Errors and what only RapidJSON
// can decide (needs_dom) go to `out`.
struct Lexer {
  const char *begin;
  const char *p;
  const char *end;
  JsonScan out;

  bool fail(const char *why)
  {
    out.ok = false;
    out.error = why;
    out.error_offset = static_cast<std::size_t>(p - begin);
    return false;
  }

  void skip_ws()
  {
    // Compact JSON is the common case: one comparison when there is nothing to skip.
    while (p < end && static_cast<unsigned char>(*p) <= ' ' && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
      ++p;
    }
  }

  static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  static unsigned hex_value(char c)
  {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    return static_cast<unsigned>(c - 'A' + 10);
  }

  // Moves p to the first '"', '\\' or control character (or the end): the plain run of a string.
  [[gnu::always_inline]] void skip_plain()
  {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i slash = _mm_set1_epi8('\\');
    const __m128i limit = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
      __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);  // byte <= 0x1F
      __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)), ctl);
      int mask = _mm_movemask_epi8(hit);
      if (mask) {
        p += __builtin_ctz(static_cast<unsigned>(mask));
        return;
      }
      p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) ++p;
  }

  // p at the opening quote. On success p is past the closing quote; `view` holds the raw contents
  // and `escaped` says whether they contain escapes. Most strings have none: one plain run.
  [[gnu::always_inline]] bool string(std::string_view &view, bool &escaped)
  {
    const char *start = ++p;
    escaped = false;
    skip_plain();
    if (p < end && *p == '"') {
      view = std::string_view(start, static_cast<std::size_t>(p - start));
      ++p;
      return true;
    }
    return string_rest(start, view, escaped);
  }

  // The rest of a string from a byte that is not a plain one: escapes, the end, or an error.
  [[gnu::noinline]] bool string_rest(const char *start, std::string_view &view, bool &escaped)
  {
    for (;;) {
      if (p >= end) return fail("unterminated string");
      if (*p == '"') {
        view = std::string_view(start, static_cast<std::size_t>(p - start));
        ++p;
        return true;
      }
      if (*p != '\\') return fail("control character in string");
      escaped = true;
      if (!escape()) return false;
      skip_plain();
    }
  }

  // p at a backslash in a string: moves p past the escape.
  bool escape()
  {
    if (end - p < 2) return fail("unterminated string");
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': p += 2; return true;
    case 'u': {
      if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5])) {
        return fail("invalid \\u escape");
      }
      unsigned cp = hex_value(p[2]) << 12 | hex_value(p[3]) << 8 | hex_value(p[4]) << 4 | hex_value(p[5]);
      if (cp >= 0xD800 && cp <= 0xDFFF) out.needs_dom = true;  // surrogate rules: RapidJSON decides
      p += 6;
      return true;
    }
    default: return fail("invalid escape in string");
    }
  }

  bool number()
  {
    const char *start = p;
    if (*p == '-') ++p;
    if (p >= end) return fail("invalid number");
    if (*p == '0') {
      ++p;
    } else if (*p >= '1' && *p <= '9') {
      while (p < end && *p >= '0' && *p <= '9') ++p;
    } else {
      return fail("invalid number");
    }
    if (p < end && *p == '.') {
      ++p;
      if (p >= end || *p < '0' || *p > '9') return fail("invalid number");
      while (p < end && *p >= '0' && *p <= '9') ++p;
    }
    const char *mantissa_end = p;
    if (p < end && (*p == 'e' || *p == 'E')) {
      ++p;
      if (p < end && (*p == '+' || *p == '-')) ++p;
      const char *digits = p;
      if (p >= end || *p < '0' || *p > '9') return fail("invalid number");
      while (p < end && *p >= '0' && *p <= '9') ++p;
      // Up to 17 mantissa characters and a two-digit exponent stay far inside double's range;
      // anything bigger (1e400) is RapidJSON's call.
      if (p - digits > 2) out.needs_dom = true;
    }
    if (mantissa_end - start > 17) out.needs_dom = true;
    return true;
  }

  bool literal(const char *word, std::size_t n)
  {
    if (static_cast<std::size_t>(end - p) < n || std::memcmp(p, word, n) != 0) return fail("invalid literal");
    p += n;
    return true;
  }

  // p at a value (blanks before it skipped): validates it and leaves p just past it. `outer`: the
  // containers around it, for the nesting limit.
  bool value(std::size_t outer)
  {
    if (p < end && *p != '{' && *p != '[') return scalar(*p);
    return container(outer);
  }

  // A value that may be an object or an array. Iterative, with an explicit stack.
  bool container(std::size_t outer)
  {
    Nesting stack(outer);
    for (;;) {
      if (p >= end) return fail("unexpected end of line");
      const char c = *p;
      if (c == '{' || c == '[') {
        if (!stack.push(c == '{' ? 'o' : 'a')) return fail(kNestedTooDeep);
        ++p;
        skip_ws();
        if (p >= end || *p != (c == '{' ? '}' : ']')) {
          if (c == '{' && !member_name()) return false;
          continue;  // a value follows
        }
        ++p;
        stack.pop();
      } else if (!scalar(c)) {
        return false;
      }
      if (!after_value(stack)) return false;
      if (stack.empty()) return true;
    }
  }

  bool scalar(char c)
  {
    if (c == '"') {
      std::string_view s;
      bool escaped;
      return string(s, escaped);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    if (c == 't') return literal("true", 4);
    if (c == 'f') return literal("false", 5);
    if (c == 'n') return literal("null", 4);
    return fail("invalid value");
  }

  // After a value inside `stack`: closes the containers that end here and moves p to the next
  // element (past its member name in an object), or, once nothing is open, stays right after the
  // last closing bracket.
  bool after_value(Nesting &stack)
  {
    while (!stack.empty()) {
      skip_ws();
      if (p >= end) return fail("unexpected end of line");
      const char c = *p;
      if (c == ',') {
        ++p;
        skip_ws();
        return stack.top() == 'o' ? member_name() : true;
      }
      if (c != (stack.top() == 'o' ? '}' : ']'))
        return fail(stack.top() == 'o' ? "expected ',' or '}'" : "expected ',' or ']'");
      ++p;
      stack.pop();
    }
    return true;
  }

  // p at a member name (after blanks); leaves p at its value (after the ':' and blanks).
  bool member_name(std::string_view &name, bool &escaped)
  {
    if (p >= end || *p != '"') return fail("expected a member name");
    if (!string(name, escaped)) return false;
    if (escaped) out.escaped_name = true;
    skip_ws();
    if (p >= end || *p != ':') return fail("expected ':'");
    ++p;
    skip_ws();
    return true;
  }
  bool member_name()
  {
    std::string_view name;
    bool escaped;
    return member_name(name, escaped);
  }

  // p after an object's '{' (`first`) or after one of its members: true with p at the next member's
  // name; false past the object's '}', or on an error (out.error set).
  bool next_member(bool first)
  {
    skip_ws();
    if (p < end && *p == '}') {
      ++p;
      return false;
    }
    if (first) return true;
    if (p >= end) return fail("unexpected end of line");
    if (*p != ',') return fail("expected ',' or '}'");
    ++p;
    skip_ws();
    return true;
  }
};

enum class Field { none, type, subtype, session_id, message, usage };

// A whole line: one object, noting its top-level "type" and "subtype".
struct LineScanner : Lexer {
  bool run()
  {
    skip_ws();
    if (p >= end || *p != '{') return fail("a message must be a JSON object");
    ++p;
    for (bool first = true; next_member(first); first = false) {
      std::string_view name;
      bool escaped;
      if (!member_name(name, escaped)) return false;
      if (escaped) out.needs_dom = true;  // an escaped name could still mean "type"
      if (!member_value(field_of(name))) return false;
    }
    if (out.error) return false;
    skip_ws();
    if (p != end) return fail("unexpected data after the object");
    out.ok = true;
    return true;
  }

  static Field field_of(std::string_view name)
  {
    if (name == "type") return Field::type;
    if (name == "subtype") return Field::subtype;
    if (name == "session_id") return Field::session_id;
    if (name == "message") return Field::message;
    if (name == "usage") return Field::usage;
    return Field::none;
  }

  // The value of a top-level member; a "type" or "subtype" string is noted, and the text of the
  // first session_id, message and usage.
  bool member_value(Field field)
  {
    if (field == Field::none) return value(1);
    if (field == Field::message) return message_value();
    if (field == Field::session_id || field == Field::usage) {
      std::string_view &span = field == Field::session_id ? out.session_id : out.usage;
      const char *start = p;
      if (!value(1)) return false;
      if (span.empty()) span = std::string_view(start, static_cast<std::size_t>(p - start));
      return true;
    }
    bool &seen = field == Field::type ? type_seen : subtype_seen;
    if (p >= end || *p != '"') {
      seen = true;  // a non-string "type" still counts: with duplicate names the first one does
      return value(1);
    }
    std::string_view s;
    bool escaped;
    if (!string(s, escaped)) return false;
    if (escaped) {
      out.needs_dom = true;
    } else if (!seen) {
      (field == Field::type ? out.type : out.subtype) = s;
    }
    seen = true;
    return true;
  }

  // The first top-level "message" object, walked member by member to note its content and usage.
  bool message_value()
  {
    if (message_seen || p >= end || *p != '{') {
      message_seen = true;
      return value(1);
    }
    message_seen = true;
    ++p;
    for (bool first = true; next_member(first); first = false) {
      std::string_view name;
      bool escaped;
      if (!member_name(name, escaped)) return false;
      std::string_view *span = name == "content" ? &out.message_content : name == "usage" ? &out.message_usage : nullptr;
      const char *start = p;
      if (!value(2)) return false;
      if (span && span->empty()) *span = std::string_view(start, static_cast<std::size_t>(p - start));
    }
    return !out.error;
  }

  bool type_seen = false;
  bool subtype_seen = false;
  bool message_seen = false;
};

// A member inside a line, by its path.
struct MemberFinder : Lexer {
  // p at an object (blanks before it allowed) inside `outer` containers: moves p to the value of
  // its first member named `key`. False when there is none, when this is not an object, or when
  // the text on the way is not JSON.
  bool enter(std::string_view key, std::size_t outer)
  {
    skip_ws();
    if (p >= end || *p != '{' || outer + 1 > max_json_depth) return false;
    ++p;
    for (bool first = true; next_member(first); first = false) {
      std::string_view name;
      bool escaped;
      if (!member_name(name, escaped)) return false;
      if (name == key) return true;
      if (!value(outer + 1)) return false;
    }
    return false;
  }
};

}  // namespace

JsonScan scan_json_object(const char *data, std::size_t size) noexcept
{
  LineScanner s{{data, data, data + size, {}}};
  s.run();
  return s.out;
}

std::optional<std::string_view> json_member_span(std::string_view json,
                                                 std::initializer_list<std::string_view> path) noexcept
{
  MemberFinder f{{json.data(), json.data(), json.data() + json.size(), {}}};
  std::size_t outer = 0;
  for (std::string_view key : path)
    if (!f.enter(key, outer++)) return std::nullopt;
  if (outer == 0) return json;
  const char *start = f.p;
  if (!f.value(outer)) return std::nullopt;
  return std::string_view(start, static_cast<std::size_t>(f.p - start));
}

bool json_member_spans(std::string_view json, std::initializer_list<std::string_view> names,
                       std::string_view *out) noexcept
{
  MemberFinder f{{json.data(), json.data(), json.data() + json.size(), {}}};
  f.skip_ws();
  if (f.p >= f.end || *f.p != '{') return false;
  ++f.p;
  for (bool first = true; f.next_member(first); first = false) {
    std::string_view name;
    bool escaped;
    if (!f.member_name(name, escaped)) return false;
    std::size_t i = 0;
    for (std::string_view n : names) {
      if (n == name) break;
      ++i;
    }
    const char *start = f.p;
    if (!f.value(1)) return false;
    if (i < names.size() && out[i].empty()) out[i] = std::string_view(start, static_cast<std::size_t>(f.p - start));
  }
  return !f.out.error;
}

bool json_string_append(std::string_view token, std::string &out)
{
  if (token.size() < 2 || token.front() != '"' || token.back() != '"') return false;
  const std::size_t kept = out.size();
  const char *p = token.data() + 1;
  const char *end = token.data() + token.size() - 1;
  while (p < end) {
    const char *run = static_cast<const char *>(std::memchr(p, '\\', static_cast<std::size_t>(end - p)));
    if (!run) run = end;
    out.append(p, static_cast<std::size_t>(run - p));
    p = run;
    if (end - p < 2) break;  // the end (a validated string has no lone backslash)
    const char c = p[1];
    p += 2;
    switch (c) {
    case 'b': out += '\b'; break;
    case 'f': out += '\f'; break;
    case 'n': out += '\n'; break;
    case 'r': out += '\r'; break;
    case 't': out += '\t'; break;
    case 'u': {
      unsigned cp = 0;
      for (int i = 0; i < 4 && p < end; ++i, ++p) {
        const char h = *p;
        cp = cp << 4 | static_cast<unsigned>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        out.resize(kept);
        return false;
      }
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | cp >> 6);
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xE0 | cp >> 12);
        out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
      break;
    }
    default: out += c; break;  // " \ /
    }
  }
  return true;
}

std::size_t json_array_items(std::string_view array, std::string_view *items, std::size_t max) noexcept
{
  constexpr std::size_t kNotOne = static_cast<std::size_t>(-1);
  Lexer lx{array.data(), array.data(), array.data() + array.size(), {}};
  lx.skip_ws();
  if (lx.p >= lx.end || *lx.p != '[') return kNotOne;
  ++lx.p;
  lx.skip_ws();
  if (lx.p < lx.end && *lx.p == ']') return 0;
  for (std::size_t n = 0;;) {
    lx.skip_ws();
    const char *start = lx.p;
    if (n == max || !lx.value(1)) return kNotOne;
    items[n++] = std::string_view(start, static_cast<std::size_t>(lx.p - start));
    lx.skip_ws();
    if (lx.p >= lx.end) return kNotOne;
    if (*lx.p == ']') return n;
    if (*lx.p != ',') return kNotOne;
    ++lx.p;
  }
}

std::optional<long long> json_small_int(std::string_view token) noexcept
{
  if (token.empty() || token.size() > 18) return std::nullopt;
  long long v = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace ccbridge::detail
