#include "server/profiles/platform/crypto.hpp"

#include "server/sha256.hpp"

#include <ccbridge/error.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdint>

namespace ccbridge::detail::server::platform {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The 6-bit value of a base64url character, -1 for any other byte.
int sextet(char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// OpenSSL wants a non-null pointer even for zero bytes.
const unsigned char *bytes_of(std::string_view s)
{
  static const unsigned char kNone = 0;
  return s.empty() ? &kNone : reinterpret_cast<const unsigned char *>(s.data());
}

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kMaxSaltBytes = 64;
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kMaxEncoded = 256;
constexpr std::uint64_t kMaxMemory = std::uint64_t{128} << 20;  // 128 * r * N bytes
constexpr std::uint64_t kMaxWork = std::uint64_t{16} << 18;     // N * r * p; the default's is 2^18

// scrypt into out[0, len); false if libcrypto refuses (the cost is checked before).
bool scrypt(std::string_view password, std::string_view salt, const PasswordCost &c, unsigned char *out,
            std::size_t len) noexcept
{
  // OpenSSL counts 128 * r * (N + 2) + 128 * r * p bytes against maxmem: 1 MiB over the memory
  // bound covers the extra for every cost password_cost_ok allows.
  return EVP_PBE_scrypt(reinterpret_cast<const char *>(bytes_of(password)), password.size(), bytes_of(salt),
                        salt.size(), std::uint64_t{1} << c.log2_n, static_cast<std::uint64_t>(c.r),
                        static_cast<std::uint64_t>(c.p), kMaxMemory + (std::uint64_t{1} << 20), out, len) == 1;
}

// Reads `literal` at the front of `s`.
bool take(std::string_view &s, std::string_view literal)
{
  if (s.substr(0, literal.size()) != literal) return false;
  s.remove_prefix(literal.size());
  return true;
}

// Reads 1 to 3 decimal digits without a leading zero at the front of `s`.
bool take_number(std::string_view &s, int &out)
{
  std::size_t n = 0;
  while (n < s.size() && n < 4 && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0 || n > 3 || (n > 1 && s[0] == '0')) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) out = out * 10 + (s[i] - '0');
  s.remove_prefix(n);
  return true;
}

struct EncodedHash {
  PasswordCost cost;
  std::string salt, key;
};

// "$scrypt$ln=<n>,r=<n>,p=<n>$<salt>$<key>", exactly; nothing for anything else.
std::optional<EncodedHash> parse_encoded(std::string_view s)
{
  EncodedHash h;
  if (s.size() > kMaxEncoded || !take(s, "$scrypt$ln=") || !take_number(s, h.cost.log2_n) || !take(s, ",r=") ||
      !take_number(s, h.cost.r) || !take(s, ",p=") || !take_number(s, h.cost.p) || !take(s, "$"))
    return std::nullopt;
  std::size_t dollar = s.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  auto salt = base64url_decode(s.substr(0, dollar));
  auto key = base64url_decode(s.substr(dollar + 1));
  if (!salt || !key || salt->size() < kSaltBytes || salt->size() > kMaxSaltBytes || key->size() != kKeyBytes)
    return std::nullopt;
  h.salt = std::move(*salt);
  h.key = std::move(*key);
  return h;
}

}  // namespace

std::string random_bytes(std::size_t n)
{
  if (n > static_cast<std::size_t>(INT_MAX)) throw Error(errc::invalid_argument, "too many random bytes asked for");
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char *>(&out[0]), static_cast<int>(n)) != 1)
    throw Error(errc::internal, "OpenSSL's RAND_bytes failed");
  return out;
}

std::string base64url_encode(std::string_view bytes)
{
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text)
{
  if (text.size() % 4 == 1) return std::nullopt;  // (6 bits cannot end a byte)
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
    acc &= (1u << bits) - 1;
  }
  if (acc != 0) return std::nullopt;  // non-canonical: the last character's unused bits are set
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (key.size() > static_cast<std::size_t>(INT_MAX) ||
      !HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(data), data.size(), mac, &len))
    throw Error(errc::internal, "HMAC-SHA-256 failed in libcrypto");
  return std::string(reinterpret_cast<const char *>(mac), len);
}

bool equal_constant_time(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && CRYPTO_memcmp(bytes_of(a), bytes_of(b), a.size()) == 0;
}

bool password_cost_ok(const PasswordCost &c)
{
  if (c.log2_n < 1 || c.log2_n > 20 || c.r < 1 || c.r > 32 || c.p < 1 || c.p > 16) return false;
  std::uint64_t n = std::uint64_t{1} << c.log2_n, r = static_cast<std::uint64_t>(c.r);
  return 128 * r * n <= kMaxMemory && n * r * static_cast<std::uint64_t>(c.p) <= kMaxWork;
}

std::string hash_password(std::string_view password, const PasswordCost &cost)
{
  if (!password_cost_ok(cost)) throw Error(errc::invalid_argument, "scrypt cost out of bounds");
  std::string salt = random_bytes(kSaltBytes);
  unsigned char key[kKeyBytes];
  if (!scrypt(password, salt, cost, key, sizeof key)) throw Error(errc::internal, "scrypt failed in libcrypto");
  return "$scrypt$ln=" + std::to_string(cost.log2_n) + ",r=" + std::to_string(cost.r) + ",p=" +
         std::to_string(cost.p) + "$" + base64url_encode(salt) + "$" +
         base64url_encode(std::string_view(reinterpret_cast<const char *>(key), sizeof key));
}

bool verify_password(std::string_view password, std::string_view encoded) noexcept
{
  try {
    auto h = parse_encoded(encoded);
    if (!h || !password_cost_ok(h->cost)) return false;
    unsigned char key[kKeyBytes];
    if (!scrypt(password, h->salt, h->cost, key, sizeof key)) return false;
    return equal_constant_time(std::string_view(reinterpret_cast<const char *>(key), sizeof key), h->key);
  } catch (...) {
    return false;  // (allocation failure only)
  }
}

std::string refresh_token() { return "rt_" + base64url_encode(random_bytes(32)); }

std::string token_hash(std::string_view token) { return sha256_hex(token); }

}  // namespace ccbridge::detail::server::platform
