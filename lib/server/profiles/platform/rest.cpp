// Agent platform: the REST API under /v1. One table of routes (method, path, permission, handler)
// is the whole API: the dispatcher checks in this order the version, the route, the token, the
// rate limit and the permission, before a handler reads anything, so a refused write leaves
// nothing behind. Every answer has the seed's envelope, a requestId (also logged) and the
// API-Version header.
#include "server/profiles/platform/rest.hpp"
#include "server/profiles/platform/tools.hpp"

#include <algorithm>

namespace ccbridge::detail::server::platform {

namespace {

constexpr const char *kApiVersion = "v1.0";

// ---- helpers for handlers ----------------------------------------------------------------------

int int_param(const HttpRequest &req, const char *name, int fallback, int lo, int hi)
{
  auto v = req.query_param(name);
  if (!v) return fallback;
  char *end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < lo || n > hi)
    bad_field(name, std::string("'") + name + "' must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<int>(n);
}

Page page_of(const HttpRequest &req)
{
  return Page{int_param(req, "page", 1, 1, 1000000), int_param(req, "limit", 20, 1, 100)};
}

std::string pagination(const Page &p, std::int64_t total)
{
  return "{\"total\":" + std::to_string(total) + ",\"page\":" + std::to_string(p.page) + ",\"limit\":" +
         std::to_string(p.limit) + ",\"totalPages\":" + std::to_string((total + p.limit - 1) / p.limit) + "}";
}

// ---- sessions ----------------------------------------------------------------------------------

void list_sessions(Platform &p, Call &c)
{
  SessionFilter f;
  f.user_id = c.caller.user.id;
  f.status = enum_param(c.req, "status", {"active", "completed", "error"});
  f.agent = c.req.query_param("agent").value_or("");
  f.search = c.req.query_param("search").value_or("");
  f.page = page_of(c.req);
  auto list = p.store().sessions(f);
  std::string items;
  for (const auto &s : list.rows) items += (items.empty() ? "" : ",") + p.session_json(s, false);
  c.ok(200, "{\"sessions\":[" + items + "],\"pagination\":" + pagination(f.page, list.total) + "}");
}

void create_session(Platform &p, Call &c)
{
  const JsonValue &b = c.body();
  std::string name = required_string(b, "name", 256);
  std::string agent_id = required_string(b, "agentId", 128);
  const JsonValue *config = member(b, "config");
  if (config && !config->IsNull() && !config->IsObject()) bad_field("config", "'config' must be an object");
  JsonDocument d(rapidjson::kObjectType);
  Json j(d);
  JsonValue conf(rapidjson::kObjectType), meta(rapidjson::kObjectType);
  if (config && config->IsObject()) {
    conf = j.copy(*config);
    check_string_list(*config, "config.rules", "rules");
    check_string_list(*config, "config.skills", "skills");
    const JsonValue *m = member(*config, "metadata");
    if (m && !m->IsNull() && !m->IsObject()) bad_field("config.metadata", "'config.metadata' must be an object");
    if (m && m->IsObject()) meta = j.copy(*m);
    const JsonValue *path = member(*config, "projectPath");
    if (path && !path->IsNull() && !path->IsString()) bad_field("config.projectPath", "'config.projectPath' must be a string");
    if (path && path->IsString()) {
      std::string resolved, why;
      DirectoryHandle dir;
      if (!p.ctx.resolve_cwd(path->GetString(), resolved, dir, why))
        fail(403, "RESOURCE_FORBIDDEN", why, "{\"field\":\"config.projectPath\"}");
      j.set(meta, "projectPath", path->GetString());
    }
  }
  JsonDocument agent = p.agent_doc(agent_id);
  if (!agent.IsObject())
    fail(404, "AGENT_NOT_FOUND", "no agent " + quoted(agent_id), "{\"agentId\":" + json_str(agent_id) + "}");
  SessionRow s;
  s.id = new_id("sess_");
  s.user_id = c.caller.user.id;
  s.name = name;
  s.status = "active";
  s.agent_id = agent_id;
  s.created_at = s.updated_at = now_iso();
  j.set(d, "id", s.id);
  j.set(d, "name", name);
  j.set(d, "status", "active");
  JsonDocument summary = parse_object(p.agent_summary(agent_id));
  j.set(d, "agent", j.copy(summary));
  j.set(d, "createdAt", s.created_at);
  j.set(d, "updatedAt", s.created_at);
  j.set(d, "lastActivity", s.created_at);
  j.set(d, "taskCount", 0);
  j.set(d, "metadata", std::move(meta));
  j.set(d, "config", std::move(conf));
  s.doc = to_json(d);
  p.store().put_session(s);
  c.ok(201, "{\"session\":" + p.session_json(s, false) + "}");
}

void get_session(Platform &p, Call &c)
{
  SessionRow s = p.own_session(c.caller, c.req.params.at("sessionId"));
  c.ok(200, "{\"session\":" + p.session_json(s, true) + "}");
}

void delete_session(Platform &p, Call &c)
{
  SessionRow s = p.own_session(c.caller, c.req.params.at("sessionId"));
  p.delete_session(s);
  c.ok(200, "", "session " + s.id + " deleted");
}

// ---- tasks -------------------------------------------------------------------------------------

void submit_task(Platform &p, Call &c)
{
  const JsonValue &b = c.body();
  bool async = false;
  if (const JsonValue *o = member(b, "options"); o && o->IsObject())
    if (const JsonValue *a = member(*o, "async"); a && a->IsBool()) async = a->GetBool();
  TaskRow t = p.submit_task(c.caller, b, false);
  if (async || t.status == "completed" || t.status == "failed" || t.status == "cancelled")
    return c.ok(201, "{\"task\":" + p.task_json(t, true) + "}");
  auto done = c.later();
  p.wait_for(t.id, [done](const std::string &task) { done(201, "{\"task\":" + task + "}"); });
}

void list_tasks(Platform &p, Call &c)
{
  TaskFilter f;
  f.user_id = c.caller.user.id;
  f.session_id = c.req.query_param("sessionId").value_or("");
  f.status = enum_param(c.req, "status", {"pending", "planning", "executing", "reviewing", "completed", "failed", "cancelled"});
  f.type = enum_param(c.req, "type", {"chat", "command", "file_operation"});
  std::string sort = enum_param(c.req, "sortBy", {"createdAt", "updatedAt", "priority"});
  if (!sort.empty()) f.sort_by = sort;
  f.ascending = enum_param(c.req, "sortOrder", {"asc", "desc"}) == "asc";
  f.page = page_of(c.req);
  auto list = p.store().tasks(f);
  std::string items;
  for (const auto &t : list.rows) items += (items.empty() ? "" : ",") + p.task_json(t);
  c.ok(200, "{\"tasks\":[" + items + "],\"pagination\":" + pagination(f.page, list.total) + "}");
}

void get_task(Platform &p, Call &c)
{
  TaskRow t = p.own_task(c.caller, c.req.params.at("taskId"));
  c.ok(200, "{\"task\":" + p.task_json(t) + "}");
}

void cancel_task(Platform &p, Call &c)
{
  TaskRow before = p.own_task(c.caller, c.req.params.at("taskId"));
  TaskRow t = p.cancel_task(c.caller, before.id);
  bool cancelled = t.status == "cancelled";
  c.ok(200, "{\"task\":" + p.task_json(t) + "}",
       cancelled ? "task " + t.id + " cancelled" : "task " + t.id + " had already ended (" + t.status + ")");
}

void list_tools(Platform &p, Call &c) { p.tools().list(c); }
void list_tool_servers(Platform &p, Call &c) { p.tools().list_servers(c); }
void execute_tool(Platform &p, Call &c) { p.tools().execute(c); }
void restart_tool_server(Platform &p, Call &c) { p.tools().restart(c); }

}  // namespace

std::string enum_param(const HttpRequest &req, const char *name, std::initializer_list<const char *> allowed)
{
  auto v = req.query_param(name);
  if (!v || v->empty()) return {};
  for (const char *a : allowed)
    if (*v == a) return *v;
  std::string list;
  for (const char *a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  bad_field(name, std::string("'") + name + "' must be one of " + list);
}

// ---- the table ---------------------------------------------------------------------------------

const std::vector<Route> &routes()
{
  static const std::vector<Route> table{
      {"POST", "/auth/login", nullptr, auth_login},
      {"POST", "/auth/refresh", nullptr, auth_refresh},
      {"POST", "/auth/logout", "", auth_logout},
      {"GET", "/sessions", "session:read", list_sessions},
      {"POST", "/sessions", "session:create", create_session},
      {"GET", "/sessions/{sessionId}", "session:read", get_session},
      {"DELETE", "/sessions/{sessionId}", "session:delete", delete_session},
      {"POST", "/tasks", "task:submit", submit_task},
      {"GET", "/tasks", "task:read", list_tasks},
      {"GET", "/tasks/{taskId}", "task:read", get_task},
      {"POST", "/tasks/{taskId}/cancel", "task:cancel", cancel_task},
      {"GET", "/agents", "agent:read", list_agents},
      {"POST", "/agents", "agent:create", create_agent},
      {"GET", "/agents/{agentId}", "agent:read", get_agent},
      {"PUT", "/agents/{agentId}", "agent:configure", update_agent},
      {"DELETE", "/agents/{agentId}", "agent:configure", delete_agent},
      {"GET", "/tools", "tool:read", list_tools},
      {"POST", "/tools/execute", "tool:execute", execute_tool},
      {"GET", "/tools/servers", "tool:read", list_tool_servers},
      {"POST", "/tools/servers/{serverId}/restart", "config:write", restart_tool_server},
      {"GET", "/users", "admin:users", list_users},
      {"POST", "/users", "admin:users", create_user},
      {"PATCH", "/users/{userId}", "admin:users", update_user},
      {"GET", "/config", "config:read", get_config},
      {"PUT", "/config", "config:write", put_config},
      {"GET", "/monitoring/health", "admin:monitoring", monitoring_health},
      {"GET", "/monitoring/metrics", "admin:monitoring", monitoring_metrics},
      {"GET", "/openapi.json", nullptr, openapi},
  };
  return table;
}

}  // namespace ccbridge::detail::server::platform
