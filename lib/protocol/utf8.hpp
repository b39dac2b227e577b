#pragma once

#include <cstddef>

namespace ccbridge::detail {

struct Utf8Check {
  bool valid = true;
  bool has_nul = false;        ///< a NUL byte occurs (valid UTF-8, but never valid in JSON text)
  std::size_t error_offset = 0;  ///< first bad byte when !valid
};

/// Validates UTF-8 (no overlongs, no surrogates, <= U+10FFFF) and notes NUL bytes, in one pass.
Utf8Check check_utf8(const char *data, std::size_t size) noexcept;

/// The length (1 to 4) of the well-formed UTF-8 sequence [data, data+size) starts with, or 0.
std::size_t utf8_sequence_length(const char *data, std::size_t size) noexcept;

/// True if [data, data+size) is well-formed UTF-8; the offset of the first bad byte otherwise.
bool valid_utf8(const char *data, std::size_t size, std::size_t *error_offset = nullptr) noexcept;

}  // namespace ccbridge::detail
