// Session: one Claude Code process kept alive for a whole conversation (stream-json duplex mode,
// like the official ClaudeSDKClient), with the control protocol: interrupt, permission mode and
// model changes, arbitrary control requests with timeouts, and permission callbacks.
//
// Threads: the blocking methods (open, close, interrupt, set_model, control, ...) may be called
// from any thread except a ccbridge I/O thread (they block until the CLI answers, or until the
// control timeout). Each has a non-blocking twin (open_async, close_async, interrupt_async, ...)
// that returns at once, may be called from any thread, including a message callback, and reports
// on the run's strand: the same I/O thread that delivers messages, so its callback must not block.
// Messages are consumed through messages() by one consumer at a time (see Stream). Control frames
// never wait behind that queue, so a caller that stops reading never blocks control requests or
// callbacks.
// Lifetime: the destructor closes the session (see close()); after close_async() it does not wait.
#pragma once

#include <ccbridge/error.hpp>
#include <ccbridge/export.h>
#include <ccbridge/json.hpp>
#include <ccbridge/options.hpp>
#include <ccbridge/runtime.hpp>
#include <ccbridge/stream.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail {
template <class T> struct Access;  // how the library reaches a class's internals (defined in lib/)
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

/// A `can_use_tool` request from the CLI: may this tool run with this input?
struct PermissionRequest {
  std::string tool_name;
  JsonView input;                  ///< the tool's input object
  std::string tool_use_id;
  JsonView suggestions;            ///< "permission_suggestions" (PermissionUpdate objects), may be missing
  std::string decision_reason;     ///< why the CLI asks, e.g. "This command requires approval"
  std::string blocked_path;        ///< set for file-system denials, else ""
  JsonView request;                ///< the whole request object, for fields not listed here
};

/// The answer to a PermissionRequest.
class CCB_API PermissionDecision {
public:
  /// Allow with the original input.
  static PermissionDecision allow();
  /// Allow with a changed input (a JSON object) and optionally permission updates (a JSON array
  /// of PermissionUpdate objects, e.g. to remember the rule). Throws Error(invalid_argument) on
  /// malformed JSON.
  static PermissionDecision allow_with(std::string_view updated_input_json,
                                       std::string_view updated_permissions_json = {});
  /// Deny, with a message the model sees; `interrupt` also stops the turn.
  static PermissionDecision deny(std::string message, bool interrupt = false);

  bool allowed() const noexcept { return allow_; }
  /// The response payload sent to the CLI (JSON object text), given the original input.
  std::string to_json(const JsonView &original_input) const;

private:
  bool allow_ = true;
  bool interrupt_ = false;
  std::string message_;
  std::string updated_input_;
  std::string updated_permissions_;
};

/// Handle to answer one PermissionRequest, once, from any thread, now or later. Copies share the
/// request. If the CLI withdraws the request (an interrupt) cancelled() becomes true and the
/// answer is dropped. If every copy is destroyed unanswered, the CLI gets an error response, so
/// a forgotten request never hangs the conversation.
class CCB_API PermissionReply {
public:
  void operator()(const PermissionDecision &decision) const;
  /// Answers with an error response carrying `message`, as a callback that throws does: for a
  /// callback whose failure comes later (an asynchronous one), so that the CLI is never left
  /// waiting. Only the first answer counts.
  void fail(std::string_view message) const;
  bool cancelled() const noexcept;
  bool answered() const noexcept;
  /// An empty handle, to assign a real one to later: answering it does nothing.
  explicit PermissionReply(std::nullptr_t) noexcept {}

private:
  struct State;
  friend struct detail::Access<PermissionReply>;
  explicit PermissionReply(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

/// Permission callback. Runs on a ccbridge callback thread (never the I/O thread), so it may
/// block; it may also keep `reply` and answer later from another thread. Exceptions become an
/// error response carrying their message.
using PermissionCallback = std::function<void(const PermissionRequest &request, PermissionReply reply)>;

/// Convenience: wraps a synchronous decision function as a PermissionCallback.
CCB_API PermissionCallback permission_function(std::function<PermissionDecision(const PermissionRequest &)> fn);

// ---- hooks ------------------------------------------------------------------------------------

/// A hook event from the CLI (PreToolUse, PostToolUse, UserPromptSubmit, Stop, ...).
struct HookInput {
  std::string event;        ///< hook_event_name
  std::string tool_name;    ///< for tool events, else ""
  JsonView tool_input;      ///< for tool events
  std::string tool_use_id;  ///< for tool events, else ""
  JsonView input;           ///< the whole input object (session_id, cwd, transcript_path, ...)
};

/// What a hook callback answers. Empty fields are left out; see the CLI's hook documentation.
struct HookOutput {
  std::optional<bool> continue_;               ///< "continue": false stops the turn
  std::optional<std::string> stop_reason;      ///< "stopReason"
  std::optional<bool> suppress_output;         ///< "suppressOutput"
  std::optional<std::string> decision;         ///< "decision": "block"
  std::optional<std::string> reason;           ///< "reason"
  std::optional<std::string> system_message;   ///< "systemMessage"
  /// "hookSpecificOutput" as a JSON object text, e.g. a PreToolUse permissionDecision.
  std::string hook_specific_json;

  /// PreToolUse: deny this tool call; the model sees `why`.
  static HookOutput deny_tool(std::string why);
  /// PreToolUse: allow this tool call without asking.
  static HookOutput allow_tool(std::string why = {});
  /// The JSON object sent to the CLI. Throws Error(invalid_argument) for malformed hook_specific_json.
  std::string to_json(std::string_view event) const;
};

/// Runs on a ccbridge callback thread (may block up to the matcher's timeout). Exceptions become
/// an error answer carrying their message.
using HookCallback = std::function<HookOutput(const HookInput &input)>;

struct HookMatcher {
  std::optional<std::string> matcher;  ///< e.g. "Bash" or "Write|Edit"; unset matches every tool
  std::vector<HookCallback> callbacks;
  std::optional<std::chrono::seconds> timeout;  ///< CLI-side timeout (its default is 60 s)
};

// ---- in-process MCP tools ------------------------------------------------------------------------

/// The result of an in-process tool call: MCP content blocks.
struct ToolResult {
  std::string content_json = "[]";  ///< a JSON array of MCP content blocks
  bool is_error = false;
  static ToolResult text(std::string_view text);
  static ToolResult error(std::string_view message);
};

/// Handle to answer one call of a Tool's async_handler, once, from any thread, now or later.
/// Copies share the call; answers after the first are ignored. If the CLI withdraws the request
/// (an interrupt) cancelled() becomes true and the answer is dropped. If every copy is destroyed
/// unanswered, the CLI gets an error result, so a forgotten call never hangs the turn.
class CCB_API ToolReply {
public:
  /// Sends `result` to the CLI (encoded as for Tool::handler: content_json that is not a JSON
  /// array becomes a JSON-RPC error).
  void operator()(const ToolResult &result) const;
  bool cancelled() const noexcept;
  bool answered() const noexcept;
  /// An empty handle, to assign a real one to later: answering it does nothing.
  explicit ToolReply(std::nullptr_t) noexcept {}

private:
  struct State;
  friend struct detail::Access<ToolReply>;
  explicit ToolReply(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

/// Asynchronous tool handler. Runs on a ccbridge callback thread and must not block it: start the
/// work, keep `reply` and answer later from any thread. An exception thrown by the handler itself
/// becomes a JSON-RPC error carrying its message (unless `reply` was already answered).
using AsyncToolHandler = std::function<void(const JsonView &arguments, ToolReply reply)>;

/// A tool of an McpServer. Exactly one of `handler` and `async_handler` must be set
/// (Session::open throws Error(invalid_argument) otherwise).
struct Tool {
  std::string name;
  std::string description;
  /// JSON Schema object. A call's arguments are validated against it before the handler runs, as
  /// the Python SDK does (jsonschema's keywords and texts): the model gets an error result
  /// "Input validation error: 'b' is a required property" and the handler is not called.
  std::string input_schema_json = R"({"type":"object","properties":{}})";
  /// Runs on a ccbridge callback thread; may block, but holds one of the runtime's few callback
  /// threads while it does (prefer async_handler for slow tools). Exceptions become a JSON-RPC
  /// error carrying their message.
  std::function<ToolResult(const JsonView &arguments)> handler;
  /// The asynchronous form: answers through a ToolReply without holding a callback thread.
  AsyncToolHandler async_handler;
  /// MCP tool annotations (a JSON object, "" for none), e.g. {"readOnlyHint":true}, and the
  /// tool's `_meta` object ("" for none), e.g. {"anthropic/maxResultSizeChars":500000} (the size
  /// up to which Claude Code keeps the result inline), both sent as they are in tools/list.
  std::string annotations_json;
  std::string meta_json;
};

/// An MCP server that lives in this process: the CLI lists and calls its tools through the control
/// protocol. The model sees the tools as `mcp__<server>__<tool>`.
struct McpServer {
  std::string name;
  std::string version = "1.0.0";
  std::vector<Tool> tools;
};

struct SessionOptions {
  Options options;
  /// Enables `--permission-prompt-tool=stdio`: the CLI asks this callback whenever its rules say
  /// "ask". Cannot be combined with Options::permission_prompt_tool_name.
  PermissionCallback can_use_tool;
  /// Send `initialize` at open and wait for its answer (server_info()). The CLI answers once it has
  /// started (about 0.6 s for 2.1.330).
  bool initialize = true;
  std::chrono::milliseconds initialize_timeout{60000};
  /// Timeout of every other control request.
  std::chrono::milliseconds control_timeout{60000};
  /// Hook callbacks per event name ("PreToolUse", "PostToolUse", ...), registered in initialize
  /// (so `initialize` must stay true when hooks are set).
  std::map<std::string, std::vector<HookMatcher>> hooks;
  /// In-process MCP servers (added to --mcp-config as type "sdk", next to Options::mcp_servers).
  std::vector<McpServer> mcp_servers;
  /// More members of the initialize request, as the text of a JSON object ("" for none), e.g.
  /// `{"agents":{"reviewer":{"description":"...","prompt":"..."}}}` (subagents, as the SDKs send
  /// them). "subtype" and "hooks" are the session's own and refused (invalid_argument).
  std::string initialize_fields;
};

class CCB_API Session {
public:
  /// open_async's result: exactly one of `error` and `session` is set.
  using OpenCallback = std::function<void(std::optional<Error> error, std::optional<Session> session)>;
  /// A control request's result: `error` is unset on success, and `response` is then the CLI's
  /// response payload (missing when the CLI sent none).
  using ControlCallback = std::function<void(std::optional<Error> error, JsonView response)>;

  /// Starts the CLI and, unless disabled, sends `initialize` and waits for the answer.
  /// Errors (Error): cli_not_found, cwd_not_found, spawn_failed, invalid_argument (e.g. a Tool
  /// with neither or both of handler and async_handler); timeout if initialize gets no answer in
  /// time; ProcessError (code process_failed or session_not_found, with the run's outcome) if the
  /// CLI exits before it answers.
  static Session open(Runtime &runtime, SessionOptions options);

  /// open() without blocking: checks the options, then returns at once; the spawn runs on the
  /// run's strand and the `initialize` answer is awaited there. `done` runs exactly once, on a
  /// ccbridge I/O thread (the run's strand once the run exists), with the open Session or with
  /// the Error open() would have thrown, same code and message, including the checks of the
  /// options (invalid_argument, cli_not_found): every error comes through `done`. A failed open
  /// has ended and reaped its process before `done` runs. `done` must not block (it holds an I/O
  /// thread), so the Session's blocking methods throw would_deadlock inside it; move the Session
  /// to another thread, or use the *_async methods. Exceptions thrown by `done` are dropped.
  /// Throws Error(invalid_argument) only if `done` is empty.
  static void open_async(Runtime &runtime, SessionOptions options, OpenCallback done);

  Session(Session &&) noexcept;
  Session &operator=(Session &&) noexcept;
  ~Session();

  /// Sends one user message (starts a turn; messages sent during a turn are queued by the CLI).
  /// `client_composed` marks it "client_composed":true, as Options::verbatim_prompts marks them all.
  /// Errors: Error(closed) after close() or once the CLI is gone; Error(invalid_argument) for text
  /// that is not UTF-8 or content that is not a JSON array.
  void send(std::string_view text, bool client_composed = false);
  void send_content(std::string_view content_json, bool client_composed = false);

  /// The conversation's messages (everything but control frames), for pull, next() or callbacks.
  /// It ends when the CLI exits (after close()).
  Stream &messages();

  /// Pulls messages until the next `result` (included). Throws Error(timeout) if `timeout` passes
  /// first (messages already pulled are returned by the next call), Error(closed) if the stream
  /// ends first.
  std::vector<Message> receive_response(std::chrono::milliseconds timeout = std::chrono::minutes(10));

  // ---- control requests: each blocks until the CLI answers. Errors: Error(timeout); Error(closed)
  // when the CLI is gone, or the run's own code (process_failed, session_not_found) if it failed;
  // Error(control_error) when the CLI refuses. Error(would_deadlock) on a ccbridge I/O thread:
  // use the *_async forms there.
  /// Interrupts the current turn; it ends with a result whose terminal_reason says aborted.
  JsonView interrupt();
  void set_permission_mode(std::string_view mode);
  /// nullopt restores the default model.
  void set_model(std::optional<std::string_view> model);
  JsonView mcp_status();
  JsonView get_context_usage();
  /// Stops a background task (the task_id of its task_started message); its end follows in the
  /// messages (task_updated with a terminal status).
  void stop_task(std::string_view task_id);
  /// Enables or disables an MCP server by name (disabled: disconnected, its tools withdrawn).
  void toggle_mcp_server(std::string_view server_name, bool enabled);
  /// Reconnects a failed or disconnected MCP server.
  void reconnect_mcp_server(std::string_view server_name);
  /// Restores the files changed since the user message `user_message_id` (a user message's uuid);
  /// needs Options::enable_file_checkpointing. Returns the CLI's response payload.
  JsonView rewind_files(std::string_view user_message_id);
  /// Any control request: `fields_json` is a JSON object merged into the request next to
  /// "subtype". Returns the CLI's response payload; an error response throws
  /// Error(process_failed) with the CLI's message.
  JsonView control(std::string_view subtype, std::string_view fields_json = "{}",
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // ---- the same without blocking: each returns at once, from any thread (a message callback
  // too), and `done` runs exactly once on the run's strand with what the blocking form would have
  // returned or thrown: the same codes and messages, including invalid_argument for an empty
  // subtype or fields that are not a JSON object, and closed once the CLI is gone. `done` may be
  // empty (fire and forget: errors are dropped); it must not block; its exceptions are dropped.
  // Made from one thread, requests and send() reach the CLI in the order they were made.
  // Throws only Error(invalid_argument) for a moved-from Session.
  void interrupt_async(ControlCallback done = {});
  void set_permission_mode_async(std::string_view mode, ControlCallback done = {});
  void set_model_async(std::optional<std::string_view> model, ControlCallback done = {});
  void control_async(std::string_view subtype, std::string_view fields_json, ControlCallback done = {},
                     std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// Closes the CLI's stdin without waiting: the CLI finishes what it was asked, its remaining
  /// messages still arrive through messages(), and the stream ends when it exits. After this,
  /// send() throws Error(closed), and so do control requests and callback answers, which need
  /// stdin: end input only once the answers the turn needs are given (the official SDKs wait for
  /// the first result when callbacks are set). Idempotent.
  void end_input();

  /// Ends input once the run is over, as the official SDKs do for a one-shot prompt: stdin closes
  /// at once if no callback can be asked (no can_use_tool, hooks or in-process MCP servers);
  /// otherwise once a result came and the CLI reports its session "idle" (or, from a CLI that
  /// reports no session state, at a result with no background agent in flight). A result ends a
  /// turn, not the run: a background agent that finishes wakes the CLI for another turn, whose
  /// requests still need stdin. If the CLI still reports "running" `ceiling` after a result with
  /// no new turn, stdin closes anyway (default: CLAUDE_CODE_PRINT_BG_WAIT_CEILING_MS from
  /// Options::env or the environment, else 10 minutes, as the CLI itself waits; 0: no bound).
  /// send() throws Error(closed) from now on; control requests and callback answers go on until
  /// stdin closes. Returns at once; any thread. Idempotent with end_input() (the first counts).
  void end_input_when_done(std::optional<std::chrono::milliseconds> ceiling = std::nullopt);

  /// The `initialize` response (commands, models, account, ...), missing if not initialized.
  JsonView server_info() const;
  int pid() const;

  /// Ends the conversation gracefully: closes stdin and gives the CLI ShutdownPolicy::exit_wait
  /// to finish its turn, flush its session file and exit before any signal, then the rest of the
  /// ladder. Pending control requests fail with Error(closed). Unread messages are discarded.
  /// Idempotent. To stop at once instead (interrupt, then SIGTERM after cancel_grace), call
  /// messages().cancel() (Stream::cancel).
  const RunOutcome &close();

  /// close() without waiting: starts the same ladder and returns at once (any thread, a message
  /// callback too). `done` (may be empty) runs on the run's strand once the process has been
  /// reaped, with the outcome close() would return; it must not block, and its exceptions are
  /// dropped. After this the destructor and move-assignment do not wait for the process; close()
  /// still does.
  void close_async(Stream::EndCallback done = {});

private:
  struct Impl;
  friend struct detail::Access<Session>;
  explicit Session(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

CCB_END_NAMESPACE
