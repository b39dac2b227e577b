// Agent platform: GET /v1/openapi.json, an OpenAPI 3.1 document made from the route table itself
// (rest.cpp), so no route can be missing from it: each route's path, method, parameters and
// security come from the table; what the table does not say (success status, query parameters,
// body schema) comes from kDetails below, and a route without details is an error at start.
#include "server/profiles/platform/rest.hpp"

#include <ccbridge/error.hpp>

namespace ccbridge::detail::server::platform {

namespace {

struct Details {
  const char *key;      ///< "METHOD /path"
  int status;           ///< on success
  const char *summary;
  const char *query;    ///< JSON array of parameter objects, or ""
  const char *body;     ///< a schema (JSON) of the request body, or ""
  const char *errors;   ///< the error statuses it answers besides 401/403/429/500
  const char *result = nullptr;  ///< the success body's schema when it is not the envelope
};

const char *const kPage =
    R"({"name":"page","in":"query","schema":{"type":"integer","minimum":1,"maximum":1000000}},)"
    R"({"name":"limit","in":"query","schema":{"type":"integer","minimum":1,"maximum":100}})";

const char *const kStr = R"({"type":"string","minLength":1})";

const Details kDetails[] = {
    {"POST /auth/login", 200, "Log in with email and password", "",
     R"({"type":"object","required":["email","password"],"properties":{"email":{"type":"string","minLength":1},"password":{"type":"string","minLength":1},"remember":{"type":"boolean"}}})",
     "401,422,429,503"},
    {"POST /auth/refresh", 200, "New tokens for a refresh token (rotated)", "",
     R"({"type":"object","required":["refreshToken"],"properties":{"refreshToken":{"type":"string","minLength":1}}})", "401,422,429"},
    {"POST /auth/logout", 200, "Revoke this login's tokens", "", "", ""},
    {"GET /sessions", 200, "List your sessions", "list-sessions", "", "422"},
    {"POST /sessions", 201, "Create a session", "",
     R"({"type":"object","required":["name","agentId"],"properties":{"name":{"type":"string","minLength":1,"maxLength":256},"agentId":{"type":"string","minLength":1,"maxLength":128},"config":{"type":"object","properties":{"projectPath":{"type":"string"},"rules":{"type":"array","items":{"type":"string"}},"skills":{"type":"array","items":{"type":"string"}},"metadata":{"type":"object"}}}}})",
     "404,422"},
    {"GET /sessions/{sessionId}", 200, "A session with its tasks, configuration and statistics", "", "", "404"},
    {"DELETE /sessions/{sessionId}", 200, "Delete a session (its CLI is stopped)", "", "", "404"},
    {"POST /tasks", 201, "Submit a task (one turn of the session's conversation)", "",
     R"({"type":"object","required":["sessionId","content"],"properties":{"sessionId":{"type":"string","minLength":1},"content":{"type":"string","minLength":1},"type":{"enum":["chat","command","file_operation"]},"context":{"type":"object"},"options":{"type":"object","properties":{"agentId":{"type":"string"},"priority":{"enum":["low","normal","high"]},"timeout":{"type":"integer","minimum":1,"maximum":86400000},"async":{"type":"boolean"}}}}})",
     "404,422,503"},
    {"GET /tasks", 200, "List your tasks", "list-tasks", "", "422"},
    {"GET /tasks/{taskId}", 200, "A task's status, progress and result", "", "", "404"},
    {"POST /tasks/{taskId}/cancel", 200, "Cancel a task", "", "", "404"},
    {"GET /agents", 200, "Agents", "", "", ""},
    {"POST /agents", 201, "Create a custom agent", "",
     R"({"type":"object","required":["name","description","configuration"],"properties":{"name":{"type":"string","minLength":1,"maxLength":256},"description":{"type":"string","minLength":1,"maxLength":4096},"configuration":{"type":"object","required":["model"],"properties":{"model":{"type":"string","pattern":"^[A-Za-z0-9._:/@\\[\\]][-A-Za-z0-9._:/@\\[\\]]{0,127}$"},"maxTokens":{"type":"number"},"temperature":{"type":"number"},"tools":{"type":"array","items":{"type":"string"}},"permissions":{"type":"array","items":{"type":"string"}},"systemPrompt":{"type":"string"},"permissionMode":{"enum":["default","acceptEdits","plan","bypassPermissions"]}}},"skills":{"type":"array","items":{"type":"string"}},"rules":{"type":"array","items":{"type":"string"}}}})",
     "422"},
    {"GET /agents/{agentId}", 200, "An agent", "", "", "404"},
    {"PUT /agents/{agentId}", 200, "Update an agent (configuration merged)", "",
     R"({"type":"object","properties":{"name":{"type":"string","minLength":1},"description":{"type":"string","minLength":1},"configuration":{"type":"object"},"status":{"enum":["available","busy","offline"]}}})",
     "404,422"},
    {"DELETE /agents/{agentId}", 200, "Delete a custom agent", "", "", "404"},
    {"GET /tools", 200, "Tools of every server (Claude Code's own, local-filesystem, configured MCP servers)",
     "list-tools", "", "422"},
    {"POST /tools/execute", 200, "Run one tool directly (no model)", "",
     R"({"type":"object","required":["toolId","parameters"],"properties":{"toolId":{"type":"string","minLength":1,"maxLength":256},"server":{"type":"string"},"parameters":{"type":"object"},"sessionId":{"type":"string"},"timeout":{"type":"number","minimum":1,"maximum":600000}}})",
     "404,422,503,504"},
    {"GET /tools/servers", 200, "Tool servers and their summary", "", "", ""},
    {"POST /tools/servers/{serverId}/restart", 200, "Restart a tool server (config:write)", "", "", "404"},
    {"GET /users", 200, "Users (admin:users)", "", "", ""},
    {"POST /users", 201, "Create a user (admin:users)", "",
     R"({"type":"object","required":["email","password"],"properties":{"email":{"type":"string","maxLength":320,"pattern":"@"},"password":{"type":"string","minLength":8,"maxLength":1024},"name":{"type":"string","minLength":1,"maxLength":256},"permissions":{"oneOf":[{"type":"string"},{"type":"array","items":{"type":"string"}}]}}})",
     "422"},
    {"PATCH /users/{userId}", 200, "Change a user (admin:users)", "",
     R"({"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":256},"password":{"type":"string","minLength":8,"maxLength":1024},"disabled":{"type":"boolean"},"permissions":{"oneOf":[{"type":"string"},{"type":"array","items":{"type":"string"}}]}}})",
     "404,422"},
    {"GET /config", 200, "The system configuration, secrets masked", "config", "", "422",
     R"({"type":"object","required":["success","data"],"properties":{"success":{"const":true},"data":{"type":"object","required":["config"],"properties":{"config":{"$ref":"#/components/schemas/SystemConfiguration"}}}}})"},
    {"PUT /config", 200, "Change one section (a JSON merge patch, RFC 7396)", "",
     R"({"type":"object","required":["section","config"],"additionalProperties":false,"properties":{"section":{"enum":["platform","agents","tools","security"]},"config":{"type":"object"}}})",
     "422",
     R"({"type":"object","required":["success","message","data"],"properties":{"success":{"const":true},"message":{"type":"string"},"data":{"type":"object","required":["config"],"properties":{"config":{"$ref":"#/components/schemas/SystemConfiguration"}}}}})"},
    {"GET /monitoring/health", 200, "Health of the platform's services", "", "", "",
     R"({"type":"object","required":["success","data"],"properties":{"success":{"const":true},"data":{"$ref":"#/components/schemas/Health"}}})"},
    {"GET /monitoring/metrics", 200, "Time series of the platform's metrics", "metrics", "", "422",
     R"({"type":"object","required":["success","data"],"properties":{"success":{"const":true},"data":{"$ref":"#/components/schemas/Metrics"}}})"},
    {"GET /openapi.json", 200, "This document", "", "", "",
     R"({"type":"object","required":["openapi","info","paths"]})"},
};

const char *const kMonitoringSchemas =
    R"("ServiceHealth":{"type":"object","required":["status","lastCheck"],"properties":{"status":{"enum":["online","offline","degraded"]},"lastCheck":{"type":"string"},"responseTime":{"type":"number"},"error":{"type":"string"},"details":{"type":"object"}}},)"
    R"("Health":{"type":"object","required":["status","timestamp","services","overall"],"properties":{"status":{"enum":["healthy","degraded","unhealthy"]},"timestamp":{"type":"string"},)"
    R"("services":{"type":"object","required":["api","database","claude-cli","store-disk"],"additionalProperties":{"$ref":"#/components/schemas/ServiceHealth"}},)"
    R"("overall":{"type":"object","required":["uptime","version","environment"],"properties":{"uptime":{"type":"integer","minimum":0},"version":{"type":"string"},"environment":{"type":"string"}}}}},)"
    R"("Metrics":{"type":"object","required":["timeRange","granularity","metrics"],"properties":{"timeRange":{"enum":["1h","6h","24h","7d","30d"]},"granularity":{"enum":["1m","5m","1h","1d"]},)"
    R"("metrics":{"type":"object","additionalProperties":{"type":"array","items":{"type":"object","required":["timestamp","value"],"properties":{"timestamp":{"type":"string"},"value":{"type":"number"},"tags":{"type":"object","additionalProperties":{"type":"string"}}}}}}}})";

const char *const kConfigSchemas =
    R"("MCPServerConfig":{"type":"object","required":["type"],"properties":{"type":{"enum":["stdio","http"]},"command":{"type":"string"},"args":{"type":"array","items":{"type":"string"}},)"
    R"("env":{"type":"object","additionalProperties":{"type":"string"}},"url":{"type":"string"},"headers":{"type":"object","additionalProperties":{"type":"string"}},"enabled":{"type":"boolean"},"timeout":{"type":"integer"}}},)"
    R"("SystemConfiguration":{"type":"object","properties":{)"
    R"("platform":{"type":"object","required":["version","mode","features"],"properties":{"version":{"type":"string"},"mode":{"enum":["development","production"]},"features":{"type":"object","additionalProperties":{"type":"boolean"}}}},)"
    R"("agents":{"type":"object","required":["default","available","configurations"],"properties":{"default":{"type":"string"},"available":{"type":"array","items":{"type":"string"}},"configurations":{"type":"object","additionalProperties":{"type":"object"}}}},)"
    R"("tools":{"type":"object","required":["mcpServers","defaultTimeout","maxConcurrent"],"properties":{"mcpServers":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/MCPServerConfig"}},"defaultTimeout":{"type":"integer"},"maxConcurrent":{"type":"integer"}}},)"
    R"("security":{"type":"object","required":["authentication","permissions","auditLevel"],"properties":{"authentication":{"type":"boolean"},"permissions":{"type":"object","additionalProperties":{"type":"array","items":{"type":"string"}}},"auditLevel":{"enum":["minimal","standard","detailed"]}}}}})";

const Details &details_of(const Route &r)
{
  std::string key = std::string(r.method) + " " + r.path;
  for (const auto &d : kDetails)
    if (key == d.key) return d;
  throw Error(errc::internal, "platform: the OpenAPI document has no details for " + key);
}

std::string query_params(const char *kind)
{
  std::string k = kind;
  if (k == "list-sessions")
    return std::string(kPage) + R"(,{"name":"status","in":"query","schema":{"enum":["active","completed","error"]}},)" +
           R"({"name":"agent","in":"query","schema":{"type":"string"}},{"name":"search","in":"query","schema":{"type":"string"}})";
  if (k == "list-tasks")
    return std::string(kPage) + R"(,{"name":"sessionId","in":"query","schema":{"type":"string"}},)" +
           R"({"name":"status","in":"query","schema":{"enum":["pending","planning","executing","reviewing","completed","failed","cancelled"]}},)" +
           R"({"name":"type","in":"query","schema":{"enum":["chat","command","file_operation"]}},)" +
           R"({"name":"sortBy","in":"query","schema":{"enum":["createdAt","updatedAt","priority"]}},)" +
           R"({"name":"sortOrder","in":"query","schema":{"enum":["asc","desc"]}})";
  if (k == "config")
    return R"({"name":"section","in":"query","schema":{"enum":["platform","agents","tools","security"]}},)"
           R"({"name":"includeSecrets","in":"query","schema":{"enum":["true","false"]}})";
  if (k == "metrics")
    return R"({"name":"timeRange","in":"query","schema":{"enum":["1h","6h","24h","7d","30d"]}},)"
           R"({"name":"granularity","in":"query","schema":{"enum":["1m","5m","1h","1d"]}},)"
           R"({"name":"metrics","in":"query","schema":{"type":"string"},"description":"comma-separated names"})";
  if (k == "list-tools")
    return R"({"name":"category","in":"query","schema":{"enum":["file","shell","network","database","custom"]}},)"
           R"({"name":"server","in":"query","schema":{"type":"string"}},)"
           R"({"name":"available","in":"query","schema":{"enum":["true","false"]}})";
  return {};
}

std::string operation(const Route &r)
{
  const Details &d = details_of(r);
  std::string params;
  for (std::string_view p = r.path; p.find('{') != std::string_view::npos;) {
    p.remove_prefix(p.find('{') + 1);
    std::string name(p.substr(0, p.find('}')));
    params += (params.empty() ? "" : ",") + std::string(R"({"name":")") + name + R"(","in":"path","required":true,"schema":)" + kStr + "}";
  }
  std::string q = query_params(d.query);
  if (!q.empty()) params += (params.empty() ? "" : ",") + q;
  params += std::string(params.empty() ? "" : ",") +
            R"({"name":"API-Version","in":"header","schema":{"enum":["v1.0","v1","1.0"]}})";
  std::string success = d.result ? d.result : R"({"$ref":"#/components/schemas/Success"})";
  std::string responses = "\"" + std::to_string(d.status) + R"(":{"description":"success","content":{"application/json":{"schema":)" + success + "}}}";
  std::string errors = std::string("400,405") + (r.permission ? ",401,429" : "") +
                       (r.permission && *r.permission ? ",403" : "") + (*d.errors ? "," : "") + d.errors + ",500";
  for (std::size_t i = 0; i < errors.size(); i += 4)
    responses += ",\"" + errors.substr(i, 3) + R"(":{"description":"error","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}})";
  std::string op = std::string(R"({"summary":)") + json_str(d.summary) + R"(,"operationId":)" +
                   json_str(std::string(r.method) + r.path) + R"(,"parameters":[)" + params + "]";
  if (*d.body) op += std::string(R"(,"requestBody":{"required":true,"content":{"application/json":{"schema":)") + d.body + "}}}";
  op += r.permission ? R"(,"security":[{"bearer":[]}])" : R"(,"security":[])";
  if (r.permission && *r.permission) op += std::string(R"(,"x-permission":")") + r.permission + "\"";
  return op + R"(,"responses":{)" + responses + "}}";
}

std::string paths()
{
  std::vector<std::string> order;
  std::map<std::string, std::string> ops;
  for (const auto &r : routes()) {
    std::string method = r.method;
    for (auto &ch : method) ch = static_cast<char>(ch - 'A' + 'a');
    auto &slot = ops[r.path];
    if (slot.empty()) order.push_back(r.path);
    slot += (slot.empty() ? "" : ",") + json_str(method) + ":" + operation(r);
  }
  std::string out;
  for (const auto &p : order) out += (out.empty() ? "" : ",") + json_str(p) + ":{" + ops[p] + "}";
  return out;
}

}  // namespace

void openapi(Platform &, Call &c)
{
  static const std::string doc =
      std::string(R"({"openapi":"3.1.0","info":{"title":"ccbridge agent platform, seed 001","version":"v1.0"},)") +
      R"("servers":[{"url":"/v1"}],"paths":{)" + paths() +
      R"(},"components":{"securitySchemes":{"bearer":{"type":"http","scheme":"bearer","bearerFormat":"JWT"}},)"
      R"("schemas":{"Success":{"type":"object","required":["success"],"properties":{"success":{"const":true},"message":{"type":"string"},"data":{}}},)"
      R"("Error":{"type":"object","required":["success","error"],"properties":{"success":{"const":false},"error":{"type":"object","required":["code","message","timestamp","requestId"],)"
      R"("properties":{"code":{"enum":["AUTH_REQUIRED","TOKEN_EXPIRED","INVALID_TOKEN","INSUFFICIENT_PERMISSIONS","RESOURCE_FORBIDDEN","SESSION_NOT_FOUND","TASK_NOT_FOUND","AGENT_NOT_FOUND","INVALID_INPUT","MISSING_REQUIRED_FIELD","INTERNAL_ERROR","SERVICE_UNAVAILABLE","TIMEOUT_ERROR"]},)"
      R"("message":{"type":"string"},"details":{},"timestamp":{"type":"string"},"requestId":{"type":"string"}}}}},)" +
      kMonitoringSchemas + "," + kConfigSchemas + "}}}";
  c.raw(200, doc);
}

}  // namespace ccbridge::detail::server::platform
