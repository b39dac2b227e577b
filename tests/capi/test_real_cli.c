/* The C ABI against the pinned real CLI, offline: run inside tests/support/netns-run.sh and
 * with-mock-api.sh, which provide HOME, ANTHROPIC_BASE_URL (the mock) and the offline settings. */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ccb_options_t *real_options(const char *cwd)
{
  const char *cli = getenv("CCB_REAL_CLI");
  ccb_options_t *o = NULL;
  if (ccb_options_new(&o) != CCB_OK) abort();
  char *json = ccbt_format("{\"cli_path\":\"%s\",\"cwd\":\"%s\",\"model\":\"mock-model\","
                           "\"env\":{\"CLAUDE_CODE_MAX_RETRIES\":\"1\"},\"control_timeout_ms\":30000,"
                           "\"allowed_tools\":[\"mcp__calc__add\"]}",
                           cli && *cli ? cli : CCB_REAL_CLI, cwd);
  if (ccb_options_set_json(o, json) != CCB_OK) {
    fprintf(stderr, "%s\n", ccb_last_error());
    abort();
  }
  free(json);
  return o;
}

static int file_exists(const char *dir, const char *name)
{
  char *path = ccbt_format("%s/%s", dir, name);
  struct stat st;
  int ok = stat(path, &st) == 0;
  unlink(path);
  free(path);
  return ok;
}

static atomic_int asked;
static void allow_touch(ccb_permission_t *req, void *user)
{
  (void)user;
  atomic_fetch_add(&asked, 1);
  if (strstr(ccb_permission_input(req), "touch allowed.txt")) {
    ccb_permission_allow(req, NULL, NULL);
  } else {
    ccb_permission_deny(req, "denied by the C test", 0);
  }
}

static atomic_int tool_calls;
static int add(const char *args, ccb_output_t *out, void *user)
{
  (void)user;
  atomic_fetch_add(&tool_calls, 1);
  const char *pa = strstr(args, "\"a\":"), *pb = strstr(args, "\"b\":");
  char text[32];
  snprintf(text, sizeof text, "%d", pa && pb ? atoi(pa + 4) + atoi(pb + 4) : -1);
  return ccb_output_set_text(out, text, 0);
}

static ccb_message_t *turn(ccb_session_t *s, const char *prompt, char *log, size_t log_size)
{
  if (log) log[0] = '\0';
  if (!CHECK_RC(ccb_session_send(s, prompt), CCB_OK)) return NULL;
  return ccbt_receive_result(s, 90000, log, log_size);
}

CCB_TEST(real_cli_session)
{
  char *dir = ccbt_temp_dir();
  ccb_options_t *o = real_options(dir);
  REQUIRE_RC(ccb_options_set_permission_callback(o, allow_touch, NULL, NULL), CCB_OK);
  REQUIRE_RC(ccb_options_add_tool(o, "calc", "add", "Adds two numbers", NULL, add, NULL, NULL), CCB_OK);
  ccb_session_t *s = NULL;
  REQUIRE_RC(ccb_session_open(&s, o), CCB_OK);
  ccb_options_free(o);
  CHECK_CONTAINS(ccb_session_server_info(s), "\"pid\"");
  static char log[65536];

  ccb_message_t *r = turn(s, "[[reply: hello from C]]", NULL, 0);
  REQUIRE(r != NULL);
  CHECK_STREQ(ccb_message_string(r, "result"), "hello from C");
  ccb_message_free(r);

  r = turn(s, "[[bash: touch allowed.txt]]", NULL, 0);
  REQUIRE(r != NULL);
  CHECK(ccb_message_is_error(r) == 0);
  ccb_message_free(r);
  CHECK(file_exists(dir, "allowed.txt"));

  r = turn(s, "[[bash: touch denied.txt]]", log, sizeof log);
  REQUIRE(r != NULL);
  CHECK_CONTAINS(log, "denied by the C test");
  ccb_message_free(r);
  CHECK(!file_exists(dir, "denied.txt"));
  CHECK(atomic_load(&asked) == 2);

  r = turn(s, "[[tool: mcp__calc__add :: {\"a\": 2, \"b\": 40}]]", log, sizeof log);
  REQUIRE(r != NULL);
  CHECK_STREQ(ccb_message_string(r, "result"), "Tool result: 42");
  ccb_message_free(r);
  CHECK(atomic_load(&tool_calls) == 1);

  CHECK_RC(ccb_session_set_model(s, "claude-haiku-4-5"), CCB_OK);
  const ccb_outcome_t *out = NULL;
  CHECK_RC(ccb_session_close(s, &out), CCB_OK);
  CHECK(out && out->exit_code == 0);
  ccb_session_free(s);
  ccbt_remove_tree(dir);
  free(dir);
}

CCB_TEST(real_cli_query)
{
  char *dir = ccbt_temp_dir();
  ccb_options_t *o = real_options(dir);
  ccb_stream_t *st = NULL;
  REQUIRE_RC(ccb_query(&st, "[[reply: one shot from C]]", o), CCB_OK);
  ccb_options_free(o);
  ccb_message_t *m = NULL;
  int results = 0;
  while (ccb_stream_next(&m, st, 90000) == CCB_OK) {
    if (ccb_message_type(m) == CCB_MESSAGE_RESULT) {
      ++results;
      CHECK_STREQ(ccb_message_string(m, "result"), "one shot from C");
    }
    ccb_message_free(m);
  }
  CHECK(results == 1);
  CHECK_RC(ccb_stream_wait(st, NULL), CCB_OK);
  ccb_stream_free(st);
  ccbt_remove_tree(dir);
  free(dir);
}
