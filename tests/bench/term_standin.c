/* A stand-in for the interactive CLI in the cc-control benchmark (tests/bench/cc_control.sh): a
 * terminal program that prints steadily, so that the relay, not the program, is what is measured.
 *
 *   ccb_term_standin [wait] flood BYTES LINE      BYTES/LINE lines of LINE bytes, as fast as it can
 *   ccb_term_standin [wait] tick PERIOD_US LINE COUNT   one line every PERIOD_US µs; COUNT 0: forever
 *
 * The words come from $CC_STANDIN when it is set (cc-control passes a session's CC_* variables),
 * as the server starts its CLI with arguments of its own (--settings ...). The terminal is put in raw mode first (no \n to
 * \r\n, no echo), so the bytes read from the PTY's master are exactly the bytes written here.
 * It prints "ready\r\n"; with "wait" (flood always waits) it then reads a line ("go\r") first.
 * Every line is "t=<19 digits> xxx...x\r\n": CLOCK_MONOTONIC in ns when the line was made, which
 * the readers subtract from their own clock (same host). A flood builds the lines of one write
 * (about 4 KiB) with one stamp and writes them at once. After COUNT lines (or the flood) it prints
 * "END\r\n" and waits for its input to end (the PTY's hangup, or SIGTERM), so that a session stays
 * up until every reader has had its output. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum { kStampLen = 22, kBatch = 4096, kMaxWords = 8 };

static uint64_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_all(const char *p, size_t n)
{
  while (n) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(1);
    p += w;
    n -= (size_t)w;
  }
}

/* Lays out one line of `len` bytes at p (the stamp is filled in by stamp_line). */
static void blank_line(char *p, size_t len)
{
  memset(p, 'x', len - 2);
  p[len - 2] = '\r';
  p[len - 1] = '\n';
}

/* Stamps the first `lines` lines of `len` bytes at p with `ns` (formatted once). */
static void stamp_lines(char *p, size_t len, size_t lines, uint64_t ns)
{
  char digits[24];
  snprintf(digits, sizeof digits, "t=%019llu ", (unsigned long long)ns);
  for (size_t i = 0; i < lines; ++i) memcpy(p + i * len, digits, kStampLen);
}

/* Reads the terminal until a line ends (or the input does). */
static void wait_for_go(void)
{
  char c;
  for (;;) {
    ssize_t r = read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || c == '\r' || c == '\n') return;
  }
}

/* Until the input ends: the session stays up while its output is being read. */
static void linger(void)
{
  char buf[256];
  for (;;) {
    ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
  }
}

static void flood(unsigned long long bytes, size_t line)
{
  static char buf[kBatch + 256];
  size_t per = kBatch / line ? kBatch / line : 1;
  unsigned long long lines = bytes / line;
  for (size_t i = 0; i < per; ++i) blank_line(buf + i * line, line);
  while (lines) {
    size_t k = lines < per ? (size_t)lines : per;
    stamp_lines(buf, line, k, mono_ns());
    write_all(buf, k * line);
    lines -= k;
  }
}

static void tick(long period_us, size_t line, unsigned long long count)
{
  static char buf[kBatch + 256];
  struct timespec next;
  blank_line(buf, line);
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (unsigned long long i = 0; count == 0 || i < count; ++i) {
    next.tv_nsec += period_us * 1000;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      ++next.tv_sec;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
    }
    stamp_lines(buf, line, 1, mono_ns());
    write_all(buf, line);
  }
}

static int usage(void)
{
  fprintf(stderr, "usage: ccb_term_standin [wait] flood BYTES LINE | [wait] tick PERIOD_US LINE COUNT\n"
                  "       (or the same words in $CC_STANDIN); LINE is %d..%d bytes\n", kStampLen + 2, kBatch);
  return 2;
}

/* Splits $CC_STANDIN into words (at most kMaxWords). */
static int env_words(char **words)
{
  static char copy[512];
  const char *env = getenv("CC_STANDIN");
  int n = 0;
  if (!env) return 0;
  snprintf(copy, sizeof copy, "%s", env);
  for (char *save = NULL, *w = strtok_r(copy, " ", &save); w && n < kMaxWords; w = strtok_r(NULL, " ", &save))
    words[n++] = w;
  return n;
}

int main(int argc, char **argv)
{
  char *env[kMaxWords];
  // $CC_STANDIN first: the server starts the CLI with arguments of its own (--settings ...).
  char **w = env;
  int n = env_words(env);
  if (n == 0) {
    w = argv + 1;
    n = argc - 1;
  }
  int wait = n > 0 && strcmp(w[0], "wait") == 0;
  w += wait;
  n -= wait;
  if (n < 3) return usage();
  size_t line = (size_t)strtoul(w[2], NULL, 10);
  if (line < kStampLen + 2 || line > kBatch) return usage();
  struct termios t;
  if (tcgetattr(STDIN_FILENO, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
  }
  write_all("ready\r\n", 7);
  if (strcmp(w[0], "flood") == 0) {
    wait_for_go();
    flood(strtoull(w[1], NULL, 10), line);
  } else if (strcmp(w[0], "tick") == 0 && n >= 4) {
    if (wait) wait_for_go();
    tick(strtol(w[1], NULL, 10), line, strtoull(w[3], NULL, 10));
  } else {
    return usage();
  }
  write_all("END\r\n", 5);
  linger();
  return 0;
}
