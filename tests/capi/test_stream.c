/* One-shot queries against the fake CLI: pull with timeouts, callbacks, failures, cancellation. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

CCB_TEST(query_pull)
{
  ccb_options_t *o = ccbt_fake_options("", NULL); /* the default script: one echo turn */
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query(&s, "hello", o), CCB_OK);
  ccb_options_free(o);
  /* (the pid while running is checked in query_timeout_and_free_mid_run: this one-turn run may
   * already be over and reaped here on a loaded machine) */

  ccb_message_t *m = NULL;
  int types[8], n = 0, rc;
  while ((rc = ccb_stream_next(&m, s, 5000)) == CCB_OK && n < 8) {
    types[n++] = ccb_message_type(m);
    if (ccb_message_type(m) == CCB_MESSAGE_SYSTEM) {
      CHECK_STREQ(ccb_message_subtype(m), "init");
      CHECK_STREQ(ccb_message_type_name(m), "system");
      CHECK_STREQ(ccb_message_string(m, "session_id"), "fake-session");
    }
    if (ccb_message_type(m) == CCB_MESSAGE_ASSISTANT) {
      char *text = NULL;
      CHECK_RC(ccb_message_text(&text, m), CCB_OK);
      CHECK_STREQ(text, "echo: hello");
      ccb_free(text);
      size_t len = 0;
      const char *json = ccb_message_json(m, &len);
      CHECK(len == strlen(json) && json[0] == '{');
      CHECK(ccb_message_string(m, "no_such_field") == NULL);
      CHECK(ccb_message_string(m, "message") == NULL); /* an object, not a string */
    }
    if (ccb_message_type(m) == CCB_MESSAGE_RESULT) {
      CHECK_STREQ(ccb_message_string(m, "result"), "echo: hello");
      CHECK(ccb_message_is_error(m) == 0);
    }
    ccb_message_free(m);
  }
  CHECK_RC(rc, CCB_END);
  CHECK(m == NULL);
  CHECK(n == 3 && types[0] == CCB_MESSAGE_SYSTEM && types[1] == CCB_MESSAGE_ASSISTANT && types[2] == CCB_MESSAGE_RESULT);
  CHECK_RC(ccb_stream_next(&m, s, 0), CCB_END); /* stays at the end */

  const ccb_outcome_t *out = ccb_stream_outcome(s);
  REQUIRE(out != NULL);
  CHECK(out->status == CCB_OK && out->exit_code == 0 && out->signal == 0 && out->messages == 3);
  CHECK_STREQ(out->message, "");
  const ccb_outcome_t *waited = NULL;
  CHECK_RC(ccb_stream_wait(s, &waited), CCB_OK);
  CHECK(waited == out);
  CHECK(ccb_stream_pid(s) == 0);
  ccb_stream_free(s);
}

CCB_TEST(query_timeout_and_free_mid_run)
{
  ccb_options_t *o = ccbt_fake_options("wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\"}\nsleep 30000\nexit 0",
                                       NULL);
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query(&s, "hi", o), CCB_OK);
  ccb_options_free(o);
  ccb_message_t *m = NULL;
  REQUIRE_RC(ccb_stream_next(&m, s, 5000), CCB_OK);
  ccb_message_free(m);
  long long t0 = ccbt_now_ms();
  CHECK_RC(ccb_stream_next(&m, s, 100), CCB_E_TIMEOUT);
  CHECK(m == NULL);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.timeout]");
  CHECK(ccbt_now_ms() - t0 >= 90);
  CHECK(ccb_stream_outcome(s) == NULL); /* still running */
  CHECK(ccbt_children() == 1);
  int pid = ccb_stream_pid(s);
  CHECK(pid > 0 && kill(pid, 0) == 0 && kill(-pid, 0) == 0); /* the CLI, and its own process group */
  ccb_stream_free(s); /* the shutdown ladder: close stdin, SIGTERM, reap */
  CHECK_NO_CHILDREN();
}

CCB_TEST(query_close_then_calls)
{
  ccb_options_t *o = ccbt_fake_options("wait_user\nhang", NULL);
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query(&s, "hi", o), CCB_OK);
  ccb_options_free(o);
  const ccb_outcome_t *out = NULL;
  CHECK_RC(ccb_stream_close(s, &out), CCB_E_CANCELLED);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.cancelled]");
  REQUIRE(out != NULL);
  CHECK(out->status == CCB_E_CANCELLED);
  CHECK_RC(ccb_stream_close(s, NULL), CCB_E_CANCELLED); /* idempotent */
  CHECK_RC(ccb_stream_cancel(s), CCB_OK);
  ccb_message_t *m = NULL;
  CHECK_RC(ccb_stream_next(&m, s, 1000), CCB_END);
  CHECK_NO_CHILDREN();
  ccb_stream_free(s);
}

CCB_TEST(query_bad_prompt_and_missing_cli)
{
  ccb_options_t *o = ccbt_fake_options("", NULL);
  ccb_stream_t *s = (ccb_stream_t *)&o;
  CHECK_RC(ccb_query(&s, "bad \xff\xfe utf-8", o), CCB_E_INVALID_ARGUMENT);
  CHECK(s == NULL);
  CHECK_CONTAINS(ccb_last_error(), "UTF-8");
  CHECK_RC(ccb_query_content(&s, "{\"not\":\"an array\"}", o), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_query_content(&s, "[{\"type\":\"text\"", o), CCB_E_INVALID_ARGUMENT);
  CHECK_NO_CHILDREN();

  CHECK_RC(ccb_options_set_json(o, "{\"cli_path\":\"/nonexistent/dir/claude\"}"), CCB_OK);
  CHECK_RC(ccb_query(&s, "hi", o), CCB_E_CLI_NOT_FOUND);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.cli_not_found]");
  CHECK(s == NULL);
  ccb_session_t *se = NULL;
  CHECK_RC(ccb_session_open(&se, o), CCB_E_CLI_NOT_FOUND);
  CHECK(se == NULL);

  CHECK_RC(ccb_options_set_json(o, "{\"cli_path\":\"" CCB_FAKE_CLI "\",\"cwd\":\"/nonexistent/dir\"}"), CCB_OK);
  CHECK_RC(ccb_query(&s, "hi", o), CCB_E_CWD_NOT_FOUND);
  ccb_options_free(o);
  CHECK_NO_CHILDREN();
}

CCB_TEST(query_content)
{
  ccb_options_t *o = ccbt_fake_options("", NULL);
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query_content(&s, "[{\"type\":\"text\",\"text\":\"from blocks\"}]", o), CCB_OK);
  ccb_options_free(o);
  ccb_message_t *m = NULL;
  int found = 0;
  while (ccb_stream_next(&m, s, 5000) == CCB_OK) {
    if (ccb_message_type(m) == CCB_MESSAGE_RESULT) found = strcmp(ccb_message_string(m, "result"), "echo: from blocks") == 0;
    ccb_message_free(m);
  }
  CHECK(found);
  ccb_stream_free(s);
}

CCB_TEST(query_process_failed)
{
  ccb_options_t *o = ccbt_fake_options(
      "wait_user\nemit not json at all\nemit {bad json\nemit {\"type\":\"brand_new\",\"x\":1}\n"
      "emit {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"result\":\"API Error\"}\n"
      "stderr boom on stderr\nexit 1",
      NULL);
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query(&s, "hi", o), CCB_OK);
  ccb_options_free(o);
  ccb_message_t *m = NULL;
  int invalid = 0, unknown = 0, error_result = 0;
  while (ccb_stream_next(&m, s, 5000) == CCB_OK) {
    if (ccb_message_type(m) == CCB_MESSAGE_INVALID_LINE) {
      ++invalid;
      CHECK_STREQ(ccb_message_type_name(m), "");
      CHECK_STREQ(ccb_message_json(m, NULL), "{bad json");
    }
    if (ccb_message_type(m) == CCB_MESSAGE_UNKNOWN) unknown = strcmp(ccb_message_type_name(m), "brand_new") == 0;
    if (ccb_message_type(m) == CCB_MESSAGE_RESULT) error_result = ccb_message_is_error(m);
    ccb_message_free(m);
  }
  CHECK(invalid == 1 && unknown && error_result);
  const ccb_outcome_t *out = NULL;
  CHECK_RC(ccb_stream_wait(s, &out), CCB_E_PROCESS_FAILED);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.process_failed]");
  REQUIRE(out != NULL);
  CHECK(out->exit_code == 1 && out->signal == 0);
  CHECK(out->invalid_lines == 1 && out->skipped_lines == 1);
  CHECK_CONTAINS(out->stderr_tail, "boom on stderr");
  CHECK_CONTAINS(out->message, "API Error");
  ccb_stream_free(s);
}

struct lines {
  pthread_mutex_t mu;
  char text[1024];
  int count;
  atomic_int freed;
};

static void on_stderr(const char *line, size_t len, void *user)
{
  struct lines *l = user;
  pthread_mutex_lock(&l->mu);
  if (strlen(l->text) + len + 2 < sizeof l->text && strlen(line) == len) {
    strcat(l->text, line);
    strcat(l->text, "|");
  }
  ++l->count;
  pthread_mutex_unlock(&l->mu);
}

static void lines_free(void *user) { atomic_fetch_add(&((struct lines *)user)->freed, 1); }

CCB_TEST(stderr_callback)
{
  static struct lines l = {PTHREAD_MUTEX_INITIALIZER, "", 0, 0};
  ccb_options_t *o = ccbt_fake_options("wait_user\nstderr first line\nstderr second line\nexit 0", NULL);
  REQUIRE_RC(ccb_options_set_stderr_callback(o, on_stderr, &l, lines_free), CCB_OK);
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query(&s, "hi", o), CCB_OK);
  ccb_options_free(o);
  CHECK(atomic_load(&l.freed) == 0); /* the stream still holds the callback */
  CHECK_RC(ccb_stream_wait(s, NULL), CCB_OK);
  ccb_stream_free(s);
  pthread_mutex_lock(&l.mu);
  CHECK_STREQ(l.text, "first line|second line|");
  CHECK(l.count == 2);
  pthread_mutex_unlock(&l.mu);
  /* user_free ran once when the last copy went; it may run on a ccbridge thread just after free. */
  for (int i = 0; i < 200 && atomic_load(&l.freed) == 0; ++i) ccbt_sleep_ms(5);
  CHECK(atomic_load(&l.freed) == 1);
}

struct callback_state {
  pthread_mutex_t mu;
  int messages;
  int results;
  int ended;
  int end_status;
  int nested_rc;
  atomic_int freed;
  ccb_stream_t *stream;
};

static void cb_message(const ccb_message_t *m, void *user)
{
  struct callback_state *st = user;
  ccb_message_t *copy = NULL;
  ccb_message_t *pulled = NULL;
  int nested = ccb_stream_next(&pulled, st->stream, 0); /* a blocking call on an I/O thread */
  int copied = ccb_message_copy(&copy, m);
  pthread_mutex_lock(&st->mu);
  st->messages++;
  if (ccb_message_type(copy) == CCB_MESSAGE_RESULT) st->results++;
  st->nested_rc = nested;
  pthread_mutex_unlock(&st->mu);
  if (copied == CCB_OK) ccb_message_free(copy);
}

static void cb_end(const ccb_outcome_t *outcome, void *user)
{
  struct callback_state *st = user;
  pthread_mutex_lock(&st->mu);
  st->ended++;
  st->end_status = outcome->status;
  pthread_mutex_unlock(&st->mu);
}

static void cb_free(void *user) { atomic_fetch_add(&((struct callback_state *)user)->freed, 1); }

CCB_TEST(query_callbacks)
{
  static struct callback_state st = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 99, 0, 0, NULL};
  ccb_options_t *o = ccbt_fake_options("", NULL);
  REQUIRE_RC(ccb_query(&st.stream, "hi", o), CCB_OK);
  ccb_options_free(o);
  REQUIRE_RC(ccb_stream_on_message(st.stream, cb_message, cb_end, &st, cb_free), CCB_OK);
  CHECK_RC(ccb_stream_on_message(st.stream, cb_message, cb_end, &st, cb_free), CCB_E_INVALID_ARGUMENT);
  ccb_message_t *m = NULL;
  CHECK_RC(ccb_stream_next(&m, st.stream, 0), CCB_E_INVALID_ARGUMENT); /* callback mode */
  CHECK_RC(ccb_stream_wait(st.stream, NULL), CCB_OK);                  /* returns after on_end */
  pthread_mutex_lock(&st.mu);
  CHECK(st.messages == 3 && st.results == 1 && st.ended == 1 && st.end_status == CCB_OK);
  CHECK_RC(st.nested_rc, CCB_E_WOULD_DEADLOCK);
  pthread_mutex_unlock(&st.mu);
  ccb_stream_free(st.stream);
  for (int i = 0; i < 200 && atomic_load(&st.freed) == 0; ++i) ccbt_sleep_ms(5);
  CHECK(atomic_load(&st.freed) == 1);
}

static void *next_forever(void *arg)
{
  ccb_message_t *m = NULL;
  static int rc;
  ccb_stream_t *s = arg;
  while ((rc = ccb_stream_next(&m, s, -1)) == CCB_OK) ccb_message_free(m);
  return &rc;
}

CCB_TEST(cancel_from_another_thread)
{
  ccb_options_t *o = ccbt_fake_options("wait_user\nignore_sigterm\nhang", NULL);
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query(&s, "hi", o), CCB_OK);
  ccb_options_free(o);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, next_forever, s) == 0);
  ccbt_sleep_ms(100);
  CHECK_RC(ccb_stream_cancel(s), CCB_OK);
  void *rc = NULL;
  pthread_join(t, &rc);
  CHECK_RC(*(int *)rc, CCB_END);
  const ccb_outcome_t *out = ccb_stream_outcome(s);
  REQUIRE(out != NULL);
  CHECK(out->status == CCB_E_CANCELLED && out->signal == 9); /* SIGTERM ignored: SIGKILL */
  CHECK_NO_CHILDREN();
  ccb_stream_free(s);
}

CCB_TEST(free_without_reading)
{
  ccb_options_t *o = ccbt_fake_options("wait_user\nflood 5000 200\nwait_eof\nexit 0", "\"max_buffered_messages\":16");
  ccb_stream_t *s = NULL;
  REQUIRE_RC(ccb_query(&s, "hi", o), CCB_OK);
  ccb_options_free(o);
  ccbt_sleep_ms(50);
  ccb_stream_free(s);
  CHECK_NO_CHILDREN();
}
