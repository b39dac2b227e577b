// cc-control's REST API (CC-CONTROL.md 3): /api (ui tokens), /admin (the admin token) and
// /tenant (tenant tokens). Answers as the original's: JSON with a trailing newline on success,
// plain text on error, 201 on session create. Its gaps are fixed: 400 for validation errors
// (bug 23), 404 for unknown sessions' events (25), one answer for a server that is unknown,
// offline or another tenant's (24), 429 with Retry-After when rate limited, admin routes limited
// too (26), token operations audited (32).
#include "server/profiles/cc_control/routes.hpp"
#include "server/profiles/cc_control/wire.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <cctype>

namespace ccbridge::detail::server::cc_control {
namespace {

using std::chrono::milliseconds;
using Reply = HttpReply;

constexpr std::size_t kMaxResumeId = 128;
constexpr std::int64_t kMaxStopMs = 600000;

HttpResponse from(const Failure &f)
{
  HttpResponse r = text_error(f.status, f.message);
  if (f.status == 429) r.headers.emplace_back("Retry-After", f.retry_after);
  return r;
}

/// The request body as a JSON object; an empty body is an empty object when `empty_ok`.
std::optional<JsonView> body_object(const HttpRequest &req, bool empty_ok)
{
  bool blank = req.body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) return empty_ok ? std::optional<JsonView>(parse_json("{}")) : std::nullopt;
  try {
    JsonView v = parse_json(req.body);
    if (v.is_object()) return v;
  } catch (const Error &) {
  }
  return std::nullopt;
}

/// An optional string member: absent or null is "", another kind is an error.
bool opt_string(const JsonView &o, const char *key, std::string &out)
{
  JsonView v = o[key];
  if (!v.exists() || v.is_null()) return true;
  if (!v.is_string()) return false;
  out = std::string(*v.string());
  return true;
}

std::string trim(const std::string &s)
{
  auto b = s.find_first_not_of(" \t\r\n\v\f");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n\v\f") - b + 1);
}

/// A resume id the agent will accept: at most 128 characters, no whitespace (CC-CONTROL.md 1.6).
bool resume_id_ok(const std::string &id)
{
  if (id.size() > kMaxResumeId) return false;
  for (unsigned char c : id)
    if (std::isspace(c) || c < 0x20) return false;
  return true;
}

bool parse_create(const JsonView &o, CreateSession &out)
{
  if (!opt_string(o, "server_id", out.server_id) || !opt_string(o, "cwd", out.cwd) ||
      !opt_string(o, "resume_id", out.resume_id))
    return false;
  JsonView env = o["env"];
  if (env.exists() && !env.is_null()) {
    if (!env.is_object()) return false;
    for (std::size_t i = 0; i < env.size(); ++i) {
      if (!env.value_at(i).is_string()) return false;
      out.env[std::string(env.key_at(i))] = std::string(*env.value_at(i).string());
    }
  }
  for (auto [key, dim] : {std::pair{"cols", &out.cols}, std::pair{"rows", &out.rows}}) {
    JsonView v = o[key];
    if (!v.exists() || v.is_null()) continue;
    if (!v.int64() || *v.int64() < 0 || *v.int64() > 65535) return false;
    *dim = static_cast<std::uint16_t>(*v.int64());
  }
  return true;
}

/// {grace_ms, kill_after_ms}: absent or <= 0 gives the defaults 4000 / 9000.
bool parse_stop(const HttpRequest &req, milliseconds &grace, milliseconds &kill_after)
{
  auto o = body_object(req, true);
  if (!o) return false;
  grace = milliseconds(4000);
  kill_after = milliseconds(9000);
  for (auto [key, out] : {std::pair{"grace_ms", &grace}, std::pair{"kill_after_ms", &kill_after}}) {
    JsonView v = (*o)[key];
    if (!v.exists() || v.is_null()) continue;
    if (!v.int64()) return false;
    if (*v.int64() > 0) *out = milliseconds(std::min(*v.int64(), kMaxStopMs));
  }
  if (kill_after < grace) kill_after = grace;
  return true;
}

template <class T> std::string list(const char *name, const std::vector<T> &items)
{
  std::string body = "{\"" + std::string(name) + "\":[";
  for (std::size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + to_json(items[i]);
  return body + "]}";
}

HttpResponse ok() { return json_ok("{\"ok\":true}"); }

// ---- /api --------------------------------------------------------------------------------------

class Api {
public:
  Api(Control &c, const HttpRequest &r, Caller who) : c_(c), req_(r), who_(std::move(who)) {}

  HttpResponse route()
  {
    const std::string &p = req_.path;
    if (p == "/api/servers") return req_.method == "GET" ? need(1, [&] { return servers(); }) : not_allowed();
    if (p.rfind("/api/servers/", 0) == 0)
      return req_.method == "DELETE" ? need(3, [&] { return forget_server(p.substr(13)); }) : not_allowed();
    if (p == "/api/sessions") {
      if (req_.method == "GET") return need(1, [&] { return sessions(); });
      if (req_.method == "POST") return need(2, [&] { return create(); });
      return not_allowed();
    }
    if (p.rfind("/api/sessions/", 0) == 0) return session_route(p.substr(14));
    return text_error(404, "not found");
  }

private:
  HttpResponse session_route(const std::string &rest)
  {
    auto slash = rest.find('/');
    std::string id = rest.substr(0, slash), tail = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (id.empty()) return text_error(400, "bad path");
    if (tail.empty()) return req_.method == "DELETE" ? need(3, [&] { return remove(id); }) : not_allowed();
    if (tail == "stop" || tail.rfind("stop/", 0) == 0)
      return req_.method == "POST" ? need(2, [&] { return stop(id); }) : not_allowed();
    if (tail == "events") return req_.method == "GET" ? need(1, [&] { return events(id); }) : not_allowed();
    return text_error(404, "not found");
  }

  template <class F> HttpResponse need(int rank, F &&f)
  {
    if (role_rank(who_.token.role) < rank) return text_error(403, "forbidden");
    return f();
  }
  static HttpResponse not_allowed() { return text_error(405, "method not allowed"); }

  HttpResponse servers() { return json_ok(list("servers", c_.servers(who_.tenant()))); }
  HttpResponse forget_server(const std::string &id)
  {
    Failure f = c_.forget_server(who_.tenant(), id);
    return f ? text_error(f.status, f.message) : ok();
  }
  HttpResponse sessions()
  {
    return json_ok(list("sessions", c_.sessions(who_.tenant(), req_.query_param("server_id").value_or(""))));
  }

  HttpResponse create()
  {
    auto o = body_object(req_, false);
    CreateSession cs;
    if (!o || !parse_create(*o, cs)) return text_error(400, "bad request");
    cs.resume_id = trim(cs.resume_id);
    if (cs.server_id.empty() || cs.cwd.empty()) return text_error(400, "server_id and cwd are required");
    if (!resume_id_ok(cs.resume_id)) return text_error(400, "invalid resume_id");
    SessionRecord out;
    if (Failure f = c_.create(who_, cs, out)) return from(f);
    return json_ok(to_json(out), 201);
  }

  HttpResponse stop(const std::string &id)
  {
    milliseconds grace, kill;
    if (!parse_stop(req_, grace, kill)) return text_error(400, "bad request");
    if (Failure f = c_.stop_session(who_.tenant(), id, grace, kill, who_.actor())) return from(f);
    return ok();
  }

  HttpResponse remove(const std::string &id)
  {
    milliseconds grace, kill;
    if (!parse_stop(req_, grace, kill)) return text_error(400, "bad request");
    if (Failure f = c_.delete_session(who_, id, grace, kill)) return from(f);
    return ok();
  }

  HttpResponse events(const std::string &id)
  {
    const auto *evs = c_.events(who_.tenant(), id);
    if (!evs) return text_error(404, "session not found");
    return json_ok(list("events", *evs));
  }

  Control &c_;
  const HttpRequest &req_;
  Caller who_;
};

// ---- /admin and /tenant ------------------------------------------------------------------------

std::string created_json(const IssuedToken &t, bool with_tenant)
{
  GoJson j;
  j.str("token", t.plaintext).str("token_id", t.record.token_id);
  if (with_tenant) j.str("tenant_id", t.record.tenant_id);
  j.str("type", to_string(t.record.type));
  if (with_tenant || t.record.type == TokenType::ui) j.str("role", t.record.role);
  return j.num("created_at_ms", t.record.created_at_ms).done();
}

std::string verify_json(const TokenRecord &t)
{
  return GoJson().boolean("ok", true).str("token_id", t.token_id).str("type", to_string(t.type)).str("tenant_id", t.tenant_id).done();
}

class Admin {
public:
  Admin(Control &c, const HttpRequest &r) : c_(c), req_(r) {}

  HttpResponse route(const Caller &who)
  {
    const std::string &p = req_.path;
    const std::string &m = req_.method;
    if (p == "/admin/verify") return m == "GET" || m == "POST" ? json_ok(verify_json(who.token)) : not_allowed();
    if (p == "/admin/tokens") return m == "GET" ? list_tokens() : m == "POST" ? create_token() : not_allowed();
    if (p == "/admin/servers") return m == "GET" ? json_ok(list("servers", c_.servers(query("tenant_id")))) : not_allowed();
    if (p == "/admin/sessions")
      return m == "GET" ? json_ok(list("sessions", c_.sessions(query("tenant_id"), query("server_id")))) : not_allowed();
    std::string id;
    if (shape(p, "/admin/tokens/", "/revoke", id)) return m == "POST" ? revoke(id) : not_allowed();
    if (shape(p, "/admin/sessions/", "/stop", id)) return m == "POST" ? stop(id) : not_allowed();
    return text_error(404, "not found");
  }

private:
  static HttpResponse not_allowed() { return text_error(405, "method not allowed"); }
  std::string query(const char *k) const { return req_.query_param(k).value_or(""); }

  static bool shape(const std::string &p, const std::string &head, const std::string &tail, std::string &id)
  {
    if (p.size() <= head.size() + tail.size() || p.rfind(head, 0) != 0) return false;
    if (p.compare(p.size() - tail.size(), tail.size(), tail) != 0) return false;
    id = p.substr(head.size(), p.size() - head.size() - tail.size());
    return !id.empty() && id.find('/') == std::string::npos;
  }

  HttpResponse list_tokens()
  {
    return json_ok(list("tokens", c_.tokens->list(query("tenant_id"))));
  }

  HttpResponse create_token()
  {
    auto o = body_object(req_, false);
    std::string type, tenant, role, name;
    if (!o || !opt_string(*o, "type", type) || !opt_string(*o, "tenant_id", tenant) || !opt_string(*o, "role", role) ||
        !opt_string(*o, "name", name))
      return text_error(400, "bad request");
    auto t = token_type_from(type);
    if (!t || *t == TokenType::admin) return text_error(400, "invalid token type");
    if (*t == TokenType::ui && role_rank(role) == 0) return text_error(400, "invalid role");
    IssuedToken made;
    try {
      made = c_.tokens->create(*t, tenant, *t == TokenType::ui ? role : "", name);
    } catch (const Error &e) {
      return text_error(e.code() == errc::invalid_argument ? 400 : 500, e.detail());
    }
    c_.audit_token("admin", "token_create", made.record);
    return json_ok(created_json(made, true));
  }

  HttpResponse revoke(const std::string &id)
  {
    std::optional<TokenRecord> rec;
    for (const auto &t : c_.tokens->list())
      if (t.token_id == id) rec = t;
    if (!rec || !c_.tokens->revoke(id)) return text_error(404, "not found");
    c_.audit_token("admin", "token_revoke", *rec);
    return ok();
  }

  HttpResponse stop(const std::string &id)
  {
    milliseconds grace, kill;
    if (!parse_stop(req_, grace, kill)) return text_error(400, "bad request");
    if (Failure f = c_.stop_session("", id, grace, kill, "admin")) return from(f);
    return ok();
  }

  Control &c_;
  const HttpRequest &req_;
};

HttpResponse tenant_verify(const HttpRequest &req, const Caller &who)
{
  std::string asked;
  if (req.method == "GET") {
    asked = req.query_param("tenant_id").value_or("");
  } else {
    auto o = body_object(req, true);
    if (!o || !opt_string(*o, "tenant_id", asked)) return text_error(400, "bad request");
  }
  if (asked.empty()) return text_error(400, "tenant id required");
  if (asked != who.tenant()) return text_error(401, "unauthorized");
  return json_ok(verify_json(who.token));
}

HttpResponse tenant_rotate(Control &c, const HttpRequest &req, const Caller &who)
{
  auto o = body_object(req, true);
  std::string tenant, role, ui_name, agent_name;
  if (!o || !opt_string(*o, "tenant_id", tenant) || !opt_string(*o, "role", role) ||
      !opt_string(*o, "ui_name", ui_name) || !opt_string(*o, "agent_name", agent_name))
    return text_error(400, "bad request");
  if (who.tenant().empty()) return text_error(400, "tenant token missing tenant_id");
  if (!tenant.empty() && tenant != who.tenant()) return text_error(403, "forbidden");
  if (role.empty()) role = "owner";
  if (role_rank(role) == 0) return text_error(400, "invalid role");
  Rotation r;
  try {
    r = c.tokens->rotate_tenant(who.tenant(), role, ui_name, agent_name);
  } catch (const Error &e) {
    return text_error(e.code() == errc::invalid_argument ? 400 : 500, e.detail());
  }
  std::string actor = "tenant:" + who.token.token_id;
  c.audit_token(actor, "token_create", r.ui.record);
  c.audit_token(actor, "token_create", r.agent.record);
  GoJson j;
  j.str("tenant_id", who.tenant()).num("revoked_count", static_cast<std::int64_t>(r.revoked_ids.size()));
  j.raw("ui", created_json(r.ui, false)).raw("agent", created_json(r.agent, false));
  return json_ok(j.done());
}

template <class F> HttpHandler guarded(Control &c, TokenType type, const char *rate_prefix, F f)
{
  return [&c, type, rate_prefix, f](const HttpRequest &req, const HttpReply &reply) {
    Caller who;
    if (Failure fail = authenticate(c, req, type, rate_prefix, who)) return reply(from(fail));
    reply(f(req, who));
  };
}

std::string bearer(const HttpRequest &req)
{
  std::string auth = req.header("authorization");
  if (auth.size() >= 7) {
    std::string head = auth.substr(0, 7);
    for (char &ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (head == "bearer ") return trim(auth.substr(7));
  }
  return req.query_param("token").value_or("");
}

}  // namespace

Failure authenticate(Control &control, const HttpRequest &req, TokenType need, const char *rate_prefix, Caller &out)
{
  std::string token = bearer(req);
  auto rec = token.empty() ? std::nullopt : control.tokens->authenticate(token, need);
  if (!rec) return {401, "unauthorized"};
  auto verdict = control.limiter.check(rate_prefix + rec->token_id);
  if (!verdict.allowed) return {429, "rate limited", std::to_string(verdict.retry_after.count())};
  out.token = *rec;
  return {};
}

bool is_admin(const Control &control, const HttpRequest &req)
{
  std::string token = bearer(req);
  return !token.empty() && control.tokens->authenticate(token, TokenType::admin).has_value();
}

void install_rest(Control &c, Router &r)
{
  r.mount("/api/", [&c](const HttpRequest &req, const HttpReply &reply) {
    if (req.path == "/api/healthz") return reply(json_ok("{\"ok\":true}"));
    Caller who;
    if (Failure f = authenticate(c, req, TokenType::ui, "ui:", who)) return reply(from(f));
    reply(Api(c, req, who).route());
  }, text_error);
  r.mount("/admin/", guarded(c, TokenType::admin, "admin:", [&c](const HttpRequest &req, const Caller &who) {
            return Admin(c, req).route(who);
          }), text_error);
  r.mount("/tenant/", guarded(c, TokenType::tenant, "tenant:", [&c](const HttpRequest &req, const Caller &who) {
            if (req.path == "/tenant/verify")
              return req.method == "GET" || req.method == "POST" ? tenant_verify(req, who) : text_error(405, "method not allowed");
            if (req.path == "/tenant/tokens")
              return req.method == "POST" ? tenant_rotate(c, req, who) : text_error(405, "method not allowed");
            return text_error(404, "not found");
          }), text_error);
}

}  // namespace ccbridge::detail::server::cc_control
