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
//   ws_load --attach --url ws://127.0.0.1:3000/ws/claude/ID --clients K [--start-file PATH]
//
// With --attach the K clients subscribe to one opcode run (seed 000): no query is sent, and a client
// is done at the run's `complete` frame (fan-out: one CLI, K readers). With --start-file the run is
// held (the fake CLI's `wait_file PATH`) until every client is attached: ws_load then creates PATH,
// which is the run's start, and the time counts from there (live fan-out). Without it the time
// counts from the first connect (e.g. replay: clients attaching to a run that has ended).
//
// Every client records the CLOCK_REALTIME of its first and last frame (after connection_established
// on sdk-ws), and the JSON line gives their extremes relative to the start (the start file, else
// ws_load's own start) beside the stamps of the first and last line the CLI wrote (the "t=" of
// timed_text): whether clients read live or replayed. Each client also hashes every such frame in
// order, with the digits of each "t=" stamp zeroed (they differ between runs): "frames_hash" is the
// hash when every client's agrees ("hashes_agree"), so that runs of different servers can be shown
// to have sent the same bytes.
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
  std::uint64_t first_line_ns = UINT64_MAX, last_line_ns = 0;  // the CLI's "t=" stamps seen
};

struct Conn {
  int fd = -1;
  bool upgraded = false, ended = false, closed = false;
  std::vector<char> buf;
  std::size_t len = 0;
  std::uint64_t first_ns = 0, last_ns = 0;  // CLOCK_REALTIME of the first and last frame hashed
  std::uint64_t hash = 0x243F6A8885A308D3ull;
};

// An order-sensitive 64-bit hash of a frame, folded into h: four independent multiply lanes, so
// that it keeps up with the frames (not cryptographic: it tells whether two runs got the same bytes).
std::uint64_t hash_frame(std::uint64_t h, const char *p, std::size_t n)
{
  constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
  std::uint64_t lane[4] = {h ^ n, h + k, h ^ (k >> 7), h - n};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int j = 0; j < 4; ++j) {
      std::uint64_t w;
      std::memcpy(&w, p + i + 8 * j, 8);
      lane[j] = (lane[j] ^ w) * k;
      lane[j] ^= lane[j] >> 31;
    }
  }
  std::uint64_t tail[4] = {0, 0, 0, 0};
  std::memcpy(tail, p + i, n - i);
  for (int j = 0; j < 4; ++j) h = ((h ^ lane[j] ^ tail[j]) * k) ^ (h >> 29);
  return h;
}

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
  std::string start_file;
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
    else if (!std::strcmp(opt, "--start-file")) start_file = val;
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
    std::fprintf(stderr, "usage: ws_load --url ws://host:port/path --clients K [--prompt P] [--idle-seconds S] [--hold-seconds S]\n"
                         "       ws_load --attach --url ws://host:port/ws/claude/ID --clients K [--start-file PATH]\n");
    return 2;
  }
  if (!start_file.empty() && !attach) {
    std::fprintf(stderr, "ws_load: --start-file goes with --attach\n");
    return 2;
  }
  Stats st;
  st.latency_us.reserve(1 << 20);
  const std::string query = ccb_bench::ws_frame(0x1, "{\"type\":\"query\",\"prompt\":\"" + prompt + "\"}");
  const std::string close_frame = ccb_bench::ws_frame(0x8, "\x03\xE8");  // 1000, normal closure
  std::vector<Conn> conns(static_cast<std::size_t>(clients));
  std::uint64_t start_ns = realtime_ns();  // the run's start with --start-file (set below), else ours
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
    // Times relative to the start, in µs (negative: before it); clients that got no frame are left out.
    auto rel = [&](std::uint64_t ns) { return (static_cast<double>(ns) - static_cast<double>(start_ns)) / 1e3; };
    double first_min = 0, first_max = 0, last_min = 0, last_max = 0;
    bool any = false, agree = true;
    for (const auto &c : conns) {
      if (!c.first_ns) continue;
      double f = rel(c.first_ns), l = rel(c.last_ns);
      if (!any) {
        first_min = first_max = f;
        last_min = last_max = l;
        any = true;
      }
      first_min = std::min(first_min, f);
      first_max = std::max(first_max, f);
      last_min = std::min(last_min, l);
      last_max = std::max(last_max, l);
      agree = agree && c.hash == conns.front().hash;
    }
    agree = agree && any && conns.front().first_ns;
    std::printf("{\"clients\":%ld,\"completed\":%llu,\"frames\":%llu,\"messages\":%zu,\"bytes\":%llu,\"seconds\":%.6f,"
                "\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"errors\":%llu,\"frames_hash\":\"%016llx\","
                "\"hashes_agree\":%s,\"first_frame_us\":[%.0f,%.0f],\"last_frame_us\":[%.0f,%.0f],"
                "\"first_line_us\":%.0f,\"last_line_us\":%.0f}\n",
                clients, static_cast<unsigned long long>(st.done), static_cast<unsigned long long>(st.frames), lat.size(),
                static_cast<unsigned long long>(st.bytes), secs, pct(0.5), pct(0.99), pct(1.0),
                static_cast<unsigned long long>(st.errors), static_cast<unsigned long long>(agree ? conns.front().hash : 0),
                agree ? "true" : "false", first_min, first_max, last_min, last_max,
                st.last_line_ns ? rel(st.first_line_ns) : 0.0, st.last_line_ns ? rel(st.last_line_ns) : 0.0);
    std::fflush(stdout);
  };

  std::vector<pollfd> pfds;
  bool reported = false, started = start_file.empty();
  for (;;) {
    pfds.clear();
    for (auto &c : conns)
      if (!c.closed) pfds.push_back({c.fd, POLLIN, 0});
    if (pfds.empty()) break;
    if (!started && static_cast<long>(st.opened + st.errors) >= clients) {
      // Every client is attached: let the run go.
      started = true;
      start_ns = realtime_ns();
      st.first_query = std::chrono::steady_clock::now();
      FILE *f = std::fopen(start_file.c_str(), "w");
      if (!f) {
        std::fprintf(stderr, "ws_load: cannot create %s\n", start_file.c_str());
        return 1;
      }
      std::fclose(f);
    }
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
        char *p = c.buf.data() + pos + h.header;
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
        char *t = static_cast<char *>(memmem(p, n, "\"t=", 3));
        bool established = !t && contains(p, n, "\"connection_established\"");
        if (!established) {
          if (!c.first_ns) c.first_ns = now;
          c.last_ns = now;
        }
        if (t) {
          std::uint64_t v = 0;
          for (char *q = t + 3; q < p + n && *q >= '0' && *q <= '9'; ++q) {
            v = v * 10 + static_cast<std::uint64_t>(*q - '0');
            *q = '0';  // the stamp differs between runs: out of the hash
          }
          if (v && now > v) st.latency_us.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>((now - v) / 1000, 0xFFFFFFFFu)));
          st.first_line_ns = std::min(st.first_line_ns, v);
          st.last_line_ns = std::max(st.last_line_ns, v);
          c.hash = hash_frame(c.hash, p, n);
          continue;
        }
        if (established) {
          if (idle_seconds >= 0) continue;
          if (st.first_query == std::chrono::steady_clock::time_point{}) st.first_query = std::chrono::steady_clock::now();
          if (!send_all(c.fd, query.data(), query.size())) ++st.errors;
          continue;
        }
        c.hash = hash_frame(c.hash, p, n);
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
