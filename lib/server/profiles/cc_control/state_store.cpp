#include "server/profiles/cc_control/state_store.hpp"

#include "server/context.hpp"
#include "server/sqlite.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <algorithm>
#include <functional>

namespace ccbridge::detail::server::cc_control {

namespace {

// String lists are JSON arrays; optional exit codes are NULL; flags are 0/1; u64 seqs are stored
// as SQLite's signed 64-bit integers (bit for bit).
constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS cc_servers (
  tenant_id TEXT NOT NULL, server_id TEXT NOT NULL, hostname TEXT NOT NULL, tags TEXT NOT NULL,
  os TEXT NOT NULL, arch TEXT NOT NULL, agent_version TEXT NOT NULL, last_seen_ms INTEGER NOT NULL,
  status TEXT NOT NULL, allow_roots TEXT NOT NULL, claude_path TEXT NOT NULL,
  PRIMARY KEY (tenant_id, server_id));
CREATE TABLE IF NOT EXISTS cc_sessions (
  session_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, server_id TEXT NOT NULL, cwd TEXT NOT NULL,
  cmd TEXT NOT NULL, resume_id TEXT NOT NULL, env_keys TEXT NOT NULL, status TEXT NOT NULL,
  created_by TEXT NOT NULL, created_at_ms INTEGER NOT NULL, exit_code INTEGER, exit_reason TEXT NOT NULL,
  awaiting_approval INTEGER NOT NULL, pending_event_id TEXT NOT NULL, latest_agent_out_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cc_events (
  event_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, server_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL, prompt_excerpt TEXT NOT NULL, actor TEXT NOT NULL, ts_ms INTEGER NOT NULL,
  resolved INTEGER NOT NULL, source TEXT NOT NULL, tool_name TEXT NOT NULL, tool_input TEXT NOT NULL,
  decision TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_cc_events_session ON cc_events(session_id);
CREATE TABLE IF NOT EXISTS cc_ring_tails (
  session_id TEXT PRIMARY KEY, latest_seq INTEGER NOT NULL, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cc_ring_marks (
  session_id TEXT PRIMARY KEY, first_cut INTEGER NOT NULL, marks BLOB NOT NULL);
)";

// A tail's chunk marks as 13 bytes each: seq (8, little-endian), size (4), note (1).
std::string encode_marks(const std::vector<TermRing::Mark> &marks)
{
  std::string out;
  out.reserve(marks.size() * 13);
  for (const auto &m : marks) {
    for (int i = 0; i < 8; ++i) out += static_cast<char>((m.seq >> (8 * i)) & 0xff);
    for (int i = 0; i < 4; ++i) out += static_cast<char>((m.size >> (8 * i)) & 0xff);
    out += static_cast<char>(m.note ? 1 : 0);
  }
  return out;
}

std::vector<TermRing::Mark> decode_marks(const std::string &b)
{
  std::vector<TermRing::Mark> out;
  for (std::size_t at = 0; at + 13 <= b.size(); at += 13) {
    TermRing::Mark m;
    for (int i = 0; i < 8; ++i) m.seq |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
    for (int i = 0; i < 4; ++i) m.size |= static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 8 + i])) << (8 * i);
    m.note = b[at + 12] != 0;
    out.push_back(m);
  }
  return out;
}

// The tail cut to its last `keep` bytes, and its marks with it.
void keep_last(RingTail &t, std::size_t keep)
{
  if (t.bytes.size() <= keep) return;
  std::size_t cut = t.bytes.size() - keep;
  t.bytes.erase(0, cut);
  while (!t.marks.empty() && cut >= t.marks.front().size) {
    cut -= t.marks.front().size;
    t.marks.erase(t.marks.begin());
    t.first_cut = false;
  }
  if (cut > 0 && !t.marks.empty()) {
    t.marks.front().size -= static_cast<std::uint32_t>(cut);
    t.first_cut = true;
  }
}

constexpr char kServerColumns[] = "tenant_id, server_id, hostname, tags, os, arch, agent_version, last_seen_ms, "
                                  "status, allow_roots, claude_path";
constexpr char kSessionColumns[] = "session_id, tenant_id, server_id, cwd, cmd, resume_id, env_keys, status, "
                                   "created_by, created_at_ms, exit_code, exit_reason, awaiting_approval, "
                                   "pending_event_id, latest_agent_out_seq";
constexpr char kEventColumns[] = "event_id, session_id, server_id, tenant_id, kind, prompt_excerpt, actor, ts_ms, "
                                 "resolved, source, tool_name, tool_input, decision";

std::string upsert_sql(const char *table, const char *columns, int count)
{
  std::string marks = "?";
  for (int i = 1; i < count; ++i) marks += ", ?";
  return std::string("INSERT OR REPLACE INTO ") + table + "(" + columns + ") VALUES(" + marks + ")";
}

std::string list_json(const std::vector<std::string> &items)
{
  std::string out = "[";
  for (const auto &s : items) out += (out.size() > 1 ? "," : "") + json_str(s);
  return out + "]";
}

// (A damaged value reads as an empty list rather than keeping the server from starting.)
std::vector<std::string> list_from(const std::string &text)
{
  std::vector<std::string> out;
  try {
    JsonView v = parse_json(text);
    for (std::size_t i = 0; v.is_array() && i < v.size(); ++i) out.emplace_back(v[i].string_or());
  } catch (const Error &) {
  }
  return out;
}

std::int64_t flag(bool b) { return b ? 1 : 0; }

void bind(Statement &q, const ServerRecord &s)
{
  q.bind(1, s.tenant_id).bind(2, s.server_id).bind(3, s.hostname).bind(4, list_json(s.tags)).bind(5, s.os);
  q.bind(6, s.arch).bind(7, s.agent_version).bind(8, s.last_seen_ms).bind(9, s.status);
  q.bind(10, list_json(s.allow_roots)).bind(11, s.claude_path);
}

ServerRecord read_server(const Statement &q)
{
  ServerRecord s;
  s.tenant_id = q.text(0);
  s.server_id = q.text(1);
  s.hostname = q.text(2);
  s.tags = list_from(q.text(3));
  s.os = q.text(4);
  s.arch = q.text(5);
  s.agent_version = q.text(6);
  s.last_seen_ms = q.int64(7);
  s.status = q.text(8);
  s.allow_roots = list_from(q.text(9));
  s.claude_path = q.text(10);
  return s;
}

void bind(Statement &q, const SessionRecord &s)
{
  q.bind(1, s.session_id).bind(2, s.tenant_id).bind(3, s.server_id).bind(4, s.cwd).bind(5, list_json(s.cmd));
  q.bind(6, s.resume_id).bind(7, list_json(s.env_keys)).bind(8, s.status).bind(9, s.created_by);
  q.bind(10, s.created_at_ms);
  if (s.exit_code)
    q.bind(11, std::int64_t{*s.exit_code});
  else
    q.bind_null(11);
  q.bind(12, s.exit_reason).bind(13, flag(s.awaiting_approval)).bind(14, s.pending_event_id);
  q.bind(15, static_cast<std::int64_t>(s.latest_agent_out_seq));
}

SessionRecord read_session(const Statement &q)
{
  SessionRecord s;
  s.session_id = q.text(0);
  s.tenant_id = q.text(1);
  s.server_id = q.text(2);
  s.cwd = q.text(3);
  s.cmd = list_from(q.text(4));
  s.resume_id = q.text(5);
  s.env_keys = list_from(q.text(6));
  s.status = q.text(7);
  s.created_by = q.text(8);
  s.created_at_ms = q.int64(9);
  if (!q.is_null(10)) s.exit_code = static_cast<int>(q.int64(10));
  s.exit_reason = q.text(11);
  s.awaiting_approval = q.int64(12) != 0;
  s.pending_event_id = q.text(13);
  s.latest_agent_out_seq = static_cast<std::uint64_t>(q.int64(14));
  return s;
}

void bind(Statement &q, const EventRecord &e)
{
  q.bind(1, e.event_id).bind(2, e.session_id).bind(3, e.server_id).bind(4, e.tenant_id).bind(5, e.kind);
  q.bind(6, e.prompt_excerpt).bind(7, e.actor).bind(8, e.ts_ms).bind(9, flag(e.resolved)).bind(10, e.source);
  q.bind(11, e.tool_name).bind(12, e.tool_input).bind(13, e.decision);
}

EventRecord read_event(const Statement &q)
{
  EventRecord e;
  e.event_id = q.text(0);
  e.session_id = q.text(1);
  e.server_id = q.text(2);
  e.tenant_id = q.text(3);
  e.kind = q.text(4);
  e.prompt_excerpt = q.text(5);
  e.actor = q.text(6);
  e.ts_ms = q.int64(7);
  e.resolved = q.int64(8) != 0;
  e.source = q.text(9);
  e.tool_name = q.text(10);
  e.tool_input = q.text(11);
  e.decision = q.text(12);
  return e;
}

// Every row of `sql`, read by `read`.
template <class T, class Read> std::vector<T> rows(Db &db, const std::string &sql, Read read)
{
  std::vector<T> out;
  Statement q(db, sql);
  while (q.step()) out.push_back(read(q));
  return out;
}

// Upserts the present records and deletes the removed ones by their key columns.
template <class T>
std::size_t write_pending(Db &db, const std::map<std::string, std::optional<T>> &pending, const std::string &upsert,
                          const std::string &remove, const std::function<void(Statement &, const std::string &)> &key)
{
  Statement up(db, upsert), del(db, remove);
  for (const auto &[id, record] : pending) {
    if (record) {
      bind(up, *record);
      up.run();
    } else {
      key(del, id);
      del.run();
    }
  }
  return pending.size();
}

// The server map's key: tenant and server id, which may hold any byte but NUL.
std::string server_key(const std::string &tenant_id, const std::string &server_id)
{
  return tenant_id + '\0' + server_id;
}

}  // namespace

StateStore::StateStore(const std::string &db_path, std::size_t tail_bytes)
    : db_(std::make_unique<Db>(db_path)), tail_bytes_(tail_bytes)
{
  db_->exec(kSchema);
}

StateStore::~StateStore() = default;

const std::string &StateStore::db_path() const { return db_->path(); }

SavedState StateStore::load()
{
  SavedState out;
  out.servers = rows<ServerRecord>(
      *db_, std::string("SELECT ") + kServerColumns + " FROM cc_servers ORDER BY tenant_id, server_id", read_server);
  out.sessions = rows<SessionRecord>(
      *db_, std::string("SELECT ") + kSessionColumns + " FROM cc_sessions ORDER BY created_at_ms, session_id",
      read_session);
  out.events = rows<EventRecord>(
      *db_, std::string("SELECT ") + kEventColumns + " FROM cc_events ORDER BY ts_ms, event_id", read_event);
  Statement q(*db_, "SELECT session_id, latest_seq, bytes FROM cc_ring_tails");
  while (q.step()) out.tails[q.text(0)] = RingTail{static_cast<std::uint64_t>(q.int64(1)), q.blob(2), {}, false};
  Statement m(*db_, "SELECT session_id, first_cut, marks FROM cc_ring_marks");
  while (m.step())
    if (auto t = out.tails.find(m.text(0)); t != out.tails.end()) {
      t->second.first_cut = m.int64(1) != 0;
      t->second.marks = decode_marks(m.blob(2));
    }
  for (auto &s : out.sessions) {
    auto tail = out.tails.find(s.session_id);
    if (tail != out.tails.end()) s.latest_agent_out_seq = std::max(s.latest_agent_out_seq, tail->second.latest_seq);
  }
  return out;
}

void StateStore::save(const ServerRecord &server) { servers_[server_key(server.tenant_id, server.server_id)] = server; }

void StateStore::remove_server(const std::string &tenant_id, const std::string &server_id)
{
  servers_[server_key(tenant_id, server_id)] = std::nullopt;
}

void StateStore::save(const SessionRecord &session) { sessions_[session.session_id] = session; }

void StateStore::remove_session(const std::string &session_id)
{
  sessions_[session_id] = std::nullopt;
  removed_sessions_.insert(session_id);
  tail_copies_.erase(session_id);
  dirty_tails_.erase(session_id);
}

void StateStore::save(const EventRecord &event) { events_[event.event_id] = event; }

void StateStore::remove_event(const std::string &event_id) { events_[event_id] = std::nullopt; }

void StateStore::mark_ring_dirty(const std::string &session_id)
{
  if (!tail_copies_.count(session_id) && dirty_tails_.insert(session_id).second) dirty_order_.push_back(session_id);
}

void StateStore::save_ring_tail(const std::string &session_id, std::uint64_t latest_seq, std::string_view bytes)
{
  if (bytes.size() > tail_bytes_) bytes.remove_prefix(bytes.size() - tail_bytes_);
  tail_copies_[session_id] = RingTail{latest_seq, std::string(bytes), {}, false};
  dirty_tails_.erase(session_id);
}

bool StateStore::dirty() const
{
  return !servers_.empty() || !sessions_.empty() || !events_.empty() || !tail_copies_.empty() ||
         !dirty_tails_.empty() || !removed_sessions_.empty();
}

std::size_t StateStore::flush(const TailSource &tails, std::size_t max_tails)
{
  if (!dirty()) return 0;
  Transaction tx(*db_);
  std::size_t taken = 0;
  std::size_t n = write_records() + write_tails(tails, max_tails, taken) + write_removals();
  tx.commit();
  // Only now, with the transaction committed, is the pending state dropped.
  servers_.clear();
  sessions_.clear();
  events_.clear();
  tail_copies_.clear();
  for (; taken > 0; --taken) {
    dirty_tails_.erase(dirty_order_.front());
    dirty_order_.pop_front();
  }
  removed_sessions_.clear();
  return n;
}

std::size_t StateStore::write_records()
{
  auto by_id = [](Statement &q, const std::string &id) { q.bind(1, id); };
  auto by_server = [](Statement &q, const std::string &key) {
    auto nul = key.find('\0');
    q.bind(1, std::string_view(key).substr(0, nul)).bind(2, std::string_view(key).substr(nul + 1));
  };
  return write_pending(*db_, servers_, upsert_sql("cc_servers", kServerColumns, 11),
                       "DELETE FROM cc_servers WHERE tenant_id=? AND server_id=?", by_server) +
         write_pending(*db_, sessions_, upsert_sql("cc_sessions", kSessionColumns, 15),
                       "DELETE FROM cc_sessions WHERE session_id=?", by_id) +
         write_pending(*db_, events_, upsert_sql("cc_events", kEventColumns, 13),
                       "DELETE FROM cc_events WHERE event_id=?", by_id);
}

std::size_t StateStore::write_tails(const TailSource &source, std::size_t max_tails, std::size_t &taken)
{
  Statement q(*db_, "INSERT OR REPLACE INTO cc_ring_tails(session_id, latest_seq, bytes) VALUES(?, ?, ?)");
  Statement qm(*db_, "INSERT OR REPLACE INTO cc_ring_marks(session_id, first_cut, marks) VALUES(?, ?, ?)");
  std::size_t n = 0;
  auto put = [&](const std::string &id, RingTail t) {
    keep_last(t, tail_bytes_);
    q.bind(1, id).bind(2, static_cast<std::int64_t>(t.latest_seq)).bind_blob(3, t.bytes);
    q.run();
    qm.bind(1, id).bind(2, t.first_cut ? 1 : 0).bind_blob(3, encode_marks(t.marks));
    qm.run();
    ++n;
  };
  for (const auto &[id, tail] : tail_copies_) put(id, tail);
  std::size_t tails = 0;
  for (; source && taken < dirty_order_.size() && tails < max_tails; ++taken) {
    const std::string &id = dirty_order_[taken];
    if (!dirty_tails_.count(id)) continue;  // written or dropped since it was marked
    ++tails;
    if (auto tail = source(id)) put(id, *tail);
  }
  return n;
}

// A removed session takes its events and its tail along (after this flush's upserts, so an event
// saved for it in the same batch goes too).
std::size_t StateStore::write_removals()
{
  Statement events(*db_, "DELETE FROM cc_events WHERE session_id=?");
  Statement tail(*db_, "DELETE FROM cc_ring_tails WHERE session_id=?");
  Statement marks(*db_, "DELETE FROM cc_ring_marks WHERE session_id=?");
  for (const auto &id : removed_sessions_) {
    events.bind(1, id).run();
    tail.bind(1, id).run();
    marks.bind(1, id).run();
  }
  return removed_sessions_.size();
}

}  // namespace ccbridge::detail::server::cc_control
