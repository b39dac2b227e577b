// Where the CLI keeps transcripts (config dir, project keys, git worktrees) and the text scans
// that read a transcript's metadata from its ends. Shared by session_history.cpp and
// session_edit.cpp.
#include "core/session_files.hpp"

#include "protocol/utf8.hpp"

#include <ccbridge/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace ccbridge::detail::history {
namespace {

bool is_hex(char c) noexcept
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_ascii_alnum(char32_t c) noexcept
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The CLI's djb2-style hash of a string (JavaScript: over UTF-16 units, `hash |= 0`), base 36.
std::string simple_hash(std::string_view s)
{
  std::uint32_t h = 0;
  auto add = [&h](std::uint32_t unit) { h = (h << 5) - h + unit; };
  for (std::size_t i = 0; i < s.size();) {
    char32_t c = next_code_point(s, i);
    if (c >= 0x10000) {
      add(0xD800 + ((c - 0x10000) >> 10));
      add(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      add(c);
    }
  }
  std::int64_t v = static_cast<std::int32_t>(h);
  if (v < 0) v = -v;
  if (v == 0) return "0";
  std::string out;
  for (; v > 0; v /= 36) out.insert(out.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]);
  return out;
}

bool is_unicode_space(char32_t c) noexcept
{
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// `text` without Unicode whitespace at its end (and at its start with `leading`).
std::string_view strip_spaces(std::string_view text, bool leading)
{
  std::size_t i = 0, first = leading ? text.size() : 0, last = 0;
  while (i < text.size()) {
    std::size_t at = i;
    if (!is_unicode_space(next_code_point(text, i))) {
      if (leading) first = std::min(first, at);
      last = i;
    }
  }
  return first < last ? text.substr(first, last - first) : std::string_view();
}

std::string parent_of(const std::string &path)
{
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}


bool is_directory(const std::string &path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The first line of a small file, trimmed; nullopt if it cannot be read.
std::optional<std::string> read_first_line(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  return line;
}

std::string resolve_against(const std::string &base_dir, const std::string &path)
{
  return canonical_path(!path.empty() && path[0] == '/' ? path : join_path(base_dir, path));
}

std::string config_home()
{
  const char *dir = std::getenv("CLAUDE_CONFIG_DIR");
  if (dir && *dir) return dir;
  const char *home = std::getenv("HOME");
  return join_path(home && *home ? home : "/", ".claude");
}

// "value" (the raw text between a field's quotes) unescaped as JSON, or as it is if that fails.
std::string unescape_field(std::string_view raw)
{
  if (raw.find('\\') == std::string_view::npos) return std::string(raw);
  std::string quoted;
  quoted.reserve(raw.size() + 2);
  quoted += '"';
  quoted += raw;
  quoted += '"';
  JsonDocument doc;
  if (parse_exact(doc, quoted).IsError() || !doc.IsString()) return std::string(raw);
  return {doc.GetString(), doc.GetStringLength()};
}

// Scans one "key":"value" occurrence whose value starts at `start`; returns the end quote's
// offset, or npos if the text ends first.
std::size_t value_end(std::string_view text, std::size_t start) noexcept
{
  for (std::size_t i = start; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
      continue;
    }
    if (text[i] == '"') return i;
  }
  return std::string_view::npos;
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept { return s.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view s, std::string_view suffix) noexcept
{
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Prompts the CLI writes for itself, not typed by the user.
bool is_generated_prompt(std::string_view text)
{
  for (std::string_view p : {"<local-command-stdout>", "<session-start-hook>", "<tick>", "<goal>"}) {
    if (starts_with(text, p)) return true;
  }
  constexpr std::string_view interrupted = "[Request interrupted by user";
  if (starts_with(text, interrupted) && text.find(']', interrupted.size()) != std::string_view::npos) return true;
  for (std::string_view tag : {"ide_opened_file", "ide_selection"}) {
    std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
    if (text.size() >= open.size() + close.size() && starts_with(text, open) && ends_with(text, close)) return true;
  }
  return false;
}

// Cuts `text` to `max` code points, trailing whitespace off, "…" appended, when it is longer.
std::string shorten(std::string_view text, std::size_t max)
{
  std::size_t i = 0, count = 0;
  while (i < text.size() && count < max) {
    next_code_point(text, i);
    ++count;
  }
  if (i >= text.size()) return std::string(text);
  return std::string(strip_spaces(text.substr(0, i), false)) + "\u2026";
}

}  // namespace

char32_t next_code_point(std::string_view s, std::size_t &i) noexcept
{
  std::size_t n = utf8_sequence_length(s.data() + i, s.size() - i);
  if (n == 0) {
    ++i;
    return 0xFFFD;
  }
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  char32_t c = n == 1   ? b(0)
               : n == 2 ? ((b(0) & 0x1Fu) << 6) | (b(1) & 0x3Fu)
               : n == 3 ? ((b(0) & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu)
                        : ((b(0) & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
  i += n;
  return c;
}

std::string join_path(const std::string &dir, std::string_view name)
{
  std::string out = dir;
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

std::string repair_utf8(std::string_view text)
{
  if (valid_utf8(text.data(), text.size())) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence_length(text.data() + i, text.size() - i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

std::string sanitize_path(std::string_view path)
{
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size();) {
    char32_t c = next_code_point(path, i);
    if (is_ascii_alnum(c)) {
      out += static_cast<char>(c);
    } else {
      out += c >= 0x10000 ? "--" : "-";  // one '-' per UTF-16 unit, as the CLI's regex replaces
    }
  }
  if (out.size() <= kMaxKeyLength) return out;
  return out.substr(0, kMaxKeyLength) + "-" + simple_hash(path);
}

std::string canonical_path(std::string_view dir)
{
  std::error_code ec;
  fs::path p(std::string{dir});
  fs::path abs = fs::absolute(p, ec);
  if (ec) abs = p;
  fs::path canon = fs::weakly_canonical(abs, ec);
  std::string out = (ec ? abs.lexically_normal() : canon).string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::vector<std::string> git_worktree_paths(const std::string &dir)
{
  // Find the repository the way git does: the nearest .git (a directory, or a file naming one).
  std::string gitdir, at = dir;
  for (;;) {
    std::string dot_git = join_path(at, ".git");
    struct stat st {};
    if (::stat(dot_git.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        gitdir = dot_git;
        break;
      }
      if (S_ISREG(st.st_mode)) {
        auto line = read_first_line(dot_git);
        if (line && starts_with(*line, "gitdir:")) {
          gitdir = resolve_against(at, std::string(trim_unicode(std::string_view(*line).substr(7))));
          break;
        }
      }
    }
    if (at == "/" || at.empty()) return {};
    at = parent_of(at);
  }
  std::string common = gitdir;
  if (auto c = read_first_line(join_path(gitdir, "commondir")); c && !c->empty()) common = resolve_against(gitdir, *c);
  std::vector<std::string> out;
  // The main worktree holds <common> as its .git; a bare repository is listed as itself.
  out.push_back(canonical_path(fs::path(common).filename() == ".git" ? parent_of(common) : common));
  std::vector<std::string> linked;
  std::string admin = join_path(common, "worktrees");
  for (const std::string &name : list_dir(admin, true)) {
    auto line = read_first_line(join_path(join_path(admin, name), "gitdir"));
    if (!line || line->empty()) continue;
    std::string path = resolve_against(join_path(admin, name), *line);
    if (ends_with(path, "/.git")) path.resize(path.size() - 5);
    linked.push_back(path);
  }
  std::sort(linked.begin(), linked.end());
  out.insert(out.end(), linked.begin(), linked.end());
  return out;
}

std::vector<std::string> list_dir(const std::string &dir, bool dirs_only, bool *readable)
{
  std::vector<std::string> names;
  DIR *d = ::opendir(dir.c_str());
  if (readable) *readable = d != nullptr;
  if (!d) return names;
  while (const dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (dirs_only && !is_directory(join_path(dir, name))) continue;
    names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string find_project_dir(const std::string &project_path)
{
  std::string projects = claude_projects_dir();
  std::string key = sanitize_path(project_path);
  std::string exact = join_path(projects, key);
  if (is_directory(exact)) return exact;
  if (key.size() <= kMaxKeyLength) return {};
  std::string prefix = key.substr(0, kMaxKeyLength) + "-";
  for (const std::string &name : list_dir(projects, true)) {
    if (starts_with(name, prefix)) return join_path(projects, name);
  }
  return {};
}

bool visit_candidates(std::string_view session_id, std::string_view directory,
                      const std::function<bool(const Candidate &)> &fn, bool *projects_readable)
{
  std::string file_name = std::string(session_id) + ".jsonl";
  if (projects_readable) *projects_readable = true;
  auto offer = [&](const std::string &project_dir, const std::string &project_path) {
    return !project_dir.empty() && fn(Candidate{join_path(project_dir, file_name), project_dir, project_path});
  };
  if (!directory.empty()) {
    std::string canonical = canonical_path(directory);
    if (offer(find_project_dir(canonical), canonical)) return true;
    // The session may have been recorded under another worktree of the same repository.
    for (const std::string &wt : git_worktree_paths(canonical)) {
      if (wt != canonical && offer(find_project_dir(wt), wt)) return true;
    }
    return false;
  }
  std::string projects = claude_projects_dir();
  for (const std::string &name : list_dir(projects, true, projects_readable)) {
    if (offer(join_path(projects, name), {})) return true;
  }
  return false;
}

std::optional<Candidate> find_session_file(std::string_view session_id, std::string_view directory)
{
  std::optional<Candidate> found;
  visit_candidates(session_id, directory, [&](const Candidate &c) {
    struct stat st {};
    if (::stat(c.file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return false;
    found = c;
    return true;
  });
  return found;
}

std::optional<std::string> read_file(const std::string &path)
{
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::optional<std::string> first_string_field(std::string_view text, std::string_view key)
{
  for (const std::string &pattern : {"\"" + std::string(key) + "\":\"", "\"" + std::string(key) + "\": \""}) {
    std::size_t at = text.find(pattern);
    if (at == std::string_view::npos) continue;
    std::size_t start = at + pattern.size(), end = value_end(text, start);
    if (end != std::string_view::npos) return unescape_field(text.substr(start, end - start));
  }
  return std::nullopt;
}

std::optional<std::string> last_string_field(std::string_view text, std::string_view key)
{
  // As the official SDK: every compact occurrence, then every spaced one; the last found wins.
  std::optional<std::string> last;
  for (const std::string &pattern : {"\"" + std::string(key) + "\":\"", "\"" + std::string(key) + "\": \""}) {
    std::size_t from = 0;
    for (;;) {
      std::size_t at = text.find(pattern, from);
      if (at == std::string_view::npos) break;
      std::size_t start = at + pattern.size(), end = value_end(text, start);
      if (end == std::string_view::npos) break;
      last = unescape_field(text.substr(start, end - start));
      from = end + 1;
    }
  }
  return last;
}

std::string first_prompt_from_head(std::string_view head)
{
  std::string command_fallback;
  std::size_t start = 0;
  while (start < head.size()) {
    std::size_t nl = head.find('\n', start);
    std::string_view line = head.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? head.size() : nl + 1;
    LinePrompt found = first_prompt_of_line(line);
    if (found.prompt) return std::move(*found.prompt);
    if (found.command && command_fallback.empty()) command_fallback = std::move(*found.command);
  }
  return command_fallback;
}

bool is_chain_type(std::string_view type) noexcept
{
  return type == "user" || type == "assistant" || type == "progress" || type == "system" || type == "attachment";
}

void for_each_json_line(std::string_view content, const std::function<void(const std::shared_ptr<JsonDocument> &)> &fn)
{
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t nl = content.find('\n', start);
    std::string_view line = content.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? content.size() : nl + 1;
    line = trim_unicode(line);
    if (line.empty() || !valid_utf8(line.data(), line.size())) continue;
    auto doc = std::make_shared<JsonDocument>();
    if (parse_exact(*doc, line).IsError() || !doc->IsObject()) continue;
    fn(doc);
  }
}

std::optional<Entry> chain_entry(const std::shared_ptr<JsonDocument> &doc)
{
  std::string_view type = get_string(*doc, "type");
  auto uuid = doc->FindMember("uuid");
  if (!is_chain_type(type) || uuid == doc->MemberEnd() || !uuid->value.IsString()) return std::nullopt;
  return Entry{doc, type, {uuid->value.GetString(), uuid->value.GetStringLength()}, get_string(*doc, "parentUuid")};
}

std::vector<Entry> parse_chain_entries(std::string_view content)
{
  std::vector<Entry> out;
  for_each_json_line(content, [&](const std::shared_ptr<JsonDocument> &doc) {
    if (auto e = chain_entry(doc)) out.push_back(std::move(*e));
  });
  return out;
}

bool truthy(const JsonValue &object, const char *key)
{
  if (!object.IsObject()) return false;
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) return false;
  const JsonValue &v = it->value;
  if (v.IsBool()) return v.GetBool();
  if (v.IsNumber()) return v.GetDouble() != 0.0;
  if (v.IsString()) return v.GetStringLength() > 0;
  if (v.IsArray()) return !v.Empty();
  if (v.IsObject()) return v.MemberCount() > 0;
  return false;
}

std::string_view trim_unicode(std::string_view text) { return strip_spaces(text, true); }

std::string new_uuid()
{
  static thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  unsigned char b[16];
  for (int i = 0; i < 16; i += 8) {
    std::uint64_t r = rng();
    for (int k = 0; k < 8; ++k) b[i + k] = static_cast<unsigned char>(r >> (8 * k));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0xF];
  }
  return out;
}

void require_uuid(std::string_view value, const char *what)
{
  if (!is_session_uuid(value)) throw Error(errc::invalid_argument, std::string("Invalid ") + what + ": " + std::string(value));
}

}  // namespace ccbridge::detail::history

CCB_BEGIN_NAMESPACE

std::string claude_projects_dir()
{
  std::string home = detail::history::config_home();
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  return home + "/projects";
}

std::string project_key_for_directory(std::string_view directory)
{
  return detail::history::sanitize_path(detail::history::canonical_path(directory.empty() ? "." : directory));
}

bool is_session_uuid(std::string_view text) noexcept
{
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !detail::history::is_hex(text[i])) return false;
  }
  return true;
}

CCB_END_NAMESPACE

CCB_BEGIN_NAMESPACE

LinePrompt first_prompt_of_line(std::string_view line)
{
  using namespace detail;
  using namespace detail::history;
  LinePrompt found;
  // Cheap text checks first: most lines are not user prompts.
  if (line.find("\"type\":\"user\"") == std::string_view::npos && line.find("\"type\": \"user\"") == std::string_view::npos)
    return found;
  if (line.find("\"tool_result\"") != std::string_view::npos) return found;
  if (line.find("\"isMeta\":true") != std::string_view::npos || line.find("\"isMeta\": true") != std::string_view::npos)
    return found;
  if (line.find("\"isCompactSummary\":true") != std::string_view::npos ||
      line.find("\"isCompactSummary\": true") != std::string_view::npos)
    return found;
  JsonDocument doc;
  if (parse_exact(doc, line).IsError() || !doc.IsObject() || get_string(doc, "type") != "user") return found;
  auto msg = doc.FindMember("message");
  if (msg == doc.MemberEnd() || !msg->value.IsObject()) return found;
  auto content = msg->value.FindMember("content");
  if (content == msg->value.MemberEnd()) return found;
  std::vector<std::string_view> texts;
  if (content->value.IsString()) {
    texts.emplace_back(content->value.GetString(), content->value.GetStringLength());
  } else if (content->value.IsArray()) {
    for (const auto &block : content->value.GetArray()) {
      if (get_string(block, "type") != "text") continue;
      auto t = block.FindMember("text");
      if (t != block.MemberEnd() && t->value.IsString()) texts.emplace_back(t->value.GetString(), t->value.GetStringLength());
    }
  }
  for (std::string_view raw : texts) {
    std::string flat(raw);
    std::replace(flat.begin(), flat.end(), '\n', ' ');
    std::string_view result = trim_unicode(flat);
    if (result.empty()) continue;
    // A slash command: remembered (its name) in case nothing else is found.
    std::size_t cmd = result.find("<command-name>");
    if (cmd != std::string_view::npos) {
      std::size_t name_at = cmd + 14, end = result.find("</command-name>", name_at);
      if (end != std::string_view::npos) {
        if (!found.command) found.command = std::string(result.substr(name_at, end - name_at));
        continue;
      }
    }
    if (is_generated_prompt(result)) continue;
    found.prompt = shorten(result, 200);
    return found;
  }
  return found;
}

CCB_END_NAMESPACE
