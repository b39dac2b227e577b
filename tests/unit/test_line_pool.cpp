// The recycled memory of a stream's messages (lib/protocol/line_pool.hpp).
#include "protocol/line_pool.hpp"
#include "protocol/message_impl.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

using ccbridge::Message;
using ccbridge::MessageType;
using ccbridge::detail::LinePool;

TEST_CASE("line pool: a block given back is reused, from any thread, big ones are not kept")
{
  LinePool pool;
  void *a = pool.allocate(1500);
  pool.release(a, 1500);
  CHECK(pool.allocate(1600) == a);  // the same class (2 KiB)
  void *b = nullptr;
  std::thread([&] { pool.release(a, 1600); }).join();
  b = pool.allocate(2048);
  CHECK(b == a);
  pool.release(b, 2048);
  void *big = pool.allocate(1 << 20);  // above the largest class: operator new, freed on release
  pool.release(big, 1 << 20);
  void *small = pool.allocate(100);  // another class: not the 2 KiB block
  CHECK(small != a);
  pool.release(small, 100);
}

TEST_CASE("line pool: the cache is bounded, and after close() blocks are freed, not kept")
{
  LinePool pool;
  std::vector<void *> blocks;
  const std::size_t n = 2 * LinePool::kCacheBytes / 4096;
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(pool.allocate(4096));
  for (void *p : blocks) pool.release(p, 4096);
  // The first allocation takes them back: kCacheBytes of them are kept, the rest freed.
  std::vector<void *> again{pool.allocate(4096)};
  CHECK(pool.cached_bytes() == LinePool::kCacheBytes - 4096);
  while (pool.cached_bytes() > 0) again.push_back(pool.allocate(4096));
  CHECK(again.size() == LinePool::kCacheBytes / 4096);
  for (void *p : again) CHECK(std::find(blocks.begin(), blocks.end(), p) != blocks.end());
  pool.close();
  for (void *p : again) pool.release(p, 4096);  // freed at once (ASan checks none leaks)
}

TEST_CASE("line pool: messages made in a pool keep their bytes, NUL-terminated, and outlive it")
{
  std::vector<Message> kept;
  {
    auto pool = std::make_shared<LinePool>();
    for (int i = 0; i < 1000; ++i) {
      std::string line = R"({"type":"assistant","session_id":"s)" + std::to_string(i) + R"(","message":{"content":[{"type":"text","text":")" +
                         std::string(static_cast<std::size_t>(i), 'x') + R"("}]}})";
      Message m = ccbridge::detail::parse_checked_line(pool, line, static_cast<std::uint64_t>(i + 1), false, {});
      CHECK(m.raw() == line);
      CHECK(m.raw().data()[line.size()] == '\0');
      CHECK(m.type() == MessageType::assistant);
      if (i % 3 == 0) kept.push_back(std::move(m));  // the rest go back to the pool
    }
    Message bad = ccbridge::detail::parse_checked_line(pool, "{\"type\":", 1, false, {});
    CHECK(bad.type() == MessageType::invalid_line);
    pool->close();  // the stream's end; its messages live on
  }
  // Dropped on another thread, as an application does.
  std::thread([&] {
    for (std::size_t i = 0; i < kept.size(); ++i) {
      CHECK(kept[i].session_id() == "s" + std::to_string(3 * i));
      CHECK(kept[i].text() == std::string(3 * i, 'x'));
    }
    kept.clear();
  }).join();
}
