// ccbridge's side of the benchmarks (tests/bench/run.sh runs it beside the official SDKs).
//   ccb_bench parse <corpus.jsonl>                    frame + validate + classify every line (what
//                                                     a Stream does per line; the DOM is built
//                                                     on first field access)
//   ccb_bench parse-dom <corpus.jsonl>                the same, and build every line's DOM
//   ccb_bench query --cli <fake_cli> --messages N [--read]
//                                                     end to end through query() (the caller sets
//                                                     CCB_FAKE_SCRIPT_TEXT for the fake CLI)
//   ccb_bench session-open --cli <fake> --requests K  K times Session::open (with initialize) + one
//                                                     prompt until its first message; the median
//   ccb_bench session-control --cli <fake> --requests K   K sequential control round trips
//   ccb_bench session-stream --cli <fake> --messages N [--read]   one turn's messages through a Session
// Each prints one JSON line with the counts and the wall time. query and session-stream read only
// each message's type (lazy: the DOM is never built); with --read they read what the peers'
// harnesses read of every message (see Reading), and report the totals so that run.sh can check
// that both sides read the same.
#include "protocol/framer.hpp"
#include "protocol/message_impl.hpp"

#include <ccbridge/ccbridge.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int parse(const char *path, bool dom)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ccb_bench: cannot read %s\n", path);
    return 2;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();

  std::uint64_t messages = 0, invalid = 0, typed = 0;
  auto t0 = std::chrono::steady_clock::now();
  ccbridge::detail::LineFramer framer(64u << 20);
  auto sink = [&](const ccbridge::detail::FramerEvent &ev) {
    if (ev.kind != ccbridge::detail::FramerEvent::Kind::line) return;
    ccbridge::Message m = ccbridge::detail::parse_checked_line(std::string(ev.bytes), ev.line_number, ev.has_nul);
    ++messages;
    if (m.type() == ccbridge::MessageType::invalid_line) ++invalid;
    if (m.type() != ccbridge::MessageType::unknown) ++typed;
    if (dom && !m.json().is_object()) ++invalid;
  };
  // Feed in 64 KiB reads, as from a pipe.
  for (std::size_t off = 0; off < data.size(); off += 65536) {
    framer.feed(data.data() + off, std::min<std::size_t>(65536, data.size() - off), sink);
  }
  framer.finish(sink);
  double s = seconds_since(t0);
  std::printf("{\"impl\":\"%s\",\"what\":\"parse\",\"messages\":%llu,\"bytes\":%zu,\"seconds\":%.6f,"
              "\"invalid\":%llu}\n",
              dom ? "ccbridge (full DOM)" : "ccbridge", static_cast<unsigned long long>(messages), data.size(), s,
              static_cast<unsigned long long>(invalid));
  (void)typed;
  return invalid == 0 ? 0 : 1;
}

// What a caller reads of each message. Lazy: its type only. Equal work (--read), as the peers'
// harnesses (peers/py_query.py, py_session.py, ts_query.mjs) do: the type of every message; of an
// assistant message its text (the text blocks joined), session id and usage; of a result its
// session id and usage. The totals go into the JSON line (run.sh compares them across
// implementations); text_chars is in bytes here, in characters there, alike for the ASCII text of
// the workload.
struct Reading {
  bool read = false;
  std::uint64_t messages = 0, assistant = 0, results = 0, text_chars = 0, output_tokens = 0, session_ids = 0;

  void operator()(const ccbridge::Message &m)
  {
    ++messages;
    ccbridge::MessageType t = m.type();
    if (t == ccbridge::MessageType::assistant) {
      ++assistant;
      if (read) {
        text_chars += m.text().size();
        take(m);
      }
    } else if (t == ccbridge::MessageType::result) {
      ++results;
      if (read) take(m);
    }
  }
  void take(const ccbridge::Message &m)
  {
    if (!m.session_id().empty()) ++session_ids;
    output_tokens += static_cast<std::uint64_t>(m.token_usage().output_tokens.value_or(0));
  }
  std::string json() const
  {
    auto u = [](std::uint64_t v) { return std::to_string(v); };
    return "\"read\":\"" + std::string(read ? "equal" : "lazy") + "\",\"messages\":" + u(messages) +
           ",\"assistant\":" + u(assistant) + ",\"results\":" + u(results) +
           (read ? ",\"text_chars\":" + u(text_chars) + ",\"output_tokens\":" + u(output_tokens) +
                       ",\"session_ids\":" + u(session_ids)
                 : std::string());
  }
};

int query(const char *cli, long expected, bool read)
{
  ccbridge::Options o;
  o.cli_path = cli;
  Reading r{read};
  auto t0 = std::chrono::steady_clock::now();
  ccbridge::Stream s = ccbridge::query("benchmark", o);
  for (const ccbridge::Message &m : s) r(m);
  double secs = seconds_since(t0);
  std::printf("{\"impl\":\"ccbridge\",\"what\":\"query\",%s,\"seconds\":%.6f}\n", r.json().c_str(), secs);
  return expected > 0 && r.messages < static_cast<std::uint64_t>(expected) ? 1 : 0;
}

// The ceiling of query: the same CLI and script read by the least a reader can do. The CLI starts
// with a 1 MiB stdout pipe (as ccbridge's), gets one user line, and its stdout is read in 1 MiB
// reads until EOF, counting lines; nothing is parsed. Timed from before the fork, like query.
int raw_query(const char *cli, long expected)
{
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  (void)fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execl(cli, cli, static_cast<char *>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  const char user[] = "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"benchmark\"}}\n";
  if (write(in[1], user, sizeof user - 1) != static_cast<ssize_t>(sizeof user - 1)) throw std::runtime_error("write");
  std::vector<char> buf(1 << 20);
  std::uint64_t lines = 0, bytes = 0;
  for (;;) {
    ssize_t n = read(out[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes += static_cast<std::uint64_t>(n);
    for (const char *p = buf.data(), *end = p + n; (p = static_cast<const char *>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))); ++p)
      ++lines;
  }
  double secs = seconds_since(t0);
  close(in[1]);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("{\"impl\":\"raw reader\",\"what\":\"query\",\"read\":\"none\",\"messages\":%llu,\"bytes\":%llu,\"seconds\":%.6f}\n",
              static_cast<unsigned long long>(lines), static_cast<unsigned long long>(bytes), secs);
  return expected > 0 && lines < static_cast<std::uint64_t>(expected) ? 1 : 0;
}

// K times: Session::open (with initialize), send a prompt, wait for its first message, close.
// Reports the median open-to-first-message time (the close is not timed).
int session_open(const char *cli, long k)
{
  ccbridge::Runtime rt;
  std::vector<double> secs;
  for (long i = 0; i < k; ++i) {
    ccbridge::SessionOptions so;
    so.options.cli_path = cli;
    auto t0 = std::chrono::steady_clock::now();
    ccbridge::Session s = ccbridge::Session::open(rt, so);
    s.send("benchmark");
    ccbridge::Message m;
    if (s.messages().pull(m, std::chrono::seconds(60)) != ccbridge::PullStatus::message) {
      throw std::runtime_error("no first message");
    }
    secs.push_back(seconds_since(t0));
    s.close();
  }
  std::sort(secs.begin(), secs.end());
  std::printf("{\"impl\":\"ccbridge\",\"what\":\"session-open\",\"opens\":%ld,\"median_seconds\":%.6f}\n", k,
              secs[secs.size() / 2]);
  return 0;
}

// K sequential control round trips (set_permission_mode) on one open session.
int session_control(const char *cli, long k)
{
  ccbridge::Runtime rt;
  ccbridge::SessionOptions so;
  so.options.cli_path = cli;
  ccbridge::Session s = ccbridge::Session::open(rt, so);
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < k; ++i) s.set_permission_mode("default");
  double secs = seconds_since(t0);
  s.close();
  std::printf("{\"impl\":\"ccbridge\",\"what\":\"session-control\",\"requests\":%ld,\"seconds\":%.6f}\n", k, secs);
  return 0;
}

int session_stream(const char *cli, long expected, bool read)
{
  ccbridge::Runtime rt;
  ccbridge::SessionOptions so;
  so.options.cli_path = cli;
  ccbridge::Session s = ccbridge::Session::open(rt, so);
  auto t0 = std::chrono::steady_clock::now();
  s.send("benchmark");
  Reading r{read};
  ccbridge::Message m;
  while (s.messages().pull(m, std::chrono::seconds(120)) == ccbridge::PullStatus::message) {
    r(m);
    if (m.is(ccbridge::MessageType::result)) break;
  }
  double secs = seconds_since(t0);
  s.close();
  std::printf("{\"impl\":\"ccbridge\",\"what\":\"session-stream\",%s,\"seconds\":%.6f}\n", r.json().c_str(), secs);
  return expected > 0 && r.messages < static_cast<std::uint64_t>(expected) ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv)
{
  try {
    if (argc == 3 && std::strcmp(argv[1], "parse") == 0) return parse(argv[2], false);
    if (argc == 3 && std::strcmp(argv[1], "parse-dom") == 0) return parse(argv[2], true);
    if (argc >= 4 && (std::strncmp(argv[1], "query", 5) == 0 || std::strncmp(argv[1], "session-", 8) == 0)) {
      const char *cli = nullptr;
      long n = 0;
      bool read = false, ok = true;
      for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--read") == 0) read = true;
        else if (i + 1 < argc && std::strcmp(argv[i], "--cli") == 0) cli = argv[++i];
        else if (i + 1 < argc && (std::strcmp(argv[i], "--messages") == 0 || std::strcmp(argv[i], "--requests") == 0))
          n = std::atol(argv[++i]);
        else ok = false;
      }
      if (!ok) cli = nullptr;  // an unknown argument: the usage
      if (cli && std::strcmp(argv[1], "query") == 0) return query(cli, n, read);
      if (cli && std::strcmp(argv[1], "query-raw") == 0) return raw_query(cli, n);
      if (cli && std::strcmp(argv[1], "session-open") == 0) return session_open(cli, n > 0 ? n : 20);
      if (cli && std::strcmp(argv[1], "session-control") == 0) return session_control(cli, n > 0 ? n : 2000);
      if (cli && std::strcmp(argv[1], "session-stream") == 0) return session_stream(cli, n, read);
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ccb_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: ccb_bench parse|parse-dom <corpus> | query --cli <fake> --messages N [--read] |\n"
                       "       query-raw --cli <fake> --messages N |\n"
                       "       session-open --cli <fake> --requests K | session-control --cli <fake> --requests K |\n"
                       "       session-stream --cli <fake> --messages N [--read]\n");
  return 2;
}
