// cc-control: a session's recent terminal output as numbered chunks. See term_ring.hpp.
#include "server/profiles/cc_control/term_ring.hpp"

#include <algorithm>

namespace ccbridge::detail::server::cc_control {

std::size_t TermRing::Replay::bytes() const
{
  std::size_t n = 0;
  for (const Chunk &c : chunks) n += c.data.size();
  return n;
}

std::string TermRing::Replay::joined() const
{
  std::string out;
  out.reserve(bytes());
  for (const Chunk &c : chunks) out += c.data;
  return out;
}

TermRing::TermRing(std::size_t cap_bytes) : cap_(std::max<std::size_t>(cap_bytes, 1)) {}

void TermRing::append(std::uint64_t seq, std::string_view bytes)
{
  if (seq == 0 || seq <= latest_seq_) return add(Chunk{latest_seq_, std::string(bytes), true});
  latest_seq_ = seq;
  add(Chunk{seq, std::string(bytes), false});
}

void TermRing::append_note(std::string_view text) { add(Chunk{latest_seq_, std::string(text), true}); }

void TermRing::add(Chunk c)
{
  if (c.data.empty()) return;
  bytes_ += c.data.size();
  entries_.push_back(std::move(c));
  // The ring holds the last cap bytes, as the original's byte tail does: whole oldest entries go
  // while that leaves enough, then the oldest left is cut (else a snapshot after one big chunk
  // could be a few bytes). A chunk bigger than the ring so ends alone, cut to its tail.
  while (bytes_ > cap_) {
    std::size_t over = bytes_ - cap_;
    if (entries_.front().data.size() <= over) drop_front();
    else cut_front(over);
  }
}

// Evicts the oldest entry: a client at a seq before it can no longer be answered exactly.
void TermRing::drop_front()
{
  covered_from_ = std::max(covered_from_, entries_.front().seq);
  bytes_ -= entries_.front().data.size();
  entries_.pop_front();
  first_truncated_ = false;
}

// Drops the first n bytes of the oldest entry (fewer than it has): like an eviction, a client
// before its seq is then answered with a snapshot.
void TermRing::cut_front(std::size_t n)
{
  Chunk &f = entries_.front();
  covered_from_ = std::max(covered_from_, f.seq);
  f.data.erase(0, n);
  bytes_ -= n;
  first_truncated_ = true;
}

bool TermRing::covers(std::uint64_t seq) const { return seq >= covered_from_ && seq <= latest_seq_; }

TermRing::Replay TermRing::since(std::uint64_t seq) const
{
  if (!covers(seq)) return snapshot();
  Replay r;
  r.last_seq = latest_seq_;
  for (const Chunk &c : entries_)
    if (c.seq > seq || seq == 0) r.chunks.push_back(c);
  r.first_seq = r.chunks.empty() ? 0 : r.chunks.front().seq;
  return r;
}

std::string TermRing::tail(std::size_t n) const
{
  std::size_t take = 0;
  auto it = entries_.end();
  while (it != entries_.begin() && take < n) take += (--it)->data.size();
  std::string out;
  out.reserve(take);
  for (; it != entries_.end(); ++it) out += it->data;
  if (out.size() > n) out.erase(0, out.size() - n);
  return out;
}

std::vector<TermRing::Mark> TermRing::marks(std::size_t n, bool &first_cut) const
{
  std::size_t take = 0;
  auto it = entries_.end();
  while (it != entries_.begin() && take < n) take += (--it)->data.size();
  std::vector<Mark> out;
  for (; it != entries_.end(); ++it) out.push_back({it->seq, static_cast<std::uint32_t>(it->data.size()), it->note});
  first_cut = take > n;
  if (first_cut) out.front().size -= static_cast<std::uint32_t>(take - n);
  return out;
}

void TermRing::restore(std::uint64_t latest, std::string_view bytes, const std::vector<Mark> &marks, bool first_cut)
{
  std::size_t sum = 0;
  for (const Mark &m : marks) sum += m.size;
  if (marks.empty() || sum != bytes.size()) {
    append(latest, bytes);
    covered_from_ = latest_seq_;
    return;
  }
  // A client at the seq before the first whole chunk has everything older (a note follows the
  // chunk whose seq it carries); one inside a cut chunk cannot be answered exactly.
  const Mark &first = marks.front();
  covered_from_ = first_cut || first.note || first.seq == 0 ? first.seq : first.seq - 1;
  std::size_t at = 0;
  for (const Mark &m : marks) {
    add(Chunk{m.seq, std::string(bytes.substr(at, m.size)), m.note});  // (a smaller ring evicts)
    at += m.size;
  }
  latest_seq_ = latest;
  first_truncated_ = first_cut && entries_.size() == marks.size();
}

TermRing::Replay TermRing::snapshot() const
{
  Replay r;
  r.snapshot = true;
  r.chunks.assign(entries_.begin(), entries_.end());
  r.first_seq = first_seq();
  r.last_seq = latest_seq_;
  r.first_truncated = first_truncated_;
  return r;
}

}  // namespace ccbridge::detail::server::cc_control
