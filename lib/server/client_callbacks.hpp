// The callbacks of a Session that a remote client answers: tools the client defines (the model
// calls them as mcp__<server>__<tool>) and permission requests. Each call or request reaches the
// profile on the server thread with a fresh id, for a frame to the client; the client's answer,
// the timeout or the client's departure (fail_all) answers it, never silence. Server thread only,
// except the callbacks attach() hands to the Session, which post to it.
#pragma once

#include "server/session_run.hpp"

#include <ccbridge/session.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::server {

class ClientCallbacks {
public:
  struct DefinedTool {
    std::string name, description, schema;  ///< schema: a JSON Schema object
  };
  struct Hooks {
    /// A tool call to forward to the client (arguments as JSON text).
    std::function<void(const std::string &call_id, const std::string &tool, const std::string &args)> tool_call;
    /// Runs on the callback thread that got the request: what the client is told about it.
    std::function<std::string(const PermissionRequest &request)> describe_permission;
    /// A permission request to forward to the client, described by describe_permission.
    std::function<void(const std::string &request_id, const std::string &description)> permission;
    /// The client did not answer permission request `request_id` in time (it has been denied).
    std::function<void(const std::string &request_id)> permission_timeout;
  };
  struct Timeouts {
    std::chrono::seconds tool_call{120};
    std::chrono::seconds permission{120};
  };
  static constexpr std::size_t kMaxTools = 64;

  ClientCallbacks(Context &ctx, std::string server_name, Hooks hooks, Timeouts timeouts);
  ~ClientCallbacks()
  {
    try {
      fail_all();
    } catch (...) {  // a reply that cannot be sent answers the CLI with an error when destroyed
    }
  }
  ClientCallbacks(const ClientCallbacks &) = delete;
  ClientCallbacks &operator=(const ClientCallbacks &) = delete;

  /// 1 to 64 letters, digits, '_' or '-'.
  static bool tool_name_ok(std::string_view name);
  /// Defines a tool for the next Session; returns why it cannot be (bad or taken name, too many),
  /// or "".
  std::string define_tool(DefinedTool tool);
  const std::vector<DefinedTool> &tools() const { return tools_; }
  /// The name the model sees: mcp__<server>__<tool>.
  std::string tool_id(std::string_view tool) const;
  /// Gives `so` the defined tools (an in-process MCP server, and allow rules for them) and, if
  /// `permissions`, a permission callback.
  void attach(SessionOptions &so, bool permissions);

  PendingReplies<ToolReply> &tool_calls();
  PendingReplies<PermissionReply> &permissions();
  /// The client has gone: every waiting call and request is answered so.
  void fail_all();

private:
  struct Shared;
  Context &ctx_;
  std::string server_name_;
  std::vector<DefinedTool> tools_;
  std::shared_ptr<Shared> shared_;  // what the Session's callbacks reach, while it lives
};

}  // namespace ccbridge::detail::server
