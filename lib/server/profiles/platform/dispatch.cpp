// Agent platform: the dispatcher in front of every REST route (see rest.cpp).
#include "server/profiles/platform/rest.hpp"

#include <ccbridge/error.hpp>

#include <memory>

namespace ccbridge::detail::server::platform {

namespace {

constexpr std::string_view kPrefix = "/v1";

// The pattern's {name} segments into params; true when `path` matches.
bool match(std::string_view pattern, std::string_view path, std::map<std::string, std::string> &params)
{
  params.clear();
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    std::size_t pe = pattern.find('/'), se = path.find('/');
    std::string_view pseg = pattern.substr(0, pe), sseg = path.substr(0, se);
    if (pseg.size() > 2 && pseg.front() == '{' && pseg.back() == '}') {
      if (sseg.empty()) return false;
      params[std::string(pseg.substr(1, pseg.size() - 2))] = std::string(sseg);
    } else if (pseg != sseg) {
      return false;
    }
    pattern.remove_prefix(pe == std::string_view::npos ? pattern.size() : pe);
    path.remove_prefix(se == std::string_view::npos ? path.size() : se);
  }
  return true;
}

// An API-Version header or ?version= other than v1 / v1.0 is refused, never served as v1.
void check_version(const HttpRequest &req)
{
  std::string asked = req.header("api-version");
  if (asked.empty()) asked = req.query_param("version").value_or("");
  if (!asked.empty() && asked != "v1.0" && asked != "v1" && asked != "1.0")
    fail(400, "INVALID_INPUT", "API version " + quoted(asked) + " is not supported; supported: v1.0",
         "{\"supported\":[\"v1.0\"]}");
}

struct Answer {
  Platform *p = nullptr;
  HttpReply reply;
  std::string request_id, method, path, user_id;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  bool sent = false;

  void send(int status, std::string body)
  {
    if (sent) return;
    sent = true;
    measure(status);
    HttpResponse r = HttpResponse::json(status, std::move(body));
    r.headers = headers;
    r.headers.emplace_back("API-Version", "v1.0");
    r.headers.emplace_back("X-Request-Id", request_id);
    reply(std::move(r));
  }

  // The call's time for /monitoring/metrics, and the audit log line security.auditLevel asks:
  // minimal none, standard the changes (every method but GET), detailed every call.
  void measure(int status)
  {
    if (!p) return;
    p->monitor().request_done(status, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    const std::string &level = p->config().audit_level;
    if (level == "minimal" || (level == "standard" && method == "GET")) return;
    p->ctx.log.info("platform_audit", {{"requestId", request_id}, {"method", method}, {"path", utf8_or_replaced(path.substr(0, 256))},
                                       {"status", std::to_string(status)}, {"userId", user_id}});
  }
};

// The seed's code for an error the server answers itself, by status.
const char *code_for_status(int status)
{
  switch (status) {
  case 401: return "AUTH_REQUIRED";
  case 403: return "RESOURCE_FORBIDDEN";
  case 429:
  case 503: return "SERVICE_UNAVAILABLE";
  default: return status >= 500 ? "INTERNAL_ERROR" : "INVALID_INPUT";
  }
}

// A 405 names the path's methods in Allow (RFC 9110 15.5.6), added to `a`.
const Route *find_route(const HttpRequest &req, std::string_view sub, std::map<std::string, std::string> &params,
                        Answer &a)
{
  std::string allow;
  for (const auto &r : routes()) {
    if (!match(r.path, sub, params)) continue;
    if (req.method == r.method) return &r;
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
  }
  if (!allow.empty()) {
    a.headers.emplace_back("Allow", allow);
    fail(405, "INVALID_INPUT", "method " + req.method + " is not allowed on " + quoted(req.path) + "; allowed: " + allow);
  }
  fail(404, "INVALID_INPUT", "no such endpoint: " + req.method + " " + quoted(req.path),
       "{\"path\":" + json_str(utf8_or_replaced(req.path.substr(0, 256))) + "}");
}

std::string bearer_of(const HttpRequest &req)
{
  std::string h = req.header("authorization");
  if (h.empty()) return {};
  if (h.size() < 7 || (h.compare(0, 7, "Bearer ") != 0 && h.compare(0, 7, "bearer ") != 0))
    fail(401, "INVALID_TOKEN", "the Authorization header must be 'Bearer <token>'");
  return h.substr(7);
}

void rate_limit(Platform &p, const Caller &c, Answer &a)
{
  auto d = p.limiter().check("user:" + c.user.id);
  a.headers.emplace_back("X-RateLimit-Limit", std::to_string(d.limit));
  a.headers.emplace_back("X-RateLimit-Remaining", std::to_string(d.remaining));
  a.headers.emplace_back("X-RateLimit-Reset", std::to_string(now_unix() + d.reset_after.count()));
  if (d.allowed) return;
  a.headers.emplace_back("Retry-After", std::to_string(d.retry_after.count()));
  fail(429, "SERVICE_UNAVAILABLE", "rate limit of " + std::to_string(d.limit) + " requests per hour exceeded",
       "{\"retryAfter\":" + std::to_string(d.retry_after.count()) + "}");
}

// The seed's versioning section also names /api/v1/... as the URL form: served as /v1/..., marked
// deprecated (Deprecation, Sunset, and the successor in Link) -- the mechanism the seed's
// deprecation policy describes, with its six months of transition.
constexpr std::string_view kLegacyPrefix = "/api/v1";
constexpr const char *kLegacySunset = "Wed, 30 Jun 2027 23:59:59 GMT";

std::string_view unaliased(std::string_view path, Answer &a)
{
  if (path.substr(0, kLegacyPrefix.size()) != kLegacyPrefix) return path;
  if (path.size() > kLegacyPrefix.size() && path[kLegacyPrefix.size()] != '/') return path;
  path.remove_prefix(4);  // "/api"
  a.headers.emplace_back("Deprecation", "true");
  a.headers.emplace_back("Sunset", kLegacySunset);
  a.headers.emplace_back("Link", "<" + std::string(path) + ">; rel=\"successor-version\"");
  return path;
}

void run(Platform &p, const HttpRequest &req, const std::shared_ptr<Answer> &a)
{
  std::string_view path = unaliased(req.path, *a);
  if (path.substr(0, kPrefix.size()) != kPrefix || (path.size() > kPrefix.size() && path[kPrefix.size()] != '/'))
    fail(404, "INVALID_INPUT", "the API is under /v1 (" + quoted(req.path) + " is not)",
         "{\"path\":" + json_str(utf8_or_replaced(req.path.substr(0, 256))) + "}");
  check_version(req);
  HttpRequest routed = req;
  const Route *route = find_route(routed, path.substr(kPrefix.size()), routed.params, *a);
  Call call(routed, [a](int status, std::string body) { a->send(status, std::move(body)); });
  call.request_id = a->request_id;
  if (route->permission) {
    call.caller = p.authenticate(bearer_of(req));
    a->user_id = call.caller.user.id;
    rate_limit(p, call.caller, *a);
    if (*route->permission && !call.caller.can(route->permission))
      fail(403, "INSUFFICIENT_PERMISSIONS", std::string("this needs the permission ") + route->permission,
           std::string("{\"required\":") + json_str(route->permission) + "}");
  }
  route->handler(p, call);
}

}  // namespace

const JsonValue &Call::body()
{
  if (parsed_) return body_;
  parsed_ = true;
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    body_.SetObject();
    return body_;
  }
  body_ = parse_object(req.body);
  if (!body_.IsObject()) fail(422, "INVALID_INPUT", "the body must be a JSON object");
  return body_;
}

std::function<void(int, const std::string &)> Call::later()
{
  auto answer = answer_;
  return [answer](int status, const std::string &data) { answer(status, ok_envelope(data)); };
}

void dispatch(Platform &p, const HttpRequest &req, HttpReply reply)
{
  auto a = std::make_shared<Answer>();
  a->p = &p;
  a->method = req.method;
  a->path = req.path;
  a->reply = std::move(reply);
  a->request_id = new_id("req_");
  try {
    run(p, req, a);
  } catch (const ApiFailure &f) {
    if (f.error.status >= 500)
      p.ctx.log.warn("platform_error", {{"requestId", a->request_id}, {"code", f.error.code}, {"message", f.error.message}});
    else
      p.ctx.log.debug("platform_refused", {{"requestId", a->request_id}, {"code", f.error.code}, {"status", std::to_string(f.error.status)}});
    a->send(f.error.status, error_envelope(f.error, a->request_id));
  } catch (const std::exception &e) {
    p.ctx.log.error("platform_error", {{"requestId", a->request_id}, {"path", req.path}, {"what", e.what()}});
    a->send(500, error_envelope(ApiError{500, "INTERNAL_ERROR", "internal error (request " + a->request_id + ")", ""},
                                a->request_id));
  }
}

HttpResponse error_response(int status, const std::string &message)
{
  std::string request_id = new_id("req_");
  // A handler's exception text stays in the log (dispatch catches them all before this anyway).
  ApiError e{status, code_for_status(status), status == 500 ? "internal error" : message, ""};
  HttpResponse r = HttpResponse::json(status, error_envelope(e, request_id));
  r.headers.emplace_back("API-Version", "v1.0");
  r.headers.emplace_back("X-Request-Id", request_id);
  return r;
}

std::string required_string(const JsonValue &body, const char *field, std::size_t max_bytes)
{
  const JsonValue *v = member(body, field);
  if (!v || v->IsNull()) bad_field(field, std::string("'") + field + "' is required", true);
  if (!v->IsString()) bad_field(field, std::string("'") + field + "' must be a string");
  if (v->GetStringLength() == 0) bad_field(field, std::string("'") + field + "' must not be empty");
  if (v->GetStringLength() > max_bytes)
    bad_field(field, std::string("'") + field + "' is longer than " + std::to_string(max_bytes) + " bytes");
  return std::string(v->GetString(), v->GetStringLength());
}

void check_string_list(const JsonValue &obj, const char *field_path, const char *key)
{
  const JsonValue *v = member(obj, key);
  if (!v || v->IsNull()) return;
  bool ok = v->IsArray() && v->Size() <= 100;
  if (ok)
    for (const auto &e : v->GetArray()) ok = ok && e.IsString() && e.GetStringLength() <= 4096;
  if (!ok) bad_field(field_path, std::string("'") + field_path + "' must be a list of at most 100 strings");
}

}  // namespace ccbridge::detail::server::platform
