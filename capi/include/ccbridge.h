/* ccbridge C ABI: drive the Claude Code CLI from C (and from any language with a C FFI).
 *
 * Compiles as C99 and as C++. Self-contained: it includes only <stddef.h> and <stdint.h>.
 * Guide with a complete example: docs/C-API.md.
 *
 * CONVENTIONS
 *   Handles    Opaque: ccb_options_t, ccb_runtime_t, ccb_stream_t, ccb_session_t, ccb_message_t,
 *              ccb_terminal_t, ccb_mcp_t, ccb_server_t, and, inside callbacks, ccb_permission_t
 *              and ccb_output_t. (The _t suffix is reserved by POSIX; we use it anyway, like
 *              reproc.)
 *   Status     Calls return int: CCB_OK (0), CCB_END (1, end of a stream), or a negative CCB_E_*
 *              code (the C++ ccbridge::errc values, negated; stable, never renumbered).
 *   Errors     After a call that returned a negative status, ccb_last_error() describes it:
 *              "[ccbridge.<id>] what failed ... what to do" (thread-local). Match on the code or on
 *              ccb_errc_name(code), never on the prose. No C++ exception ever leaves the library.
 *   Out params Required ones come first and are named `out`; on failure they are set to NULL.
 *              Optional ones (may be NULL) come last.
 *
 * OWNERSHIP
 *   - `const char *` arguments are borrowed for the duration of the call (ccbridge copies what it
 *     keeps). Strings must be NUL-terminated UTF-8; JSON arguments are UTF-8 JSON text.
 *   - Handles returned through `out` are yours: free each with its ccb_*_free(). Every free
 *     function accepts NULL. Freeing twice is undefined, as with free().
 *   - `char **out` strings are yours: release them with ccb_free() (never with free()).
 *   - `const char *` results of accessors are borrowed from the handle they came from; each
 *     function says how long they live.
 *   - Messages from ccb_stream_next()/ccb_session_receive() are yours (ccb_message_free()); the
 *     message passed to a callback is borrowed for that call (ccb_message_copy() keeps it).
 *   - Callback `user` pointers are never dereferenced by ccbridge. If you pass `user_free`, it
 *     runs exactly once with `user` when ccbridge no longer needs it: when the callback is
 *     replaced and every stream or session that copied it has been freed. It may run on a
 *     ccbridge thread. If the registering call fails, user_free is not called.
 *
 * THREADS
 *   - Handles are independent: calls on different handles may run concurrently on any threads.
 *     ccb_version*, ccb_errc_name, ccb_strerror, ccb_last_error and ccb_free are always safe.
 *   - ccb_options_t is a plain value: do not change it while another call uses it. Opening any
 *     number of streams and sessions from one options object on several threads is safe.
 *   - ccb_stream_t: one thread at a time for everything except ccb_stream_cancel() and
 *     ccb_stream_pid(), which are safe from any thread at any time before ccb_stream_free().
 *   - ccb_session_t: ccb_session_send*, interrupt, set_permission_mode, set_model, control,
 *     cancel, pid and server_info may be called from any thread, concurrently with each other and
 *     with one thread in ccb_session_receive(). ccb_session_close() and ccb_session_free() must
 *     not overlap any other call on that session (ccb_session_cancel() first to wake a receiver).
 *   - ccb_message_t: immutable; read it from any number of threads.
 *   - ccb_mcp_t: every call from any thread, concurrently, except ccb_mcp_free().
 *   - Message, end and stderr callbacks run on a ccbridge I/O thread: they must not block, and a
 *     blocking call made there (next, receive, wait, close, control requests) fails with
 *     CCB_E_WOULD_DEADLOCK. Never free a stream or session from its own callbacks.
 *   - Permission, hook and tool callbacks run on ccbridge callback threads (never the I/O thread):
 *     they may block, and may call any ccb_session_* function except close and free.
 *   - No child process outlives its handle: freeing a stream or session stops the CLI with the
 *     shutdown ladder (close stdin, wait, SIGTERM, wait, SIGKILL) and returns once it is reaped.
 */
#ifndef CCBRIDGE_H
#define CCBRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifndef CCB_CAPI
#  if defined(_WIN32)
#    ifdef CCB_C_BUILDING
#      define CCB_CAPI __declspec(dllexport)
#    else
#      define CCB_CAPI __declspec(dllimport)
#    endif
#  elif defined(__GNUC__)
#    define CCB_CAPI __attribute__((visibility("default")))
#  else
#    define CCB_CAPI
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions ------------------------------------------------------------------------------- */

/** Version of the C ABI this header describes. Bumped on every incompatible change (the shared
 *  library's SONAME changes with it); additions do not bump it. */
#define CCB_ABI_VERSION 1

/** The ABI version of the loaded library: compare with CCB_ABI_VERSION to detect a header/library
 *  mismatch. */
CCB_CAPI int ccb_abi_version(void);
/** The library's version, "MAJOR.MINOR.PATCH" (static string). */
CCB_CAPI const char *ccb_version(void);
/** The library's version as MAJOR*10000 + MINOR*100 + PATCH. */
CCB_CAPI unsigned ccb_version_number(void);

/* ---- status codes and errors ---------------------------------------------------------------- */

#define CCB_END 1                    /**< ccb_stream_next/ccb_session_receive: no more messages */
#define CCB_OK 0
#define CCB_E_INVALID_ARGUMENT (-1)  /**< a NULL or malformed argument; the message says which */
#define CCB_E_CLI_NOT_FOUND (-2)     /**< the Claude Code executable was not found */
#define CCB_E_CWD_NOT_FOUND (-3)     /**< the working directory does not exist */
#define CCB_E_SPAWN_FAILED (-4)      /**< the OS refused to start the CLI */
#define CCB_E_PROCESS_FAILED (-5)    /**< the CLI exited non-zero or was killed */
#define CCB_E_IO_ERROR (-6)          /**< reading or writing the CLI's pipes failed */
#define CCB_E_PARSE_ERROR (-7)       /**< a stdout line was not valid JSON */
#define CCB_E_INVALID_UTF8 (-8)      /**< a stdout line was not valid UTF-8 */
#define CCB_E_LINE_TOO_LONG (-9)     /**< a stdout line exceeded max_line_bytes */
#define CCB_E_TIMEOUT (-10)          /**< a wait ran out */
#define CCB_E_CLOSED (-11)           /**< the stream or session is closed, or the CLI is gone */
#define CCB_E_CANCELLED (-12)        /**< the run was ended by the caller */
#define CCB_E_WOULD_DEADLOCK (-13)   /**< a blocking call from a ccbridge I/O thread */
#define CCB_E_INTERNAL (-14)         /**< a bug in ccbridge (or out of memory); please report it */
#define CCB_E_CONTROL_ERROR (-15)    /**< the CLI refused a control request */
#define CCB_E_SESSION_NOT_FOUND (-16) /**< resume/continue named a session the CLI does not have */

/** Detail of the last failed call on this thread ("" if the last call succeeded). Valid until the
 *  next ccbridge call on this thread. Never NULL. */
CCB_CAPI const char *ccb_last_error(void);
/** Stable id of a status: "ok", "end", "invalid_argument", "cli_not_found", ... ("unknown" for
 *  other values). The same ids prefix error messages: "[ccbridge.<id>]". Static string. */
CCB_CAPI const char *ccb_errc_name(int status);
/** Short static description of a status. */
CCB_CAPI const char *ccb_strerror(int status);
/** Frees a string ccbridge returned through a `char **out` parameter. NULL is a no-op. */
CCB_CAPI void ccb_free(char *str);

/* ---- runtime (optional) --------------------------------------------------------------------- */

/** I/O threads shared by many streams and sessions. Optional: without one (see
 *  ccb_options_set_runtime) each stream or session gets a private runtime with one I/O thread.
 *  Freeing it while streams still use it is safe; its threads stop when the last user is gone. */
typedef struct ccb_runtime ccb_runtime_t;
/** `threads` I/O threads (0 means 1). */
CCB_CAPI int ccb_runtime_new(ccb_runtime_t **out, unsigned threads);
CCB_CAPI void ccb_runtime_free(ccb_runtime_t *runtime);

/* ---- messages ------------------------------------------------------------------------------- */

/** One line the CLI wrote to stdout. Immutable. */
typedef struct ccb_message ccb_message_t;

/** Message types (values are stable). Unknown types pass through as CCB_MESSAGE_UNKNOWN. */
typedef enum {
  CCB_MESSAGE_SYSTEM = 1,          /**< "system": init, status, api_retry, ... (see subtype) */
  CCB_MESSAGE_ASSISTANT = 2,       /**< "assistant" */
  CCB_MESSAGE_USER = 3,            /**< "user": tool results, echoed user turns */
  CCB_MESSAGE_RESULT = 4,          /**< "result": the end of a turn */
  CCB_MESSAGE_STREAM_EVENT = 5,    /**< "stream_event" (include_partial_messages) */
  CCB_MESSAGE_RATE_LIMIT_EVENT = 6,
  CCB_MESSAGE_UNKNOWN = 7,         /**< any other "type" (see ccb_message_type_name) */
  CCB_MESSAGE_INVALID_LINE = 8     /**< a line that was not JSON, not UTF-8 or too long */
} ccb_message_type_t;

/** The type, for routing without parsing JSON. */
CCB_CAPI ccb_message_type_t ccb_message_type(const ccb_message_t *msg);
/** The wire "type" string ("" for invalid lines); borrowed, lives as long as `msg`. */
CCB_CAPI const char *ccb_message_type_name(const ccb_message_t *msg);
/** The "subtype" ("init", "success", "error_max_turns", ...) or ""; lives as long as `msg`. */
CCB_CAPI const char *ccb_message_subtype(const ccb_message_t *msg);
/** The exact line as JSON text, NUL-terminated (for invalid lines: the line or its first bytes);
 *  `len` (may be NULL) receives its length. Lives as long as `msg`. */
CCB_CAPI const char *ccb_message_json(const ccb_message_t *msg, size_t *len);
/** A top-level string field ("session_id", "result", "uuid", ...), or NULL if missing or not a
 *  string. Lives as long as `msg`. */
CCB_CAPI const char *ccb_message_string(const ccb_message_t *msg, const char *key);
/** 1 for a result with is_error true (API errors end with subtype "success" and is_error true),
 *  else 0. */
CCB_CAPI int ccb_message_is_error(const ccb_message_t *msg);
/** The text blocks of an assistant or user message, joined ("" if none). Free with ccb_free(). */
CCB_CAPI int ccb_message_text(char **out, const ccb_message_t *msg);
/** A copy that you own (cheap: messages share their data). Free with ccb_message_free(). */
CCB_CAPI int ccb_message_copy(ccb_message_t **out, const ccb_message_t *msg);
CCB_CAPI void ccb_message_free(ccb_message_t *msg);

/* ---- outcome of a run ----------------------------------------------------------------------- */

/** How a CLI run ended. Read it only through pointers ccbridge gives you (fields may be
 *  appended in later versions). */
typedef struct ccb_outcome {
  int status;              /**< CCB_OK, or CCB_E_PROCESS_FAILED, _CANCELLED, _IO_ERROR, ... */
  int exit_code;           /**< the CLI's exit code; -1 if killed by a signal or unknown */
  int signal;              /**< the terminating signal, or 0 */
  const char *message;     /**< "" on success, else "[ccbridge.<id>] what failed ... what to do" */
  const char *stderr_tail; /**< the last bytes of the CLI's stderr (stderr_tail_bytes) */
  uint64_t messages;       /**< messages delivered (including invalid lines) */
  uint64_t invalid_lines;  /**< lines that became CCB_MESSAGE_INVALID_LINE */
  uint64_t skipped_lines;  /**< blank or non-JSON lines skipped */
} ccb_outcome_t;

/** Message callback: `msg` is borrowed for the call. Runs on a ccbridge I/O thread, in order. */
typedef void (*ccb_message_cb)(const ccb_message_t *msg, void *user);
/** End callback: runs once after the last message; `outcome` is borrowed for the call. */
typedef void (*ccb_end_cb)(const ccb_outcome_t *outcome, void *user);
/** Frees callback user data (see OWNERSHIP above). */
typedef void (*ccb_user_free_fn)(void *user);

/* ---- options -------------------------------------------------------------------------------- */

/** Options of a run or a session: the CLI options as JSON, plus callbacks set with the dedicated
 *  setters below. A plain value; see THREADS above. */
typedef struct ccb_options ccb_options_t;

/** Default options (the Python SDK's defaults). */
CCB_CAPI int ccb_options_new(ccb_options_t **out);
CCB_CAPI void ccb_options_free(ccb_options_t *opts);

/** Merges a JSON object of options over `opts` (keys not given are left alone; null resets a key
 *  to its default). Keys are the Python SDK's ClaudeAgentOptions names: system_prompt, tools,
 *  allowed_tools, disallowed_tools, model, permission_mode, max_turns, cwd, cli_path, env,
 *  extra_args, mcp_servers, include_partial_messages, resume, ..., plus ccbridge's own:
 *  inherit_env ("all", the default, or "allow_list"), pass_env, max_line_bytes, stderr_tail_bytes, max_buffered_messages, max_buffered_bytes, shutdown
 *  {exit_wait_ms, cancel_grace_ms, term_wait_ms, drain_wait_ms}; and for sessions: initialize (bool, default true),
 *  initialize_timeout_ms and control_timeout_ms (default 60000 each).
 *  Actionable errors: CCB_E_INVALID_ARGUMENT for malformed JSON, an unknown key or a value of the
 *  wrong kind (the message names the key); `opts` is then unchanged. */
CCB_CAPI int ccb_options_set_json(ccb_options_t *opts, const char *json);

/** Runs streams and sessions opened with these options on `runtime` (NULL: a private runtime
 *  each). The options keep the runtime alive. */
CCB_CAPI int ccb_options_set_runtime(ccb_options_t *opts, ccb_runtime_t *runtime);

/** Stderr callback: each line the CLI writes to stderr, without the newline, NUL-terminated,
 *  `len` bytes. Runs on a ccbridge I/O thread; must not block. NULL `cb` removes it. */
typedef void (*ccb_stderr_cb)(const char *line, size_t len, void *user);
CCB_CAPI int ccb_options_set_stderr_callback(ccb_options_t *opts, ccb_stderr_cb cb, void *user,
                                             ccb_user_free_fn user_free);

/* ---- permission callback (sessions only) ---------------------------------------------------- */

/** A can_use_tool request from the CLI: may this tool run with this input? */
typedef struct ccb_permission ccb_permission_t;

/** Called on a ccbridge callback thread whenever the CLI's rules say "ask". `request` is borrowed
 *  for the call: answer it there with ccb_permission_allow()/ccb_permission_deny(), or keep it
 *  with ccb_permission_keep() and answer later from any thread. A request nobody answered gets an
 *  error answer when the last handle to it is gone (the tool does not run), so a forgotten request
 *  never hangs the conversation. May block. */
typedef void (*ccb_permission_cb)(ccb_permission_t *request, void *user);

/** Sets the permission callback (NULL removes it). Sessions only. */
CCB_CAPI int ccb_options_set_permission_callback(ccb_options_t *opts, ccb_permission_cb cb, void *user,
                                                 ccb_user_free_fn user_free);

/** The tool's name ("Bash", "mcp__calc__add", ...). Lives as long as `request`. */
CCB_CAPI const char *ccb_permission_tool_name(const ccb_permission_t *request);
/** The tool's input object as JSON. Lives as long as `request`. */
CCB_CAPI const char *ccb_permission_input(const ccb_permission_t *request);
/** The whole request object as JSON (tool_use_id, permission_suggestions, decision_reason,
 *  blocked_path, ...). Lives as long as `request`. */
CCB_CAPI const char *ccb_permission_request_json(const ccb_permission_t *request);
/** 1 once the CLI withdrew the request (e.g. after an interrupt): answers are then dropped. */
CCB_CAPI int ccb_permission_cancelled(const ccb_permission_t *request);

/** Allows the call. `updated_input_json` (NULL: the original input) is a JSON object that
 *  replaces the input; `updated_permissions_json` (NULL: none) is a JSON array of
 *  PermissionUpdate objects. Any thread. Actionable errors: CCB_E_INVALID_ARGUMENT (malformed
 *  JSON, or already answered), CCB_E_CANCELLED (the CLI withdrew the request; nothing is sent). */
CCB_CAPI int ccb_permission_allow(ccb_permission_t *request, const char *updated_input_json,
                                  const char *updated_permissions_json);
/** Denies the call; the model sees `message` (NULL: ""). `interrupt` non-zero also ends the
 *  turn. Any thread. Errors as for ccb_permission_allow(). */
CCB_CAPI int ccb_permission_deny(ccb_permission_t *request, const char *message, int interrupt);
/** A handle of your own to the same request, to answer after the callback returned, from any
 *  thread. Free it with ccb_permission_free() (after answering). */
CCB_CAPI int ccb_permission_keep(ccb_permission_t **out, const ccb_permission_t *request);
/** Frees a kept request. If no handle answered it, the CLI gets an error answer. NULL: no-op. */
CCB_CAPI void ccb_permission_free(ccb_permission_t *request);

/* ---- hooks and in-process tools (sessions only) --------------------------------------------- */

/** Where a hook or tool callback writes its answer. Borrowed for the callback. */
typedef struct ccb_output ccb_output_t;

/** Sets the answer as JSON (copied). For a hook: an object with any of continue, stopReason,
 *  suppressOutput, decision, reason, systemMessage, hookSpecificOutput (the CLI's hook output).
 *  For a tool: an MCP tool result {"content": [<content blocks>], "isError": false}.
 *  Actionable errors: CCB_E_INVALID_ARGUMENT for malformed JSON or unknown keys. */
CCB_CAPI int ccb_output_set_json(ccb_output_t *output, const char *json);
/** Tools: a result with one text block; `is_error` non-zero marks it as a failed call (the
 *  model sees the text). */
CCB_CAPI int ccb_output_set_text(ccb_output_t *output, const char *text, int is_error);

/** Hook callback: `input_json` is the hook input object (hook_event_name, tool_name, tool_input,
 *  session_id, ...), borrowed for the call. Set the answer with ccb_output_set_json() (none: an
 *  empty object) and return CCB_OK; any other return value gives the CLI an error answer.
 *  Runs on a ccbridge callback thread; may block up to the hook's timeout. */
typedef int (*ccb_hook_cb)(const char *input_json, ccb_output_t *output, void *user);

/** Registers a hook for `event` ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", ...).
 *  `matcher` ("Bash", "Write|Edit"; NULL: every tool), `timeout_s` (0: the CLI's default, 60 s).
 *  Each call adds one matcher with one callback. Needs the session option initialize (the default). */
CCB_CAPI int ccb_options_add_hook(ccb_options_t *opts, const char *event, const char *matcher, int timeout_s,
                                  ccb_hook_cb cb, void *user, ccb_user_free_fn user_free);

/** Tool callback: `arguments_json` is the call's arguments object, borrowed for the call. Set
 *  the result with ccb_output_set_text() or ccb_output_set_json() and return CCB_OK; any other
 *  return value, or no result, makes the call fail with a JSON-RPC error.
 *  Runs on a ccbridge callback thread; may block. */
typedef int (*ccb_tool_cb)(const char *arguments_json, ccb_output_t *result, void *user);

/** Adds a tool to the in-process MCP server `server` (created on first use, version "1.0.0").
 *  The model sees it as mcp__<server>__<name> (remember to allow it, e.g. allowed_tools).
 *  `input_schema_json`: a JSON Schema object (NULL: {"type":"object","properties":{}}).
 *  Actionable errors: CCB_E_INVALID_ARGUMENT for an empty name, a tool name used twice on one
 *  server, or a schema that is not a JSON object. */
CCB_CAPI int ccb_options_add_tool(ccb_options_t *opts, const char *server, const char *name,
                                  const char *description, const char *input_schema_json, ccb_tool_cb cb,
                                  void *user, ccb_user_free_fn user_free);

/* ---- one-shot query: a stream of messages --------------------------------------------------- */

/** The messages of one CLI run. */
typedef struct ccb_stream ccb_stream_t;

/** Starts the CLI on `prompt` (UTF-8). `opts` may be NULL (defaults). The prompt is sent and the
 *  CLI's stdin closed; read the messages with ccb_stream_next() or ccb_stream_on_message().
 *  Actionable errors: CCB_E_CLI_NOT_FOUND, CCB_E_CWD_NOT_FOUND, CCB_E_SPAWN_FAILED,
 *  CCB_E_INVALID_ARGUMENT (NULL or invalid UTF-8 prompt; permission, hook or tool callbacks set,
 *  which need a session). Failures after the start arrive in the outcome. */
CCB_CAPI int ccb_query(ccb_stream_t **out, const char *prompt, const ccb_options_t *opts);
/** The same with a JSON array of content blocks (text, image, document, ...) as the prompt. */
CCB_CAPI int ccb_query_content(ccb_stream_t **out, const char *content_json, const ccb_options_t *opts);

/** Waits up to `timeout_ms` (negative: forever; 0: just check) for the next message.
 *  Returns CCB_OK with *out set (free it with ccb_message_free), CCB_END once every message was
 *  delivered and the CLI is gone (then see ccb_stream_outcome), or CCB_E_TIMEOUT.
 *  Errors: CCB_E_INVALID_ARGUMENT in callback mode, CCB_E_WOULD_DEADLOCK on an I/O thread. */
CCB_CAPI int ccb_stream_next(ccb_message_t **out, ccb_stream_t *stream, int timeout_ms);

/** Switches to callback mode: every message not yet read, then each new one, goes to
 *  `on_message`; `on_end` (may be NULL) runs once at the end. Both run on a ccbridge I/O thread
 *  and must not block. Once only per stream. */
CCB_CAPI int ccb_stream_on_message(ccb_stream_t *stream, ccb_message_cb on_message, ccb_end_cb on_end,
                                   void *user, ccb_user_free_fn user_free);

/** Waits for the end (unread messages are discarded; in callback mode, until on_end has run).
 *  Returns the outcome's status (CCB_OK for a successful run, else its code with ccb_last_error()
 *  set to its message). `outcome` (may be NULL) receives the outcome, owned by the stream. */
CCB_CAPI int ccb_stream_wait(ccb_stream_t *stream, const ccb_outcome_t **outcome);
/** Ends the run now with the shutdown ladder and waits until the CLI is reaped. Idempotent.
 *  Returns like ccb_stream_wait() (CCB_E_CANCELLED if the run was still going). */
CCB_CAPI int ccb_stream_close(ccb_stream_t *stream, const ccb_outcome_t **outcome);
/** Stops the run now and returns at once: the cancel ladder (close stdin, SIGTERM after
 *  shutdown.cancel_grace_ms, SIGKILL after term_wait_ms; ccb_stream_close() is the graceful one,
 *  with exit_wait_ms first); a ccb_stream_next() blocked in another thread then returns CCB_END.
 *  Any thread, including callbacks. Idempotent. */
CCB_CAPI int ccb_stream_cancel(ccb_stream_t *stream);
/** The outcome once the run has ended, else NULL. Owned by the stream. */
CCB_CAPI const ccb_outcome_t *ccb_stream_outcome(ccb_stream_t *stream);
/** The CLI's process id (also its process group); 0 once reaped or for NULL. */
CCB_CAPI int ccb_stream_pid(const ccb_stream_t *stream);
/** Closes the run (as ccb_stream_close) and frees the stream. In callback mode, returns after
 *  on_end has run. NULL is a no-op. */
CCB_CAPI void ccb_stream_free(ccb_stream_t *stream);

/* ---- session: one CLI process for a whole conversation -------------------------------------- */

typedef struct ccb_session ccb_session_t;

/** Starts the CLI and (unless the option initialize is false) sends `initialize` and waits for
 *  the answer. `opts` may be NULL. Uses the permission, hook and tool callbacks of `opts`.
 *  Actionable errors: CCB_E_CLI_NOT_FOUND, CCB_E_CWD_NOT_FOUND, CCB_E_SPAWN_FAILED,
 *  CCB_E_INVALID_ARGUMENT, and CCB_E_TIMEOUT or CCB_E_PROCESS_FAILED if initialize fails. */
CCB_CAPI int ccb_session_open(ccb_session_t **out, const ccb_options_t *opts);
/** Sends one user message (UTF-8). Errors: CCB_E_CLOSED after close or once the CLI is gone,
 *  CCB_E_INVALID_ARGUMENT for invalid UTF-8. */
CCB_CAPI int ccb_session_send(ccb_session_t *session, const char *text);
/** Sends one user message given as a JSON array of content blocks. */
CCB_CAPI int ccb_session_send_content(ccb_session_t *session, const char *content_json);
/** Closes the CLI's stdin: it finishes what it was asked and exits; its messages still arrive.
 *  ccb_session_send() fails with CCB_E_CLOSED from now on. Idempotent. */
CCB_CAPI int ccb_session_end_input(ccb_session_t *session);
/** Ends input once the run is over, as the official SDKs do for a one-shot prompt: at once without
 *  callbacks; with them, once a result came and the CLI reports its session idle (or at a result
 *  with no background agent in flight, from a CLI that reports no state). ceiling_ms bounds the
 *  wait for idle between turns (0: none; negative: CLAUDE_CODE_PRINT_BG_WAIT_CEILING_MS or the
 *  CLI's 10 minutes). Returns at once. See Session::end_input_when_done. */
CCB_CAPI int ccb_session_end_input_when_done(ccb_session_t *session, long long ceiling_ms);
/** The next message of the conversation, as ccb_stream_next(). A turn ends with a message of type
 *  CCB_MESSAGE_RESULT; CCB_END means the CLI has exited. */
CCB_CAPI int ccb_session_receive(ccb_message_t **out, ccb_session_t *session, int timeout_ms);
/** Callback mode for the conversation's messages, as ccb_stream_on_message(). */
CCB_CAPI int ccb_session_on_message(ccb_session_t *session, ccb_message_cb on_message, ccb_end_cb on_end,
                                    void *user, ccb_user_free_fn user_free);

/* Control requests: each blocks until the CLI answers or the control timeout passes.
 * Errors: CCB_E_TIMEOUT, CCB_E_CONTROL_ERROR (the CLI refused), CCB_E_CLOSED (the CLI is gone or
 * the session was closed), CCB_E_WOULD_DEADLOCK on an I/O thread. */

/** Interrupts the current turn; it then ends with an error result. */
CCB_CAPI int ccb_session_interrupt(ccb_session_t *session);
/** "default", "acceptEdits", "plan", "bypassPermissions", ... */
CCB_CAPI int ccb_session_set_permission_mode(ccb_session_t *session, const char *mode);
/** NULL restores the default model. */
CCB_CAPI int ccb_session_set_model(ccb_session_t *session, const char *model);
/** Any control request: `fields_json` (NULL: {}) is a JSON object merged next to "subtype";
 *  `timeout_ms` <= 0 uses the session's control timeout. `response_json` (may be NULL) receives
 *  the CLI's response payload as JSON; free it with ccb_free(). */
CCB_CAPI int ccb_session_control(ccb_session_t *session, const char *subtype, const char *fields_json,
                                 int timeout_ms, char **response_json);
/** The initialize response (commands, models, account, pid, ...) as JSON, or "null" without
 *  initialize. Lives as long as the session. */
CCB_CAPI const char *ccb_session_server_info(const ccb_session_t *session);
/** The CLI's process id; 0 once reaped or for NULL. */
CCB_CAPI int ccb_session_pid(const ccb_session_t *session);
/** Stops the conversation now and returns at once (the outcome is then CCB_E_CANCELLED): an
 *  interrupt control request, stdin closed, SIGTERM after shutdown.cancel_grace_ms, SIGKILL after
 *  term_wait_ms (ccb_session_close() is the graceful end). A receive blocked in another thread
 *  returns CCB_END. Any thread, including callbacks. */
CCB_CAPI int ccb_session_cancel(ccb_session_t *session);
/** Ends the conversation: closes stdin so the CLI can save the session (for resume) and exit,
 *  then the rest of the shutdown ladder; waits until it is reaped. Unread messages are discarded;
 *  later sends fail with CCB_E_CLOSED. Idempotent. Returns the outcome's status, like
 *  ccb_stream_wait(); `outcome` (may be NULL) is owned by the session. */
CCB_CAPI int ccb_session_close(ccb_session_t *session, const ccb_outcome_t **outcome);
/** Closes (as ccb_session_close) and frees the session. NULL is a no-op. */
CCB_CAPI void ccb_session_free(ccb_session_t *session);

/* ---- terminal: the CLI's interactive UI on a pseudo-terminal --------------------------------- */

/** The Claude Code CLI's interactive UI (or any program) on a PTY: bytes in, bytes out, resize,
 *  stop. Nothing here blocks. See ccbridge::Terminal (include/ccbridge/terminal.hpp). */
typedef struct ccb_terminal ccb_terminal_t;

/** How a terminal ended; borrowed for the exit callback. */
typedef struct ccb_terminal_exit {
  int status;         /**< CCB_OK, or why it could not start (CCB_E_SPAWN_FAILED, ...) */
  int has_exit_code;  /**< 0 when it never ran */
  int exit_code;      /**< the exit code; -1 when a signal ended it */
  const char *signal; /**< Go's name of that signal ("terminated", "killed", ...), or "" */
  const char *reason; /**< "exited", "start_timeout", or why it could not start */
} ccb_terminal_exit_t;

/** One chunk read from the PTY (`data` borrowed for the call, not NUL-terminated); `seq` is 1, 2,
 *  3, ... Runs on a ccbridge I/O thread, in order; must not block. */
typedef void (*ccb_terminal_output_cb)(const char *data, size_t len, uint64_t seq, void *user);
/** Runs exactly once, after the last output, on a ccbridge I/O thread. */
typedef void (*ccb_terminal_exit_cb)(const ccb_terminal_exit_t *exit, void *user);

/** Starts a terminal from JSON options (NULL: the defaults, the CLI found on PATH): {"cli_path",
 *  "args": [...], "cwd", "env": {...} (filtered: keys in "env_allow_keys" or starting with
 *  "env_allow_prefix", default "CC_"), "host_env_keys": [...], "extra_env": {...} (not filtered),
 *  "cols", "rows", "resume_id", "start_timeout_ms" (default 30000, 0 = none), "read_chunk"
 *  (default 4096)}. `runtime` may be NULL (a private one). Returns at once; a spawn that fails
 *  later is reported by on_exit (status set). `on_output` and `on_exit` may be NULL.
 *  Actionable errors: CCB_E_INVALID_ARGUMENT (bad JSON or resume_id), CCB_E_CLI_NOT_FOUND,
 *  CCB_E_CWD_NOT_FOUND. */
CCB_CAPI int ccb_terminal_start(ccb_terminal_t **out, const char *options_json, ccb_runtime_t *runtime,
                                ccb_terminal_output_cb on_output, ccb_terminal_exit_cb on_exit, void *user,
                                ccb_user_free_fn user_free);
/** Queues `len` bytes for the program's input (dropped once it has exited). Any thread. */
CCB_CAPI int ccb_terminal_write(ccb_terminal_t *terminal, const char *data, size_t len);
/** Sets the window size (1 to 65535 each). Any thread. */
CCB_CAPI int ccb_terminal_resize(ccb_terminal_t *terminal, unsigned cols, unsigned rows);
/** SIGTERM to the program's process group, SIGKILL at max(grace, kill_after) if it is still
 *  there; <= 0 picks the defaults 4000 and 9000 ms. Returns at once; on_exit follows. Any thread. */
CCB_CAPI int ccb_terminal_stop(ccb_terminal_t *terminal, int grace_ms, int kill_after_ms);
/** Backpressure: `paused` non-zero stops reading the PTY until called again with 0. Any thread. */
CCB_CAPI int ccb_terminal_pause_reading(ccb_terminal_t *terminal, int paused);
/** The program's pid; 0 before it was spawned and once it has been reaped. */
CCB_CAPI int ccb_terminal_pid(const ccb_terminal_t *terminal);
/** 1 until on_exit has run (or is running), else 0. */
CCB_CAPI int ccb_terminal_running(const ccb_terminal_t *terminal);
/** Stops the program (SIGTERM, SIGKILL 2 s later) without waiting, and frees the handle: no
 *  callback runs once this has returned (one running on another thread is waited for). May be
 *  called from the terminal's own callbacks. NULL is a no-op. */
CCB_CAPI void ccb_terminal_free(ccb_terminal_t *terminal);

/* ---- MCP client: the tools of an external MCP server ---------------------------------------- */

/** A client of one Model Context Protocol server: a child process speaking stdio, or a Streamable
 *  HTTP endpoint (see ccbridge::McpClient, include/ccbridge/mcp_client.hpp, and docs/MCP.md).
 *  Every call blocks until it is answered or its timeout passes (on a ccbridge I/O thread:
 *  CCB_E_WOULD_DEADLOCK); there are no callback forms. Calls may be made from any thread,
 *  concurrently, except ccb_mcp_free(). A request that times out is cancelled at the server
 *  (notifications/cancelled). The server process never outlives the handle. */
typedef struct ccb_mcp ccb_mcp_t;

/** The client's state (values are stable). */
typedef enum {
  CCB_MCP_CONNECTING = 0, /**< starting, or restarting */
  CCB_MCP_READY = 1,
  CCB_MCP_FAILED = 2,     /**< the server exited or broke the protocol: see ccb_mcp_last_error() */
  CCB_MCP_CLOSED = 3
} ccb_mcp_state_t;

/** Starts (or reaches) the server and initializes it. `spec_json`: {"name", "command", "args":
 *  [...], "env": {...}, "cwd"} for stdio or {"name", "url", "headers": {...}} for HTTP, plus
 *  "connect_timeout_ms" (default 10000), "request_timeout_ms" (60000), "max_message_bytes"
 *  (16 MiB) and optionally "type" ("stdio" or "http"). `runtime` may be NULL (a private one).
 *  Actionable errors: CCB_E_INVALID_ARGUMENT (bad spec; the message names the key),
 *  CCB_E_CLI_NOT_FOUND (the command), CCB_E_SPAWN_FAILED, CCB_E_TIMEOUT, CCB_E_PROCESS_FAILED (the
 *  server exited, refused initialize or speaks another protocol version), CCB_E_IO_ERROR (HTTP). */
CCB_CAPI int ccb_mcp_connect(ccb_mcp_t **out, const char *spec_json, ccb_runtime_t *runtime);
/** What initialize answered: {"protocolVersion", "serverInfo": {"name", "version"},
 *  "capabilities": {...}, "instructions"?}. Free with ccb_free(). */
CCB_CAPI int ccb_mcp_server_info(char **out, const ccb_mcp_t *mcp);
/** Every tool (all pages of tools/list) as a JSON array of {"name", "title"?, "description"?,
 *  "inputSchema", "outputSchema"?, "annotations"?}. `timeout_ms` <= 0: the spec's request
 *  timeout, for all pages together. Free with ccb_free().
 *  Errors: CCB_E_TIMEOUT, CCB_E_CLOSED, CCB_E_PROCESS_FAILED (the server failed or answered with a
 *  JSON-RPC error; the message has its code and text). */
CCB_CAPI int ccb_mcp_list_tools(char **out, ccb_mcp_t *mcp, int timeout_ms);
/** Calls tool `name` with `arguments_json` (a JSON object; NULL: {}). `out` receives
 *  {"content": [...], "structuredContent"?, "isError": bool, "elapsedMs": number}: a tool that
 *  failed is a result with isError true, not an error status. `timeout_ms` <= 0: the spec's
 *  request timeout. Errors: as ccb_mcp_list_tools, and CCB_E_INVALID_ARGUMENT for arguments that
 *  are not a JSON object. Free `out` with ccb_free(). */
CCB_CAPI int ccb_mcp_call_tool(char **out, ccb_mcp_t *mcp, const char *name, const char *arguments_json,
                               int timeout_ms);
/** Sends ping; `rtt_us` (may be NULL) receives the round trip time in microseconds. */
CCB_CAPI int ccb_mcp_ping(ccb_mcp_t *mcp, int timeout_ms, int64_t *rtt_us);
/** Ends the server and connects again with the same spec (calls still waiting fail with
 *  CCB_E_CLOSED). Errors: as ccb_mcp_connect. */
CCB_CAPI int ccb_mcp_restart(ccb_mcp_t *mcp);
/** Ends the server now (stdio: stdin closed, SIGTERM, SIGKILL, reaped; HTTP: DELETE of the
 *  session); calls waiting in other threads return CCB_E_CLOSED. Idempotent. */
CCB_CAPI int ccb_mcp_close(ccb_mcp_t *mcp);
/** The state; CCB_MCP_CLOSED for NULL. */
CCB_CAPI ccb_mcp_state_t ccb_mcp_state(const ccb_mcp_t *mcp);
/** Why the state is CCB_MCP_FAILED ("" otherwise). Free with ccb_free(). */
CCB_CAPI int ccb_mcp_last_error(char **out, const ccb_mcp_t *mcp);
/** Closes (as ccb_mcp_close) and frees the client. NULL is a no-op. */
CCB_CAPI void ccb_mcp_free(ccb_mcp_t *mcp);

/* ---- session history: the CLI's own transcripts -------------------------------------------- */

/* The sessions the CLI recorded under $CLAUDE_CONFIG_DIR/projects (default ~/.claude/projects),
 * one JSONL transcript each (see include/ccbridge/session_history.hpp and docs/C-API.md).
 * `directory` arguments name a project's working directory (realpath'd; the repository's other
 * git worktrees count too); NULL or "" means every project. Results are JSON; free them with
 * ccb_free(). Any thread; the writers append whole lines and may run while the CLI writes. */

/** Sessions newest first as a JSON array of {"sessionId", "summary", "lastModified" (ms),
 *  "fileSize", "customTitle"?, "firstPrompt"?, "gitBranch"?, "cwd"?, "tag"?, "createdAt"? (ms)}.
 *  `limit` 0: all. `include_worktrees` 0: only `directory` itself. */
CCB_CAPI int ccb_history_list_sessions(char **out, const char *directory, size_t limit, size_t offset,
                                       int include_worktrees);
/** One session's metadata (an object as above). CCB_E_SESSION_NOT_FOUND if it is not found, is
 *  a sidechain or has nothing to show; CCB_E_INVALID_ARGUMENT for an id that is not a UUID. */
CCB_CAPI int ccb_history_session_info(char **out, const char *session_id, const char *directory);
/** A session's conversation as a JSON array of {"type": "user"|"assistant", "uuid",
 *  "session_id", "message"?}, oldest first, `offset` skipped, at most `limit` (0: all). A missing
 *  session or an invalid id gives []. */
CCB_CAPI int ccb_history_messages(char **out, const char *session_id, const char *directory, size_t limit,
                                  size_t offset);
/** The session's subagent ids as a JSON array of strings. */
CCB_CAPI int ccb_history_list_subagents(char **out, const char *session_id, const char *directory);
/** A subagent's conversation, as ccb_history_messages, each message with "parent_tool_use_id"
 *  and "parent_agent_id" when its metadata names them. */
CCB_CAPI int ccb_history_subagent_messages(char **out, const char *session_id, const char *agent_id,
                                           const char *directory, size_t limit, size_t offset);
/** Sets the session's title (trimmed). CCB_E_INVALID_ARGUMENT: an invalid id or a blank title;
 *  CCB_E_SESSION_NOT_FOUND: no such transcript; CCB_E_IO_ERROR: it cannot be written. */
CCB_CAPI int ccb_history_rename(const char *session_id, const char *title, const char *directory);
/** Sets the session's tag (invisible characters and surrounding whitespace removed); NULL clears
 *  it. Errors as ccb_history_rename. */
CCB_CAPI int ccb_history_tag(const char *session_id, const char *tag, const char *directory);
/** Deletes the transcript and its subagent transcripts. Errors as ccb_history_rename. */
CCB_CAPI int ccb_history_delete(const char *session_id, const char *directory);
/** Copies the session (up to and including message `up_to_message_id`, NULL: all) into a new one
 *  with fresh ids and the title `title` (NULL: the source's + " (fork)"); `out` receives the new
 *  session id. Errors as ccb_history_rename, and CCB_E_INVALID_ARGUMENT when there is nothing to
 *  fork or `up_to_message_id` is not in the session. */
CCB_CAPI int ccb_history_fork(char **out, const char *session_id, const char *directory,
                              const char *up_to_message_id, const char *title);

/* The same over a transcript held elsewhere (a database, a session store), given as its JSONL
 * text (`text`, `text_len` bytes; NULL with 0 is empty). */

/** The metadata of the transcript of session `session_id` (an object as ccb_history_list_sessions
 *  gives), with "lastModified" `last_modified` (ms), "fileSize" `text_len`, and `project_path`
 *  (NULL: none) as the "cwd" when the transcript records none. CCB_E_SESSION_NOT_FOUND if the text
 *  is empty, a sidechain or has nothing to show. */
CCB_CAPI int ccb_history_info_from_text(char **out, const char *session_id, const char *text, size_t text_len,
                                        int64_t last_modified, const char *project_path);
/** The conversation of a transcript's text, as ccb_history_messages. */
CCB_CAPI int ccb_history_messages_from_text(char **out, const char *text, size_t text_len, size_t limit,
                                            size_t offset);
/** A subagent's conversation from its transcript's text, as ccb_history_subagent_messages, every
 *  message with the given "parent_tool_use_id" and "parent_agent_id" (NULL: none). */
CCB_CAPI int ccb_history_subagent_messages_from_text(char **out, const char *text, size_t text_len,
                                                     const char *parent_tool_use_id, const char *parent_agent_id,
                                                     size_t limit, size_t offset);
/** The fork ccb_history_fork makes, from the text of session `session_id`'s transcript, written
 *  nowhere: `new_session_id` receives the fork's id and `transcript` its JSONL text. Errors as
 *  ccb_history_fork, without CCB_E_SESSION_NOT_FOUND and CCB_E_IO_ERROR. */
CCB_CAPI int ccb_history_fork_text(char **new_session_id, char **transcript, const char *session_id, const char *text,
                                   size_t text_len, const char *up_to_message_id, const char *title);

/* ---- the gateway server --------------------------------------------------------------------- */

/** The gateway (`ccbridge serve`): opcode, tasks-ui and sdk-ws over HTTP and WebSocket. */
typedef struct ccb_server ccb_server_t;

/** Starts a server from a JSON config (see docs/SERVER.md and server_config_from_json):
 *  {"listeners": [{"host": "127.0.0.1", "port": 0, "profiles": ["sdk-ws"]}], "cli": {<options>},
 *  "allowed_roots": [...], "token": "...", "allowed_origins": [...], "cors": false,
 *  "limits": {...}, "log_level": "info", ...}. Port 0 picks a free port (ccb_server_port).
 *  `runtime` (NULL: a private one with 2 I/O threads) runs the CLI processes.
 *  Actionable errors: CCB_E_INVALID_ARGUMENT (bad config, or a library built without the server),
 *  CCB_E_IO_ERROR (an address cannot be bound). */
CCB_CAPI int ccb_server_start(ccb_server_t **out, const char *config_json, ccb_runtime_t *runtime);
/** The bound port of listener `index` (in config order), or a negative status. */
CCB_CAPI int ccb_server_port(const ccb_server_t *server, size_t index);
/** The bound listeners as JSON: [{"host": ..., "port": ..., "profiles": [...]}, ...]. Free with
 *  ccb_free(). */
CCB_CAPI int ccb_server_endpoints(char **out, const ccb_server_t *server);
/** Graceful stop: ends every run with the shutdown ladder, closes connections, waits. Idempotent;
 *  any thread. */
CCB_CAPI int ccb_server_stop(ccb_server_t *server);
/** Blocks until the server has stopped (ccb_server_stop from another thread). */
CCB_CAPI int ccb_server_wait(ccb_server_t *server);
/** Stops (if running) and frees the server. NULL is a no-op. */
CCB_CAPI void ccb_server_free(ccb_server_t *server);

#ifdef __cplusplus
}
#endif

#endif /* CCBRIDGE_H */
