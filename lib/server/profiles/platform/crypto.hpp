// The agent platform's cryptographic building blocks over OpenSSL's libcrypto: random bytes,
// strict base64url (RFC 4648 section 5, no padding), HMAC-SHA-256, constant-time comparison,
// password hashing with scrypt (OpenSSL 3.0 has no Argon2) and refresh tokens, stored hashed.
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ccbridge::detail::server::platform {

/// `n` bytes from OpenSSL's CSPRNG. Throws Error(internal) if it fails.
std::string random_bytes(std::size_t n);

/// base64url without padding.
std::string base64url_encode(std::string_view bytes);
/// The decoded bytes, or nothing unless `text` is canonical unpadded base64url: only A-Z a-z 0-9
/// '-' '_', no '=', no length of 4k+1, and the unused bits of the last character zero.
std::optional<std::string> base64url_decode(std::string_view text);

/// HMAC-SHA-256 of `data` under `key`: 32 raw bytes. Throws Error(internal) if libcrypto fails.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Whether a == b, in time that depends only on the lengths (which are not secret).
bool equal_constant_time(std::string_view a, std::string_view b);

/// scrypt's cost: N = 2^log2_n, block size r, parallelism p. The default takes 32 MiB and some
/// 50-100 ms; tests use log2_n = 10.
struct PasswordCost {
  int log2_n = 15;
  int r = 8;
  int p = 1;
};

/// Whether a cost is within what this server computes: 1 <= log2_n <= 20, 1 <= r <= 32,
/// 1 <= p <= 16, memory (128 * r * N bytes) at most 128 MiB and work (N * r * p) at most 16
/// times the default's. A stored hash outside these bounds never verifies.
bool password_cost_ok(const PasswordCost &cost);

/// "$scrypt$ln=15,r=8,p=1$<salt>$<hash>": a fresh 16-byte salt and a 32-byte key, both base64url.
/// Throws Error(invalid_argument) for a cost password_cost_ok refuses, Error(internal) if
/// libcrypto fails.
std::string hash_password(std::string_view password, const PasswordCost &cost = {});

/// Whether `password` matches `encoded` (from hash_password), compared in constant time. A
/// malformed string or a cost password_cost_ok refuses is false, found before any work. Never throws.
/// (As in every scheme built on PBKDF2-HMAC, a password and the same with NUL bytes appended
/// are one password: a caller that cares refuses NUL in passwords.)
bool verify_password(std::string_view password, std::string_view encoded) noexcept;

/// A fresh refresh token: "rt_" + 32 random bytes as base64url (43 characters).
std::string refresh_token();
/// What the store keeps of a refresh token: its SHA-256 as 64 lower-case hex digits.
std::string token_hash(std::string_view token);

}  // namespace ccbridge::detail::server::platform
