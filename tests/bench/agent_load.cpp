// Synthetic agents and clients for the "agents on many hosts" benchmark (tests/bench/cc_agents.sh):
// N agents on /ws/agent (docs/AGENT-PROTOCOL.md), each registering with its own server id, running
// the sessions the control plane starts on it as stand-in terminals that print one stamped line
// every --interval-ms; and M clients on /ws/client, each attached to one of those sessions, that
// decode every term_out, check that each seq arrives once and in order, and time each line from
// the agent's "PTY read" (the line's CLOCK_MONOTONIC stamp, same host) to its arrival.
//
//   ccb_agent_load --port P --agent-token A --ui-token U [--agents 50] [--sessions-per-agent 20]
//                  [--clients 200] [--interval-ms 250] [--chunk-bytes 200] [--replay-bytes 262144]
//                  [--down-ms 0] [--storm-timeout 60] [--legacy] [--timeout 600]
//
// Prints one JSON line per step: {"registered":N,...} once every agent has its register_ok; then,
// once the control plane has started agents x sessions-per-agent sessions on them (the driver
// creates them through REST), {"sessions":S,...} and, with every client attached, {"attached":M,...}.
// Then it reads commands on stdin, one a line:
//   mark    the counters (cumulative), and latency percentiles since the previous mark
//   storm   every agent drops its connection at once and dials again after --down-ms; each
//           re-registers with its sessions and last seqs and answers the control plane's replay
//           from its buffer (against a control plane that does not resume, it resends its buffer).
//           Prints {"storm":...} when every client has read output produced after its agent's
//           re-registration, or at --storm-timeout: the times, and what was lost on the way.
// It exits at stdin EOF or --timeout.
//
// Loss, as the clients see it: "missing" seqs skipped without notice, "gap_reported" seqs a gap
// frame announced, "resync_skipped" seqs a flagged snapshot replaced, "dupes" seqs read twice.
// --legacy: agents behave as the original cc-agent: no `sessions` in register, and output made
// while disconnected is lost (its dead send queue), never resent.
#include "term_lines.hpp"
#include "ws_frames.hpp"

#include <asio.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace {

using asio::ip::tcp;
using ccb_bench::Histogram;
using ccb_bench::mono_ns;
using ccb_bench::number_after;
using ccb_bench::string_after;

struct Args {
  int port = 0;
  std::string agent_token, ui_token, prefix = "bench-agent-";
  long agents = 50, sessions_per_agent = 20, clients = 200, interval_ms = 250, chunk_bytes = 200;
  long replay_bytes = 262144, down_ms = 0, storm_timeout_s = 60, timeout_s = 600, backoff_ms = 500;
  bool legacy = false;
};

std::int64_t unix_ms()
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string ms_field() { return R"(,"ts_ms":)" + std::to_string(unix_ms()); }

// One client-side WebSocket over Asio: connect, upgrade, then frames both ways. close() drops the
// connection at once (no close frame), as a cut link would; every handler of the connection it
// dropped is ignored (gen_).
class WsConn {
public:
  struct Handler {
    virtual void on_open() = 0;
    virtual void on_text(std::string_view text, std::uint64_t now) = 0;
    virtual void on_closed(const std::string &why) = 0;
    virtual ~Handler() = default;
  };
  WsConn(asio::io_context &io, Handler &h) : io_(io), sock_(io), h_(h) {}

  void open(int port, const std::string &target);
  void send(std::string_view json)
  {
    ccb_bench::append_ws_frame(pending_, 0x1, json);
    flush();
  }
  void close();
  bool up() const { return up_; }

private:
  void read();
  void on_bytes(std::uint64_t now);
  std::size_t frames(std::size_t pos, std::uint64_t now);
  void flush();
  void fail(const std::string &why);

  asio::io_context &io_;
  tcp::socket sock_;
  Handler &h_;
  std::vector<char> buf_ = std::vector<char>(1 << 16);
  std::size_t len_ = 0;
  std::string pending_, writing_;
  bool connected_ = false, up_ = false, busy_ = false;
  unsigned gen_ = 0;
};

void WsConn::open(int port, const std::string &target)
{
  close();
  unsigned gen = gen_;
  pending_ = ccb_bench::ws_upgrade_request(port, target);
  sock_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)),
                      [this, gen](const asio::error_code &ec) {
                        if (gen != gen_) return;
                        if (ec) return fail("connect: " + ec.message());
                        sock_.set_option(tcp::no_delay(true));
                        connected_ = true;
                        flush();
                        read();
                      });
}

void WsConn::close()
{
  ++gen_;
  asio::error_code ec;
  sock_.close(ec);
  sock_ = tcp::socket(io_);
  connected_ = up_ = busy_ = false;
  len_ = 0;
  pending_.clear();
}

void WsConn::fail(const std::string &why)
{
  close();
  h_.on_closed(why);
}

void WsConn::flush()
{
  if (busy_ || !connected_ || pending_.empty()) return;
  writing_.swap(pending_);
  pending_.clear();
  busy_ = true;
  unsigned gen = gen_;
  asio::async_write(sock_, asio::buffer(writing_), [this, gen](const asio::error_code &ec, std::size_t) {
    if (gen != gen_) return;
    if (ec) return fail("write: " + ec.message());
    busy_ = false;
    flush();
  });
}

void WsConn::read()
{
  if (buf_.size() - len_ < 16384) buf_.resize(buf_.size() * 2);
  unsigned gen = gen_;
  sock_.async_read_some(asio::buffer(buf_.data() + len_, buf_.size() - len_),
                        [this, gen](const asio::error_code &ec, std::size_t n) {
                          if (gen != gen_) return;
                          if (ec) return fail(ec == asio::error::eof ? "closed by the server" : "read: " + ec.message());
                          len_ += n;
                          on_bytes(mono_ns());
                          if (gen == gen_) read();
                        });
}

void WsConn::on_bytes(std::uint64_t now)
{
  std::size_t pos = 0;
  if (!up_) {
    std::string_view head(buf_.data(), len_);
    auto end = head.find("\r\n\r\n");
    if (end == std::string_view::npos) return;
    if (!ccb_bench::ws_upgraded(head)) return fail(std::string(head.substr(0, head.find('\r'))));
    up_ = true;
    pos = end + 4;
    unsigned gen = gen_;
    h_.on_open();
    if (gen != gen_) return;
  }
  pos = frames(pos, now);
  std::memmove(buf_.data(), buf_.data() + pos, len_ - pos);
  len_ -= pos;
}

// The whole frames in buf_ from pos; returns where the first incomplete one starts.
std::size_t WsConn::frames(std::size_t pos, std::uint64_t now)
{
  ccb_bench::WsHead h;
  unsigned gen = gen_;
  while (gen == gen_ && ccb_bench::ws_head(buf_.data() + pos, len_ - pos, h) && len_ - pos >= h.total()) {
    std::string_view payload(buf_.data() + pos + h.header, static_cast<std::size_t>(h.length));
    pos += h.total();
    if (h.opcode == 0x1) {
      h_.on_text(payload, now);
    } else if (h.opcode == 0x9) {
      ccb_bench::append_ws_frame(pending_, 0xA, payload);
      flush();
    } else if (h.opcode == 0x8) {
      unsigned code = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]) : 0;
      std::string why = "close " + std::to_string(code) + " " + std::string(payload.substr(payload.size() >= 2 ? 2 : 0));
      fail(why);
      return 0;
    }
  }
  return gen == gen_ ? pos : 0;
}

// One session of a synthetic agent: its seq, the output it keeps for replays, and whether its
// live output may go out now.
struct Session {
  struct Chunk {
    std::uint64_t seq;
    std::string b64;
  };
  std::string id;
  std::uint64_t seq = 0;
  std::deque<Chunk> kept;
  std::size_t kept_bytes = 0;
  bool live = true, held = false, ended = false, listed = false;
  std::uint64_t storm_seq = ~0ull;  // its seq at re-registration after a storm: a client recovers past it
};

struct Totals {
  std::uint64_t bytes_out = 0, frames_out = 0, resent = 0, bytes = 0, frames = 0, missing = 0, gap_reported = 0,
                dupes = 0, resyncs = 0, resync_skipped = 0, errors = 0, drops = 0, refused = 0, registers = 0;
};

class Load;

class Agent : public WsConn::Handler {
public:
  Agent(Load &load, asio::io_context &io, std::string id, long index);
  void connect();
  void storm_close();
  const std::string &id() const { return id_; }
  std::vector<std::unique_ptr<Session>> sessions;

private:
  void on_open() override;
  void on_text(std::string_view t, std::uint64_t now) override;
  void on_closed(const std::string &why) override;
  void on_register_ok(std::string_view t);
  void on_start(std::string_view sid);
  void on_replay(Session &s, std::uint64_t after);
  void end(Session &s);
  void tick();
  void emit(Session &s);
  void send_chunk(const Session &s, const Session::Chunk &c);
  void send_exit(const Session &s);
  void beat();
  Session *find(std::string_view sid);

  Load &load_;
  std::string id_;
  WsConn ws_;
  asio::steady_timer tick_, beat_, retry_;
  std::unordered_map<std::string, Session *> by_id_;
  std::chrono::steady_clock::time_point next_tick_;
  bool registered_ = false, ever_registered_ = false;
  std::string line_;
};

class Client : public WsConn::Handler {
public:
  Client(Load &load, asio::io_context &io, Session &s) : load_(load), s_(s), ws_(io, *this) {}
  void connect();
  bool recovered = false;

private:
  void on_open() override;
  void on_text(std::string_view t, std::uint64_t now) override;
  void on_closed(const std::string &why) override;
  void term_out(std::uint64_t seq, std::string_view b64, std::string_view t, std::uint64_t now);
  void accept(std::uint64_t seq, std::string_view b64, std::uint64_t now);
  void gap(std::string_view t);

  Load &load_;
  Session &s_;
  WsConn ws_;
  bool attached_ = false;
  std::uint64_t latest_ = 0, expect_ = 0;
  std::vector<std::pair<std::uint64_t, std::string>> early_;  // term_out before attach_ok (the original)
  ccb_bench::LineScanner lines_;
};

class Load {
public:
  explicit Load(Args args) : a(std::move(args)), in_(io, ::dup(STDIN_FILENO)), storm_timer_(io), deadline_(io) {}
  int run();

  void on_registered(bool first);
  void on_session(Session &s);
  void on_attached();
  void on_recovered();
  void on_agent_back();

  Args a;
  asio::io_context io;
  Totals t;
  Histogram lat;
  ccb_bench::Base64 b64;
  std::vector<char> decoded;
  bool storming = false;
  std::uint64_t start_ns = mono_ns(), storm_ns = 0;

private:
  void read_command();
  void command(const std::string &c);
  void mark();
  void storm();
  void storm_report(bool recovered);
  void open_clients();

  asio::posix::stream_descriptor in_;
  asio::streambuf cmd_;
  asio::steady_timer storm_timer_, deadline_;
  std::vector<std::unique_ptr<Agent>> agents_;
  std::vector<std::unique_ptr<Client>> clients_;
  long registered_ = 0, sessions_ = 0, attached_ = 0, recovered_ = 0, back_ = 0;
  std::uint64_t back_ns_ = 0, recovered_ns_ = 0;
  Totals storm_from_;
};

// ---- Agent ----

Agent::Agent(Load &load, asio::io_context &io, std::string id, long index)
    : load_(load), id_(std::move(id)), ws_(io, *this), tick_(io), beat_(io), retry_(io)
{
  // Agents print in turn across the interval, not all at its start.
  next_tick_ = std::chrono::steady_clock::now() +
               std::chrono::microseconds(load.a.interval_ms * 1000 * index / std::max(1L, load.a.agents));
  tick();
  line_.reserve(static_cast<std::size_t>(load.a.chunk_bytes));
}

void Agent::connect() { ws_.open(load_.a.port, "/ws/agent?token=" + load_.a.agent_token); }

void Agent::storm_close()
{
  ws_.close();
  registered_ = false;
  retry_.expires_after(std::chrono::milliseconds(load_.a.down_ms));
  retry_.async_wait([this](const asio::error_code &ec) {
    if (!ec) connect();
  });
}

void Agent::on_open()
{
  std::string list;
  for (auto &s : sessions) {
    if (load_.storming) s->storm_seq = s->seq;
    s->listed = !load_.a.legacy;
    if (load_.a.legacy) continue;
    list += (list.empty() ? "" : ",") + std::string(R"({"session_id":")") + s->id + R"(","last_seq":)" +
                std::to_string(s->seq) + (s->ended ? R"(,"exit":{"exit_code":0,"reason":"exited"}})" : "}");
  }
  std::string data = R"({"server_id":")" + id_ + R"(","hostname":")" + id_ +
                     R"(","tags":null,"os":"linux","arch":"amd64","agent_version":"ccb-agent-load","allow_roots":["/"],"claude_path":"stand-in")";
  if (!load_.a.legacy) data += R"(,"sessions":[)" + list + R"(],"instance_id":")" + id_ + "-" + std::to_string(load_.start_ns) + "\"";
  ws_.send(R"({"type":"register","server_id":")" + id_ + "\"" + ms_field() + R"(,"data":)" + data + "}}");
}

void Agent::on_closed(const std::string &why)
{
  registered_ = false;
  if (why.rfind("close 1008", 0) == 0) ++load_.t.refused;
  else ++load_.t.drops;
  if (load_.t.drops + load_.t.refused <= 5) std::fprintf(stderr, "ccb_agent_load: %s: %s\n", id_.c_str(), why.c_str());
  retry_.expires_after(std::chrono::milliseconds(load_.a.backoff_ms));
  retry_.async_wait([this](const asio::error_code &ec) {
    if (!ec) connect();
  });
}

Session *Agent::find(std::string_view sid)
{
  auto it = by_id_.find(std::string(sid));
  return it == by_id_.end() ? nullptr : it->second;
}

void Agent::on_text(std::string_view t, std::uint64_t)
{
  std::string_view type = string_after(t, R"("type":")"), sid = string_after(t, R"("session_id":")");
  if (type == "register_ok") return on_register_ok(t);
  if (type == "start_session") return on_start(sid);
  Session *s = find(sid);
  if (!s) {
    if (type == "stop_session" || type == "replay" || type == "pty_in" || type == "resize")
      ws_.send(R"({"type":"error","server_id":")" + id_ + R"(","session_id":")" + std::string(sid) + "\"" + ms_field() +
               R"(,"data":{"message":"session not found"}})");
    return;
  }
  if (type == "replay") return on_replay(*s, number_after(t, R"("seq":)"));
  if (type == "stop_session") return end(*s);
  if (type == "hold") s->held = t.find(R"("hold":true)") != std::string_view::npos;
  if (type == "release") s->kept.clear();
}

void Agent::on_register_ok(std::string_view t)
{
  registered_ = true;
  bool resume = t.find(R"("resume":true)") != std::string_view::npos;
  for (auto &s : sessions) {
    if (!s->listed) continue;
    s->listed = false;
    if (resume) {
      s->live = false;  // until the control plane's replay, release or stop
      continue;
    }
    on_replay(*s, 0);  // a control plane that does not resume: all we hold, its seq check drops the rest
  }
  ++load_.t.registers;
  load_.on_registered(!ever_registered_);
  ever_registered_ = true;
  beat();
}

void Agent::on_start(std::string_view sid)
{
  if (find(sid)) {
    ws_.send(R"({"type":"error","server_id":")" + id_ + R"(","session_id":")" + std::string(sid) + "\"" + ms_field() +
             R"(,"data":{"message":"session already exists"}})");
    return;
  }
  sessions.push_back(std::make_unique<Session>());
  Session &s = *sessions.back();
  s.id = std::string(sid);
  by_id_[s.id] = &s;
  load_.on_session(s);
}

void Agent::on_replay(Session &s, std::uint64_t after)
{
  for (const auto &c : s.kept)
    if (c.seq > after) {
      send_chunk(s, c);
      ++load_.t.resent;
    }
  if (s.ended) send_exit(s);
  s.live = true;
}

void Agent::end(Session &s)
{
  if (s.ended) return;
  s.ended = true;
  if (registered_ && s.live) send_exit(s);
}

void Agent::send_exit(const Session &s)
{
  ws_.send(R"({"type":"pty_exit","server_id":")" + id_ + R"(","session_id":")" + s.id + "\"" + ms_field() +
           R"(,"data":{"exit_code":0,"reason":"exited","last_seq":)" + std::to_string(s.seq) + "}}");
}

void Agent::tick()
{
  for (auto &s : sessions)
    if (!s->ended && !s->held) emit(*s);
  next_tick_ += std::chrono::milliseconds(load_.a.interval_ms);
  tick_.expires_at(next_tick_);
  tick_.async_wait([this](const asio::error_code &ec) {
    if (!ec) tick();
  });
}

// One "PTY read": a line stamped with its time and seq, kept for replays (bounded) and sent if it may.
void Agent::emit(Session &s)
{
  char stamp[64];
  int n = std::snprintf(stamp, sizeof stamp, "t=%019" PRIu64 " s=%" PRIu64 " ", mono_ns(), s.seq + 1);
  line_.assign(stamp, static_cast<std::size_t>(n));
  if (line_.size() + 2 < static_cast<std::size_t>(load_.a.chunk_bytes)) line_.append(static_cast<std::size_t>(load_.a.chunk_bytes) - 2 - line_.size(), 'x');
  line_ += "\r\n";
  Session::Chunk c{++s.seq, {}};
  ccb_bench::Base64::encode(line_, c.b64);
  bool out = registered_ && s.live;
  if (out) {
    send_chunk(s, c);
    load_.t.bytes_out += line_.size();
    ++load_.t.frames_out;
  }
  if (load_.a.legacy) return;  // the original keeps nothing: what it could not send is gone
  s.kept_bytes += line_.size();
  s.kept.push_back(std::move(c));
  while (s.kept_bytes > static_cast<std::size_t>(load_.a.replay_bytes)) {
    s.kept_bytes -= static_cast<std::size_t>(load_.a.chunk_bytes);
    s.kept.pop_front();
  }
}

void Agent::send_chunk(const Session &s, const Session::Chunk &c)
{
  ws_.send(R"({"type":"pty_out","server_id":")" + id_ + R"(","session_id":")" + s.id + R"(","seq":)" +
           std::to_string(c.seq) + ms_field() + R"(,"data_b64":")" + c.b64 + "\"}");
}

void Agent::beat()
{
  beat_.expires_after(std::chrono::seconds(5));
  beat_.async_wait([this](const asio::error_code &ec) {
    if (ec || !registered_) return;
    ws_.send(R"({"type":"heartbeat","server_id":")" + id_ + "\"" + ms_field() + "}");
    beat();
  });
}

// ---- Client ----

void Client::connect() { ws_.open(load_.a.port, "/ws/client?token=" + load_.a.ui_token); }

void Client::on_open() { ws_.send(R"({"type":"attach","data":{"session_id":")" + s_.id + R"(","since_seq":0}})"); }

void Client::on_closed(const std::string &why)
{
  if (load_.t.errors++ < 5) std::fprintf(stderr, "ccb_agent_load: client of %s: %s\n", s_.id.c_str(), why.c_str());
}

void Client::on_text(std::string_view t, std::uint64_t now)
{
  std::string_view type = string_after(t, R"("type":")");
  if (type == "term_out") return term_out(number_after(t, R"("seq":)"), string_after(t, R"("data_b64":")"), t, now);
  if (type == "gap") return gap(t);
  if (type == "attach_ok" && !attached_) {
    attached_ = true;
    latest_ = number_after(t, R"("latest_seq":)");
    expect_ = latest_ + 1;
    for (auto &e : early_) term_out(e.first, e.second, {}, now);
    early_.clear();
    return load_.on_attached();
  }
  if (type == "error" && load_.t.errors++ < 5) std::fprintf(stderr, "ccb_agent_load: %.*s\n", static_cast<int>(t.size()), t.data());
}

void Client::term_out(std::uint64_t seq, std::string_view b64, std::string_view t, std::uint64_t now)
{
  if (!attached_) {
    early_.emplace_back(seq, std::string(b64));
    return;
  }
  if (seq == 0 || seq <= latest_) return;  // notes without a seq; the attach's replay
  if (t.find(R"("snapshot":true)") != std::string_view::npos) {
    // Fell behind and was resynced: the ring replaces what this client had not read.
    std::uint64_t first = number_after(t, R"("first_seq":)");
    ++load_.t.resyncs;
    if (first > expect_) load_.t.resync_skipped += first - expect_;
    expect_ = std::max(expect_, seq + 1);
    return;
  }
  if (seq < expect_) {
    ++load_.t.dupes;
    return;
  }
  if (seq > expect_) load_.t.missing += seq - expect_;
  expect_ = seq + 1;
  accept(seq, b64, now);
}

void Client::accept(std::uint64_t seq, std::string_view b64, std::uint64_t now)
{
  std::size_t n = load_.b64.decode(b64.data(), b64.size(), load_.decoded);
  load_.t.bytes += n;
  ++load_.t.frames;
  lines_.feed(load_.decoded.data(), n, now, &load_.lat);
  if (load_.storming && !recovered && seq > s_.storm_seq) {
    recovered = true;
    load_.on_recovered();
  }
}

// {type:"gap", session_id, seq: the first seq after it, data:{from_seq, to_seq}}
void Client::gap(std::string_view t)
{
  std::uint64_t to = number_after(t, R"("to_seq":)");
  if (!attached_ || to < expect_) return;
  load_.t.gap_reported += to + 1 - std::max(expect_, number_after(t, R"("from_seq":)"));
  expect_ = to + 1;
}

// ---- Load ----

void Load::on_registered(bool first)
{
  if (!first) return on_agent_back();
  if (++registered_ < a.agents) return;
  std::printf("{\"registered\":%ld,\"seconds\":%.3f}\n", registered_, static_cast<double>(mono_ns() - start_ns) / 1e9);
  std::fflush(stdout);
}

void Load::on_agent_back()
{
  if (storming && ++back_ == a.agents) back_ns_ = mono_ns();
}

void Load::on_session(Session &)
{
  if (++sessions_ < a.agents * a.sessions_per_agent) return;
  std::printf("{\"sessions\":%ld,\"seconds\":%.3f}\n", sessions_, static_cast<double>(mono_ns() - start_ns) / 1e9);
  std::fflush(stdout);
  open_clients();
}

// Client i watches session i x S / M of all S in agent order: the same number on every agent.
void Load::open_clients()
{
  std::vector<Session *> all;
  for (auto &ag : agents_)
    for (auto &s : ag->sessions) all.push_back(s.get());
  for (long i = 0; i < a.clients; ++i) {
    clients_.push_back(std::make_unique<Client>(*this, io, *all[static_cast<std::size_t>(i) * all.size() / static_cast<std::size_t>(a.clients)]));
    clients_.back()->connect();
  }
}

void Load::on_attached()
{
  if (++attached_ < a.clients) return;
  std::printf("{\"attached\":%ld,\"seconds\":%.3f}\n", attached_, static_cast<double>(mono_ns() - start_ns) / 1e9);
  std::fflush(stdout);
}

void Load::on_recovered()
{
  recovered_ns_ = mono_ns();
  if (++recovered_ == a.clients) storm_report(true);
}

void Load::read_command()
{
  asio::async_read_until(in_, cmd_, '\n', [this](const asio::error_code &ec, std::size_t n) {
    if (ec) return io.stop();
    std::string line(asio::buffers_begin(cmd_.data()), asio::buffers_begin(cmd_.data()) + static_cast<std::ptrdiff_t>(n) - 1);
    cmd_.consume(n);
    command(line);
    read_command();
  });
}

void Load::command(const std::string &c)
{
  if (c == "mark") return mark();
  if (c == "storm" && !storming) return storm();
  std::printf("{\"error\":\"unknown command\"}\n");
  std::fflush(stdout);
}

void Load::mark()
{
  std::printf("{\"bytes_out\":%" PRIu64 ",\"frames_out\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"frames\":%" PRIu64
              ",\"samples\":%" PRIu64 ",\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"max_us\":%" PRIu64 ",\"missing\":%" PRIu64
              ",\"gap_reported\":%" PRIu64 ",\"dupes\":%" PRIu64 ",\"resyncs\":%" PRIu64 ",\"resync_skipped\":%" PRIu64
              ",\"errors\":%" PRIu64 ",\"drops\":%" PRIu64 ",\"refused\":%" PRIu64 "}\n",
              t.bytes_out, t.frames_out, t.bytes, t.frames, lat.count(), lat.quantile(0.5), lat.quantile(0.9), lat.quantile(0.99), lat.max(),
              t.missing, t.gap_reported, t.dupes, t.resyncs, t.resync_skipped, t.errors, t.drops, t.refused);
  std::fflush(stdout);
  lat = Histogram();
}

void Load::storm()
{
  storming = true;
  storm_ns = mono_ns();
  storm_from_ = t;
  recovered_ = back_ = 0;
  back_ns_ = recovered_ns_ = 0;
  for (auto &c : clients_) c->recovered = false;
  for (auto &ag : agents_) {
    for (auto &s : ag->sessions) s->storm_seq = ~0ull;
    ag->storm_close();
  }
  storm_timer_.expires_after(std::chrono::seconds(a.storm_timeout_s));
  storm_timer_.async_wait([this](const asio::error_code &ec) {
    if (!ec && storming) storm_report(false);
  });
}

void Load::storm_report(bool recovered)
{
  storming = false;
  storm_timer_.cancel();
  auto since = [this](std::uint64_t ns) { return ns ? static_cast<double>(ns - storm_ns) / 1e9 : -1.0; };
  std::printf("{\"storm\":true,\"recovered\":%s,\"clients_recovered\":%ld,\"agents_back\":%ld,\"agents_back_s\":%.3f,"
              "\"recover_s\":%.3f,\"resent\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"gap_reported\":%" PRIu64 ",\"dupes\":%" PRIu64
              ",\"resync_skipped\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"drops\":%" PRIu64 "}\n",
              recovered ? "true" : "false", recovered_, back_, since(back_ns_), since(recovered ? recovered_ns_ : 0),
              t.resent - storm_from_.resent, t.missing - storm_from_.missing, t.gap_reported - storm_from_.gap_reported,
              t.dupes - storm_from_.dupes, t.resync_skipped - storm_from_.resync_skipped, t.refused - storm_from_.refused,
              t.drops - storm_from_.drops);
  std::fflush(stdout);
}

int Load::run()
{
  for (long i = 0; i < a.agents; ++i) {
    char id[64];
    std::snprintf(id, sizeof id, "%s%02ld", a.prefix.c_str(), i);
    agents_.push_back(std::make_unique<Agent>(*this, io, id, i));
    agents_.back()->connect();
  }
  read_command();
  deadline_.expires_after(std::chrono::seconds(a.timeout_s));
  deadline_.async_wait([this](const asio::error_code &ec) {
    if (ec) return;
    std::fprintf(stderr, "ccb_agent_load: timed out\n");
    io.stop();
  });
  io.run();
  return t.errors ? 1 : 0;
}

bool parse(int argc, char **argv, Args &a)
{
  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--legacy") {
      a.legacy = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char *v = argv[++i];
    long *num = opt == "--agents" ? &a.agents : opt == "--sessions-per-agent" ? &a.sessions_per_agent
                : opt == "--clients" ? &a.clients : opt == "--interval-ms" ? &a.interval_ms
                : opt == "--chunk-bytes" ? &a.chunk_bytes : opt == "--replay-bytes" ? &a.replay_bytes
                : opt == "--down-ms" ? &a.down_ms : opt == "--storm-timeout" ? &a.storm_timeout_s
                : opt == "--timeout" ? &a.timeout_s : opt == "--backoff-ms" ? &a.backoff_ms : nullptr;
    if (num) *num = std::atol(v);
    else if (opt == "--port") a.port = std::atoi(v);
    else if (opt == "--agent-token") a.agent_token = v;
    else if (opt == "--ui-token") a.ui_token = v;
    else if (opt == "--prefix") a.prefix = v;
    else return false;
  }
  return a.port > 0 && !a.agent_token.empty() && !a.ui_token.empty() && a.agents > 0 && a.clients >= 0 &&
         a.sessions_per_agent > 0 && a.clients <= a.agents * a.sessions_per_agent && a.interval_ms > 0 && a.chunk_bytes >= 48;
}

}  // namespace

int main(int argc, char **argv)
{
  Args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(stderr, "usage: ccb_agent_load --port P --agent-token A --ui-token U [--agents N] [--sessions-per-agent S] "
                         "[--clients M] [--interval-ms I] [--chunk-bytes B] [--replay-bytes R] [--down-ms D] "
                         "[--storm-timeout S] [--backoff-ms B] [--prefix P] [--legacy] [--timeout S]\n");
    return 2;
  }
  return Load(std::move(a)).run();
}
