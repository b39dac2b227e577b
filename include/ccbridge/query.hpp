// query(): one prompt, one CLI run, a Stream of its messages.
//
// The CLI runs in stream-json duplex mode, as the official SDKs run it today
// (`--output-format stream-json --verbose ... --input-format stream-json`); the prompt is written
// to its stdin as one user message and stdin is then closed, which tells the CLI to finish.
#pragma once

#include <ccbridge/export.h>
#include <ccbridge/options.hpp>
#include <ccbridge/runtime.hpp>
#include <ccbridge/stream.hpp>

#include <string_view>

CCB_BEGIN_NAMESPACE

/// Starts the CLI on `prompt` using `runtime`'s I/O threads.
/// Errors (thrown as Error): cli_not_found, cwd_not_found, spawn_failed, invalid_argument.
/// Failures after a successful start arrive at the end of the Stream (see ProcessError).
CCB_API Stream query(Runtime &runtime, std::string_view prompt, const Options &options = {});

/// Same, with a private runtime (one I/O thread) owned by the returned Stream.
CCB_API Stream query(std::string_view prompt, const Options &options = {});

/// Same as query(runtime, ...) but the prompt is a JSON array of Messages-API content blocks
/// (text, image, document, ...), sent as the user message's content. Throws
/// Error(invalid_argument) if `content_json` is not a JSON array.
CCB_API Stream query_content(Runtime &runtime, std::string_view content_json,
                             const Options &options = {});

CCB_END_NAMESPACE
