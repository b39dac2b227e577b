// Error model shared by the C++ API, the C ABI and the Python module.
//
// Expected failures are std::error_code values in the ccbridge category; construction failures and
// misuse throw ccbridge::Error (a std::system_error carrying the same code). Every message starts
// with a stable id such as "[ccbridge.cli_not_found]": match on the code or the id, never on prose.
//
// Thread safety: everything here is immutable or value-typed and safe to use from any thread.
#pragma once

#include <ccbridge/export.h>

#include <string>
#include <system_error>

CCB_BEGIN_NAMESPACE

/// Error codes. The numeric values are stable (the C ABI exposes them negated) and never reused.
enum class errc {
  ok = 0,
  invalid_argument = 1,  ///< a caller passed a value that cannot work (message says which)
  cli_not_found = 2,     ///< the Claude Code executable was not found or is not executable
  cwd_not_found = 3,     ///< the working directory does not exist or is not a directory
  spawn_failed = 4,      ///< the OS refused to start the process (fork, exec, pipes, user switch)
  process_failed = 5,    ///< the CLI exited with a non-zero code or was killed by a signal
  io_error = 6,          ///< reading or writing the CLI's pipes failed
  parse_error = 7,       ///< one stdout line was not valid JSON (that line only)
  invalid_utf8 = 8,      ///< one stdout line was not valid UTF-8 (that line only)
  line_too_long = 9,     ///< one stdout line exceeded Options::max_line_bytes (that line only)
  timeout = 10,          ///< a wait ran out
  closed = 11,           ///< the stream or session was closed, or the CLI's stdin is gone
  cancelled = 12,        ///< the operation was cancelled by the caller
  would_deadlock = 13,   ///< a blocking call was made from a ccbridge callback thread
  internal = 14,         ///< a bug in ccbridge; please report it with the message
  control_error = 15,    ///< the CLI answered a control request with an error (message says why)
  session_not_found = 16,  ///< resume/continue named a session the CLI has not got for this cwd
};

/// The std::error_category of ccbridge::errc ("ccbridge").
CCB_API const std::error_category &error_category() noexcept;

/// Stable short id of a code, e.g. "cli_not_found" (used in message prefixes and by the C ABI).
CCB_API const char *errc_name(errc code) noexcept;

inline std::error_code make_error_code(errc e) noexcept
{
  return {static_cast<int>(e), error_category()};
}

/// Exception thrown for construction failures and misuse. what() is "[ccbridge.<id>] <detail>".
class CCB_API Error : public std::system_error {
public:
  Error(errc code, const std::string &detail);
  Error(std::error_code code, const std::string &detail);
  /// The detail text without the "[ccbridge.<id>] " prefix.
  const std::string &detail() const noexcept { return detail_; }
  /// "[ccbridge.<id>] <detail>" (std::system_error would append the category text; we don't).
  const char *what() const noexcept override { return what_.c_str(); }

private:
  std::string detail_;
  std::string what_;
};

CCB_END_NAMESPACE

namespace std {
template <> struct is_error_code_enum<ccbridge::errc> : true_type {};
}  // namespace std
