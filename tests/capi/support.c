/* Shared helpers and the main() of the C ABI tests: `ccb_capi_tests <name>` runs test_<name>. */
#include "check.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ccbt_failures = 0;

int ccbt_check(int ok, const char *expr, const char *file, int line)
{
  if (!ok) {
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    ++ccbt_failures;
  }
  return ok;
}

int ccbt_check_rc(int rc, int want, const char *expr, const char *file, int line)
{
  if (rc == want) return 1;
  fprintf(stderr, "%s:%d: %s returned %d (%s), wanted %d (%s); last error: %s\n", file, line, expr, rc,
          ccb_errc_name(rc), want, ccb_errc_name(want), ccb_last_error());
  ++ccbt_failures;
  return 0;
}

int ccbt_check_str(const char *got, const char *want, int contains, const char *expr, const char *file, int line)
{
  int ok = got && (contains ? strstr(got, want) != NULL : strcmp(got, want) == 0);
  if (!ok) {
    fprintf(stderr, "%s:%d: %s is \"%s\", wanted %s\"%s\"\n", file, line, expr, got ? got : "(null)",
            contains ? "something containing " : "", want);
    ++ccbt_failures;
  }
  return ok;
}

char *ccbt_format(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *out = malloc((size_t)n + 1);
  if (!out) abort();
  va_start(ap, fmt);
  vsnprintf(out, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return out;
}

char *ccbt_json_string(const char *s)
{
  size_t n = strlen(s);
  char *out = malloc(n * 6 + 3);
  if (!out) abort();
  char *p = out;
  *p++ = '"';
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      *p++ = '\\';
      *p++ = (char)c;
    } else if (c == '\n') {
      *p++ = '\\';
      *p++ = 'n';
    } else if (c < 0x20) {
      p += sprintf(p, "\\u%04x", c);
    } else {
      *p++ = (char)c;
    }
  }
  *p++ = '"';
  *p = '\0';
  return out;
}

ccb_options_t *ccbt_fake_options(const char *script, const char *extra_json)
{
  ccb_options_t *o = NULL;
  if (ccb_options_new(&o) != CCB_OK) abort();
  char *s = ccbt_json_string(script);
  char *json = ccbt_format("{\"cli_path\":\"%s\",\"env\":{\"CCB_FAKE_SCRIPT_TEXT\":%s},"
                           "\"shutdown\":{\"exit_wait_ms\":500,\"term_wait_ms\":300,\"drain_wait_ms\":300},"
                           "\"control_timeout_ms\":5000,\"initialize_timeout_ms\":5000%s%s}",
                           CCB_FAKE_CLI, s, extra_json ? "," : "", extra_json ? extra_json : "");
  if (ccb_options_set_json(o, json) != CCB_OK) {
    fprintf(stderr, "fake options rejected: %s\n%s\n", ccb_last_error(), json);
    abort();
  }
  free(s);
  free(json);
  return o;
}

int ccbt_children(void)
{
  int count = 0;
  DIR *d = opendir("/proc/self/task");
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) ++count;
    fclose(f);
  }
  closedir(d);
  return count;
}

void ccbt_sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

long long ccbt_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ccb_message_t *ccbt_receive_result(ccb_session_t *s, int timeout_ms, char *log, size_t log_size)
{
  for (;;) {
    ccb_message_t *m = NULL;
    int rc = ccb_session_receive(&m, s, timeout_ms);
    if (rc != CCB_OK) {
      fprintf(stderr, "receive: %s (%s)\n", ccb_errc_name(rc), ccb_last_error());
      return NULL;
    }
    if (log && strlen(log) + strlen(ccb_message_json(m, NULL)) + 2 < log_size) {
      strcat(log, ccb_message_json(m, NULL));
      strcat(log, "\n");
    }
    if (ccb_message_type(m) == CCB_MESSAGE_RESULT) return m;
    ccb_message_free(m);
  }
}

char *ccbt_temp_dir(void)
{
  char *path = ccbt_format("/tmp/ccb-capi-XXXXXX");
  if (!mkdtemp(path)) abort();
  return path;
}

void ccbt_remove_tree(const char *dir)
{
  char *cmd = ccbt_format("rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  free(cmd);
}

char *ccbt_read_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (cap - n < 2) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (buf) buf[n] = '\0';
  return buf;
}

/* ---- main ---- */

#define CCBT_DECLARE(name) void test_##name(void);
#define CCBT_ENTRY(name) {#name, test_##name},
#define CCBT_TESTS(X) CCB_CAPI_TEST_LIST(X)
#include "capi_tests.inc"

CCBT_TESTS(CCBT_DECLARE)

static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {CCBT_TESTS(CCBT_ENTRY){NULL, NULL}};

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: %s TEST\ntests:\n", argv[0]);
    for (int i = 0; tests[i].name; ++i) fprintf(stderr, "  %s\n", tests[i].name);
    return 2;
  }
  for (int i = 0; tests[i].name; ++i) {
    if (strcmp(tests[i].name, argv[1]) != 0) continue;
    tests[i].fn();
    if (ccbt_children() != 0) {
      fprintf(stderr, "a child process was left behind\n");
      ++ccbt_failures;
    }
    fprintf(stderr, "%s: %d failure(s)\n", argv[1], ccbt_failures);
    return ccbt_failures ? 1 : 0;
  }
  fprintf(stderr, "no test named %s\n", argv[1]);
  return 2;
}
