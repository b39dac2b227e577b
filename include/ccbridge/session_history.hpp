// Session history: the Claude Code CLI's own transcripts, read and edited in place. The CLI keeps
// one JSONL file per session at <config>/projects/<project key>/<session id>.jsonl, where <config>
// is $CLAUDE_CONFIG_DIR or ~/.claude and the project key is the session's working directory with
// every character but ASCII letters and digits turned into '-' (keys longer than 200 characters
// are cut to 200 and get a hash suffix). Subagent transcripts live beside it, under
// <session id>/subagents/ (possibly nested), as agent-<agent id>.jsonl.
//
// The same behaviour as the official Python SDK's list_sessions, get_session_messages, ...:
// readers skip what they cannot use (a missing session, an invalid id, an unreadable file, lines
// that are not JSON or not valid UTF-8) and return an empty result; writers throw Error.
// `directory` arguments name a project's working directory (not its storage directory); they are
// resolved with realpath, and the sessions of the repository's other git worktrees are found
// too (read from the repository's files: .git, commondir, worktrees/*/gitdir; no git process).
// Empty `directory` means every project. No Unicode normalisation is applied to paths: pass NFC
// text, as the CLI writes it (the Python package normalises for you).
//
// Concurrency: the CLI may be appending to a transcript while these run. Readers take what is
// there; rename and tag append one whole line with a single O_APPEND write; fork writes its new
// transcript to a temporary file and links it into place, so no reader sees it half written.
#pragma once

#include <ccbridge/export.h>
#include <ccbridge/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

CCB_BEGIN_NAMESPACE

/// One session's metadata, read from the stat and the first and last 64 KiB of its transcript.
struct SessionInfo {
  std::string session_id;
  /// custom_title, else the latest "lastPrompt" or "summary" entry, else first_prompt.
  std::string summary;
  std::int64_t last_modified = 0;  ///< the file's mtime, milliseconds since the epoch
  std::int64_t file_size = 0;      ///< bytes
  /// The latest user-set title (rename_session, /rename) or, failing that, the CLI's AI title.
  std::optional<std::string> custom_title;
  /// The first real user prompt (slash commands, tool results, meta and IDE context lines skipped;
  /// a lone slash command's name as the fallback), one line, at most 200 characters + "…".
  std::optional<std::string> first_prompt;
  std::optional<std::string> git_branch;  ///< the latest branch recorded
  std::optional<std::string> cwd;         ///< the first recorded cwd, else the project directory
  std::optional<std::string> tag;         ///< the latest tag_session value (cleared: none)
  std::optional<std::int64_t> created_at; ///< the first ISO timestamp, milliseconds since the epoch
};

/// A user or assistant message of a transcript.
struct SessionMessage {
  std::string type;        ///< "user" or "assistant"
  std::string uuid;        ///< the entry's uuid
  std::string session_id;  ///< its sessionId ("" if absent)
  JsonView message;        ///< the API message ({"role", "content", ...}) as written; may be missing
  /// Subagent messages: the Agent tool_use that spawned the subagent, and the subagent that spawned
  /// it (for nested ones), from agent-<id>.meta.json. Empty otherwise or when unknown.
  std::optional<std::string> parent_tool_use_id;
  std::optional<std::string> parent_agent_id;
};

struct ListSessionsOptions {
  std::string directory;              ///< a project's working directory; empty: every project
  std::optional<std::size_t> limit;   ///< at most this many (0 or none: all)
  std::size_t offset = 0;             ///< skip this many first
  bool include_worktrees = true;      ///< with `directory`: also the repository's other worktrees
};

struct ForkSessionOptions {
  std::string directory;                       ///< as for ListSessionsOptions; empty: search all
  std::optional<std::string> up_to_message_id; ///< copy up to and including this entry (a uuid)
  std::optional<std::string> title;            ///< default: the source's title + " (fork)"
};

/// The directory the CLI keeps transcripts in: $CLAUDE_CONFIG_DIR/projects or ~/.claude/projects.
CCB_API std::string claude_projects_dir();

/// The project key of `directory` (realpath'd when it exists; relative paths against the current
/// directory): the name of its directory under claude_projects_dir().
CCB_API std::string project_key_for_directory(std::string_view directory);

/// True if `text` is a UUID (8-4-4-4-12 hex digits, either case).
CCB_API bool is_session_uuid(std::string_view text) noexcept;

/// Where the readers find the transcript of `session_id` (a non-empty file, searched as they
/// search), or nothing (also for an invalid id).
CCB_API std::optional<std::string> session_transcript_path(std::string_view session_id,
                                                           std::string_view directory = {});

/// Sessions newest first (by mtime), sidechain and metadata-only ones left out, each session id
/// once (the newest copy).
CCB_API std::vector<SessionInfo> list_sessions(const ListSessionsOptions &options = {});

/// One session's metadata, or nothing if it is not found, is a sidechain or has nothing to show.
CCB_API std::optional<SessionInfo> get_session_info(std::string_view session_id, std::string_view directory = {});

/// The conversation of a session in order: the chain of parentUuid links from its latest main
/// leaf back to the root (branches abandoned by a rewind left out; the calls and results of a
/// turn that ran tools in parallel all kept), user and assistant entries that are not meta,
/// sidechain or team messages; then `offset` skipped and at most `limit` (0 or none: all) kept.
CCB_API std::vector<SessionMessage> get_session_messages(std::string_view session_id, std::string_view directory = {},
                                                         std::optional<std::size_t> limit = std::nullopt,
                                                         std::size_t offset = 0);

/// The ids of a session's subagents (agent-<id>.jsonl under its subagents directory, nested
/// directories included, in name order).
CCB_API std::vector<std::string> list_subagents(std::string_view session_id, std::string_view directory = {});

/// A subagent's conversation (its chain from the last user or assistant entry), paged as above.
CCB_API std::vector<SessionMessage> get_subagent_messages(std::string_view session_id, std::string_view agent_id,
                                                          std::string_view directory = {},
                                                          std::optional<std::size_t> limit = std::nullopt,
                                                          std::size_t offset = 0);

/// Appends {"type":"custom-title","customTitle":<title, trimmed>,"sessionId":...}: the session's
/// title from now on. Throws Error(invalid_argument) for an invalid id or a blank title and
/// Error(session_not_found) when no non-empty transcript of that id exists.
CCB_API void rename_session(std::string_view session_id, std::string_view title, std::string_view directory = {});

/// Appends {"type":"tag","tag":...,"sessionId":...}; nullopt clears the tag (an empty tag). The
/// tag loses format and private-use characters (zero-width, bidi controls, BOM, ...) and
/// surrounding whitespace; nothing left is Error(invalid_argument). Errors as rename_session.
CCB_API void tag_session(std::string_view session_id, std::optional<std::string_view> tag,
                         std::string_view directory = {});

/// Removes the transcript and its <session id>/ directory (subagent transcripts). Errors as
/// rename_session; Error(io_error) if the file cannot be removed.
CCB_API void delete_session(std::string_view session_id, std::string_view directory = {});

/// Copies a session into a new one beside it: fresh uuids (parentUuid links kept, progress entries
/// dropped and bridged), the new sessionId, forkedFrom {sessionId, messageUuid} on every entry,
/// sidechain entries left out, and a custom-title entry. Returns the new session's id. Throws
/// Error(invalid_argument) for invalid ids, a session with nothing to fork or an
/// up_to_message_id not in it, Error(session_not_found), Error(io_error) if it cannot be written.
CCB_API std::string fork_session(std::string_view session_id, const ForkSessionOptions &options = {});

// ---- transcripts given as text -------------------------------------------------------------
// The same readers and the fork for a transcript held elsewhere (a SessionStore, a database) and
// handed over as its JSONL text: the file-based functions above are these applied to the file.

/// The metadata get_session_info reads, from a transcript's text (its first and last 64 KiB, as
/// from a file): `last_modified` is the caller's, `file_size` the text's size and `project_path`
/// the cwd used when the transcript records none. Nothing for a sidechain or a session with
/// nothing to show.
CCB_API std::optional<SessionInfo> session_info_from_text(std::string_view session_id, std::string_view text,
                                                          std::int64_t last_modified,
                                                          std::string_view project_path = {});

/// The conversation of a transcript's text, as get_session_messages.
CCB_API std::vector<SessionMessage> session_messages_from_text(std::string_view text,
                                                               std::optional<std::size_t> limit = std::nullopt,
                                                               std::size_t offset = 0);

/// A subagent's conversation from its transcript's text, as get_subagent_messages; every message
/// gets the given parent ids (from the subagent's metadata).
CCB_API std::vector<SessionMessage> subagent_messages_from_text(std::string_view text,
                                                                const std::optional<std::string> &parent_tool_use_id,
                                                                const std::optional<std::string> &parent_agent_id,
                                                                std::optional<std::size_t> limit = std::nullopt,
                                                                std::size_t offset = 0);

/// What one transcript line gives for SessionInfo::first_prompt (the rule applied line by line to
/// a transcript's head): the prompt, or, for a lone slash command, its name (used when no line
/// gives a prompt). For summaries kept up to date as entries arrive, line by line.
struct LinePrompt {
  std::optional<std::string> prompt;
  std::optional<std::string> command;
};

CCB_API LinePrompt first_prompt_of_line(std::string_view line);

/// A fork made from a transcript's text: the new session's id and its transcript (JSONL, each line
/// ending in '\n').
struct ForkedTranscript {
  std::string session_id;
  std::string text;
};

/// The transform fork_session applies, to the text of session `session_id`'s transcript
/// (options.directory is not used). Throws Error(invalid_argument) as fork_session does.
CCB_API ForkedTranscript fork_transcript(std::string_view session_id, std::string_view text,
                                         const ForkSessionOptions &options = {});

CCB_END_NAMESPACE
