// The agent platform's access tokens: JWTs (RFC 7519) signed with HMAC-SHA-256 and nothing else.
// The key is only ever an HMAC secret, so no header can choose another algorithm or key ("none",
// RS256 with the secret as a public key, an embedded jwk): such tokens are refused before the
// signature is looked at, and no claim is believed before the signature is checked.
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::server::platform {

/// The seed's JWTPayload. Times are seconds since the Unix epoch.
struct Claims {
  std::string sub, iss, session_id, jti;  ///< session_id is the claim "sessionId"
  std::int64_t iat = 0, exp = 0, nbf = 0;  ///< nbf: 0 = absent
  std::vector<std::string> permissions;
};

/// Why a token was refused. verify() reads the header, then checks the signature, and only then
/// reads the payload: a token not signed with the key is never more than malformed, bad_algorithm
/// or bad_signature.
enum class JwtError {
  none,
  malformed,      ///< not three base64url parts, a part not a JSON object, a claim of the wrong type, over 8 KiB
  bad_algorithm,  ///< alg missing or not exactly "HS256", or a crit/jku/jwk/x5u/x5c header
  bad_signature,  ///< not signed with this key
  missing_claim,  ///< sub (or an empty one), exp or iat missing
  wrong_issuer,   ///< iss (absent counts as "") is not the expected issuer
  expired,        ///< now >= exp + leeway
  not_yet_valid,  ///< nbf or iat later than now + leeway
};

/// "malformed", "bad_algorithm", ... ("none" for none).
const char *to_string(JwtError e);

struct Verified {
  JwtError error = JwtError::none;
  Claims claims;                ///< only when ok(); empty otherwise
  std::int64_t expired_at = 0;  ///< with JwtError::expired: the token's exp (for details.expiredAt)
  bool ok() const { return error == JwtError::none; }
};

/// Longer tokens are malformed without further reading.
constexpr std::size_t kMaxTokenBytes = 8192;

/// The compact JWT of `claims` with header {"alg":"HS256","typ":"JWT"}; the payload holds sub, iat,
/// exp, iss, permissions, then sessionId and jti unless empty and nbf unless 0. Throws
/// Error(invalid_argument) for an empty key or a claim that is not valid UTF-8.
std::string sign(const Claims &claims, std::string_view key);

/// Checks `token` against `key`, `issuer` and the time `now`, allowing `leeway_s` (>= 0) seconds of
/// clock skew; see JwtError for the checks. The time claims must be integers. Throws only
/// Error(internal) if libcrypto fails.
Verified verify(std::string_view token, std::string_view key, std::string_view issuer, std::int64_t now,
                std::int64_t leeway_s = 30);

}  // namespace ccbridge::detail::server::platform
