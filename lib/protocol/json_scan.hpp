// The one JSON reader of the line path, over the raw bytes of a line and without building
// anything. Two entry points share one grammar (RFC 8259) and one nesting limit (max_json_depth,
// as RapidJSON's parse in detail/json.hpp):
//
// - scan_json_object validates a whole line (its UTF-8 is checked by the framer) and notes the
//   top-level "type" and "subtype" strings on the way. Messages use it so that the per-line cost
//   on the hot path is one vectorised pass; the RapidJSON DOM is built only when a field is first
//   read. Anything whose exact treatment belongs to RapidJSON (exponents, very long numbers, \u
//   escapes of surrogates, escaped type strings) sets `needs_dom`, and the caller then parses the
//   line with RapidJSON at once, so the two can never disagree about what is valid.
// - json_member_span finds the bytes of a member: json_member_span(line, {"message", "content"})
//   gives the text of line.message.content as it was written. The server's profiles use it to
//   forward a part of a CLI line on the hot path (a DOM parse plus re-serialisation costs several
//   times more per message). It validates what it walks through, so it never answers from text
//   that is not JSON.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace ccbridge::detail {

struct JsonScan {
  bool ok = false;
  bool needs_dom = false;
  const char *error = nullptr;  ///< static text when !ok
  std::size_t error_offset = 0;
  std::string_view type;     ///< top-level "type" (unescaped strings only)
  std::string_view subtype;  ///< top-level "subtype" (unescaped strings only)
};

/// Scans `size` bytes; `data[size]` must be readable (a terminating NUL) but is not examined.
JsonScan scan_json_object(const char *data, std::size_t size) noexcept;

/// The text of the member at `path` inside the JSON object `json` (names compared as written; the
/// first of duplicate names), without the blanks around it. nullopt when a name is missing, a step
/// is not an object, or the text walked through is not JSON or nests deeper than max_json_depth.
/// An empty path gives `json` itself. Thread-safe; the result points into `json`.
std::optional<std::string_view> json_member_span(std::string_view json,
                                                 std::initializer_list<std::string_view> path) noexcept;

}  // namespace ccbridge::detail
