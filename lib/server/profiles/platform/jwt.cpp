#include "server/profiles/platform/jwt.hpp"

#include "detail/json.hpp"
#include "server/profiles/platform/crypto.hpp"

#include <ccbridge/error.hpp>

#include <algorithm>
#include <iterator>
#include <limits>
#include <optional>

namespace ccbridge::detail::server::platform {

namespace {

constexpr char kHeader[] = R"({"alg":"HS256","typ":"JWT"})";

// Writes invalid UTF-8 as a failure instead of passing it through.
using Writer = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                 rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>;

bool write_string(Writer &w, const char *key, const std::string &value)
{
  return w.Key(key) && w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string payload_json(const Claims &c)
{
  rapidjson::StringBuffer buf;
  Writer w(buf);
  bool ok = w.StartObject() && write_string(w, "sub", c.sub) && w.Key("iat") && w.Int64(c.iat) && w.Key("exp") &&
            w.Int64(c.exp) && write_string(w, "iss", c.iss) && w.Key("permissions") && w.StartArray();
  for (const auto &p : c.permissions) ok = ok && w.String(p.data(), static_cast<rapidjson::SizeType>(p.size()));
  ok = ok && w.EndArray();
  if (!c.session_id.empty()) ok = ok && write_string(w, "sessionId", c.session_id);
  if (!c.jti.empty()) ok = ok && write_string(w, "jti", c.jti);
  if (c.nbf != 0) ok = ok && w.Key("nbf") && w.Int64(c.nbf);
  ok = ok && w.EndObject();
  if (!ok) throw Error(errc::invalid_argument, "a JWT claim is not valid UTF-8");
  return {buf.GetString(), buf.GetSize()};
}

struct Parts {
  std::string_view header, payload, signature, signing_input;
};

// Exactly three dot-separated parts.
std::optional<Parts> split(std::string_view token)
{
  std::size_t a = token.find('.');
  if (a == std::string_view::npos) return std::nullopt;
  std::size_t b = token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) return std::nullopt;
  return Parts{token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1), token.substr(0, b)};
}

// A JSON object in base64url, valid UTF-8, every member name once (parsers disagree on which of two
// equal names wins, so a token with both means nothing).
bool decode_object(std::string_view part, JsonDocument &doc)
{
  auto text = base64url_decode(part);
  if (!text) return false;
  if (parse_exact<kParseFlags | rapidjson::kParseValidateEncodingFlag>(doc, std::string_view(*text)).IsError() || !doc.IsObject())
    return false;
  std::vector<std::string_view> names;
  for (const auto &m : doc.GetObject()) names.emplace_back(m.name.GetString(), m.name.GetStringLength());
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) == names.end();
}

// alg exactly "HS256" and no header that names a key or demands extensions.
bool header_allowed(const JsonValue &header)
{
  auto alg = header.FindMember("alg");
  if (alg == header.MemberEnd() || !alg->value.IsString() ||
      std::string_view(alg->value.GetString(), alg->value.GetStringLength()) != "HS256")
    return false;
  for (const char *name : {"crit", "jku", "jwk", "x5u", "x5c"})
    if (header.HasMember(name)) return false;
  return true;
}

enum class Got { absent, ok, wrong_type };

Got read(const JsonValue &o, const char *key, std::string &out)
{
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return Got::absent;
  if (!it->value.IsString()) return Got::wrong_type;
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return Got::ok;
}

Got read(const JsonValue &o, const char *key, std::int64_t &out)
{
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return Got::absent;
  if (!it->value.IsInt64()) return Got::wrong_type;  // (NumericDate as an integer only)
  out = it->value.GetInt64();
  return Got::ok;
}

Got read(const JsonValue &o, const char *key, std::vector<std::string> &out)
{
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return Got::absent;
  if (!it->value.IsArray()) return Got::wrong_type;
  for (const auto &v : it->value.GetArray()) {
    if (!v.IsString()) return Got::wrong_type;
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return Got::ok;
}

// The claims of a payload; malformed for a claim of the wrong type, missing_claim without sub, exp or iat.
JwtError read_claims(const JsonValue &p, Claims &c)
{
  Got sub = read(p, "sub", c.sub), iat = read(p, "iat", c.iat), exp = read(p, "exp", c.exp);
  Got all[] = {sub, iat, exp, read(p, "iss", c.iss), read(p, "sessionId", c.session_id), read(p, "jti", c.jti),
               read(p, "nbf", c.nbf), read(p, "permissions", c.permissions)};
  if (std::find(std::begin(all), std::end(all), Got::wrong_type) != std::end(all)) return JwtError::malformed;
  if (sub == Got::absent || c.sub.empty() || iat == Got::absent || exp == Got::absent) return JwtError::missing_claim;
  return JwtError::none;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b)
{
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  return a > kMax - b ? kMax : a + b;  // (b >= 0)
}

Verified refused(JwtError e) { return Verified{e, {}, 0}; }

}  // namespace

const char *to_string(JwtError e)
{
  switch (e) {
  case JwtError::none: return "none";
  case JwtError::malformed: return "malformed";
  case JwtError::bad_algorithm: return "bad_algorithm";
  case JwtError::bad_signature: return "bad_signature";
  case JwtError::missing_claim: return "missing_claim";
  case JwtError::wrong_issuer: return "wrong_issuer";
  case JwtError::expired: return "expired";
  case JwtError::not_yet_valid: return "not_yet_valid";
  }
  return "unknown";
}

std::string sign(const Claims &claims, std::string_view key)
{
  if (key.empty()) throw Error(errc::invalid_argument, "a JWT key must not be empty");
  std::string input = base64url_encode(kHeader) + "." + base64url_encode(payload_json(claims));
  std::string mac = hmac_sha256(key, input);
  return input + "." + base64url_encode(mac);
}

Verified verify(std::string_view token, std::string_view key, std::string_view issuer, std::int64_t now,
                std::int64_t leeway_s)
{
  auto parts = token.size() <= kMaxTokenBytes ? split(token) : std::nullopt;
  JsonDocument header;
  if (!parts || !decode_object(parts->header, header)) return refused(JwtError::malformed);
  if (!header_allowed(header)) return refused(JwtError::bad_algorithm);
  auto signature = base64url_decode(parts->signature);
  if (!signature) return refused(JwtError::malformed);
  if (key.empty() || !equal_constant_time(hmac_sha256(key, parts->signing_input), *signature))
    return refused(JwtError::bad_signature);
  // From here on the payload is ours.
  JsonDocument payload;
  if (!decode_object(parts->payload, payload)) return refused(JwtError::malformed);
  Verified v;
  if (JwtError e = read_claims(payload, v.claims); e != JwtError::none) return refused(e);
  if (v.claims.iss != issuer) return refused(JwtError::wrong_issuer);
  std::int64_t leeway = std::max<std::int64_t>(leeway_s, 0);
  if (now >= saturating_add(v.claims.exp, leeway)) return Verified{JwtError::expired, {}, v.claims.exp};
  std::int64_t latest = saturating_add(now, leeway);
  if (v.claims.nbf > latest || v.claims.iat > latest) return refused(JwtError::not_yet_valid);
  return v;
}

}  // namespace ccbridge::detail::server::platform
