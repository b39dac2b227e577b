/* A minimal test harness for the C ABI tests: each test is `void test_<name>(void)` in one of the
 * test_*.c files, declared with CCB_TEST(<name>) on a line of its own so that CMake finds it and
 * registers "capi: <name>" with ctest. CHECK records a failure and goes on; REQUIRE returns from
 * the test. */
#ifndef CCB_CAPI_CHECK_H
#define CCB_CAPI_CHECK_H

#include <ccbridge.h>

#include <stddef.h>

#define CCB_TEST(name) void test_##name(void)

extern int ccbt_failures;

int ccbt_check(int ok, const char *expr, const char *file, int line);
int ccbt_check_rc(int rc, int want, const char *expr, const char *file, int line);
int ccbt_check_str(const char *got, const char *want, int contains, const char *expr, const char *file, int line);

#define CHECK(cond) ccbt_check((cond) != 0, #cond, __FILE__, __LINE__)
#define REQUIRE(cond) do { if (!CHECK(cond)) return; } while (0)
/* The status `expr` returned must be `want`; on a mismatch both names and ccb_last_error() are shown. */
#define CHECK_RC(expr, want) ccbt_check_rc((expr), (want), #expr, __FILE__, __LINE__)
#define REQUIRE_RC(expr, want) do { if (!CHECK_RC(expr, want)) return; } while (0)
#define CHECK_STREQ(got, want) ccbt_check_str((got), (want), 0, #got, __FILE__, __LINE__)
#define CHECK_CONTAINS(got, want) ccbt_check_str((got), (want), 1, #got, __FILE__, __LINE__)

/* ---- helpers shared by the tests (support.c) ---- */

/* A JSON string literal (with quotes) for `s`; free() it. */
char *ccbt_json_string(const char *s);
/* printf into a malloc'd string; free() it. */
char *ccbt_format(const char *fmt, ...);
/* Options that run the fake CLI with `script` (FAKE_CLI.md) and short shutdown waits, plus the
 * JSON object members in `extra_json` (e.g. "\"model\":\"m\"", or NULL). */
ccb_options_t *ccbt_fake_options(const char *script, const char *extra_json);
/* Number of child processes of this process (all threads). */
int ccbt_children(void);
/* Checks that no child process is left (the shutdown ladder reaped everything). */
#define CHECK_NO_CHILDREN() CHECK(ccbt_children() == 0)
void ccbt_sleep_ms(int ms);
/* Milliseconds on a monotonic clock. */
long long ccbt_now_ms(void);
/* Receives session messages until a result (returned, owned) or failure (NULL); the messages
 * before it are freed. Every message's JSON is appended to `log` (a buffer of `log_size` bytes,
 * may be NULL). */
ccb_message_t *ccbt_receive_result(ccb_session_t *s, int timeout_ms, char *log, size_t log_size);
/* A new empty directory under /tmp; free() the path. */
char *ccbt_temp_dir(void);
/* Removes a directory tree (rm -rf). */
void ccbt_remove_tree(const char *dir);
/* The content of a file (free() it), or NULL. */
char *ccbt_read_file(const char *path);

#endif
