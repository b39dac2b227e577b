// cc-control: what survives a restart (issue 14 item 5): servers, sessions, approval events and
// the tail of each session's output ring, in SQLite (tables cc_servers, cc_sessions, cc_events,
// cc_ring_tails with cc_ring_marks; they may share the token store's file, but a file of its own is the default, see
// docs/ARCHITECTURE.md). Nothing here touches the disk until flush(): save and remove only record
// the latest wanted state of a row (repeated saves of one record coalesce), and mark_ring_dirty
// costs a set insert, so the output path can call it for every chunk. The caller flushes on
// a timer (a few hundred ms), after changes it wants durable at once, and at shutdown; one flush
// is one transaction, so a crash loses at most the changes since the last flush, never half of one.
//
// Thread safety: none; use one StateStore from one thread (the server thread). Another
// connection (the token store) may use the same file.
#pragma once

#include "server/profiles/cc_control/model.hpp"
#include "server/profiles/cc_control/term_ring.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ccbridge::detail::server {
class Db;
}

namespace ccbridge::detail::server::cc_control {

/// The newest part of a session's output: after a restart, what attach can still replay.
struct RingTail {
  std::uint64_t latest_seq = 0;  ///< seq of the last chunk in `bytes`
  std::string bytes;             ///< the last up-to-tail_bytes bytes of output, oldest first
  /// The chunks `bytes` is made of (TermRing::marks); empty in rows saved without them.
  std::vector<TermRing::Mark> marks;
  bool first_cut = false;  ///< bytes start inside the first mark's chunk
};

struct SavedState {
  std::vector<ServerRecord> servers;    ///< by tenant_id, then server_id
  std::vector<SessionRecord> sessions;  ///< oldest first; latest_agent_out_seq >= its tail's
  std::vector<EventRecord> events;      ///< oldest first
  std::map<std::string, RingTail> tails;  ///< by session_id
};

class StateStore {
public:
  /// The tail of a session's ring at flush time; nullopt if the session has none any more.
  using TailSource = std::function<std::optional<RingTail>(const std::string &session_id)>;

  /// Opens (creates) the SQLite file and the tables. Tails are cut to their last `tail_bytes`
  /// bytes when written. Throws Error(io_error).
  explicit StateStore(const std::string &db_path, std::size_t tail_bytes = 128 * 1024);
  ~StateStore();
  StateStore(const StateStore &) = delete;
  StateStore &operator=(const StateStore &) = delete;

  /// Everything flushed so far (pending changes are not included). Throws Error(io_error).
  SavedState load();

  void save(const ServerRecord &server);  ///< keyed by (tenant_id, server_id)
  void remove_server(const std::string &tenant_id, const std::string &server_id);
  void save(const SessionRecord &session);
  /// The session, its events and its ring tail.
  void remove_session(const std::string &session_id);
  void save(const EventRecord &event);
  void remove_event(const std::string &event_id);
  /// The session's output changed: at the next flush its tail is read from the TailSource.
  void mark_ring_dirty(const std::string &session_id);
  /// A copy of the tail to write at the next flush (for a caller without a TailSource, or a
  /// final tail after exit); replaces an earlier copy and the dirty mark.
  void save_ring_tail(const std::string &session_id, std::uint64_t latest_seq, std::string_view bytes);

  /// Changes waiting for flush().
  bool dirty() const;
  /// Writes every pending change in one transaction and returns how many rows it wrote or
  /// removed. Dirty tails are read from `tails`, at most `max_tails` of them, the longest dirty
  /// first (the rest stay pending: a caller spreads a thousand busy sessions over several short
  /// flushes rather than one long one); without a source they stay pending. On failure nothing is
  /// written, everything stays pending, and Error(io_error) is thrown.
  std::size_t flush(const TailSource &tails = {}, std::size_t max_tails = SIZE_MAX);
  /// Sessions whose tail waits for a flush from the TailSource.
  std::size_t dirty_tail_count() const { return dirty_tails_.size(); }

  std::size_t tail_bytes() const { return tail_bytes_; }
  const std::string &db_path() const;

private:
  template <class T> using Pending = std::map<std::string, std::optional<T>>;  // nullopt: remove
  std::size_t write_records();
  /// Returns rows written; `taken` is how many entries of dirty_order_ it used.
  std::size_t write_tails(const TailSource &source, std::size_t max_tails, std::size_t &taken);
  std::size_t write_removals();

  std::unique_ptr<Db> db_;
  std::size_t tail_bytes_;
  Pending<ServerRecord> servers_;
  Pending<SessionRecord> sessions_;
  Pending<EventRecord> events_;
  std::map<std::string, RingTail> tail_copies_;
  std::unordered_set<std::string> dirty_tails_;
  std::deque<std::string> dirty_order_;  ///< dirty_tails_ in the order marked (may hold stale ids)
  std::unordered_set<std::string> removed_sessions_;
};

}  // namespace ccbridge::detail::server::cc_control
