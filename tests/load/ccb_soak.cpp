// Load and soak driver for `ccbridge serve` (opcode profile), see tests/load/README.md.
//
// Keeps R runs of the fake CLI alive at once, each watched by K WebSocket clients, for D seconds.
// Every run's fake CLI script is the same (the server's CCB_FAKE_SCRIPT_TEXT); it is told apart by
// its prompt ("r<slot>-g<generation>"), which the script echoes in every numbered message:
//
//   wait_user
//   timed_text 1 0 <bytes>                                       <- latency sample (t=<ns>)
//   emit {"type":"system","subtype":"load","run":"<prompt>","n":1} <- numbered message
//   sleep <interval_ms>
//   ... M ticks ...
//   emit {"type":"result",...,"result":"done <prompt>"}
//   exit 0
//
// so frame s of a run (its hub sequence number: opcode frames are numbered by their position) is
// known exactly: odd s <= 2M is a timed assistant line, even s is tick s/2's numbered line, 2M+1
// the result, 2M+2 {"type":"complete","success":true,"code":0}, then close 1000. Each client
// compares every frame with what it must be (byte for byte, except the timestamp), so a gap, a
// duplicate, a reordering, a frame of another run or any extra frame is an error. Some clients
// (--resume-clients per run) leave half-way with a close handshake and come back with
// ?since_seq=<frames received>: they must get exactly the rest.
//
// When all K clients of a run are done the slot starts its next run (churn), until D seconds have
// passed; then the runs in flight finish (drain) and the server must be back to its baseline: fds
// as before the load, no CLI process left. Every --sample-seconds the server's VmRSS, fd count,
// threads, live CLI processes, CPU and the delivered frames/s go to a CSV file. The verdict is the
// exit code (0 pass, 1 fail, 2 usage or setup error) and the last line of the summary.
//
// One Asio thread, plain TCP sockets and a minimal client side of RFC 6455 (masked frames out;
// unmasked, unfragmented text/close/ping frames in): the driver must cost little next to the server.
#include <asio.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// ---- options -------------------------------------------------------------------------------------

struct Options {
  std::string server_bin;       // start this `ccbridge` (serve)
  std::string fake_cli;         // ... with this CLI
  int attach_port = 0;          // or drive a running server on 127.0.0.1:PORT
  pid_t attach_pid = 0;         // ... whose pid this is (for /proc samples)
  std::string project_path;     // attach mode: a directory inside the server's roots
  int runs = 500;
  int clients = 5000;           // in all; per run = clients / runs
  double seconds = 600;
  int ticks = 60;               // numbered messages per run
  int interval_ms = 500;        // between ticks
  int bytes = 256;              // size of the timed line
  int resume_clients = 1;       // clients per run that leave half-way and resume with since_seq
  double sample_seconds = 5;
  double ramp_seconds = -1;     // runs start spread over this long (default: one run length)
  double stall_seconds = 60;    // a client that receives nothing this long fails
  bool check_rss = true;
  double rss_tolerance = 0.05;  // last third's median within this of the middle third's
  int grace_seconds = 60;       // server --run-grace-seconds
  std::string log_level = "warn";
  std::string out_dir = ".";
  std::vector<std::string> server_args;  // extra arguments for the server
  bool print_script = false;
  double linger_seconds = 0;    // after the load, keep sampling the idle server this long
};

[[noreturn]] void usage(const std::string &why)
{
  std::fprintf(stderr,
               "ccb_soak: %s\n\n"
               "usage: ccb_soak (--server PATH --fake-cli PATH | --attach-port N --attach-pid PID --project-path DIR)\n"
               "                [--runs R] [--clients C] [--seconds D] [--ticks M] [--interval-ms I] [--bytes B]\n"
               "                [--resume-clients N] [--sample-seconds S] [--ramp-seconds S] [--stall-seconds S]\n"
               "                [--no-rss-check] [--rss-tolerance F] [--grace-seconds G] [--log-level L]\n"
               "                [--linger-seconds S] [--server-arg ARG]... [--out DIR] [--print-script]\n",
               why.c_str());
  std::exit(2);
}

Options parse_args(int argc, char **argv)
{
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto num = [&]() -> double {
      std::string v = val();
      char *end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || d < 0) usage(a + ": not a non-negative number: " + v);
      return d;
    };
    if (a == "--server") o.server_bin = val();
    else if (a == "--fake-cli") o.fake_cli = val();
    else if (a == "--attach-port") o.attach_port = static_cast<int>(num());
    else if (a == "--attach-pid") o.attach_pid = static_cast<pid_t>(num());
    else if (a == "--project-path") o.project_path = val();
    else if (a == "--runs") o.runs = static_cast<int>(num());
    else if (a == "--clients") o.clients = static_cast<int>(num());
    else if (a == "--seconds") o.seconds = num();
    else if (a == "--ticks") o.ticks = static_cast<int>(num());
    else if (a == "--interval-ms") o.interval_ms = static_cast<int>(num());
    else if (a == "--bytes") o.bytes = static_cast<int>(num());
    else if (a == "--resume-clients") o.resume_clients = static_cast<int>(num());
    else if (a == "--sample-seconds") o.sample_seconds = num();
    else if (a == "--ramp-seconds") o.ramp_seconds = num();
    else if (a == "--stall-seconds") o.stall_seconds = num();
    else if (a == "--no-rss-check") o.check_rss = false;
    else if (a == "--rss-tolerance") o.rss_tolerance = num();
    else if (a == "--grace-seconds") o.grace_seconds = static_cast<int>(num());
    else if (a == "--log-level") o.log_level = val();
    else if (a == "--server-arg") o.server_args.push_back(val());
    else if (a == "--out") o.out_dir = val();
    else if (a == "--print-script") o.print_script = true;
    else if (a == "--linger-seconds") o.linger_seconds = num();
    else if (a == "-h" || a == "--help") usage("help");
    else usage("unknown option " + a);
  }
  if (o.runs < 1 || o.clients < o.runs) usage("need --runs >= 1 and --clients >= --runs");
  if (o.ticks < 2 || o.bytes < 200 || o.sample_seconds <= 0) usage("need --ticks >= 2, --bytes >= 200, --sample-seconds > 0");
  if (!o.print_script && o.server_bin.empty() && !(o.attach_port && o.attach_pid && !o.project_path.empty()))
    usage("give --server and --fake-cli, or --attach-port, --attach-pid and --project-path");
  if (!o.server_bin.empty() && o.fake_cli.empty()) usage("--server needs --fake-cli");
  return o;
}

// ---- the run script and the frames it produces ----------------------------------------------------

// Must match tests/support/fake_cli.cpp do_timed_text().
const char kTimedHead[] =
    "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_fake_t\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-fake\",\"content\":[{\"type\":\"text\",\"text\":\"t=";
const char kTimedTail[] =
    "\"}],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,"
    "\"output_tokens\":1}},\"parent_tool_use_id\":null,\"session_id\":\"fake-session\"}";
const char kComplete[] = "{\"type\":\"complete\",\"success\":true,\"code\":0}";

std::string numbered_line(const std::string &tag, int n)
{
  return "{\"type\":\"system\",\"subtype\":\"load\",\"run\":\"" + tag + "\",\"n\":" + std::to_string(n) + "}";
}
std::string result_line(const std::string &tag)
{
  return "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done " + tag + "\"}";
}

std::string make_script(const Options &o)
{
  std::string s = "wait_user\n";
  for (int i = 1; i <= o.ticks; ++i) {
    s += "timed_text 1 0 " + std::to_string(o.bytes) + "\n";
    s += "emit " + numbered_line("{{prompt}}", i) + "\n";
    if (i < o.ticks && o.interval_ms > 0) s += "sleep " + std::to_string(o.interval_ms) + "\n";
  }
  s += "emit " + result_line("{{prompt}}") + "\nexit 0\n";
  return s;
}

// ---- small helpers ---------------------------------------------------------------------------------

std::uint64_t realtime_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

double secs_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string read_file(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool starts_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.compare(0, p.size(), p) == 0; }

std::string random_tag()
{
  std::random_device rd;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// Log-linear latency histogram in microseconds (values under 64 exact, then 32 steps per power of two).
struct Hist {
  static constexpr int kSize = 64 + 40 * 32;
  std::array<std::uint64_t, kSize> c{};
  std::uint64_t n = 0, max = 0;
  static int index(std::uint64_t v)
  {
    if (v < 64) return static_cast<int>(v);
    int e = 63 - __builtin_clzll(v);  // >= 6
    int i = 64 + (e - 6) * 32 + static_cast<int>((v >> (e - 5)) & 31);
    return std::min(i, kSize - 1);
  }
  static std::uint64_t lower(int i)
  {
    if (i < 64) return static_cast<std::uint64_t>(i);
    int e = (i - 64) / 32 + 6;
    return (1ull << e) + (static_cast<std::uint64_t>((i - 64) % 32) << (e - 5));
  }
  void add(std::uint64_t v)
  {
    ++c[static_cast<std::size_t>(index(v))];
    ++n;
    max = std::max(max, v);
  }
  void merge(const Hist &h)
  {
    for (int i = 0; i < kSize; ++i) c[static_cast<std::size_t>(i)] += h.c[static_cast<std::size_t>(i)];
    n += h.n;
    max = std::max(max, h.max);
  }
  double pct_ms(double q) const
  {
    if (!n) return 0;
    auto want = static_cast<std::uint64_t>(q * static_cast<double>(n - 1)) + 1;
    std::uint64_t cum = 0;
    for (int i = 0; i < kSize; ++i) {
      cum += c[static_cast<std::size_t>(i)];
      if (cum >= want) return static_cast<double>(lower(i)) / 1000.0;
    }
    return static_cast<double>(max) / 1000.0;
  }
};

// ---- /proc sampling ------------------------------------------------------------------------------

struct ProcSample {
  long rss_kb = -1, threads = -1, fds = -1, children = -1;
  std::uint64_t cpu_ticks = 0, child_cpu_ticks = 0;  // utime+stime, cutime+cstime
  std::map<std::string, std::uint64_t> thread_ticks;   // "tid name" -> utime+stime
};

// utime+stime of a /proc/.../stat text, and its name.
std::uint64_t stat_ticks(const std::string &stat, std::string *name = nullptr)
{
  auto lp = stat.find('('), rp = stat.rfind(')');
  if (lp == std::string::npos || rp == std::string::npos) return 0;
  if (name) *name = stat.substr(lp + 1, rp - lp - 1);
  std::istringstream in(stat.substr(rp + 2));
  std::string f[13];
  for (auto &x : f) in >> x;
  return std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
}

long count_dir(const std::string &path)
{
  DIR *d = opendir(path.c_str());
  if (!d) return -1;
  long n = 0;
  while (dirent *e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

ProcSample sample_proc(pid_t pid)
{
  ProcSample s;
  std::string base = "/proc/" + std::to_string(pid);
  std::string status = read_file(base + "/status");
  auto field = [&](const char *name) -> long {
    auto p = status.find(name);
    return p == std::string::npos ? -1 : std::strtol(status.c_str() + p + std::strlen(name), nullptr, 10);
  };
  s.rss_kb = field("VmRSS:");
  s.threads = field("Threads:");
  s.fds = count_dir(base + "/fd");
  std::string stat = read_file(base + "/stat");
  auto rp = stat.rfind(')');
  if (rp != std::string::npos) {
    std::istringstream in(stat.substr(rp + 2));
    std::string f[20];
    for (auto &x : f) in >> x;
    // fields after ')' start at 3 (state): utime = 14, stime = 15, cutime = 16, cstime = 17
    s.cpu_ticks = std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
    s.child_cpu_ticks = std::strtoull(f[13].c_str(), nullptr, 10) + std::strtoull(f[14].c_str(), nullptr, 10);
  }
  // Children of every thread (the CLIs; zombies included until reaped).
  long kids = 0;
  if (DIR *d = opendir((base + "/task").c_str())) {
    while (dirent *e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string c = read_file(base + "/task/" + e->d_name + "/children");
      std::string name;
      std::uint64_t t = stat_ticks(read_file(base + "/task/" + e->d_name + "/stat"), &name);
      s.thread_ticks[std::string(e->d_name) + " " + name] = t;
      std::istringstream in(c);
      std::string x;
      while (in >> x) ++kids;
    }
    closedir(d);
    s.children = kids;
  }
  return s;
}

// Processes (other than `except`) whose environment holds CCB_LOAD_TAG=tag, zombies excluded.
std::vector<pid_t> tagged_processes(const std::string &tag, pid_t except, bool include_guard)
{
  std::vector<pid_t> out;
  std::string needle = "CCB_LOAD_TAG=" + tag;
  DIR *d = opendir("/proc");
  if (!d) return out;
  while (dirent *e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t p = static_cast<pid_t>(std::atol(e->d_name));
    if (p == except || p == getpid()) continue;
    std::string env = read_file(std::string("/proc/") + e->d_name + "/environ");
    bool found = false;
    for (std::size_t i = 0; i < env.size();) {
      std::size_t z = env.find('\0', i);
      if (z == std::string::npos) z = env.size();
      if (env.compare(i, z - i, needle) == 0) found = true;
      i = z + 1;
    }
    if (!found) continue;
    // The server's group guard (lib/process/guard.hpp) is not a CLI; it must be gone once the
    // server has stopped, which is checked then. (Today it is a shell with an empty environment,
    // found by guards_of(); an earlier one was a fork of the server, named by PR_SET_NAME.)
    if (!include_guard && read_file(std::string("/proc/") + e->d_name + "/comm") == "ccbridge-guard\n") continue;
    std::string stat = read_file(std::string("/proc/") + e->d_name + "/stat");
    auto rp = stat.rfind(')');
    if (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z') continue;
    out.push_back(p);
  }
  closedir(d);
  return out;
}

// The server's group guard (lib/process/guard.cpp): a /bin/sh named ccbridge-guard whose last
// argument is the host's pid, started with an empty environment (so it carries no tag). It must be
// gone once its server has stopped.
std::vector<pid_t> guards_of(pid_t host)
{
  std::vector<pid_t> out;
  std::string want = std::to_string(host);
  DIR *d = opendir("/proc");
  if (!d) return out;
  while (dirent *e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmd = read_file(std::string("/proc/") + e->d_name + "/cmdline");
    if (!starts_with(cmd, std::string("ccbridge-guard\0", 15))) continue;
    while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
    auto z = cmd.rfind('\0');
    if (z != std::string::npos && cmd.substr(z + 1) == want) out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
  }
  closedir(d);
  return out;
}

struct SysCpu {
  std::uint64_t busy = 0, nice = 0, total = 0;
};
SysCpu sys_cpu()
{
  std::string s = read_file("/proc/stat");
  std::istringstream in(s);
  std::string cpu;
  in >> cpu;
  SysCpu r;
  std::uint64_t v[10] = {};
  for (auto &x : v) in >> x;
  r.nice = v[1];
  for (int i = 0; i < 10; ++i) {
    if (i < 8) r.total += v[i];  // guest time is already in user
    if (i != 1 && i != 3 && i != 4 && i < 8) r.busy += v[i];  // not nice (the fuzzer at nice 19), idle, iowait
  }
  return r;
}

double loadavg1()
{
  std::string s = read_file("/proc/loadavg");
  return std::strtod(s.c_str(), nullptr);
}

std::uint64_t self_cpu_us()
{
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
         static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// ---- errors ----------------------------------------------------------------------------------------

struct Errors {
  std::map<std::string, std::uint64_t> by_kind;
  std::vector<std::string> examples;
  std::uint64_t total = 0;
  void add(const std::string &kind, const std::string &detail)
  {
    ++by_kind[kind];
    ++total;
    if (examples.size() < 40) {
      examples.push_back(kind + ": " + detail);
      std::fprintf(stderr, "ccb_soak: error %s: %s\n", kind.c_str(), detail.c_str());
    }
  }
};

// ---- the driver --------------------------------------------------------------------------------

class Driver;

struct Counters {
  std::uint64_t frames = 0, bytes = 0;
  Hist lat;   // CLI write -> client read, microseconds
  Hist exec;  // POST /claude/execute -> its answer, microseconds
};

class Slot;

class Client : public std::enable_shared_from_this<Client> {
public:
  Client(Driver &d, Slot &slot, int index, bool resumer);
  void start(std::uint64_t since);
  void abort(const std::string &kind, const std::string &why);
  bool live() const { return state_ != State::done; }
  Clock::time_point last_rx() const { return last_rx_; }
  std::string describe() const;

private:
  enum class State { connecting, handshake, open, closing, leaving, done };
  void on_connect(const std::error_code &ec);
  void read();
  void on_read(const std::error_code &ec, std::size_t n);
  bool parse_frames();
  bool on_text(const char *p, std::size_t n);
  void on_close_frame(const char *p, std::size_t n);
  void send(std::string data);
  void do_write();
  void finish(bool ok);
  std::string mask_frame(int opcode, const std::string &payload);

  Driver &d_;
  Slot &slot_;
  int index_;
  bool resumer_;  // leaves half-way and comes back with since_seq
  bool resumed_ = false;
  tcp::socket sock_;
  State state_ = State::connecting;
  std::vector<char> buf_;
  std::size_t len_ = 0;
  std::uint64_t got_ = 0;  // frames of the run received (= hub seq of the last one)
  bool complete_ = false;
  Clock::time_point last_rx_;
  std::deque<std::string> wq_;
  bool writing_ = false;
  friend class Slot;
};

class Slot {
public:
  Slot(Driver &d, int index, int clients, bool one_shot = false) : d_(d), index_(index), clients_(clients), one_shot_(one_shot) {}
  void start_run();
  void client_done(bool ok);
  bool busy() const { return busy_; }
  const std::string &tag() const { return tag_; }
  const std::string &session() const { return session_; }
  int index() const { return index_; }

private:
  void post();
  void on_posted(int status, const std::string &body, const std::string &err);
  Driver &d_;
  int index_;
  int clients_;
  bool one_shot_;  // the warm-up run
  int gen_ = 0;
  bool busy_ = false;
  bool failed_ = false;
  std::string tag_, session_;
  int pending_clients_ = 0;
  Clock::time_point run_started_;
};

class Driver {
public:
  explicit Driver(Options o) : o_(std::move(o)), ioc_(1), sampler_(ioc_), sweeper_(ioc_), starter_(ioc_) {}
  int main();

  // used by Slot and Client
  asio::io_context &io() { return ioc_; }
  const Options &opt() const { return o_; }
  Errors &errors() { return errors_; }
  Counters &interval() { return interval_; }
  tcp::endpoint endpoint() const { return ep_; }
  int per_run() const { return per_run_; }
  bool accepting_runs() const { return !stopping_; }
  const std::string &project() const { return project_; }
  void add_client(Client *c) { live_clients_.insert(c); }
  void remove_client(Client *c) { live_clients_.erase(c); }
  void run_done(bool ok, double seconds)
  {
    ++runs_done_;
    if (ok) run_seconds_.push_back(static_cast<float>(seconds));
  }
  void run_started() { ++runs_started_; }
  void client_opened() { ++clients_opened_; }
  void client_resumed() { ++clients_resumed_; }
  void client_finished(bool ok) { ok ? ++clients_ok_ : ++clients_failed_; }
  void slot_idle();
  void warmed_up() { ioc_.stop(); }
  std::uint64_t total_frames() const { return total_frames_; }
  void add_frame(std::size_t bytes)
  {
    ++interval_.frames;
    interval_.bytes += bytes;
    ++total_frames_;
  }

private:
  bool start_server();
  void stop_server(int &exit_status);
  void take_sample(const char *phase);
  void schedule_sample();
  void schedule_sweep();
  void begin_drain();
  void finish();
  std::string http_get(const std::string &path);

  Options o_;
  asio::io_context ioc_;
  asio::steady_timer sampler_, sweeper_, starter_;
  tcp::endpoint ep_;
  pid_t server_pid_ = 0;
  bool own_server_ = false;
  std::string tag_;
  std::string project_;
  std::string script_;
  int per_run_ = 10;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<Slot> warm_;
  std::unordered_set<Client *> live_clients_;
  Errors errors_;
  Counters interval_;
  Hist lat_all_, exec_all_;
  bool stopping_ = false;
  bool finished_ = false;
  Clock::time_point t0_, load_end_;
  std::uint64_t total_frames_ = 0, runs_started_ = 0, runs_done_ = 0, clients_opened_ = 0, clients_ok_ = 0,
                clients_failed_ = 0, clients_resumed_ = 0;
  std::vector<float> run_seconds_;
  FILE *csv_ = nullptr;
  ProcSample baseline_;
  struct Row {
    double t;
    std::string phase;
    ProcSample p;
    double fps, mbps, p50, p99, pmax, srv_cpu, cli_cpu, drv_cpu, sys_busy, sys_nice, load1;
    double thread_max = 0, exec_p50 = 0, exec_max = 0;
    std::string thread_max_name;
    std::size_t clients_open, runs_live;
  };
  std::vector<Row> rows_;
  ProcSample last_proc_;
  SysCpu last_sys_;
  std::uint64_t last_self_cpu_ = 0;
  Clock::time_point last_sample_t_;
  long max_fds_ = 0, max_children_ = 0;
  std::size_t next_slot_to_start_ = 0;
};

// ---- Client ------------------------------------------------------------------------------------

Client::Client(Driver &d, Slot &slot, int index, bool resumer)
    : d_(d), slot_(slot), index_(index), resumer_(resumer), sock_(d.io()), last_rx_(Clock::now())
{
  buf_.resize(16384);
}

std::string Client::describe() const
{
  static const char *const kStates[] = {"connecting", "handshake", "open", "closing", "leaving", "done"};
  return "run " + slot_.tag() + " (" + slot_.session() + ") client " + std::to_string(index_) + ": state " +
         kStates[static_cast<int>(state_)] + ", " + std::to_string(got_) + " frames" + (resumed_ ? ", resumed" : "");
}

void Client::start(std::uint64_t since)
{
  d_.add_client(this);
  state_ = State::connecting;
  len_ = 0;
  last_rx_ = Clock::now();
  auto self = shared_from_this();
  std::string path = "/ws/claude/" + slot_.session() + (since ? "?since_seq=" + std::to_string(since) : "");
  sock_ = tcp::socket(d_.io());
  sock_.async_connect(d_.endpoint(), [self, path](const std::error_code &ec) {
    if (self->state_ == State::done) return;
    if (ec) return self->abort("connect", ec.message());
    std::error_code ig;
    self->sock_.set_option(tcp::no_delay(true), ig);
    self->state_ = State::handshake;
    self->send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(self->d_.endpoint().port()) +
               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n");
    self->read();
  });
}

void Client::abort(const std::string &kind, const std::string &why)
{
  if (state_ == State::done) return;
  d_.errors().add(kind, describe() + ": " + why);
  finish(false);
}

void Client::finish(bool ok)
{
  if (state_ == State::done) return;
  state_ = State::done;
  std::error_code ig;
  sock_.close(ig);
  d_.remove_client(this);
  d_.client_finished(ok);
  slot_.client_done(ok);
}

void Client::send(std::string data)
{
  wq_.push_back(std::move(data));
  if (!writing_) do_write();
}

void Client::do_write()
{
  writing_ = true;
  auto self = shared_from_this();
  asio::async_write(sock_, asio::buffer(wq_.front()), [self](const std::error_code &ec, std::size_t) {
    self->wq_.pop_front();
    if (self->state_ == State::done) return;
    if (ec) {
      self->writing_ = false;
      self->wq_.clear();
      return self->abort("write", ec.message());
    }
    if (!self->wq_.empty()) self->do_write();
    else self->writing_ = false;
  });
}

std::string Client::mask_frame(int opcode, const std::string &payload)
{
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  std::size_t n = payload.size();  // control frames only: < 126
  f.push_back(static_cast<char>(0x80 | n));
  const unsigned char mask[4] = {0x3a, 0x5c, 0x91, 0x07};
  f.append(reinterpret_cast<const char *>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4])));
  return f;
}

void Client::read()
{
  if (buf_.size() - len_ < 4096) buf_.resize(buf_.size() * 2);
  auto self = shared_from_this();
  sock_.async_read_some(asio::buffer(buf_.data() + len_, buf_.size() - len_),
                        [self](const std::error_code &ec, std::size_t n) { self->on_read(ec, n); });
}

void Client::on_read(const std::error_code &ec, std::size_t n)
{
  if (state_ == State::done) return;
  if (ec) {
    if (ec == asio::error::eof && state_ == State::closing) {
      finish(true);  // the server closed the TCP connection after the close handshake
      return;
    }
    if (ec == asio::error::eof && state_ == State::leaving) {
      // Resume: come back for the rest, from the number of frames received.
      std::error_code ig;
      sock_.close(ig);
      d_.remove_client(this);
      resumed_ = true;
      d_.client_resumed();
      start(got_);
      return;
    }
    return abort(ec == asio::error::eof ? "connection closed without a close frame" : "read", ec.message());
  }
  last_rx_ = Clock::now();
  len_ += n;
  if (!parse_frames()) return;
  read();
}

bool Client::parse_frames()
{
  std::size_t pos = 0;
  if (state_ == State::handshake) {
    std::string_view head(buf_.data(), len_);
    auto end = head.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (len_ > 65536) abort("handshake", "no end of headers in 64 KiB");
      return state_ != State::done;
    }
    if (!starts_with(head, "HTTP/1.1 101")) {
      abort("handshake", "refused: " + std::string(head.substr(0, std::min<std::size_t>(end, 300))));
      return false;
    }
    state_ = State::open;
    d_.client_opened();
    pos = end + 4;
  }
  while (len_ - pos >= 2) {
    const auto *h = reinterpret_cast<const unsigned char *>(buf_.data() + pos);
    bool fin = h[0] & 0x80;
    int opcode = h[0] & 0x0F;
    std::uint64_t n = h[1] & 0x7F;
    std::size_t hl = 2;
    if ((h[0] & 0x70) || (h[1] & 0x80)) {
      abort("framing", "reserved bits or a masked frame from the server");
      return false;
    }
    if (n == 126) {
      if (len_ - pos < 4) break;
      n = (static_cast<std::uint64_t>(h[2]) << 8) | h[3];
      hl = 4;
    } else if (n == 127) {
      if (len_ - pos < 10) break;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | h[2 + i];
      hl = 10;
    }
    if (n > (64u << 20)) {
      abort("framing", "a frame of " + std::to_string(n) + " bytes");
      return false;
    }
    if (len_ - pos < hl + n) {
      if (buf_.size() < hl + n + 4096) buf_.resize(hl + n + 4096);
      break;
    }
    const char *p = buf_.data() + pos + hl;
    pos += hl + static_cast<std::size_t>(n);
    if (!fin || opcode == 0x0) {
      abort("framing", "a fragmented message (the server sends whole ones)");
      return false;
    }
    if (opcode == 0x8) {
      on_close_frame(p, static_cast<std::size_t>(n));
      if (state_ == State::done) return false;
      continue;
    }
    if (opcode == 0x9) {  // ping: answer with the same payload
      send(mask_frame(0xA, std::string(p, static_cast<std::size_t>(n))));
      continue;
    }
    if (opcode == 0xA) continue;
    if (opcode != 0x1) {
      abort("framing", "opcode " + std::to_string(opcode));
      return false;
    }
    if (state_ == State::closing) {
      abort("protocol", "a text frame after the close frame");
      return false;
    }
    d_.add_frame(static_cast<std::size_t>(n));
    if (!on_text(p, static_cast<std::size_t>(n))) return false;
  }
  std::memmove(buf_.data(), buf_.data() + pos, len_ - pos);
  len_ -= pos;
  return true;
}

// Frame number got_+1 of the run: must be exactly the expected one.
bool Client::on_text(const char *p, std::size_t n)
{
  std::string_view f(p, n);
  std::uint64_t seq = ++got_;
  const std::uint64_t m = static_cast<std::uint64_t>(d_.opt().ticks);
  const std::string &tag = slot_.tag();
  auto fail = [&](const char *kind, const std::string &what) {
    abort(kind, "frame " + std::to_string(seq) + " " + what + ": " + std::string(f.substr(0, 240)));
    return false;
  };
  if (starts_with(f, "{\"type\":\"error\"")) return fail("error frame", "is an error");
  if (seq <= 2 * m && (seq & 1)) {
    // timed line: head, digits, blank, padding, tail
    constexpr std::size_t hl = sizeof kTimedHead - 1, tl = sizeof kTimedTail - 1;
    if (!starts_with(f, std::string_view(kTimedHead, hl)) || f.size() < hl + tl ||
        f.compare(f.size() - tl, tl, std::string_view(kTimedTail, tl)) != 0) {
      if (starts_with(f, "{\"type\":\"system\",\"subtype\":\"load\"")) return fail("order", "is a numbered line where a timed line belongs");
      return fail("unexpected frame", "is not the timed line it should be");
    }
    if (!resumer_) {
      std::uint64_t t = 0;
      for (std::size_t i = hl; i < f.size() && f[i] >= '0' && f[i] <= '9'; ++i) t = t * 10 + static_cast<std::uint64_t>(f[i] - '0');
      std::uint64_t now = realtime_ns();
      d_.interval().lat.add(now > t ? (now - t) / 1000 : 0);
    }
  } else if (seq <= 2 * m) {
    std::string want = numbered_line(tag, static_cast<int>(seq / 2));
    if (f != want) {
      // Classify: another run's line, a gap, a duplicate, or something else.
      auto rp = f.find("\"run\":\"");
      auto np = f.find("\"n\":");
      if (rp == std::string_view::npos || np == std::string_view::npos) return fail("unexpected frame", "should be " + want);
      std::string run(f.substr(rp + 7, f.find('"', rp + 7) - rp - 7));
      long got_n = std::strtol(std::string(f.substr(np + 4)).c_str(), nullptr, 10);
      if (run != tag) return fail("other run", "belongs to run " + run + ", expected " + want);
      if (got_n > static_cast<long>(seq / 2)) return fail("gap", "skips to n=" + std::to_string(got_n) + ", expected " + want);
      return fail("duplicate or reordered", "goes back to n=" + std::to_string(got_n) + ", expected " + want);
    }
  } else if (seq == 2 * m + 1) {
    if (f != result_line(tag)) return fail("unexpected frame", "should be the result line " + result_line(tag));
  } else if (seq == 2 * m + 2) {
    if (f != kComplete) return fail("unexpected frame", std::string("should be ") + kComplete);
    complete_ = true;
  } else {
    return fail("extra frame", "after the complete frame");
  }
  if (resumer_ && !resumed_ && seq == m && state_ == State::open) {
    // Half-way: leave with a close handshake, then resume from here.
    state_ = State::leaving;
    send(mask_frame(0x8, std::string("\x03\xe8", 2)));
  }
  return true;
}

void Client::on_close_frame(const char *p, std::size_t n)
{
  unsigned code = n >= 2 ? (static_cast<unsigned char>(p[0]) << 8) | static_cast<unsigned char>(p[1]) : 1005;
  std::string reason = n > 2 ? std::string(p + 2, n - 2) : "";
  if (state_ == State::leaving) {
    // The answer to our close (or the server's own close 1000 when the run ended meanwhile).
    if (code != 1000) return abort("close code", std::to_string(code) + " " + reason + " (when leaving to resume)");
    if (complete_) {
      state_ = State::closing;  // it ended meanwhile: nothing left to resume
      resumer_ = false;
    }
    return;  // wait for the server to close the TCP connection
  }
  if (code != 1000) return abort("close code", std::to_string(code) + " " + reason);
  if (!complete_) return abort("early close", "close 1000 '" + reason + "' before the complete frame");
  state_ = State::closing;
  send(mask_frame(0x8, std::string("\x03\xe8", 2)));
}

// ---- Slot ----------------------------------------------------------------------------------------

// One POST /claude/execute over its own connection.
class Post : public std::enable_shared_from_this<Post> {
public:
  using Done = std::function<void(int status, const std::string &body, const std::string &err)>;
  Post(asio::io_context &ioc, tcp::endpoint ep, std::string req, Done done)
      : sock_(ioc), timer_(ioc), ep_(ep), req_(std::move(req)), done_(std::move(done))
  {
  }
  void start()
  {
    auto self = shared_from_this();
    timer_.expires_after(std::chrono::seconds(30));
    timer_.async_wait([self](const std::error_code &ec) {
      if (!ec) self->end(0, "no answer within 30 s");
    });
    sock_.async_connect(ep_, [self](const std::error_code &ec) {
      if (ec) return self->end(0, "connect: " + ec.message());
      asio::async_write(self->sock_, asio::buffer(self->req_), [self](const std::error_code &ec2, std::size_t) {
        if (ec2) return self->end(0, "write: " + ec2.message());
        self->read();
      });
    });
  }

private:
  void read()
  {
    auto self = shared_from_this();
    sock_.async_read_some(asio::buffer(chunk_), [self](const std::error_code &ec, std::size_t n) {
      self->resp_.append(self->chunk_.data(), n);
      auto he = self->resp_.find("\r\n\r\n");
      if (he != std::string::npos) {
        std::size_t cl = std::string::npos;
        std::string head = self->resp_.substr(0, he);
        for (auto &ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        auto p = head.find("content-length:");
        if (p != std::string::npos) cl = std::strtoul(head.c_str() + p + 15, nullptr, 10);
        if ((cl != std::string::npos && self->resp_.size() - he - 4 >= cl) || (ec && cl == std::string::npos)) {
          int status = std::atoi(self->resp_.c_str() + 9);
          return self->end(status, "");
        }
      }
      if (ec) return self->end(0, "read: " + ec.message());
      self->read();
    });
  }
  void end(int status, const std::string &err)
  {
    if (!done_) return;
    timer_.cancel();
    std::error_code ig;
    sock_.close(ig);
    auto he = resp_.find("\r\n\r\n");
    std::string body = he == std::string::npos ? resp_ : resp_.substr(he + 4);
    auto d = std::move(done_);
    done_ = nullptr;
    d(status, body, err);
  }
  tcp::socket sock_;
  asio::steady_timer timer_;
  tcp::endpoint ep_;
  std::string req_, resp_;
  std::array<char, 4096> chunk_{};
  Done done_;
};

void Slot::start_run()
{
  busy_ = true;
  failed_ = false;
  ++gen_;
  tag_ = "r" + std::to_string(index_) + "-g" + std::to_string(gen_);
  session_.clear();
  run_started_ = Clock::now();
  post();
}

void Slot::post()
{
  std::string body = "{\"project_path\":\"" + d_.project() + "\",\"prompt\":\"" + tag_ + "\"}";
  std::string req = "POST /claude/execute HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(d_.endpoint().port()) +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n" + body;
  auto p = std::make_shared<Post>(d_.io(), d_.endpoint(), std::move(req),
                                  [this](int status, const std::string &b, const std::string &err) { on_posted(status, b, err); });
  p->start();
}

void Slot::on_posted(int status, const std::string &body, const std::string &err)
{
  auto sp = body.find("\"session_id\":\"");
  if (status != 200 || sp == std::string::npos) {
    d_.errors().add("execute", "run " + tag_ + ": HTTP " + std::to_string(status) + " " + err + " " + body.substr(0, 200));
    // Try again a second later (a new generation), unless the load is over. The slot stays busy
    // meanwhile.
    auto t = std::make_shared<asio::steady_timer>(d_.io(), std::chrono::seconds(1));
    t->async_wait([this, t](const std::error_code &) {
      if (d_.accepting_runs() && !one_shot_) return start_run();
      busy_ = false;
      d_.slot_idle();
    });
    return;
  }
  session_ = body.substr(sp + 14, body.find('"', sp + 14) - sp - 14);
  d_.interval().exec.add(static_cast<std::uint64_t>(secs_since(run_started_) * 1e6));
  d_.run_started();
  int k = clients_;
  pending_clients_ = k;
  for (int i = 0; i < k; ++i) {
    auto c = std::make_shared<Client>(d_, *this, i, !one_shot_ && i < d_.opt().resume_clients);
    c->start(0);
  }
}

void Slot::client_done(bool ok)
{
  if (!ok) failed_ = true;
  if (--pending_clients_ > 0) return;
  d_.run_done(!failed_, secs_since(run_started_));
  busy_ = false;
  if (one_shot_) {
    d_.warmed_up();
  } else if (d_.accepting_runs()) {
    start_run();
  } else {
    d_.slot_idle();
  }
}

// ---- Driver ------------------------------------------------------------------------------------

bool Driver::start_server()
{
  own_server_ = true;
  std::string root = o_.out_dir + "/root";
  mkdir(root.c_str(), 0755);
  char real[PATH_MAX];
  if (!realpath(root.c_str(), real)) {
    std::fprintf(stderr, "ccb_soak: cannot create %s\n", root.c_str());
    return false;
  }
  project_ = real;
  std::vector<std::string> args = {o_.server_bin, "serve", "--profiles", "opcode", "--port", "0", "--root", project_,
                                   "--cli", o_.fake_cli, "--pass-env", "CCB_*",
                                   "--max-sessions", std::to_string(o_.runs + 16),
                                   "--max-connections", std::to_string(o_.clients + o_.runs + 256),
                                   "--run-grace-seconds", std::to_string(o_.grace_seconds),
                                   "--exit-wait-ms", "1000", "--term-wait-ms", "1000",
                                   "--log-level", o_.log_level};
  args.insert(args.end(), o_.server_args.begin(), o_.server_args.end());
  std::vector<std::string> env;
  for (char **e = environ; *e; ++e) {
    std::string_view v(*e);
    bool drop = false;
    for (const char *k : {"CCB_FAKE_SCRIPT=", "CCB_FAKE_SCRIPT_TEXT=", "CCB_LOAD_TAG=", "MAX_SESSIONS=", "CCBRIDGE_TOKEN=",
                          "WEBSOCKET_HOST=", "WEBSOCKET_PORT=", "SESSION_TIMEOUT_MINUTES=", "CORS="})
      if (starts_with(v, k)) drop = true;
    if (!drop) env.emplace_back(v);
  }
  env.push_back("CCB_FAKE_SCRIPT_TEXT=" + script_);
  env.push_back("CCB_LOAD_TAG=" + tag_);
  std::vector<char *> argv, envp;
  for (auto &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto &e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::string log_path = o_.out_dir + "/server.log";
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int out[2];
  if (log_fd < 0 || pipe2(out, O_CLOEXEC) != 0) {
    std::perror("ccb_soak: server log or pipe");
    return false;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the driver
    if (getppid() != parent) _exit(127);
    dup2(out[1], 1);
    dup2(log_fd, 2);
    chdir(project_.c_str());
    execve(argv[0], argv.data(), envp.data());
    std::perror("ccb_soak: exec server");
    _exit(127);
  }
  close(out[1]);
  close(log_fd);
  if (pid < 0) {
    std::perror("ccb_soak: fork");
    return false;
  }
  server_pid_ = pid;
  // "ccbridge serve: listening on http://127.0.0.1:PORT (opcode)"
  std::string line;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (line.find("http://127.0.0.1:") == std::string::npos && Clock::now() < deadline) {
    char c[256];
    pollfd pf{out[0], POLLIN, 0};
    if (poll(&pf, 1, 200) <= 0) continue;
    ssize_t r = read(out[0], c, sizeof c);
    if (r <= 0) break;
    line.append(c, static_cast<std::size_t>(r));
  }
  // out[0] stays open: a wrapper around the server (heaptrack) may write more lines.
  auto p = line.find("http://127.0.0.1:");
  if (p == std::string::npos) {
    std::fprintf(stderr, "ccb_soak: the server did not start (stdout: '%s'); see %s\n", line.c_str(), log_path.c_str());
    return false;
  }
  int port = std::atoi(line.c_str() + p + 17);
  ep_ = tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
  return true;
}

void Driver::stop_server(int &exit_status)
{
  exit_status = -1;
  if (!own_server_ || server_pid_ <= 0) return;
  kill(server_pid_, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  int st = 0;
  for (;;) {
    pid_t r = waitpid(server_pid_, &st, WNOHANG);
    if (r == server_pid_) break;
    if (Clock::now() > deadline) {
      kill(server_pid_, SIGKILL);
      waitpid(server_pid_, &st, 0);
      exit_status = -2;  // hung
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string Driver::http_get(const std::string &path)
{
  try {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(ep_);
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::string out;
    std::array<char, 65536> b{};
    std::error_code ec;
    for (;;) {
      std::size_t n = s.read_some(asio::buffer(b), ec);
      out.append(b.data(), n);
      if (ec) break;
      auto he = out.find("\r\n\r\n");
      if (he != std::string::npos) {
        auto cl = out.find("Content-Length: ");
        if (cl != std::string::npos && cl < he && out.size() - he - 4 >= std::strtoul(out.c_str() + cl + 16, nullptr, 10)) break;
      }
    }
    auto he = out.find("\r\n\r\n");
    return he == std::string::npos ? "" : out.substr(he + 4);
  } catch (const std::exception &e) {
    return "";
  }
}

double metric(const std::string &text, const std::string &name)
{
  std::size_t p = 0;
  while ((p = text.find(name, p)) != std::string::npos) {
    if ((p == 0 || text[p - 1] == '\n') && p + name.size() < text.size() && text[p + name.size()] == ' ')
      return std::strtod(text.c_str() + p + name.size() + 1, nullptr);
    p += name.size();
  }
  return -1;
}

void Driver::take_sample(const char *phase)
{
  auto now = Clock::now();
  double dt = std::chrono::duration<double>(now - last_sample_t_).count();
  if (dt < 0.1) dt = 1e30;  // the first sample: no rates
  ProcSample p = sample_proc(server_pid_);
  SysCpu sc = sys_cpu();
  std::uint64_t self = self_cpu_us();
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  Row r;
  r.t = secs_since(t0_);
  r.phase = phase;
  r.p = p;
  r.fps = static_cast<double>(interval_.frames) / dt;
  r.mbps = static_cast<double>(interval_.bytes) / dt / 1e6;
  r.p50 = interval_.lat.pct_ms(0.5);
  r.p99 = interval_.lat.pct_ms(0.99);
  r.pmax = static_cast<double>(interval_.lat.max) / 1000.0;
  r.srv_cpu = 100.0 * static_cast<double>(p.cpu_ticks - last_proc_.cpu_ticks) / hz / dt;
  r.cli_cpu = 100.0 * static_cast<double>(p.child_cpu_ticks - last_proc_.child_cpu_ticks) / hz / dt;
  // The busiest server thread (the server thread does all the WebSocket work: at 100 % it is the limit).
  r.thread_max = 0;
  for (auto &kv : p.thread_ticks) {
    auto it = last_proc_.thread_ticks.find(kv.first);
    std::uint64_t before = it == last_proc_.thread_ticks.end() ? 0 : it->second;
    double pct = 100.0 * static_cast<double>(kv.second - before) / hz / dt;
    if (pct > r.thread_max) {
      r.thread_max = pct;
      r.thread_max_name = kv.first.substr(kv.first.find(' ') + 1);
    }
  }
  r.exec_p50 = interval_.exec.pct_ms(0.5);
  r.exec_max = static_cast<double>(interval_.exec.max) / 1000.0;
  r.drv_cpu = 100.0 * static_cast<double>(self - last_self_cpu_) / 1e6 / dt;
  double tot = sc.total > last_sys_.total ? static_cast<double>(sc.total - last_sys_.total) : 0;
  r.sys_busy = tot > 0 ? 100.0 * static_cast<double>(sc.busy - last_sys_.busy) / tot : 0;
  r.sys_nice = tot > 0 ? 100.0 * static_cast<double>(sc.nice - last_sys_.nice) / tot : 0;
  r.load1 = loadavg1();
  r.clients_open = live_clients_.size();
  r.runs_live = 0;
  for (auto &s : slots_)
    if (s->busy()) ++r.runs_live;
  if (std::string(phase) == "load" || std::string(phase) == "drain") {
    max_fds_ = std::max(max_fds_, p.fds);
    max_children_ = std::max(max_children_, p.children);
  }
  lat_all_.merge(interval_.lat);
  exec_all_.merge(interval_.exec);
  interval_ = Counters{};
  last_proc_ = p;
  last_sys_ = sc;
  last_self_cpu_ = self;
  last_sample_t_ = now;
  rows_.push_back(r);
  if (csv_) {
    std::fprintf(csv_,
                 "%.1f,%s,%ld,%ld,%ld,%ld,%zu,%zu,%.0f,%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.2f,%.2f,%.2f,%.1f,%.1f,%.1f,%.1f,%.1f,%.2f,%.1f,%s,%.2f,%.2f\n",
                 r.t, phase, p.rss_kb, p.fds, p.threads, p.children, r.runs_live, r.clients_open, r.fps, r.mbps,
                 runs_done_, total_frames_, errors_.total, r.p50, r.p99, r.pmax, r.srv_cpu, r.cli_cpu, r.drv_cpu,
                 r.sys_busy, r.sys_nice, r.load1, r.thread_max, r.thread_max_name.c_str(), r.exec_p50, r.exec_max);
    std::fflush(csv_);
  }
  std::fprintf(stderr,
               "[%6.0fs %-6s] rss %ld kB  fds %ld  threads %ld  cli %ld  runs %zu  clients %zu  %.0f frames/s  "
               "lat p50/p99/max %.1f/%.1f/%.0f ms  execute p50/max %.1f/%.0f ms  cpu srv %.0f%% (%s %.0f%%) cli %.0f%% drv %.0f%% machine %.0f%% (+nice %.0f%%)  errors %" PRIu64 "\n",
               r.t, phase, p.rss_kb, p.fds, p.threads, p.children, r.runs_live, r.clients_open, r.fps, r.p50, r.p99, r.pmax,
               r.exec_p50, r.exec_max, r.srv_cpu, r.thread_max_name.c_str(), r.thread_max, r.cli_cpu, r.drv_cpu, r.sys_busy,
               r.sys_nice, errors_.total);
}

void Driver::schedule_sample()
{
  sampler_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.sample_seconds)));
  sampler_.async_wait([this](const std::error_code &ec) {
    if (ec || finished_) return;
    if (kill(server_pid_, 0) != 0) {
      errors_.add("server", "the server process is gone");
      stopping_ = true;
      for (auto *c : std::vector<Client *>(live_clients_.begin(), live_clients_.end())) c->abort("server", "gone");
      finish();
      return;
    }
    take_sample(stopping_ ? "drain" : "load");
    schedule_sample();
  });
}

void Driver::schedule_sweep()
{
  sweeper_.expires_after(std::chrono::seconds(1));
  sweeper_.async_wait([this](const std::error_code &ec) {
    if (ec || finished_) return;
    auto now = Clock::now();
    std::vector<Client *> stalled;
    for (Client *c : live_clients_)
      if (now - c->last_rx() > std::chrono::duration<double>(o_.stall_seconds)) stalled.push_back(c);
    for (Client *c : stalled) c->abort("stall", "nothing received for " + std::to_string(static_cast<int>(o_.stall_seconds)) + " s");
    if (!stopping_ && secs_since(t0_) >= o_.seconds) begin_drain();
    if (stopping_ && !finished_) {
      double nominal = o_.ticks * o_.interval_ms / 1000.0;
      if (std::chrono::duration<double>(now - load_end_).count() > nominal + o_.stall_seconds + 60) {
        errors_.add("drain", "runs still busy long after the end of the load");
        for (auto *c : std::vector<Client *>(live_clients_.begin(), live_clients_.end())) c->abort("drain", "still open");
        finish();
        return;
      }
    }
    schedule_sweep();
  });
}

void Driver::begin_drain()
{
  if (stopping_) return;
  stopping_ = true;
  starter_.cancel();
  load_end_ = Clock::now();
  std::fprintf(stderr, "ccb_soak: %.0f s: no new runs; waiting for the runs in flight\n", secs_since(t0_));
  slot_idle();
}

void Driver::slot_idle()
{
  if (!stopping_ || finished_) return;
  for (auto &s : slots_)
    if (s->busy()) return;
  // every slot has finished: everything is drained
  asio::post(ioc_, [this] { finish(); });
}

void Driver::finish()
{
  if (finished_) return;
  finished_ = true;
  sampler_.cancel();
  sweeper_.cancel();
  starter_.cancel();
  ioc_.stop();
}

double median(std::vector<double> v)
{
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int Driver::main()
{
  // File descriptors: 1 per client socket here; in the server 1 per client plus 4 per CLI.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);  // the server (a child) inherits it
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  std::uint64_t need_server = static_cast<std::uint64_t>(o_.clients) + 5ull * static_cast<std::uint64_t>(o_.runs) + 256;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need_server) {
    std::fprintf(stderr, "ccb_soak: RLIMIT_NOFILE is %llu, the server needs about %llu: raise the hard limit (ulimit -Hn, prlimit)\n",
                 static_cast<unsigned long long>(rl.rlim_cur), static_cast<unsigned long long>(need_server));
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  per_run_ = o_.clients / o_.runs;
  script_ = make_script(o_);
  if (o_.print_script) {
    std::fputs(script_.c_str(), stdout);
    return 0;
  }
  if (script_.size() > 120000) {
    std::fprintf(stderr, "ccb_soak: the script (%zu bytes) is too long for one environment variable: fewer --ticks\n", script_.size());
    return 2;
  }
  mkdir(o_.out_dir.c_str(), 0755);
  tag_ = random_tag();
  if (!o_.server_bin.empty()) {
    if (!start_server()) return 2;
  } else {
    server_pid_ = o_.attach_pid;
    project_ = o_.project_path;
    ep_ = tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(o_.attach_port));
    std::string lim = read_file("/proc/" + std::to_string(server_pid_) + "/limits");
    auto p = lim.find("Max open files");
    if (p != std::string::npos) {
      unsigned long long soft = std::strtoull(lim.c_str() + p + 14, nullptr, 10);
      if (soft && soft < need_server)
        std::fprintf(stderr, "ccb_soak: WARNING: the server's open file limit is %llu, it needs about %llu (prlimit --nofile)\n",
                     soft, static_cast<unsigned long long>(need_server));
    }
  }
  csv_ = std::fopen((o_.out_dir + "/samples.csv").c_str(), "w");
  if (csv_)
    std::fputs("t_s,phase,rss_kb,fds,threads,cli_procs,runs_live,clients_open,frames_per_s,mb_per_s,runs_done,frames_total,"
               "errors,lat_p50_ms,lat_p99_ms,lat_max_ms,server_cpu_pct,cli_cpu_pct,driver_cpu_pct,sys_busy_pct,sys_nice_pct,load1,busiest_thread_pct,busiest_thread,execute_p50_ms,execute_max_ms\n",
               csv_);

  // Warm-up: one run with one client, so that what the server sets up once on first use (its
  // runtime's reactor: epoll, eventfd, timerfd) is in the baseline; then the idle server.
  {
    warm_ = std::make_unique<Slot>(*this, -1, 1, true);
    warm_->start_run();
    ioc_.run();
    ioc_.restart();
    std::fprintf(stderr, "ccb_soak: warm-up run %s\n", errors_.total ? "FAILED" : "done");
    runs_started_ = runs_done_ = clients_opened_ = clients_ok_ = clients_failed_ = total_frames_ = 0;
    run_seconds_.clear();
    interval_ = Counters{};
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  baseline_ = sample_proc(server_pid_);
  t0_ = last_sample_t_ = Clock::now();
  last_proc_ = baseline_;
  last_sys_ = sys_cpu();
  last_self_cpu_ = self_cpu_us();
  take_sample("idle");
  std::fprintf(stderr,
               "ccb_soak: server pid %d on port %u: %d runs x %d clients (%d resuming per run), %.0f s; a run: %d ticks every %d ms "
               "(%d frames), timed lines of %d bytes; baseline rss %ld kB, %ld fds, %ld threads\n",
               static_cast<int>(server_pid_), ep_.port(), o_.runs, per_run_, std::min(o_.resume_clients, per_run_), o_.seconds,
               o_.ticks, o_.interval_ms, 2 * o_.ticks + 2, o_.bytes, baseline_.rss_kb, baseline_.fds, baseline_.threads);

  for (int i = 0; i < o_.runs; ++i) slots_.push_back(std::make_unique<Slot>(*this, i, per_run_));
  // Ramp: the runs start spread over ramp seconds, so that they do not all end together either.
  double nominal = o_.ticks * o_.interval_ms / 1000.0;
  // Over a whole run length by default: the runs then also end (and are replaced) evenly, instead
  // of all within a few seconds (a burst of spawns, each of which blocks the server thread).
  double ramp = o_.ramp_seconds >= 0 ? o_.ramp_seconds : std::max(nominal, 1.0);
  auto step = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ramp / o_.runs));
  auto start_next = std::make_shared<std::function<void()>>();
  *start_next = [this, step, start_next] {
    if (stopping_ || next_slot_to_start_ >= slots_.size()) return;
    slots_[next_slot_to_start_++]->start_run();
    starter_.expires_after(step);
    starter_.async_wait([start_next](const std::error_code &ec) {
      if (!ec) (*start_next)();
    });
  };
  (*start_next)();
  schedule_sample();
  schedule_sweep();
  ioc_.run();
  take_sample("end");
  *start_next = nullptr;

  // After the load: the server must return to its baseline.
  ProcSample after;
  std::vector<pid_t> left;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  for (;;) {
    after = sample_proc(server_pid_);
    left = tagged_processes(tag_, server_pid_, false);
    if ((after.fds <= baseline_.fds && after.children == 0 && left.empty()) || Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double settle = 20.0 - std::chrono::duration<double>(deadline - Clock::now()).count();
  // Optionally watch the idle server a while longer (finished runs leave after the grace period).
  ProcSample lingered = after;
  if (o_.linger_seconds > 0) {
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.linger_seconds));
    while (Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::duration<double>(o_.sample_seconds));
      take_sample("linger");
    }
    lingered = sample_proc(server_pid_);
  }
  std::string metrics = http_get("/metrics");
  int exit_status = -1;
  if (own_server_) stop_server(exit_status);
  std::vector<pid_t> left_after_stop;
  if (own_server_) {
    for (int i = 0; i < 50; ++i) {  // the guard exits when it sees the server gone
      left_after_stop = tagged_processes(tag_, server_pid_, true);
      for (pid_t g : guards_of(server_pid_)) left_after_stop.push_back(g);
      if (left_after_stop.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // ---- judge ----
  std::vector<std::string> fails;
  if (errors_.total) fails.push_back(std::to_string(errors_.total) + " errors");
  if (runs_done_ == 0) fails.push_back("no run completed");
  if (clients_failed_) fails.push_back(std::to_string(clients_failed_) + " clients failed");
  if (after.fds != baseline_.fds)
    fails.push_back("server fds " + std::to_string(after.fds) + " after the load, " + std::to_string(baseline_.fds) + " before");
  if (after.children != 0 || !left.empty())
    fails.push_back(std::to_string(std::max<long>(after.children, static_cast<long>(left.size()))) + " CLI processes left after the load");
  if (!left_after_stop.empty()) fails.push_back(std::to_string(left_after_stop.size()) + " processes left after the server stopped");
  long fd_bound = baseline_.fds + o_.clients + 5L * o_.runs + 64;
  if (max_fds_ > fd_bound)
    fails.push_back("server fds reached " + std::to_string(max_fds_) + " (bound " + std::to_string(fd_bound) + ")");
  if (own_server_ && exit_status != 0) fails.push_back("server exit status " + std::to_string(exit_status) + " on SIGTERM");
  double dropped = metric(metrics, "ccbridge_clients_dropped_total"), gaps = metric(metrics, "ccbridge_replay_gaps_total"),
         spawn_fail = metric(metrics, "ccbridge_spawn_failures_total"), rejected = metric(metrics, "ccbridge_ws_rejected_total"),
         relayed = metric(metrics, "ccbridge_messages_relayed_total");
  if (metrics.empty()) fails.push_back("GET /metrics failed");
  if (dropped > 0) fails.push_back("server dropped " + std::to_string(static_cast<long>(dropped)) + " slow clients");
  if (gaps > 0) fails.push_back(std::to_string(static_cast<long>(gaps)) + " replay gaps");
  if (spawn_fail > 0) fails.push_back(std::to_string(static_cast<long>(spawn_fail)) + " spawn failures");
  if (rejected > 0) fails.push_back(std::to_string(static_cast<long>(rejected)) + " WebSocket upgrades refused");

  // Flatness over the load phase: the middle third against the last third.
  std::vector<const Row *> load;
  for (auto &r : rows_)
    if (r.phase == "load") load.push_back(&r);
  std::string flat_text;
  double rss_mid = 0, rss_last = 0, fds_mid = 0, fds_last = 0, thr_mid = 0, thr_last = 0;
  bool have_thirds = load.size() >= 6;
  if (have_thirds) {
    std::size_t a = load.size() / 3, b = 2 * load.size() / 3;
    std::vector<double> rm, rl2, fm, fl, tm, tl;
    for (std::size_t i = a; i < b; ++i) {
      rm.push_back(static_cast<double>(load[i]->p.rss_kb));
      fm.push_back(static_cast<double>(load[i]->p.fds));
      tm.push_back(static_cast<double>(load[i]->p.threads));
    }
    for (std::size_t i = b; i < load.size(); ++i) {
      rl2.push_back(static_cast<double>(load[i]->p.rss_kb));
      fl.push_back(static_cast<double>(load[i]->p.fds));
      tl.push_back(static_cast<double>(load[i]->p.threads));
    }
    rss_mid = median(rm);
    rss_last = median(rl2);
    fds_mid = median(fm);
    fds_last = median(fl);
    thr_mid = *std::max_element(tm.begin(), tm.end());
    thr_last = *std::max_element(tl.begin(), tl.end());
    bool rss_flat = rss_last <= rss_mid * (1 + o_.rss_tolerance) + 2048;
    bool fds_flat = fds_last <= fds_mid * 1.05 + 32;
    bool thr_flat = thr_last <= thr_mid + 2;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "RSS median %.1f MiB (middle third of the load) -> %.1f MiB (last third): %+.1f%%, %s (limit +%.0f%% + 2 MiB)%s; "
                  "last load sample %.1f MiB\n"
                  "fds median %.0f -> %.0f: %s; threads max %.0f -> %.0f: %s",
                  rss_mid / 1024, rss_last / 1024, rss_mid > 0 ? 100 * (rss_last - rss_mid) / rss_mid : 0,
                  rss_flat ? "flat" : "GROWING", o_.rss_tolerance * 100, o_.check_rss ? "" : " [not judged]",
                  static_cast<double>(load.back()->p.rss_kb) / 1024, fds_mid, fds_last,
                  fds_flat ? "flat" : "GROWING", thr_mid, thr_last, thr_flat ? "flat" : "GROWING");
    flat_text = buf;
    if (o_.check_rss && !rss_flat) fails.push_back("RSS grew over the load");
    if (o_.check_rss && !fds_flat) fails.push_back("fds grew over the load");
    if (o_.check_rss && !thr_flat) fails.push_back("threads grew over the load");
  } else {
    flat_text = "too few samples to judge flatness";
    if (o_.check_rss) fails.push_back("too few samples to judge RSS (longer --seconds or shorter --sample-seconds)");
  }

  // ---- summary ----
  std::string sum;
  char b[1024];
  double load_secs = std::chrono::duration<double>(load_end_ - t0_).count();
  std::snprintf(b, sizeof b,
                "ccb_soak summary\n"
                "load: %d runs x %d clients = %d clients (%d resume per run); a run = %d ticks every %d ms, %d frames; %.0f s of load\n",
                o_.runs, per_run_, o_.runs * per_run_, std::min(o_.resume_clients, per_run_), o_.ticks, o_.interval_ms,
                2 * o_.ticks + 2, load_secs);
  sum += b;
  std::snprintf(b, sizeof b,
                "runs started %" PRIu64 ", completed %" PRIu64 "; clients connected %" PRIu64 " (resumed %" PRIu64 "), ok %" PRIu64
                ", failed %" PRIu64 "\n"
                "frames delivered %" PRIu64 " (server relayed %.0f, warm-up included), %.0f frames/s (mean of the load samples)\n",
                runs_started_, runs_done_, clients_opened_, clients_resumed_, clients_ok_, clients_failed_, total_frames_, relayed,
                [&] {
                  double fsum = 0;
                  int n = 0;
                  for (auto &r : rows_)
                    if (r.phase == "load") fsum += r.fps, ++n;
                  return n ? fsum / n : 0.0;
                }());
  sum += b;
  std::vector<double> rs(run_seconds_.begin(), run_seconds_.end());
  std::sort(rs.begin(), rs.end());
  auto q = [&](double f) { return rs.empty() ? 0 : rs[static_cast<std::size_t>(f * static_cast<double>(rs.size() - 1))]; };
  std::snprintf(b, sizeof b,
                "run duration (execute -> last client closed): p50 %.2f s, p99 %.2f s, max %.2f s (script: %.2f s of sleeps)\n"
                "latency CLI write -> client read: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.1f ms (%" PRIu64 " samples)\n"
                "POST /claude/execute answered in: p50 %.2f ms, p99 %.2f ms, max %.1f ms\n",
                q(0.5), q(0.99), rs.empty() ? 0 : rs.back(), (o_.ticks - 1) * o_.interval_ms / 1000.0, lat_all_.pct_ms(0.5),
                lat_all_.pct_ms(0.99), lat_all_.pct_ms(0.999), static_cast<double>(lat_all_.max) / 1000, lat_all_.n,
                exec_all_.pct_ms(0.5), exec_all_.pct_ms(0.99), static_cast<double>(exec_all_.max) / 1000);
  sum += b;
  std::snprintf(b, sizeof b,
                "server: rss %.1f MiB idle, %.1f MiB max, %.1f MiB after the load (%.1f s to settle); fds %ld idle, %ld max, %ld after; "
                "CLIs max %ld, after %ld; exit status %d\n"
                "server /metrics: clients dropped %.0f, replay gaps %.0f, spawn failures %.0f, upgrades refused %.0f\n",
                static_cast<double>(baseline_.rss_kb) / 1024.0,
                [&] {
                  long m = 0;
                  for (auto &r : rows_) m = std::max(m, r.p.rss_kb);
                  return static_cast<double>(m);
                }() / 1024.0,
                static_cast<double>(after.rss_kb) / 1024.0, settle, baseline_.fds, max_fds_, after.fds, max_children_, after.children, exit_status,
                dropped, gaps, spawn_fail, rejected);
  sum += b;
  if (o_.linger_seconds > 0) {
    std::snprintf(b, sizeof b, "server after %.0f s idle: rss %.1f MiB, fds %ld, threads %ld\n", o_.linger_seconds,
                  static_cast<double>(lingered.rss_kb) / 1024.0, lingered.fds, lingered.threads);
    sum += b;
  }
  sum += flat_text + "\n";
  // RSS every minute (the sample nearest each whole minute).
  sum += "minute  rss_MiB  fds  threads  CLIs  frames/s  lat_p99_ms  exec_max_ms  cpu_server%  busiest_thread%  cpu_machine%\n";
  for (int m = 0;; ++m) {
    const Row *best = nullptr;
    for (auto &r : rows_)
      if (!best || std::abs(r.t - 60.0 * m) < std::abs(best->t - 60.0 * m)) best = &r;
    if (!best || std::abs(best->t - 60.0 * m) > o_.sample_seconds) break;
    std::snprintf(b, sizeof b, "%6d  %6.1f  %4ld  %7ld  %4ld  %8.0f  %10.1f  %11.0f  %11.0f  %15.0f  %12.0f\n", m,
                  static_cast<double>(best->p.rss_kb) / 1024.0, best->p.fds, best->p.threads, best->p.children, best->fps, best->p99,
                  best->exec_max, best->srv_cpu, best->thread_max, best->sys_busy);
    sum += b;
  }
  if (!errors_.by_kind.empty()) {
    sum += "errors by kind:";
    for (auto &kv : errors_.by_kind) sum += " " + kv.first + "=" + std::to_string(kv.second);
    sum += "\nfirst errors:\n";
    for (auto &e : errors_.examples) sum += "  " + e + "\n";
  }
  sum += fails.empty() ? "VERDICT: PASS\n" : "VERDICT: FAIL:";
  for (std::size_t i = 0; i < fails.size(); ++i) sum += (i ? "; " : " ") + fails[i];
  if (!fails.empty()) sum += "\n";
  std::fputs(sum.c_str(), stdout);
  std::fflush(stdout);
  if (FILE *f = std::fopen((o_.out_dir + "/summary.txt").c_str(), "w")) {
    std::fputs(sum.c_str(), f);
    std::fclose(f);
  }
  if (csv_) std::fclose(csv_);
  return fails.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv)
{
  Options o = parse_args(argc, argv);
  Driver d(std::move(o));
  return d.main();
}
