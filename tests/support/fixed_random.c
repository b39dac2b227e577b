/* LD_PRELOAD shim for tests/server/test_security.py: getrandom(2) through glibc returns 0xAB in
 * every byte. A server run with it must hand out ids built from those bytes, which shows that its
 * ids come from the OS's CSPRNG and from nothing else (a seeded PRNG's output would not change). */
#define _GNU_SOURCE
#include <string.h>
#include <sys/types.h>

ssize_t getrandom(void *buf, size_t n, unsigned int flags)
{
  (void)flags;
  memset(buf, 0xAB, n);
  return (ssize_t)n;
}
