#include "protocol/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace ccbridge::detail {

bool valid_utf8(const char *data, std::size_t size, std::size_t *error_offset) noexcept
{
  const auto *s = reinterpret_cast<const unsigned char *>(data);
  std::size_t i = 0;
  while (i < size) {
    // Fast path: 8 ASCII bytes at a time (most CLI output is ASCII JSON).
    if (i + 8 <= size) {
      std::uint64_t chunk;
      std::memcpy(&chunk, s + i, 8);
      if ((chunk & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;       // no overlongs
      if (c == 0xED) hi = 0x9F;       // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;       // no overlongs
      if (c == 0xF4) hi = 0x8F;       // <= U+10FFFF
    } else {
      if (error_offset) *error_offset = i;
      return false;
    }
    if (size - i <= need) {
      if (error_offset) *error_offset = i;
      return false;
    }
    if (s[i + 1] < lo || s[i + 1] > hi) {
      if (error_offset) *error_offset = i;
      return false;
    }
    for (std::size_t k = 2; k <= need; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        if (error_offset) *error_offset = i;
        return false;
      }
    }
    i += need + 1;
  }
  return true;
}

}  // namespace ccbridge::detail
