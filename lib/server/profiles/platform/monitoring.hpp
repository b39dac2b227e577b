// Agent platform: what GET /v1/monitoring/health, GET /v1/monitoring/metrics and the chat
// WebSocket's system:status events report, from one source.
//  - Health: the built-in services (api, database, claude-cli, store-disk) and one entry per
//    probe other parts register (the /tools code: one per MCP server). A check runs every probe
//    (each answers within kProbeTimeout or counts as offline); its result is kept, and
//    system:status is that kept result, pushed to watchers when a service's status changes.
//  - Metrics: counted as the server works (REST calls in dispatch.cpp, tasks, chat connections),
//    written to the store once per sampling interval (one row per metric and minute, added to),
//    rolled into hour and day rows and pruned by the same timer, in small transactions.
// The CLI's version (`claude --version`) is asked on a thread of its own, at start and when older
// than kCliVersionTtl, never on the server thread. Thread safety: server thread only; a probe
// must call its `done` on the server thread.
#pragma once

#include "server/profiles/platform/store.hpp"

#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ccbridge::detail::server::platform {

class Platform;
class Worker;

struct ServiceHealth {
  std::string status = "online";  ///< online | offline | degraded
  std::string last_check;         ///< ISO 8601; "" = when the check ended
  std::optional<double> response_time_ms;
  std::string error;
  std::string details;  ///< a JSON object's text (version, free bytes ...), or ""
};

/// Checks one service; calls `done` once, on the server thread.
using HealthProbe = std::function<void(std::function<void(ServiceHealth)> done)>;

class Monitor {
public:
  explicit Monitor(Platform &p);
  ~Monitor();
  Monitor(const Monitor &) = delete;
  Monitor &operator=(const Monitor &) = delete;

  void start();  ///< the sampling timer, the CLI's version, a first check
  void stop();   ///< the last (partial) minute is written

  // what the platform counts
  void request_done(int status, double ms);
  void task_submitted() { ++minute_.tasks; }
  void task_finished(std::int64_t tokens, double cost_usd);
  void connection_opened() { ++connections_; }
  void connection_closed() { --connections_; }

  /// Adds (or replaces) the probe named `name`: a service of its own in every check.
  void add_probe(const std::string &name, HealthProbe probe);
  void remove_probe(const std::string &name);
  /// Checks every service; `done` gets the data of GET /monitoring/health.
  void check(std::function<void(const std::string &health)> done);
  /// system:status data ({status, services}) of the last check.
  const std::string &status_json() const { return status_json_; }
  /// `fn` gets the system:status data whenever a service's status changes; until unwatch(key).
  void watch(const void *key, std::function<void(const std::string &)> fn) { watchers_[key] = std::move(fn); }
  void unwatch(const void *key) { watchers_.erase(key); }

  /// Writes what was counted since the last sample, rolls up and prunes (the timer's work).
  void sample();

private:
  struct Minute {
    double latency_ms = 0;
    std::int64_t requests = 0, errors = 0, tasks = 0, tokens = 0;
    double cost_usd = 0;
  };
  struct CliInfo {
    bool found = false;
    std::string version, error;
    double ms = 0;
  };
  class Check;
  void schedule();
  void ask_cli_version();
  std::map<std::string, ServiceHealth> builtin_services();
  void checked(const std::string &status, const std::string &services);

  Platform &p_;
  asio::steady_timer timer_;
  std::unique_ptr<Worker> worker_;  ///< runs `claude --version`
  Minute minute_;
  double last_latency_ms_ = -1;  ///< mean REST latency of the last sample with requests
  int connections_ = 0;
  std::map<std::string, HealthProbe> probes_;
  std::optional<CliInfo> cli_;
  std::chrono::steady_clock::time_point cli_asked_{};
  bool cli_running_ = false;
  std::string status_json_, signature_;
  std::map<const void *, std::function<void(const std::string &)>> watchers_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// The metrics GET /monitoring/metrics knows, in the order it lists them.
const std::vector<std::string> &metric_names();

}  // namespace ccbridge::detail::server::platform
