// WebSocket load client for the gateway benchmark (tests/bench/gateway.sh). Opens K connections to
// an sdk-ws endpoint (seed 003 protocol), sends one query on each once connection_established
// arrives, and reads until query_end. Every frame is counted; frames whose text holds "t=<ns>"
// (written by the fake CLI's timed_text with CLOCK_REALTIME) give a latency sample: from the CLI
// writing the line to this client receiving the frame.
//
// A small client of its own (plain sockets, poll(), frames parsed in place in one buffer per
// connection, no allocation per frame), so that the client costs as little as possible and the
// servers under test are what is measured. Server frames are unmasked; the query is sent masked.
//
//   ws_load --url ws://127.0.0.1:8000/ws --clients K [--prompt P] [--idle-seconds S] [--hold-seconds S]
//   ws_load --attach --url ws://127.0.0.1:3000/ws/claude/ID --clients K
//
// With --attach the K clients subscribe to one opcode run (seed 000) that is already started: no
// query is sent, and a client is done at the run's `complete` frame (fan-out: one CLI, K readers;
// the time counts from the first connect).
//
// With --idle-seconds S the clients only connect, stay idle S seconds (for memory measurements)
// and close. With --hold-seconds S the connections stay open S seconds after every query ended
// (their conversations idle), and the JSON line is printed before that wait. Prints one JSON line.
#include "ws_frames.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

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

struct Conn {
  int fd = -1;
  bool upgraded = false, ended = false, closed = false;
  std::vector<char> buf;
  std::size_t len = 0;
};

bool send_all(int fd, const char *p, std::size_t n)
{
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool contains(const char *p, std::size_t n, const char *needle)
{
  std::size_t k = std::strlen(needle);
  if (n < k) return false;
  const char *end = p + n - k + 1;
  for (const char *q = p; (q = static_cast<const char *>(std::memchr(q, needle[0], static_cast<std::size_t>(end - q)))); ++q)
    if (std::memcmp(q, needle, k) == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char **argv)
{
  std::string url, prompt = "bench";
  long clients = 1, idle_seconds = -1, hold_seconds = -1;
  bool attach = false;
  for (int i = 1; i < argc; ++i) {
    const char *opt = argv[i];
    if (!std::strcmp(opt, "--attach")) {
      attach = true;
      continue;
    }
    const char *val = i + 1 < argc ? argv[++i] : "";
    if (!std::strcmp(opt, "--url")) url = val;
    else if (!std::strcmp(opt, "--clients")) clients = std::atol(val);
    else if (!std::strcmp(opt, "--prompt")) prompt = val;
    else if (!std::strcmp(opt, "--idle-seconds")) idle_seconds = std::atol(val);
    else if (!std::strcmp(opt, "--hold-seconds")) hold_seconds = std::atol(val);
  }
  // ws://HOST:PORT/PATH
  std::string host, path = "/";
  int port = 80;
  if (url.rfind("ws://", 0) == 0) {
    std::string rest = url.substr(5);
    auto slash = rest.find('/');
    std::string hp = rest.substr(0, slash);
    if (slash != std::string::npos) path = rest.substr(slash);
    auto colon = hp.find(':');
    host = hp.substr(0, colon);
    if (colon != std::string::npos) port = std::atoi(hp.c_str() + colon + 1);
  }
  if (host.empty() || clients < 1) {
    std::fprintf(stderr, "usage: ws_load --url ws://host:port/path --clients K [--prompt P] [--idle-seconds S] [--hold-seconds S]\n");
    return 2;
  }
  Stats st;
  st.latency_us.reserve(1 << 20);
  const std::string query = ccb_bench::ws_frame(0x1, "{\"type\":\"query\",\"prompt\":\"" + prompt + "\"}");
  const std::string close_frame = ccb_bench::ws_frame(0x8, "\x03\xE8");  // 1000, normal closure
  std::vector<Conn> conns(static_cast<std::size_t>(clients));
  if (attach) st.first_query = std::chrono::steady_clock::now();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  for (auto &c : conns) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
      ++st.errors;
      c.closed = true;
      continue;
    }
    std::string req = ccb_bench::ws_upgrade_request(port, path, host);
    if (!send_all(c.fd, req.data(), req.size())) {
      ++st.errors;
      c.closed = true;
    }
    c.buf.resize(1 << 20);
  }
  auto report = [&] {
    double secs = std::chrono::duration<double>(st.last_end - st.first_query).count();
    std::vector<std::uint32_t> lat = st.latency_us;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) -> double {
      return lat.empty() ? 0 : lat[static_cast<std::size_t>(q * static_cast<double>(lat.size() - 1))];
    };
    std::printf("{\"clients\":%ld,\"completed\":%llu,\"frames\":%llu,\"messages\":%zu,\"bytes\":%llu,\"seconds\":%.6f,"
                "\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"errors\":%llu}\n",
                clients, static_cast<unsigned long long>(st.done), static_cast<unsigned long long>(st.frames), lat.size(),
                static_cast<unsigned long long>(st.bytes), secs, pct(0.5), pct(0.99), pct(1.0),
                static_cast<unsigned long long>(st.errors));
    std::fflush(stdout);
  };

  std::vector<pollfd> pfds;
  bool reported = false;
  for (;;) {
    pfds.clear();
    for (auto &c : conns)
      if (!c.closed) pfds.push_back({c.fd, POLLIN, 0});
    if (pfds.empty()) break;
    if (idle_seconds >= 0 && !reported && static_cast<long>(st.opened + st.errors) >= clients) {
      std::printf("{\"connected\":%llu,\"errors\":%llu}\n", static_cast<unsigned long long>(st.opened),
                  static_cast<unsigned long long>(st.errors));
      std::fflush(stdout);
      reported = true;
      std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
      for (auto &c : conns)
        if (!c.closed) send_all(c.fd, close_frame.data(), close_frame.size());
    }
    if (hold_seconds >= 0 && !reported && static_cast<long>(st.done) >= clients) {
      report();
      reported = true;
      std::this_thread::sleep_for(std::chrono::seconds(hold_seconds));
      for (auto &c : conns)
        if (!c.closed) send_all(c.fd, close_frame.data(), close_frame.size());
    }
    if (::poll(pfds.data(), pfds.size(), 60000) <= 0) {
      ++st.errors;
      break;
    }
    std::size_t pi = 0;
    for (auto &c : conns) {
      if (c.closed) continue;
      pollfd &p = pfds[pi++];
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (c.buf.size() - c.len < 65536) c.buf.resize(c.buf.size() * 2);
      ssize_t r = ::recv(c.fd, c.buf.data() + c.len, c.buf.size() - c.len, 0);
      if (r <= 0) {
        ::close(c.fd);
        c.closed = true;
        if (!c.ended && hold_seconds < 0 && idle_seconds < 0) ++st.errors;
        continue;
      }
      std::uint64_t now = realtime_ns();
      c.len += static_cast<std::size_t>(r);
      std::size_t pos = 0;
      if (!c.upgraded) {
        std::string_view head(c.buf.data(), c.len);
        auto end = head.find("\r\n\r\n");
        if (end == std::string_view::npos) continue;
        if (!ccb_bench::ws_upgraded(head)) {
          ++st.errors;
          ::close(c.fd);
          c.closed = true;
          continue;
        }
        c.upgraded = true;
        ++st.opened;
        pos = end + 4;
      }
      // Whole frames in the buffer.
      ccb_bench::WsHead h;
      while (ccb_bench::ws_head(c.buf.data() + pos, c.len - pos, h) && c.len - pos >= h.total()) {
        const char *p = c.buf.data() + pos + h.header;
        std::uint64_t n = h.length;
        int opcode = h.opcode;
        pos += h.total();
        if (opcode == 0x8) {  // close
          c.ended = c.ended || hold_seconds >= 0 || idle_seconds >= 0;
          continue;
        }
        if (opcode != 0x1) continue;
        ++st.frames;
        st.bytes += n;
        const char *t = static_cast<const char *>(memmem(p, n, "\"t=", 3));
        if (t) {
          std::uint64_t v = 0;
          for (const char *q = t + 3; q < p + n && *q >= '0' && *q <= '9'; ++q) v = v * 10 + static_cast<std::uint64_t>(*q - '0');
          if (v && now > v) st.latency_us.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>((now - v) / 1000, 0xFFFFFFFFu)));
          continue;
        }
        if (contains(p, n, "\"connection_established\"")) {
          if (idle_seconds >= 0) continue;
          if (st.first_query == std::chrono::steady_clock::time_point{}) st.first_query = std::chrono::steady_clock::now();
          if (!send_all(c.fd, query.data(), query.size())) ++st.errors;
          continue;
        }
        if (contains(p, n, "\"type\":\"error\"")) ++st.errors;
        if (attach ? contains(p, n, "\"type\":\"complete\"") : contains(p, n, "\"query_end\"")) {
          st.last_end = std::chrono::steady_clock::now();
          ++st.done;
          c.ended = true;
          if (hold_seconds < 0) send_all(c.fd, close_frame.data(), close_frame.size());
        }
      }
      std::memmove(c.buf.data(), c.buf.data() + pos, c.len - pos);
      c.len -= pos;
    }
  }
  if (idle_seconds < 0 && !reported) report();
  if (idle_seconds >= 0) return st.errors ? 1 : 0;
  return st.done == static_cast<std::uint64_t>(clients) && !st.errors ? 0 : 1;
}
