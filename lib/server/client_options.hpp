// The run options a client may ask for, checked against the operator's policy before they reach
// a CLI: permission modes, tools a client may pre-approve, model names, session ids to resume and
// working directories inside the allowed roots.
#pragma once

#include "server/context.hpp"

#include <ccbridge/json.hpp>
#include <ccbridge/options.hpp>

#include <string>

namespace ccbridge::detail::server {

/// Applies the options object `o` of a client's request to `opts` (a copy of
/// Context::base_options()): permission_mode, allowed_tools, max_thinking_tokens, model, cwd,
/// continue_conversation and resume, each optional (missing or null leaves the default). Unknown
/// keys are ignored (a profile reads its own). Returns false with `why`, fit for the client, at
/// the first option that is malformed or not allowed by this server.
bool apply_client_options(const Context &ctx, const JsonView &o, Options &opts, std::string &why);

}  // namespace ccbridge::detail::server
