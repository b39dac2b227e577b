// cc-control's terminal ring: since_seq replay exact while covered, a flagged snapshot otherwise.
#include "server/profiles/cc_control/term_ring.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ccbridge::detail::server::cc_control;

namespace {

std::vector<std::uint64_t> seqs(const TermRing::Replay &r)
{
  std::vector<std::uint64_t> out;
  for (const auto &c : r.chunks) out.push_back(c.seq);
  return out;
}

// Chunks 1..n of `size` bytes each, chunk i made of the letter 'a' + i % 26.
TermRing filled(std::size_t cap, std::uint64_t n, std::size_t size)
{
  TermRing r(cap);
  for (std::uint64_t i = 1; i <= n; ++i) r.append(i, std::string(size, static_cast<char>('a' + i % 26)));
  return r;
}

}  // namespace

TEST_CASE("cc-control term ring: since(seq) is exact while the ring covers seq+1 to the latest")
{
  TermRing r = filled(100, 5, 10);
  CHECK(r.latest_seq() == 5);
  CHECK(r.first_seq() == 1);
  CHECK(r.bytes() == 50);
  auto all = r.since(0);
  CHECK(!all.snapshot);
  CHECK(seqs(all) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(all.first_seq == 1);
  CHECK(all.last_seq == 5);
  auto some = r.since(3);
  CHECK(!some.snapshot);
  CHECK(seqs(some) == std::vector<std::uint64_t>{4, 5});
  CHECK(some.joined() == std::string(10, 'e') + std::string(10, 'f'));
  auto none = r.since(5);
  CHECK(!none.snapshot);
  CHECK(none.chunks.empty());
  CHECK(none.last_seq == 5);
}

TEST_CASE("cc-control term ring: oldest chunks are evicted or cut, and since() before them is a snapshot")
{
  TermRing r = filled(35, 5, 10);  // holds the last 5 bytes of 2, and 3, 4, 5
  CHECK(r.bytes() == 35);
  CHECK(r.first_seq() == 2);
  for (std::uint64_t s : {0, 1}) {
    auto snap = r.since(s);
    CHECK(snap.snapshot);
    CHECK(seqs(snap) == std::vector<std::uint64_t>{2, 3, 4, 5});
    CHECK(snap.first_seq == 2);
    CHECK(snap.last_seq == 5);
    CHECK(snap.first_truncated);
    CHECK(snap.joined() == std::string(5, 'c') + std::string(10, 'd') + std::string(10, 'e') + std::string(10, 'f'));
  }
  auto exact = r.since(2);  // needs 3..5: all held
  CHECK(!exact.snapshot);
  CHECK(seqs(exact) == std::vector<std::uint64_t>{3, 4, 5});
  // Ahead of the ring (a client from before a restart): a snapshot too.
  CHECK(r.since(9).snapshot);
  CHECK(r.snapshot().snapshot);
  CHECK(r.snapshot().bytes() == 35);
  // Whole chunks go when the cut would take all of one.
  TermRing w = filled(30, 5, 10);
  CHECK(w.first_seq() == 3);
  CHECK(!w.snapshot().first_truncated);
  CHECK(w.snapshot().bytes() == 30);
}

TEST_CASE("cc-control term ring: a chunk bigger than the ring keeps its tail and is not exact")
{
  TermRing r(8);
  r.append(1, "abc");
  r.append(2, "0123456789");
  CHECK(r.bytes() == 8);
  CHECK(r.first_seq() == 2);
  auto s = r.since(1);  // chunk 2 is cut: since(1) cannot be exact
  CHECK(s.snapshot);
  CHECK(s.first_truncated);
  CHECK(s.joined() == "23456789");
  CHECK(!r.since(2).snapshot);
  r.append(3, "xyz");  // cuts the cut chunk further
  CHECK(r.snapshot().joined() == "56789xyz");
  CHECK(r.snapshot().first_truncated);
  CHECK(r.since(2).joined() == "xyz");
  CHECK(!r.since(2).snapshot);
  r.append(4, "01234567");  // exactly the cap: replaces everything, nothing cut
  CHECK(r.snapshot().joined() == "01234567");
  CHECK(!r.snapshot().first_truncated);
  CHECK(r.since(3).joined() == "01234567");
  CHECK(r.since(2).snapshot);
}

// The original's ring is a byte tail: a snapshot shows the last cap bytes whatever the chunking.
// Evicting whole chunks only, a big chunk followed by a small one left the small one alone.
TEST_CASE("cc-control term ring: the ring holds the last cap bytes, the oldest chunk cut to fit")
{
  TermRing r(4096);
  std::string big(4000, 'a'), small(200, 'b');
  r.append(1, big);
  r.append(2, small);
  CHECK(r.bytes() == 4096);
  CHECK(r.first_seq() == 1);
  auto snap = r.snapshot();
  CHECK(snap.first_truncated);
  CHECK(snap.joined() == std::string(3896, 'a') + small);
  CHECK(r.since(0).snapshot);  // chunk 1 is cut: a client at 0 gets the screen, not a partial append
  CHECK(!r.since(1).snapshot);
  CHECK(r.since(1).joined() == small);
  r.append(3, std::string(3896, 'c'));  // takes what is left of chunk 1 exactly
  CHECK(r.first_seq() == 2);
  CHECK(!r.snapshot().first_truncated);
  CHECK(r.snapshot().joined() == small + std::string(3896, 'c'));
}

TEST_CASE("cc-control term ring: notes repeat the latest seq and replay with the chunk they follow")
{
  TermRing r(1000);
  r.append_note("[agent error] before any output\r\n");  // seq 0
  r.append(1, "one");
  r.append(2, "two");
  r.append_note("[agent error] boom\r\n");
  CHECK(r.latest_seq() == 2);
  auto all = r.since(0);  // everything, the note before chunk 1 too
  CHECK(!all.snapshot);
  CHECK(all.chunks.size() == 4);
  CHECK(all.chunks[0].note);
  CHECK(all.chunks[3].note);
  CHECK(all.chunks[3].seq == 2);
  CHECK(seqs(r.since(1)) == std::vector<std::uint64_t>{2, 2});
  CHECK(r.since(2).chunks.empty());  // a client at 2 saw the note live
  // An agent chunk numbered 0 or not above the latest is kept the same way.
  r.append(0, "unnumbered");
  r.append(2, "again");
  CHECK(r.latest_seq() == 2);
  CHECK(r.since(1).chunks.size() == 4);
  r.append(3, "three");
  CHECK(r.since(2).joined() == "three");
  CHECK(r.since(1).joined() == "two[agent error] boom\r\nunnumberedagainthree");
}

TEST_CASE("cc-control term ring: a note is evicted or cut like a chunk, replay after its seq stays exact")
{
  TermRing r(10);
  r.append(1, "aaaa");
  r.append_note("nnnn");  // seq 1
  r.append(2, "bbbb");    // cuts chunk 1 to its last 2 bytes (12 > 10)
  CHECK(r.first_seq() == 1);
  CHECK(r.since(0).snapshot);
  CHECK(!r.since(1).snapshot);
  CHECK(r.since(1).joined() == "bbbb");
  r.append(3, "cccc");  // cuts the note: a client at 1 is taken to have it
  CHECK(r.first_seq() == 1);
  CHECK(r.snapshot().joined() == "nnbbbbcccc");
  CHECK(!r.since(1).snapshot);
  CHECK(r.since(1).joined() == "bbbbcccc");
  CHECK(r.since(0).snapshot);
}

TEST_CASE("cc-control term ring: replay from every seq gives every byte once, in order")
{
  TermRing r(64);
  std::string stream;
  for (std::uint64_t i = 1; i <= 200; ++i) {
    std::string chunk(1 + i % 13, static_cast<char>('a' + i % 26));
    stream += chunk;
    r.append(i, chunk);
    for (std::uint64_t s = 0; s <= i; ++s) {
      auto rep = r.since(s);
      CHECK(rep.bytes() <= 64);
      if (!rep.snapshot) {
        // What a client at s had, plus the replay, is the stream so far.
        std::size_t had = 0;
        for (std::uint64_t k = 1; k <= s; ++k) had += 1 + k % 13;
        REQUIRE(stream.substr(had) == rep.joined());
      } else {
        REQUIRE(stream.size() >= rep.bytes());
        REQUIRE(stream.substr(stream.size() - rep.bytes()) == rep.joined());
      }
    }
  }
  CHECK(r.bytes() == 64);
  CHECK(r.capacity() == 64);
}

TEST_CASE("cc-control term ring: tail(n) is the last n bytes held, across chunk edges")
{
  TermRing r = filled(100, 5, 10);  // "bbbbbbbbbb" "cccc..." ... "ffffffffff"
  CHECK(r.tail(0).empty());
  CHECK(r.tail(3) == "fff");
  CHECK(r.tail(15) == std::string(5, 'e') + std::string(10, 'f'));
  CHECK(r.tail(1000) == r.snapshot().joined());
  CHECK(TermRing(10).tail(5).empty());
}

TEST_CASE("cc-control ring: a tail restored with its marks answers since_seq as the ring did")
{
  TermRing ring(1024);
  ring.append(1, "aaaa");
  ring.append(2, "bbbbbb");
  ring.append_note("[note]");
  ring.append(3, "cc");
  ring.append(4, "dddddddd");
  bool cut = false;
  std::string tail = ring.tail(20);  // cuts into seq 2's chunk
  auto marks = ring.marks(20, cut);
  REQUIRE(tail.size() == 20);
  CHECK(cut);
  REQUIRE(marks.size() == 4);
  CHECK(marks.front().seq == 2);
  CHECK(marks.front().size == 4);
  CHECK(marks[1].note);

  TermRing back(1024);
  back.restore(ring.latest_seq(), tail, marks, cut);
  CHECK(back.latest_seq() == 4);
  for (std::uint64_t since : {2, 3}) {  // whole chunks after `since`: exact, as before
    auto a = ring.since(since), b = back.since(since);
    CHECK_FALSE(b.snapshot);
    CHECK(a.joined() == b.joined());
    CHECK(a.first_seq == b.first_seq);
  }
  CHECK(back.since(1).snapshot);  // inside the cut chunk: only a snapshot is honest

  // Without a cut (the tail starts with the note that follows chunk 2): exact from 2 on.
  auto whole = ring.marks(16, cut);
  CHECK_FALSE(cut);
  TermRing exact(1024);
  exact.restore(ring.latest_seq(), ring.tail(16), whole, cut);
  CHECK_FALSE(exact.since(2).snapshot);
  CHECK(exact.since(1).snapshot);  // the tail starts at the note after 2: 2 itself is gone
  CHECK(exact.since(2).joined() == "ccdddddddd");  // a note goes with the chunk it follows

  // A save without marks: one chunk, a snapshot for any earlier seq.
  TermRing legacy(1024);
  legacy.restore(4, tail, {}, false);
  CHECK(legacy.since(2).snapshot);
  CHECK(legacy.since(4).chunks.empty());
}
