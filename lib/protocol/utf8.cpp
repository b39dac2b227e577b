#include "protocol/utf8.hpp"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ccbridge::detail {

namespace {

// Length of the leading run of ASCII bytes that are not NUL (most CLI output is pure ASCII JSON).
inline std::size_t ascii_prefix(const unsigned char *s, std::size_t size) noexcept
{
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= size; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + i));
    // high bit set (non-ASCII) or byte == 0
    int bad = _mm_movemask_epi8(v) | _mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
    if (bad) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(bad)));
  }
#endif
  while (i < size && s[i] != 0 && s[i] < 0x80) ++i;
  return i;
}

}  // namespace

Utf8Check check_utf8(const char *data, std::size_t size) noexcept
{
  const auto *s = reinterpret_cast<const unsigned char *>(data);
  Utf8Check r;
  std::size_t i = 0;
  while (i < size) {
    i += ascii_prefix(s + i, size - i);
    if (i >= size) break;
    unsigned char c = s[i];
    if (c == 0) {
      r.has_nul = true;
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence_length(data + i, size - i);
    if (n == 0) {
      r.valid = false;
      r.error_offset = i;
      return r;
    }
    i += n;
  }
  return r;
}

std::size_t utf8_sequence_length(const char *data, std::size_t size) noexcept
{
  const auto *s = reinterpret_cast<const unsigned char *>(data);
  if (size == 0) return 0;
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;  // no overlongs
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;  // no overlongs
    if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return 0;
  }
  bool ok = size > need && s[1] >= lo && s[1] <= hi;
  for (std::size_t k = 2; ok && k <= need; ++k) ok = (s[k] & 0xC0) == 0x80;
  return ok ? need + 1 : 0;
}

bool valid_utf8(const char *data, std::size_t size, std::size_t *error_offset) noexcept
{
  Utf8Check r = check_utf8(data, size);
  if (!r.valid && error_offset) *error_offset = r.error_offset;
  return r.valid;
}

}  // namespace ccbridge::detail
