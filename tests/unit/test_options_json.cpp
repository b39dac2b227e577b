#include "deep_json.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace ccbridge;

namespace {

// The message of the invalid_argument error `json` gives, or "" if it parses.
std::string error_of(const std::string &json)
{
  try {
    (void)options_from_json(json);
  } catch (const Error &e) {
    CHECK(e.code() == errc::invalid_argument);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("options json: the Python SDK's field names and shapes give the same Options as C++")
{
  auto o = options_from_json(R"({
    "system_prompt": {"type": "preset", "preset": "claude_code", "append": "Be brief."},
    "tools": ["Read", "Grep"], "allowed_tools": ["Read"], "disallowed_tools": ["Bash"],
    "max_turns": 3, "max_budget_usd": 0.5, "task_budget": {"total": 1000},
    "model": "claude-x", "fallback_model": "claude-y", "betas": ["b1"],
    "permission_mode": "acceptEdits", "continue_conversation": true, "resume": "abc",
    "settings": "{\"a\":1}", "sandbox": {"enabled": true}, "add_dirs": ["/tmp"],
    "mcp_servers": {"fs": {"command": "fs-server", "args": ["--x"]}},
    "include_partial_messages": true, "include_hook_events": true, "fork_session": true,
    "setting_sources": [], "plugins": [{"type": "local", "path": "/p"}],
    "thinking": {"type": "enabled", "budget_tokens": 2048}, "effort": "high",
    "output_format": {"type": "json_schema", "schema": {"type": "object"}},
    "extra_args": {"debug-to-stderr": null, "foo": "bar"},
    "enable_file_checkpointing": true, "env": {"A": "1"}, "cli_path": "/bin/claude",
    "cwd": "/work", "max_buffer_size": 4096,
    "max_buffered_messages": 10, "shutdown": {"exit_wait_ms": 100, "cancel_grace_ms": 50, "term_wait_ms": 200},
    "inherit_env": "allow_list", "pass_env": ["FOO", "OTEL_*"],
    "client_app": "my-app/1.0", "verbatim_prompts": true, "forward_subagent_text": true
  })");
  CHECK(o.client_app == "my-app/1.0");
  CHECK(o.verbatim_prompts);
  CHECK(o.forward_subagent_text);
  REQUIRE(o.system_prompt);
  CHECK(o.system_prompt->kind == SystemPrompt::Kind::preset);
  CHECK(o.system_prompt->append == "Be brief.");
  CHECK(o.tools == std::vector<std::string>{"Read", "Grep"});
  CHECK(o.allowed_tools == std::vector<std::string>{"Read"});
  CHECK(o.disallowed_tools == std::vector<std::string>{"Bash"});
  CHECK(o.max_turns == 3);
  CHECK(o.max_budget_usd == 0.5);
  CHECK(o.task_budget == 1000);
  CHECK(o.model == "claude-x");
  CHECK(o.fallback_model == "claude-y");
  CHECK(o.permission_mode == "acceptEdits");
  CHECK(o.continue_conversation);
  CHECK(o.resume == "abc");
  CHECK(o.sandbox_json == R"({"enabled":true})");
  CHECK(o.mcp_servers.at("fs") == R"({"command":"fs-server","args":["--x"]})");
  CHECK(o.include_partial_messages);
  CHECK(o.setting_sources == std::vector<std::string>{});
  CHECK(o.plugin_dirs == std::vector<std::string>{"/p"});
  REQUIRE(o.thinking);
  CHECK(o.thinking->kind == Thinking::Kind::enabled);
  CHECK(o.thinking->budget_tokens == 2048);
  CHECK(o.json_schema == R"({"type":"object"})");
  REQUIRE(o.extra_args.size() == 2);
  CHECK(o.extra_args[0].first == "debug-to-stderr");
  CHECK(!o.extra_args[0].second);
  CHECK(o.extra_args[1].second == "bar");
  CHECK(o.env.at("A") == "1");
  CHECK(o.cli_path == "/bin/claude");
  CHECK(o.cwd == "/work");
  CHECK(o.max_line_bytes == 4096);
  CHECK(o.max_buffered_messages == 10);
  CHECK(o.shutdown.exit_wait.count() == 100);
  CHECK(o.shutdown.term_wait.count() == 200);
  CHECK(o.shutdown.cancel_grace.count() == 50);
  CHECK(o.shutdown.drain_wait == ShutdownPolicy{}.drain_wait);
  CHECK(o.inherit_env == EnvInherit::allow_list);
  CHECK(o.pass_env == std::vector<std::string>{"FOO", "OTEL_*"});
  CHECK(options_from_json(R"({"inherit_env": "all"})").inherit_env == EnvInherit::all);

  // The flags are those of the equivalent C++ Options.
  auto args = build_cli_args(o);
  CHECK(std::find(args.begin(), args.end(), "--append-system-prompt=Be brief.") != args.end());
  CHECK(std::find(args.begin(), args.end(), "--max-thinking-tokens=2048") != args.end());
}

TEST_CASE("options json: other shapes (string prompt, file prompt, tool preset, skills all, mcp path)")
{
  auto a = options_from_json(R"({"system_prompt": "You are terse.", "tools": {"type": "preset", "preset": "claude_code"},
                                 "skills": "all", "mcp_servers": "/etc/mcp.json"})");
  CHECK(a.system_prompt->kind == SystemPrompt::Kind::text);
  CHECK(a.system_prompt->value == "You are terse.");
  CHECK(a.tools_preset_default);
  CHECK(a.skills_all);
  CHECK(a.mcp_config == "/etc/mcp.json");
  auto b = options_from_json(R"({"system_prompt": {"type": "file", "path": "/p.md"}, "skills": ["x"]})");
  CHECK(b.system_prompt->kind == SystemPrompt::Kind::file);
  CHECK(b.system_prompt->value == "/p.md");
  CHECK(b.skills == std::vector<std::string>{"x"});
}

TEST_CASE("options json: merge keeps what is not named, null resets, and an error changes nothing")
{
  Options o;
  o.model = "m1";
  o.cwd = "/a";
  merge_options_json(o, R"({"max_turns": 2, "cwd": null})");
  CHECK(o.model == "m1");
  CHECK(o.max_turns == 2);
  CHECK(!o.cwd);
  CHECK_THROWS_AS(merge_options_json(o, R"({"model": "m2", "bogus": 1})"), Error);
  CHECK(o.model == "m1");
}

TEST_CASE("options json: bad input names the key and says what is wrong")
{
  CHECK(error_of(R"({"max_turnz": 3})").find("unknown option 'max_turnz'") != std::string::npos);
  CHECK(error_of(R"({"max_turns": "3"})").find("'max_turns' must be an integer") != std::string::npos);
  CHECK(error_of(R"({"max_turns": -1})").find("'max_turns' must be from 0") != std::string::npos);
  CHECK(error_of(R"({"model": 5})").find("'model' must be a string") != std::string::npos);
  CHECK(error_of(R"({"env": {"A": 1}})").find("'env' must be an object of strings") != std::string::npos);
  CHECK(error_of(R"({"inherit_env": "some"})").find("'inherit_env' must be \"all\" or \"allow_list\"") != std::string::npos);
  CHECK(error_of(R"({"thinking": {"type": "enabled"}})").find("budget_tokens") != std::string::npos);
  CHECK(error_of(R"({"system_prompt": 7})").find("'system_prompt' must be a string") != std::string::npos);
  CHECK(error_of(R"({"mcp_servers": {"x": {"type": "sdk", "name": "x"}}})").find("in-process") != std::string::npos);
  CHECK(error_of(R"({"shutdown": {"exit_wait": 1}})").find("unknown option 'shutdown.exit_wait'") != std::string::npos);
  CHECK(error_of(R"({"max_budget_usd": -1})").find("non-negative") != std::string::npos);
  CHECK(error_of(R"([1, 2])").find("must be a JSON object") != std::string::npos);
  CHECK(error_of(R"({"model": )").find("not valid JSON") != std::string::npos);
  CHECK(error_of("").find("not valid JSON") != std::string::npos);
  CHECK(error_of("{\"model\": \"\xff\"}").find("not valid JSON") != std::string::npos);  // not UTF-8
}

TEST_CASE("options json: 512 levels of nesting are read, 513 are refused with a clear error")
{
  // {"sandbox": X}: the options object is level 1, X level 2.
  for (auto nested : {ccb_test::nested_arrays, ccb_test::nested_mixed}) {
    std::string inner = nested(510);
    Options o = options_from_json("{\"sandbox\":{\"a\":" + inner + "}}");
    CHECK(o.sandbox_json == "{\"a\":" + inner + "}");
    for (std::size_t levels : {std::size_t(511), std::size_t(200000)}) {
      std::string e = error_of("{\"sandbox\":{\"a\":" + nested(levels) + "}}");
      CHECK(e.find("options are not valid JSON: nested deeper than 512 levels") != std::string::npos);
    }
  }
}
