// server_config_from_json(): its own executable because it links the server library.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "deep_json.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/runtime.hpp>
#include <ccbridge/server.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace ccbridge;

namespace {
std::string error_of(const std::string &json)
{
  try {
    (void)server_config_from_json(json);
  } catch (const Error &e) {
    CHECK(e.code() == errc::invalid_argument);
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("server config json: every field, durations in ms, cli options by the SDK's names")
{
  auto c = server_config_from_json(R"({
    "listeners": [{"host": "0.0.0.0", "port": 8000, "profiles": ["sdk-ws"]}, {"port": 0}],
    "cli": {"cli_path": "/bin/claude", "model": "m", "shutdown": {"exit_wait_ms": 10}},
    "allowed_roots": ["/srv"], "allowed_permission_modes": ["default"], "default_permission_mode": "default",
    "token": "t", "allowed_origins": ["*"], "cors": true, "tasks_ui_timeout_ms": 1000,
    "tls_cert": "/etc/c.pem", "tls_key": "/etc/k.pem", "sdk_ws_session_timeout_ms": 2000, "sdk_ws_reconnect_grace_ms": 3000,
    "limits": {"max_connections": 5, "max_sessions": 6, "max_body_bytes": 7, "max_ws_message_bytes": 8,
               "send_buffer_bytes": 9, "slow_client_timeout_ms": 10, "run_log_bytes": 11,
               "finished_run_grace_ms": 12, "idle_timeout_ms": 13},
    "log_level": "warn", "log_json": true})");
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].host == "0.0.0.0");
  CHECK(c.listeners[0].port == 8000);
  CHECK(c.listeners[0].profiles == std::vector<std::string>{"sdk-ws"});
  CHECK(c.listeners[1].host == "127.0.0.1");
  CHECK(c.cli.cli_path == "/bin/claude");
  CHECK(c.cli.model == "m");
  CHECK(c.cli.shutdown.exit_wait.count() == 10);
  CHECK(c.allowed_roots == std::vector<std::string>{"/srv"});
  CHECK(c.token == "t");
  CHECK(c.cors);
  CHECK(c.tls_cert == "/etc/c.pem");
  CHECK(c.tls_key == "/etc/k.pem");
  CHECK(c.tasks_ui.timeout.count() == 1000);
  CHECK(c.sdk_ws.session_timeout.count() == 2000);
  CHECK(c.sdk_ws.reconnect_grace.count() == 3000);
  CHECK(c.limits.max_connections == 5);
  CHECK(c.limits.max_sessions == 6);
  CHECK(c.limits.max_body_bytes == 7);
  CHECK(c.limits.max_ws_message_bytes == 8);
  CHECK(c.limits.send_buffer_bytes == 9);
  CHECK(c.limits.slow_client_timeout.count() == 10);
  CHECK(c.limits.run_log_bytes == 11);
  CHECK(c.limits.finished_run_grace.count() == 12);
  CHECK(c.limits.idle_timeout.count() == 13);
  CHECK(c.log.level == ServerLog::Level::warn);
  CHECK(c.log.json);
  auto d = server_config_from_json("{}");
  CHECK(d.listeners.empty());
  CHECK(d.limits.max_sessions == ServerLimits{}.max_sessions);
}

TEST_CASE("server config json: each profile's settings in its own object, and the flat names still work")
{
  auto c = server_config_from_json(
      R"({"tasks_ui": {"timeout_ms": 1500}, "sdk_ws": {"session_timeout_ms": 2500, "reconnect_grace_ms": 0}})");
  CHECK(c.tasks_ui.timeout.count() == 1500);
  CHECK(c.sdk_ws.session_timeout.count() == 2500);
  CHECK(c.sdk_ws.reconnect_grace.count() == 0);
  auto flat = server_config_from_json(R"({"tasks_ui_timeout_ms": 1500, "sdk_ws_reconnect_grace_ms": 7})");
  CHECK(flat.tasks_ui.timeout.count() == 1500);
  CHECK(flat.sdk_ws.reconnect_grace.count() == 7);
  CHECK(flat.sdk_ws.session_timeout.count() == 1800000);
  CHECK(error_of(R"({"sdk_ws": {"grace_ms": 1}})").find("unknown server setting 'sdk_ws.grace_ms'") !=
        std::string::npos);
  CHECK(error_of(R"({"tasks_ui": {"timeout_ms": 0}})")
            .find("'tasks_ui.timeout_ms' must be an integer from 1 to 86400000") != std::string::npos);
  CHECK(error_of(R"({"tasks_ui": 5})").find("'tasks_ui' must be an object") != std::string::npos);
  CHECK(error_of(R"({"sdk_ws_nonsense_ms": 5})").find("unknown server setting 'sdk_ws_nonsense_ms'") !=
        std::string::npos);
}

TEST_CASE("server config json: the platform's settings")
{
  auto c = server_config_from_json(R"({"platform": {"db": "/tmp/p.db", "jwt_secret": "k", "issuer": "me",
      "access_ttl_ms": 60000, "refresh_ttl_ms": 120000, "remember_ttl_ms": 240000, "clock_leeway_ms": 5000,
      "requests_per_hour": 50, "login_attempts_per_15min": 7, "password_cost_log2": 12,
      "default_task_timeout_ms": 9000, "idle_close_ms": 30000, "max_queued_tasks": 3}})");
  const PlatformSettings &p = c.platform;
  CHECK(p.db == "/tmp/p.db");
  CHECK(p.jwt_secret == "k");
  CHECK(p.issuer == "me");
  CHECK(p.access_ttl.count() == 60);
  CHECK(p.refresh_ttl.count() == 120);
  CHECK(p.remember_ttl.count() == 240);
  CHECK(p.clock_leeway.count() == 5);
  CHECK(p.requests_per_hour == 50);
  CHECK(p.login_attempts_per_15min == 7);
  CHECK(p.password_cost_log2 == 12);
  CHECK(p.default_task_timeout.count() == 9);
  CHECK(p.idle_close.count() == 30);
  CHECK(p.max_queued_tasks == 3);
  CHECK(error_of(R"({"platform": {"password_cost_log2": 30}})").find("'platform.password_cost_log2' must be an integer from 10 to 20") !=
        std::string::npos);
  CHECK(error_of(R"({"platform": {"nope": 1}})").find("unknown server setting 'platform.nope'") != std::string::npos);
}

TEST_CASE("server config json: bad input names the key")
{
  CHECK(error_of(R"({"listener": []})").find("unknown server setting 'listener'") != std::string::npos);
  CHECK(error_of(R"({"listeners": [{"port": 70000}]})").find("'listeners.port' must be an integer") != std::string::npos);
  CHECK(error_of(R"({"limits": {"max_sessions": 0}})").find("'limits.max_sessions'") != std::string::npos);
  CHECK(error_of(R"({"limits": {"bogus": 1}})").find("unknown server setting 'limits.bogus'") != std::string::npos);
  CHECK(error_of(R"({"cli": {"bogus": 1}})").find("unknown option 'bogus'") != std::string::npos);
  CHECK(error_of(R"({"log_level": "loud"})").find("'log_level'") != std::string::npos);
  CHECK(error_of("[").find("not valid JSON") != std::string::npos);
  CHECK(error_of("[]").find("must be an object") != std::string::npos);
}

TEST_CASE("server config json: numbers are range-checked like ccbridge serve's flags, cli errors name cli")
{
  struct Case {
    const char *json, *error;
  };
  const Case cases[] = {
      {R"({"limits": {"max_sessions": 1000001}})", "'limits.max_sessions' must be an integer from 1 to 1000000"},
      {R"({"limits": {"max_connections": 0}})", "'limits.max_connections' must be an integer from 1 to 1000000"},
      {R"({"limits": {"max_body_bytes": 4294967297}})", "'limits.max_body_bytes' must be an integer from 1 to 4294967296"},
      {R"({"limits": {"max_ws_message_bytes": -1}})", "'limits.max_ws_message_bytes' must be an integer from 1 to 4294967296"},
      {R"({"limits": {"send_buffer_bytes": 9223372036854775807}})", "'limits.send_buffer_bytes' must be an integer from 1 to 4294967296"},
      {R"({"limits": {"run_log_bytes": 1099511627777}})", "'limits.run_log_bytes' must be an integer from 1 to 1099511627776"},
      {R"({"limits": {"slow_client_timeout_ms": 0}})", "'limits.slow_client_timeout_ms' must be an integer from 1 to 86400000"},
      {R"({"limits": {"idle_timeout_ms": 604800001}})", "'limits.idle_timeout_ms' must be an integer from 0 to 604800000"},
      {R"({"limits": {"finished_run_grace_ms": -1}})", "'limits.finished_run_grace_ms' must be an integer from 0 to 604800000"},
      {R"({"tasks_ui_timeout_ms": 0})", "'tasks_ui_timeout_ms' must be an integer from 1 to 86400000"},
      {R"({"sdk_ws_session_timeout_ms": 0})", "'sdk_ws_session_timeout_ms' must be an integer from 1 to 6000000000"},
      {R"({"sdk_ws_reconnect_grace_ms": 86400001})", "'sdk_ws_reconnect_grace_ms' must be an integer from 0 to 86400000"},
      {R"({"listeners": [{"port": -1}]})", "'listeners.port' must be an integer from 0 to 65535"},
      {R"({"listeners": [{"port": 1, "hots": "x"}]})", "unknown server setting 'listeners.hots'"},
      {R"({"cli": {"bogus": 1}})", "server setting 'cli' is not valid: unknown option 'bogus'"},
      {R"({"cli": {"shutdown": {"exit_wait_ms": -1}}})", "server setting 'cli' is not valid: option 'shutdown.exit_wait_ms' must be from 0"},
      {R"({"cli": {"shutdown": {"kill_wait_ms": 1}}})", "server setting 'cli' is not valid: unknown option 'shutdown.kill_wait_ms'"},
  };
  for (const auto &c : cases) {
    INFO(c.json);
    std::string e = error_of(c.json);
    CHECK_MESSAGE(e.find(c.error) != std::string::npos, e);
  }
  // The bounds themselves are accepted.
  auto ok = server_config_from_json(R"({"limits": {"max_sessions": 1000000, "max_body_bytes": 4294967296,
    "run_log_bytes": 1099511627776, "slow_client_timeout_ms": 1, "idle_timeout_ms": 0}, "tasks_ui_timeout_ms": 1,
    "sdk_ws_session_timeout_ms": 6000000000, "listeners": [{"port": 65535}]})");
  CHECK(ok.limits.max_sessions == 1000000);
  CHECK(ok.sdk_ws.session_timeout.count() == 6000000000LL);
}

TEST_CASE("server config json: 512 levels of nesting are read, 513 are refused with a clear error")
{
  // {"cli": {"sandbox": {"a": X}}}: X starts at level 4.
  for (auto nested : {ccb_test::nested_arrays, ccb_test::nested_mixed}) {
    auto c = server_config_from_json("{\"cli\":{\"sandbox\":{\"a\":" + nested(509) + "}}}");
    CHECK(c.cli.sandbox_json == "{\"a\":" + nested(509) + "}");
    for (std::size_t levels : {std::size_t(510), std::size_t(200000)}) {
      std::string e = error_of("{\"cli\":{\"sandbox\":{\"a\":" + nested(levels) + "}}}");
      CHECK(e.find("server config is not valid JSON: nested deeper than 512 levels") != std::string::npos);
    }
  }
}

TEST_CASE("server: a start that fails (address in use, bad setting) throws and leaves a server that stops at once")
{
  Runtime rt;
  ServerConfig first_cfg;
  first_cfg.listeners.push_back({"127.0.0.1", 0, {"sdk-ws"}});
  Server first(rt, first_cfg);
  first.start();
  auto taken = first.endpoints().at(0).port;

  ServerConfig busy;
  busy.listeners.push_back({"127.0.0.1", taken, {"sdk-ws"}});
  {
    Server second(rt, busy);
    CHECK_THROWS_AS(second.start(), Error);
    second.stop();  // returns, and so does the destructor
  }
  ServerConfig bad;
  bad.listeners.push_back({"127.0.0.1", 0, {"no-such-profile"}});
  {
    Server third(rt, bad);
    CHECK_THROWS_AS(third.start(), Error);
  }
  first.stop();
}
