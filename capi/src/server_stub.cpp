// The gateway server functions of a library built without the server (CCB_BUILD_SERVER=OFF).
#include "capi.hpp"

struct ccb_server {};

using namespace ccbridge::detail::capi;

namespace {
int unsupported() noexcept
{
  return fail(CCB_E_INVALID_ARGUMENT, "[ccbridge.invalid_argument] this ccbridge was built without the gateway "
                                      "server (CCB_BUILD_SERVER=OFF)");
}
}  // namespace

extern "C" {

int ccb_server_start(ccb_server_t **out, const char *, ccb_runtime_t *)
{
  if (out) *out = nullptr;
  return unsupported();
}

int ccb_server_port(const ccb_server_t *, size_t) { return unsupported(); }

int ccb_server_endpoints(char **out, const ccb_server_t *)
{
  if (out) *out = nullptr;
  return unsupported();
}

int ccb_server_stop(ccb_server_t *) { return unsupported(); }
int ccb_server_wait(ccb_server_t *) { return unsupported(); }
void ccb_server_free(ccb_server_t *server) { delete server; }

}  // extern "C"
