#pragma once

#include <cstddef>

namespace ccbridge::detail {

/// True if [data, data+size) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
/// Returns the offset of the first bad byte through `error_offset` when false.
bool valid_utf8(const char *data, std::size_t size, std::size_t *error_offset = nullptr) noexcept;

}  // namespace ccbridge::detail
