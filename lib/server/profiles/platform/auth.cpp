// Agent platform: login, refresh, logout and the check of every request's token; the admin:users
// API. Access tokens are HS256 JWTs (jwt.hpp) with a jti the store can revoke; refresh tokens are
// random, stored hashed, rotated on every use, and a login's tokens share a family: presenting a
// refresh token that was rotated already revokes the whole family (it was stolen, or replayed).
#include "server/profiles/platform/crypto.hpp"
#include "server/profiles/platform/jwt.hpp"
#include "server/profiles/platform/permissions.hpp"
#include "server/profiles/platform/rest.hpp"

#include <algorithm>
#include <cctype>

namespace ccbridge::detail::server::platform {

namespace {

// A hash to verify against when the email is unknown, so that a failed login takes as long for
// an unknown email as for a wrong password (no account enumeration by timing either).
const std::string &decoy_hash(int log2_n)
{
  static const std::string h = hash_password("decoy password", PasswordCost{log2_n, 8, 1});
  return h;
}

std::string lower(std::string s)
{
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

// Login and refresh are not behind a token, so the per-user limit does not bound them: attempts
// are counted per client address and (login) per email, before any password is hashed.
void limit_attempts(Platform &p, const Call &c, const std::string &email)
{
  std::string addr = c.req.remote.substr(0, c.req.remote.rfind(':'));
  // An address may be many users (NAT): ten times an email's allowance.
  for (const std::string &key : {"email:" + email, "addr:" + addr}) {
    if (key == "email:") continue;
    auto d = key[0] == 'e' ? p.login_limiter().check(key) : p.address_limiter().check(key);
    if (!d.allowed)
      fail(429, "SERVICE_UNAVAILABLE", "too many attempts; try again in " + std::to_string(d.retry_after.count()) + " s",
           "{\"retryAfter\":" + std::to_string(d.retry_after.count()) + "}");
  }
}

}  // namespace

std::string Platform::user_json(const UserRow &u) const
{
  std::string perms;
  for (const auto &p : u.permissions) perms += (perms.empty() ? "" : ",") + json_str(p);
  return "{\"id\":" + json_str(u.id) + ",\"email\":" + json_str(u.email) + ",\"name\":" + json_str(u.name) +
         ",\"permissions\":[" + perms + "],\"disabled\":" + (u.disabled ? "true" : "false") +
         ",\"createdAt\":" + json_str(u.created_at) + "}";
}

Caller Platform::authenticate(const std::string &bearer)
{
  if (bearer.empty()) fail(401, "AUTH_REQUIRED", "this needs a token: Authorization: Bearer <token>");
  Verified v = verify(bearer, key_, cfg.issuer, now_unix(), cfg.clock_leeway.count());
  if (v.error == JwtError::expired)
    fail(401, "TOKEN_EXPIRED", "JWT token has expired", "{\"expiredAt\":" + json_str(iso_from_unix_ms(v.expired_at * 1000)) + "}");
  if (!v.ok()) fail(401, "INVALID_TOKEN", std::string("the token is not valid (") + to_string(v.error) + ")");
  if (v.claims.jti.empty()) fail(401, "INVALID_TOKEN", "the token has no jti (it could not be revoked)");
  if (store_->access_revoked(v.claims.jti)) fail(401, "INVALID_TOKEN", "the token was revoked");
  auto user = store_->user_by_id(v.claims.sub);
  if (!user || user->disabled) fail(401, "INVALID_TOKEN", "the token's user is unknown or disabled");
  return Caller{std::move(*user), v.claims.jti, v.claims.exp};
}

namespace {

struct Issued {
  std::string access, refresh;
  std::int64_t expires_in = 0;
};

Issued issue(Platform &p, const UserRow &u, const std::string &family, std::int64_t refresh_ttl)
{
  std::int64_t now = now_unix();
  Claims c;
  c.sub = u.id;
  c.iss = p.cfg.issuer;
  c.iat = now;
  c.exp = now + p.cfg.access_ttl.count();
  c.jti = new_id("jti_");
  c.permissions = u.permissions;
  Issued out;
  out.access = sign(c, p.signing_key());
  out.refresh = refresh_token();
  out.expires_in = p.cfg.access_ttl.count();
  RefreshRow r;
  r.hash = token_hash(out.refresh);
  r.user_id = u.id;
  r.family = family;
  r.expires_at = now + refresh_ttl;
  r.access_jti = c.jti;
  r.access_exp = c.exp;
  p.store().add_refresh(r);
  return out;
}

std::string tokens_json(const Issued &t)
{
  return "\"token\":" + json_str(t.access) + ",\"refreshToken\":" + json_str(t.refresh) +
         ",\"expiresIn\":" + std::to_string(t.expires_in);
}

}  // namespace

void auth_login(Platform &p, Call &c)
{
  const JsonValue &b = c.body();
  std::string email = lower(required_string(b, "email", 320));
  std::string password = required_string(b, "password", 1024);
  limit_attempts(p, c, email);
  const JsonValue *remember = member(b, "remember");
  if (remember && !remember->IsNull() && !remember->IsBool()) bad_field("remember", "'remember' must be true or false");
  auto user = p.store().user_by_email(email);
  auto ttl = remember && remember->IsTrue() ? p.cfg.remember_ttl : p.cfg.refresh_ttl;
  std::string hash = user ? user->password_hash : std::string();
  int cost = p.cfg.password_cost_log2;
  auto send = c.raw_later();
  std::string rid = c.request_id;
  // scrypt runs on the hasher's thread; the answer is made back on the server thread, where the
  // user is read again (it may have been disabled meanwhile).
  bool queued = p.hasher().run(
      [password, hash, cost] { return verify_password(password, hash.empty() ? decoy_hash(cost) : hash); },
      [&p, email, ttl, send, rid](bool ok) {
        auto u = p.store().user_by_email(email);
        if (!u || !ok || u->disabled) {
          ++p.logins_failed;
          return send(401, error_envelope(ApiError{401, "INVALID_TOKEN", "wrong email or password", ""}, rid));
        }
        ++p.logins;
        Issued t = issue(p, *u, new_id("fam_"), ttl.count());
        send(200, ok_envelope("{" + tokens_json(t) + ",\"user\":" + p.user_json(*u) + "}"));
      });
  if (!queued) fail(503, "SERVICE_UNAVAILABLE", "too many logins at once; try again shortly");
}

void auth_refresh(Platform &p, Call &c)
{
  std::string token = required_string(c.body(), "refreshToken", 256);
  limit_attempts(p, c, "");
  auto row = p.store().refresh(token_hash(token));
  if (!row || row->revoked || row->expires_at < now_unix()) fail(401, "INVALID_TOKEN", "the refresh token is not valid");
  if (!p.store().use_refresh(row->hash)) {
    p.store().revoke_family(row->family);  // a rotated token came back: the login is compromised
    fail(401, "INVALID_TOKEN", "the refresh token was used already; this login is revoked");
  }
  auto user = p.store().user_by_id(row->user_id);
  if (!user || user->disabled) fail(401, "INVALID_TOKEN", "the token's user is unknown or disabled");
  Issued t = issue(p, *user, row->family, row->expires_at - now_unix());
  c.ok(200, "{" + tokens_json(t) + "}");
}

void auth_logout(Platform &p, Call &c)
{
  p.logout(c.caller);
  c.ok(200, "", "logged out");
}

void Platform::logout(const Caller &c)
{
  store_->revoke_access(c.jti, c.exp);
  if (auto family = store_->family_of_access(c.jti)) store_->revoke_family(*family);
}

// ---- admin:users -------------------------------------------------------------------------------

namespace {

std::vector<std::string> permissions_of(const JsonValue &b)
{
  const JsonValue *v = member(b, "permissions");
  if (!v || v->IsNull()) return {};
  if (v->IsString()) {
    PermissionList l = parse_permissions(v->GetString());
    if (!l.ok()) bad_field("permissions", l.error);
    return l.permissions;
  }
  check_string_list(b, "permissions", "permissions");
  std::string joined;
  for (const auto &e : v->GetArray()) joined += (joined.empty() ? "" : ",") + std::string(e.GetString());
  PermissionList l = parse_permissions(joined);
  if (!l.ok()) bad_field("permissions", l.error);
  return l.permissions;
}

UserRow target_user(Platform &p, const std::string &id)
{
  auto u = p.store().user_by_id(id);
  if (!u) fail(404, "INVALID_INPUT", "no user " + quoted(id), "{\"field\":\"userId\"}");
  return *u;
}

}  // namespace

UserRow make_user(const std::string &email, const std::string &password, const std::string &name,
                  std::vector<std::string> permissions, int cost_log2)
{
  UserRow u;
  u.id = new_id("user_");
  u.email = lower(email);
  u.name = name.empty() ? u.email.substr(0, u.email.find('@')) : name;
  u.password_hash = hash_password(password, PasswordCost{cost_log2, 8, 1});
  u.permissions = std::move(permissions);
  u.created_at = now_iso();
  return u;
}

void list_users(Platform &p, Call &c)
{
  std::string items;
  for (const auto &u : p.store().users()) items += (items.empty() ? "" : ",") + p.user_json(u);
  c.ok(200, "{\"users\":[" + items + "]}");
}

void create_user(Platform &p, Call &c)
{
  const JsonValue &b = c.body();
  std::string email = required_string(b, "email", 320);
  if (email.find('@') == std::string::npos) bad_field("email", "'email' must be an email address");
  std::string password = required_string(b, "password", 1024);
  if (password.size() < 8) bad_field("password", "'password' must have at least 8 characters");
  std::string name = member(b, "name") ? required_string(b, "name", 256) : std::string();
  UserRow u = make_user(email, password, name, permissions_of(b), p.cfg.password_cost_log2);
  if (p.store().user_by_email(u.email)) bad_field("email", "a user with this email exists");
  p.store().add_user(u);
  c.ok(201, "{\"user\":" + p.user_json(u) + "}");
}

void update_user(Platform &p, Call &c)
{
  UserRow u = target_user(p, c.req.params.at("userId"));
  const JsonValue &b = c.body();
  if (member(b, "permissions")) u.permissions = permissions_of(b);
  if (member(b, "name")) u.name = required_string(b, "name", 256);
  if (const JsonValue *d = member(b, "disabled")) {
    if (!d->IsBool()) bad_field("disabled", "'disabled' must be true or false");
    u.disabled = d->GetBool();
  }
  if (member(b, "password")) {
    std::string pw = required_string(b, "password", 1024);
    if (pw.size() < 8) bad_field("password", "'password' must have at least 8 characters");
    u.password_hash = hash_password(pw, PasswordCost{p.cfg.password_cost_log2, 8, 1});
  }
  p.store().update_user(u);
  c.ok(200, "{\"user\":" + p.user_json(u) + "}");
}

}  // namespace ccbridge::detail::server::platform
