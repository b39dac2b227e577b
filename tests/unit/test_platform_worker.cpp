// The platform's Worker (lib/server/profiles/platform/worker.hpp): jobs run off the calling
// thread, their results come back through the io_context, a full queue refuses, and results of a
// Worker that is gone are dropped.
#include "server/profiles/platform/worker.hpp"

#include <doctest/doctest.h>

#include <asio/executor_work_guard.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace ccbridge::detail::server::platform;

TEST_CASE("platform worker: a job runs on its thread and its result comes back through the io_context")
{
  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);  // run_one_for waits for the result instead of returning
  Worker w(ioc, 4);
  std::thread::id job_thread, done_thread;
  int got = 0;
  REQUIRE(w.run([&] { job_thread = std::this_thread::get_id(); return 42; },
                [&](int v) { done_thread = std::this_thread::get_id(); got = v; }));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got == 0 && std::chrono::steady_clock::now() < deadline) ioc.run_one_for(std::chrono::milliseconds(50));
  CHECK(got == 42);
  CHECK(job_thread != std::this_thread::get_id());
  CHECK(done_thread == std::this_thread::get_id());
}

TEST_CASE("platform worker: beyond max_queued waiting jobs run() refuses, and a gone Worker drops results")
{
  asio::io_context ioc;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  int delivered = 0;
  {
    Worker w(ioc, 2);
    std::promise<void> started;
    REQUIRE(w.run([&, gate] { started.set_value(); gate.wait(); return ++ran; }, [&](int) { ++delivered; }));
    started.get_future().wait();  // the first job holds the thread; the next two wait
    CHECK(w.run([&] { return ++ran; }, [&](int) { ++delivered; }));
    CHECK(w.run([&] { return ++ran; }, [&](int) { ++delivered; }));
    CHECK_FALSE(w.run([&] { return ++ran; }, [&](int) { ++delivered; }));
    release.set_value();
    while (ran < 1) std::this_thread::yield();
  }  // joined: queued jobs were dropped or ran; none of their results may be delivered now
  ioc.run();
  CHECK(delivered == 0);
  CHECK(ran <= 3);
}
