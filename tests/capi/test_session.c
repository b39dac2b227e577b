/* Sessions against the fake CLI: turns, control requests, permission callbacks (now, later,
 * never, withdrawn), hooks, in-process tools, and calls after close. */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ccb_session_t *open_fake(const char *script, const char *extra_json, ccb_options_t *o)
{
  ccb_options_t *own = o ? o : ccbt_fake_options(script, extra_json);
  ccb_session_t *s = NULL;
  int rc = ccb_session_open(&s, own);
  if (rc != CCB_OK) fprintf(stderr, "open: %s\n", ccb_last_error());
  if (!o) ccb_options_free(own);
  return s;
}

/* The next fake_control_result message (the fake CLI's report of a request it sent us). */
static ccb_message_t *next_fake_result(ccb_session_t *s)
{
  ccb_message_t *m = NULL;
  while (ccb_session_receive(&m, s, 5000) == CCB_OK) {
    if (strcmp(ccb_message_type_name(m), "fake_control_result") == 0) return m;
    ccb_message_free(m);
  }
  return NULL;
}

CCB_TEST(session_turns_and_close)
{
  ccb_session_t *s = open_fake("serve_turns", NULL, NULL);
  REQUIRE(s != NULL);
  char *pid = ccbt_format("\"pid\":%d", ccb_session_pid(s));
  CHECK_CONTAINS(ccb_session_server_info(s), pid);
  free(pid);
  int first_pid = ccb_session_pid(s);
  REQUIRE_RC(ccb_session_send(s, "first"), CCB_OK);
  ccb_message_t *r = ccbt_receive_result(s, 5000, NULL, 0);
  REQUIRE(r != NULL);
  CHECK_STREQ(ccb_message_string(r, "result"), "echo: first");
  ccb_message_free(r);
  REQUIRE_RC(ccb_session_send_content(s, "[{\"type\":\"text\",\"text\":\"second\"}]"), CCB_OK);
  r = ccbt_receive_result(s, 5000, NULL, 0);
  REQUIRE(r != NULL);
  CHECK_STREQ(ccb_message_string(r, "result"), "echo: second");
  ccb_message_free(r);
  CHECK(ccb_session_pid(s) == first_pid);

  CHECK_RC(ccb_session_send(s, "bad \xc3\x28"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_send_content(s, "\"not an array\""), CCB_E_INVALID_ARGUMENT);
  ccb_message_t *m = NULL;
  CHECK_RC(ccb_session_receive(&m, s, 50), CCB_E_TIMEOUT);

  const ccb_outcome_t *out = NULL;
  CHECK_RC(ccb_session_close(s, &out), CCB_OK);
  REQUIRE(out != NULL);
  CHECK(out->exit_code == 0 && out->status == CCB_OK); /* the CLI ended on stdin EOF */
  CHECK_RC(ccb_session_close(s, NULL), CCB_OK);       /* idempotent */
  CHECK_NO_CHILDREN();

  /* Calls after close. */
  CHECK_RC(ccb_session_send(s, "after close"), CCB_E_CLOSED);
  CHECK_CONTAINS(ccb_last_error(), "[ccbridge.closed]");
  CHECK_RC(ccb_session_receive(&m, s, 100), CCB_END);
  CHECK_RC(ccb_session_interrupt(s), CCB_E_CLOSED);
  CHECK_RC(ccb_session_set_model(s, "m"), CCB_E_CLOSED);
  CHECK_RC(ccb_session_cancel(s), CCB_OK);
  CHECK(ccb_session_pid(s) == 0);
  ccb_session_free(s);
}

CCB_TEST(session_control_requests)
{
  ccb_session_t *s = open_fake("serve_turns", NULL, NULL);
  REQUIRE(s != NULL);
  CHECK_RC(ccb_session_set_permission_mode(s, "plan"), CCB_OK);
  CHECK_RC(ccb_session_set_model(s, "claude-opus-5-5"), CCB_OK);
  CHECK_RC(ccb_session_set_model(s, NULL), CCB_OK);
  CHECK_RC(ccb_session_interrupt(s), CCB_OK);
  char *resp = NULL;
  CHECK_RC(ccb_session_control(s, "mcp_status", NULL, 0, &resp), CCB_OK);
  CHECK_CONTAINS(resp, "\"mcpServers\":[]");
  ccb_free(resp);
  CHECK_RC(ccb_session_control(s, "set_permission_mode", "{\"mode\":\"acceptEdits\"}", 2000, &resp), CCB_OK);
  CHECK_STREQ(resp, "{\"mode\":\"acceptEdits\"}");
  ccb_free(resp);
  CHECK_RC(ccb_session_control(s, "get_context_usage", "{}", 0, NULL), CCB_OK);
  CHECK_RC(ccb_session_control(s, "no_such_request", NULL, 0, &resp), CCB_E_CONTROL_ERROR);
  CHECK(resp == NULL);
  CHECK_CONTAINS(ccb_last_error(), "Unsupported control request subtype");
  CHECK_RC(ccb_session_control(s, "interrupt", "{\"bad\":", 0, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_control(s, "interrupt", "[1]", 0, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_control(s, "", NULL, 0, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_control(s, NULL, NULL, 0, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_set_permission_mode(s, NULL), CCB_E_INVALID_ARGUMENT);
  ccb_session_free(s);
}

CCB_TEST(session_failures)
{
  /* A CLI that never answers: the control request times out. */
  ccb_session_t *s = open_fake("hang", "\"initialize\":false", NULL);
  REQUIRE(s != NULL);
  CHECK_STREQ(ccb_session_server_info(s), "null");
  long long t0 = ccbt_now_ms();
  CHECK_RC(ccb_session_control(s, "interrupt", NULL, 200, NULL), CCB_E_TIMEOUT);
  CHECK(ccbt_now_ms() - t0 < 3000);
  ccb_session_free(s);
  CHECK_NO_CHILDREN();

  /* A CLI that dies before answering initialize. */
  ccb_options_t *o = ccbt_fake_options("sleep 300\nstderr dying now\nexit 3", NULL);
  s = (ccb_session_t *)&o;
  CHECK_RC(ccb_session_open(&s, o), CCB_E_PROCESS_FAILED);
  CHECK(s == NULL);
  CHECK_CONTAINS(ccb_last_error(), "dying now");
  /* A CLI that does not answer initialize in time. */
  CHECK_RC(ccb_options_set_json(o, "{\"env\":{\"CCB_FAKE_SCRIPT_TEXT\":\"hang\"},\"initialize_timeout_ms\":200}"), CCB_OK);
  CHECK_RC(ccb_session_open(&s, o), CCB_E_TIMEOUT);
  ccb_options_free(o);
  CHECK_NO_CHILDREN();
}

struct receiver {
  ccb_session_t *session;
  int rc;
};

static void *receive_forever(void *arg)
{
  struct receiver *r = arg;
  ccb_message_t *m = NULL;
  while ((r->rc = ccb_session_receive(&m, r->session, -1)) == CCB_OK) ccb_message_free(m);
  return NULL;
}

CCB_TEST(session_cancel_wakes_receiver)
{
  struct receiver r = {open_fake("serve_turns", NULL, NULL), 0};
  REQUIRE(r.session != NULL);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, receive_forever, &r) == 0);
  CHECK_RC(ccb_session_send(r.session, "hi"), CCB_OK); /* from another thread than the receiver */
  ccbt_sleep_ms(100);
  CHECK_RC(ccb_session_cancel(r.session), CCB_OK);
  pthread_join(t, NULL);
  CHECK_RC(r.rc, CCB_END);
  const ccb_outcome_t *out = NULL;
  CHECK_RC(ccb_session_close(r.session, &out), CCB_E_CANCELLED);
  ccb_session_free(r.session);
  CHECK_NO_CHILDREN();
}

/* ---- permissions ---- */

struct permission_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  char tools[256];
  ccb_permission_t *kept;
  int answer_rc;
};

static void decide_now(ccb_permission_t *req, void *user)
{
  struct permission_state *st = user;
  const char *input = ccb_permission_input(req);
  int rc;
  if (strstr(input, "rm -rf")) {
    rc = ccb_permission_deny(req, "not on my watch", 0);
  } else if (strcmp(ccb_permission_tool_name(req), "Write") == 0) {
    CHECK_RC(ccb_permission_allow(req, "{\"file_path\":", NULL), CCB_E_INVALID_ARGUMENT);
    rc = ccb_permission_allow(req, "{\"file_path\":\"/tmp/elsewhere\",\"content\":\"b\"}", NULL);
  } else {
    rc = ccb_permission_allow(req, NULL, NULL);
  }
  CHECK_RC(ccb_permission_allow(req, NULL, NULL), CCB_E_INVALID_ARGUMENT); /* answered already */
  CHECK_CONTAINS(ccb_permission_request_json(req), "\"tool_use_id\"");
  /* The answer is on its way to the CLI already: the turn's result may reach the receiver before
     this line, so the test waits for it (wait_calls). */
  pthread_mutex_lock(&st->mu);
  st->calls++;
  strcat(st->tools, ccb_permission_tool_name(req));
  strcat(st->tools, " ");
  st->answer_rc = rc;
  pthread_cond_broadcast(&st->cv);
  pthread_mutex_unlock(&st->mu);
}

/* Waits (up to 5 s) until the callback has recorded `n` calls; returns with st->mu locked. */
static void wait_calls(struct permission_state *st, int n)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  pthread_mutex_lock(&st->mu);
  while (st->calls < n && pthread_cond_timedwait(&st->cv, &st->mu, &until) == 0) {
  }
}

CCB_TEST(end_input_and_end_input_when_done)
{
  /* Without callbacks end_input_when_done closes stdin at once; end_input always does. */
  const char *script = "wait_eof\nemit {\"type\":\"fake_saw_eof\"}\nexit 0";
  for (int when_done = 0; when_done < 2; ++when_done) {
    ccb_session_t *s = open_fake(script, NULL, NULL);
    REQUIRE(s != NULL);
    REQUIRE_RC(when_done ? ccb_session_end_input_when_done(s, -1) : ccb_session_end_input(s), CCB_OK);
    CHECK_RC(ccb_session_send(s, "too late"), CCB_E_CLOSED);
    int saw = 0;
    ccb_message_t *m = NULL;
    while (ccb_session_receive(&m, s, 5000) == CCB_OK) {
      saw += strcmp(ccb_message_type_name(m), "fake_saw_eof") == 0;
      ccb_message_free(m);
    }
    CHECK(saw == 1);
    const ccb_outcome_t *out = NULL;
    CHECK_RC(ccb_session_close(s, &out), CCB_OK);
    ccb_session_free(s);
  }
  CHECK_RC(ccb_session_end_input(NULL), CCB_E_INVALID_ARGUMENT);
}

/* With a permission callback stdin stays open after a result while the CLI reports "running",
   for the turn a finished background agent wakes, and closes at "idle". */
static void allow_all(ccb_permission_t *req, void *user)
{
  atomic_int *n = user;
  atomic_fetch_add(n, 1);  /* before the answer: once answered, the run may end before this line */
  ccb_permission_allow(req, NULL, NULL);
}

CCB_TEST(end_input_when_done_waits_for_idle)
{
  static atomic_int asked;
  atomic_store(&asked, 0);
  ccb_options_t *o = ccbt_fake_options(
      "emit {\"type\":\"system\",\"subtype\":\"session_state_changed\",\"state\":\"running\",\"sdk_host_only\":true}\n"
      "permission_turn Bash {\"command\":\"ls\"}\nsleep 200\n"
      "send_control {\"subtype\":\"can_use_tool\",\"tool_name\":\"Read\",\"input\":{},\"tool_use_id\":\"t2\"}\n"
      "emit {\"type\":\"system\",\"subtype\":\"session_state_changed\",\"state\":\"idle\",\"sdk_host_only\":true}\n"
      "wait_eof\nemit {\"type\":\"fake_saw_eof\"}\nexit 0",
      NULL);
  REQUIRE_RC(ccb_options_set_permission_callback(o, allow_all, &asked, NULL), CCB_OK);
  ccb_session_t *s = open_fake(NULL, NULL, o);
  ccb_options_free(o);
  REQUIRE(s != NULL);
  REQUIRE_RC(ccb_session_send(s, "go"), CCB_OK);
  REQUIRE_RC(ccb_session_end_input_when_done(s, -1), CCB_OK);
  int answered = 0, saw_eof = 0, states = 0;
  ccb_message_t *m = NULL;
  while (ccb_session_receive(&m, s, 5000) == CCB_OK) {
    answered += strcmp(ccb_message_type_name(m), "fake_control_result") == 0;
    saw_eof += strcmp(ccb_message_type_name(m), "fake_saw_eof") == 0;
    states += strstr(ccb_message_json(m, NULL), "session_state_changed") != NULL;
    ccb_message_free(m);
  }
  CHECK(answered == 1);
  CHECK(saw_eof == 1);
  CHECK(states == 0);
  CHECK(atomic_load(&asked) == 2);
  const ccb_outcome_t *out = NULL;
  CHECK_RC(ccb_session_close(s, &out), CCB_OK);
  ccb_session_free(s);
}

CCB_TEST(permission_answered_in_callback)
{
  static struct permission_state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "", NULL, 0};
  ccb_options_t *o = ccbt_fake_options("permission_turn Bash {\"command\":\"ls\"}\n"
                                       "permission_turn Bash {\"command\":\"rm -rf /\"}\n"
                                       "permission_turn Write {\"file_path\":\"/tmp/x\",\"content\":\"a\"}\nwait_eof",
                                       NULL);
  REQUIRE_RC(ccb_options_set_permission_callback(o, decide_now, &st, NULL), CCB_OK);
  ccb_session_t *s = open_fake(NULL, NULL, o);
  ccb_options_free(o);
  REQUIRE(s != NULL);
  static char log[16384];

  log[0] = '\0';
  REQUIRE_RC(ccb_session_send(s, "list"), CCB_OK);
  ccb_message_t *r = ccbt_receive_result(s, 5000, log, sizeof log);
  REQUIRE(r != NULL);
  CHECK_CONTAINS(log, "ran Bash with {\\\"command\\\":\\\"ls\\\"}");
  CHECK_CONTAINS(ccb_message_json(r, NULL), "\"permission_denials\":[]");
  ccb_message_free(r);

  log[0] = '\0';
  REQUIRE_RC(ccb_session_send(s, "delete"), CCB_OK);
  r = ccbt_receive_result(s, 5000, log, sizeof log);
  REQUIRE(r != NULL);
  CHECK_CONTAINS(log, "not on my watch");
  CHECK_CONTAINS(ccb_message_json(r, NULL), "\"tool_name\":\"Bash\"");
  ccb_message_free(r);

  log[0] = '\0';
  REQUIRE_RC(ccb_session_send(s, "write"), CCB_OK);
  r = ccbt_receive_result(s, 5000, log, sizeof log);
  REQUIRE(r != NULL);
  CHECK_CONTAINS(log, "/tmp/elsewhere");
  ccb_message_free(r);

  wait_calls(&st, 3);
  CHECK(st.calls == 3);
  CHECK_STREQ(st.tools, "Bash Bash Write ");
  CHECK_RC(st.answer_rc, CCB_OK);
  pthread_mutex_unlock(&st.mu);
  ccb_session_free(s);
}

static void keep_for_later(ccb_permission_t *req, void *user)
{
  struct permission_state *st = user;
  ccb_permission_t *kept = NULL;
  int rc = ccb_permission_keep(&kept, req);
  pthread_mutex_lock(&st->mu);
  st->calls++;
  st->kept = kept;
  st->answer_rc = rc;
  pthread_cond_broadcast(&st->cv);
  pthread_mutex_unlock(&st->mu);
}

static ccb_permission_t *wait_kept(struct permission_state *st)
{
  pthread_mutex_lock(&st->mu);
  while (!st->kept) pthread_cond_wait(&st->cv, &st->mu);
  ccb_permission_t *kept = st->kept;
  st->kept = NULL;
  pthread_mutex_unlock(&st->mu);
  return kept;
}

CCB_TEST(permission_answered_later_from_another_thread)
{
  static struct permission_state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "", NULL, 0};
  ccb_options_t *o = ccbt_fake_options("permission_turn Bash {\"command\":\"make\"}\nwait_eof", NULL);
  REQUIRE_RC(ccb_options_set_permission_callback(o, keep_for_later, &st, NULL), CCB_OK);
  ccb_session_t *s = open_fake(NULL, NULL, o);
  ccb_options_free(o);
  REQUIRE(s != NULL);
  REQUIRE_RC(ccb_session_send(s, "build it"), CCB_OK);
  ccb_permission_t *kept = wait_kept(&st); /* the callback has returned (or is about to) */
  ccbt_sleep_ms(50);
  CHECK_STREQ(ccb_permission_tool_name(kept), "Bash");
  CHECK_STREQ(ccb_permission_input(kept), "{\"command\":\"make\"}");
  CHECK(ccb_permission_cancelled(kept) == 0);
  CHECK_RC(ccb_session_control(s, "mcp_status", NULL, 0, NULL), CCB_OK); /* not blocked meanwhile */
  CHECK_RC(ccb_permission_allow(kept, "{\"command\":\"make -j2\"}", "[]"), CCB_OK);
  CHECK_RC(ccb_permission_deny(kept, "too late", 0), CCB_E_INVALID_ARGUMENT);
  ccb_permission_free(kept);
  static char log[8192];
  log[0] = '\0';
  ccb_message_t *r = ccbt_receive_result(s, 5000, log, sizeof log);
  REQUIRE(r != NULL);
  CHECK_CONTAINS(log, "ran Bash with {\\\"command\\\":\\\"make -j2\\\"}");
  ccb_message_free(r);
  ccb_session_free(s);
}

static void never_answer(ccb_permission_t *req, void *user)
{
  (void)req;
  atomic_int *calls = user;
  atomic_fetch_add(calls, 1);
}

CCB_TEST(permission_never_answered)
{
  static atomic_int calls;
  ccb_options_t *o = ccbt_fake_options(
      "send_control {\"subtype\":\"can_use_tool\",\"tool_name\":\"A\",\"input\":{},\"tool_use_id\":\"t1\"}\nserve_turns",
      NULL);
  REQUIRE_RC(ccb_options_set_permission_callback(o, never_answer, &calls, NULL), CCB_OK);
  ccb_session_t *s = open_fake(NULL, NULL, o);
  ccb_options_free(o);
  REQUIRE(s != NULL);
  ccb_message_t *m = next_fake_result(s);
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "\"subtype\":\"error\"");
  CHECK_CONTAINS(ccb_message_json(m, NULL), "did not answer");
  ccb_message_free(m);
  CHECK(atomic_load(&calls) == 1);
  ccb_session_free(s);
}

CCB_TEST(permission_withdrawn_by_interrupt)
{
  static struct permission_state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "", NULL, 0};
  ccb_options_t *o = ccbt_fake_options("permission_turn Bash {\"command\":\"sleep 100\"}\nwait_eof", NULL);
  REQUIRE_RC(ccb_options_set_permission_callback(o, keep_for_later, &st, NULL), CCB_OK);
  ccb_session_t *s = open_fake(NULL, NULL, o);
  ccb_options_free(o);
  REQUIRE(s != NULL);
  REQUIRE_RC(ccb_session_send(s, "go"), CCB_OK);
  ccb_permission_t *kept = wait_kept(&st);
  CHECK_RC(ccb_session_interrupt(s), CCB_OK);
  ccb_message_t *r = ccbt_receive_result(s, 5000, NULL, 0);
  REQUIRE(r != NULL);
  CHECK(ccb_message_is_error(r) == 1);
  CHECK_STREQ(ccb_message_subtype(r), "error_during_execution");
  ccb_message_free(r);
  for (int i = 0; i < 200 && !ccb_permission_cancelled(kept); ++i) ccbt_sleep_ms(5);
  CHECK(ccb_permission_cancelled(kept) == 1);
  CHECK_RC(ccb_permission_allow(kept, NULL, NULL), CCB_E_CANCELLED);
  ccb_permission_free(kept);
  ccb_session_free(s);
}

/* ---- hooks ---- */

static int pre_tool_use(const char *input, ccb_output_t *out, void *user)
{
  (void)user;
  if (strstr(input, "\"fail\"")) return CCB_E_INVALID_ARGUMENT;
  if (!strstr(input, "\"hook_event_name\":\"PreToolUse\"")) return CCB_E_INTERNAL;
  CHECK_RC(ccb_output_set_json(out, "{\"nonsense\":1}"), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_output_set_text(out, "text is for tools", 0), CCB_E_INVALID_ARGUMENT);
  return ccb_output_set_json(out, "{\"continue\":true,\"systemMessage\":\"checked\",\"hookSpecificOutput\":"
                                  "{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"deny\","
                                  "\"permissionDecisionReason\":\"no shell\"}}");
}

CCB_TEST(hooks)
{
  const char *script =
      "send_control {\"subtype\":\"hook_callback\",\"callback_id\":\"hook_0\",\"input\":{\"hook_event_name\":"
      "\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"}},\"tool_use_id\":\"tu1\"}\n"
      "send_control {\"subtype\":\"hook_callback\",\"callback_id\":\"hook_0\",\"input\":{\"hook_event_name\":"
      "\"PreToolUse\",\"tool_name\":\"fail\"}}\n"
      "send_control {\"subtype\":\"hook_callback\",\"callback_id\":\"hook_9\",\"input\":{}}\nserve_turns";
  char *dir = ccbt_temp_dir();
  char *stdin_log = ccbt_format("%s/stdin.log", dir);
  char *quoted = ccbt_json_string(script);
  char *env = ccbt_format("{\"env\":{\"CCB_FAKE_SCRIPT_TEXT\":%s,\"CCB_FAKE_STDIN_LOG\":\"%s\"}}", quoted, stdin_log);
  ccb_options_t *o = ccbt_fake_options("", NULL);
  REQUIRE_RC(ccb_options_set_json(o, env), CCB_OK);
  REQUIRE_RC(ccb_options_add_hook(o, "PreToolUse", "Bash", 30, pre_tool_use, NULL, NULL), CCB_OK);
  ccb_session_t *s = open_fake(NULL, NULL, o);
  ccb_options_free(o);
  REQUIRE(s != NULL);

  ccb_message_t *m = next_fake_result(s);
  REQUIRE(m != NULL);
  const char *json = ccb_message_json(m, NULL);
  CHECK_CONTAINS(json, "\"subtype\":\"success\"");
  CHECK_CONTAINS(json, "\"permissionDecision\":\"deny\"");
  CHECK_CONTAINS(json, "\"systemMessage\":\"checked\"");
  ccb_message_free(m);
  m = next_fake_result(s); /* the callback returned an error status */
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "\"subtype\":\"error\"");
  CHECK_CONTAINS(ccb_message_json(m, NULL), "returned invalid_argument");
  ccb_message_free(m);
  m = next_fake_result(s); /* an unknown callback id */
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "unknown hook callback id");
  ccb_message_free(m);
  ccb_session_free(s);

  /* initialize registered the hook with its matcher and timeout. */
  char *sent = ccbt_read_file(stdin_log);
  CHECK_CONTAINS(sent, "\"hooks\":{\"PreToolUse\":[{\"matcher\":\"Bash\",\"hookCallbackIds\":[\"hook_0\"],\"timeout\":30}]}");
  free(sent);
  unlink(stdin_log);
  rmdir(dir);
  free(env), free(quoted), free(stdin_log), free(dir);
}

/* ---- in-process tools ---- */

static int add_tool(const char *args, ccb_output_t *out, void *user)
{
  atomic_int *calls = user;
  atomic_fetch_add(calls, 1);
  int a = 0, b = 0;
  const char *pa = strstr(args, "\"a\":"), *pb = strstr(args, "\"b\":");
  if (!pa || !pb) return ccb_output_set_text(out, "need a and b", 1);
  a = atoi(pa + 4);
  b = atoi(pb + 4);
  char text[32];
  snprintf(text, sizeof text, "%d", a + b);
  return ccb_output_set_text(out, text, 0);
}

static int json_tool(const char *args, ccb_output_t *out, void *user)
{
  (void)user;
  if (strstr(args, "\"broken\"")) return CCB_E_INTERNAL;
  if (strstr(args, "\"silent\"")) return CCB_OK; /* no result */
  CHECK_RC(ccb_output_set_json(out, "{\"content\":\"not an array\"}"), CCB_E_INVALID_ARGUMENT);
  return ccb_output_set_json(out, "{\"content\":[{\"type\":\"text\",\"text\":\"from json\"}],\"isError\":true}");
}

static void count_free(void *user) { atomic_fetch_add((atomic_int *)user, 1); }

CCB_TEST(in_process_tools)
{
  static atomic_int calls, freed;
  const char *call = "send_control {\"subtype\":\"mcp_message\",\"server_name\":\"calc\",\"message\":"
                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
                     "\"arguments\":%s}}}\n";
  char *c1 = ccbt_format(call, 2, "add", "{\"a\":2,\"b\":40}");
  char *c2 = ccbt_format(call, 3, "fmt", "{}");
  char *c3 = ccbt_format(call, 4, "fmt", "{\"x\":\"broken\"}");
  char *c4 = ccbt_format(call, 5, "fmt", "{\"x\":\"silent\"}");
  char *script = ccbt_format("send_control {\"subtype\":\"mcp_message\",\"server_name\":\"calc\",\"message\":"
                             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}\n%s%s%s%sserve_turns",
                             c1, c2, c3, c4);
  ccb_options_t *o = ccbt_fake_options(script, "\"allowed_tools\":[\"mcp__calc__add\"]");
  REQUIRE_RC(ccb_options_add_tool(o, "calc", "add", "Adds two numbers",
                                  "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
                                  "\"b\":{\"type\":\"number\"}}}",
                                  add_tool, &calls, NULL),
             CCB_OK);
  REQUIRE_RC(ccb_options_add_tool(o, "calc", "fmt", NULL, NULL, json_tool, &freed, count_free), CCB_OK);
  ccb_session_t *s = open_fake(NULL, NULL, o);
  ccb_options_free(o);
  REQUIRE(s != NULL);

  ccb_message_t *m = next_fake_result(s);
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "{\"name\":\"add\",\"description\":\"Adds two numbers\"");
  CHECK_CONTAINS(ccb_message_json(m, NULL), "{\"name\":\"fmt\",\"description\":\"\",\"inputSchema\":{\"type\":"
                                            "\"object\",\"properties\":{}}}");
  ccb_message_free(m);
  m = next_fake_result(s);
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"42\"}],\"isError\":false}");
  ccb_message_free(m);
  m = next_fake_result(s);
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "\"text\":\"from json\"}],\"isError\":true");
  ccb_message_free(m);
  m = next_fake_result(s);
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "\"error\":{\"code\":-32603");
  CHECK_CONTAINS(ccb_message_json(m, NULL), "returned internal");
  ccb_message_free(m);
  m = next_fake_result(s);
  REQUIRE(m != NULL);
  CHECK_CONTAINS(ccb_message_json(m, NULL), "set no result");
  ccb_message_free(m);
  CHECK(atomic_load(&calls) == 1);
  ccb_session_free(s);
  for (int i = 0; i < 200 && atomic_load(&freed) == 0; ++i) ccbt_sleep_ms(5); /* may run on a ccbridge thread */
  CHECK(atomic_load(&freed) == 1);
  free(c1), free(c2), free(c3), free(c4), free(script);
}

/* ---- callback mode ---- */

struct session_events {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int results;
  int ended;
  int nested_rc;
  ccb_session_t *session;
};

static void session_message(const ccb_message_t *m, void *user)
{
  struct session_events *ev = user;
  int nested = ccb_session_interrupt(ev->session); /* blocking: refused on the I/O thread */
  pthread_mutex_lock(&ev->mu);
  ev->nested_rc = nested;
  if (ccb_message_type(m) == CCB_MESSAGE_RESULT) ev->results++;
  pthread_cond_broadcast(&ev->cv);
  pthread_mutex_unlock(&ev->mu);
}

static void session_end(const ccb_outcome_t *outcome, void *user)
{
  struct session_events *ev = user;
  pthread_mutex_lock(&ev->mu);
  ev->ended = outcome->status == CCB_OK ? 1 : -1;
  pthread_mutex_unlock(&ev->mu);
}

CCB_TEST(session_callbacks)
{
  static struct session_events ev = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL};
  ev.session = open_fake("serve_turns", NULL, NULL);
  REQUIRE(ev.session != NULL);
  REQUIRE_RC(ccb_session_on_message(ev.session, session_message, session_end, &ev, NULL), CCB_OK);
  REQUIRE_RC(ccb_session_send(ev.session, "one"), CCB_OK);
  REQUIRE_RC(ccb_session_send(ev.session, "two"), CCB_OK);
  pthread_mutex_lock(&ev.mu);
  while (ev.results < 2) pthread_cond_wait(&ev.cv, &ev.mu);
  CHECK_RC(ev.nested_rc, CCB_E_WOULD_DEADLOCK);
  pthread_mutex_unlock(&ev.mu);
  ccb_message_t *m = NULL;
  CHECK_RC(ccb_session_receive(&m, ev.session, 0), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_session_close(ev.session, NULL), CCB_OK);
  ccb_session_free(ev.session); /* returns after on_end */
  pthread_mutex_lock(&ev.mu);
  CHECK(ev.ended == 1);
  pthread_mutex_unlock(&ev.mu);
}
