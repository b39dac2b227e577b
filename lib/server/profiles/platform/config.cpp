// Agent platform: GET/PUT /v1/config (see config.hpp). PUT is an RFC 7396 merge patch of one
// section over its current value; the result is validated as a whole and written in one
// transaction, or nothing changes (422 naming the field). Secrets (PLATFORM-DECISIONS.md: keys
// named like secrets, every value of an MCP server's env or headers) are shown as "********"
// unless a config:write holder asks includeSecrets=true; "********" sent back keeps the stored
// value. No value of the configuration is ever logged: errors name fields, not values.
#include "server/profiles/platform/config.hpp"

#include "server/profiles/platform/rest.hpp"

#include <ccbridge/version.h>

#include <algorithm>
#include <cctype>

namespace ccbridge::detail::server::platform {

namespace {

constexpr const char *kMask = "********";

// Keys computed from what the server is; a patch may repeat them but not change them.
bool derived_key(const std::string &section, std::string_view key)
{
  if (section == "platform") return key == "version" || key == "features";
  if (section == "agents") return key == "available" || key == "configurations";
  if (section == "security") return key == "authentication" || key == "permissions";
  return false;
}

std::string field_of(const std::string &path, std::string_view key)
{
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

bool ends_with(const std::string &s, std::string_view tail)
{
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool secret_key(std::string_view key)
{
  std::string k(key);
  for (auto &ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::string_view tail : {"secret", "password", "token", "apikey", "api_key", "authorization", "credential",
                                "credentials"})
    if (ends_with(k, tail)) return true;
  return false;
}

bool secret_container(std::string_view key) { return key == "env" || key == "headers"; }

// Every secret string (non-empty) of `v` becomes the mask.
void mask(JsonValue &v, bool all)
{
  if (!v.IsObject()) return;
  for (auto &m : v.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsString() && m.value.GetStringLength() > 0 && (all || secret_key(name)))
      m.value.SetString(rapidjson::StringRef(kMask));
    else
      mask(m.value, all || secret_container(name));
  }
}

// A mask sent back stands for the value stored at the same place.
void unmask(Json &j, JsonValue &v, const JsonValue *old, const std::string &path, bool all)
{
  if (!v.IsObject()) return;
  for (auto &m : v.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    const JsonValue *was = old ? member(*old, name) : nullptr;
    std::string field = path;
    field += "." + name;
    if (m.value.IsString() && m.value.GetString() == std::string_view(kMask) && (all || secret_key(name))) {
      if (!was || !was->IsString())
        bad_field(field, "'" + field + "' is the mask of a secret, but no secret is stored there");
      m.value = j.copy(*was);
    } else {
      unmask(j, m.value, was, field, all || secret_container(name));
    }
  }
}

// RFC 7396: null removes, an object merges, anything else replaces.
void merge_patch(Json &j, JsonValue &target, const JsonValue &patch)
{
  if (!patch.IsObject()) {
    target = j.copy(patch);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (const auto &m : patch.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsNull()) {
      target.RemoveMember(m.name);
      continue;
    }
    if (!target.HasMember(m.name)) j.set(target, name, JsonValue(rapidjson::kNullType));
    merge_patch(j, target[m.name], m.value);
  }
}

// ---- validation ----------------------------------------------------------------------------------

void check_keys(const JsonValue &obj, const std::string &path, std::initializer_list<const char *> allowed)
{
  for (const auto &m : obj.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char *a) { return name == a; }))
      bad_field(field_of(path, utf8_or_replaced(std::string(name).substr(0, 64))),
                "unknown key " + quoted(utf8_or_replaced(std::string(name).substr(0, 64))) +
                    (path.empty() ? std::string() : " in '" + path + "'"));
  }
}

std::int64_t whole_number(const JsonValue &obj, const char *key, const std::string &path, std::int64_t lo, std::int64_t hi)
{
  const JsonValue *v = member(obj, key);
  std::string field = path + "." + key;
  if (!v) bad_field(field, "'" + field + "' is required", true);
  if (!v->IsInt64() || v->GetInt64() < lo || v->GetInt64() > hi)
    bad_field(field, "'" + field + "' must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v->GetInt64();
}

std::string one_of(const JsonValue &obj, const char *key, const std::string &path, std::initializer_list<const char *> allowed)
{
  const JsonValue *v = member(obj, key);
  std::string field = field_of(path, key), list;
  for (const char *a : allowed) {
    if (v && v->IsString() && v->GetString() == std::string_view(a)) return a;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  if (!v) bad_field(field, "'" + field + "' is required", true);
  bad_field(field, "'" + field + "' must be one of " + list);
}

bool name_ok(std::string_view s, std::size_t max, bool env)
{
  if (s.empty() || s.size() > max) return false;
  if (env && std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [env](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || (!env && (ch == '-' || ch == '.'));
  });
}

bool text_ok(const JsonValue &v, std::size_t max, bool single_line)
{
  if (!v.IsString() || v.GetStringLength() > max) return false;
  std::string_view s(v.GetString(), v.GetStringLength());
  return s.find('\0') == std::string_view::npos &&
         (!single_line || s.find_first_of("\r\n") == std::string_view::npos);
}

// env or headers: an object of at most 256 strings under names of `env`'s kind or header tokens.
void check_string_map(const JsonValue &entry, const char *key, const std::string &path, bool env)
{
  const JsonValue *v = member(entry, key);
  if (!v) return;
  std::string field = path + "." + key;
  if (!v->IsObject() || v->MemberCount() > 256) bad_field(field, "'" + field + "' must be an object of at most 256 strings");
  for (const auto &m : v->GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (!name_ok(name, 256, env))
      bad_field(field, env ? "'" + field + "' names must be environment variable names ([A-Za-z_][A-Za-z0-9_]*)"
                           : "'" + field + "' names must be header names (letters, digits, -, _, .)");
    if (!text_ok(m.value, 16384, !env))  // (the value is a secret: the message does not repeat it)
      bad_field(field + "." + std::string(name), "'" + field + "." + std::string(name) + "' must be a string of one line");
  }
}

void check_stdio(const JsonValue &e, const std::string &path)
{
  check_keys(e, path, {"type", "command", "args", "env", "enabled", "timeout"});
  const JsonValue *cmd = member(e, "command");
  if (!cmd) bad_field(path + ".command", "'" + path + ".command' is required for a stdio server", true);
  if (!text_ok(*cmd, 4096, true) || cmd->GetStringLength() == 0)
    bad_field(path + ".command", "'" + path + ".command' must be a program (a non-empty string)");
  if (const JsonValue *args = member(e, "args")) {
    bool ok = args->IsArray() && args->Size() <= 256;
    if (ok)
      for (const auto &a : args->GetArray()) ok = ok && text_ok(a, 16384, false);
    if (!ok) bad_field(path + ".args", "'" + path + ".args' must be a list of at most 256 strings");
  }
  check_string_map(e, "env", path, true);
}

void check_http(const JsonValue &e, const std::string &path)
{
  check_keys(e, path, {"type", "url", "headers", "enabled", "timeout"});
  const JsonValue *url = member(e, "url");
  if (!url) bad_field(path + ".url", "'" + path + ".url' is required for an http server", true);
  std::string_view u = url->IsString() ? std::string_view(url->GetString(), url->GetStringLength()) : "";
  bool scheme = u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
  if (!text_ok(*url, 4096, true) || !scheme || u.find_first_of(" \t") != std::string_view::npos ||
      u.size() <= u.find("//") + 2)
    bad_field(path + ".url", "'" + path + ".url' must be an http:// or https:// URL");
  check_string_map(e, "headers", path, false);
}

void check_mcp_server(const std::string &name, const JsonValue &e)
{
  std::string path = "tools.mcpServers." + utf8_or_replaced(name.substr(0, 64));
  if (!name_ok(name, 64, false))
    bad_field(path, "an MCP server's name must be 1 to 64 letters, digits, '-', '_' or '.'");
  if (!e.IsObject()) bad_field(path, "'" + path + "' must be an object");
  std::string type = one_of(e, "type", path, {"stdio", "http"});
  if (const JsonValue *en = member(e, "enabled"); en && !en->IsBool())
    bad_field(path + ".enabled", "'" + path + ".enabled' must be true or false");
  if (member(e, "timeout")) whole_number(e, "timeout", path, 1, 3600000);
  if (type == "stdio") check_stdio(e, path);
  else check_http(e, path);
}

void check_tools(const JsonValue &s)
{
  check_keys(s, "tools", {"mcpServers", "defaultTimeout", "maxConcurrent"});
  whole_number(s, "defaultTimeout", "tools", 1, 3600000);
  whole_number(s, "maxConcurrent", "tools", 1, 1000);
  const JsonValue *servers = member(s, "mcpServers");
  if (!servers || !servers->IsObject() || servers->MemberCount() > 100)
    bad_field("tools.mcpServers", "'tools.mcpServers' must be an object of at most 100 servers", !servers);
  for (const auto &m : servers->GetObject()) check_mcp_server(std::string(m.name.GetString(), m.name.GetStringLength()), m.value);
}

// An agent's configuration, with the field named as the config section names it.
void check_agent_conf(const std::string &id, const JsonValue &conf)
{
  try {
    check_agent_configuration(conf, false);
  } catch (ApiFailure &f) {
    std::string prefix = "agents.configurations." + utf8_or_replaced(id.substr(0, 128));
    for (std::string *s : {&f.error.message, &f.error.details})
      for (std::size_t at = s->find("configuration"); at != std::string::npos; at = s->find("configuration", at + prefix.size())) {
        if (at > 0 && (*s)[at - 1] == '.') continue;
        s->replace(at, 13, prefix);
      }
    throw;
  }
}

void check_agents(const JsonValue &s, const JsonValue &now)
{
  check_keys(s, "agents", {"default", "available", "configurations"});
  const JsonValue &available = sub(now, "available");
  const JsonValue *def = member(s, "default");
  bool known = false;
  if (def && def->IsString())
    for (const auto &a : available.GetArray()) known = known || a == *def;
  if (!known) bad_field("agents.default", "'agents.default' must be one of agents.available", !def);
  const JsonValue *confs = member(s, "configurations");
  if (!confs || !confs->IsObject())
    bad_field("agents.configurations", "'agents.configurations' must be an object", !confs);
  for (const auto &a : available.GetArray())
    if (!confs->HasMember(a))
      bad_field(std::string("agents.configurations.") + a.GetString(),
                std::string("agent ") + quoted(a.GetString()) + " cannot be removed here: DELETE /agents/{id} deletes agents");
  for (const auto &m : confs->GetObject()) {
    std::string id(m.name.GetString(), m.name.GetStringLength());
    if (!sub(now, "configurations").HasMember(m.name))
      bad_field("agents.configurations." + utf8_or_replaced(id.substr(0, 128)),
                "no agent " + quoted(utf8_or_replaced(id.substr(0, 128))) + ": POST /agents creates agents");
    check_agent_conf(id, m.value);
  }
}

// The new section as a whole: known keys, values of the right kind, computed keys unchanged.
void check_section(const std::string &section, const JsonValue &s, const JsonValue &now)
{
  if (!s.IsObject()) bad_field("config." + section, "'config." + section + "' must be an object");
  for (const auto &m : now.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (!derived_key(section, name) || name == "configurations") continue;
    const JsonValue *v = member(s, name);
    if (!v || !(*v == m.value))
      bad_field(section + "." + std::string(name), "'" + section + "." + std::string(name) +
                                                       "' is read-only: it describes what this server is");
  }
  if (section == "platform") {
    check_keys(s, "platform", {"version", "mode", "features"});
    one_of(s, "mode", "platform", {"development", "production"});
  } else if (section == "agents") {
    check_agents(s, now);
  } else if (section == "tools") {
    check_tools(s);
  } else {
    check_keys(s, "security", {"authentication", "permissions", "auditLevel"});
    one_of(s, "auditLevel", "security", {"minimal", "standard", "detailed"});
  }
}

// ---- defaults and the parsed form -----------------------------------------------------------------

// The stored keys' defaults, set where the section lacks them (absent, or removed by a null).
void fill_defaults(Json &j, const std::string &section, JsonValue &s)
{
  auto def = [&](const char *key, JsonValue v) {
    if (!s.HasMember(key)) j.set(s, key, std::move(v));
  };
  if (section == "platform") def("mode", j.str("production"));
  if (section == "agents") def("default", j.str("build"));
  if (section == "tools") {
    def("mcpServers", JsonValue(rapidjson::kObjectType));
    def("defaultTimeout", JsonValue(std::int64_t{30000}));
    def("maxConcurrent", JsonValue(4));
  }
  if (section == "security") def("auditLevel", j.str("standard"));
}

McpServerConfig mcp_server_of(const JsonValue &e)
{
  McpServerConfig m;
  m.type = text_of(e, "type");
  m.command = text_of(e, "command");
  m.url = text_of(e, "url");
  if (const JsonValue *a = member(e, "args"); a && a->IsArray())
    for (const auto &x : a->GetArray()) m.args.emplace_back(x.GetString(), x.GetStringLength());
  for (auto [key, out] : {std::pair<const char *, std::map<std::string, std::string> *>{"env", &m.env}, {"headers", &m.headers}})
    if (const JsonValue *o = member(e, key); o && o->IsObject())
      for (const auto &kv : o->GetObject()) (*out)[kv.name.GetString()] = std::string(kv.value.GetString(), kv.value.GetStringLength());
  if (const JsonValue *en = member(e, "enabled"); en && en->IsBool()) m.enabled = en->GetBool();
  if (const JsonValue *t = member(e, "timeout"); t && t->IsInt64()) m.timeout_ms = t->GetInt64();
  JsonDocument cli;
  cli.CopyFrom(e, cli.GetAllocator());
  cli.RemoveMember("enabled");
  cli.RemoveMember("timeout");
  m.cli_json = to_json(cli);
  return m;
}

}  // namespace

const std::vector<std::string> &config_sections()
{
  static const std::vector<std::string> kSections{"platform", "agents", "tools", "security"};
  return kSections;
}

std::string SystemConfig::mcp_config_json() const
{
  std::string out;
  for (const auto &kv : mcp_servers)
    if (kv.second.enabled) out += (out.empty() ? "" : ",") + json_str(kv.first) + ":" + kv.second.cli_json;
  return "{\"mcpServers\":{" + out + "}}";
}

// The section as it is now, secrets in clear: stored keys over defaults, computed keys added.
JsonDocument Platform::config_section(const std::string &section)
{
  JsonDocument d = parse_object(store_->config_section(section).value_or("{}"));
  if (!d.IsObject()) d.SetObject();
  Json j(d);
  fill_defaults(j, section, d);
  if (section == "platform") {
    j.set(d, "version", CCB_VERSION_STRING);
    JsonValue f(rapidjson::kObjectType);
    for (const char *k : {"agentOrchestration", "taskQueue", "chatWebSocket", "mcpIntegration", "monitoring", "openapi"})
      j.set(f, k, true);
    j.set(f, "webInterface", false);  // the platform serves an API, no pages
    j.set(d, "features", std::move(f));
  } else if (section == "agents") {
    JsonValue ids(rapidjson::kArrayType), confs(rapidjson::kObjectType);
    for (const auto &a : store_->agents()) {
      ids.PushBack(j.str(a.id), j.alloc());
      JsonDocument doc = parse_object(a.doc);
      const JsonValue &conf = sub(doc, "configuration");
      j.set(confs, a.id, conf.IsObject() ? j.copy(conf) : JsonValue(rapidjson::kObjectType));
    }
    j.set(d, "available", std::move(ids));
    j.set(d, "configurations", std::move(confs));
  } else if (section == "security") {
    j.set(d, "authentication", true);
    JsonValue perms(rapidjson::kObjectType);
    for (const auto &u : store_->users()) j.set(perms, u.email, j.strings(u.permissions));
    j.set(d, "permissions", std::move(perms));
  }
  return d;
}

void Platform::load_config()
{
  SystemConfig c;
  c.version = CCB_VERSION_STRING;
  JsonDocument p = config_section("platform"), a = config_section("agents"), t = config_section("tools"),
               s = config_section("security");
  c.mode = text_of(p, "mode", c.mode);
  for (const auto &f : sub(p, "features").GetObject()) c.features[f.name.GetString()] = f.value.IsTrue();
  c.default_agent = text_of(a, "default", c.default_agent);
  for (const auto &m : sub(t, "mcpServers").GetObject()) c.mcp_servers[m.name.GetString()] = mcp_server_of(m.value);
  if (sub(t, "defaultTimeout").IsInt64()) c.tools_default_timeout_ms = sub(t, "defaultTimeout").GetInt64();
  if (sub(t, "maxConcurrent").IsInt()) c.tools_max_concurrent = sub(t, "maxConcurrent").GetInt();
  c.audit_level = text_of(s, "auditLevel", c.audit_level);
  config_ = std::move(c);
}

void Platform::on_config_change(const std::string &section, std::function<void(const SystemConfig &)> fn)
{
  config_listeners_[section].push_back(std::move(fn));
}

std::string Platform::config_json(const std::string &section, bool include_secrets)
{
  JsonDocument out(rapidjson::kObjectType);
  Json j(out);
  for (const auto &name : config_sections()) {
    if (!section.empty() && name != section) continue;
    JsonDocument s = config_section(name);
    if (!include_secrets) mask(s, false);
    j.set(out, name, j.copy(s));
  }
  return to_json(out);
}

// Writes the section's stored keys and, for agents, each changed agent configuration.
void Platform::write_section(const std::string &section, const JsonValue &next, const JsonValue &now)
{
  JsonDocument stored;
  stored.CopyFrom(next, stored.GetAllocator());
  for (const auto &m : now.GetObject())
    if (derived_key(section, m.name.GetString())) stored.RemoveMember(m.name.GetString());
  store_->atomically([&] {
    store_->put_config_section(section, to_json(stored));
    if (section != "agents") return;
    for (const auto &m : sub(next, "configurations").GetObject()) {
      if (sub(sub(now, "configurations"), m.name.GetString()) == m.value) continue;
      auto row = store_->agent(m.name.GetString());
      if (!row) continue;
      JsonDocument doc = parse_object(row->doc);
      Json j(doc);
      j.set(doc, "configuration", j.copy(m.value));
      j.set(doc, "updatedAt", now_iso());
      row->doc = to_json(doc);
      store_->put_agent(*row);
    }
  });
}

std::string Platform::update_config(const std::string &section, const JsonValue &patch)
{
  JsonDocument now = config_section(section);
  JsonDocument next;
  next.CopyFrom(now, next.GetAllocator());
  Json j(next);
  merge_patch(j, next, patch);
  if (next.IsObject()) {
    unmask(j, next, &now, section, false);
    fill_defaults(j, section, next);
  }
  check_section(section, next, now);
  write_section(section, next, now);
  bool servers_changed = section == "tools" && !(sub(now, "mcpServers") == sub(next, "mcpServers"));
  load_config();
  for (auto &fn : config_listeners_[section]) {
    try {
      fn(config_);
    } catch (const std::exception &e) {
      ctx.log.error("platform_config_listener", {{"section", section}, {"what", e.what()}});
    }
  }
  std::string msg = section + " updated and applied";
  if (servers_changed)
    msg += "; tools.mcpServers reaches a session's CLI when that CLI (re)starts: running ones keep the servers they "
           "started with until they are closed (idle) and resumed";
  return msg;
}

// ---- handlers ------------------------------------------------------------------------------------

void get_config(Platform &p, Call &c)
{
  std::string section = enum_param(c.req, "section", {"platform", "agents", "tools", "security"});
  std::string secrets = enum_param(c.req, "includeSecrets", {"true", "false"});
  if (secrets == "true" && !c.caller.can("config:write"))
    fail(403, "INSUFFICIENT_PERMISSIONS", "includeSecrets=true needs the permission config:write",
         "{\"required\":\"config:write\"}");
  c.ok(200, "{\"config\":" + p.config_json(section, secrets == "true") + "}");
}

void put_config(Platform &p, Call &c)
{
  const JsonValue &b = c.body();
  check_keys(b, "", {"section", "config"});
  std::string section = one_of(b, "section", "", {"platform", "agents", "tools", "security"});
  const JsonValue *conf = member(b, "config");
  if (!conf || !conf->IsObject()) bad_field("config", "'config' must be an object holding the section", !conf);
  check_keys(*conf, "config", {section.c_str()});
  const JsonValue *patch = member(*conf, section);
  if (!patch) bad_field("config." + section, "'config." + section + "' is required (the section named)", true);
  std::string msg = p.update_config(section, *patch);
  c.ok(200, "{\"config\":" + p.config_json("", false) + "}", msg);
}

}  // namespace ccbridge::detail::server::platform
