// Agent platform: agents. The built-in ones (build, plan, general) are seeded into the store at
// start and cannot be deleted; custom agents map onto CLI options (engine.cpp options_for): model,
// tools (allowed tools), permissionMode, systemPrompt with rules and skills appended. maxTokens
// and temperature have no CLI option: they are stored and shown, and `notApplied` says so.
#include "server/profiles/platform/permissions.hpp"
#include "server/profiles/platform/rest.hpp"

namespace ccbridge::detail::server::platform {

namespace {

struct Builtin {
  const char *id, *name, *description, *capabilities, *tools, *mode;
};

const Builtin kBuiltins[] = {
    {"build", "Build Agent", "Full development agent: reads, writes and runs commands in the project",
     R"(["code_generation","file_operations","tool_execution"])", R"(["bash","edit","read","write","search"])",
     "acceptEdits"},
    {"plan", "Plan Agent", "Read-only analysis and planning (the CLI's plan permission mode)",
     R"(["code_analysis","planning","documentation"])", R"(["read","search"])", "plan"},
    {"general", "General Agent", "Answers questions; tools that need approval are refused",
     R"(["question_answering","code_analysis"])", R"(["read","search"])", "default"},
};

const char *const kNotApplied = R"(["maxTokens","temperature"])";

std::string builtin_doc(const Builtin &b)
{
  return std::string("{\"id\":") + json_str(b.id) + ",\"name\":" + json_str(b.name) + ",\"type\":" + json_str(b.id) +
         ",\"description\":" + json_str(b.description) + ",\"capabilities\":" + b.capabilities +
         ",\"configuration\":{\"model\":\"default\",\"maxTokens\":8192,\"temperature\":0,\"tools\":" + b.tools +
         ",\"permissions\":[],\"permissionMode\":" + json_str(b.mode) + "},\"status\":\"available\"," +
         "\"metadata\":{\"version\":\"1.0\",\"author\":\"ccbridge\",\"builtin\":true,\"notApplied\":" + kNotApplied +
         "}}";
}

}  // namespace

void Platform::seed_agents()
{
  for (const auto &b : kBuiltins)
    if (!store_->agent(b.id)) store_->put_agent(AgentRow{b.id, "", builtin_doc(b)});
}

JsonDocument Platform::agent_doc(const std::string &id)
{
  auto a = store_->agent(id);
  return a ? parse_object(a->doc) : JsonDocument();
}

std::string Platform::agent_summary(const std::string &id)
{
  JsonDocument a = agent_doc(id);
  return "{\"id\":" + json_str(id) + ",\"name\":" + json_str(text_of(a, "name", id)) + ",\"type\":" +
         json_str(text_of(a, "type", "custom")) + "}";
}

namespace {

JsonDocument own_agent(Platform &p, const std::string &id)
{
  JsonDocument a = p.agent_doc(id);
  if (!a.IsObject()) fail(404, "AGENT_NOT_FOUND", "no agent " + quoted(id), "{\"agentId\":" + json_str(id) + "}");
  return a;
}

bool builtin(const JsonValue &a) { return sub(sub(a, "metadata"), "builtin").IsTrue(); }

}  // namespace

// A configuration as the seed has it: model text, maxTokens and temperature numbers, tools and
// permissions lists, systemPrompt text, permissionMode one of the CLI's modes.
void check_agent_configuration(const JsonValue &conf, bool partial)
{
  if (!conf.IsObject()) bad_field("configuration", "'configuration' must be an object");
  const JsonValue *model = member(conf, "model");
  if (!partial && !model) bad_field("configuration.model", "'configuration.model' is required", true);
  if (model && !(model->IsString() && Context::model_ok(model->GetString())))
    bad_field("configuration.model", "'configuration.model' must be a model name");
  for (const char *k : {"maxTokens", "temperature"}) {
    const JsonValue *n = member(conf, k);
    if (n && !n->IsNumber()) bad_field(std::string("configuration.") + k, std::string("'configuration.") + k + "' must be a number");
  }
  check_string_list(conf, "configuration.tools", "tools");
  check_string_list(conf, "configuration.permissions", "permissions");
  if (const JsonValue *perms = member(conf, "permissions"); perms && perms->IsArray())
    for (const auto &e : perms->GetArray())
      if (!known_permission(e.GetString())) bad_field("configuration.permissions", std::string("unknown permission ") + quoted(e.GetString()));
  const JsonValue *prompt = member(conf, "systemPrompt");
  if (prompt && !prompt->IsNull() && !prompt->IsString()) bad_field("configuration.systemPrompt", "'configuration.systemPrompt' must be a string");
  const JsonValue *mode = member(conf, "permissionMode");
  if (mode && !(mode->IsString() && (mode->GetString() == std::string_view("default") || mode->GetString() == std::string_view("acceptEdits") ||
                                     mode->GetString() == std::string_view("plan") || mode->GetString() == std::string_view("bypassPermissions"))))
    bad_field("configuration.permissionMode", "'configuration.permissionMode' must be default, acceptEdits, plan or bypassPermissions");
}

namespace {

std::string status_of(const JsonValue &b)
{
  const JsonValue *s = member(b, "status");
  if (!s || s->IsNull()) return {};
  std::string v = s->IsString() ? s->GetString() : "";
  if (v != "available" && v != "busy" && v != "offline") bad_field("status", "'status' must be available, busy or offline");
  return v;
}

}  // namespace

void list_agents(Platform &p, Call &c)
{
  std::string items;
  for (const auto &a : p.store().agents()) items += (items.empty() ? "" : ",") + a.doc;
  c.ok(200, "{\"agents\":[" + items + "]}");
}

void get_agent(Platform &p, Call &c)
{
  JsonDocument a = own_agent(p, c.req.params.at("agentId"));
  c.ok(200, "{\"agent\":" + to_json(a) + "}");
}

void create_agent(Platform &p, Call &c)
{
  const JsonValue &b = c.body();
  std::string name = required_string(b, "name", 256);
  std::string description = required_string(b, "description", 4096);
  const JsonValue *conf = member(b, "configuration");
  if (!conf) bad_field("configuration", "'configuration' is required", true);
  check_agent_configuration(*conf, false);
  check_string_list(b, "skills", "skills");
  check_string_list(b, "rules", "rules");
  JsonDocument d(rapidjson::kObjectType);
  Json j(d);
  std::string id = new_id("agent_");
  j.set(d, "id", id);
  j.set(d, "name", name);
  j.set(d, "type", "custom");
  j.set(d, "description", description);
  j.set(d, "capabilities", JsonValue(rapidjson::kArrayType));
  j.set(d, "configuration", j.copy(*conf));
  for (const char *k : {"skills", "rules"}) j.set(d, k, member(b, k) ? j.copy(*member(b, k)) : JsonValue(rapidjson::kArrayType));
  j.set(d, "status", "available");
  JsonDocument meta = parse_object(std::string("{\"version\":\"1.0\",\"author\":") + json_str(c.caller.user.email) +
                                   ",\"tags\":[],\"notApplied\":[\"maxTokens\",\"temperature\"]}");
  j.set(d, "metadata", j.copy(meta));
  p.store().put_agent(AgentRow{id, c.caller.user.id, to_json(d)});
  c.ok(201, "{\"agent\":" + to_json(d) + "}");
}

void update_agent(Platform &p, Call &c)
{
  JsonDocument a = own_agent(p, c.req.params.at("agentId"));
  const JsonValue &b = c.body();
  const JsonValue *conf = member(b, "configuration");
  if (conf) check_agent_configuration(*conf, true);
  std::string status = status_of(b);
  Json j(a);
  for (const char *k : {"name", "description"})
    if (member(b, k)) j.set(a, k, required_string(b, k, k == std::string_view("name") ? 256 : 4096));
  if (builtin(a) && conf && member(*conf, "permissionMode"))
    bad_field("configuration.permissionMode", "a built-in agent's permission mode is what makes it that agent");
  if (conf)
    for (auto it = conf->MemberBegin(); it != conf->MemberEnd(); ++it)
      j.set(a["configuration"], std::string_view(it->name.GetString(), it->name.GetStringLength()), j.copy(it->value));
  if (!status.empty()) j.set(a, "status", status);
  p.store().put_agent(AgentRow{text_of(a, "id"), p.store().agent(text_of(a, "id"))->owner, to_json(a)});
  c.ok(200, "{\"agent\":" + to_json(a) + "}");
}

void delete_agent(Platform &p, Call &c)
{
  JsonDocument a = own_agent(p, c.req.params.at("agentId"));
  if (builtin(a))
    fail(403, "RESOURCE_FORBIDDEN", "the built-in agent " + text_of(a, "id") + " cannot be deleted",
         "{\"agentId\":" + json_str(text_of(a, "id")) + "}");
  p.store().delete_agent(text_of(a, "id"));
  c.ok(200, "", "agent " + text_of(a, "id") + " deleted");
}

}  // namespace ccbridge::detail::server::platform
