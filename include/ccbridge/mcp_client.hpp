// McpClient: a client of one Model Context Protocol server, over stdio (a child process, with the
// same process-group and guard guarantees as the CLI: it never outlives its client) or over
// Streamable HTTP (POST per message, answers as JSON or as an SSE stream, Mcp-Session-Id).
// It speaks JSON-RPC 2.0 with the shared layer the in-process MCP servers use: `initialize` with
// protocol version negotiation, `tools/list` (every page), `tools/call` with a timeout and
// cancellation (`notifications/cancelled`), `ping`, and a restart that starts over.
//
// Threads: like Session. The blocking methods may be called from any thread except a ccbridge
// I/O thread (Error(would_deadlock) there). Each has a non-blocking twin that returns at once,
// may be called from any thread, and runs its callback exactly once on a ccbridge I/O thread; the
// callback must not block, and its exceptions are dropped.
// Lifetime: the destructor closes the client (stdio: stdin closed, then SIGTERM, then SIGKILL,
// reaped; HTTP: the session is ended with DELETE); callbacks of requests still pending run with
// Error(closed) before it returns.
#pragma once

#include <ccbridge/error.hpp>
#include <ccbridge/export.h>
#include <ccbridge/runtime.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

CCB_BEGIN_NAMESPACE

/// How to reach one MCP server. Exactly one of `command` (stdio) and `url` (Streamable HTTP).
struct McpServerSpec {
  std::string name;  ///< for messages and logs ("filesystem")
  // stdio: the program (searched in PATH when it has no '/'), its arguments, environment added to
  // a reduced one (PATH, HOME, LANG, TERM, USER, SHELL, TMPDIR are kept) and working directory.
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string cwd;
  // Streamable HTTP: http:// or https:// URL of the MCP endpoint, and headers sent with every
  // request (Authorization, ...).
  std::string url;
  std::map<std::string, std::string> headers;
  /// Start + `initialize` must complete within this.
  std::chrono::milliseconds connect_timeout{10000};
  /// Default for requests without a timeout of their own.
  std::chrono::milliseconds request_timeout{60000};
  /// A server message (stdio line, HTTP body, SSE event) larger than this fails the request
  /// (stdio: ends the connection).
  std::size_t max_message_bytes = 16 * 1024 * 1024;
};

/// A spec from a JSON object, as the C ABI and the Python package pass one: {"name", "command",
/// "args": [...], "env": {...}, "cwd", "url", "headers": {...}, "connect_timeout_ms",
/// "request_timeout_ms", "max_message_bytes"}, and optionally "type" ("stdio" or "http", checked
/// against command/url, as in Claude Code's MCP configuration). A null value keeps the default.
/// Throws Error(invalid_argument) naming the key for invalid JSON, an unknown key or a value of the
/// wrong kind; the spec as a whole is checked by connect().
CCB_API McpServerSpec mcp_server_spec_from_json(std::string_view json);

/// What `initialize` answered.
struct McpServerInfo {
  std::string protocol_version;  ///< the negotiated one
  std::string name, version;     ///< serverInfo
  std::string capabilities_json; ///< the server's capabilities object, as JSON text
  std::string instructions;
};

/// One tool of `tools/list`.
struct McpTool {
  std::string name, title, description;
  std::string input_schema_json;   ///< JSON Schema object, as JSON text ("{}" if absent)
  std::string output_schema_json;  ///< "" if absent
  std::string annotations_json;    ///< "" if absent
};

/// One `tools/call` result (a tool that failed is a result with is_error, not an Error).
struct McpCallResult {
  std::string content_json;     ///< the `content` array, as JSON text
  std::string structured_json;  ///< `structuredContent`, "" if absent
  bool is_error = false;
  std::chrono::microseconds elapsed{0};
};

enum class McpState { connecting, ready, failed, closed };

class CCB_API McpClient {
public:
  template <class T> using Callback = std::function<void(std::optional<Error> error, T value)>;

  /// Starts (spawns or connects) and initializes. Errors: invalid_argument (spec), cli_not_found
  /// (the command), spawn_failed, timeout, process_failed (the server exited, or answered
  /// initialize with an error or with a protocol version we do not speak), io_error (HTTP).
  static McpClient connect(Runtime &runtime, McpServerSpec spec);
  /// The same without blocking; every error comes through `done`.
  static void connect_async(Runtime &runtime, McpServerSpec spec, Callback<std::optional<McpClient>> done);

  McpClient(McpClient &&) noexcept;
  McpClient &operator=(McpClient &&) noexcept;
  ~McpClient();

  const McpServerSpec &spec() const;
  McpServerInfo server_info() const;
  McpState state() const;
  /// Why the state is `failed` (the server exited, a message was not JSON-RPC, ...), or "".
  std::string last_error() const;

  /// Every tool (all pages). Errors: timeout, closed, process_failed (JSON-RPC error).
  std::vector<McpTool> list_tools(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// Calls a tool; `arguments_json` must be a JSON object. On timeout the request is cancelled
  /// at the server (notifications/cancelled) and Error(timeout) is thrown.
  McpCallResult call_tool(const std::string &name, const std::string &arguments_json,
                          std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// Round trip time of a `ping`.
  std::chrono::microseconds ping(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// Ends the server (as the destructor does) and connects again with the same spec; pending
  /// requests fail with Error(closed).
  McpServerInfo restart();
  /// Ends the server now; idempotent.
  void close();

  /// A pending call_tool_async; cancel() sends notifications/cancelled and completes it with
  /// Error(cancelled) (no-op once it has completed).
  class CCB_API Call {
  public:
    Call() = default;
    void cancel();

  private:
    friend class McpClient;
    std::function<void()> cancel_;
  };

  void list_tools_async(Callback<std::vector<McpTool>> done, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Call call_tool_async(const std::string &name, const std::string &arguments_json, Callback<McpCallResult> done,
                       std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  void ping_async(Callback<std::chrono::microseconds> done, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  void restart_async(Callback<McpServerInfo> done);

private:
  struct Impl;
  explicit McpClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

CCB_END_NAMESPACE
