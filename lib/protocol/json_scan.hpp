// A validating scanner for one JSON object per line: checks the whole grammar of RFC 8259 (the
// line's UTF-8 is checked by the framer) and the nesting limit (max_json_depth, as RapidJSON's
// parse in detail/json.hpp) without building anything, and notes the top-level
// "type" and "subtype" strings on the way. Messages use it so that the per-line cost on the hot
// path is one vectorised pass; the RapidJSON DOM is built only when a field is first read.
//
// Anything whose exact treatment belongs to RapidJSON (exponents, very long numbers, \u escapes
// of surrogates, escaped type strings) sets `needs_dom`, and the caller then parses the line with
// RapidJSON at once, so the two can never disagree about what is valid.
#pragma once

#include <cstddef>
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

}  // namespace ccbridge::detail
