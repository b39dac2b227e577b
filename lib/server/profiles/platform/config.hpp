// Agent platform: the system configuration of GET/PUT /v1/config (seed 001's SystemConfiguration),
// parsed for the rest of the platform. Four sections: platform, agents, tools, security. What a
// section stores (config table of the store) is merged over defaults made from what the server
// is; the keys that only describe the server (platform.version, platform.features,
// agents.available, security.authentication, security.permissions) are computed, never stored,
// and agents.configurations is a view of the agents' own configurations (written through).
// Thread safety: server thread only, like Platform.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ccbridge::detail::server::platform {

/// One entry of tools.mcpServers: a Claude Code .mcp.json server entry (stdio or http), plus
/// `enabled` and `timeout` which the platform reads and the CLI does not get.
struct McpServerConfig {
  std::string type;  ///< "stdio" | "http"
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string url;
  std::map<std::string, std::string> headers;
  bool enabled = true;
  std::int64_t timeout_ms = 0;  ///< 0: tools.defaultTimeout
  std::string cli_json;         ///< the entry as the CLI's --mcp-config takes it (no enabled/timeout)
};

struct SystemConfig {
  std::string version;  ///< ccbridge's
  std::string mode = "production";  ///< "development" | "production"; health's overall.environment
  std::map<std::string, bool> features;
  std::string default_agent = "build";
  std::map<std::string, McpServerConfig> mcp_servers;  ///< by name
  std::int64_t tools_default_timeout_ms = 30000;
  int tools_max_concurrent = 4;
  std::string audit_level = "standard";  ///< "minimal" | "standard" | "detailed"

  /// `{"mcpServers":{...}}` of the enabled servers, as the CLI's --mcp-config takes it.
  std::string mcp_config_json() const;
};

/// The sections, in the order GET /config shows them.
const std::vector<std::string> &config_sections();

}  // namespace ccbridge::detail::server::platform
