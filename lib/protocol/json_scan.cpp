#include "protocol/json_scan.hpp"

#include "detail/json.hpp"  // max_json_depth and its error text, shared with the RapidJSON parse

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ccbridge::detail {

namespace {

enum class Field { none, type, subtype };

// Container stack ('o' object, 'a' array), as deep as the JSON ccbridge reads may nest.
class Nesting {
public:
  /// False when `c` would be nested deeper than max_json_depth.
  bool push(char c)
  {
    if (depth_ == sizeof open_) return false;
    open_[depth_++] = c;
    return true;
  }
  void pop() { --depth_; }
  char top() const { return open_[depth_ - 1]; }
  std::size_t depth() const { return depth_; }
  bool empty() const { return depth_ == 0; }

private:
  char open_[max_json_depth];
  std::size_t depth_ = 0;
};

struct Scanner {
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
    while (p < end && static_cast<unsigned char>(*p) <= ' ' &&
           (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
      ++p;
    }
  }

  static bool is_hex(char c)
  {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  static unsigned hex_value(char c)
  {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    return static_cast<unsigned>(c - 'A' + 10);
  }

  // p at the opening quote. On success p is past the closing quote; `view` holds the raw contents
  // and `escaped` says whether they contain escapes.
  bool string(std::string_view &view, bool &escaped)
  {
    ++p;
    const char *start = p;
    escaped = false;
    for (;;) {
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
          break;
        }
        p += 16;
      }
#endif
      while (p < end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) ++p;
      if (p >= end) return fail("unterminated string");
      char c = *p;
      if (c == '"') {
        view = std::string_view(start, static_cast<std::size_t>(p - start));
        ++p;
        return true;
      }
      if (c != '\\') return fail("control character in string");
      escaped = true;
      if (end - p < 2) return fail("unterminated string");
      char e = p[1];
      switch (e) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't': p += 2; break;
      case 'u': {
        if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5])) {
          return fail("invalid \\u escape");
        }
        unsigned cp = hex_value(p[2]) << 12 | hex_value(p[3]) << 8 | hex_value(p[4]) << 4 | hex_value(p[5]);
        if (cp >= 0xD800 && cp <= 0xDFFF) out.needs_dom = true;  // surrogate rules: RapidJSON decides
        p += 6;
        break;
      }
      default: return fail("invalid escape in string");
      }
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

  bool run()
  {
    // Iterative with an explicit stack of max_json_depth, the limit the RapidJSON parse has too.
    skip_ws();
    if (p >= end || *p != '{') return fail("a message must be a JSON object");
    Field pending = Field::none;
    enum { value, after_value } state = value;
    for (;;) {
      if (state == value) {
        skip_ws();
        if (p >= end) return fail("unexpected end of line");
        char c = *p;
        if (pending == Field::type && c != '"') type_seen = true;  // a non-string "type" still counts
        if (pending == Field::subtype && c != '"') subtype_seen = true;
        if (c == '{' || c == '[') {
          if (!stack.push(c == '{' ? 'o' : 'a')) return fail(kNestedTooDeep);
          ++p;
          skip_ws();
          if (p < end && *p == (c == '{' ? '}' : ']')) {
            ++p;
            stack.pop();
            state = after_value;
            pending = Field::none;
            continue;
          }
          if (c == '{' && !key(pending)) return false;
          if (c == '[') pending = Field::none;
          continue;  // a value follows
        }
        Field field = pending;
        pending = Field::none;
        if (c == '"') {
          std::string_view s;
          bool escaped;
          if (!string(s, escaped)) return false;
          if (field != Field::none) {
            // With duplicate names the first one counts, as in RapidJSON's FindMember.
            bool &seen = field == Field::type ? type_seen : subtype_seen;
            if (escaped) {
              out.needs_dom = true;
            } else if (!seen) {
              (field == Field::type ? out.type : out.subtype) = s;
            }
            seen = true;
          }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          if (!number()) return false;
        } else if (c == 't') {
          if (!literal("true", 4)) return false;
        } else if (c == 'f') {
          if (!literal("false", 5)) return false;
        } else if (c == 'n') {
          if (!literal("null", 4)) return false;
        } else {
          return fail("invalid value");
        }
        state = after_value;
        continue;
      }
      // after_value
      skip_ws();
      if (stack.empty()) {
        if (p != end) return fail("unexpected data after the object");
        out.ok = true;
        return true;
      }
      if (p >= end) return fail("unexpected end of line");
      char c = *p;
      if (c == ',') {
        ++p;
        if (stack.top() == 'o') {
          skip_ws();
          if (!key(pending)) return false;
        }
        state = value;
      } else if ((c == '}' && stack.top() == 'o') || (c == ']' && stack.top() == 'a')) {
        ++p;
        stack.pop();
      } else {
        return fail(stack.top() == 'o' ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
  }

  // p at a member name (after whitespace); leaves p after the ':'.
  bool key(Field &pending)
  {
    if (p >= end || *p != '"') return fail("expected a member name");
    std::string_view name;
    bool escaped;
    if (!string(name, escaped)) return false;
    skip_ws();
    if (p >= end || *p != ':') return fail("expected ':'");
    ++p;
    pending = Field::none;
    // Top-level members only: the stack holds just the outer object.
    if (stack.depth() == 1) {
      if (name == "type") pending = Field::type;
      if (name == "subtype") pending = Field::subtype;
      if (escaped) out.needs_dom = true;  // an escaped name could still mean "type"
    }
    return true;
  }

  Nesting stack;
  bool type_seen = false;
  bool subtype_seen = false;
};

}  // namespace

JsonScan scan_json_object(const char *data, std::size_t size) noexcept
{
  Scanner s{data, data, data + size, {}, {}};
  s.run();
  return s.out;
}

}  // namespace ccbridge::detail
