// cc-control's HTTP and WebSocket entry points (rest.cpp, ws_client.cpp), and the token check
// they share.
#pragma once

#include "server/profiles/cc_control/control.hpp"

namespace ccbridge::detail::server::cc_control {

/// The token of a request (`Authorization: Bearer`, prefix case-insensitive, else `?token=`),
/// which must be a live token of type `need` within its rate limit (key `rate_prefix` +
/// token_id). Failure: 401 "unauthorized", or 429 "rate limited" with retry_after.
Failure authenticate(Control &control, const HttpRequest &req, TokenType need, const char *rate_prefix, Caller &out);

/// Whether the request carries a live admin token (no rate limit spent: /metrics asks this).
bool is_admin(const Control &control, const HttpRequest &req);

/// The upgrade of /ws/client: a ui token of role viewer or above, else a plain-text refusal.
WsAccept client_gate(Control &control, const HttpRequest &req);

/// The upgrade of /ws/agent: a live agent token within its rate limit, else a plain-text 401.
WsAccept agent_gate(Control &control, const HttpRequest &req);

/// /api/, /admin and /tenant (mounted: their own tokens, plain-text errors).
void install_rest(Control &control, Router &router);

/// The browser console at / (and /admin, /tenant), and a plain-text 404 for every other path.
void install_console(Control &control, Router &router);

}  // namespace ccbridge::detail::server::cc_control
