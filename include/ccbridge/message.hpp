// Messages read from the Claude Code CLI's stdout, one per NDJSON line.
//
// A Message keeps the exact bytes of its line (raw()), which is also what it serialises back to, and
// a parsed document for typed access. Unknown types, subtypes and fields are never an error: they
// pass through untouched and stay reachable through json(). A line that could not be used (bad
// JSON, bad UTF-8, too long) becomes a Message of type MessageType::invalid_line that says why, and
// the stream goes on.
//
// Ownership: Message is a cheap, copyable handle to immutable shared data; views returned by its
// accessors (string_view, JsonView, ContentBlock) stay valid while any copy of the Message lives
// (JsonView keeps the data alive on its own).
// Thread safety: immutable; safe to read from several threads at once.
#pragma once

#include <ccbridge/error.hpp>
#include <ccbridge/export.h>
#include <ccbridge/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail {
template <class T> struct Access;  // how the library reaches a class's internals (defined in lib/)
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

enum class MessageType {
  system,                  ///< "system": init, status, api_retry, task_*, ... (see subtype())
  assistant,               ///< "assistant": one content block of a model reply
  user,                    ///< "user": tool results, echoed or injected user turns
  result,                  ///< "result": the end of a turn
  stream_event,            ///< "stream_event": raw API streaming event (include_partial_messages)
  rate_limit_event,        ///< "rate_limit_event"
  control_request,         ///< control protocol (normally handled inside ccbridge)
  control_response,        ///< control protocol (normally handled inside ccbridge)
  control_cancel_request,  ///< control protocol (normally handled inside ccbridge)
  unknown,                 ///< any other "type": passed through untouched
  invalid_line,            ///< a stdout line that could not be parsed; see Message::line_error()
};

/// Name of a MessageType as it appears on the wire ("invalid_line" for invalid_line).
CCB_API const char *to_string(MessageType type) noexcept;

enum class BlockType { text, thinking, redacted_thinking, tool_use, tool_result, server_tool_use, unknown };

/// One content block of an assistant or user message.
class CCB_API ContentBlock {
public:
  explicit ContentBlock(JsonView json) : json_(std::move(json)) {}
  BlockType type() const noexcept;
  std::string_view type_name() const noexcept { return json_["type"].string_or(); }
  /// text (text), thinking (thinking)
  std::string_view text() const noexcept;
  std::string_view signature() const noexcept { return json_["signature"].string_or(); }
  /// tool_use, server_tool_use: the block id; tool_result: empty (see tool_use_id()).
  std::string_view id() const noexcept { return json_["id"].string_or(); }
  std::string_view name() const noexcept { return json_["name"].string_or(); }
  JsonView input() const noexcept { return json_["input"]; }
  std::string_view tool_use_id() const noexcept { return json_["tool_use_id"].string_or(); }
  /// tool_result content: a string or an array of blocks.
  JsonView content() const noexcept { return json_["content"]; }
  /// tool_result content as text: the string, or the text blocks joined with "\n".
  std::string content_text() const;
  bool is_error() const noexcept { return json_["is_error"].boolean().value_or(false); }
  const JsonView &json() const noexcept { return json_; }

private:
  JsonView json_;
};

/// What went wrong with a line that became MessageType::invalid_line.
struct LineError {
  std::error_code code;       ///< errc::parse_error, errc::invalid_utf8 or errc::line_too_long
  std::string description;    ///< human-readable detail (parser message and offset, sizes, ...)
  std::uint64_t line_number;  ///< 1-based stdout line number
  std::uint64_t size;         ///< the line's length in bytes (may exceed raw().size())
};

class CCB_API Message {
public:
  /// An empty message (type unknown, raw() ""), e.g. as the target of Stream::pull().
  Message();
  /// Parses one line (without its newline). Never throws on bad input: bad lines become
  /// invalid_line messages. `line_number` is used in error descriptions.
  static Message parse(std::string line, std::uint64_t line_number = 0);
  /// An invalid_line message for a line that was never parsed (bad UTF-8, too long). `sample` is
  /// kept as raw() (callers pass at most a prefix of huge lines).
  static Message invalid(LineError error, std::string sample);

  MessageType type() const noexcept;
  /// The wire "type" string, also for unknown types ("" for invalid_line).
  std::string_view type_name() const noexcept;
  /// "subtype" where present (system, result), else "".
  std::string_view subtype() const noexcept;
  /// The exact bytes of the line. For invalid_line: the line, or its first bytes if it was huge.
  /// The views of raw(), type_name() and subtype() are NUL-terminated (data()[size()] == '\0'),
  /// so they can be handed to C as strings without a copy.
  std::string_view raw() const noexcept;
  /// When ccbridge read the line from the CLI's stdout (the end of the read that completed it),
  /// on std::chrono::steady_clock: where a relay's latency starts. Default-constructed for
  /// messages made with parse() or invalid().
  std::chrono::steady_clock::time_point read_at() const noexcept;
  /// Serialises the message: byte-for-byte the line it was parsed from.
  std::string to_json() const { return std::string(raw()); }
  /// The whole parsed object (missing for invalid_line).
  JsonView json() const noexcept;

  // Fields common to most messages.
  std::string_view session_id() const noexcept;
  std::string_view uuid() const noexcept { return json()["uuid"].string_or(); }
  /// Non-empty for messages produced inside a subagent (the spawning tool_use id).
  std::optional<std::string_view> parent_tool_use_id() const noexcept
  {
    return json()["parent_tool_use_id"].string();
  }

  bool is(MessageType t) const noexcept { return type() == t; }
  bool is_system(std::string_view sub) const noexcept
  {
    return type() == MessageType::system && subtype() == sub;
  }
  /// A result whose is_error is true (remember: API errors end with subtype "success" and
  /// is_error true, so check this, not the subtype).
  bool is_error_result() const noexcept;

  // ---- system ----------------------------------------------------------------------------
  /// system/init: resolved model, cwd, tools, permissionMode, claude_code_version, ...
  std::string_view model() const noexcept;  ///< system/init model, or assistant message.model
  std::string_view cwd() const noexcept { return json()["cwd"].string_or(); }
  std::string_view permission_mode() const noexcept { return json()["permissionMode"].string_or(); }
  std::string_view claude_code_version() const noexcept
  {
    return json()["claude_code_version"].string_or();
  }
  JsonView tools() const noexcept { return json()["tools"]; }
  /// system/status: "requesting", "compacting", ... or "" when null.
  std::string_view status() const noexcept { return json()["status"].string_or(); }
  /// system/api_retry fields.
  std::optional<std::int64_t> attempt() const noexcept { return json()["attempt"].int64(); }
  std::optional<std::int64_t> max_retries() const noexcept { return json()["max_retries"].int64(); }
  std::optional<std::int64_t> retry_delay_ms() const noexcept { return json()["retry_delay_ms"].int64(); }
  /// system/api_retry: the HTTP status (null on connection errors).
  std::optional<std::int64_t> error_status() const noexcept { return json()["error_status"].int64(); }
  /// system/task_*: the task id.
  std::string_view task_id() const noexcept { return json()["task_id"].string_or(); }

  // ---- assistant / user ------------------------------------------------------------------
  /// The Anthropic API message object ("message").
  JsonView api_message() const noexcept { return json()["message"]; }
  /// message.id (several assistant lines share one id: one line per content block).
  std::string_view message_id() const noexcept { return api_message()["id"].string_or(); }
  /// Content blocks of message.content. A plain-string content yields one text block.
  std::vector<ContentBlock> content() const;
  /// All text blocks joined (assistant text, or a user string prompt).
  std::string text() const;
  /// assistant: the top-level "error" of a synthetic API-error message ("server_error", ...).
  std::optional<std::string_view> error() const noexcept { return json()["error"].string(); }
  /// user: the structured tool output ("tool_use_result"), missing if absent.
  JsonView tool_use_result() const noexcept { return json()["tool_use_result"]; }
  bool is_replay() const noexcept { return json()["isReplay"].boolean().value_or(false); }

  // ---- result ----------------------------------------------------------------------------
  bool is_error() const noexcept { return json()["is_error"].boolean().value_or(false); }
  /// result text (absent on error_* subtypes).
  std::optional<std::string_view> result_text() const noexcept { return json()["result"].string(); }
  std::optional<double> total_cost_usd() const noexcept { return json()["total_cost_usd"].number(); }
  std::optional<std::int64_t> duration_ms() const noexcept { return json()["duration_ms"].int64(); }
  std::optional<std::int64_t> duration_api_ms() const noexcept { return json()["duration_api_ms"].int64(); }
  std::optional<std::int64_t> num_turns() const noexcept { return json()["num_turns"].int64(); }
  std::optional<std::string_view> stop_reason() const noexcept { return json()["stop_reason"].string(); }
  /// completed, aborted_streaming, max_turns, api_error, ... (newer CLIs).
  std::optional<std::string_view> terminal_reason() const noexcept
  {
    return json()["terminal_reason"].string();
  }
  /// The HTTP status of the failed API call (result, and assistant on newer CLIs).
  std::optional<std::int64_t> api_error_status() const noexcept
  {
    return json()["api_error_status"].int64();
  }
  /// result "errors" (error_* subtypes).
  std::vector<std::string_view> errors() const;
  JsonView usage() const noexcept;  ///< result.usage, or assistant message.usage
  /// The token counts of usage(), each missing when absent or not an integer. Read from the
  /// line's bytes without building its DOM when the line allows it (as text() and session_id()).
  struct TokenUsage {
    std::optional<std::int64_t> input_tokens;
    std::optional<std::int64_t> output_tokens;
    std::optional<std::int64_t> cache_creation_input_tokens;
    std::optional<std::int64_t> cache_read_input_tokens;
  };
  TokenUsage token_usage() const noexcept;
  JsonView model_usage() const noexcept { return json()["modelUsage"]; }
  struct PermissionDenial {
    std::string_view tool_name;
    std::string_view tool_use_id;
    JsonView tool_input;
  };
  std::vector<PermissionDenial> permission_denials() const;
  JsonView structured_output() const noexcept { return json()["structured_output"]; }

  // ---- stream_event / rate_limit_event ----------------------------------------------------
  /// stream_event: the raw API SSE event object.
  JsonView event() const noexcept { return json()["event"]; }
  /// stream_event: event.type ("message_start", "content_block_delta", ...).
  std::string_view event_type() const noexcept { return event()["type"].string_or(); }
  /// stream_event content_block_delta: the delta text (text_delta, thinking_delta) or partial JSON.
  std::string_view delta_text() const noexcept;
  /// rate_limit_event: "rate_limit_info".
  JsonView rate_limit_info() const noexcept { return json()["rate_limit_info"]; }

  // ---- control protocol --------------------------------------------------------------------
  /// control_request / control_cancel_request: request_id; control_response: response.request_id.
  std::string_view request_id() const noexcept;

  // ---- invalid_line ------------------------------------------------------------------------
  /// Why the line was rejected (code is empty for valid messages).
  const LineError &line_error() const noexcept;

private:
  struct Impl;
  friend struct detail::Access<Message>;
  explicit Message(std::shared_ptr<const Impl> impl) noexcept : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

CCB_END_NAMESPACE
