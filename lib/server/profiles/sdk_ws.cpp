#include "server/context.hpp"
namespace ccbridge::detail::server {
void register_sdk_ws(Context &, Router &) {}
}
