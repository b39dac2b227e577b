// Inbox (lib/server/hub.hpp): the hand-off of CLI events from an I/O thread to the server thread,
// and its flow control.
#include "server/hub.hpp"

#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using ccbridge::detail::server::Inbox;

namespace {

// What on_full / on_room queue, in order, as Stream::pause_reading / resume_reading do on the
// run's strand: the last entry is the state the CLI's reading ends up in.
struct Effects {
  std::mutex mu;
  std::vector<std::string> list;
  void add(const char *e)
  {
    std::lock_guard<std::mutex> lk(mu);
    list.emplace_back(e);
  }
  std::vector<std::string> get()
  {
    std::lock_guard<std::mutex> lk(mu);
    return list;
  }
};

struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void release()
  {
    std::lock_guard<std::mutex> lk(mu);
    open = true;
    cv.notify_all();
  }
  void wait()
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [this] { return open; });
  }
};

}  // namespace

TEST_CASE("inbox: a drain between the producer pausing and its pause taking effect still ends resumed")
{
  // The producer fills the inbox; its on_full is slow to queue the pause (a preempted I/O thread).
  // The server thread drains meanwhile. The pause must still be queued before the drain's resume,
  // or the CLI stays paused with nothing left to drain: the run stalls for good.
  asio::io_context ioc;
  Effects effects;
  Latch full_called;
  std::size_t drained = 0;
  auto inbox = std::make_shared<Inbox<int>>(ioc, 4, [&](std::vector<int> &batch) { drained += batch.size(); });
  inbox->set_flow_control(
      [&] {
        full_called.release();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        effects.add("pause");
      },
      [&] { effects.add("resume"); });

  std::thread server([&] {
    full_called.wait();  // drain while on_full is still running
    ioc.run();
  });
  for (int i = 0; i < 4; ++i) inbox->push(i);
  server.join();

  CHECK(drained == 4);
  CHECK(effects.get() == std::vector<std::string>{"pause", "resume"});
}

TEST_CASE("inbox: many pause and resume rounds end resumed with every item drained, in order")
{
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  Effects effects;
  std::vector<int> got;
  auto inbox = std::make_shared<Inbox<int>>(ioc, 8, [&](std::vector<int> &batch) { got.insert(got.end(), batch.begin(), batch.end()); });
  inbox->set_flow_control([&] { effects.add("pause"); }, [&] { effects.add("resume"); });
  std::thread server([&] { ioc.run(); });
  constexpr int kItems = 200000;
  for (int i = 0; i < kItems; ++i) inbox->push(i);
  asio::post(ioc, [&] { work.reset(); });
  server.join();
  ioc.restart();
  ioc.run();  // a drain posted by the last pushes

  REQUIRE(got.size() == static_cast<std::size_t>(kItems));
  for (int i = 0; i < kItems; ++i)
    if (got[static_cast<std::size_t>(i)] != i) FAIL("item " << i << " out of order");
  auto e = effects.get();
  for (std::size_t i = 0; i < e.size(); ++i) CHECK(e[i] == (i % 2 == 0 ? "pause" : "resume"));
  if (!e.empty()) CHECK(e.back() == "resume");
}

// The replay log's cap limits the memory its frames take, not only their text. Failed before:
// frames were counted by their text alone, so 2,000,000 pongs (13 bytes each, ~260 bytes held)
// kept 517 MB under a 64 MB cap. Here: 10,000 frames of 16 bytes under a 100 kB cap.
TEST_CASE("event log: the cap counts each frame's real footprint")
{
  using ccbridge::detail::server::EventLog;
  using ccbridge::detail::server::make_frame;
  constexpr std::size_t kCap = 100000;
  EventLog log(kCap);
  for (int i = 0; i < 10000; ++i) log.append(make_frame(std::string(16, 'x')), ~0ull);
  std::size_t held = log.next_seq() - log.first_seq();
  // A frame holds its text, the prepared WebSocket copy made at its first send, and the objects
  // around them: well over twice its text.
  std::size_t real = held * (2 * 16 + 2 * sizeof(std::string) + 64);
  CHECK(real <= kCap + 1024);
  CHECK(log.bytes() <= kCap);
  CHECK(held > 0);
}
