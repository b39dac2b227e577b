// Internals of the session history (include/ccbridge/session_history.hpp) shared by its readers
// (session_history.cpp) and writers (session_edit.cpp): where transcripts are, and the text
// scans that read their metadata without parsing whole files.
#pragma once

#include <ccbridge/session_history.hpp>

#include "detail/json.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::history {

/// Bytes read from each end of a transcript for its metadata.
constexpr std::size_t kLiteBytes = 65536;
/// Project keys longer than this are cut to it and get a hash suffix.
constexpr std::size_t kMaxKeyLength = 200;

/// Decodes the code point at s[i] and advances i past it; U+FFFD for an ill-formed sequence (one
/// byte).
char32_t next_code_point(std::string_view s, std::size_t &i) noexcept;

/// dir + "/" + name, with one slash between them.
std::string join_path(const std::string &dir, std::string_view name);

/// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD (as Python's errors="replace").
std::string repair_utf8(std::string_view text);

/// The project key of an already canonical path (no realpath): every UTF-16 unit that is not an
/// ASCII letter or digit becomes '-'; past kMaxKeyLength, cut and suffixed with "-<hash>".
std::string sanitize_path(std::string_view path);

/// realpath of `dir` where it exists, the rest lexically normalised, absolute, no trailing '/'.
std::string canonical_path(std::string_view dir);

/// The paths of every worktree of the git repository holding `dir` (main worktree first), or
/// none when `dir` is not in one.
std::vector<std::string> git_worktree_paths(const std::string &dir);

/// The directory under claude_projects_dir() holding the sessions of `project_path` (canonical):
/// its key's directory, or, for a cut key whose hash suffix differs (the CLI hashes otherwise),
/// the first directory with the same 200-character prefix. Empty if none.
std::string find_project_dir(const std::string &project_path);

/// Entries (names) of `dir` that are directories (`dirs_only`) or anything, sorted; empty if
/// `dir` cannot be read; `readable` tells which.
std::vector<std::string> list_dir(const std::string &dir, bool dirs_only, bool *readable = nullptr);

/// Where a session's transcript was found.
struct Candidate {
  std::string file;          ///< <project dir>/<id>.jsonl
  std::string project_dir;   ///< the directory under claude_projects_dir()
  std::string project_path;  ///< the working directory it belongs to ("" when searched blindly)
};

/// Offers `fn` each place the transcript of `session_id` may be, in the official order, until it
/// returns true: with a directory, that project's and then its other worktrees'; without one,
/// every project directory. Returns whether fn accepted one. `projects_readable` (optional) is
/// set to false when the search had no projects directory to look in.
bool visit_candidates(std::string_view session_id, std::string_view directory,
                      const std::function<bool(const Candidate &)> &fn, bool *projects_readable = nullptr);

/// The first candidate that is a non-empty file.
std::optional<Candidate> find_session_file(std::string_view session_id, std::string_view directory);

/// Reads a whole file; nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string &path);

/// The value of the first "key":"..." (or "key": "...") in `text`, unescaped; works on cut lines.
std::optional<std::string> first_string_field(std::string_view text, std::string_view key);
/// The same for the last one (of the compact form, else of the spaced form).
std::optional<std::string> last_string_field(std::string_view text, std::string_view key);

/// The first meaningful user prompt in a transcript's head (see SessionInfo::first_prompt).
std::string first_prompt_from_head(std::string_view head);

/// The type of a JSONL entry that belongs to the parentUuid chain.
bool is_chain_type(std::string_view type) noexcept;

/// One parsed JSONL line (an object).
struct Entry {
  std::shared_ptr<JsonDocument> doc;
  std::string_view type, uuid;  ///< point into *doc
  std::string_view parent;      ///< parentUuid when a non-empty string, else empty
  const JsonValue &json() const { return *doc; }
};

/// Calls `fn` with each line of `content` that is valid UTF-8 JSON (surrounding whitespace
/// ignored); other lines are skipped.
void for_each_json_line(std::string_view content, const std::function<void(const std::shared_ptr<JsonDocument> &)> &fn);

/// The Entry of a chain line (is_chain_type, a string uuid), or nothing.
std::optional<Entry> chain_entry(const std::shared_ptr<JsonDocument> &doc);

/// The chain entries of a transcript, in file order.
std::vector<Entry> parse_chain_entries(std::string_view content);

/// Python truthiness of a member (missing, null, false, 0, "", [] and {} are false).
bool truthy(const JsonValue &object, const char *key);

/// Strips Unicode whitespace (Python's str.strip()) from both ends of UTF-8 text.
std::string_view trim_unicode(std::string_view text);

/// A random (version 4) UUID, lower case.
std::string new_uuid();

/// Throws Error(invalid_argument, "Invalid <what>: <value>") unless `value` is a UUID.
void require_uuid(std::string_view value, const char *what);

}  // namespace ccbridge::detail::history
