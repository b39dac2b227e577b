// Agent platform: the tool servers behind /tools. Three kinds, listed alike (MCPServer, Tool):
//  - `claude-code`: the CLI's own tools, as its init message lists them (a probe run at start with
//    --max-turns 0, which prints init and ends without calling the model; refreshed by every
//    session's init). They run inside tasks only: status `restricted`, not executable here.
//  - `local-filesystem`: read_file, write_file, list_files in a session's projectPath (fs_tools.hpp),
//    run on a worker thread.
//  - every MCP server of the configuration (tools.mcpServers), reached with McpClient: tools from
//    tools/list, calls with a timeout, pinged, restartable (mcp_servers.cpp).
// Server thread only; results of the I/O threads come back through the server's io_context.
#pragma once

#include "server/cli_run.hpp"
#include "server/profiles/platform/api.hpp"
#include "server/profiles/platform/worker.hpp"

#include <ccbridge/mcp_client.hpp>

#include <asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ccbridge::detail::server::platform {

class Platform;
class Call;
struct SystemConfig;

/// One tool as GET /tools shows it.
struct ToolEntry {
  std::string id, name, description, category;
  std::string schema;  ///< the seed's ToolSchema, JSON text
  std::vector<std::string> permissions;
  std::string status;  ///< available, unavailable, restricted
};

/// One server as GET /tools/servers shows it.
struct ToolServer {
  std::string id, name, type;  ///< type: local, remote
  std::string url;             ///< remote servers
  std::string status = "offline";  ///< online, offline, error
  std::string error;               ///< why it is offline or in error (an addition)
  std::vector<std::string> capabilities;
  std::vector<ToolEntry> tools;
  std::string last_ping;  ///< ISO time, "" before the first
  // MCP servers
  std::optional<McpServerSpec> spec;
  std::string config_json;  ///< its tools.mcpServers entry's signature, to tell a changed one
  bool enabled = true;
  std::shared_ptr<McpClient> client;
  unsigned generation = 0;  ///< bumped by every (re)connect: late answers of an older one are dropped
};

class Tools : public std::enable_shared_from_this<Tools> {
public:
  explicit Tools(Platform &p);
  ~Tools();
  Tools(const Tools &) = delete;
  Tools &operator=(const Tools &) = delete;

  void start();
  void stop();

  // ---- the routes (rest.cpp) ----
  void list(Call &c);
  void list_servers(Call &c);
  void execute(Call &c);
  void restart(Call &c);

  /// A session's CLI said init: its tool list is the CLI's.
  void cli_init(const Message &init);
  /// The tools section of the configuration: MCP servers that are new or changed are
  /// (re)connected, removed ones closed; defaultTimeout and maxConcurrent apply to the next calls.
  void configure_mcp(const SystemConfig &config);

private:
  ToolServer *find(const std::string &id);
  std::string server_json(const ToolServer &s) const;
  static std::string tool_json(const ToolEntry &t, const std::string &server);
  void probe_cli();
  void on_probe(std::vector<CliEvent> &batch);
  void set_cli_tools(const std::vector<std::string> &names, const std::string &version);
  void execute_fs(Call &c, const std::string &tool, std::chrono::milliseconds timeout);
  // mcp_servers.cpp
  /// (Re)connects `s`; `then` runs on the server thread once it is connected or has failed.
  void connect_mcp(ToolServer &s, const std::function<void()> &then = {});
  void on_mcp_connected(const std::string &id, unsigned generation, std::optional<Error> error,
                        std::shared_ptr<McpClient> client, const std::vector<McpTool> &tools);
  void execute_mcp(Call &c, ToolServer &s, const std::string &tool, const JsonValue &params,
                   std::chrono::milliseconds timeout);
  void ping_all();
  void call_failed(const std::string &id, const Error &e);
  void add_health_probe(const std::string &id);
  /// Lets a client go off the server thread (its destructor ends the server's process).
  void retire(std::shared_ptr<McpClient> client);

  Platform &p_;
  std::vector<ToolServer> servers_;  // claude-code, local-filesystem, then MCP servers by id
  std::shared_ptr<CliRun> probe_;
  std::unique_ptr<Worker> files_;
  std::unique_ptr<Worker> closer_;
  asio::steady_timer ping_timer_;
  std::chrono::milliseconds default_timeout_{30000};  ///< tools.defaultTimeout
  unsigned max_concurrent_ = 4;                       ///< tools.maxConcurrent
  unsigned running_ = 0;                              ///< executions in flight
};

}  // namespace ccbridge::detail::server::platform
