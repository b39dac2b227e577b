// PermissionRelay: exact permission prompts for the CLI's interactive UI (a terminal on a PTY).
//
// The CLI is started with hooks (cli_args(): `--settings` with matcher "*" running
// `<hook program> permission-hook` for PermissionRequest, PostToolUse and PostToolUseFailure, and
// `--permission-mode default`, without which a fresh UI starts in auto mode and never calls the
// PermissionRequest hook). For every real permission prompt the CLI runs the hook, which connects
// to this relay's Unix socket (cli_env(): its path and a per-relay secret), sends
// {"secret":..., "request":<its stdin>} as one line and waits, with no timeout of its own, for one
// reply line, which it prints as its output. The relay hands each request to on_ask; the owner
// answers with answer(id, allow, message). The prompt is on the screen at the same time, and a
// key typed there can answer it first: No/Esc makes the CLI SIGTERM the hook (the connection
// closes); Yes runs the tool but leaves the hook, and the turn, waiting, so the PostToolUse hook of
// that call tells the relay, which ends the waiting hook (it prints nothing). Either way, and when
// the CLI exits, on_gone(id) says the question went away unanswered.
// See docs/ARCHITECTURE.md "Exact permission prompts" and CLI-OBSERVED's PTY section.
//
// Internal for now (ccbridge::detail): its API takes an asio::io_context, which no public header
// may name. The public surface is meant to be the Terminal's option that turns it on.
#pragma once

#include <asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail {

/// The environment variables the hook reads.
constexpr char kPermissionSocketEnv[] = "CCBRIDGE_PERMISSION_SOCKET";
constexpr char kPermissionSecretEnv[] = "CCBRIDGE_PERMISSION_SECRET";
/// The longest request line the hook sends and the relay reads by default (the hook's stdin plus
/// the envelope); the hook refuses a larger stdin.
constexpr std::size_t kPermissionMaxMessage = 1024 * 1024;

/// One permission prompt of the CLI, as its PermissionRequest hook was told it.
struct PermissionAsk {
  std::uint64_t id = 0;         ///< 1, 2, ... within one relay
  std::string tool_name;        ///< "Bash", "Write", "mcp__srv__tool", ...
  std::string tool_input_json;  ///< the request's tool_input, as the CLI wrote it
  std::string request_json;     ///< the hook's whole stdin (session_id, cwd, tool_name, tool_input, ...)
};

struct PermissionRelayConfig {
  /// The program the hook runs as `<hook_program> permission-hook`; empty: default_hook_program().
  std::string hook_program;
  /// Passed as --permission-mode; empty passes none (then a fresh UI is in auto mode: no hook).
  std::string permission_mode = "default";
  std::size_t max_message_bytes = kPermissionMaxMessage;
  /// Hook connections open at once; one more is closed at once (its prompt stays on the screen).
  std::size_t max_asks = 64;
  /// A connection that has not sent its whole request line by then is closed.
  std::chrono::milliseconds request_wait{10000};
};

/// The installed `ccbridge` (CMake's install bindir, compiled in): the default hook program. An
/// embedder that ships the executable elsewhere (the server passes its own path) sets
/// PermissionRelayConfig::hook_program.
std::string default_hook_program();

class PermissionRelay : public std::enable_shared_from_this<PermissionRelay> {
public:
  struct Handlers {
    std::function<void(const PermissionAsk &)> on_ask;  ///< a new question; answer it once
    /// Its hook went away before an answer: the prompt was answered on the screen (or the CLI
    /// was interrupted or exited). Not called for an answered question.
    std::function<void(std::uint64_t id)> on_gone;
  };

  /// Listens on a fresh socket in a new 0700 directory under $XDG_RUNTIME_DIR (or /tmp). Handlers
  /// run on the relay's own strand of `io`, one at a time; they must not block, and may call
  /// answer(). Throws Error(io_error) when the socket cannot be made.
  static std::shared_ptr<PermissionRelay> start(asio::io_context &io, PermissionRelayConfig config, Handlers handlers);
  ~PermissionRelay();
  PermissionRelay(const PermissionRelay &) = delete;
  PermissionRelay &operator=(const PermissionRelay &) = delete;

  /// To add to the CLI's argv: --settings <json> [--permission-mode <mode>].
  std::vector<std::string> cli_args() const;
  /// To add to the CLI's environment (after any allow-list): the socket's path and the secret.
  std::map<std::string, std::string> cli_env() const;
  const std::string &socket_path() const noexcept { return socket_path_; }

  /// Answers question `id`: allow runs the tool, deny refuses it with `message` (shown by the CLI;
  /// empty gives "Permission denied"). Any thread. True when this was the first answer to a
  /// question whose hook was still connected; false for a second answer, an unknown id, a question
  /// that is gone, or after close(). Throws Error(invalid_argument) if `message` is not UTF-8.
  bool answer(std::uint64_t id, bool allow, std::string_view message = {});

  /// Stops listening and closes every hook connection (their hooks print nothing, so the prompts
  /// stay on the screen); no handler is started afterwards. Any thread; idempotent. The socket and
  /// its directory are removed here or by the destructor.
  void close();

  struct Conn;
  struct Private;

private:
  explicit PermissionRelay(asio::io_context &io, PermissionRelayConfig config, Handlers handlers);
  void listen();
  void do_accept();
  void on_accepted(const std::shared_ptr<Conn> &conn);
  void on_request(const std::shared_ptr<Conn> &conn, std::string_view line);
  bool parse_request(std::string_view line, PermissionAsk &ask, std::string &event, std::string &call) const;
  void settle(const std::string &call);
  void watch_close(const std::shared_ptr<Conn> &conn);
  void drop(const std::shared_ptr<Conn> &conn);
  void remove_files() noexcept;

  std::unique_ptr<Private> p_;
  std::string socket_path_;
};

}  // namespace ccbridge::detail
