// Agent platform: health checks, metric samples and the /monitoring routes (see monitoring.hpp).
#include "server/profiles/platform/monitoring.hpp"

#include "server/profiles/platform/rest.hpp"

#include <ccbridge/options.hpp>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace ccbridge::detail::server::platform {

namespace {

constexpr auto kProbeTimeout = std::chrono::seconds(3);
constexpr auto kCliVersionTtl = std::chrono::minutes(10);
constexpr int kCliVersionWaitMs = 10000;
// The store's filesystem is degraded below this much free space.
constexpr unsigned long long kDiskLowBytes = 256ull << 20;

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double rounded(double v, double unit) { return std::round(v / unit) * unit; }

// `claude --version`'s first line, run as its own process group with only PATH and HOME, read
// for at most kCliVersionWaitMs (then the group is killed). On the monitor's worker thread.
std::string run_version(const std::string &program, std::string &error)
{
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    error = "pipe failed";
    return {};
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  std::string path = std::string("PATH=") + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
  std::string home = std::string("HOME=") + (std::getenv("HOME") ? std::getenv("HOME") : "/");
  char *envp[] = {path.data(), home.data(), nullptr};
  std::string arg0 = program, arg1 = "--version";
  char *argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    error = "cannot start " + program + ": " + std::strerror(rc);
    return {};
  }
  std::string text;
  auto deadline = Clock::now() + std::chrono::milliseconds(kCliVersionWaitMs);
  char buf[512];
  for (;;) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    pollfd pf{out[0], POLLIN, 0};
    if (left <= 0 || poll(&pf, 1, left) <= 0) {
      error = "no answer to --version in " + std::to_string(kCliVersionWaitMs) + " ms";
      break;
    }
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() > 4096) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  kill(-pid, SIGKILL);  // done or not: nothing of it stays (its group, had it any children)
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  text = text.substr(0, text.find('\n'));
  if (error.empty() && text.empty()) error = "--version printed nothing";
  return utf8_or_replaced(text.substr(0, 200));
}

std::string health_json(const ServiceHealth &h, const std::string &now)
{
  std::string out = "{\"status\":" + json_str(h.status) + ",\"lastCheck\":" + json_str(h.last_check.empty() ? now : h.last_check);
  if (h.response_time_ms) out += ",\"responseTime\":" + to_json(JsonValue(rounded(*h.response_time_ms, 0.01)));
  if (!h.error.empty()) out += ",\"error\":" + json_str(utf8_or_replaced(h.error.substr(0, 500)));
  if (!h.details.empty()) out += ",\"details\":" + h.details;
  return out + "}";
}

ServiceHealth disk_health(const std::string &db)
{
  ServiceHealth h;
  if (db == ":memory:" || db.empty()) {
    h.details = "{\"inMemory\":true}";
    return h;
  }
  std::string dir = db.find('/') == std::string::npos ? "." : db.substr(0, db.rfind('/') + 1);
  struct statvfs v {};
  auto t0 = Clock::now();
  if (statvfs(dir.c_str(), &v) != 0) {
    h.status = "offline";
    h.error = std::string("statvfs: ") + std::strerror(errno);
    return h;
  }
  h.response_time_ms = ms_since(t0);
  unsigned long long free = static_cast<unsigned long long>(v.f_bavail) * v.f_frsize;
  unsigned long long total = static_cast<unsigned long long>(v.f_blocks) * v.f_frsize;
  h.details = "{\"freeBytes\":" + std::to_string(free) + ",\"totalBytes\":" + std::to_string(total) +
              ",\"lowBytes\":" + std::to_string(kDiskLowBytes) + "}";
  if (free < kDiskLowBytes) {
    h.status = "degraded";
    h.error = "less than " + std::to_string(kDiskLowBytes >> 20) + " MiB free";
  }
  return h;
}

enum class Kind { mean, sum };

struct MetricDef {
  const char *name;
  Kind kind;
};

// A mean is sum / n of its bucket (latency per request, error share, gauges per sample); a sum
// is what the bucket counted.
const MetricDef kMetrics[] = {
    {"api_latency", Kind::mean},    {"request_count", Kind::sum},      {"error_rate", Kind::mean},
    {"task_count", Kind::sum},      {"active_sessions", Kind::mean},   {"active_connections", Kind::mean},
    {"tokens_used", Kind::sum},     {"cost_usd", Kind::sum},
};

}  // namespace

const std::vector<std::string> &metric_names()
{
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> v;
    for (const auto &m : kMetrics) v.emplace_back(m.name);
    return v;
  }();
  return kNames;
}

// ---- the monitor -----------------------------------------------------------------------------------

Monitor::Monitor(Platform &p) : p_(p), timer_(p.ctx.ioc) {}

Monitor::~Monitor() = default;

void Monitor::start()
{
  worker_ = std::make_unique<Worker>(p_.ctx.ioc, 1);
  ask_cli_version();
  check([](const std::string &) {});
  schedule();
}

void Monitor::stop()
{
  timer_.cancel();
  alive_ = std::make_shared<bool>(true);  // checks still waiting for probes answer nobody
  try {
    sample();
  } catch (const std::exception &e) {
    p_.ctx.log.warn("platform_metrics", {{"what", e.what()}});
  }
  worker_.reset();
}

void Monitor::request_done(int status, double ms)
{
  minute_.latency_ms += ms;
  ++minute_.requests;
  if (status >= 500) ++minute_.errors;
}

void Monitor::task_finished(std::int64_t tokens, double cost_usd)
{
  minute_.tokens += tokens;
  minute_.cost_usd += cost_usd;
}

// Ticks on multiples of the interval (minute boundaries by default), so a sample is the minute
// that just ended.
void Monitor::schedule()
{
  auto every = std::max<std::int64_t>(p_.cfg.metrics_interval.count(), 1);
  timer_.expires_after(std::chrono::milliseconds(every - now_unix_ms() % every + 5));
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
    if (ec || !alive.lock()) return;
    try {
      sample();
      if (Clock::now() - cli_asked_ > kCliVersionTtl) ask_cli_version();
      check([](const std::string &) {});
    } catch (const std::exception &e) {
      p_.ctx.log.warn("platform_metrics", {{"what", e.what()}});
    }
    schedule();
  });
}

void Monitor::sample()
{
  std::int64_t now_ms = now_unix_ms();
  std::int64_t minute = (now_ms - 10) / 1000 / 60 * 60;
  Minute m = minute_;
  minute_ = Minute{};
  std::vector<MetricSample> s{{"request_count", static_cast<double>(m.requests), 1},
                              {"task_count", static_cast<double>(m.tasks), 1},
                              {"active_sessions", static_cast<double>(p_.live_sessions()), 1},
                              {"active_connections", static_cast<double>(connections_), 1},
                              {"tokens_used", static_cast<double>(m.tokens), 1},
                              {"cost_usd", m.cost_usd, 1}};
  if (m.requests) {
    s.push_back({"api_latency", m.latency_ms, m.requests});
    s.push_back({"error_rate", static_cast<double>(m.errors), m.requests});
    last_latency_ms_ = m.latency_ms / static_cast<double>(m.requests);
  }
  Store &st = p_.store();
  st.add_samples(minute, s);
  MetricRetention keep;
  keep.minute = p_.cfg.metrics_minute_retention.count();
  st.roll_up(now_ms / 1000, 24);
  st.prune_metrics(now_ms / 1000, keep, 5000);
}

void Monitor::ask_cli_version()
{
  if (cli_running_ || !worker_) return;
  std::string program;
  CliInfo failed;
  try {
    program = find_cli(p_.ctx.cfg.cli);
  } catch (const std::exception &e) {
    failed.error = e.what();
    cli_ = failed;
    cli_asked_ = Clock::now();
    return;
  }
  cli_running_ = true;
  cli_asked_ = Clock::now();
  bool queued = worker_->run(
      [program] {
        CliInfo c;
        auto t0 = Clock::now();
        c.version = run_version(program, c.error);
        c.ms = ms_since(t0);
        c.found = c.error.empty() || !c.version.empty();
        return c;
      },
      [this](CliInfo c) {
        cli_running_ = false;
        cli_ = std::move(c);
      });
  if (!queued) cli_running_ = false;
}

std::map<std::string, ServiceHealth> Monitor::builtin_services()
{
  std::map<std::string, ServiceHealth> out;
  ServiceHealth api;
  if (last_latency_ms_ >= 0) api.response_time_ms = last_latency_ms_;
  out["api"] = api;
  ServiceHealth db;
  auto t0 = Clock::now();
  try {
    p_.store().ping();
    db.response_time_ms = ms_since(t0);
  } catch (const std::exception &e) {
    db.status = "offline";
    db.error = e.what();
  }
  out["database"] = db;
  ServiceHealth cli;
  if (!cli_) {
    cli.status = "degraded";
    cli.error = "its version is being asked";
  } else {
    cli.status = cli_->found ? "online" : "offline";
    cli.error = cli_->error;
    cli.response_time_ms = cli_->ms;
    if (!cli_->version.empty()) cli.details = "{\"version\":" + json_str(cli_->version) + "}";
  }
  out["claude-cli"] = cli;
  out["store-disk"] = disk_health(p_.cfg.db);
  return out;
}

void Monitor::add_probe(const std::string &name, HealthProbe probe) { probes_[name] = std::move(probe); }

void Monitor::remove_probe(const std::string &name) { probes_.erase(name); }

// One check: the built-in services now, each probe when it answers or kProbeTimeout passed.
class Monitor::Check : public std::enable_shared_from_this<Monitor::Check> {
public:
  Check(Monitor &m, std::function<void(const std::string &)> done)
      : m_(m), done_(std::move(done)), timer_(m.p_.ctx.ioc), alive_(m.alive_)
  {
  }
  void run()
  {
    services_ = m_.builtin_services();
    for (const auto &kv : m_.probes_) services_.emplace(kv.first, ServiceHealth{"offline", "", std::nullopt, "no answer in 3000 ms", ""});
    waiting_ = m_.probes_.size();
    auto self = shared_from_this();
    auto probes = m_.probes_;
    for (const auto &kv : probes) {
      std::string name = kv.first;
      auto t0 = Clock::now();
      kv.second([self, name, t0](ServiceHealth h) {
        if (self->finished_) return;
        if (!h.response_time_ms) h.response_time_ms = ms_since(t0);
        self->services_[name] = std::move(h);
        if (--self->waiting_ == 0) self->finish();
      });
    }
    if (waiting_ == 0) return finish();
    timer_.expires_after(kProbeTimeout);
    timer_.async_wait([self](std::error_code ec) {
      if (!ec) self->finish();
    });
  }

private:
  void finish()
  {
    if (finished_ || !alive_.lock()) return;
    finished_ = true;
    timer_.cancel();
    std::string now = now_iso(), services, status = "healthy";
    for (const auto &kv : services_) {
      services += (services.empty() ? "" : ",") + json_str(kv.first) + ":" + health_json(kv.second, now);
      if (kv.second.status != "online") status = "degraded";
    }
    if (services_["database"].status == "offline") status = "unhealthy";
    services = "{" + services + "}";
    m_.checked(status, services);
    const SystemConfig &c = m_.p_.config();
    done_("{\"status\":" + json_str(status) + ",\"timestamp\":" + json_str(now) + ",\"services\":" + services +
          ",\"overall\":{\"uptime\":" + std::to_string(m_.p_.uptime_ms()) + ",\"version\":" + json_str(c.version) +
          ",\"environment\":" + json_str(c.mode) + "}}");
  }

  Monitor &m_;
  std::function<void(const std::string &)> done_;
  asio::steady_timer timer_;
  std::weak_ptr<bool> alive_;
  std::map<std::string, ServiceHealth> services_;
  std::size_t waiting_ = 0;
  bool finished_ = false;
};

void Monitor::check(std::function<void(const std::string &)> done)
{
  std::make_shared<Check>(*this, std::move(done))->run();
}

void Monitor::checked(const std::string &status, const std::string &services)
{
  status_json_ = "{\"status\":" + json_str(status) + ",\"services\":" + services + "}";
  // A change is a service's status, not its times.
  std::string sig = status;
  JsonDocument d = parse_object(services);
  if (d.IsObject())
    for (const auto &m : d.GetObject()) sig += std::string(",") + m.name.GetString() + "=" + text_of(m.value, "status");
  if (sig == signature_) return;
  bool first = signature_.empty();
  signature_ = sig;
  if (first) return;
  auto watchers = watchers_;
  for (auto &kv : watchers) kv.second(status_json_);
}

// ---- the routes ------------------------------------------------------------------------------------

void monitoring_health(Platform &p, Call &c)
{
  auto done = c.later();
  p.monitor().check([done](const std::string &health) { done(200, health); });
}

namespace {

struct Range {
  const char *name;
  std::int64_t seconds;
  const char *granularity;  ///< the default
};

const Range kRanges[] = {{"1h", 3600, "5m"}, {"6h", 6 * 3600, "5m"}, {"24h", 86400, "1h"},
                         {"7d", 7 * 86400, "1h"}, {"30d", 30 * 86400, "1d"}};

std::int64_t step_of(const std::string &g) { return g == "1m" ? 60 : g == "5m" ? 300 : g == "1h" ? 3600 : 86400; }

// The names asked (all when none), each known; 422 INVALID_INPUT naming the first unknown one.
std::vector<std::string> metrics_asked(const HttpRequest &req)
{
  auto text = req.query_param("metrics");
  if (!text || text->empty()) return metric_names();
  std::vector<std::string> out;
  std::string_view rest = *text;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string name(rest.substr(0, comma));
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    const auto &known = metric_names();
    if (std::find(known.begin(), known.end(), name) == known.end())
      fail(422, "INVALID_INPUT", "unknown metric " + quoted(utf8_or_replaced(name.substr(0, 64))) + "; known: " + [&] {
             std::string l;
             for (const auto &k : known) l += (l.empty() ? "" : ", ") + k;
             return l;
           }(), "{\"field\":\"metrics\"}");
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

std::string series_json(Store &st, const std::string &name, std::int64_t from, std::int64_t to, std::int64_t step)
{
  Kind kind = Kind::sum;
  for (const auto &m : kMetrics)
    if (name == m.name) kind = m.kind;
  std::string out;
  for (const auto &b : st.metric_series(name, from, to, step)) {
    if (kind == Kind::mean && b.n == 0) continue;
    double v = kind == Kind::mean ? b.sum / static_cast<double>(b.n) : b.sum;
    out += (out.empty() ? "" : ",") + std::string("{\"timestamp\":") + json_str(iso_from_unix_ms(b.ts * 1000)) +
           ",\"value\":" + to_json(JsonValue(rounded(v, 0.000001))) + "}";
  }
  return "[" + out + "]";
}

}  // namespace

void monitoring_metrics(Platform &p, Call &c)
{
  std::string range = enum_param(c.req, "timeRange", {"1h", "6h", "24h", "7d", "30d"});
  if (range.empty()) range = "1h";
  const Range *r = &kRanges[0];
  for (const auto &x : kRanges)
    if (range == x.name) r = &x;
  std::string g = enum_param(c.req, "granularity", {"1m", "5m", "1h", "1d"});
  if (g.empty()) g = r->granularity;
  std::int64_t step = step_of(g);
  if (step > r->seconds)
    fail(422, "INVALID_INPUT", "granularity " + g + " is coarser than the time range " + range, "{\"field\":\"granularity\"}");
  if (step < 3600 && r->seconds > p.cfg.metrics_minute_retention.count())
    fail(422, "INVALID_INPUT", "granularity " + g + " is finer than what is kept for " + range + " (minute samples are kept " +
                                   std::to_string(p.cfg.metrics_minute_retention.count() / 3600) + " h): use 1h or 1d",
         "{\"field\":\"granularity\"}");
  std::vector<std::string> names = metrics_asked(c.req);
  std::int64_t now = now_unix();
  std::int64_t from = (now - r->seconds + step - 1) / step * step;  // the first whole bucket in the range
  std::string metrics;
  for (const auto &n : names)
    metrics += (metrics.empty() ? "" : ",") + json_str(n) + ":" + series_json(p.store(), n, from, now + 1, step);
  c.ok(200, "{\"timeRange\":" + json_str(range) + ",\"granularity\":" + json_str(g) + ",\"metrics\":{" + metrics + "}}");
}

}  // namespace ccbridge::detail::server::platform
