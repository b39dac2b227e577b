// A PermissionRelay on its own io_context thread, with what its handlers reported, for the relay's
// unit tests and the real-CLI test (tests/integration/test_real_permission_hook.cpp).
#pragma once

#include "core/permission_relay.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace ccb_test {

class RelayHarness {
public:
  explicit RelayHarness(ccbridge::detail::PermissionRelayConfig config = {}, bool answer_in_handler = false)
  {
    ccbridge::detail::PermissionRelay::Handlers h;
    h.on_ask = [this, answer_in_handler](const ccbridge::detail::PermissionAsk &a) {
      if (answer_in_handler) relay->answer(a.id, true);
      push(asks_, a);
    };
    h.on_gone = [this](std::uint64_t id) { push(gones_, id); };
    relay = ccbridge::detail::PermissionRelay::start(io_, std::move(config), std::move(h));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RelayHarness()
  {
    relay->close();
    work_.reset();
    relay.reset();
    thread_.join();
  }

  std::optional<ccbridge::detail::PermissionAsk> next_ask(std::chrono::milliseconds wait) { return pop(asks_, wait); }
  std::optional<std::uint64_t> next_gone(std::chrono::milliseconds wait) { return pop(gones_, wait); }

  std::shared_ptr<ccbridge::detail::PermissionRelay> relay;

private:
  template <class T> void push(std::deque<T> &q, T v)
  {
    std::lock_guard<std::mutex> lk(mu_);
    q.push_back(std::move(v));
    cv_.notify_all();
  }
  template <class T> std::optional<T> pop(std::deque<T> &q, std::chrono::milliseconds wait)
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (!cv_.wait_for(lk, wait, [&] { return !q.empty(); })) return std::nullopt;
    T v = std::move(q.front());
    q.pop_front();
    return v;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ccbridge::detail::PermissionAsk> asks_;
  std::deque<std::uint64_t> gones_;
};

}  // namespace ccb_test
