/* The gateway server from C: start from a JSON config, /health over a socket, endpoints, stop. */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* GET `path` on 127.0.0.1:`port`; the whole response (free() it), or NULL. */
static char *http_get(int port, const char *path)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return NULL;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return NULL;
  }
  char *req = ccbt_format("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  if (write(fd, req, strlen(req)) < 0) {
    free(req);
    close(fd);
    return NULL;
  }
  free(req);
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  ssize_t got;
  while (buf && n + 1 < cap && (got = read(fd, buf + n, cap - n - 1)) > 0) n += (size_t)got;
  close(fd);
  if (buf) buf[n] = '\0';
  return buf;
}

CCB_TEST(server_start_stop)
{
  ccb_server_t *srv = NULL;
  char *config = ccbt_format("{\"listeners\":[{\"host\":\"127.0.0.1\",\"port\":0,\"profiles\":[\"sdk-ws\"]},"
                             "{\"host\":\"127.0.0.1\",\"port\":0,\"profiles\":[\"opcode\",\"tasks-ui\"]}],"
                             "\"cli\":{\"cli_path\":\"%s\"},\"log_level\":\"warn\"}",
                             CCB_FAKE_CLI);
  int rc = ccb_server_start(&srv, config, NULL);
  free(config);
  if (rc == CCB_E_INVALID_ARGUMENT && strstr(ccb_last_error(), "without the gateway server")) return;
  REQUIRE_RC(rc, CCB_OK);
  int port = ccb_server_port(srv, 0);
  CHECK(port > 0);
  CHECK(ccb_server_port(srv, 1) > 0 && ccb_server_port(srv, 1) != port);
  CHECK(ccb_server_port(srv, 2) == CCB_E_INVALID_ARGUMENT);
  char *eps = NULL;
  CHECK_RC(ccb_server_endpoints(&eps, srv), CCB_OK);
  char *want = ccbt_format("{\"host\":\"127.0.0.1\",\"port\":%d,\"profiles\":[\"sdk-ws\"]}", port);
  CHECK_CONTAINS(eps, want);
  CHECK_CONTAINS(eps, "\"profiles\":[\"opcode\",\"tasks-ui\"]");
  free(want);
  ccb_free(eps);

  char *health = http_get(port, "/health");
  CHECK_CONTAINS(health, "HTTP/1.1 200");
  CHECK_CONTAINS(health, "\"status\":\"healthy\"");
  free(health);

  CHECK_RC(ccb_server_stop(srv), CCB_OK);
  CHECK_RC(ccb_server_stop(srv), CCB_OK); /* idempotent */
  CHECK_RC(ccb_server_wait(srv), CCB_OK);
  CHECK(http_get(port, "/health") == NULL);
  ccb_server_free(srv);
}

CCB_TEST(server_bad_config)
{
  ccb_server_t *srv = (ccb_server_t *)&srv;
  CHECK_RC(ccb_server_start(&srv, "{\"listeners\":[{\"port\":0}],\"no_such_key\":1}", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK(srv == NULL);
  CHECK_RC(ccb_server_start(&srv, "{\"listeners\":", NULL), CCB_E_INVALID_ARGUMENT);
  CHECK_RC(ccb_server_start(&srv, NULL, NULL), CCB_E_INVALID_ARGUMENT);
  /* A server on a runtime of the caller's. (A listener that cannot be bound is not tested here: a
   * Server whose start() failed hangs in its destructor; see the C ABI notes.) */
  ccb_runtime_t *rt = NULL;
  REQUIRE_RC(ccb_runtime_new(&rt, 1), CCB_OK);
  ccb_server_t *a = NULL;
  int rc = ccb_server_start(&a, "{\"listeners\":[{\"port\":0}],\"log_level\":\"off\"}", rt);
  ccb_runtime_free(rt); /* the server keeps it */
  if (rc == CCB_E_INVALID_ARGUMENT && strstr(ccb_last_error(), "without the gateway server")) return;
  REQUIRE_RC(rc, CCB_OK);
  CHECK(ccb_server_port(a, 0) > 0);
  ccb_server_free(a); /* stops it */
}
