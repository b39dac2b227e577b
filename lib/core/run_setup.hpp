#pragma once

#include "process/spawn.hpp"

#include <ccbridge/options.hpp>

#include <string>
#include <string_view>

namespace ccbridge::detail {

/// Checks the options and turns them into a spawn request (CLI path, argv, environment, cwd).
/// Throws Error(invalid_argument) or Error(cli_not_found).
SpawnRequest prepare_spawn(const Options &options);

/// One user message line as the SDKs write it (SDK-WIRE-SPEC 3.2), newline included;
/// `content_json` is a JSON value. query() sends session_id "", a Session "default" (as
/// ClaudeSDKClient does).
std::string user_frame(std::string_view content_json, std::string_view session_id);

/// `text` as a JSON string. Throws Error(invalid_argument) naming `what` if it is not UTF-8.
std::string text_content(std::string_view text, std::string_view what);

/// `content_json` checked to be a JSON array of content blocks, written compactly. Throws
/// Error(invalid_argument) otherwise.
std::string content_blocks(std::string_view content_json);

}  // namespace ccbridge::detail
