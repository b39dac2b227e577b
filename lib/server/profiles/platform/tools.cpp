// Agent platform: the tool servers, their listing and the execution of local-filesystem tools
// (tools.hpp). The MCP servers' side is in mcp_servers.cpp.
#include "server/profiles/platform/tools.hpp"

#include "server/base64.hpp"
#include "server/profiles/platform/fs_tools.hpp"
#include "server/profiles/platform/platform.hpp"
#include "server/profiles/platform/rest.hpp"

#include <asio/post.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace ccbridge::detail::server::platform {
namespace {

constexpr const char *kCli = "claude-code";
constexpr const char *kFiles = "local-filesystem";
constexpr std::chrono::milliseconds kMaxTimeout{600000};

// The CLI's own tools by category (the rest are `custom`).
const char *cli_category(const std::string &tool)
{
  static const std::map<std::string, const char *> kKnown{
      {"Read", "file"},       {"Write", "file"},       {"Edit", "file"},       {"MultiEdit", "file"},
      {"NotebookEdit", "file"}, {"Glob", "file"},      {"Grep", "file"},       {"LS", "file"},
      {"Bash", "shell"},      {"BashOutput", "shell"}, {"KillShell", "shell"}, {"KillBash", "shell"},
      {"Monitor", "shell"},   {"WebFetch", "network"}, {"WebSearch", "network"},
  };
  auto it = kKnown.find(tool);
  return it == kKnown.end() ? "custom" : it->second;
}

std::string param(const char *name, const char *type, const char *description, bool required)
{
  return fmt::format("{}:{{\"type\":\"{}\",\"description\":{}{}}}", json_str(name), type, json_str(description),
                     required ? ",\"required\":true" : "");
}

std::string schema(const std::vector<std::string> &params, const char *returns, const char *description)
{
  std::string props;
  for (const auto &p : params) props += (props.empty() ? "" : ",") + p;
  return fmt::format(R"({{"parameters":{{"type":"object","properties":{{{}}}}},"returns":{{"type":"{}","description":{}}}}})",
                     props, returns, json_str(description));
}

std::vector<ToolEntry> file_tools()
{
  const std::vector<std::string> perms{"tool:execute"};
  auto path = param("path", "string", "Path relative to the session's projectPath, or absolute inside it", true);
  auto encoding = param("encoding", "string", "\"utf-8\" (default) or \"base64\"", false);
  return {
      {"read_file", "Read File", "Reads a file of the session's project", "file",
       schema({path, encoding}, "string", "The file's content"), perms, "available"},
      {"write_file", "Write File", "Writes (creates or replaces) a file of the session's project", "file",
       schema({path, param("content", "string", "The content to write", true), encoding}, "object",
              "{path, bytesWritten}"),
       perms, "available"},
      {"list_files", "List Files", "Lists a directory of the session's project", "file",
       schema({param("path", "string", "The directory (default: the project)", false),
               param("recursive", "boolean", "Descend into subdirectories (symlinks are not followed)", false)},
              "object", "{path, entries: [{name, path, type, size}], truncated}"),
       perms, "available"},
  };
}

std::string strings_json(const std::vector<std::string> &v)
{
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + json_str(v[i]);
  return out + "]";
}

// `timeout` of an execute request (ms): absent -> `fallback`; otherwise 1..kMaxTimeout.
std::chrono::milliseconds timeout_of(const JsonValue &body, std::chrono::milliseconds fallback)
{
  const JsonValue *t = member(body, "timeout");
  if (!t || t->IsNull()) return fallback;
  if (!t->IsNumber() || t->GetDouble() < 1 || t->GetDouble() > static_cast<double>(kMaxTimeout.count()))
    bad_field("timeout", "'timeout' must be a number of milliseconds from 1 to " + std::to_string(kMaxTimeout.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(t->GetDouble()));
}

std::string optional_string(const JsonValue &obj, const char *field, const char *shown)
{
  const JsonValue *v = member(obj, field);
  if (!v || v->IsNull()) return {};
  if (!v->IsString()) bad_field(shown, std::string("'") + shown + "' must be a string");
  return std::string(v->GetString(), v->GetStringLength());
}

}  // namespace

Tools::Tools(Platform &p) : p_(p), ping_timer_(p.ctx.ioc)
{
  ToolServer cli;
  cli.id = kCli;
  cli.name = "Claude Code";
  cli.type = "local";
  cli.capabilities = {"tools"};
  cli.error = "not probed yet";
  servers_.push_back(std::move(cli));
  ToolServer files;
  files.id = kFiles;
  files.name = "Local Filesystem";
  files.type = "local";
  files.status = "online";
  files.capabilities = {"read", "write", "list"};
  files.tools = file_tools();
  servers_.push_back(std::move(files));
}

Tools::~Tools() = default;

void Tools::start()
{
  files_ = std::make_unique<Worker>(p_.ctx.ioc, 256);
  closer_ = std::make_unique<Worker>(p_.ctx.ioc, 64);
  probe_cli();
  ping_all();
}

void Tools::stop()
{
  ping_timer_.cancel();
  if (probe_) probe_->cancel();
  probe_.reset();
  for (auto &s : servers_) s.client.reset();
  files_.reset();
  closer_.reset();  // joins: the clients it was closing are gone
}

ToolServer *Tools::find(const std::string &id)
{
  for (auto &s : servers_)
    if (s.id == id) return &s;
  return nullptr;
}

// ---- the CLI's own tools -------------------------------------------------------------------------

// One run with --max-turns 0: the CLI prints init (its tools) and ends without a model request.
void Tools::probe_cli()
{
  if (!p_.ctx.can_start_process()) {
    find(kCli)->error = "no process slot free for the probe";
    return;
  }
  Options o = p_.ctx.base_options();
  o.extra_args.emplace_back("max-turns", "0");
  o.extra_args.emplace_back("no-session-persistence", std::nullopt);
  std::weak_ptr<Tools> weak = weak_from_this();
  try {
    probe_ = CliRun::start(p_.ctx, ".", std::move(o), [weak](std::vector<CliEvent> &batch) {
      if (auto self = weak.lock()) self->on_probe(batch);
    }, false);
  } catch (const Error &e) {
    ToolServer &s = *find(kCli);
    s.status = e.code() == make_error_code(errc::cli_not_found) ? "offline" : "error";
    s.error = e.detail();
  }
}

void Tools::on_probe(std::vector<CliEvent> &batch)
{
  for (auto &ev : batch) {
    if (ev.kind == CliEvent::Kind::message && ev.msg.is(MessageType::system) && ev.msg.subtype() == "init") {
      cli_init(ev.msg);
      if (probe_) probe_->cancel();  // the rest is of no interest
    }
    if (ev.kind != CliEvent::Kind::end) continue;
    ToolServer &s = *find(kCli);
    if (s.status != "online") {
      s.status = "error";
      s.error = "the probe ended without an init message: " + (ev.outcome->ok() ? "exit" : ev.outcome->message);
    }
    probe_.reset();
  }
}

void Tools::cli_init(const Message &init)
{
  std::vector<std::string> names;
  JsonView tools = init.json()["tools"];
  for (std::size_t i = 0; i < tools.size(); ++i)
    if (auto name = tools[i].string()) names.emplace_back(*name);
  set_cli_tools(names, std::string(init.json()["claude_code_version"].string_or()));
}

void Tools::set_cli_tools(const std::vector<std::string> &names, const std::string &version)
{
  ToolServer &s = *find(kCli);
  s.status = "online";
  s.error.clear();
  s.last_ping = now_iso();
  if (!version.empty()) s.name = "Claude Code " + version;
  s.tools.clear();
  for (const auto &n : names) {
    ToolEntry t;
    t.id = n;
    t.name = n;
    t.description = "Claude Code's " + n + " tool (runs inside tasks)";
    t.category = cli_category(n);
    t.schema = schema({}, "string", "The tool's result, as the model sees it");
    t.permissions = {"task:submit"};
    t.status = "restricted";
    s.tools.push_back(std::move(t));
  }
}

// ---- JSON ---------------------------------------------------------------------------------------

std::string Tools::tool_json(const ToolEntry &t, const std::string &server)
{
  return fmt::format(R"({{"id":{},"name":{},"description":{},"category":"{}","server":{},"schema":{},"permissions":{},"status":"{}"}})",
                     json_str(t.id), json_str(t.name), json_str(t.description), t.category, json_str(server), t.schema,
                     strings_json(t.permissions), t.status);
}

std::string Tools::server_json(const ToolServer &s) const
{
  std::vector<std::string> ids;
  for (const auto &t : s.tools) ids.push_back(t.id);
  std::string out = fmt::format(R"({{"id":{},"name":{},"type":"{}","status":"{}","capabilities":{},"tools":{})",
                                json_str(s.id), json_str(s.name), s.type, s.status, strings_json(s.capabilities),
                                strings_json(ids));
  if (!s.url.empty()) out += ",\"url\":" + json_str(s.url);
  if (!s.last_ping.empty()) out += ",\"lastPing\":" + json_str(s.last_ping);
  if (!s.error.empty() && s.status != "online") out += ",\"error\":" + json_str(s.error);
  return out + "}";
}

// ---- routes -------------------------------------------------------------------------------------

void Tools::list(Call &c)
{
  auto category = c.req.query_param("category");
  static const std::vector<std::string> kCategories{"file", "shell", "network", "database", "custom"};
  if (category && std::find(kCategories.begin(), kCategories.end(), *category) == kCategories.end())
    bad_field("category", "'category' must be one of file, shell, network, database, custom");
  auto server = c.req.query_param("server");
  auto available = c.req.query_param("available");
  if (available && *available != "true" && *available != "false")
    bad_field("available", "'available' must be true or false");
  std::string tools, servers;
  for (const auto &s : servers_) {
    if (server && *server != s.id) continue;
    servers += (servers.empty() ? "" : ",") + server_json(s);
    for (const auto &t : s.tools) {
      if (category && t.category != *category) continue;
      if (available && (t.status == "available") != (*available == "true")) continue;
      tools += (tools.empty() ? "" : ",") + tool_json(t, s.id);
    }
  }
  c.ok(200, "{\"tools\":[" + tools + "],\"servers\":[" + servers + "]}");
}

void Tools::list_servers(Call &c)
{
  std::string items;
  int online = 0, offline = 0, error = 0;
  for (const auto &s : servers_) {
    items += (items.empty() ? "" : ",") + server_json(s);
    (s.status == "online" ? online : s.status == "error" ? error : offline) += 1;
  }
  c.ok(200, fmt::format(R"({{"servers":[{}],"summary":{{"total":{},"online":{},"offline":{},"error":{}}}}})", items,
                        servers_.size(), online, offline, error));
}

void Tools::execute(Call &c)
{
  const JsonValue &b = c.body();
  std::string tool = required_string(b, "toolId", 256);
  std::string server = optional_string(b, "server", "server");
  const JsonValue *params = member(b, "parameters");
  if (!params || params->IsNull()) bad_field("parameters", "'parameters' is required", true);
  if (!params->IsObject()) bad_field("parameters", "'parameters' must be an object");
  optional_string(b, "sessionId", "sessionId");
  auto timeout = timeout_of(b, default_timeout_);
  if (!server.empty() && !find(server))
    fail(404, "INVALID_INPUT", "no tool server " + quoted(server), "{\"field\":\"server\"}");
  std::vector<ToolServer *> having;
  for (auto &s : servers_)
    if ((server.empty() || s.id == server) &&
        std::any_of(s.tools.begin(), s.tools.end(), [&](const ToolEntry &t) { return t.id == tool; }))
      having.push_back(&s);
  if (having.empty()) fail(404, "INVALID_INPUT", "no tool " + quoted(tool), "{\"field\":\"toolId\"}");
  if (having.size() > 1)
    fail(422, "INVALID_INPUT", "several servers have a tool " + quoted(tool) + "; name one in 'server'",
         "{\"field\":\"server\"}");
  ToolServer &s = *having.front();
  if (s.id == kCli)
    fail(422, "INVALID_INPUT", "Claude Code's own tools run inside tasks (POST /tasks), not on their own",
         "{\"field\":\"toolId\"}");
  if (running_ >= max_concurrent_)
    fail(503, "SERVICE_UNAVAILABLE", "tools.maxConcurrent (" + std::to_string(max_concurrent_) +
                                         ") executions are running; try again shortly");
  if (s.id == kFiles) return execute_fs(c, tool, timeout);
  execute_mcp(c, s, tool, *params, timeout);
}

// The parameters are checked here, the work runs on the files worker; a timeout answers without
// waiting for it (the late result is dropped).
void Tools::execute_fs(Call &c, const std::string &tool, std::chrono::milliseconds timeout)
{
  const JsonValue &b = c.body();
  const JsonValue &params = *member(b, "parameters");
  std::string session_id = optional_string(b, "sessionId", "sessionId");
  if (session_id.empty()) bad_field("sessionId", "'sessionId' is required for local-filesystem tools", true);
  SessionRow row = p_.own_session(c.caller, session_id);
  FsCall call;
  call.tool = tool;
  call.root = p_.project_path(row);
  call.path = optional_string(params, "path", "parameters.path");
  if (call.path.empty() && tool != "list_files") bad_field("parameters.path", "'parameters.path' is required", true);
  std::string encoding = optional_string(params, "encoding", "parameters.encoding");
  if (!encoding.empty() && encoding != "utf-8" && encoding != "base64")
    bad_field("parameters.encoding", "'parameters.encoding' must be \"utf-8\" or \"base64\"");
  call.base64 = encoding == "base64";
  if (const JsonValue *r = member(params, "recursive"); r && !r->IsNull()) {
    if (!r->IsBool()) bad_field("parameters.recursive", "'parameters.recursive' must be a boolean");
    call.recursive = r->GetBool();
  }
  if (tool == "write_file") {
    const JsonValue *content = member(params, "content");
    if (!content || !content->IsString())
      bad_field("parameters.content", "'parameters.content' must be a string", !content);
    call.content.assign(content->GetString(), content->GetStringLength());
    if (call.base64) {
      auto bytes = base64_decode(call.content);
      if (!bytes) bad_field("parameters.content", "'parameters.content' is not base64");
      call.content = std::move(*bytes);
    }
  }
  auto answer = c.raw_later();
  std::string rid = c.request_id;
  auto done = std::make_shared<bool>(false);
  auto started = std::chrono::steady_clock::now();
  auto timer = std::make_shared<asio::steady_timer>(p_.ctx.ioc, timeout);
  std::weak_ptr<Tools> weak = weak_from_this();
  ++running_;
  auto finish = [weak, done, timer, answer](int status, const std::string &body) {
    if (*done) return;
    *done = true;
    timer->cancel();
    if (auto self = weak.lock()) --self->running_;
    answer(status, body);
  };
  bool queued = files_->run([call] { return run_fs_tool(call); }, [finish, tool, started, rid](FsOutcome o) {
    if (o.error.status) return finish(o.error.status, error_envelope(o.error, rid));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    finish(200, ok_envelope(fmt::format(R"({{"result":{},"executionTime":{},"toolUsed":{},"server":"{}"}})", o.result,
                                        ms.count(), json_str(tool), kFiles)));
  });
  if (!queued) {
    finish(503, error_envelope(ApiError{503, "SERVICE_UNAVAILABLE", "too many tool executions queued", ""}, rid));
    return;
  }
  timer->async_wait([finish, timeout, rid](std::error_code ec) {
    if (ec) return;
    finish(504, error_envelope(ApiError{504, "TIMEOUT_ERROR",
                                        "the tool did not finish within " + std::to_string(timeout.count()) + " ms", ""},
                               rid));
  });
}

void Tools::restart(Call &c)
{
  const std::string &id = c.req.params.at("serverId");
  ToolServer *s = find(id);
  if (!s) fail(404, "INVALID_INPUT", "no tool server " + quoted(id), "{\"field\":\"serverId\"}");
  std::weak_ptr<Tools> weak = weak_from_this();
  auto answer = c.raw_later();
  auto reply = [weak, id, answer] {
    auto self = weak.lock();
    const ToolServer *now = self ? self->find(id) : nullptr;
    if (now)
      answer(200, ok_envelope("{\"server\":" + self->server_json(*now) + "}", "server " + id + " restarted: " + now->status));
  };
  if (s->id == kCli) {
    if (!probe_) probe_cli();
    reply();
  } else if (s->spec) {
    connect_mcp(*s, reply);  // answers once connected, or failed
  } else {
    reply();  // local-filesystem has nothing to restart
  }
}

}  // namespace ccbridge::detail::server::platform
