#pragma once

#include "process/spawn.hpp"
#include "protocol/frames.hpp"  // user_frame, text_content, content_blocks

#include <ccbridge/options.hpp>

namespace ccbridge::detail {

/// Checks the options and turns them into a spawn request (CLI path, argv, environment, cwd).
/// Throws Error(invalid_argument) or Error(cli_not_found).
SpawnRequest prepare_spawn(const Options &options);

}  // namespace ccbridge::detail
