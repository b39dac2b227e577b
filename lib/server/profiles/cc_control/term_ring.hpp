// cc-control (seed 004): a session's recent terminal output, kept as the agent's numbered chunks so
// an attach with since_seq can be answered exactly (CC-CONTROL.md 8 item 1: the original replays
// the whole ring whatever since_seq says). A plain single-threaded object, used on the session's
// strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::server::cc_control {

class TermRing {
public:
  /// One held entry. An agent chunk has its own seq; a note (see append_note) carries the seq of the
  /// chunk it follows and note = true.
  struct Chunk {
    std::uint64_t seq = 0;
    std::string data;
    bool note = false;
  };

  /// What since() and snapshot() return.
  struct Replay {
    /// false: `chunks` are exactly the entries after the client's since_seq, in order, and apply on
    /// top of what it has. true: the ring no longer holds everything after since_seq (or since_seq
    /// is ahead of the ring), so `chunks` are all the bytes held, to be shown as a fresh screen.
    bool snapshot = false;
    /// The agent seqs the bytes come from: first_seq..last_seq (0..0 when empty). In a snapshot,
    /// first_truncated says first_seq's chunk is only its tail (cut to keep the ring at its cap).
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    bool first_truncated = false;
    std::vector<Chunk> chunks;

    std::size_t bytes() const;
    /// The chunks' bytes in order.
    std::string joined() const;
  };

  /// A ring of at most cap_bytes bytes of output (at least 1).
  explicit TermRing(std::size_t cap_bytes);

  /// Appends agent chunk `seq`. Seqs must increase: a seq of 0 or not above latest_seq() (an
  /// unnumbered or repeated frame the caller chose to keep) is held as a note would be. The ring
  /// holds the last cap bytes: oldest entries are evicted, and the oldest one left is cut to its
  /// tail (first_truncated); a chunk bigger than the cap replaces everything with its last cap
  /// bytes.
  void append(std::uint64_t seq, std::string_view bytes);
  /// Appends text that is not agent output (the original's "[agent error] ..." line). It repeats
  /// latest_seq(), as the original's term_out does. since(s) returns it when its seq is > s, like
  /// the chunk it follows: a client at latest_seq() when the note was added is taken to have seen
  /// it live (a note is delivered at most once by replay; agent bytes exactly once). since(0) on a
  /// ring that evicted nothing returns every entry, notes before the first chunk included.
  void append_note(std::string_view text);

  /// The last `n` bytes held (all of them when fewer), in one string: what is saved for a
  /// restart. Costs the bytes returned, not the ring's size.
  std::string tail(std::size_t n) const;
  /// Where the chunks of tail(n) begin: their seqs and sizes, oldest first (the first one cut
  /// when tail(n) starts inside it), so that a restored ring answers since_seq exactly.
  struct Mark {
    std::uint64_t seq = 0;
    std::uint32_t size = 0;
    bool note = false;
  };
  std::vector<Mark> marks(std::size_t n, bool &first_cut) const;
  /// An empty ring refilled from a saved tail. With marks that add up to the bytes the chunks
  /// are as they were; without (an older save), one chunk at `latest`, answered as a snapshot
  /// for any since_seq before it.
  void restore(std::uint64_t latest, std::string_view bytes, const std::vector<Mark> &marks, bool first_cut);
  /// The entries after `seq`: exact when the ring covers seq+1..latest_seq(), else a snapshot.
  Replay since(std::uint64_t seq) const;
  /// Everything held, flagged as a snapshot.
  Replay snapshot() const;

  std::uint64_t latest_seq() const { return latest_seq_; }
  /// The seq of the oldest held entry (0 when empty).
  std::uint64_t first_seq() const { return entries_.empty() ? 0 : entries_.front().seq; }
  std::size_t bytes() const { return bytes_; }
  std::size_t capacity() const { return cap_; }
  bool empty() const { return entries_.empty(); }

private:
  void add(Chunk c);
  void drop_front();
  void cut_front(std::size_t n);
  bool covers(std::uint64_t seq) const;

  std::size_t cap_;
  std::deque<Chunk> entries_;
  std::size_t bytes_ = 0;
  std::uint64_t latest_seq_ = 0;
  /// since(s) is exact for s >= covered_from_ (up to latest_seq_): the seq before the oldest whole
  /// chunk still held, raised as chunks are evicted or truncated.
  std::uint64_t covered_from_ = 0;
  bool first_truncated_ = false;
};

}  // namespace ccbridge::detail::server::cc_control
