// Session history, the writers: rename_session and tag_session append one metadata line to a
// transcript the CLI may be appending to as well (one O_APPEND write of a whole line, so lines
// never interleave); delete_session removes it; fork_session writes a new transcript beside it,
// complete before it appears under its name (made by fork_transcript, which works on text).
#include "core/session_files.hpp"

#include "detail/json.hpp"

#include <ccbridge/error.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ccbridge::detail::history {
namespace {

std::string not_found(std::string_view session_id, std::string_view directory)
{
  std::string m = "Session " + std::string(session_id) + " not found";
  if (!directory.empty()) m += " in project directory for " + std::string(directory);
  return m;
}

[[noreturn]] void io_failure(const std::string &what, int err)
{
  throw Error(errc::io_error, what + ": " + std::strerror(err));
}

// Writes all of `data` at the fd's position (with O_APPEND: at the end, in one write for any
// line a transcript holds; a short write is continued).
void write_all(int fd, std::string_view data, const std::string &path)
{
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_failure("cannot write " + path, errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Appends `line` to the session's transcript: the first candidate that exists and is not empty
// (an empty file is a stub; the session may be elsewhere). Opening without O_CREAT is the check.
void append_line(std::string_view session_id, std::string_view directory, const std::string &line)
{
  bool projects_readable = true;
  bool done = visit_candidates(
      session_id, directory,
      [&](const Candidate &c) {
        int fd = ::open(c.file.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0) {
          if (errno == ENOENT || errno == ENOTDIR) return false;
          io_failure("cannot open " + c.file, errno);
        }
        struct Closer {
          int fd;
          ~Closer() { ::close(fd); }
        } closer{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0) io_failure("cannot stat " + c.file, errno);
        if (st.st_size == 0) return false;
        // A transcript cut off mid-line (a crash) would swallow the line: start a new one. Should
        // the CLI append in between, its line ends with '\n' and this leaves an empty line.
        char last = '\n';
        if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
          write_all(fd, "\n" + line, c.file);
        } else {
          write_all(fd, line, c.file);
        }
        return true;
      },
      &projects_readable);
  if (done) return;
  if (!directory.empty()) throw Error(errc::session_not_found, not_found(session_id, directory));
  throw Error(errc::session_not_found, "Session " + std::string(session_id) +
                                           (projects_readable ? " not found in any project directory"
                                                              : " not found (no projects directory)"));
}

// A code point to drop from a tag: format characters (Cf: zero-width, bidi controls, BOM, ...),
// private use (Co) and noncharacters. (The Python package also applies NFKC first.)
bool is_invisible(char32_t c) noexcept
{
  static constexpr char32_t ranges[][2] = {
      {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},   {0x070F, 0x070F},
      {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x180E, 0x180E},   {0x200B, 0x200F},   {0x202A, 0x202E},
      {0x2060, 0x2064},   {0x2066, 0x206F},   {0xE000, 0xF8FF},   {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},
      {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
      {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0x10FFFF},
  };
  if ((c & 0xFFFE) == 0xFFFE) return true;  // U+xxFFFE, U+xxFFFF
  for (const auto &r : ranges) {
    if (c >= r[0] && c <= r[1]) return true;
  }
  return false;
}

std::string strip_invisible(std::string_view text)
{
  std::string valid = repair_utf8(text), out;
  for (std::size_t i = 0; i < valid.size();) {
    std::size_t start = i;
    if (!is_invisible(next_code_point(valid, i))) out.append(valid, start, i - start);
  }
  return out;
}

// Now as the CLI writes timestamps: 2026-03-01T12:34:56.789Z.
std::string iso_now()
{
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

// Sets `key` on `obj`: in place when present (a dict update keeps the position), else appended.
void set_member(JsonValue &obj, const char *key, JsonValue value, JsonDocument::AllocatorType &a)
{
  auto it = obj.FindMember(key);
  if (it != obj.MemberEnd()) {
    it->value = std::move(value);
  } else {
    obj.AddMember(JsonValue(key, a), std::move(value), a);
  }
}

JsonValue string_value(std::string_view s, JsonDocument::AllocatorType &a)
{
  return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// The source's title for a fork: its latest custom title, its AI title, its first prompt.
std::optional<std::string> source_title(std::string_view content)
{
  std::string head = repair_utf8(content.substr(0, kLiteBytes));
  std::string tail = repair_utf8(content.substr(content.size() > kLiteBytes ? content.size() - kLiteBytes : 0));
  for (auto v : {last_string_field(tail, "customTitle"), last_string_field(head, "customTitle"),
                 last_string_field(tail, "aiTitle"), last_string_field(head, "aiTitle")}) {
    if (v && !v->empty()) return v;
  }
  std::string prompt = first_prompt_from_head(head);
  if (!prompt.empty()) return prompt;
  return std::nullopt;
}

void require_fork_ids(std::string_view session_id, const ForkSessionOptions &options)
{
  require_uuid(session_id, "session_id");
  const auto &up_to = options.up_to_message_id;
  if (up_to && !up_to->empty()) require_uuid(*up_to, "up_to_message_id");
}

// Creates `path` with `data`, never over an existing file and never seen half written: a
// temporary file beside it, flushed, then linked to its name (link fails if the name exists).
void write_new_file(const std::string &dir, const std::string &path, std::string_view data)
{
  std::string tmp = dir + "/." + new_uuid() + ".jsonl.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) io_failure("cannot create " + tmp, errno);
  int err = 0;
  try {
    write_all(fd, data, tmp);
    if (::fsync(fd) != 0) err = errno;
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (err == 0 && ::link(tmp.c_str(), path.c_str()) != 0) err = errno;
  ::unlink(tmp.c_str());
  if (err != 0) io_failure("cannot write " + path, err);
}

}  // namespace
}  // namespace ccbridge::detail::history

CCB_BEGIN_NAMESPACE

using namespace detail;
using namespace detail::history;

void rename_session(std::string_view session_id, std::string_view title, std::string_view directory)
{
  require_uuid(session_id, "session_id");
  std::string_view trimmed = trim_unicode(title);
  if (trimmed.empty()) throw Error(errc::invalid_argument, "title must be non-empty");
  std::string line = R"({"type":"custom-title","customTitle":)";
  append_json_string(line, repair_utf8(trimmed));
  line += R"(,"sessionId":)";
  append_json_string(line, session_id);
  line += "}\n";
  append_line(session_id, directory, line);
}

void tag_session(std::string_view session_id, std::optional<std::string_view> tag, std::string_view directory)
{
  require_uuid(session_id, "session_id");
  std::string clean;
  if (tag) {
    clean = std::string(trim_unicode(strip_invisible(*tag)));
    if (clean.empty()) throw Error(errc::invalid_argument, "tag must be non-empty (use None to clear)");
  }
  std::string line = R"({"type":"tag","tag":)";
  append_json_string(line, clean);
  line += R"(,"sessionId":)";
  append_json_string(line, session_id);
  line += "}\n";
  append_line(session_id, directory, line);
}

void delete_session(std::string_view session_id, std::string_view directory)
{
  require_uuid(session_id, "session_id");
  auto found = find_session_file(session_id, directory);
  if (!found) throw Error(errc::session_not_found, not_found(session_id, directory));
  if (::unlink(found->file.c_str()) != 0) {
    if (errno == ENOENT) throw Error(errc::session_not_found, not_found(session_id, {}));
    io_failure("cannot delete " + found->file, errno);
  }
  // Its subagent transcripts, when it has any (a symlink there is removed, not followed).
  std::error_code ignored;
  std::filesystem::remove_all(found->project_dir + "/" + std::string(session_id), ignored);
}

ForkedTranscript fork_transcript(std::string_view session_id, std::string_view content, const ForkSessionOptions &options)
{
  require_fork_ids(session_id, options);
  const auto &up_to = options.up_to_message_id;
  auto no_messages = [&] { return Error(errc::invalid_argument, "Session " + std::string(session_id) + " has no messages to fork"); };
  if (content.empty()) throw no_messages();

  // The chain entries (sidechains left out: they have parentUuid graphs of their own) and the
  // source's content-replacement records, which the fork carries over under its own id.
  std::vector<Entry> transcript;
  JsonDocument replacements_doc;
  JsonValue replacements(rapidjson::kArrayType);
  auto &ra = replacements_doc.GetAllocator();
  for_each_json_line(content, [&](const std::shared_ptr<JsonDocument> &doc) {
    if (auto e = chain_entry(doc)) {
      if (!truthy(*doc, "isSidechain")) transcript.push_back(std::move(*e));
    } else if (get_string(*doc, "type") == "content-replacement" && get_string(*doc, "sessionId") == session_id) {
      auto r = doc->FindMember("replacements");
      if (r == doc->MemberEnd() || !r->value.IsArray()) return;
      for (const auto &item : r->value.GetArray()) replacements.PushBack(JsonValue(item, ra), ra);
    }
  });
  if (transcript.empty()) throw no_messages();
  if (up_to && !up_to->empty()) {
    auto cut = std::find_if(transcript.begin(), transcript.end(), [&](const Entry &e) { return e.uuid == *up_to; });
    if (cut == transcript.end()) {
      throw Error(errc::invalid_argument, "Message " + *up_to + " not found in session " + std::string(session_id));
    }
    transcript.erase(cut + 1, transcript.end());
  }
  // New uuids for every entry, progress included: a progress entry's parent is followed through.
  std::unordered_map<std::string_view, std::string> new_uuid_of;
  std::unordered_map<std::string_view, const Entry *> by_uuid;
  for (const Entry &e : transcript) {
    new_uuid_of[e.uuid] = new_uuid();
    by_uuid[e.uuid] = &e;
  }
  std::vector<const Entry *> writable;
  for (const Entry &e : transcript) {
    if (e.type != "progress") writable.push_back(&e);
  }
  if (writable.empty()) throw no_messages();

  std::string fork_id = new_uuid(), now = iso_now(), out;
  for (std::size_t i = 0; i < writable.size(); ++i) {
    const Entry &src = *writable[i];
    JsonDocument doc;
    auto &a = doc.GetAllocator();
    doc.CopyFrom(src.json(), a);
    // The parent, skipping progress entries (progress lines are UI-only and not copied).
    JsonValue parent(rapidjson::kNullType);
    for (std::string_view p = src.parent; !p.empty();) {
      auto it = by_uuid.find(p);
      if (it == by_uuid.end()) break;
      if (it->second->type != "progress") {
        parent = string_value(new_uuid_of[p], a);
        break;
      }
      p = it->second->parent;
    }
    JsonValue logical(rapidjson::kNullType);
    if (auto lp = doc.FindMember("logicalParentUuid"); lp != doc.MemberEnd()) {
      bool truthy_lp = truthy(doc, "logicalParentUuid");
      if (!truthy_lp) {
        logical.CopyFrom(lp->value, a);  // null, "" or the like: kept as it is
      } else if (lp->value.IsString()) {
        auto m = new_uuid_of.find(std::string_view(lp->value.GetString(), lp->value.GetStringLength()));
        if (m != new_uuid_of.end()) logical = string_value(m->second, a);
      }
    }
    // Only the last entry gets the fork's time: on resume, the CLI takes the newest as the leaf.
    JsonValue timestamp;
    const JsonValue *ts = nullptr;
    if (auto t = src.json().FindMember("timestamp"); t != src.json().MemberEnd()) ts = &t->value;
    if (i + 1 == writable.size() || !ts) {
      timestamp = string_value(now, a);
    } else {
      timestamp.CopyFrom(*ts, a);
    }
    JsonValue forked_from(rapidjson::kObjectType);
    forked_from.AddMember("sessionId", string_value(session_id, a), a);
    forked_from.AddMember("messageUuid", string_value(src.uuid, a), a);
    set_member(doc, "uuid", string_value(new_uuid_of[src.uuid], a), a);
    set_member(doc, "parentUuid", std::move(parent), a);
    set_member(doc, "logicalParentUuid", std::move(logical), a);
    set_member(doc, "sessionId", string_value(fork_id, a), a);
    set_member(doc, "timestamp", std::move(timestamp), a);
    set_member(doc, "isSidechain", JsonValue(false), a);
    set_member(doc, "forkedFrom", std::move(forked_from), a);
    // State of the source session that must not leak into the fork.
    for (const char *key : {"teamName", "agentName", "slug", "sourceToolAssistantUUID"}) {
      auto it = doc.FindMember(key);
      if (it != doc.MemberEnd()) doc.EraseMember(it);  // Erase, not Remove: keeps the order
    }
    out += dump(doc);
    out += '\n';
  }
  if (!replacements.Empty()) {
    out += R"({"type":"content-replacement","sessionId":)";
    append_json_string(out, fork_id);
    out += R"(,"replacements":)" + dump(replacements) + R"(,"uuid":)";
    append_json_string(out, new_uuid());
    out += R"(,"timestamp":)";
    append_json_string(out, now);
    out += "}\n";
  }
  // The fork's title: the one given, else the source's + " (fork)". Readers take the last
  // custom-title line, so this is what lists show.
  std::string title = options.title ? std::string(trim_unicode(*options.title)) : std::string();
  if (title.empty()) title = source_title(content).value_or("Forked session") + " (fork)";
  out += R"({"type":"custom-title","sessionId":)";
  append_json_string(out, fork_id);
  out += R"(,"customTitle":)";
  append_json_string(out, repair_utf8(title));
  out += R"(,"uuid":)";
  append_json_string(out, new_uuid());
  out += R"(,"timestamp":)";
  append_json_string(out, now);
  out += "}\n";
  return {std::move(fork_id), std::move(out)};
}

std::string fork_session(std::string_view session_id, const ForkSessionOptions &options)
{
  require_fork_ids(session_id, options);  // before the search: an invalid id is not "not found"
  auto found = find_session_file(session_id, options.directory);
  if (!found) throw Error(errc::session_not_found, not_found(session_id, options.directory));
  auto content = read_file(found->file);
  if (!content) throw Error(errc::io_error, "cannot read " + found->file);
  ForkedTranscript fork = fork_transcript(session_id, *content, options);
  write_new_file(found->project_dir, found->project_dir + "/" + fork.session_id + ".jsonl", fork.text);
  return fork.session_id;
}

CCB_END_NAMESPACE
