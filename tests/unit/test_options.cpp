#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace ccbridge;
using Args = std::vector<std::string>;

namespace {

const Args kHead = {"--output-format", "stream-json", "--verbose", "--system-prompt="};
const Args kTail = {"--input-format", "stream-json"};

// The flags an option adds between the fixed head and tail.
Args middle(const Options &o)
{
  Args a = build_cli_args(o);
  REQUIRE(a.size() >= 5);
  REQUIRE(Args(a.end() - 2, a.end()) == kTail);
  return Args(a.begin() + 3, a.end() - 2);
}

Args added(const Options &o)
{
  Args m = middle(o);
  // drop the default system prompt flag when present first
  if (!m.empty() && m.front() == "--system-prompt=") m.erase(m.begin());
  return m;
}

bool has(const std::vector<std::string> &v, const std::string &s)
{
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("options: defaults match the Python SDK (empty system prompt, stream-json both ways)")
{
  Args a = build_cli_args(Options{});
  CHECK(a == Args{"--output-format", "stream-json", "--verbose", "--system-prompt=", "--input-format", "stream-json"});
}

TEST_CASE("options: every field maps to its flag in the --flag=value form")
{
  Options o;
  SUBCASE("system prompt kinds")
  {
    o.system_prompt = SystemPrompt::text("-be brief");
    CHECK(middle(o) == Args{"--system-prompt=-be brief"});
    o.system_prompt = SystemPrompt::file("/tmp/p.txt");
    CHECK(middle(o) == Args{"--system-prompt-file=/tmp/p.txt"});
    o.system_prompt = SystemPrompt::preset();
    CHECK(middle(o).empty());
    o.system_prompt = SystemPrompt::preset("also this");
    CHECK(middle(o) == Args{"--append-system-prompt=also this"});
  }
  SUBCASE("tools")
  {
    o.tools = std::vector<std::string>{};
    CHECK(added(o) == Args{"--tools="});
    o.tools = std::vector<std::string>{"Bash", "Read"};
    CHECK(added(o) == Args{"--tools=Bash,Read"});
    o.tools_preset_default = true;
    CHECK(added(o) == Args{"--tools=default"});
  }
  SUBCASE("allowed and disallowed tools, skills")
  {
    o.allowed_tools = {"Bash(git log:*)", "Read"};
    o.disallowed_tools = {"Write"};
    CHECK(added(o) == Args{"--allowedTools=Bash(git log:*),Read", "--disallowedTools=Write"});
    o.skills = {"pdf", "docx"};
    CHECK(added(o) == Args{"--allowedTools=Bash(git log:*),Read,Skill(pdf),Skill(docx)", "--disallowedTools=Write",
                           "--setting-sources=user,project"});
    o.skills.clear();
    o.skills_all = true;
    o.setting_sources = std::vector<std::string>{"local"};
    CHECK(added(o) == Args{"--allowedTools=Bash(git log:*),Read,Skill", "--disallowedTools=Write",
                           "--setting-sources=local"});
    o.skills_all = false;
    for (const char *bad : {"", "/abs", "a,b", "x(y)", "st*r", "ctl\x01"}) {
      o.skills = {bad};
      CHECK_THROWS_AS(build_cli_args(o), Error);
    }
  }
  SUBCASE("numbers")
  {
    o.max_turns = 0;
    CHECK(added(o).empty());  // 0 is ignored, like the SDK
    o.max_turns = 3;
    o.max_budget_usd = 0.25;
    o.task_budget = 5000;
    CHECK(added(o) == Args{"--max-turns=3", "--max-budget-usd=0.25", "--task-budget=5000"});
    o.max_turns = -1;
    CHECK_THROWS_AS(build_cli_args(o), Error);
  }
  SUBCASE("models and betas")
  {
    o.model = "claude-x";
    o.fallback_model = "claude-y";
    o.betas = {"context-1m-2025-08-07", "b2"};
    CHECK(added(o) == Args{"--model=claude-x", "--fallback-model=claude-y", "--betas=context-1m-2025-08-07,b2"});
    o.fallback_model = "claude-x";
    CHECK_THROWS_WITH_AS(build_cli_args(o), doctest::Contains("fallback_model"), Error);
  }
  SUBCASE("permissions")
  {
    o.permission_prompt_tool_name = "stdio";
    o.permission_mode = "acceptEdits";
    CHECK(added(o) == Args{"--permission-prompt-tool=stdio", "--permission-mode=acceptEdits"});
  }
  SUBCASE("session flags; resume and session id use the equals form even for dash-leading values")
  {
    o.continue_conversation = true;
    o.resume = "-abc";
    o.session_id = "123e4567-e89b-12d3-a456-426614174000";
    o.fork_session = true;
    o.resume_session_at = "u1";
    o.resume_drops_turn = "";
    o.session_mirror = true;
    CHECK(added(o) == Args{"--continue", "--resume=-abc", "--session-id=123e4567-e89b-12d3-a456-426614174000",
                           "--fork-session", "--resume-session-at=u1", "--resume-drops-turn=", "--session-mirror"});
  }
  SUBCASE("settings, sandbox merge, add dirs, plugins")
  {
    o.settings = R"({"a":1,"sandbox":{"old":true}})";
    o.add_dirs = {"/x", "/y z"};
    o.plugin_dirs = {"/p1"};
    CHECK(added(o) == Args{"--settings={\"a\":1,\"sandbox\":{\"old\":true}}", "--add-dir=/x", "--add-dir=/y z",
                           "--plugin-dir=/p1"});
    o.sandbox_json = R"({"enabled":true})";
    CHECK(added(o)[0] == R"(--settings={"a":1,"sandbox":{"enabled":true}})");
    // from a file
    std::string path = "/tmp/ccb_settings_test.json";
    std::ofstream(path) << R"({"b":2})";
    o.settings = path;
    CHECK(added(o)[0] == R"(--settings={"b":2,"sandbox":{"enabled":true}})");
    // a relative path is read in the CLI's directory, and a byte order mark is skipped
    std::ofstream(path) << "\xEF\xBB\xBF" R"({"c":3})";
    o.settings = "ccb_settings_test.json";
    o.cwd = "/tmp";
    CHECK(added(o)[0] == R"(--settings={"c":3,"sandbox":{"enabled":true}})");
    o.cwd.reset();
    std::remove(path.c_str());
    o.settings.reset();
    CHECK(added(o)[0] == R"(--settings={"sandbox":{"enabled":true}})");
    o.sandbox_json = "not json";
    CHECK_THROWS_AS(build_cli_args(o), Error);
  }
  SUBCASE("mcp servers and config")
  {
    o.mcp_servers["files"] = R"({"type":"stdio","command":"mcp-files","args":["--root","/"]})";
    CHECK(added(o) == Args{R"(--mcp-config={"mcpServers":{"files":{"type":"stdio","command":"mcp-files","args":["--root","/"]}}})"});
    o.mcp_config = "/etc/mcp.json";
    CHECK_THROWS_AS(build_cli_args(o), Error);  // both set
    o.mcp_servers.clear();
    o.strict_mcp_config = true;
    CHECK(added(o) == Args{"--mcp-config=/etc/mcp.json", "--strict-mcp-config"});
  }
  SUBCASE("event flags")
  {
    o.include_partial_messages = true;
    o.include_hook_events = true;
    CHECK(added(o) == Args{"--include-partial-messages", "--include-hook-events"});
  }
  SUBCASE("thinking and effort; thinking wins over max_thinking_tokens")
  {
    o.max_thinking_tokens = 1000;
    CHECK(added(o) == Args{"--max-thinking-tokens=1000"});
    o.thinking = Thinking{Thinking::Kind::adaptive, 0, std::string("summarized")};
    CHECK(added(o) == Args{"--thinking=adaptive", "--thinking-display=summarized"});
    o.thinking = Thinking{Thinking::Kind::enabled, 2048, std::nullopt};
    CHECK(added(o) == Args{"--max-thinking-tokens=2048"});
    o.thinking = Thinking{Thinking::Kind::disabled, 0, std::nullopt};
    o.effort = "high";
    CHECK(added(o) == Args{"--thinking=disabled", "--effort=high"});
    o.thinking = Thinking{Thinking::Kind::enabled, 0, std::nullopt};
    CHECK_THROWS_AS(build_cli_args(o), Error);
  }
  SUBCASE("json schema is normalised to compact JSON")
  {
    o.json_schema = R"({ "type" : "object" })";
    CHECK(added(o) == Args{R"(--json-schema={"type":"object"})"});
    o.json_schema = "[]";
    CHECK_THROWS_AS(build_cli_args(o), Error);
  }
  SUBCASE("extra args come after known flags, in order")
  {
    o.model = "m";
    o.extra_args = {{"debug-file", std::string("/tmp/d.log")}, {"bare", std::nullopt}, {"x", std::string("-dash")}};
    CHECK(added(o) == Args{"--model=m", "--debug-file=/tmp/d.log", "--bare", "--x=-dash"});
    for (const char *bad : {"", "-x", "--x", "a=b", "a b"}) {
      o.extra_args = {{bad, std::nullopt}};
      CHECK_THROWS_AS(build_cli_args(o), Error);
    }
  }
  SUBCASE("NUL bytes are rejected")
  {
    o.model = std::string("a\0b", 3);
    CHECK_THROWS_AS(build_cli_args(o), Error);
  }
}

TEST_CASE("options: flags come in the Python SDK's order")
{
  Options o;
  o.system_prompt = SystemPrompt::text("s");
  o.tools = std::vector<std::string>{"Bash"};
  o.allowed_tools = {"Bash"};
  o.max_turns = 2;
  o.max_budget_usd = 1;
  o.disallowed_tools = {"Write"};
  o.task_budget = 3;
  o.model = "m";
  o.fallback_model = "f";
  o.betas = {"b"};
  o.permission_prompt_tool_name = "t";
  o.permission_mode = "plan";
  o.continue_conversation = true;
  o.resume = "r";
  o.session_id = "s";
  o.settings = "{}";
  o.add_dirs = {"/d"};
  o.mcp_config = "{}";
  o.include_partial_messages = true;
  o.include_hook_events = true;
  o.strict_mcp_config = true;
  o.fork_session = true;
  o.resume_session_at = "a";
  o.resume_drops_turn = "d";
  o.session_mirror = true;
  o.setting_sources = std::vector<std::string>{"user"};
  o.plugin_dirs = {"/p"};
  o.extra_args = {{"e", std::nullopt}};
  o.thinking = Thinking{};
  o.effort = "low";
  o.json_schema = "{}";
  Args expected = {"--output-format", "stream-json", "--verbose", "--system-prompt=s", "--tools=Bash",
                   "--allowedTools=Bash", "--max-turns=2", "--max-budget-usd=1", "--disallowedTools=Write",
                   "--task-budget=3", "--model=m", "--fallback-model=f", "--betas=b", "--permission-prompt-tool=t",
                   "--permission-mode=plan", "--continue", "--resume=r", "--session-id=s", "--settings={}",
                   "--add-dir=/d", "--mcp-config={}", "--include-partial-messages", "--include-hook-events",
                   "--strict-mcp-config", "--fork-session", "--resume-session-at=a", "--resume-drops-turn=d",
                   "--session-mirror", "--setting-sources=user", "--plugin-dir=/p", "--e", "--thinking=adaptive",
                   "--effort=low", "--json-schema={}", "--input-format", "stream-json"};
  CHECK(build_cli_args(o) == expected);
}

TEST_CASE("options: environment follows the SDK rules")
{
  Options o;
  std::vector<std::string> parent = {"PATH=/bin", "CLAUDECODE=1", "HOME=/h", "CLAUDE_CODE_ENTRYPOINT=cli", "A=1",
                                     "MALFORMED", "=novalue"};
  auto env = build_cli_env(o, parent);
  CHECK(has(env, "PATH=/bin"));
  CHECK(has(env, "HOME=/h"));
  CHECK(has(env, "A=1"));
  CHECK(has(env, "CLAUDE_CODE_ENTRYPOINT=sdk-cli"));
  CHECK(has(env, "CLAUDE_CODE_SDK_READS_SESSION_STATE=1"));  // for Session::end_input_when_done
  CHECK_FALSE(has(env, "CLAUDECODE=1"));
  for (const auto &e : env) CHECK(e.find('=') != std::string::npos);
  CHECK(std::none_of(env.begin(), env.end(), [](const std::string &e) { return e.rfind("PWD=", 0) == 0; }));

  o.env = {{"A", "2"}, {"CLAUDE_CODE_ENTRYPOINT", "my-app"}, {"NEW", "x=y"}};
  o.cwd = "/work/dir";
  o.enable_file_checkpointing = true;
  env = build_cli_env(o, parent);
  CHECK(has(env, "A=2"));
  CHECK(has(env, "CLAUDE_CODE_ENTRYPOINT=my-app"));
  CHECK(has(env, "NEW=x=y"));
  CHECK(has(env, "PWD=/work/dir"));
  CHECK(has(env, "CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING=true"));
  CHECK(std::is_sorted(env.begin(), env.end()));

  // A value the caller chose for the session-state switch stands, whatever its case.
  o.env = {{"claude_code_sdk_reads_session_state", "0"}};
  env = build_cli_env(o, parent);
  CHECK(has(env, "claude_code_sdk_reads_session_state=0"));
  CHECK(std::none_of(env.begin(), env.end(),
                     [](const std::string &e) { return e.rfind("CLAUDE_CODE_SDK_READS_SESSION_STATE=", 0) == 0; }));

  o.env = {{"BAD=KEY", "v"}};
  CHECK_THROWS_AS(build_cli_env(o, parent), Error);
  o.env = {{"K", std::string("a\0b", 3)}};
  CHECK_THROWS_AS(build_cli_env(o, parent), Error);
}

TEST_CASE("options: client_app sets CLAUDE_AGENT_SDK_CLIENT_APP over env, a derived label never passes")
{
  std::vector<std::string> parent = {"PATH=/bin", "CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP=outer/1"};
  auto starts = [](const std::vector<std::string> &env, const std::string &prefix) {
    return std::count_if(env.begin(), env.end(), [&](const std::string &e) { return e.rfind(prefix, 0) == 0; });
  };
  Options o;
  auto env = build_cli_env(o, parent);
  CHECK(starts(env, "CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP=") == 0);
  CHECK(starts(env, "CLAUDE_AGENT_SDK_CLIENT_APP=") == 0);
  o.env = {{"CLAUDE_AGENT_SDK_CLIENT_APP", "from-env/1"}, {"CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP", "x/1"}};
  env = build_cli_env(o, parent);
  CHECK(has(env, "CLAUDE_AGENT_SDK_CLIENT_APP=from-env/1"));
  CHECK(starts(env, "CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP=") == 0);
  o.client_app = "my-app/1.2.3";
  env = build_cli_env(o, parent);
  CHECK(has(env, "CLAUDE_AGENT_SDK_CLIENT_APP=my-app/1.2.3"));
  CHECK(starts(env, "CLAUDE_AGENT_SDK_CLIENT_APP=") == 1);
  o.client_app = "";
  CHECK(has(build_cli_env(o, parent), "CLAUDE_AGENT_SDK_CLIENT_APP="));
  o.inherit_env = EnvInherit::allow_list;  // CLAUDE_* passes, but not the derived label
  o.env.clear();
  CHECK(starts(build_cli_env(o, parent), "CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP=") == 0);
  o.client_app = std::string("a\0b", 3);
  CHECK_THROWS_AS(build_cli_env(o, parent), Error);
  // None of the three is a flag.
  Options plain;
  o = Options();
  o.client_app = "a/1";
  o.verbatim_prompts = o.forward_subagent_text = true;
  CHECK(build_cli_args(o) == build_cli_args(plain));
}

TEST_CASE("options: the allow-listed environment passes what the CLI needs and no secret of the host")
{
  std::vector<std::string> parent = {
      "PATH=/bin", "HOME=/h", "USER=u", "SHELL=/bin/sh", "LANG=C.UTF-8", "LC_ALL=C", "TERM=xterm", "TZ=UTC",
      "TMPDIR=/t", "XDG_CONFIG_HOME=/x", "ANTHROPIC_API_KEY=sk", "ANTHROPIC_BASE_URL=http://m", "CLAUDE_CONFIG_DIR=/c",
      "CLAUDE_CODE_MAX_RETRIES=2", "DISABLE_AUTOUPDATER=1", "CLAUDECODE=1", "https_proxy=p", "NO_PROXY=n",
      "NODE_EXTRA_CA_CERTS=/ca", "SSL_CERT_FILE=/s", "IS_SANDBOX=1", "CCBRIDGE_TOKEN=gateway-secret",
      "AWS_SECRET_ACCESS_KEY=aws-secret", "AWS_REGION=eu", "GOOGLE_APPLICATION_CREDENTIALS=/g", "CLOUD_ML_REGION=r",
      "FOO_SECRET=foo", "OTEL_EXPORTER_OTLP_HEADERS=h", "LD_PRELOAD=/evil.so"};
  Options o;
  o.inherit_env = EnvInherit::allow_list;
  auto env = build_cli_env(o, parent);
  for (const char *kept : {"PATH=/bin", "HOME=/h", "USER=u", "SHELL=/bin/sh", "LANG=C.UTF-8", "LC_ALL=C", "TERM=xterm",
                           "TZ=UTC", "TMPDIR=/t", "XDG_CONFIG_HOME=/x", "ANTHROPIC_API_KEY=sk",
                           "ANTHROPIC_BASE_URL=http://m", "CLAUDE_CONFIG_DIR=/c", "CLAUDE_CODE_MAX_RETRIES=2",
                           "DISABLE_AUTOUPDATER=1", "https_proxy=p", "NO_PROXY=n", "NODE_EXTRA_CA_CERTS=/ca",
                           "SSL_CERT_FILE=/s", "IS_SANDBOX=1", "CLAUDE_CODE_ENTRYPOINT=sdk-cli"}) {
    CHECK_MESSAGE(has(env, kept), kept);
  }
  auto passes = [&](const std::string &name) {
    return std::any_of(env.begin(), env.end(), [&](const std::string &e) { return e.rfind(name + "=", 0) == 0; });
  };
  for (const char *dropped : {"CLAUDECODE", "CCBRIDGE_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                              "GOOGLE_APPLICATION_CREDENTIALS", "CLOUD_ML_REGION", "FOO_SECRET",
                              "OTEL_EXPORTER_OTLP_HEADERS", "LD_PRELOAD"}) {
    CHECK_MESSAGE(!passes(dropped), dropped);
  }
  CHECK(std::is_sorted(env.begin(), env.end()));
  CHECK(has(cli_env_allow_list(), "PATH"));
  CHECK(has(cli_env_allow_list(), "ANTHROPIC_*"));

  // The operator's own names and prefixes; explicit entries still apply on top.
  o.pass_env = {"FOO_SECRET", "OTEL_*", "CC*"};
  o.env = {{"EXTRA", "1"}};
  env = build_cli_env(o, parent);
  CHECK(has(env, "FOO_SECRET=foo"));
  CHECK(has(env, "OTEL_EXPORTER_OTLP_HEADERS=h"));
  CHECK(has(env, "EXTRA=1"));
  CHECK_FALSE(passes("CCBRIDGE_TOKEN"));  // a prefix never reaches the gateway's own variables
  CHECK_FALSE(passes("AWS_SECRET_ACCESS_KEY"));

  // Cloud credentials pass only when the CLI is told to use that provider.
  o.pass_env.clear();
  o.env = {{"CLAUDE_CODE_USE_BEDROCK", "1"}};
  env = build_cli_env(o, parent);
  CHECK(has(env, "AWS_SECRET_ACCESS_KEY=aws-secret"));
  CHECK(has(env, "AWS_REGION=eu"));
  CHECK_FALSE(passes("GOOGLE_APPLICATION_CREDENTIALS"));
  o.env = {{"CLAUDE_CODE_USE_BEDROCK", "0"}};
  env = build_cli_env(o, parent);
  CHECK_FALSE(std::any_of(env.begin(), env.end(), [](const std::string &e) { return e.rfind("AWS_", 0) == 0; }));
  o.env.clear();
  auto vertex = parent;
  vertex.push_back("CLAUDE_CODE_USE_VERTEX=1");
  env = build_cli_env(o, vertex);
  CHECK(has(env, "GOOGLE_APPLICATION_CREDENTIALS=/g"));
  CHECK(has(env, "CLOUD_ML_REGION=r"));
  CHECK_FALSE(passes("AWS_SECRET_ACCESS_KEY"));

  // Names that cannot be passed are refused, naming the entry.
  for (const char *bad : {"CCBRIDGE_TOKEN", "CCBRIDGE_*", "*", "", "BAD-NAME", "A*B", "A=B"}) {
    o.pass_env = {bad};
    CHECK_THROWS_AS(build_cli_env(o, parent), Error);
  }
}

TEST_CASE("options: find_cli honours the explicit path, then PATH, and says where it looked")
{
  Options o;
  o.cli_path = "/definitely/not/here/claude";
  CHECK(find_cli(o) == "/definitely/not/here/claude");  // used as given; spawn reports it
  o.cli_path = "sh";
  CHECK(find_cli(o).size() > 3);
  CHECK(find_cli(o).substr(find_cli(o).size() - 3) == "/sh");
  o.cli_path = "no-such-binary-ccbridge";
  try {
    find_cli(o);
    FAIL("expected cli_not_found");
  } catch (const Error &e) {
    CHECK(e.code() == errc::cli_not_found);
    CHECK(std::string(e.what()).find("[ccbridge.cli_not_found]") == 0);
  }
  o.cli_path = "";
  CHECK_THROWS_AS(find_cli(o), Error);
}
