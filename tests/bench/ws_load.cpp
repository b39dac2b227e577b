// WebSocket load client for the gateway benchmark (tests/bench/gateway.sh). Opens K connections to
// an sdk-ws endpoint (seed 003 protocol), sends one query on each once connection_established
// arrives, and reads until query_end. Every frame is counted; frames whose text holds "t=<ns>"
// (written by the fake CLI's timed_text with CLOCK_REALTIME) give a latency sample: from the CLI
// writing the line to this client receiving the frame.
//
//   ws_load --url ws://127.0.0.1:8000/ws --clients K [--prompt P] [--idle-seconds S] [--hold-seconds S]
//
// With --idle-seconds S the clients only connect, stay idle S seconds (for memory measurements)
// and close. With --hold-seconds S the connections stay open S seconds after every query ended
// (their conversations idle), and the JSON line is printed before that wait. Prints one JSON line.
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

using Client = websocketpp::client<websocketpp::config::asio_client>;

std::uint64_t realtime_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

struct Stats {
  std::uint64_t frames = 0, bytes = 0, errors = 0, done = 0, opened = 0;
  std::vector<std::uint32_t> latency_us;
  std::chrono::steady_clock::time_point first_query{}, last_end{};
};

}  // namespace

int main(int argc, char **argv)
{
  std::string url, prompt = "bench";
  long clients = 1;
  long idle_seconds = -1;
  long hold_seconds = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--url")) url = argv[i + 1];
    else if (!std::strcmp(argv[i], "--clients")) clients = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--prompt")) prompt = argv[i + 1];
    else if (!std::strcmp(argv[i], "--idle-seconds")) idle_seconds = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--hold-seconds")) hold_seconds = std::atol(argv[i + 1]);
  }
  if (url.empty() || clients < 1) {
    std::fprintf(stderr, "usage: ws_load --url ws://host:port/ws --clients K [--prompt P] [--idle-seconds S]\n");
    return 2;
  }
  Client c;
  c.clear_access_channels(websocketpp::log::alevel::all);
  c.clear_error_channels(websocketpp::log::elevel::all);
  c.init_asio();
  c.set_max_message_size(64 << 20);
  Stats st;
  st.latency_us.reserve(1 << 20);
  std::string query = "{\"type\":\"query\",\"prompt\":\"" + prompt + "\"}";
  std::vector<websocketpp::connection_hdl> open_conns;

  asio::steady_timer hold_timer(c.get_io_service());
  auto report = [&] {
    double secs = std::chrono::duration<double>(st.last_end - st.first_query).count();
    std::vector<std::uint32_t> lat = st.latency_us;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) -> double {
      if (lat.empty()) return 0;
      return lat[static_cast<std::size_t>(q * static_cast<double>(lat.size() - 1))];
    };
    std::printf("{\"clients\":%ld,\"completed\":%llu,\"frames\":%llu,\"messages\":%zu,\"bytes\":%llu,\"seconds\":%.6f,"
                "\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"errors\":%llu}\n",
                clients, static_cast<unsigned long long>(st.done), static_cast<unsigned long long>(st.frames), lat.size(),
                static_cast<unsigned long long>(st.bytes), secs, pct(0.5), pct(0.99), pct(1.0),
                static_cast<unsigned long long>(st.errors));
    std::fflush(stdout);
  };
  c.set_message_handler([&](websocketpp::connection_hdl hdl, Client::message_ptr msg) {
    std::uint64_t now = realtime_ns();
    const std::string &p = msg->get_payload();
    ++st.frames;
    st.bytes += p.size();
    if (p.find("\"connection_established\"") != std::string::npos) {
      if (idle_seconds >= 0) return;
      if (st.first_query == std::chrono::steady_clock::time_point{}) st.first_query = std::chrono::steady_clock::now();
      std::error_code ec;
      c.send(hdl, query, websocketpp::frame::opcode::text, ec);
      if (ec) ++st.errors;
      return;
    }
    auto t = p.find("t=");
    if (t != std::string::npos) {
      std::uint64_t v = 0;
      for (std::size_t i = t + 2; i < p.size() && p[i] >= '0' && p[i] <= '9'; ++i) v = v * 10 + static_cast<std::uint64_t>(p[i] - '0');
      if (v && now > v) st.latency_us.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>((now - v) / 1000, 0xFFFFFFFFu)));
      return;
    }
    if (p.find("\"type\":\"error\"") != std::string::npos) ++st.errors;
    if (p.find("\"query_end\"") != std::string::npos) {
      st.last_end = std::chrono::steady_clock::now();
      ++st.done;
      if (hold_seconds < 0) {
        std::error_code ec;
        c.close(hdl, websocketpp::close::status::normal, "done", ec);
      } else if (st.done == static_cast<std::uint64_t>(clients)) {
        report();
        hold_timer.expires_after(std::chrono::seconds(hold_seconds));
        hold_timer.async_wait([&](std::error_code) {
          for (auto &h : open_conns) {
            std::error_code ec;
            c.close(h, websocketpp::close::status::normal, "done", ec);
          }
        });
      }
    }
  });
  c.set_open_handler([&](websocketpp::connection_hdl hdl) {
    ++st.opened;
    open_conns.push_back(hdl);
  });
  c.set_fail_handler([&](websocketpp::connection_hdl) { ++st.errors; });

  for (long i = 0; i < clients; ++i) {
    std::error_code ec;
    auto con = c.get_connection(url, ec);
    if (ec) {
      std::fprintf(stderr, "ws_load: %s\n", ec.message().c_str());
      return 1;
    }
    c.connect(con);
  }
  if (idle_seconds >= 0) {
    // Connect everyone, report, stay idle, then close.
    asio::steady_timer report(c.get_io_service());
    std::function<void()> wait_open = [&] {
      if (static_cast<long>(st.opened) + static_cast<long>(st.errors) < clients) {
        report.expires_after(std::chrono::milliseconds(20));
        report.async_wait([&](std::error_code) { wait_open(); });
        return;
      }
      std::printf("{\"connected\":%llu,\"errors\":%llu}\n", static_cast<unsigned long long>(st.opened),
                  static_cast<unsigned long long>(st.errors));
      std::fflush(stdout);
      report.expires_after(std::chrono::seconds(idle_seconds));
      report.async_wait([&](std::error_code) {
        for (auto &h : open_conns) {
          std::error_code ec;
          c.close(h, websocketpp::close::status::normal, "done", ec);
        }
      });
    };
    wait_open();
    c.run();
    return st.errors ? 1 : 0;
  }
  c.run();
  if (hold_seconds < 0 || st.done != static_cast<std::uint64_t>(clients)) report();
  return st.done == static_cast<std::uint64_t>(clients) && !st.errors ? 0 : 1;
}
