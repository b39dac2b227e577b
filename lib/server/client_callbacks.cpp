#include "server/client_callbacks.hpp"

#include <asio/post.hpp>

namespace ccbridge::detail::server {

struct ClientCallbacks::Shared {
  Shared(Context &ctx, Hooks h, Timeouts t)
      : hooks(std::move(h)),
        tool_calls(ctx.ioc, t.tool_call,
                   [t](const std::string &, ToolReply &r) {
                     r(ToolResult::error("the client did not answer the tool call within " +
                                         std::to_string(t.tool_call.count()) + " s"));
                   }),
        permissions(ctx.ioc, t.permission, [this, t](const std::string &id, PermissionReply &r) {
          r(PermissionDecision::deny("no answer within " + std::to_string(t.permission.count()) + " s"));
          if (hooks.permission_timeout) hooks.permission_timeout(id);
        })
  {}
  Hooks hooks;
  PendingReplies<ToolReply> tool_calls;
  PendingReplies<PermissionReply> permissions;
};

bool ClientCallbacks::tool_name_ok(std::string_view n)
{
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

ClientCallbacks::ClientCallbacks(Context &ctx, std::string server_name, Hooks hooks, Timeouts timeouts)
    : ctx_(ctx),
      server_name_(std::move(server_name)),
      shared_(std::make_shared<Shared>(ctx, std::move(hooks), timeouts))
{}

std::string ClientCallbacks::define_tool(DefinedTool tool)
{
  if (!tool_name_ok(tool.name)) return "tool 'name' must be 1 to 64 letters, digits, '_' or '-'";
  for (const auto &d : tools_)
    if (d.name == tool.name) return "a tool named '" + tool.name + "' is already defined";
  if (tools_.size() >= kMaxTools) return "at most " + std::to_string(kMaxTools) + " tools per connection";
  tools_.push_back(std::move(tool));
  return {};
}

std::string ClientCallbacks::tool_id(std::string_view tool) const
{
  return "mcp__" + server_name_ + "__" + std::string(tool);
}

// Each call is forwarded to the client without holding a callback thread while the client thinks.
void ClientCallbacks::attach(SessionOptions &so, bool permissions)
{
  std::weak_ptr<Shared> weak = shared_;
  asio::io_context &io = ctx_.ioc;
  if (!tools_.empty()) {
    McpServer server;
    server.name = server_name_;
    for (const auto &t : tools_) {
      Tool tool{t.name, t.description, t.schema, nullptr, nullptr, {}, {}};
      tool.async_handler = [weak, &io, name = t.name](const JsonView &args, const ToolReply &reply) {
        asio::post(io, [weak, name, args = args.dump(), reply] {
          auto sh = weak.lock();
          if (!sh) return reply(ToolResult::error("the client has gone"));
          sh->hooks.tool_call(sh->tool_calls.add("call_", reply), name, args);
        });
      };
      server.tools.push_back(std::move(tool));
      so.options.allowed_tools.push_back(tool_id(t.name));
    }
    so.mcp_servers.push_back(std::move(server));
  }
  if (!permissions) return;
  auto describe = shared_->hooks.describe_permission;
  so.can_use_tool = [weak, &io, describe](const PermissionRequest &r, const PermissionReply &reply) {
    std::string description = describe(r);  // here, on the callback thread that holds r
    asio::post(io, [weak, description, reply] {
      auto sh = weak.lock();
      if (!sh) return reply(PermissionDecision::deny("the client has gone"));
      sh->hooks.permission(sh->permissions.add("perm_", reply), description);
    });
  };
}

PendingReplies<ToolReply> &ClientCallbacks::tool_calls() { return shared_->tool_calls; }
PendingReplies<PermissionReply> &ClientCallbacks::permissions() { return shared_->permissions; }

void ClientCallbacks::fail_all()
{
  shared_->permissions.fail_all([](PermissionReply &r) { r(PermissionDecision::deny("the client has gone")); });
  shared_->tool_calls.fail_all([](ToolReply &r) { r(ToolResult::error("the client has gone")); });
}

}  // namespace ccbridge::detail::server
