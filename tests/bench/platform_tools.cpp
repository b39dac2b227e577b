// Load client of the agent platform's tools benchmark (tests/bench/platform_tools.sh), two modes:
//   ccb_platform_tools mcp --server PATH [--calls N] [--clients C] [--warmup W]
//       the core McpClient calls `echo` of the MCP server PATH (spawned over stdio) directly: the floor
//       that the platform's HTTP layer adds to.
//   ccb_platform_tools http --port P --token T [--get PATH] [--calls N] [--clients C] [--warmup W]
//       POST /v1/tools/execute of the same `echo` call (server "t") on 127.0.0.1:P, or with --get a
//       plain authenticated GET of PATH (the HTTP layer alone), over keep-alive connections (connected
//       again whenever the server has closed one; the counts of connects and retries are printed).
// C clients (threads; one McpClient shared by all, or one HTTP connection each) make N calls in all,
// after W untimed calls. Every answer is checked: the echoed text, or status 200 for --get; a wrong one
// ends the program with status 1. Prints one JSON line: calls, seconds, per_s, p50_us, p99_us, and the
// CPU time per call of this process (cpu_us) and, in mcp mode, of the MCP server (server_cpu_us).
// Thread safety: the clients share only the McpClient (thread-safe) and write their own latency vectors.
#include <ccbridge/json.hpp>
#include <ccbridge/mcp_client.hpp>
#include <ccbridge/runtime.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// The same arguments in every row of the benchmark (platform_tools_bench.py sends these too).
const char *const kText = "ccbridge tools benchmark: a trivial echo of sixty-four bytes.....";
const std::string kArgs = std::string(R"({"text":")") + kText + "\"}";

struct Options {
  std::string mode, server, token, get;
  int port = 0;
  long calls = 2000, clients = 1, warmup = 200;
};

[[noreturn]] void die(const std::string &why)
{
  std::fprintf(stderr, "ccb_platform_tools: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(1);  // also from a client thread, with the others still running
}

long number(const char *s, long lo, long hi, const char *what)
{
  char *end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end || v < lo || v > hi)
    die(std::string(what) + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v;
}

Options parse(int argc, char **argv)
{
  Options o;
  if (argc < 2) die("usage: ccb_platform_tools mcp|http [options] (see the file's header)");
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) die("missing value after " + a);
    const char *v = argv[++i];
    if (a == "--server") o.server = v;
    else if (a == "--token") o.token = v;
    else if (a == "--get") o.get = v;
    else if (a == "--port") o.port = static_cast<int>(number(v, 1, 65535, "--port"));
    else if (a == "--calls") o.calls = number(v, 1, 10000000, "--calls");
    else if (a == "--clients") o.clients = number(v, 1, 1000, "--clients");
    else if (a == "--warmup") o.warmup = number(v, 0, 1000000, "--warmup");
    else die("unknown option " + a);
  }
  if (o.mode == "mcp" && o.server.empty()) die("mcp needs --server");
  if (o.mode == "http" && (!o.port || o.token.empty())) die("http needs --port and --token");
  if (o.mode != "mcp" && o.mode != "http") die("the mode is mcp or http, not " + o.mode);
  return o;
}

// The echoed text must be our arguments again (as JSON text, so compared parsed).
void check_echo(std::string_view text)
{
  ccbridge::JsonView v = ccbridge::parse_json(text);
  if (v["text"].string_or() != kText) die("wrong echo: " + std::string(text.substr(0, 200)));
}

double cpu_seconds_self()
{
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a process from /proc/PID/stat, in seconds (0 if it is gone).
double cpu_seconds_of(long pid)
{
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Our one child process (the MCP server McpClient spawned from one of our threads), or 0.
long child_pid()
{
  DIR *d = ::opendir("/proc/self/task");
  if (!d) return 0;
  long pid = 0;
  while (dirent *e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/children");
    long p = 0;
    if (f >> p) pid = p;
  }
  ::closedir(d);
  return pid;
}

// ---- HTTP ------------------------------------------------------------------------------------------

std::atomic<long> g_connects{0}, g_retries{0};

// A keep-alive HTTP/1.1 client of one request, sent again and again: it reuses its connection while
// the server keeps it open. A server that has closed one after its answer (`ccbridge serve` closes
// every plain HTTP connection so, without saying Connection: close) is taken to do it every time:
// from then on each request gets a connection of its own, so that no request races the server's
// close. A request that finds its connection closed before any byte of the answer is sent once more
// on a new one (the server never read it).
class Http {
public:
  Http(int port, std::string request) : port_(port), request_(std::move(request)) {}
  ~Http() { disconnect(); }
  Http(const Http &) = delete;
  Http &operator=(const Http &) = delete;

  // One exchange: the status, and the body in `body`.
  int exchange(std::string &body)
  {
    if (fd_ >= 0 && peer_closed()) closes_ = true;
    if (fd_ < 0 || closes_) connect();
    int status = send_and_read(body);
    if (status < 0) {
      g_retries.fetch_add(1, std::memory_order_relaxed);
      closes_ = true;
      connect();
      status = send_and_read(body);
      if (status < 0) die("the server closed a new connection without an answer");
    }
    if (closes_) disconnect();  // it will not take another request
    return status;
  }

private:
  void connect()
  {
    disconnect();
    g_connects.fetch_add(1, std::memory_order_relaxed);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
      die("cannot connect to 127.0.0.1:" + std::to_string(port_));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  void disconnect()
  {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

  // The server has closed (or reset) the idle connection.
  bool peer_closed() const
  {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  // -1 when the connection ended before any byte of the answer.
  int send_and_read(std::string &body)
  {
    for (std::size_t off = 0; off < request_.size();) {
      ssize_t n = ::send(fd_, request_.data() + off, request_.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return -1;
      off += static_cast<std::size_t>(n);
    }
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (fill()) continue;
      if (buf_.empty()) return -1;
      die("the answer's head was cut off");
    }
    std::string head = buf_.substr(0, end);
    for (char &ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::size_t cl = head.find("\r\ncontent-length:");
    if (cl == std::string::npos) die("an answer without Content-Length");
    std::size_t len = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    while (buf_.size() < end + 4 + len)
      if (!fill()) die("the answer's body was cut off");
    body.assign(buf_, end + 4, len);
    buf_.erase(0, end + 4 + len);
    return static_cast<int>(std::strtol(head.c_str() + 9, nullptr, 10));  // "http/1.1 200"
  }

  bool fill()
  {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int port_, fd_ = -1;
  bool closes_ = false;  // the server closed a connection after its answer: it does so every time
  std::string request_, buf_;
};

std::string http_request(const Options &o)
{
  std::string auth = "Host: 127.0.0.1\r\nAuthorization: Bearer " + o.token + "\r\n";
  if (!o.get.empty()) return "GET " + o.get + " HTTP/1.1\r\n" + auth + "\r\n";
  std::string body = R"({"toolId":"echo","server":"t","parameters":)" + kArgs + "}";
  return "POST /v1/tools/execute HTTP/1.1\r\n" + auth + "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A function that makes one checked call on the connection it owns.
std::function<void()> http_caller(const Options &o)
{
  auto conn = std::make_shared<Http>(o.port, http_request(o));
  bool get = !o.get.empty();
  return [conn, get] {
    std::string body;
    int status = conn->exchange(body);
    if (status != 200) die("status " + std::to_string(status) + ": " + body.substr(0, 300));
    if (get) return;
    ccbridge::JsonView v = ccbridge::parse_json(body);
    if (v["data"]["toolUsed"].string_or() != "echo") die("not echo's answer: " + body.substr(0, 300));
    check_echo(v["data"]["result"].string_or());
  };
}

// ---- the run ----------------------------------------------------------------------------------------

struct Result {
  double seconds = 0, cpu = 0, server_cpu = 0;
  std::vector<double> latencies_us;
};

// Runs `calls` calls split over the callers (one thread each) and times them.
Result run(std::vector<std::function<void()>> &callers, long calls, long server_pid)
{
  std::size_t c = callers.size();
  std::vector<std::vector<double>> lat(c);
  double cpu0 = cpu_seconds_self(), srv0 = server_pid ? cpu_seconds_of(server_pid) : 0;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < c; ++i) {
    long mine = calls / static_cast<long>(c) + (static_cast<long>(i) < calls % static_cast<long>(c) ? 1 : 0);
    threads.emplace_back([&, i, mine] {
      lat[i].reserve(static_cast<std::size_t>(mine));
      try {
        for (long k = 0; k < mine; ++k) {
          auto t0 = Clock::now();
          callers[i]();
          lat[i].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
      } catch (const std::exception &e) {
        die(e.what());  // a failed call (McpClient's Error, an answer that is not JSON)
      }
    });
  }
  for (auto &t : threads) t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu = cpu_seconds_self() - cpu0;
  r.server_cpu = server_pid ? cpu_seconds_of(server_pid) - srv0 : 0;
  for (auto &v : lat) r.latencies_us.insert(r.latencies_us.end(), v.begin(), v.end());
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  return r;
}

double percentile(const std::vector<double> &sorted, double p)
{
  auto rank = static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank ? rank - 1 : 0)];
}

void print(const Result &r, long calls, bool with_server)
{
  std::printf(R"({"calls":%ld,"seconds":%.4f,"per_s":%.1f,"p50_us":%.1f,"p99_us":%.1f,"p999_us":%.1f,"max_us":%.1f,)"
              R"("cpu_us":%.2f)",
              calls, r.seconds, static_cast<double>(calls) / r.seconds, percentile(r.latencies_us, 50),
              percentile(r.latencies_us, 99), percentile(r.latencies_us, 99.9), r.latencies_us.back(),
              r.cpu * 1e6 / static_cast<double>(calls));
  if (with_server) {
    std::printf(R"(,"server_cpu_us":%.2f)", r.server_cpu * 1e6 / static_cast<double>(calls));
  } else {
    std::printf(R"(,"connects":%ld,"retries":%ld)", g_connects.load(), g_retries.load());
  }
  std::printf("}\n");
}

int run_mcp(const Options &o)
{
  ccbridge::Runtime rt;
  ccbridge::McpServerSpec spec;
  spec.name = "t";
  spec.command = o.server;
  auto client = ccbridge::McpClient::connect(rt, spec);
  std::function<void()> call = [&client] {
    auto r = client.call_tool("echo", kArgs);
    ccbridge::JsonView content = ccbridge::parse_json(r.content_json);
    if (r.is_error || content.size() != 1) die("unexpected result " + r.content_json.substr(0, 300));
    check_echo(content[0]["text"].string_or());
  };
  for (long i = 0; i < o.warmup; ++i) call();
  std::vector<std::function<void()>> callers(static_cast<std::size_t>(o.clients), call);
  Result r = run(callers, o.calls, child_pid());
  print(r, o.calls, true);
  return 0;
}

int run_http(const Options &o)
{
  std::vector<std::function<void()>> callers;
  for (long i = 0; i < o.clients; ++i) callers.push_back(http_caller(o));
  for (long i = 0; i < o.warmup; ++i) callers[static_cast<std::size_t>(i % o.clients)]();
  g_connects = 0;
  g_retries = 0;
  Result r = run(callers, o.calls, 0);
  print(r, o.calls, false);
  return 0;
}

}  // namespace

int main(int argc, char **argv)
{
  Options o = parse(argc, argv);
  try {
    return o.mode == "mcp" ? run_mcp(o) : run_http(o);
  } catch (const std::exception &e) {
    die(e.what());
  }
}
