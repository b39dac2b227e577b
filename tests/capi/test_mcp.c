/* MCP clients through the C ABI, against tests/support/mcp_test_server.cpp over stdio and
 * Streamable HTTP: connect and the spec's errors, tools/list, tools/call (results, isError, bad
 * arguments), ping, a timeout cancelled at the server, a crash (process_failed) and restart, close
 * waking a blocked call, and no process left behind. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static ccb_mcp_t *connect_json(const char *spec_json)
{
  ccb_mcp_t *m = NULL;
  if (ccb_mcp_connect(&m, spec_json, NULL) != CCB_OK) fprintf(stderr, "connect: %s\n", ccb_last_error());
  return m;
}

static ccb_mcp_t *connect_stdio(void)
{
  char *server = ccbt_json_string(CCB_MCP_TEST_SERVER);
  char *spec = ccbt_format("{\"name\":\"test\",\"command\":%s,\"request_timeout_ms\":10000}", server);
  ccb_mcp_t *m = connect_json(spec);
  free(spec);
  free(server);
  return m;
}

/* Calls `tool` with `args`; returns the result JSON (free() it with ccb_free) or NULL. */
static char *call(ccb_mcp_t *m, const char *tool, const char *args, int timeout_ms, int want)
{
  char *out = NULL;
  CHECK_RC(ccb_mcp_call_tool(&out, m, tool, args, timeout_ms), want);
  return out;
}

/* The test server's count of cancelled slow calls once it reaches `want` (or 5 s pass). */
static int wait_cancelled(ccb_mcp_t *m, int want)
{
  int seen = -1;
  long long deadline = ccbt_now_ms() + 5000;
  while (ccbt_now_ms() < deadline && seen < want) {
    char *r = NULL;
    CHECK_RC(ccb_mcp_call_tool(&r, m, "stats", "{}", 0), CCB_OK);
    const char *at = r ? strstr(r, "\"cancelled\":") : NULL;
    seen = at ? (int)strtol(at + 12, NULL, 10) : -1;
    ccb_free(r);
  }
  return seen;
}

/* The cases both transports pass. */
static void core_cases(ccb_mcp_t *m)
{
  CHECK(ccb_mcp_state(m) == CCB_MCP_READY);
  char *info = NULL;
  REQUIRE_RC(ccb_mcp_server_info(&info, m), CCB_OK);
  CHECK_CONTAINS(info, "\"protocolVersion\":\"2025-06-18\"");
  CHECK_CONTAINS(info, "\"serverInfo\":{\"name\":\"ccb-test\",\"version\":\"1.2\"}");
  CHECK_CONTAINS(info, "\"instructions\":\"for tests\"");
  ccb_free(info);

  char *tools = NULL;
  REQUIRE_RC(ccb_mcp_list_tools(&tools, m, 0), CCB_OK);
  CHECK(tools[0] == '[');
  CHECK_CONTAINS(tools, "{\"name\":\"echo\",\"description\":\"Returns its arguments as text.\","
                        "\"inputSchema\":{\"type\":\"object\"}}");
  CHECK_CONTAINS(tools, "\"name\":\"add\",\"title\":\"Add\"");
  CHECK_CONTAINS(tools, "\"annotations\":{\"readOnlyHint\":true}");
  ccb_free(tools);

  char *r = call(m, "add", "{\"a\":2,\"b\":3}", 0, CCB_OK);
  CHECK_CONTAINS(r, "\"structuredContent\":{\"sum\":5}");
  CHECK_CONTAINS(r, "\"isError\":false,\"elapsedMs\":");
  CHECK(r && strncmp(r, "{\"content\":[{\"type\":\"text\"", 26) == 0);
  ccb_free(r);
  r = call(m, "echo", NULL, 0, CCB_OK); /* NULL arguments: {} */
  CHECK_CONTAINS(r, "\"text\":\"{}\"");
  ccb_free(r);
  r = call(m, "fail", "{}", 0, CCB_OK); /* a failed tool is a result, not an error */
  CHECK_CONTAINS(r, "\"isError\":true");
  ccb_free(r);

  char *out = (char *)"untouched";
  CHECK_RC(ccb_mcp_call_tool(&out, m, "echo", "[1]", 0), CCB_E_INVALID_ARGUMENT);
  CHECK(out == NULL);
  CHECK_CONTAINS(ccb_last_error(), "must be a JSON object");
  CHECK_RC(ccb_mcp_call_tool(&out, m, NULL, "{}", 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_mcp_call_tool(NULL, m, "echo", "{}", 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_mcp_call_tool(&out, m, "nope", "{}", 0), CCB_E_PROCESS_FAILED); /* a JSON-RPC error */

  int64_t rtt = -1;
  CHECK_RC(ccb_mcp_ping(m, 5000, &rtt), CCB_OK);
  CHECK(rtt > 0);

  /* A timeout: CCB_E_TIMEOUT here, notifications/cancelled at the server. */
  CHECK(call(m, "slow", "{\"ms\":10000}", 200, CCB_E_TIMEOUT) == NULL);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.timeout]");
  CHECK(wait_cancelled(m, 1) == 1);
}

CCB_TEST(mcp_stdio_list_call_timeout)
{
  ccb_mcp_t *m = connect_stdio();
  REQUIRE(m != NULL);
  core_cases(m);
  ccb_mcp_free(m);
  CHECK_NO_CHILDREN();
}

CCB_TEST(mcp_spec_errors)
{
  ccb_mcp_t *m = (ccb_mcp_t *)1;
  CHECK_RC(ccb_mcp_connect(&m, "{\"command\":\"x\",\"nope\":1}", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(m == NULL);
  CHECK_CONTAINS(ccb_last_error(), "unknown key 'nope'");
  CHECK_RC(ccb_mcp_connect(&m, "{\"command\":\"x\",\"args\":\"-v\"}", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "'args' must be an array of strings");
  CHECK_RC(ccb_mcp_connect(&m, "{\"command\":\"x\",\"request_timeout_ms\":0}", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_mcp_connect(&m, "{\"type\":\"http\",\"command\":\"x\"}", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_mcp_connect(&m, "{}", NULL), CCB_E_INVALID_ARGUMENT); /* neither command nor url */
  CHECK_CONTAINS(ccb_last_error(), "exactly one of command");
  CHECK_RC(ccb_mcp_connect(&m, "[", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_mcp_connect(&m, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_mcp_connect(&m, "{\"command\":\"/nonexistent/mcp-server\"}", NULL), CCB_E_CLI_NOT_FOUND);
  CHECK(m == NULL);
  /* NULL handles. */
  char *out = NULL;
  CHECK_RC(ccb_mcp_list_tools(&out, NULL, 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_mcp_ping(NULL, 0, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(ccb_mcp_state(NULL) == CCB_MCP_CLOSED);
  ccb_mcp_free(NULL);
  CHECK_NO_CHILDREN();
}

CCB_TEST(mcp_stdio_crash_and_restart)
{
  ccb_mcp_t *m = connect_stdio();
  REQUIRE(m != NULL);
  CHECK(call(m, "crash", "{}", 0, CCB_E_PROCESS_FAILED) == NULL);
  CHECK_CONTAINS(ccb_last_error(), "crashing on purpose");
  CHECK(ccb_mcp_state(m) == CCB_MCP_FAILED);
  char *why = NULL;
  REQUIRE_RC(ccb_mcp_last_error(&why, m), CCB_OK);
  CHECK_CONTAINS(why, "exit code 3");
  ccb_free(why);
  CHECK(call(m, "echo", "{}", 0, CCB_E_PROCESS_FAILED) == NULL);
  CHECK_CONTAINS(ccb_last_error(), "restart() connects again");

  REQUIRE_RC(ccb_mcp_restart(m), CCB_OK);
  CHECK(ccb_mcp_state(m) == CCB_MCP_READY);
  REQUIRE_RC(ccb_mcp_last_error(&why, m), CCB_OK);
  CHECK_STREQ(why, "");
  ccb_free(why);
  char *r = call(m, "add", "{\"a\":1,\"b\":1}", 0, CCB_OK);
  CHECK_CONTAINS(r, "{\"sum\":2}");
  ccb_free(r);

  CHECK_RC(ccb_mcp_close(m), CCB_OK);
  CHECK_RC(ccb_mcp_close(m), CCB_OK); /* idempotent */
  CHECK(ccb_mcp_state(m) == CCB_MCP_CLOSED);
  CHECK_NO_CHILDREN();
  CHECK(call(m, "echo", "{}", 0, CCB_E_CLOSED) == NULL);
  ccb_mcp_free(m);
}

struct blocked {
  ccb_mcp_t *m;
  int rc;
};

static void *call_slow(void *arg)
{
  struct blocked *b = arg;
  char *out = NULL;
  b->rc = ccb_mcp_call_tool(&out, b->m, "slow", "{\"ms\":30000}", 60000);
  ccb_free(out);
  return NULL;
}

CCB_TEST(mcp_close_wakes_a_blocked_call)
{
  ccb_mcp_t *m = connect_stdio();
  REQUIRE(m != NULL);
  struct blocked b = {m, 1};
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, call_slow, &b) == 0);
  ccbt_sleep_ms(100); /* (usually in flight by now; CCB_E_CLOSED either way) */
  CHECK_RC(ccb_mcp_close(m), CCB_OK);
  pthread_join(t, NULL);
  CHECK(b.rc == CCB_E_CLOSED);
  CHECK_NO_CHILDREN();
  ccb_mcp_free(m);
}

/* The test server on HTTP (a free port): its pid, and its URL in `url`. */
static pid_t start_http_server(char *url, size_t url_size)
{
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    execl(CCB_MCP_TEST_SERVER, CCB_MCP_TEST_SERVER, "--http", "0", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char line[64] = {0};
  size_t n = 0;
  char c;
  while (n + 1 < sizeof line && read(p[0], &c, 1) == 1 && c != '\n') line[n++] = c;
  close(p[0]);
  if (strncmp(line, "listening ", 10) != 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  snprintf(url, url_size, "http://127.0.0.1:%s/mcp", line + 10);
  return pid;
}

CCB_TEST(mcp_http_list_call_timeout)
{
  char url[128];
  pid_t server = start_http_server(url, sizeof url);
  REQUIRE(server > 0);
  char *spec = ccbt_format("{\"name\":\"http\",\"type\":\"http\",\"url\":\"%s\",\"headers\":{\"X-Test\":\"1\"}}", url);
  ccb_mcp_t *m = connect_json(spec);
  free(spec);
  if (m) {
    core_cases(m);
    CHECK_RC(ccb_mcp_restart(m), CCB_OK); /* a new HTTP session */
    char *r = call(m, "add", "{\"a\":20,\"b\":22}", 0, CCB_OK);
    CHECK_CONTAINS(r, "{\"sum\":42}");
    ccb_free(r);
    ccb_mcp_free(m);
  }
  CHECK(m != NULL);
  kill(server, SIGKILL);
  waitpid(server, NULL, 0);
  CHECK_NO_CHILDREN();
}
