// ExitStatus: how a child process ended. Part of the base layer (lib/base), so the process layer
// can report it without depending on Stream; <ccbridge/stream.hpp> includes it.
//
// Thread safety: a plain value type.
#pragma once

#include <ccbridge/export.h>

#include <string>

CCB_BEGIN_NAMESPACE

/// How the CLI process ended.
struct ExitStatus {
  int code = -1;    ///< exit code, or -1 if killed by a signal or not known
  int signal = 0;   ///< terminating signal, or 0
  bool success() const noexcept { return code == 0 && signal == 0; }
  /// "exit code 1", "signal 9 (SIGKILL)", ...
  std::string describe() const;
};

CCB_END_NAMESPACE
