// Terminal: the Claude Code CLI's interactive UI (no -p, no stream-json) on a pseudo-terminal.
// Bytes in, bytes out, resize, stop: what a remote terminal or the cc-control profile needs.
//
// The CLI leads a session of its own with the PTY as controlling terminal (its process group is
// its pid), under the same guarantees as a Stream's CLI: parent-death signal, the host's process
// group guard, a cgroup of its own where cgroup v2 is writable, every descendant ended and the
// process reaped when it ends.
//
// Nothing here blocks: start() checks the options and queues the spawn on a runtime thread;
// write(), resize(), stop() and the reading controls queue their work and return. Events run on a
// runtime I/O thread, one at a time and in order: `output` for each chunk read from the PTY, then
// `exit` exactly once, after the last chunk (the PTY is read until the kernel reports its end).
// Events must not block: they hold up the runtime's other runs meanwhile.
//
// Thread safety: every member may be called from any thread, an event callback included.
#pragma once

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
#include <system_error>
#include <vector>

CCB_BEGIN_NAMESPACE

struct TerminalOptions {
  /// The CLI executable; empty: found as find_cli() finds it (PATH, then the usual places).
  std::string cli_path;
  /// Extra argv after the program (e.g. {"--settings", "{...}"}); `--resume <id>` follows them.
  std::vector<std::string> args;
  /// Working directory; must exist. Resolved (symlinks too) and entered by a handle opened
  /// without following symlinks. Empty: the host's current directory.
  std::string cwd;
  /// Requested variables (a client's): only keys in env_allow_keys or starting with
  /// env_allow_prefix pass; the others are dropped silently.
  std::map<std::string, std::string> env;
  std::vector<std::string> env_allow_keys;
  std::string env_allow_prefix = "CC_";  ///< "" lets no key pass by prefix
  /// The host's variables copied where present (CC-CONTROL.md 1.6).
  std::vector<std::string> host_env_keys = {"PATH", "HOME",     "USER",        "SHELL",           "TERM",          "LANG",
                                            "LC_ALL", "LC_CTYPE", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME"};
  /// Set by the embedder, not filtered; wins over the host's and the requested values.
  std::map<std::string, std::string> extra_env;
  /// Initial window size; also COLUMNS and LINES in the environment. Both > 0, or neither is used.
  std::uint16_t cols = 0, rows = 0;
  /// Resume a conversation: trimmed; at most 128 bytes, no whitespace, not starting with '-'.
  std::string resume_id;
  /// Stop the terminal (stop() with its defaults) if it prints nothing for this long; 0: never.
  std::chrono::milliseconds start_timeout{30000};
  /// Largest chunk read from the PTY at once (one output event per read).
  std::size_t read_chunk = 4096;
};

/// How a terminal ended (the fields of cc-control's `pty_exit`).
struct TerminalExit {
  /// The exit code; -1 when a signal ended it; unset when it never ran.
  std::optional<int> exit_code;
  /// The ending signal under Go's name ("terminated", "killed", "interrupt", "hangup", ...), or "".
  std::string signal;
  /// "exited", "start_timeout", or why it could not start (the error's message).
  std::string reason;
  /// Set when it could not start: cli_not_found, cwd_not_found, spawn_failed, ...
  std::error_code error;
};

struct TerminalEvents {
  /// One chunk read from the PTY (at most read_chunk bytes); seq is 1, 2, 3, ... The bytes are
  /// valid for the call only.
  std::function<void(std::string_view bytes, std::uint64_t seq)> output;
  /// Exactly once, after the last output.
  std::function<void(const TerminalExit &exit)> exit;
};

class CCB_API Terminal {
public:
  /// Starts the CLI on a new PTY, on `runtime`'s threads. Returns at once: the spawn happens on a
  /// runtime thread, and if it fails there, `exit` reports it (error set, no exit code).
  /// Throws Error: invalid_argument (resume_id, read_chunk 0, a malformed extra_env key),
  /// cli_not_found, cwd_not_found.
  static Terminal start(Runtime &runtime, const TerminalOptions &options, TerminalEvents events);
  /// The same on a private runtime with one I/O thread, owned by the terminal.
  static Terminal start(const TerminalOptions &options, TerminalEvents events);

  Terminal(Terminal &&) noexcept;
  Terminal &operator=(Terminal &&) noexcept;
  /// Stops the CLI (as stop(0, 2 s) unless a stop is under way) without waiting for it. No event
  /// runs once the destructor has returned; one running on another thread is waited for (it must
  /// not block). Destroying the terminal from its own event is allowed.
  ~Terminal();

  /// Queues bytes for the CLI's input, written in order; dropped once the CLI has exited.
  void write(std::string bytes);
  /// Sets the window size (TIOCSWINSZ; the CLI gets SIGWINCH). Zero values are ignored.
  void resize(std::uint16_t cols, std::uint16_t rows);
  /// SIGTERM to the CLI's process group now, SIGKILL at max(grace, kill_after) if it is still
  /// there (the original agent's rule: kill_after is raised to at least grace). Once per terminal.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(4000),
            std::chrono::milliseconds kill_after = std::chrono::milliseconds(9000));
  /// Backpressure: no more reads from the PTY until resume_reading() (the CLI blocks once the
  /// PTY's buffer is full). Called from an output event it takes effect before the next read;
  /// from another thread, at most one more chunk may follow. After the CLI has exited, what it
  /// left in the PTY is read anyway.
  void pause_reading();
  void resume_reading();

  /// The CLI's pid; 0 before it has been spawned and once it has been reaped.
  int pid() const noexcept;
  /// True until `exit` has been delivered (or is being delivered).
  bool running() const noexcept;

private:
  struct State;
  friend struct detail::Access<Terminal>;
  explicit Terminal(std::shared_ptr<State> state) noexcept;
  std::shared_ptr<State> state_;
};

/// The environment the terminal's CLI gets, from `host` ("KEY=VALUE" entries, usually the host's
/// environ): host_env_keys present in `host`, then the requested `env` entries that are allowed
/// (a key in env_allow_keys, or starting with a non-empty env_allow_prefix; malformed keys and
/// values with a NUL are dropped), then extra_env, then COLUMNS and LINES when cols and rows are
/// both > 0. A later entry replaces an earlier one of the same key. Sorted by key.
/// Throws Error(invalid_argument) for a malformed extra_env key or value.
CCB_API std::vector<std::string> terminal_env(const TerminalOptions &options, const std::vector<std::string> &host);

/// The argv after the program: options.args, then `--resume <id>` for a non-empty resume_id.
/// Throws Error(invalid_argument) for a resume_id that is too long, holds whitespace (Unicode's,
/// as Go's unicode.IsSpace), a NUL or starts with '-'.
CCB_API std::vector<std::string> terminal_args(const TerminalOptions &options);

/// TerminalOptions from a JSON object with the field names above: cli_path, args, cwd, env,
/// env_allow_keys, env_allow_prefix, host_env_keys, extra_env, cols, rows, resume_id,
/// start_timeout_ms, read_chunk. Missing keys and null keep the defaults. Throws
/// Error(invalid_argument) naming the key for an unknown key or a value of the wrong kind.
CCB_API TerminalOptions terminal_options_from_json(std::string_view json);

/// Go's name of a signal ("terminated" for SIGTERM, "killed" for SIGKILL, ...), "signal <n>" for
/// one it does not name.
CCB_API std::string go_signal_name(int signal);

CCB_END_NAMESPACE
