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
  /// Some member name, at any depth, holds an escape: a lookup by name as written could then miss
  /// a member that RapidJSON finds, so field readers go to the DOM.
  bool escaped_name = false;
  /// The text of the first top-level "session_id" and "usage" values, and of the first "content"
  /// and "usage" of the first top-level "message" object, as written (empty when absent): what the
  /// common field readers start from instead of walking the line again.
  std::string_view session_id;
  std::string_view usage;
  std::string_view message_content;
  std::string_view message_usage;
};

/// Scans `size` bytes; `data[size]` must be readable (a terminating NUL) but is not examined.
JsonScan scan_json_object(const char *data, std::size_t size) noexcept;

/// The text of the member at `path` inside the JSON object `json` (names compared as written; the
/// first of duplicate names), without the blanks around it. nullopt when a name is missing, a step
/// is not an object, or the text walked through is not JSON or nests deeper than max_json_depth.
/// An empty path gives `json` itself. Thread-safe; the result points into `json`.
std::optional<std::string_view> json_member_span(std::string_view json,
                                                 std::initializer_list<std::string_view> path) noexcept;

/// The text of the first members of the object `json` named `names` (as written) into `out`, in
/// the order of `names`; a missing one stays empty. One pass. False when `json` is not an object
/// or is not JSON.
bool json_member_spans(std::string_view json, std::initializer_list<std::string_view> names,
                       std::string_view *out) noexcept;

/// Appends the decoded text of the JSON string `token` (quotes included, as json_member_span
/// gives it) to `out`. False, with `out` unchanged, when `token` is not a string, or holds a
/// \u escape of a surrogate (their rules are RapidJSON's: read those through the DOM).
bool json_string_append(std::string_view token, std::string &out);

/// The elements of the JSON array `array` (as json_member_span gives it), each without its blanks,
/// into `items`. Their number; SIZE_MAX when `array` is not an array, is not JSON, or has more
/// than `max` elements.
std::size_t json_array_items(std::string_view array, std::string_view *items, std::size_t max) noexcept;

/// The JSON number `token` as an int64 when it is one as RapidJSON reads it (an integer without
/// fraction or exponent that fits): a non-negative one of at most 18 digits. nullopt otherwise,
/// also for the negative and longer ones that the caller must then read through the DOM.
std::optional<long long> json_small_int(std::string_view token) noexcept;

}  // namespace ccbridge::detail
