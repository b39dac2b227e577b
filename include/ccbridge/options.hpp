// Options for one run of the Claude Code CLI: the fields of the official Python SDK's
// ClaudeAgentOptions that map to command-line flags or environment variables, with the same
// defaults, plus process-level settings (binary, cwd, env, limits, shutdown waits).
//
// Every user-controlled value is passed in the `--flag=value` form, so a value that starts with
// '-' can never be read as another flag. Nothing is ever passed through a shell.
//
// Thread safety: a plain value type; copy it freely.
#pragma once

#include <ccbridge/export.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

CCB_BEGIN_NAMESPACE

/// The system prompt. Default-constructed Options send `--system-prompt=` (an empty prompt), like
/// the Python SDK; use SystemPrompt::preset() for Claude Code's own prompt.
struct SystemPrompt {
  enum class Kind { text, file, preset };
  Kind kind = Kind::text;
  std::string value;                   ///< the text (text) or the path (file)
  std::optional<std::string> append;   ///< preset only: `--append-system-prompt=<append>`

  static SystemPrompt text(std::string s) { return {Kind::text, std::move(s), std::nullopt}; }
  static SystemPrompt file(std::string path) { return {Kind::file, std::move(path), std::nullopt}; }
  static SystemPrompt preset(std::optional<std::string> append_text = std::nullopt)
  {
    return {Kind::preset, "claude_code", std::move(append_text)};
  }
};

/// Extended thinking (`thinking` wins over max_thinking_tokens, as in the SDK).
struct Thinking {
  enum class Kind { adaptive, enabled, disabled };
  Kind kind = Kind::adaptive;
  int budget_tokens = 0;                ///< enabled only: `--max-thinking-tokens=<n>`
  std::optional<std::string> display;   ///< "summarized" or "omitted": `--thinking-display=`
};

/// Called with each line the CLI writes to stderr (without the newline), on a ccbridge I/O thread.
/// Must not block for long. Exceptions it throws are caught and ignored.
using StderrCallback = std::function<void(std::string_view line)>;

class Message;
/// Called with each `transcript_mirror` frame ({"type":"transcript_mirror","filePath":...,
/// "entries":[...]}: the transcript lines the CLI wrote, see Options::session_mirror), on a
/// ccbridge I/O thread. Must not block. Exceptions it throws are caught and ignored.
using TranscriptMirrorCallback = std::function<void(const Message &frame)>;

/// Which of the host's environment variables the CLI starts with (Options::env goes on top).
enum class EnvInherit {
  /// The host's whole environment, minus CLAUDECODE: what the official SDKs do. The default.
  all,
  /// Only what the CLI needs (cli_env_allow_list()), the cloud credentials of the provider the
  /// CLI is told to use, and what Options::pass_env names. `ccbridge serve` always uses this, so
  /// that an agent allowed to run commands cannot read the gateway's secrets.
  allow_list,
};

/// A directory held open, so that a CLI can be started in exactly that directory whatever its
/// path names by then (Options::cwd_dir). Copies share one descriptor (close-on-exec: a CLI never
/// inherits it), closed with the last copy. Made by open_directory_nofollow().
class CCB_API DirectoryHandle {
public:
  DirectoryHandle() = default;  ///< none
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  /// The path it was opened by ("" if none).
  const std::string &path() const noexcept;
  /// The descriptor (-1 if none); owned by the handle, valid while a copy of it lives.
  int native_handle() const noexcept;

private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  friend CCB_API DirectoryHandle open_directory_nofollow(const std::string &path);
};

/// Opens the directory at the absolute `path` one component at a time from "/", following no
/// symlink on the way (POSIX: openat with O_DIRECTORY | O_NOFOLLOW), so the handle is the
/// directory the path names at this moment even if a component is swapped for a symlink right
/// after a check. Pass a path without symlinks (a realpath). Throws Error(cwd_not_found) if the
/// path is not absolute, a component is missing, is not a directory or is a symlink.
CCB_API DirectoryHandle open_directory_nofollow(const std::string &path);

/// How a run is stopped. Two ladders share it: the graceful one (Session::close(), Stream::close()
/// and the end of a run: close stdin, exit_wait, SIGTERM, term_wait, SIGKILL), which lets the turn
/// finish, and the cancel (Stream::cancel(): an interrupt control request where the run has a
/// control channel, close stdin, cancel_grace, SIGTERM, term_wait, SIGKILL), which stops it now.
struct ShutdownPolicy {
  /// After closing stdin, how long the CLI may take to exit on its own (it flushes its session
  /// file then; signalling earlier loses the last message and breaks --resume).
  std::chrono::milliseconds exit_wait{5000};
  /// A cancel: after the interrupt and closing stdin, how long before SIGTERM. Short, since the
  /// caller wants the run to stop, not its turn to finish (the real CLI would answer meanwhile).
  std::chrono::milliseconds cancel_grace{300};
  /// After SIGTERM to the process group, how long before SIGKILL.
  std::chrono::milliseconds term_wait{5000};
  /// After the CLI exited, how long to keep reading stdout held open by a leftover descendant
  /// before the process group is killed and the stream ends.
  std::chrono::milliseconds drain_wait{2000};
};

struct Options {
  // ---- CLI flags, in the order the Python SDK emits them -------------------------------------
  std::optional<SystemPrompt> system_prompt;           ///< unset: `--system-prompt=` (empty)
  /// Built-in tools: unset = CLI default; {} = no tools (`--tools=`); {"default"} via tools_preset.
  std::optional<std::vector<std::string>> tools;
  bool tools_preset_default = false;                   ///< `--tools=default` (wins over tools)
  std::vector<std::string> allowed_tools;              ///< `--allowedTools=a,b`
  /// Skills: "all" adds `Skill`, names add `Skill(name)` to allowedTools; either makes
  /// setting_sources default to {"user","project"}.
  bool skills_all = false;
  std::vector<std::string> skills;
  std::optional<int> max_turns;                        ///< `--max-turns=<n>` (0 is ignored)
  std::optional<double> max_budget_usd;                ///< `--max-budget-usd=<x>`
  std::vector<std::string> disallowed_tools;           ///< `--disallowedTools=a,b`
  std::optional<int> task_budget;                      ///< `--task-budget=<n>`
  std::optional<std::string> model;                    ///< `--model=<m>`
  std::optional<std::string> fallback_model;           ///< `--fallback-model=<m>` (!= model)
  std::vector<std::string> betas;                      ///< `--betas=a,b`
  std::optional<std::string> permission_prompt_tool_name;  ///< `--permission-prompt-tool=<name>`
  /// default, acceptEdits, plan, bypassPermissions, dontAsk, auto (passed through as given).
  std::optional<std::string> permission_mode;
  bool continue_conversation = false;                  ///< `--continue`
  std::optional<std::string> resume;                   ///< `--resume=<id>`
  std::optional<std::string> session_id;               ///< `--session-id=<uuid>`
  std::optional<std::string> settings;                 ///< `--settings=<path or JSON>`
  /// Sandbox settings (a JSON object); merged into settings as its "sandbox" key.
  std::optional<std::string> sandbox_json;
  std::vector<std::string> add_dirs;                   ///< `--add-dir=<d>` per directory
  /// MCP servers: name -> server config as a JSON object text; sent as
  /// `--mcp-config={"mcpServers":{...}}`.
  std::map<std::string, std::string> mcp_servers;
  /// A path or JSON text passed verbatim as `--mcp-config=<value>` (instead of mcp_servers).
  std::optional<std::string> mcp_config;
  bool include_partial_messages = false;               ///< `--include-partial-messages`
  bool include_hook_events = false;                    ///< `--include-hook-events`
  bool strict_mcp_config = false;                      ///< `--strict-mcp-config`
  bool fork_session = false;                           ///< `--fork-session`
  std::optional<std::string> resume_session_at;        ///< `--resume-session-at=<uuid>`
  std::optional<std::string> resume_drops_turn;        ///< `--resume-drops-turn=<uuid>` (even if "")
  /// `--session-mirror`: the CLI also writes each transcript line it saves to stdout, in
  /// `transcript_mirror` frames. They go to transcript_mirror_callback if set, else into the
  /// message stream (MessageType::unknown, type_name() "transcript_mirror"). Without this option
  /// such frames are dropped: they are never the application's unless it asked for them.
  bool session_mirror = false;
  TranscriptMirrorCallback transcript_mirror_callback;  ///< see session_mirror
  /// unset: omitted (CLI default: all sources); {} gives `--setting-sources=` (none).
  std::optional<std::vector<std::string>> setting_sources;
  std::vector<std::string> plugin_dirs;                ///< `--plugin-dir=<p>` per local plugin
  std::optional<Thinking> thinking;
  std::optional<int> max_thinking_tokens;              ///< deprecated; `--max-thinking-tokens=<n>`
  std::optional<std::string> effort;                   ///< low, medium, high, xhigh, max
  std::optional<std::string> json_schema;              ///< output_format json_schema: `--json-schema=`
  /// Escape hatch for flags ccbridge does not know: {"flag", value} gives `--flag=value`,
  /// {"flag", nullopt} gives `--flag`. Emitted in order, after the known flags.
  std::vector<std::pair<std::string, std::optional<std::string>>> extra_args;

  // ---- what the SDKs send on stdin rather than as flags ------------------------------------------
  /// Every user message carries "client_composed":true: the CLI (2.1.248 and later) then takes the
  /// text as written, with no @path mention expansion and no slash command dispatch. For prompts
  /// assembled from text the end user did not type. Older CLIs ignore it.
  bool verbatim_prompts = false;
  /// Ask the CLI (in initialize) to forward subagents' text and thinking blocks too, not only
  /// their tool_use/tool_result blocks. Needs initialize, so a Session: query() refuses it.
  bool forward_subagent_text = false;

  // ---- environment -----------------------------------------------------------------------------
  bool enable_file_checkpointing = false;  ///< env CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING=true
  /// Your app's identifier ("my-app/1.0.0"), sent by the CLI on its API requests: env
  /// CLAUDE_AGENT_SDK_CLIENT_APP (wins over a value in env; "" sends none). The value must be valid
  /// in an HTTP header.
  std::optional<std::string> client_app;
  /// Merged over the inherited environment (see inherit_env). Overrides CLAUDE_CODE_ENTRYPOINT.
  std::map<std::string, std::string> env;
  /// What the CLI inherits from the host's environment.
  EnvInherit inherit_env = EnvInherit::all;
  /// allow_list only: more variables to pass, as names ("FOO") or prefixes ending in '*'
  /// ("OTEL_*"). ccbridge's own variables (CCBRIDGE_*, e.g. the gateway's token) are never
  /// passed this way: naming one is an error, and a prefix never matches them.
  std::vector<std::string> pass_env;

  // ---- process ---------------------------------------------------------------------------------
  /// The CLI executable. Unset: PATH, then the usual install locations (see find_cli()).
  std::optional<std::string> cli_path;
  /// Working directory of the CLI (must exist). Unset: the host's cwd.
  std::optional<std::string> cwd;
  /// If set, the CLI starts in this very directory (fchdir) instead of looking `cwd` up by name
  /// again, so a path swapped for a symlink after it was checked cannot move it elsewhere. `cwd`
  /// (default: cwd_dir.path()) still names it, in PWD and in errors. A run keeps no copy of it
  /// once the CLI has started.
  DirectoryHandle cwd_dir;
  /// POSIX only: run the CLI as this user (name or numeric uid); needs the privilege to switch.
  std::optional<std::string> user;
  StderrCallback stderr_callback;
  /// Bytes of stderr kept for error reports (the newest ones).
  std::size_t stderr_tail_bytes = 16 * 1024;
  /// Longest stdout line accepted, in bytes; longer lines become invalid_line messages.
  std::size_t max_line_bytes = 64 * 1024 * 1024;
  /// Backpressure: reading stdout pauses while this many messages, or this many bytes, wait
  /// unconsumed in a Stream.
  std::size_t max_buffered_messages = 1024;
  std::size_t max_buffered_bytes = 64 * 1024 * 1024;
  ShutdownPolicy shutdown;
};

/// The argv (without the program) that Options produce, in the order the CLI receives them.
/// Throws Error(errc::invalid_argument) for contradictory or malformed options.
CCB_API std::vector<std::string> build_cli_args(const Options &options);

/// The child environment ("KEY=VALUE" entries) built from `parent` ("KEY=VALUE" entries, usually
/// the host's environ) following the official SDKs' rules: parent minus CLAUDECODE (with
/// EnvInherit::allow_list: only the allow-listed part of it, see cli_env_allow_list()),
/// CLAUDE_CODE_ENTRYPOINT=sdk-cli as a default, options.env merged over it, PWD=cwd (or
/// cwd_dir's path) when set, CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING when requested, and
/// CLAUDE_AGENT_SDK_CLIENT_APP=client_app when set; never CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP (a
/// label an outer SDK session derived for its own app, as the Python SDK drops it). Sorted by key.
/// With allow_list, the cloud credentials pass only for the provider the result selects:
/// AWS_* with CLAUDE_CODE_USE_BEDROCK, GOOGLE_*, CLOUDSDK_*, CLOUD_ML_REGION and VERTEX_REGION_*
/// with CLAUDE_CODE_USE_VERTEX, AZURE_* with CLAUDE_CODE_USE_FOUNDRY (set and not "0" or "false").
/// Throws Error(invalid_argument) for a malformed env key or pass_env entry.
CCB_API std::vector<std::string> build_cli_env(const Options &options,
                                               const std::vector<std::string> &parent);

/// The variables EnvInherit::allow_list passes whatever the provider: names, and prefixes ending
/// in '*'. PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TERM, TZ, TMPDIR, XDG_*, the
/// CLI's own ANTHROPIC_*, CLAUDE_* and DISABLE_* settings and a few more of its documented knobs
/// (MAX_THINKING_TOKENS, MCP_TIMEOUT, BASH_DEFAULT_TIMEOUT_MS ...), the proxies (HTTP_PROXY,
/// HTTPS_PROXY, NO_PROXY, either case), NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, SSL_CERT_DIR and
/// IS_SANDBOX.
CCB_API std::vector<std::string> cli_env_allow_list();

/// Options from a JSON object whose keys are the Python SDK's ClaudeAgentOptions field names, with
/// the same value shapes: system_prompt (a string, {"type":"preset","preset":"claude_code",
/// "append":...} or {"type":"file","path":...}), tools (names or {"type":"preset",...}),
/// allowed_tools, disallowed_tools, skills ("all" or names), max_turns, max_budget_usd,
/// task_budget ({"total":n}), model, fallback_model, betas, permission_prompt_tool_name,
/// permission_mode, continue_conversation, resume, session_id, settings, sandbox, add_dirs,
/// mcp_servers (an object of server configs, or a path / JSON string), include_partial_messages,
/// include_hook_events, strict_mcp_config, fork_session, resume_session_at, resume_drops_turn,
/// setting_sources, plugins ([{"type":"local","path":...}]), thinking, max_thinking_tokens, effort,
/// output_format ({"type":"json_schema","schema":{...}}), extra_args, enable_file_checkpointing,
/// client_app, verbatim_prompts, forward_subagent_text, env, cli_path, cwd, user, max_buffer_size;
/// and ccbridge's own: inherit_env ("all" or "allow_list"), pass_env (names and prefixes),
/// session_mirror, plugin_dirs, max_line_bytes, stderr_tail_bytes, max_buffered_messages, max_buffered_bytes and
/// shutdown {exit_wait_ms, term_wait_ms, drain_wait_ms}. null resets a field to its default.
/// Callbacks (stderr, permissions, hooks, tools) are not JSON: set them in C++.
/// Throws Error(invalid_argument) naming the key for an unknown key or a value of the wrong kind.
CCB_API Options options_from_json(std::string_view json);
/// The same, merged over `options` (keys not present are left alone). On error `options` is
/// unchanged.
CCB_API void merge_options_json(Options &options, std::string_view json);

/// Locates the CLI executable: options.cli_path if set (a bare name is looked up on PATH), else
/// `claude` on PATH, else ~/.npm-global/bin/claude, /usr/local/bin/claude, ~/.local/bin/claude,
/// ~/node_modules/.bin/claude, ~/.yarn/bin/claude, ~/.claude/local/claude.
/// Throws Error(errc::cli_not_found) naming every place searched and how to install the CLI.
CCB_API std::string find_cli(const Options &options);

CCB_END_NAMESPACE
