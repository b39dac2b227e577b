#include <ccbridge/error.hpp>

#include <string>

CCB_BEGIN_NAMESPACE

namespace {

class Category final : public std::error_category {
public:
  const char *name() const noexcept override { return "ccbridge"; }
  std::string message(int value) const override
  {
    switch (static_cast<errc>(value)) {
    case errc::ok: return "success";
    case errc::invalid_argument: return "invalid argument";
    case errc::cli_not_found: return "Claude Code CLI not found";
    case errc::cwd_not_found: return "working directory not found";
    case errc::spawn_failed: return "could not start the Claude Code CLI";
    case errc::process_failed: return "the Claude Code CLI failed";
    case errc::io_error: return "I/O error on the CLI's pipes";
    case errc::parse_error: return "line is not valid JSON";
    case errc::invalid_utf8: return "line is not valid UTF-8";
    case errc::line_too_long: return "line exceeds the line limit";
    case errc::timeout: return "timed out";
    case errc::closed: return "closed";
    case errc::cancelled: return "cancelled";
    case errc::would_deadlock: return "blocking call from a ccbridge callback would deadlock";
    case errc::internal: return "internal error";
    case errc::control_error: return "the CLI refused a control request";
    case errc::session_not_found: return "no such session to resume";
    }
    return "unknown ccbridge error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category &error_category() noexcept
{
  static const Category category;
  return category;
}

const char *errc_name(errc code) noexcept
{
  switch (code) {
  case errc::ok: return "ok";
  case errc::invalid_argument: return "invalid_argument";
  case errc::cli_not_found: return "cli_not_found";
  case errc::cwd_not_found: return "cwd_not_found";
  case errc::spawn_failed: return "spawn_failed";
  case errc::process_failed: return "process_failed";
  case errc::io_error: return "io_error";
  case errc::parse_error: return "parse_error";
  case errc::invalid_utf8: return "invalid_utf8";
  case errc::line_too_long: return "line_too_long";
  case errc::timeout: return "timeout";
  case errc::closed: return "closed";
  case errc::cancelled: return "cancelled";
  case errc::would_deadlock: return "would_deadlock";
  case errc::internal: return "internal";
  case errc::control_error: return "control_error";
  case errc::session_not_found: return "session_not_found";
  }
  return "unknown";
}

namespace {
std::string prefixed(std::error_code code, const std::string &detail)
{
  const char *id = code.category() == error_category() ? errc_name(static_cast<errc>(code.value()))
                                                         : code.category().name();
  return "[ccbridge." + std::string(id) + "] " + detail;
}
}  // namespace

Error::Error(errc code, const std::string &detail) : Error(make_error_code(code), detail) {}

Error::Error(std::error_code code, const std::string &detail)
    : std::system_error(code, detail), detail_(detail), what_(prefixed(code, detail))
{
}

CCB_END_NAMESPACE
