// Agent platform: the configured MCP servers behind /tools (tools.hpp): each one an McpClient,
// connected without blocking the server thread, its tools from tools/list, calls with a timeout,
// a ping every 30 s. A client is never destroyed on the server thread nor in its own callbacks
// (its destructor ends the server process and may wait for it): the closer worker lets it go.
#include "server/profiles/platform/config.hpp"
#include "server/profiles/platform/monitoring.hpp"
#include "server/profiles/platform/platform.hpp"
#include "server/profiles/platform/rest.hpp"
#include "server/profiles/platform/tools.hpp"

#include <asio/post.hpp>
#include <fmt/format.h>

namespace ccbridge::detail::server::platform {
namespace {

constexpr std::chrono::seconds kPingEvery{30};

std::vector<std::string> string_list(const JsonValue &v)
{
  std::vector<std::string> out;
  if (v.IsArray())
    for (const auto &e : v.GetArray())
      if (e.IsString()) out.emplace_back(e.GetString(), e.GetStringLength());
  return out;
}

McpServerSpec spec_of(const std::string &id, const McpServerConfig &conf, std::chrono::milliseconds timeout)
{
  McpServerSpec spec;
  spec.name = id;
  if (conf.type == "http") {
    spec.url = conf.url;
    spec.headers = conf.headers;
  } else {
    spec.command = conf.command;
    spec.args = conf.args;
    spec.env = conf.env;
  }
  spec.request_timeout = conf.timeout_ms > 0 ? std::chrono::milliseconds(conf.timeout_ms) : timeout;
  return spec;
}

// What tells a changed entry from the same one.
std::string signature(const McpServerConfig &c)
{
  return c.cli_json + (c.enabled ? "|on|" : "|off|") + std::to_string(c.timeout_ms);
}

// An MCP inputSchema (JSON Schema) as the seed's ToolSchema.
std::string tool_schema(const McpTool &t)
{
  JsonDocument in = parse_object(t.input_schema_json);
  JsonDocument out(rapidjson::kObjectType);
  Json j(out);
  JsonValue params(rapidjson::kObjectType), props(rapidjson::kObjectType);
  j.set(params, "type", "object");
  std::vector<std::string> required;
  if (const JsonValue *r = member(in, "required")) required = string_list(*r);
  if (const JsonValue *p = member(in, "properties"); p && p->IsObject()) {
    for (auto it = p->MemberBegin(); it != p->MemberEnd(); ++it) {
      std::string name(it->name.GetString(), it->name.GetStringLength());
      JsonValue prop(rapidjson::kObjectType);
      const JsonValue *type = member(it->value, "type");
      std::string type_text = type && type->IsString() ? type->GetString() : "any";
      if (type && type->IsArray()) {
        type_text.clear();
        for (const auto &s : string_list(*type)) type_text += (type_text.empty() ? "" : "|") + s;
      }
      j.set(prop, "type", type_text);
      j.set(prop, "description", text_of(it->value, "description"));
      if (std::find(required.begin(), required.end(), name) != required.end()) j.set(prop, "required", true);
      if (const JsonValue *d = member(it->value, "default")) j.set(prop, "default", j.copy(*d));
      j.set(props, name, std::move(prop));
    }
  }
  j.set(params, "properties", std::move(props));
  j.set(out, "parameters", std::move(params));
  JsonValue returns(rapidjson::kObjectType);
  bool structured = !t.output_schema_json.empty();
  j.set(returns, "type", structured ? "object" : "any");
  j.set(returns, "description", structured ? "The tool's structured result" : "The tool's text, or its MCP content blocks");
  j.set(out, "returns", std::move(returns));
  return to_json(out);
}

ToolEntry entry_of(const McpTool &t)
{
  ToolEntry e;
  e.id = t.name;
  e.name = t.title.empty() ? t.name : t.title;
  e.description = t.description;
  e.category = "custom";
  e.schema = tool_schema(t);
  e.permissions = {"tool:execute"};
  e.status = "available";
  return e;
}

// A tools/call result as `result`: structuredContent when there is one, the text when every block
// is text, else the content blocks as they came.
std::string result_of(const McpCallResult &r)
{
  if (!r.structured_json.empty()) return r.structured_json;
  JsonDocument d;
  d.Parse(r.content_json.c_str(), r.content_json.size());
  if (!d.IsArray()) return r.content_json;
  std::string text;
  for (const auto &b : d.GetArray()) {
    if (text_of(b, "type") != "text") return r.content_json;
    text += text_of(b, "text");
  }
  return json_str(text);
}

ApiError call_error(const Error &e, const std::string &server, std::chrono::milliseconds timeout)
{
  if (e.code() == make_error_code(errc::timeout))
    return {504, "TIMEOUT_ERROR", fmt::format("the tool did not finish within {} ms", timeout.count()), ""};
  return {503, "SERVICE_UNAVAILABLE", "MCP server " + quoted(server) + " failed: " + e.detail(), ""};
}

}  // namespace

void Tools::configure_mcp(const SystemConfig &config)
{
  default_timeout_ = std::chrono::milliseconds(config.tools_default_timeout_ms);
  max_concurrent_ = static_cast<unsigned>(std::max(1, config.tools_max_concurrent));
  const auto &wanted = config.mcp_servers;
  // Servers gone from the configuration, or changed: closed (changed ones come back below).
  for (auto it = servers_.begin() + 2; it != servers_.end();) {
    auto now = wanted.find(it->id);
    if (now != wanted.end() && signature(now->second) == it->config_json) {
      ++it;
      continue;
    }
    p_.monitor().remove_probe("mcp:" + it->id);
    retire(std::move(it->client));
    it = servers_.erase(it);
  }
  for (const auto &[id, conf] : wanted) {
    if (find(id)) continue;
    ToolServer s;
    s.id = id;
    s.name = id;
    s.type = conf.type == "http" ? "remote" : "local";
    s.url = conf.url;
    s.capabilities = {"tools"};
    s.config_json = signature(conf);
    s.spec = spec_of(id, conf, default_timeout_);
    s.enabled = conf.enabled;
    s.error = s.enabled ? "connecting" : "disabled in the configuration";
    servers_.push_back(std::move(s));
    if (!conf.enabled) continue;
    connect_mcp(servers_.back());
    add_health_probe(id);
  }
}

// A service of every health check: the server's state, and a ping's time when it is online.
void Tools::add_health_probe(const std::string &id)
{
  std::weak_ptr<Tools> weak = weak_from_this();
  auto &ioc = p_.ctx.ioc;
  p_.add_health_probe("mcp:" + id, [weak, id, &ioc](const std::function<void(ServiceHealth)> &done) {
    auto self = weak.lock();
    ToolServer *s = self ? self->find(id) : nullptr;
    if (!s || !s->client || s->status != "online") {
      ServiceHealth off;
      off.status = "offline";
      off.error = s ? s->error : "gone";
      return done(off);
    }
    auto started = std::chrono::steady_clock::now();
    s->client->ping_async([done, started, &ioc](std::optional<Error> e, std::chrono::microseconds) {
      ServiceHealth h;
      h.response_time_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      if (e) {
        h.status = "offline";
        h.error = "ping failed: " + e->detail();
      }
      asio::post(ioc, [done, h] { done(h); });
    }, std::chrono::seconds(2));
  });
}

void Tools::retire(std::shared_ptr<McpClient> client)
{
  if (!client) return;
  // On the closer's thread; without one (stopping) or with its queue full, here.
  if (closer_ && closer_->run([c = client]() mutable { c.reset(); return 0; }, [](int) {})) client.reset();
}

// The client made by connect_async travels with its list_tools_async request (a reference held
// by the callback, moved out when it runs: a request always ends, by its timeout at the latest)
// and then to the server thread, so its last reference is never dropped on an I/O thread.
void Tools::connect_mcp(ToolServer &s, const std::function<void()> &then)
{
  retire(std::move(s.client));
  unsigned generation = ++s.generation;
  s.status = "offline";
  s.error = "connecting";
  s.tools.clear();
  std::weak_ptr<Tools> weak = weak_from_this();
  std::string id = s.id;
  auto &ioc = p_.ctx.ioc;
  auto back = [weak, id, generation, then, &ioc](std::optional<Error> e, std::shared_ptr<McpClient> c,
                                                  const std::vector<McpTool> &tools) {
    asio::post(ioc, [=]() mutable {
      auto self = weak.lock();
      if (!self) return;
      self->on_mcp_connected(id, generation, std::move(e), std::move(c), tools);
      if (then) then();
    });
  };
  McpClient::connect_async(p_.ctx.runtime, *s.spec, [back](std::optional<Error> e, std::optional<McpClient> c) {
    if (e || !c) return back(std::move(e), nullptr, {});
    auto client = std::make_shared<McpClient>(std::move(*c));
    McpClient &raw = *client;
    raw.list_tools_async([back, client](std::optional<Error> e2, const std::vector<McpTool> &tools) mutable {
      back(std::move(e2), std::move(client), tools);
    });
  });
}

void Tools::on_mcp_connected(const std::string &id, unsigned generation, std::optional<Error> error,
                             std::shared_ptr<McpClient> client, const std::vector<McpTool> &tools)
{
  ToolServer *s = find(id);
  if (!s || s->generation != generation) return retire(std::move(client));
  s->last_ping = now_iso();
  if (error) {
    s->status = "error";
    s->error = error->detail();
    retire(std::move(client));
    p_.ctx.log.warn("platform_mcp_failed", {{"server", id}, {"error", error->detail()}});
    return;
  }
  s->client = std::move(client);
  s->status = "online";
  s->error.clear();
  for (const auto &t : tools) s->tools.push_back(entry_of(t));
  p_.ctx.log.info("platform_mcp_ready", {{"server", id}, {"tools", std::to_string(s->tools.size())}});
}

void Tools::execute_mcp(Call &c, ToolServer &s, const std::string &tool, const JsonValue &params,
                        std::chrono::milliseconds timeout)
{
  if (!s.client || s.status != "online")
    fail(503, "SERVICE_UNAVAILABLE", "MCP server " + quoted(s.id) + " is " + s.status + (s.error.empty() ? "" : ": " + s.error));
  auto answer = c.raw_later();
  std::string rid = c.request_id, server = s.id;
  std::weak_ptr<Tools> weak = weak_from_this();
  auto started = std::chrono::steady_clock::now();
  ++running_;
  auto &ioc = p_.ctx.ioc;
  s.client->call_tool_async(tool, to_json(params), [=, &ioc](const std::optional<Error> &e, const McpCallResult &r) {
    asio::post(ioc, [=] {
      auto self = weak.lock();
      if (self) --self->running_;
      if (e && self) self->call_failed(server, *e);
      if (e) return answer(call_error(*e, server, timeout).status, error_envelope(call_error(*e, server, timeout), rid));
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      answer(200, ok_envelope(fmt::format(R"({{"result":{},"executionTime":{},"toolUsed":{},"server":{}{}}})", result_of(r),
                                          ms.count(), json_str(tool), json_str(server),
                                          r.is_error ? ",\"isError\":true" : "")));
    });
  }, timeout);
}

// A call that failed because the server did (it exited, its connection broke): the server is in
// error from now on, not only at the next ping.
void Tools::call_failed(const std::string &id, const Error &e)
{
  ToolServer *s = find(id);
  if (!s || !s->client || e.code() == make_error_code(errc::timeout) || e.code() == make_error_code(errc::cancelled))
    return;
  if (s->client->state() == McpState::ready) return;
  s->status = "error";
  s->error = s->client->last_error().empty() ? e.detail() : s->client->last_error();
}

void Tools::ping_all()
{
  std::weak_ptr<Tools> weak = weak_from_this();
  for (auto &s : servers_) {
    if (!s.client || s.status != "online") continue;
    if (s.client->state() == McpState::failed) {
      s.status = "error";
      s.error = s.client->last_error();
      continue;
    }
    std::string id = s.id;
    unsigned generation = s.generation;
    auto &ioc = p_.ctx.ioc;
    s.client->ping_async([weak, id, generation, &ioc](const std::optional<Error> &e, std::chrono::microseconds) {
      asio::post(ioc, [=] {
        auto self = weak.lock();
        ToolServer *now = self ? self->find(id) : nullptr;
        if (!now || now->generation != generation) return;
        now->last_ping = now_iso();
        if (e) {
          now->status = "error";
          now->error = "ping failed: " + e->detail();
        }
      });
    });
  }
  ping_timer_.expires_after(kPingEvery);
  ping_timer_.async_wait([weak](std::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->ping_all();
  });
}

}  // namespace ccbridge::detail::server::platform
