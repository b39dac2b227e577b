// /ws/client load for the cc-control benchmark (tests/bench/cc_control.sh): K clients on each of
// the given sessions, each attached with since_seq 0, each decoding the base64 of every term_out it
// is sent and reading the stand-in's lines from it (ccb_term_standin: "t=<CLOCK_MONOTONIC ns> ..."
// for the latency from the program's write to this client's read, "END" at the end).
//
//   ccb_cc_load --port P --token T --sessions ID[,ID...] --per-session K --go       (flood)
//   ccb_cc_load --port P --token T --sessions-file F --per-session K --marks         (scale)
//
// --go: once every client is attached, the first client of each session sends term_in "go\r"; the
// time runs from then until each client has read "END". Prints one JSON line: bytes decoded (live
// output only: what the attach replayed is not counted), per client rates, latency percentiles.
// --marks: once every client is attached, prints {"attached":N,...}; then for each line read on
// stdin prints the counters (bytes, frames, latency since the previous mark); exits at stdin EOF.
// Connections are opened --batch at a time (default 200), each waiting for its attach_ok.
//
// A small client of its own (plain sockets, epoll, frames parsed in place), so that what it costs
// is predictable: per frame, a scan of the JSON for seq and data_b64 and a base64 decode.
#include "term_lines.hpp"
#include "ws_frames.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using ccb_bench::Base64;
using ccb_bench::Histogram;
using ccb_bench::LineScanner;
using ccb_bench::mono_ns;
using ccb_bench::number_after;
using ccb_bench::ws_frame;

struct Args {
  int port = 0;
  std::string token;
  std::vector<std::string> sessions;
  long per_session = 1, batch = 200, timeout_s = 600;
  bool go = false, marks = false;
};

struct Conn {
  int fd = -1;
  std::size_t session = 0;
  bool upgraded = false, attached = false, ended = false, closed = false;
  std::vector<char> buf;
  std::size_t len = 0;
  std::uint64_t latest_seq = 0;  // from attach_ok: the replay is at or below it
  std::uint64_t bytes = 0, end_ns = 0;
  LineScanner lines;
};

struct Totals {
  std::uint64_t bytes = 0, frames = 0, snapshots = 0, errors = 0, attached = 0, ended = 0;
};

bool send_all(int fd, const char *p, std::size_t n)
{
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

class Load {
public:
  explicit Load(Args a) : a_(std::move(a)), conns_(a_.sessions.size() * static_cast<std::size_t>(a_.per_session))
  {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    for (std::size_t i = 0; i < conns_.size(); ++i) conns_[i].session = i / static_cast<std::size_t>(a_.per_session);
  }

  int run();

private:
  bool open(Conn &c, std::uint32_t index);
  void fill_batch();
  void on_readable(Conn &c);
  std::size_t frames(Conn &c, std::size_t pos, std::uint64_t now);
  void on_text(Conn &c, std::string_view t, std::uint64_t now);
  void term_out(Conn &c, std::string_view t, std::uint64_t now);
  void send_go();
  void fail(Conn &c, const char *why);
  void mark();
  void print_flood(bool ok);
  bool all_attached() const { return t_.attached + failed_ >= conns_.size(); }

  Args a_;
  std::vector<Conn> conns_;
  int ep_ = -1;
  std::size_t next_ = 0, inflight_ = 0, failed_ = 0;
  Totals t_;
  Histogram lat_;
  Base64 b64_;
  std::vector<char> decoded_;
  std::uint64_t start_ns_ = mono_ns(), go_ns_ = 0;
  bool announced_ = false;
};

bool Load::open(Conn &c, std::uint32_t index)
{
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return false;
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(a_.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(c.fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) return false;
  std::string req = ccb_bench::ws_upgrade_request(a_.port, "/ws/client?token=" + a_.token);
  if (!send_all(c.fd, req.data(), req.size())) return false;
  c.buf.resize(a_.go ? 1u << 18 : 1u << 13);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = index;
  return epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) == 0;
}

void Load::fill_batch()
{
  while (inflight_ < static_cast<std::size_t>(a_.batch) && next_ < conns_.size()) {
    Conn &c = conns_[next_];
    if (open(c, static_cast<std::uint32_t>(next_))) {
      ++inflight_;
    } else {
      std::fprintf(stderr, "ccb_cc_load: connection %zu: %s\n", next_, std::strerror(errno));
      if (c.fd >= 0) ::close(c.fd);
      c.closed = true;
      ++failed_;
      ++t_.errors;
    }
    ++next_;
  }
}

void Load::fail(Conn &c, const char *why)
{
  if (c.closed) return;
  if (!c.ended && t_.errors++ < 5) std::fprintf(stderr, "ccb_cc_load: client %zu: %s\n", &c - conns_.data(), why);
  ::close(c.fd);
  c.closed = true;
  if (!c.attached) {
    ++failed_;
    --inflight_;
  }
  if (!c.ended) {
    c.ended = true;
    ++t_.ended;
  }
}

void Load::on_readable(Conn &c)
{
  if (c.buf.size() - c.len < 4096) c.buf.resize(c.buf.size() * 2);
  ssize_t r = ::recv(c.fd, c.buf.data() + c.len, c.buf.size() - c.len, 0);
  if (r <= 0) return fail(c, r == 0 ? "connection closed" : std::strerror(errno));
  std::uint64_t now = mono_ns();
  c.len += static_cast<std::size_t>(r);
  std::size_t pos = 0;
  if (!c.upgraded) {
    std::string_view head(c.buf.data(), c.len);
    auto end = head.find("\r\n\r\n");
    if (end == std::string_view::npos) return;
    if (!ccb_bench::ws_upgraded(head)) return fail(c, std::string(head.substr(0, head.find('\r'))).c_str());
    c.upgraded = true;
    pos = end + 4;
    std::string attach = R"({"type":"attach","data":{"session_id":")" + a_.sessions[c.session] + R"(","since_seq":0}})";
    std::string f = ws_frame(0x1, attach);
    if (!send_all(c.fd, f.data(), f.size())) return fail(c, "attach not sent");
  }
  pos = frames(c, pos, now);
  if (c.closed) return;
  std::memmove(c.buf.data(), c.buf.data() + pos, c.len - pos);
  c.len -= pos;
}

// The whole frames in c.buf from pos; returns where the first incomplete one starts.
std::size_t Load::frames(Conn &c, std::size_t pos, std::uint64_t now)
{
  ccb_bench::WsHead h;
  while (!c.closed && ccb_bench::ws_head(c.buf.data() + pos, c.len - pos, h)) {
    if (c.len - pos < h.total()) {
      if (c.buf.size() < h.total() + 4096) c.buf.resize(h.total() + 4096);
      break;
    }
    std::string_view payload(c.buf.data() + pos + h.header, static_cast<std::size_t>(h.length));
    pos += h.total();
    int opcode = h.opcode;
    if (opcode == 0x1) on_text(c, payload, now);
    else if (opcode == 0x9) {
      std::string pong = ws_frame(0xA, payload);
      send_all(c.fd, pong.data(), pong.size());
    } else if (opcode == 0x8) fail(c, "closed by the server");
  }
  return pos;
}

void Load::on_text(Conn &c, std::string_view t, std::uint64_t now)
{
  ++t_.frames;
  if (t.substr(0, 19) == R"({"type":"term_out",)") return term_out(c, t, now);
  if (t.substr(0, 20) == R"({"type":"attach_ok",)") {
    c.latest_seq = number_after(t, R"("latest_seq":)");
    c.attached = true;
    ++t_.attached;
    --inflight_;
    return;
  }
  if (t.substr(0, 16) == R"({"type":"error",)" && t_.errors++ < 5)
    std::fprintf(stderr, "ccb_cc_load: %.*s\n", static_cast<int>(t.size()), t.data());
}

void Load::term_out(Conn &c, std::string_view t, std::uint64_t now)
{
  // The attach's replay has seq <= latest_seq; a resync after falling behind may come as one
  // snapshot of the ring (data.snapshot), what was before it in the ring being lost to this client.
  if (!c.attached || number_after(t, R"("seq":)") <= c.latest_seq) return;
  if (t.find(R"("snapshot":true)") != std::string_view::npos) ++t_.snapshots;
  auto at = t.find(R"("data_b64":")");
  if (at == std::string_view::npos) return;
  std::size_t m = b64_.decode(t.data() + at + 12, t.size() - at - 12, decoded_);
  c.bytes += m;
  t_.bytes += m;
  c.lines.feed(decoded_.data(), m, now, &lat_);
  if (c.lines.ended() && !c.ended) {
    c.ended = true;
    c.end_ns = now;
    ++t_.ended;
  }
}

void Load::send_go()
{
  go_ns_ = mono_ns();
  std::size_t k = static_cast<std::size_t>(a_.per_session);
  for (std::size_t s = 0; s < a_.sessions.size(); ++s) {
    Conn &c = conns_[s * k];
    std::string f = ws_frame(0x1, R"({"type":"term_in","session_id":")" + a_.sessions[s] + R"(","data_b64":"Z28N"})");
    if (c.closed || !send_all(c.fd, f.data(), f.size())) fail(c, "go not sent");
  }
}

void Load::mark()
{
  std::printf("{\"bytes\":%llu,\"frames\":%llu,\"samples\":%llu,\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu,"
              "\"snapshots\":%llu,\"errors\":%llu,\"open\":%zu}\n",
              static_cast<unsigned long long>(t_.bytes), static_cast<unsigned long long>(t_.frames),
              static_cast<unsigned long long>(lat_.count()), static_cast<unsigned long long>(lat_.quantile(0.5)),
              static_cast<unsigned long long>(lat_.quantile(0.99)), static_cast<unsigned long long>(lat_.max()),
              static_cast<unsigned long long>(t_.snapshots), static_cast<unsigned long long>(t_.errors),
              static_cast<std::size_t>(std::count_if(conns_.begin(), conns_.end(), [](const Conn &c) { return !c.closed; })));
  std::fflush(stdout);
  lat_ = Histogram();
}

void Load::print_flood(bool ok)
{
  std::vector<double> rates;
  std::uint64_t last = go_ns_, least = ~0ull;
  for (const Conn &c : conns_) {
    if (!c.end_ns) continue;
    last = std::max(last, c.end_ns);
    least = std::min(least, c.bytes);
    rates.push_back(static_cast<double>(c.bytes) / (static_cast<double>(c.end_ns - go_ns_) / 1e9));
  }
  std::sort(rates.begin(), rates.end());
  double secs = static_cast<double>(last - go_ns_) / 1e9;
  std::printf("{\"ok\":%s,\"clients\":%zu,\"ended\":%zu,\"bytes\":%llu,\"seconds\":%.6f,\"client_min_bytes\":%llu,"
              "\"client_median_bps\":%.0f,\"client_min_bps\":%.0f,\"frames\":%llu,\"samples\":%llu,\"p50_us\":%llu,"
              "\"p99_us\":%llu,\"max_us\":%llu,\"snapshots\":%llu,\"errors\":%llu}\n",
              ok ? "true" : "false", conns_.size(), rates.size(), static_cast<unsigned long long>(t_.bytes), secs,
              static_cast<unsigned long long>(rates.empty() ? 0 : least), rates.empty() ? 0 : rates[rates.size() / 2],
              rates.empty() ? 0 : rates.front(), static_cast<unsigned long long>(t_.frames),
              static_cast<unsigned long long>(lat_.count()), static_cast<unsigned long long>(lat_.quantile(0.5)),
              static_cast<unsigned long long>(lat_.quantile(0.99)), static_cast<unsigned long long>(lat_.max()),
              static_cast<unsigned long long>(t_.snapshots), static_cast<unsigned long long>(t_.errors));
}

int Load::run()
{
  if (a_.marks) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = ~0u;
    epoll_ctl(ep_, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
  }
  std::uint64_t deadline = start_ns_ + static_cast<std::uint64_t>(a_.timeout_s) * 1000000000ull;
  std::vector<epoll_event> evs(1024);
  for (;;) {
    fill_batch();
    if (!announced_ && next_ >= conns_.size() && all_attached()) {
      announced_ = true;
      if (a_.go) send_go();
      if (a_.marks) {
        std::printf("{\"attached\":%llu,\"errors\":%llu,\"seconds\":%.3f}\n", static_cast<unsigned long long>(t_.attached),
                    static_cast<unsigned long long>(t_.errors), static_cast<double>(mono_ns() - start_ns_) / 1e9);
        std::fflush(stdout);
      }
    }
    if (a_.go && announced_ && t_.ended >= conns_.size()) break;
    if (mono_ns() > deadline) {
      std::fprintf(stderr, "ccb_cc_load: timed out\n");
      break;
    }
    int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 1000);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u32 != ~0u) {
        Conn &c = conns_[evs[i].data.u32];
        if (!c.closed) on_readable(c);
        continue;
      }
      char line[256];
      ssize_t r = ::read(STDIN_FILENO, line, sizeof line);
      if (r <= 0) return t_.errors ? 1 : 0;
      mark();
    }
  }
  bool ok = t_.errors == 0 && t_.ended >= conns_.size();
  if (a_.go) print_flood(ok);
  return ok ? 0 : 1;
}

std::vector<std::string> split(const std::string &s, char sep)
{
  std::vector<std::string> out;
  std::size_t from = 0;
  while (from <= s.size()) {
    auto to = s.find(sep, from);
    if (to == std::string::npos) to = s.size();
    if (to > from) out.push_back(s.substr(from, to - from));
    from = to + 1;
  }
  return out;
}

bool parse(int argc, char **argv, Args &a)
{
  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--go") a.go = true;
    else if (opt == "--marks") a.marks = true;
    else if (i + 1 >= argc) return false;
    else if (opt == "--port") a.port = std::atoi(argv[++i]);
    else if (opt == "--token") a.token = argv[++i];
    else if (opt == "--sessions") a.sessions = split(argv[++i], ',');
    else if (opt == "--sessions-file") {
      std::ifstream in(argv[++i]);
      for (std::string l; std::getline(in, l);)
        if (!l.empty()) a.sessions.push_back(l);
    } else if (opt == "--per-session") a.per_session = std::atol(argv[++i]);
    else if (opt == "--batch") a.batch = std::atol(argv[++i]);
    else if (opt == "--timeout") a.timeout_s = std::atol(argv[++i]);
    else return false;
  }
  return a.port > 0 && !a.token.empty() && !a.sessions.empty() && a.per_session > 0 && a.batch > 0 && a.go != a.marks;
}

}  // namespace

int main(int argc, char **argv)
{
  Args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(stderr, "usage: ccb_cc_load --port P --token T (--sessions ID,... | --sessions-file F) "
                         "[--per-session K] [--batch N] [--timeout S] (--go | --marks)\n");
    return 2;
  }
  return Load(std::move(a)).run();
}
