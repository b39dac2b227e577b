/* Versions, status codes, the last error, argument checks and options, without a CLI. */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

CCB_TEST(versions)
{
  CHECK(ccb_abi_version() == CCB_ABI_VERSION);
  CHECK(strchr(ccb_version(), '.') != NULL);
  CHECK(ccb_version_number() > 0);
  char *want = ccbt_format("%u.%u.%u", ccb_version_number() / 10000, ccb_version_number() / 100 % 100,
                           ccb_version_number() % 100);
  CHECK_STREQ(ccb_version(), want);
  free(want);
}

CCB_TEST(status_names)
{
  static const char *const names[] = {"invalid_argument", "cli_not_found", "cwd_not_found", "spawn_failed",
                                      "process_failed", "io_error", "parse_error", "invalid_utf8",
                                      "line_too_long", "timeout", "closed", "cancelled", "would_deadlock",
                                      "internal", "control_error", "session_not_found"};
  for (int i = 0; i < 16; ++i) {
    CHECK_STREQ(ccb_errc_name(-1 - i), names[i]);
    CHECK(strcmp(ccb_strerror(-1 - i), "unknown status") != 0);
  }
  CHECK_STREQ(ccb_errc_name(CCB_OK), "ok");
  CHECK_STREQ(ccb_errc_name(CCB_END), "end");
  CHECK_STREQ(ccb_errc_name(CCB_E_TIMEOUT), "timeout");
  CHECK_STREQ(ccb_errc_name(-17), "unknown");
  CHECK_STREQ(ccb_errc_name(42), "unknown");
  CHECK_STREQ(ccb_strerror(-17), "unknown status");
  CHECK(CCB_E_SESSION_NOT_FOUND == -16 && CCB_E_CLOSED == -11 && CCB_E_CLI_NOT_FOUND == -2);
}

CCB_TEST(null_arguments)
{
  ccb_options_t *o = NULL;
  ccb_stream_t *st = (ccb_stream_t *)&o; /* any non-NULL value: must be reset to NULL */
  ccb_session_t *se = NULL;
  ccb_message_t *m = NULL;
  char *text = NULL;

  CHECK_RC(ccb_options_new(NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.invalid_argument] out is NULL");
  CHECK_RC(ccb_options_set_json(NULL, "{}"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_query(&st, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(st == NULL);
  CHECK_CONTAINS(ccb_last_error(), "prompt is NULL");
  CHECK_RC(ccb_query(NULL, "hi", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_query_content(&st, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_stream_next(&m, NULL, 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_stream_next(NULL, NULL, 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_stream_wait(NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_stream_close(NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_stream_cancel(NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_stream_on_message(NULL, NULL, NULL, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(ccb_stream_outcome(NULL) == NULL);
  CHECK(ccb_stream_pid(NULL) == 0);
  CHECK_RC(ccb_session_open(NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_send(NULL, "x"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_send_content(NULL, "[]"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_receive(&m, NULL, 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_interrupt(NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_set_model(NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_set_permission_mode(NULL, "plan"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_control(NULL, "x", NULL, 0, &text), CCB_E_INVALID_ARGUMENT);
  CHECK(text == NULL);
  CHECK_RC(ccb_session_cancel(NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_close(NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_STREQ(ccb_session_server_info(NULL), "");
  CHECK(ccb_session_pid(NULL) == 0);
  CHECK_RC(ccb_message_text(&text, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_message_copy(&m, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(ccb_message_type(NULL) == CCB_MESSAGE_UNKNOWN);
  CHECK_STREQ(ccb_message_type_name(NULL), "");
  CHECK_STREQ(ccb_message_subtype(NULL), "");
  CHECK(ccb_message_string(NULL, "x") == NULL);
  CHECK(ccb_message_is_error(NULL) == 0);
  size_t len = 99;
  CHECK_STREQ(ccb_message_json(NULL, &len), "");
  CHECK(len == 0);
  CHECK_RC(ccb_permission_allow(NULL, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_permission_deny(NULL, "no", 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_permission_keep(NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_STREQ(ccb_permission_tool_name(NULL), "");
  CHECK(ccb_permission_cancelled(NULL) == 0);
  CHECK_RC(ccb_output_set_json(NULL, "{}"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_output_set_text(NULL, "x", 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_runtime_new(NULL, 1), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_server_start(NULL, "{}", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_server_stop(NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(ccb_server_port(NULL, 0) == CCB_E_INVALID_ARGUMENT);

  /* Every free function accepts NULL. */
  ccb_options_free(NULL);
  ccb_stream_free(NULL);
  ccb_session_free(NULL);
  ccb_message_free(NULL);
  ccb_permission_free(NULL);
  ccb_runtime_free(NULL);
  ccb_server_free(NULL);
  ccb_free(NULL);

  /* A successful call clears the last error. */
  CHECK_RC(ccb_options_new(&o), CCB_OK);
  CHECK_STREQ(ccb_last_error(), "");
  CHECK_RC(ccb_options_set_json(o, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_add_hook(o, NULL, NULL, 0, NULL, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_add_tool(o, "calc", "add", NULL, NULL, NULL, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  ccb_options_free(o);
  (void)se;
}

CCB_TEST(options_json)
{
  ccb_options_t *o = NULL;
  REQUIRE_RC(ccb_options_new(&o), CCB_OK);
  CHECK_RC(ccb_options_set_json(o, "{\"model\":\"claude-sonnet-4-5\",\"allowed_tools\":[\"Bash\",\"Read\"],"
                                   "\"max_turns\":3,\"env\":{\"A\":\"b\"},\"permission_mode\":\"plan\","
                                   "\"shutdown\":{\"exit_wait_ms\":100},\"max_buffered_messages\":10}"),
           CCB_OK);
  CHECK_RC(ccb_options_set_json(o, "{\"initialize\":false,\"control_timeout_ms\":1000,"
                                   "\"initialize_timeout_ms\":2000,\"model\":null}"),
           CCB_OK);
  CHECK_RC(ccb_options_set_json(o, "{}"), CCB_OK);

  CHECK_RC(ccb_options_set_json(o, "{\"model\": "), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "not valid JSON");
  CHECK_RC(ccb_options_set_json(o, "[1,2]"), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "must be a JSON object");
  CHECK_RC(ccb_options_set_json(o, "{\"no_such_option\":1}"), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "no_such_option");
  CHECK_RC(ccb_options_set_json(o, "{\"max_turns\":\"three\"}"), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "max_turns");
  CHECK_RC(ccb_options_set_json(o, "{\"initialize\":1}"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_set_json(o, "{\"control_timeout_ms\":-5}"), CCB_E_INVALID_ARGUMENT);
  ccb_options_free(o);

  /* A rejected call leaves the options as they were: the fake CLI still answers. */
  o = ccbt_fake_options("serve_turns", NULL);
  CHECK_RC(ccb_options_set_json(o, "{\"cli_path\":\"/nonexistent/claude\",\"bogus\":true}"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_set_json(o, "{\"cli_path\":\"/nonexistent/claude\",\"initialize\":\"yes\"}"),
           CCB_E_INVALID_ARGUMENT);
  ccb_session_t *s = NULL;
  CHECK_RC(ccb_session_open(&s, o), CCB_OK);
  ccb_session_free(s);
  ccb_options_free(o);
}

static int g_freed;
static void count_free(void *user) { g_freed += *(int *)user; }
static int noop_tool(const char *args, ccb_output_t *out, void *user)
{
  (void)args, (void)user;
  return ccb_output_set_text(out, "ok", 0);
}
static int noop_hook(const char *input, ccb_output_t *out, void *user)
{
  (void)input, (void)out, (void)user;
  return CCB_OK;
}
static void noop_permission(ccb_permission_t *r, void *user) { (void)r, (void)user; }

CCB_TEST(callback_registration)
{
  ccb_options_t *o = NULL;
  int one = 1, ten = 10, hundred = 100;
  REQUIRE_RC(ccb_options_new(&o), CCB_OK);
  g_freed = 0;
  CHECK_RC(ccb_options_add_tool(o, "calc", "add", "Adds", "{\"type\":\"object\"}", noop_tool, &one, count_free),
           CCB_OK);
  /* Failures keep ownership with the caller: user_free is not called. */
  CHECK_RC(ccb_options_add_tool(o, "calc", "add", "again", NULL, noop_tool, &ten, count_free), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "already");
  CHECK_RC(ccb_options_add_tool(o, "calc", "mul", NULL, "{\"type\":", noop_tool, &ten, count_free),
           CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_add_tool(o, "calc", "mul", NULL, "[]", noop_tool, &ten, count_free), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_add_tool(o, "", "mul", NULL, NULL, noop_tool, &ten, count_free), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_add_tool(o, "calc", "", NULL, NULL, noop_tool, &ten, count_free), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_add_hook(o, "", NULL, 0, noop_hook, &ten, count_free), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_options_add_hook(o, "PreToolUse", "Bash", -1, noop_hook, &ten, count_free), CCB_E_INVALID_ARGUMENT);
  CHECK(g_freed == 0);
  CHECK_RC(ccb_options_add_hook(o, "PreToolUse", "Bash", 30, noop_hook, &one, count_free), CCB_OK);
  CHECK_RC(ccb_options_set_permission_callback(o, noop_permission, &hundred, count_free), CCB_OK);
  /* Replacing a callback releases the old user data. */
  CHECK_RC(ccb_options_set_permission_callback(o, noop_permission, &one, count_free), CCB_OK);
  CHECK(g_freed == 100);
  CHECK_RC(ccb_options_set_permission_callback(o, NULL, NULL, NULL), CCB_OK);
  CHECK(g_freed == 101);

  /* Callbacks that need a session are refused by a one-shot query. */
  ccb_stream_t *st = NULL;
  CHECK_RC(ccb_query(&st, "hi", o), CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "need a session");
  CHECK(st == NULL);

  ccb_options_free(o);
  CHECK(g_freed == 103);
}

static void *fail_in_thread(void *arg)
{
  (void)arg;
  ccb_options_t *o = NULL;
  ccb_options_new(&o);
  int rc = ccb_options_set_json(o, "{\"thread_key\":1}");
  int ok = rc == CCB_E_INVALID_ARGUMENT && strstr(ccb_last_error(), "thread_key") != NULL;
  ccb_options_free(o);
  return ok ? arg : NULL;
}

CCB_TEST(last_error_is_per_thread)
{
  ccb_options_t *o = NULL;
  REQUIRE_RC(ccb_options_new(&o), CCB_OK);
  CHECK_RC(ccb_options_set_json(o, "{\"main_key\":1}"), CCB_E_INVALID_ARGUMENT);
  pthread_t t;
  void *result = NULL;
  int marker = 0;
  REQUIRE(pthread_create(&t, NULL, fail_in_thread, &marker) == 0);
  pthread_join(t, &result);
  CHECK(result == &marker);
  CHECK_CONTAINS(ccb_last_error(), "main_key");
  ccb_options_free(o);
}

CCB_TEST(runtime)
{
  ccb_runtime_t *rt = NULL;
  REQUIRE_RC(ccb_runtime_new(&rt, 0), CCB_OK);
  ccb_options_t *o = ccbt_fake_options("wait_user\nemit {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
                                       "\"result\":\"{{prompt}}\"}\nwait_eof", NULL);
  CHECK_RC(ccb_options_set_runtime(o, rt), CCB_OK);
  ccb_runtime_free(rt); /* the options keep it alive */
  ccb_stream_t *a = NULL, *b = NULL;
  REQUIRE_RC(ccb_query(&a, "one", o), CCB_OK);
  REQUIRE_RC(ccb_query(&b, "two", o), CCB_OK);
  ccb_options_free(o); /* and so do the streams */
  ccb_message_t *m = NULL;
  REQUIRE_RC(ccb_stream_next(&m, b, 5000), CCB_OK);
  CHECK_STREQ(ccb_message_string(m, "result"), "two");
  ccb_message_free(m);
  REQUIRE_RC(ccb_stream_next(&m, a, 5000), CCB_OK);
  CHECK_STREQ(ccb_message_string(m, "result"), "one");
  ccb_message_free(m);
  CHECK_RC(ccb_stream_wait(a, NULL), CCB_OK);
  CHECK_RC(ccb_stream_wait(b, NULL), CCB_OK);
  ccb_stream_free(a);
  ccb_stream_free(b);
}
