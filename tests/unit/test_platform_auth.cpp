// The agent platform's auth building blocks: crypto.* (base64url, HMAC, scrypt, refresh tokens),
// jwt.* (HS256 only), permissions.*, and the X-RateLimit figures of server/rate_limit.*.
#include "server/profiles/platform/crypto.hpp"
#include "server/profiles/platform/jwt.hpp"
#include "server/profiles/platform/permissions.hpp"
#include "server/rate_limit.hpp"
#include "server/sha256.hpp"

#include <ccbridge/error.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

using namespace ccbridge;
using namespace ccbridge::detail::server;
using namespace ccbridge::detail::server::platform;
using namespace std::chrono_literals;

namespace {

constexpr char kKey[] = "a-test-key-of-thirty-two-bytes!!";
constexpr char kIssuer[] = "ccbridge-platform";
constexpr std::int64_t kNow = 1700000000;

std::string hex(std::string_view bytes)
{
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Claims sample()
{
  Claims c;
  c.sub = "user_1";
  c.iss = kIssuer;
  c.session_id = "sess_1";
  c.jti = "jti_1";
  c.iat = kNow;
  c.exp = kNow + 3600;
  c.permissions = {"session:read", "task:read"};
  return c;
}

// A token of exactly these header and payload texts, HMAC-signed with `key`.
std::string forge(std::string_view header, std::string_view payload, std::string_view key = kKey)
{
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  return input + "." + base64url_encode(hmac_sha256(key, input));
}

const char kGoodHeader[] = R"({"alg":"HS256","typ":"JWT"})";

std::string payload_with(const std::string &extra)
{
  return R"({"sub":"u","iat":1700000000,"exp":1700003600,"iss":"ccbridge-platform")" + extra + "}";
}

JwtError check(std::string_view token, std::int64_t now = kNow, std::int64_t leeway = 30)
{
  return verify(token, kKey, kIssuer, now, leeway).error;
}

std::string part(const std::string &token, int n)
{
  std::size_t a = token.find('.'), b = token.find('.', a + 1);
  std::string p = n == 0 ? token.substr(0, a) : n == 1 ? token.substr(a + 1, b - a - 1) : token.substr(b + 1);
  return base64url_decode(p).value_or("<not base64url>");
}

}  // namespace

// ---- base64url, HMAC, comparison, random -------------------------------------------------------

TEST_CASE("platform crypto: base64url encodes RFC 4648's vectors without padding, in the URL alphabet")
{
  const char *vectors[][2] = {{"", ""},         {"f", "Zg"},         {"fo", "Zm8"},      {"foo", "Zm9v"},
                              {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (auto &v : vectors) {
    CHECK(base64url_encode(v[0]) == v[1]);
    CHECK(base64url_decode(v[1]) == std::string(v[0]));
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK(base64url_decode("-_8") == std::string("\xfb\xff"));
  for (std::size_t n = 0; n < 70; ++n) {
    std::string bytes = random_bytes(n);
    CHECK(base64url_decode(base64url_encode(bytes)) == bytes);
  }
}

TEST_CASE("platform crypto: base64url decoding is strict")
{
  for (const char *bad : {"Zg==", "Zm8=", "Zg=", "Z", "Zm9vY", "+/8", "Zm 9v", "Zm9v\n", "Zm.9", "Zh", "Zm9",
                          "Zm9vYh", "\xc3\xa9xx"})
    CHECK_MESSAGE(!base64url_decode(bad), bad);
  CHECK(base64url_decode(std::string("Zm\0v", 4)) == std::nullopt);
}

TEST_CASE("platform crypto: HMAC-SHA-256 gives RFC 4231's values, equality in constant time equality")
{
  CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(hex(hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  CHECK(hmac_sha256("", "").size() == 32);
  CHECK(equal_constant_time("secret", "secret"));
  CHECK(equal_constant_time("", ""));
  CHECK_FALSE(equal_constant_time("secret", "secreT"));
  CHECK_FALSE(equal_constant_time("secret", "secret2"));
  CHECK_FALSE(equal_constant_time("", "x"));
}

TEST_CASE("platform crypto: random bytes and refresh tokens are fresh, tokens stored as SHA-256 hex")
{
  CHECK(random_bytes(0).empty());
  CHECK(random_bytes(32).size() == 32);
  CHECK(random_bytes(32) != random_bytes(32));
  std::string t = refresh_token();
  CHECK(t.rfind("rt_", 0) == 0);
  CHECK(t.size() == 3 + 43);
  CHECK(base64url_decode(t.substr(3)).value_or("").size() == 32);
  CHECK(refresh_token() != t);
  CHECK(token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(token_hash(t) == sha256_hex(t));
}

// ---- passwords ---------------------------------------------------------------------------------

TEST_CASE("platform crypto: scrypt hashes describe themselves and verify")
{
  PasswordCost cheap{10, 8, 1};
  std::string h = hash_password("correct horse", cheap);
  CHECK(h.rfind("$scrypt$ln=10,r=8,p=1$", 0) == 0);
  CHECK(h.size() == std::string("$scrypt$ln=10,r=8,p=1$").size() + 22 + 1 + 43);
  CHECK(verify_password("correct horse", h));
  CHECK_FALSE(verify_password("correct horsE", h));
  CHECK_FALSE(verify_password("", h));
  CHECK_FALSE(verify_password("correct horse ", h));
  CHECK(hash_password("correct horse", cheap) != h);  // a fresh salt each time
  CHECK(verify_password("", hash_password("", {10, 4, 2})));
}

TEST_CASE("platform crypto: scrypt agrees with another implementation (Python's hashlib)")
{
  CHECK(verify_password("correct horse battery staple",
                        "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S_AXJlRU"));
  CHECK(verify_password("", "$scrypt$ln=10,r=8,p=2$AAECAwQFBgcICQoLDA0ODw$yeocOL5JKQHCjYcz0CLn6R0m6rekRPrwgY6ypWwEmao"));
  CHECK_FALSE(verify_password("", "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$yeocOL5JKQHCjYcz0CLn6R0m6rekRPrwgY6ypWwEmao"));
}

TEST_CASE("platform crypto: malformed password hashes are false")
{
  const std::string salt = "AAECAwQFBgcICQoLDA0ODw", key = "mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S_AXJlRU";
  const std::string pw = "correct horse battery staple";
  REQUIRE(verify_password(pw, "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key));
  for (const std::string &bad : {
           std::string(), std::string("$scrypt$"), "$SCRYPT$ln=10,r=8,p=1$" + salt + "$" + key,
           "$argon2id$ln=10,r=8,p=1$" + salt + "$" + key, "scrypt$ln=10,r=8,p=1$" + salt + "$" + key,
           "$scrypt$ln=010,r=8,p=1$" + salt + "$" + key, "$scrypt$ln=10,p=1,r=8$" + salt + "$" + key,
           "$scrypt$ln=,r=8,p=1$" + salt + "$" + key, "$scrypt$ln=10,r=8,p=1,x=2$" + salt + "$" + key,
           "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key + "$", "$scrypt$ln=10,r=8,p=1$" + salt + key,
           "$scrypt$ln=10,r=8,p=1$" + salt + "=$" + key, "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key + "=",
           "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key.substr(0, 42),             // 31 bytes
           "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key + "AAA",                   // 34 bytes
           "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQ$" + key,                           // an 11-byte salt
           "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key + std::string(300, 'A'),  // over 256 characters
           "$scrypt$ln=4294967306,r=8,p=1$" + salt + "$" + key, " $scrypt$ln=10,r=8,p=1$" + salt + "$" + key})
    CHECK_MESSAGE(!verify_password(pw, bad), bad);
}

TEST_CASE("platform crypto: hostile scrypt costs are refused before any work")
{
  CHECK(password_cost_ok({}));
  CHECK(password_cost_ok({10, 8, 1}));
  CHECK(password_cost_ok({17, 8, 1}));   // 128 MiB
  CHECK(password_cost_ok({20, 1, 4}));   // 16 times the default's work
  CHECK(password_cost_ok({15, 8, 16}));  // so is this one
  CHECK_FALSE(password_cost_ok({16, 8, 16}));
  CHECK_FALSE(password_cost_ok({18, 8, 1}));  // 256 MiB
  CHECK_FALSE(password_cost_ok({20, 1, 5}));
  CHECK_FALSE(password_cost_ok({21, 1, 1}));
  CHECK_FALSE(password_cost_ok({40, 8, 1}));
  CHECK_FALSE(password_cost_ok({0, 8, 1}));
  CHECK_FALSE(password_cost_ok({10, 0, 1}));
  CHECK_FALSE(password_cost_ok({10, 8, 0}));
  CHECK_FALSE(password_cost_ok({10, 33, 1}));
  CHECK_FALSE(password_cost_ok({10, 8, 17}));
  CHECK_FALSE(password_cost_ok({-1, 8, 1}));
  CHECK_THROWS_AS(hash_password("pw", {40, 8, 1}), Error);
  CHECK_THROWS_AS(hash_password("pw", {10, 0, 1}), Error);

  const std::string tail = "$AAECAwQFBgcICQoLDA0ODw$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S_AXJlRU";
  // Computed, each of these would take seconds or gigabytes; refused, they take microseconds.
  auto t0 = std::chrono::steady_clock::now();
  for (const char *cost : {"ln=40,r=8,p=1", "ln=20,r=1,p=16", "ln=20,r=32,p=16", "ln=18,r=8,p=1", "ln=99,r=999,p=999",
                           "ln=16,r=32,p=1", "ln=16,r=8,p=16", "ln=15,r=8,p=17"})
    CHECK_MESSAGE(!verify_password("pw", std::string("$scrypt$") + cost + tail), cost);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

// ---- JWT ---------------------------------------------------------------------------------------

TEST_CASE("platform jwt: a signed token verifies to the same claims, in the seed's payload shape")
{
  Claims c = sample();
  std::string token = sign(c, kKey);
  CHECK(part(token, 0) == R"({"alg":"HS256","typ":"JWT"})");
  CHECK(part(token, 1) == R"({"sub":"user_1","iat":1700000000,"exp":1700003600,"iss":"ccbridge-platform",)"
                          R"("permissions":["session:read","task:read"],"sessionId":"sess_1","jti":"jti_1"})");
  Verified v = verify(token, kKey, kIssuer, kNow);
  REQUIRE(v.ok());
  CHECK(v.claims.sub == c.sub);
  CHECK(v.claims.iss == c.iss);
  CHECK(v.claims.session_id == c.session_id);
  CHECK(v.claims.jti == c.jti);
  CHECK(v.claims.iat == c.iat);
  CHECK(v.claims.exp == c.exp);
  CHECK(v.claims.nbf == 0);
  CHECK(v.claims.permissions == c.permissions);

  c.session_id.clear();
  c.jti.clear();
  c.permissions.clear();
  c.nbf = kNow - 5;
  c.sub = "\xe4\xbd\xbf\"\\";  // non-ASCII and escapes survive
  token = sign(c, kKey);
  CHECK(part(token, 1) == R"({"sub":"使\"\\","iat":1700000000,"exp":1700003600,"iss":"ccbridge-platform",)"
                          R"("permissions":[],"nbf":1699999995})");
  v = verify(token, kKey, kIssuer, kNow);
  REQUIRE(v.ok());
  CHECK(v.claims.sub == c.sub);
  CHECK(v.claims.nbf == c.nbf);
  CHECK(v.claims.session_id.empty());
}

TEST_CASE("platform jwt: signing refuses an empty key and claims that are not UTF-8")
{
  CHECK_THROWS_AS(sign(sample(), ""), Error);
  Claims c = sample();
  c.sub = "bad\xff";
  CHECK_THROWS_AS(sign(c, kKey), Error);
  CHECK(verify(sign(sample(), kKey), "", kIssuer, kNow).error == JwtError::bad_signature);
}

TEST_CASE("platform jwt: expiry with leeway, expiredAt is the token's exp")
{
  Claims c = sample();
  c.iat = kNow - 7200;
  c.exp = kNow - 29;
  CHECK(check(sign(c, kKey)) == JwtError::none);  // within the 30 s leeway
  c.exp = kNow - 30;
  Verified v = verify(sign(c, kKey), kKey, kIssuer, kNow);
  CHECK(v.error == JwtError::expired);
  CHECK(v.expired_at == kNow - 30);
  CHECK(v.claims.sub.empty());  // an expired token's claims are not handed out
  c.exp = kNow;
  CHECK(check(sign(c, kKey), kNow, 0) == JwtError::expired);
  c.exp = kNow + 1;
  CHECK(check(sign(c, kKey), kNow, 0) == JwtError::none);
  c.exp = std::numeric_limits<std::int64_t>::max();
  CHECK(check(sign(c, kKey), kNow, std::numeric_limits<std::int64_t>::max()) == JwtError::none);
  c.exp = kNow;
  CHECK(check(sign(c, kKey), kNow, -5) == JwtError::expired);  // a negative leeway counts as none
  c.exp = kNow + 1;
  CHECK(check(sign(c, kKey), kNow, -5) == JwtError::none);
}

TEST_CASE("platform jwt: nbf or iat in the future beyond the leeway is not yet valid")
{
  Claims c = sample();
  c.nbf = kNow + 30;
  CHECK(check(sign(c, kKey)) == JwtError::none);
  c.nbf = kNow + 31;
  CHECK(check(sign(c, kKey)) == JwtError::not_yet_valid);
  c.nbf = 0;
  c.iat = kNow + 31;
  CHECK(check(sign(c, kKey)) == JwtError::not_yet_valid);
  c.iat = kNow + 30;
  CHECK(check(sign(c, kKey)) == JwtError::none);
  CHECK(check(sign(c, kKey), kNow, 0) == JwtError::not_yet_valid);
}

TEST_CASE("platform jwt: the issuer must match, sub, exp and iat must be there")
{
  Claims c = sample();
  c.iss = "someone-else";
  CHECK(check(sign(c, kKey)) == JwtError::wrong_issuer);
  CHECK(check(forge(kGoodHeader, R"({"sub":"u","iat":1700000000,"exp":1700003600})")) == JwtError::wrong_issuer);
  CHECK(check(forge(kGoodHeader, R"({"iat":1700000000,"exp":1700003600,"iss":"ccbridge-platform"})")) ==
        JwtError::missing_claim);
  CHECK(check(forge(kGoodHeader, R"({"sub":"","iat":1700000000,"exp":1700003600,"iss":"ccbridge-platform"})")) ==
        JwtError::missing_claim);
  CHECK(check(forge(kGoodHeader, R"({"sub":"u","iat":1700000000,"iss":"ccbridge-platform"})")) ==
        JwtError::missing_claim);
  CHECK(check(forge(kGoodHeader, R"({"sub":"u","exp":1700003600,"iss":"ccbridge-platform"})")) ==
        JwtError::missing_claim);
  CHECK(check(forge(kGoodHeader, payload_with(""))) == JwtError::none);  // (forge itself works)
}

TEST_CASE("platform jwt: alg none, other algorithms and key-naming headers are refused")
{
  std::string payload = payload_with("");
  std::string unsigned_input = base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + base64url_encode(payload);
  CHECK(check(unsigned_input + ".") == JwtError::bad_algorithm);
  for (const char *header :
       {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})", R"({"alg":"HS512","typ":"JWT"})",
        R"({"alg":"HS384"})", R"({"alg":"RS256","typ":"JWT"})", R"({"alg":"ES256"})", R"({"alg":"PS256"})",
        R"({"alg":"hs256"})", R"({"alg":"HS256 "})", R"({"alg":"HS256\u0000"})", R"({"typ":"JWT"})", R"({"alg":null})",
        R"({"alg":["HS256"]})", R"({"alg":"HS256","crit":["exp"]})", R"({"alg":"HS256","jku":"https://x/k"})",
        R"({"alg":"HS256","jwk":{"kty":"oct","k":"AA"}})", R"({"alg":"HS256","x5u":"https://x/c"})",
        R"({"alg":"HS256","x5c":["AA"]})"})
    // All of them signed with the real key: no header can talk the verifier into it.
    CHECK_MESSAGE(check(forge(header, payload)) == JwtError::bad_algorithm, header);
}

TEST_CASE("platform jwt: an RS256 header HMAC-signed with the key (key confusion) fails")
{
  std::string token = forge(R"({"alg":"RS256","typ":"JWT"})", payload_with(""));
  CHECK(check(token) == JwtError::bad_algorithm);
  // And with any other signature bytes too.
  std::string input = token.substr(0, token.rfind('.') + 1);
  CHECK(check(input + base64url_encode(random_bytes(256))) == JwtError::bad_algorithm);
}

TEST_CASE("platform jwt: any one changed byte breaks the token, a changed payload is a bad signature")
{
  const std::string token = sign(sample(), kKey);
  const std::size_t a = token.find('.'), b = token.rfind('.');
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    JwtError e = check(t);
    CHECK_MESSAGE(e != JwtError::none, i);
    if (i > a && i < b) CHECK_MESSAGE(e == JwtError::bad_signature, i);
  }
  std::string other = sign(sample(), "another-key-of-thirty-two-bytes!");
  CHECK(check(other) == JwtError::bad_signature);
  // The other key's signature on this token's header and payload.
  CHECK(check(token.substr(0, b) + other.substr(other.rfind('.'))) == JwtError::bad_signature);
  CHECK(check(token.substr(0, b + 1)) == JwtError::bad_signature);  // an empty signature
}

TEST_CASE("platform jwt: truncated tokens, garbage and the wrong number of parts are refused")
{
  const std::string token = sign(sample(), kKey);
  for (std::size_t n = 0; n < token.size(); ++n) CHECK_MESSAGE(check(token.substr(0, n)) != JwtError::none, n);
  CHECK(check(token.substr(0, token.rfind('.'))) == JwtError::malformed);  // 2 parts
  CHECK(check(token + ".") == JwtError::malformed);                        // 4 parts
  CHECK(check(token + "." + token.substr(token.rfind('.') + 1)) == JwtError::malformed);
  CHECK(check(token + token.substr(token.find('.'))) == JwtError::malformed);  // 5 parts
  for (const std::string &garbage :
       {std::string(), std::string("garbage"), std::string("Bearer ") + token, std::string(".."), std::string("a.b.c"),
        std::string("\x01\x02.\xff.\x80"), std::string(" ") + token, token + "\n"})
    CHECK_MESSAGE(check(garbage) == JwtError::malformed, garbage);
}

TEST_CASE("platform jwt: tokens over 8 KiB are malformed")
{
  // A correctly signed token of exactly kMaxTokenBytes passes; one byte more does not.
  std::string fill;
  std::string token = forge(kGoodHeader, payload_with(R"(,"pad":")" + fill + "\""));
  while (token.size() < kMaxTokenBytes) {
    fill += 'x';
    token = forge(kGoodHeader, payload_with(R"(,"pad":")" + fill + "\""));
  }
  while (token.size() > kMaxTokenBytes) {  // (the base64 of one more byte may add two characters)
    fill.pop_back();
    token = forge(kGoodHeader, payload_with(R"(,"pad":")" + fill + "\""));
  }
  CHECK(token.size() <= kMaxTokenBytes);
  CHECK(token.size() > kMaxTokenBytes - 4);
  CHECK(check(token) == JwtError::none);
  CHECK(check(forge(kGoodHeader, payload_with(R"(,"pad":")" + std::string(8192, 'x') + "\""))) ==
        JwtError::malformed);
  CHECK(check(std::string(1 << 20, 'A') + ".." ) == JwtError::malformed);
}

TEST_CASE("platform jwt: a signed payload that is not an object, or has claims of the wrong type, is malformed")
{
  for (const std::string &payload :
       {std::string("[1,2]"), std::string("\"sub\""), std::string("42"), std::string("null"), std::string("not json"),
        std::string(), payload_with("") + " x", payload_with("") + "{}", std::string("{\"sub\":\"a\xff\"}"),
        payload_with(R"(,"permissions":"all")"), payload_with(R"(,"permissions":["task:read",1])"),
        payload_with(R"(,"permissions":{"0":"task:read"})"), payload_with(R"(,"sessionId":7)"),
        payload_with(R"(,"jti":null)"), payload_with(R"(,"nbf":"1700000000")"), payload_with(R"(,"nbf":1.5)"),
        payload_with(R"(,"sub":"again")"),  // a duplicate name
        std::string(R"({"sub":1,"iat":1700000000,"exp":1700003600,"iss":"ccbridge-platform"})"),
        std::string(R"({"sub":"u","iat":"1700000000","exp":1700003600,"iss":"ccbridge-platform"})"),
        std::string(R"({"sub":"u","iat":1700000000,"exp":1e10,"iss":"ccbridge-platform"})"),
        std::string(R"({"sub":"u","iat":1700000000,"exp":99999999999999999999,"iss":"ccbridge-platform"})"),
        std::string(R"({"sub":"u","iat":1700000000,"exp":1700003600,"iss":["ccbridge-platform"]})")})
    CHECK_MESSAGE(check(forge(kGoodHeader, payload)) == JwtError::malformed, payload);
  // The header too must be a JSON object with each name once.
  CHECK(check(forge("[\"HS256\"]", payload_with(""))) == JwtError::malformed);
  CHECK(check(forge(R"({"alg":"HS256","alg":"none"})", payload_with(""))) == JwtError::malformed);
  CHECK(check(forge(R"({"alg":"HS256"})", payload_with(R"(,"permissions":[])"))) == JwtError::none);
}

TEST_CASE("platform jwt: error names")
{
  CHECK(std::string(to_string(JwtError::bad_signature)) == "bad_signature");
  CHECK(std::string(to_string(JwtError::not_yet_valid)) == "not_yet_valid");
}

// ---- permissions -------------------------------------------------------------------------------

TEST_CASE("platform permissions: the seed's fifteen, in its order")
{
  const std::vector<std::string> seed = {
      "session:read", "session:create", "session:delete", "task:submit",      "task:read",
      "task:cancel",  "agent:read",     "agent:create",   "agent:configure",  "tool:read",
      "tool:execute", "config:read",    "config:write",   "admin:monitoring", "admin:users"};
  CHECK(all_permissions() == seed);
  CHECK(known_permission("task:submit"));
  CHECK(known_permission("admin:users"));
  CHECK_FALSE(known_permission("task:write"));
  CHECK_FALSE(known_permission("Session:read"));
  CHECK_FALSE(known_permission("session:read "));
  CHECK_FALSE(known_permission(""));
  CHECK_FALSE(known_permission("all"));
}

TEST_CASE("platform permissions: parsing a list")
{
  auto p = parse_permissions("task:read,session:read");
  CHECK(p.ok());
  CHECK(p.permissions == std::vector<std::string>{"session:read", "task:read"});  // seed order
  p = parse_permissions(" task:read , task:read,tool:execute ");
  CHECK(p.ok());
  CHECK(p.permissions == std::vector<std::string>{"task:read", "tool:execute"});  // each once
  CHECK(parse_permissions("all").permissions == all_permissions());
  CHECK(parse_permissions(" all ").permissions == all_permissions());
  CHECK(parse_permissions("task:read,all").permissions == all_permissions());
  p = parse_permissions("");
  CHECK(p.ok());
  CHECK(p.permissions.empty());

  p = parse_permissions("session:read,task:write");
  CHECK_FALSE(p.ok());
  CHECK(p.error == "unknown permission 'task:write'");
  CHECK(p.permissions.empty());
  CHECK_FALSE(parse_permissions("session:read,,task:read").ok());
  CHECK_FALSE(parse_permissions("session:read,").ok());
  CHECK_FALSE(parse_permissions("ALL").ok());
  CHECK(parse_permissions(std::string(500, 'x')).error.size() < 120);  // the entry is quoted short
}

// ---- rate limit figures ------------------------------------------------------------------------

TEST_CASE("platform rate limit: each decision carries limit, remaining and reset")
{
  RateLimiter limiter(3, 60s);
  auto t0 = RateLimiter::Clock::now();
  auto d = limiter.check("user_1", t0);
  CHECK(d.allowed);
  CHECK(d.limit == 3);
  CHECK(d.remaining == 2);
  CHECK(d.reset_after == 60s);
  d = limiter.check("user_1", t0 + 10500ms);
  CHECK(d.remaining == 1);
  CHECK(d.reset_after == 50s);  // rounded up
  d = limiter.check("user_1", t0 + 59900ms);
  CHECK(d.allowed);
  CHECK(d.remaining == 0);
  CHECK(d.reset_after == 1s);
  d = limiter.check("user_1", t0 + 59900ms);
  CHECK_FALSE(d.allowed);
  CHECK(d.limit == 3);
  CHECK(d.remaining == 0);
  CHECK(d.reset_after == 1s);
  CHECK(d.retry_after == 1s);
  CHECK(limiter.check("user_2", t0 + 30s).remaining == 2);  // keys are independent
  d = limiter.check("user_1", t0 + 60s);  // a new window
  CHECK(d.allowed);
  CHECK(d.remaining == 2);
  CHECK(d.reset_after == 60s);

  RateLimiter none(0, 60s);
  d = none.check("k", t0);
  CHECK_FALSE(d.allowed);
  CHECK(d.remaining == 0);
  CHECK(d.reset_after == 60s);
}
