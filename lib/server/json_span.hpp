// Finds the bytes of a member inside an already validated JSON object, without building a DOM:
// json_member_span(line, {"message", "content"}) gives the text of line.message.content. The
// profiles use it on the hot path to forward a part of a CLI line as it was written (a DOM parse
// plus re-serialisation cost several times more per message).
#pragma once

#include <cstring>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace ccbridge::detail::server {

namespace json_span_detail {

inline bool ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// s[i] is '"': returns the index just past the closing quote (npos if unterminated). Jumps from
// quote to quote with memchr (strings are most of a CLI line); a quote preceded by an odd number
// of backslashes is escaped.
inline std::size_t skip_string(std::string_view s, std::size_t i)
{
  const std::size_t body = i + 1;
  std::size_t from = body;
  while (from < s.size()) {
    const void *q = std::memchr(s.data() + from, '"', s.size() - from);
    if (!q) return std::string_view::npos;
    std::size_t j = static_cast<std::size_t>(static_cast<const char *>(q) - s.data());
    std::size_t backslashes = 0;
    while (j - backslashes > body && s[j - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return j + 1;
    from = j + 1;
  }
  return std::string_view::npos;
}

// Returns the index just past the value that starts at s[i].
inline std::size_t skip_value(std::string_view s, std::size_t i)
{
  if (i >= s.size()) return std::string_view::npos;
  char c = s[i];
  if (c == '"') return skip_string(s, i);
  if (c == '{' || c == '[') {
    int depth = 0;
    while (i < s.size()) {
      char d = s[i];
      if (d == '"') {
        i = skip_string(s, i);
        if (i == std::string_view::npos) return i;
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return std::string_view::npos;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !ws(s[i])) ++i;
  return i;
}

}  // namespace json_span_detail

/// The text of the member at `path` inside the JSON object `json` (keys compared as written), or
/// nullopt when a key is missing or a step is not an object. `json` must be valid JSON.
inline std::optional<std::string_view> json_member_span(std::string_view json, std::initializer_list<std::string_view> path)
{
  using namespace json_span_detail;
  std::string_view obj = json;
  for (auto key = path.begin(); key != path.end(); ++key) {
    std::size_t i = 0;
    while (i < obj.size() && ws(obj[i])) ++i;
    if (i >= obj.size() || obj[i] != '{') return std::nullopt;
    ++i;
    bool found = false;
    while (i < obj.size()) {
      while (i < obj.size() && (ws(obj[i]) || obj[i] == ',')) ++i;
      if (i >= obj.size() || obj[i] != '"') return std::nullopt;  // '}' or garbage: not found
      std::size_t kend = skip_string(obj, i);
      if (kend == std::string_view::npos) return std::nullopt;
      std::string_view k = obj.substr(i + 1, kend - i - 2);
      i = kend;
      while (i < obj.size() && (ws(obj[i]) || obj[i] == ':')) ++i;
      if (k == *key && key + 1 != path.end()) {
        // Not the last step: look inside at once rather than scanning the value to its end
        // first (the search stops at the inner object's closing brace anyway).
        obj = obj.substr(i);
        found = true;
        break;
      }
      std::size_t vend = skip_value(obj, i);
      if (vend == std::string_view::npos) return std::nullopt;
      if (k == *key) {
        obj = obj.substr(i, vend - i);
        found = true;
        break;
      }
      i = vend;
    }
    if (!found) return std::nullopt;
  }
  return obj;
}

}  // namespace ccbridge::detail::server
