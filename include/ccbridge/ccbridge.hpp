// Umbrella header: everything in the ccbridge C++ API.
#pragma once

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>
#include <ccbridge/message.hpp>
#include <ccbridge/options.hpp>
#include <ccbridge/query.hpp>
#include <ccbridge/runtime.hpp>
#include <ccbridge/session.hpp>
#include <ccbridge/session_history.hpp>
#include <ccbridge/stream.hpp>
#include <ccbridge/stream_events.hpp>
#include <ccbridge/terminal.hpp>
#include <ccbridge/version.h>
