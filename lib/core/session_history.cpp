// Session history, the readers: list_sessions and get_session_info (metadata from each end of a
// transcript), get_session_messages (the conversation rebuilt from parentUuid links) and the
// subagent transcripts. The same behaviour as the official SDK's; see session_history.hpp.
#include "core/session_files.hpp"

#include "protocol/utf8.hpp"

#include <algorithm>
#include <ctime>
#include <unordered_map>
#include <unordered_set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ccbridge::detail::history {
namespace {

// ---- metadata --------------------------------------------------------------------------------

struct LiteFile {
  std::int64_t mtime_ms = 0;
  std::int64_t size = 0;
  std::string head, tail;  // the first and last kLiteBytes, ill-formed UTF-8 replaced
};

// Stats and reads both ends of a transcript; nullopt if it cannot be read or is empty.
std::optional<LiteFile> read_lite(const std::string &path)
{
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  auto read_at = [fd](off_t offset, std::string &out) {
    out.resize(kLiteBytes);
    std::size_t got = 0;
    while (got < kLiteBytes) {
      ssize_t n = ::pread(fd, out.data() + got, kLiteBytes - got, offset + static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    out.resize(got);
  };
  LiteFile lite;
  lite.size = st.st_size;
  lite.mtime_ms = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  std::string raw;
  read_at(0, raw);
  if (raw.empty()) return std::nullopt;
  lite.head = repair_utf8(raw);
  if (st.st_size > static_cast<off_t>(kLiteBytes)) {
    read_at(st.st_size - static_cast<off_t>(kLiteBytes), raw);
    lite.tail = repair_utf8(raw);
  } else {
    lite.tail = lite.head;
  }
  return lite;
}

// The same ends of a transcript held as text; nullopt if it is empty.
std::optional<LiteFile> lite_of_text(std::string_view text, std::int64_t mtime_ms)
{
  if (text.empty()) return std::nullopt;
  LiteFile lite;
  lite.mtime_ms = mtime_ms;
  lite.size = static_cast<std::int64_t>(text.size());
  lite.head = repair_utf8(text.substr(0, kLiteBytes));
  lite.tail = text.size() > kLiteBytes ? repair_utf8(text.substr(text.size() - kLiteBytes)) : lite.head;
  return lite;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// Milliseconds since the epoch of an ISO 8601 timestamp ("2026-01-15T10:30:00.000Z", an offset
// instead of Z, or none: local time, as Python's fromisoformat); nullopt if it is not one.
std::optional<std::int64_t> parse_iso_ms(std::string_view s)
{
  std::size_t i = 0;
  auto digits = [&](std::size_t n, int &out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += n;
    return true;
  };
  auto expect = [&](char c) { return i < s.size() && s[i] == c ? (++i, true) : false; };
  int y, mo, d, h = 0, mi = 0, sec = 0;
  double frac = 0;
  if (!digits(4, y) || !expect('-') || !digits(2, mo) || !expect('-') || !digits(2, d)) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    ++i;
    if (!digits(2, h) || !expect(':') || !digits(2, mi)) return std::nullopt;
    if (expect(':')) {
      if (!digits(2, sec)) return std::nullopt;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        double scale = 0.1;
        std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          frac += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
        if (i == start) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  }
  std::optional<std::int64_t> offset_s;
  if (expect('Z')) {
    offset_s = 0;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
    if (!digits(2, oh)) return std::nullopt;
    if (expect(':')) {
      if (!digits(2, om)) return std::nullopt;
    } else if (i < s.size() && !digits(2, om)) {
      return std::nullopt;
    }
    offset_s = sign * (oh * 3600 + om * 60);
  }
  if (i != s.size()) return std::nullopt;
  std::int64_t seconds;
  if (offset_s) {
    seconds = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + sec -
              *offset_s;
  } else {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    seconds = static_cast<std::int64_t>(std::mktime(&tm));
  }
  return seconds * 1000 + static_cast<std::int64_t>(frac * 1000);
}

// A non-empty value, else nothing (the official SDK's `x or None`).
std::optional<std::string> non_empty(std::optional<std::string> v)
{
  if (v && v->empty()) v.reset();
  return v;
}

template <class... More> std::optional<std::string> first_of(std::optional<std::string> v, More &&...more)
{
  if (v && !v->empty()) return v;
  if constexpr (sizeof...(more) == 0) {
    return std::nullopt;
  } else {
    return first_of(std::forward<More>(more)...);
  }
}

// The SessionInfo of a transcript's ends; nothing for a sidechain or a session with nothing to
// show (no title, summary or prompt).
std::optional<SessionInfo> parse_info(std::string_view session_id, const LiteFile &lite, const std::string &project_path)
{
  const std::string &head = lite.head, &tail = lite.tail;
  std::string_view first_line = std::string_view(head).substr(0, head.find('\n'));
  if (first_line.find("\"isSidechain\":true") != std::string_view::npos ||
      first_line.find("\"isSidechain\": true") != std::string_view::npos)
    return std::nullopt;
  SessionInfo info;
  // A title the user set wins over the one the CLI generated; the head covers short sessions.
  info.custom_title = first_of(last_string_field(tail, "customTitle"), last_string_field(head, "customTitle"),
                               last_string_field(tail, "aiTitle"), last_string_field(head, "aiTitle"));
  info.first_prompt = non_empty(first_prompt_from_head(head));
  auto summary = first_of(info.custom_title, last_string_field(tail, "lastPrompt"), last_string_field(tail, "summary"),
                          info.first_prompt);
  if (!summary) return std::nullopt;
  info.session_id = std::string(session_id);
  info.summary = std::move(*summary);
  info.last_modified = lite.mtime_ms;
  info.file_size = lite.size;
  info.git_branch = first_of(last_string_field(tail, "gitBranch"), first_string_field(head, "gitBranch"));
  info.cwd = first_of(first_string_field(head, "cwd"), project_path.empty() ? std::nullopt : std::optional(project_path));
  // Only {"type":"tag"...} lines: a bare "tag" also occurs in tool inputs (git tag, image tags).
  std::string_view rest = tail;
  while (!rest.empty()) {
    std::size_t nl = rest.rfind('\n');
    std::string_view line = nl == std::string_view::npos ? rest : rest.substr(nl + 1);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(0, nl);
    if (line.substr(0, 13) == "{\"type\":\"tag\"") {
      info.tag = non_empty(last_string_field(line, "tag"));
      break;
    }
  }
  // The first timestamp of the head, wherever it is: the first line may be metadata without one.
  if (auto ts = first_string_field(head, "timestamp")) info.created_at = parse_iso_ms(*ts);
  return info;
}

std::vector<SessionInfo> read_project_sessions(const std::string &project_dir, const std::string &project_path)
{
  std::vector<SessionInfo> out;
  for (const std::string &name : list_dir(project_dir, false)) {
    if (name.size() <= 6 || name.compare(name.size() - 6, 6, ".jsonl") != 0) continue;
    std::string_view id = std::string_view(name).substr(0, name.size() - 6);
    if (!is_session_uuid(id)) continue;
    auto lite = read_lite(join_path(project_dir, name));
    if (!lite) continue;
    if (auto info = parse_info(id, *lite, project_path)) out.push_back(std::move(*info));
  }
  return out;
}

// Keeps the newest copy of each session id (first seen on a tie), in first-seen order.
std::vector<SessionInfo> dedupe(std::vector<SessionInfo> sessions)
{
  std::vector<SessionInfo> out;
  std::unordered_map<std::string, std::size_t> at;
  for (auto &s : sessions) {
    auto [it, fresh] = at.emplace(s.session_id, out.size());
    if (fresh) {
      out.push_back(std::move(s));
    } else if (s.last_modified > out[it->second].last_modified) {
      out[it->second] = std::move(s);
    }
  }
  return out;
}

std::vector<SessionInfo> sort_and_page(std::vector<SessionInfo> sessions, const ListSessionsOptions &o)
{
  std::stable_sort(sessions.begin(), sessions.end(),
                   [](const SessionInfo &a, const SessionInfo &b) { return a.last_modified > b.last_modified; });
  std::size_t begin = std::min(o.offset, sessions.size());
  std::size_t end = o.limit && *o.limit > 0 ? std::min(sessions.size(), begin + *o.limit) : sessions.size();
  return {std::make_move_iterator(sessions.begin() + static_cast<std::ptrdiff_t>(begin)),
          std::make_move_iterator(sessions.begin() + static_cast<std::ptrdiff_t>(end))};
}

std::vector<SessionInfo> list_project(const ListSessionsOptions &o)
{
  std::string canonical = canonical_path(o.directory);
  std::vector<std::string> worktrees;
  if (o.include_worktrees) worktrees = git_worktree_paths(canonical);
  std::string own_dir = find_project_dir(canonical);
  if (worktrees.size() <= 1) {
    return own_dir.empty() ? std::vector<SessionInfo>{} : sort_and_page(read_project_sessions(own_dir, canonical), o);
  }
  // Longest keys first, so that the most specific worktree claims a directory.
  std::vector<std::pair<std::string, std::string>> keyed;  // (worktree, key)
  keyed.reserve(worktrees.size());
  for (const auto &wt : worktrees) keyed.emplace_back(wt, sanitize_path(wt));
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto &a, const auto &b) { return a.second.size() > b.second.size(); });
  std::string projects = claude_projects_dir();
  bool readable = false;
  std::vector<std::string> dirs = list_dir(projects, true, &readable);
  if (!readable) return own_dir.empty() ? std::vector<SessionInfo>{} : sort_and_page(read_project_sessions(own_dir, canonical), o);
  std::vector<SessionInfo> all;
  std::unordered_set<std::string> seen;
  // The directory itself first: a subdirectory of a worktree has a key of its own.
  if (!own_dir.empty()) {
    seen.insert(own_dir.substr(own_dir.rfind('/') + 1));
    all = read_project_sessions(own_dir, canonical);
  }
  for (const std::string &name : dirs) {
    if (seen.count(name)) continue;
    for (const auto &[wt, key] : keyed) {
      // A prefix only for cut keys (the hash suffix may differ): /a/project must not take /a/project-b.
      bool match = name == key || (key.size() >= kMaxKeyLength && name.compare(0, key.size() + 1, key + "-") == 0);
      if (!match) continue;
      seen.insert(name);
      auto found = read_project_sessions(join_path(projects, name), wt);
      all.insert(all.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
      break;
    }
  }
  return sort_and_page(dedupe(std::move(all)), o);
}

// ---- the conversation chain ------------------------------------------------------------------

const JsonValue *member(const JsonValue &v, const char *key)
{
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

// The API message id of an assistant entry ("" if none): one response's entries share it.
std::string_view response_id(const Entry &e)
{
  if (e.type != "assistant") return {};
  const JsonValue *msg = member(e.json(), "message");
  return msg ? get_string(*msg, "id") : std::string_view();
}

// The `field` of each content block of type `type` in an entry's message.
std::vector<std::string_view> block_ids(const Entry &e, std::string_view type, const char *field)
{
  std::vector<std::string_view> out;
  const JsonValue *msg = member(e.json(), "message");
  const JsonValue *content = msg ? member(*msg, "content") : nullptr;
  if (!content || !content->IsArray()) return out;
  for (const auto &block : content->GetArray()) {
    if (get_string(block, "type") != type) continue;
    const JsonValue *id = member(block, field);
    if (id && id->IsString()) out.emplace_back(id->GetString(), id->GetStringLength());
  }
  return out;
}

bool is_tool_result(const Entry &e)
{
  if (e.type != "user" || e.parent.empty()) return false;
  const JsonValue *msg = member(e.json(), "message");
  const JsonValue *content = msg ? member(*msg, "content") : nullptr;
  if (!content || !content->IsArray()) return false;
  return std::any_of(content->Begin(), content->End(),
                     [](const JsonValue &b) { return get_string(b, "type") == "tool_result"; });
}

// Written by the same (sub)agent: the same sidechain flag and agentId.
bool same_writer(const Entry &a, const Entry &b)
{
  if (truthy(a.json(), "isSidechain") != truthy(b.json(), "isSidechain")) return false;
  const JsonValue *x = member(a.json(), "agentId"), *y = member(b.json(), "agentId");
  bool x_none = !x || x->IsNull(), y_none = !y || y->IsNull();
  if (x_none || y_none) return x_none == y_none;
  return *x == *y;
}

std::string_view timestamp_of(const Entry &e) { return get_string(e.json(), "timestamp"); }

// The entries indexed by uuid: each uuid once, at its first position in the file, standing for
// its last copy (a dict filled in file order).
struct Index {
  std::vector<const Entry *> unique;
  std::unordered_map<std::string_view, std::size_t> position;  // uuid -> index in `unique`
  const Entry *find(std::string_view uuid) const
  {
    auto it = position.find(uuid);
    return it == position.end() ? nullptr : unique[it->second];
  }
};

Index index_entries(const std::vector<Entry> &entries)
{
  Index ix;
  for (const Entry &e : entries) {
    auto [it, fresh] = ix.position.emplace(e.uuid, ix.unique.size());
    if (fresh) {
      ix.unique.push_back(&e);
    } else {
      ix.unique[it->second] = &e;
    }
  }
  return ix;
}

// Puts back the calls and results of parallel tool use that the parentUuid walk left out. The CLI
// writes one assistant entry per content block, chained, all with the response's message id;
// each tool result hangs off its own call's entry, so the transcript forks and the walk keeps
// only the branch the next turn continued from. For each response on the chain, its entries and
// their results that the walk missed go right after the response's last entry on the chain.
std::vector<const Entry *> recover_parallel_tools(const Index &ix, std::vector<const Entry *> chain,
                                                  std::unordered_set<std::string_view> &seen)
{
  std::vector<const Entry *> chain_assistants;
  std::unordered_map<std::string_view, const Entry *> anchor;  // response id -> its last entry on the chain
  for (const Entry *e : chain) {
    if (e->type != "assistant") continue;
    chain_assistants.push_back(e);
    if (auto id = response_id(*e); !id.empty()) anchor[id] = e;
  }
  if (anchor.empty()) return chain;

  // Every response's entries, and who made each call: a call id claimed by two responses is
  // ambiguous (nullptr) and places nothing.
  std::unordered_map<std::string_view, std::vector<const Entry *>> siblings;
  std::unordered_map<std::string_view, const Entry *> call_owner;
  std::vector<const Entry *> results;
  for (const Entry *e : ix.unique) {
    auto id = response_id(*e);
    if (!id.empty()) {
      siblings[id].push_back(e);
      for (auto call : block_ids(*e, "tool_use", "id")) {
        auto [it, fresh] = call_owner.emplace(call, e);
        if (fresh) continue;
        bool same_response = it->second && response_id(*it->second) == id;
        it->second = same_response ? e : nullptr;
      }
    } else if (is_tool_result(*e)) {
      results.push_back(e);
    }
  }

  // Each result under the entries it may belong to: its parent, and (when written by the same
  // agent) its sourceToolAssistantUUID and the owners of the calls it answers.
  std::unordered_map<std::string_view, std::vector<const Entry *>> results_of;
  for (const Entry *r : results) {
    results_of[r->parent].push_back(r);
    std::string_view source = get_string(r->json(), "sourceToolAssistantUUID");
    const JsonValue *src_v = member(r->json(), "sourceToolAssistantUUID");
    if (src_v && src_v->IsString()) {
      const Entry *src = ix.find(source);
      if (src && same_writer(*r, *src)) results_of[source].push_back(r);
    }
    for (auto call : block_ids(*r, "tool_result", "tool_use_id")) {
      auto it = call_owner.find(call);
      if (it != call_owner.end() && it->second && same_writer(*r, *it->second)) results_of[it->second->uuid].push_back(r);
    }
  }

  std::optional<std::unordered_set<std::string_view>> answered_on_chain;  // built for strays only
  std::unordered_set<std::string_view> processed;
  std::unordered_map<std::string_view, std::vector<const Entry *>> inserts;  // anchor uuid -> entries
  for (const Entry *assistant : chain_assistants) {
    auto id = response_id(*assistant);
    if (id.empty() || !processed.insert(id).second) continue;
    const auto &group = siblings.count(id) ? siblings[id] : std::vector<const Entry *>{assistant};
    std::unordered_set<std::string_view> members;
    for (const Entry *m : group) members.insert(m->uuid);
    std::vector<const Entry *> lost_siblings, lost_results, strays;
    for (const Entry *m : group) {
      if (!seen.count(m->uuid)) lost_siblings.push_back(m);
    }
    std::unordered_set<std::string_view> collected;
    for (const Entry *m : group) {
      auto it = results_of.find(m->uuid);
      if (it == results_of.end()) continue;
      for (const Entry *r : it->second) {
        if (seen.count(r->uuid) || !collected.insert(r->uuid).second) continue;
        (members.count(r->parent) ? lost_results : strays).push_back(r);
      }
    }
    // A result whose parent is outside the response is taken only if it answers one of the
    // response's calls that nothing has answered yet.
    if (!strays.empty()) {
      if (!answered_on_chain) {
        answered_on_chain.emplace();
        for (const Entry *e : chain) {
          for (auto call : block_ids(*e, "tool_result", "tool_use_id")) answered_on_chain->insert(call);
        }
      }
      auto answered = *answered_on_chain;
      for (const Entry *r : lost_results) {
        for (auto call : block_ids(*r, "tool_result", "tool_use_id")) answered.insert(call);
      }
      std::stable_sort(strays.begin(), strays.end(), [&](const Entry *a, const Entry *b) {
        return ix.position.at(a->uuid) < ix.position.at(b->uuid);
      });
      for (const Entry *r : strays) {
        auto calls = block_ids(*r, "tool_result", "tool_use_id");
        bool answers_open_call = std::any_of(calls.begin(), calls.end(), [&](std::string_view call) {
          auto owner = call_owner.find(call);
          return !answered.count(call) && owner != call_owner.end() && owner->second && members.count(owner->second->uuid);
        });
        if (!answers_open_call) continue;
        answered.insert(calls.begin(), calls.end());
        lost_results.push_back(r);
      }
    }
    if (lost_siblings.empty() && lost_results.empty()) continue;
    // Timestamp order keeps block and completion order; ties keep file (or call) order.
    auto by_time = [](const Entry *a, const Entry *b) { return timestamp_of(*a) < timestamp_of(*b); };
    std::stable_sort(lost_siblings.begin(), lost_siblings.end(), by_time);
    std::stable_sort(lost_results.begin(), lost_results.end(), by_time);
    auto &slot = inserts[anchor[id]->uuid];
    for (const auto *list : {&lost_siblings, &lost_results}) {
      for (const Entry *e : *list) {
        seen.insert(e->uuid);
        slot.push_back(e);
      }
    }
  }
  if (inserts.empty()) return chain;
  std::vector<const Entry *> out;
  for (const Entry *e : chain) {
    out.push_back(e);
    auto it = inserts.find(e->uuid);
    if (it != inserts.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

// Follows parentUuid links from `leaf` to the root; returns root first. `seen` gets every uuid.
std::vector<const Entry *> walk_to_root(const Index &ix, const Entry *leaf, std::unordered_set<std::string_view> &seen)
{
  std::vector<const Entry *> chain;
  for (const Entry *cur = leaf; cur && seen.insert(cur->uuid).second;) {
    chain.push_back(cur);
    cur = cur->parent.empty() ? nullptr : ix.find(cur->parent);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

std::vector<const Entry *> conversation_chain(const std::vector<Entry> &entries)
{
  if (entries.empty()) return {};
  Index ix = index_entries(entries);
  std::unordered_set<std::string_view> parents;
  for (const Entry &e : entries) {
    if (!e.parent.empty()) parents.insert(e.parent);
  }
  // From each terminal entry (nothing points at it), back to its nearest user or assistant entry.
  std::vector<const Entry *> leaves;
  for (const Entry &terminal : entries) {
    if (parents.count(terminal.uuid)) continue;
    std::unordered_set<std::string_view> walked;
    for (const Entry *cur = &terminal; cur && walked.insert(cur->uuid).second;) {
      if (cur->type == "user" || cur->type == "assistant") {
        leaves.push_back(cur);
        break;
      }
      cur = cur->parent.empty() ? nullptr : ix.find(cur->parent);
    }
  }
  if (leaves.empty()) return {};
  // The latest leaf in the file, preferring the main conversation's (not sidechain, team or meta).
  std::unordered_map<std::string_view, std::size_t> last_position;
  for (std::size_t i = 0; i < entries.size(); ++i) last_position[entries[i].uuid] = i;
  auto pick = [&](bool main_only) -> const Entry * {
    const Entry *best = nullptr;
    for (const Entry *leaf : leaves) {
      const JsonValue &j = leaf->json();
      if (main_only && (truthy(j, "isSidechain") || truthy(j, "teamName") || truthy(j, "isMeta"))) continue;
      if (!best || last_position[leaf->uuid] > last_position[best->uuid]) best = leaf;
    }
    return best;
  };
  const Entry *leaf = pick(true);
  if (!leaf) leaf = pick(false);
  std::unordered_set<std::string_view> seen;
  auto chain = walk_to_root(ix, leaf, seen);
  return recover_parallel_tools(ix, std::move(chain), seen);
}

SessionMessage to_message(const Entry &e, const std::optional<std::string> &parent_tool_use_id,
                          const std::optional<std::string> &parent_agent_id)
{
  SessionMessage m;
  m.type = e.type == "user" ? "user" : "assistant";
  m.uuid = std::string(e.uuid);
  m.session_id = std::string(get_string(e.json(), "sessionId"));
  if (const JsonValue *msg = member(e.json(), "message")) m.message = Access<JsonView>::view(e.doc, msg);
  m.parent_tool_use_id = parent_tool_use_id;
  m.parent_agent_id = parent_agent_id;
  return m;
}

template <class T> std::vector<T> page(std::vector<T> items, std::optional<std::size_t> limit, std::size_t offset)
{
  std::size_t begin = std::min(offset, items.size());
  std::size_t end = limit && *limit > 0 ? std::min(items.size(), begin + *limit) : items.size();
  return {std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(begin)),
          std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(end))};
}

// ---- subagents -------------------------------------------------------------------------------

// (agent id, path) of every agent-<id>.jsonl under `dir`, depth first in name order.
void collect_agent_files(const std::string &dir, std::vector<std::pair<std::string, std::string>> &out, int depth = 0)
{
  if (depth > 32) return;  // a symlink loop, not a layout the CLI writes
  for (const std::string &name : list_dir(dir, false)) {
    std::string path = join_path(dir, name);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode) && name.size() > 12 && name.compare(0, 6, "agent-") == 0 &&
        name.compare(name.size() - 6, 6, ".jsonl") == 0) {
      out.emplace_back(name.substr(6, name.size() - 12), path);
    } else if (S_ISDIR(st.st_mode)) {
      collect_agent_files(path, out, depth + 1);
    }
  }
}

std::vector<std::pair<std::string, std::string>> agent_files(std::string_view session_id, std::string_view directory)
{
  std::vector<std::pair<std::string, std::string>> out;
  if (!is_session_uuid(session_id)) return out;
  auto found = find_session_file(session_id, directory);
  if (!found) return out;
  collect_agent_files(found->file.substr(0, found->file.size() - 6) + "/subagents", out);
  return out;
}

// The Agent tool_use that spawned a subagent and its parent agent, from the
// agent-<id>.meta.json beside its transcript; none when that is missing or unusable.
std::pair<std::optional<std::string>, std::optional<std::string>> spawned_by(const std::string &transcript)
{
  std::pair<std::optional<std::string>, std::optional<std::string>> ids;
  std::string sidecar = transcript.substr(0, transcript.size() - 6);
  sidecar += ".meta.json";
  std::optional<std::string> meta = read_file(sidecar);
  if (!meta) return ids;
  std::string_view text = *meta;
  JsonDocument doc;
  if (!valid_utf8(text.data(), text.size()) || parse_exact(doc, text).IsError() || !doc.IsObject()) return ids;
  auto string_member = [&doc](const char *key) -> std::optional<std::string> {
    const JsonValue *v = member(doc, key);
    if (!v || !v->IsString()) return std::nullopt;
    return std::string(v->GetString(), v->GetStringLength());
  };
  ids.first = string_member("toolUseId");
  ids.second = string_member("parentAgentId");
  return ids;
}

}  // namespace
}  // namespace ccbridge::detail::history

CCB_BEGIN_NAMESPACE

using namespace detail;
using namespace detail::history;

std::optional<std::string> session_transcript_path(std::string_view session_id, std::string_view directory)
{
  if (!is_session_uuid(session_id)) return std::nullopt;
  auto found = find_session_file(session_id, directory);
  if (!found) return std::nullopt;
  return std::move(found->file);
}

std::vector<SessionInfo> list_sessions(const ListSessionsOptions &options)
{
  if (!options.directory.empty()) return list_project(options);
  std::vector<SessionInfo> all;
  std::string projects = claude_projects_dir();
  for (const std::string &name : list_dir(projects, true)) {
    auto found = read_project_sessions(join_path(projects, name), {});
    all.insert(all.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
  }
  return sort_and_page(dedupe(std::move(all)), options);
}

std::optional<SessionInfo> get_session_info(std::string_view session_id, std::string_view directory)
{
  if (!is_session_uuid(session_id)) return std::nullopt;
  std::optional<SessionInfo> info;
  visit_candidates(session_id, directory, [&](const Candidate &c) {
    auto lite = read_lite(c.file);
    if (!lite) return false;
    info = parse_info(session_id, *lite, c.project_path);
    return true;
  });
  return info;
}

std::vector<SessionMessage> get_session_messages(std::string_view session_id, std::string_view directory,
                                                 std::optional<std::size_t> limit, std::size_t offset)
{
  if (!is_session_uuid(session_id)) return {};
  std::optional<std::string> content;
  visit_candidates(session_id, directory, [&](const Candidate &c) {
    content = read_file(c.file);
    return content && !content->empty();
  });
  if (!content || content->empty()) return {};
  return session_messages_from_text(*content, limit, offset);
}

std::vector<std::string> list_subagents(std::string_view session_id, std::string_view directory)
{
  std::vector<std::string> ids;
  for (auto &[id, path] : agent_files(session_id, directory)) ids.push_back(std::move(id));
  return ids;
}

std::vector<SessionMessage> get_subagent_messages(std::string_view session_id, std::string_view agent_id,
                                                  std::string_view directory, std::optional<std::size_t> limit,
                                                  std::size_t offset)
{
  if (agent_id.empty()) return {};
  std::string path;
  for (auto &[id, p] : agent_files(session_id, directory)) {
    if (id == agent_id) {
      path = std::move(p);
      break;
    }
  }
  if (path.empty()) return {};
  auto content = read_file(path);
  if (!content || content->empty()) return {};
  auto [tool_use_id, parent_agent_id] = spawned_by(path);
  return subagent_messages_from_text(*content, tool_use_id, parent_agent_id, limit, offset);
}

std::optional<SessionInfo> session_info_from_text(std::string_view session_id, std::string_view text,
                                                  std::int64_t last_modified, std::string_view project_path)
{
  auto lite = lite_of_text(text, last_modified);
  if (!lite) return std::nullopt;
  return parse_info(session_id, *lite, std::string(project_path));
}

std::vector<SessionMessage> session_messages_from_text(std::string_view text, std::optional<std::size_t> limit,
                                                       std::size_t offset)
{
  std::vector<Entry> entries = parse_chain_entries(text);
  std::vector<SessionMessage> out;
  for (const Entry *e : conversation_chain(entries)) {
    if (e->type != "user" && e->type != "assistant") continue;
    const JsonValue &j = e->json();
    if (truthy(j, "isMeta") || truthy(j, "isSidechain") || truthy(j, "teamName")) continue;
    out.push_back(to_message(*e, std::nullopt, std::nullopt));
  }
  return page(std::move(out), limit, offset);
}

std::vector<SessionMessage> subagent_messages_from_text(std::string_view text,
                                                        const std::optional<std::string> &parent_tool_use_id,
                                                        const std::optional<std::string> &parent_agent_id,
                                                        std::optional<std::size_t> limit, std::size_t offset)
{
  std::vector<Entry> entries = parse_chain_entries(text);
  // A subagent's transcript is linear: its chain runs back from the last message.
  const Entry *leaf = nullptr;
  for (auto it = entries.rbegin(); it != entries.rend() && !leaf; ++it) {
    if (it->type == "user" || it->type == "assistant") leaf = &*it;
  }
  std::vector<SessionMessage> out;
  if (leaf) {
    Index ix = index_entries(entries);
    std::unordered_set<std::string_view> seen;
    for (const Entry *e : walk_to_root(ix, leaf, seen)) {
      if (e->type == "user" || e->type == "assistant") {
        out.push_back(to_message(*e, parent_tool_use_id, parent_agent_id));
      }
    }
  }
  return page(std::move(out), limit, offset);
}

CCB_END_NAMESPACE
