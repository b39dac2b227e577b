/* Terminals: small programs on a PTY through the C ABI (callbacks, input, resize, stop, errors). */
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
  pthread_mutex_t mu;
  char output[65536];
  size_t len;
  uint64_t last_seq;
  int seq_gap;
  int exited;
  int status, has_exit_code, exit_code;
  char signal[64], reason[512];
  int freed;
} record_t;

static void record_init(record_t *r)
{
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
}

static void on_output(const char *data, size_t len, uint64_t seq, void *user)
{
  record_t *r = user;
  pthread_mutex_lock(&r->mu);
  if (seq != r->last_seq + 1) r->seq_gap = 1;
  r->last_seq = seq;
  if (r->len + len < sizeof r->output) {
    memcpy(r->output + r->len, data, len);
    r->len += len;
    r->output[r->len] = '\0';
  }
  pthread_mutex_unlock(&r->mu);
}

static void on_exit_cb(const ccb_terminal_exit_t *x, void *user)
{
  record_t *r = user;
  pthread_mutex_lock(&r->mu);
  r->exited = 1;
  r->status = x->status;
  r->has_exit_code = x->has_exit_code;
  r->exit_code = x->exit_code;
  snprintf(r->signal, sizeof r->signal, "%s", x->signal);
  snprintf(r->reason, sizeof r->reason, "%s", x->reason);
  pthread_mutex_unlock(&r->mu);
}

static void on_free(void *user)
{
  record_t *r = user;
  pthread_mutex_lock(&r->mu);  /* on a ccbridge thread: the test reads it from its own */
  r->freed++;
  pthread_mutex_unlock(&r->mu);
}

static int freed(record_t *r)
{
  pthread_mutex_lock(&r->mu);
  int n = r->freed;
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* Waits (polling, up to 20 s) until the output holds `text` (NULL: until the exit). */
static int wait_for(record_t *r, const char *text)
{
  long long deadline = ccbt_now_ms() + 20000;
  while (ccbt_now_ms() < deadline) {
    pthread_mutex_lock(&r->mu);
    int done = text ? strstr(r->output, text) != NULL : r->exited;
    pthread_mutex_unlock(&r->mu);
    if (done) return 1;
    ccbt_sleep_ms(5);
  }
  return 0;
}

/* Freeing does not wait for the program: wait until it has been reaped. */
static int wait_no_children(void)
{
  long long deadline = ccbt_now_ms() + 10000;
  while (ccbt_children() != 0 && ccbt_now_ms() < deadline) ccbt_sleep_ms(5);
  return ccbt_children() == 0;
}

CCB_TEST(terminal_output_and_exit)
{
  record_t r;
  record_init(&r);
  ccb_terminal_t *t = NULL;
  REQUIRE_RC(ccb_terminal_start(&t, "{\"cli_path\":\"/bin/sh\",\"args\":[\"-c\",\"printf hello; exit 3\"]}", NULL,
                                on_output, on_exit_cb, &r, on_free),
             CCB_OK);
  REQUIRE(wait_for(&r, NULL));
  CHECK_STREQ(r.output, "hello");
  CHECK(r.seq_gap == 0 && r.last_seq >= 1);
  CHECK(r.status == CCB_OK && r.has_exit_code == 1 && r.exit_code == 3);
  CHECK_STREQ(r.signal, "");
  CHECK_STREQ(r.reason, "exited");
  CHECK(ccb_terminal_running(t) == 0);
  CHECK(ccb_terminal_pid(t) == 0);
  ccb_terminal_free(t);
  CHECK(wait_no_children());
  /* user_free runs once the terminal's events are gone (on a ccbridge thread, maybe a bit later) */
  long long deadline = ccbt_now_ms() + 5000;
  while (freed(&r) == 0 && ccbt_now_ms() < deadline) ccbt_sleep_ms(5);
  CHECK(freed(&r) == 1);
}

CCB_TEST(terminal_input_resize_stop)
{
  ccb_runtime_t *rt = NULL;
  REQUIRE_RC(ccb_runtime_new(&rt, 1), CCB_OK);
  record_t r;
  record_init(&r);
  ccb_terminal_t *t = NULL;
  REQUIRE_RC(ccb_terminal_start(&t, "{\"cli_path\":\"/bin/sh\",\"args\":[\"-c\",\"cat; exit 5\"],\"cols\":90,\"rows\":20}",
                                rt, on_output, on_exit_cb, &r, NULL),
             CCB_OK);
  CHECK_RC(ccb_terminal_write(t, "ping\n", 5), CCB_OK);
  CHECK(wait_for(&r, "ping\r\nping\r\n"));
  CHECK(ccb_terminal_pid(t) > 0);
  CHECK(ccb_terminal_running(t) == 1);
  CHECK_RC(ccb_terminal_resize(t, 120, 40), CCB_OK);
  CHECK_RC(ccb_terminal_resize(t, 0, 40), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_terminal_resize(t, 70000, 40), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_terminal_pause_reading(t, 1), CCB_OK);
  CHECK_RC(ccb_terminal_pause_reading(t, 0), CCB_OK);
  CHECK_RC(ccb_terminal_stop(t, 0, 0), CCB_OK);
  REQUIRE(wait_for(&r, NULL));
  CHECK(r.status == CCB_OK && r.has_exit_code == 1 && r.exit_code == -1);
  CHECK_STREQ(r.signal, "terminated");
  ccb_terminal_free(t);
  ccb_runtime_free(rt);
  CHECK(wait_no_children());
}

CCB_TEST(terminal_errors)
{
  ccb_terminal_t *t = (ccb_terminal_t *)&t;
  CHECK_RC(ccb_terminal_start(&t, "{\"colz\":1}", NULL, NULL, NULL, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(t == NULL);
  CHECK_CONTAINS(ccb_last_error(), "colz");
  CHECK_RC(ccb_terminal_start(&t, "{\"cli_path\":\"/nonexistent/claude\"}", NULL, NULL, NULL, NULL, NULL),
           CCB_E_CLI_NOT_FOUND);
  CHECK_RC(ccb_terminal_start(&t, "{\"cli_path\":\"/bin/sh\",\"cwd\":\"/nonexistent/dir\"}", NULL, NULL, NULL, NULL, NULL),
           CCB_E_CWD_NOT_FOUND);
  CHECK_RC(ccb_terminal_start(&t, "{\"cli_path\":\"/bin/sh\",\"resume_id\":\"a b\"}", NULL, NULL, NULL, NULL, NULL),
           CCB_E_INVALID_ARGUMENT);
  CHECK_CONTAINS(ccb_last_error(), "resume_id");
  CHECK_RC(ccb_terminal_write(NULL, "x", 1), CCB_E_INVALID_ARGUMENT);
  ccb_terminal_free(NULL);

  /* exec fails on the runtime thread: on_exit says so */
  char *dir = ccbt_temp_dir();
  char *file = ccbt_format("%s/not-executable", dir);
  FILE *f = fopen(file, "w");
  REQUIRE(f != NULL);
  fputs("data\n", f);
  fclose(f);
  chmod(file, 0644);
  char *json = ccbt_format("{\"cli_path\":\"%s\"}", file);
  record_t r;
  record_init(&r);
  REQUIRE_RC(ccb_terminal_start(&t, json, NULL, on_output, on_exit_cb, &r, NULL), CCB_OK);
  REQUIRE(wait_for(&r, NULL));
  CHECK(r.status == CCB_E_SPAWN_FAILED);
  CHECK(r.has_exit_code == 0);
  CHECK_CONTAINS(r.reason, "not-executable");
  ccb_terminal_free(t);
  ccbt_remove_tree(dir);
  free(json);
  free(file);
  free(dir);
}
