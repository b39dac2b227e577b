#include <ccbridge/exit_status.hpp>

#include <csignal>
#include <string>

CCB_BEGIN_NAMESPACE

namespace {

const char *signal_name(int sig) noexcept
{
  switch (sig) {
  case SIGHUP: return "SIGHUP";
  case SIGINT: return "SIGINT";
  case SIGQUIT: return "SIGQUIT";
  case SIGILL: return "SIGILL";
  case SIGABRT: return "SIGABRT";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGKILL: return "SIGKILL";
  case SIGSEGV: return "SIGSEGV";
  case SIGPIPE: return "SIGPIPE";
  case SIGTERM: return "SIGTERM";
  default: return "signal";
  }
}

}  // namespace

std::string ExitStatus::describe() const
{
  if (signal) return "signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
  if (code >= 0) return "exit code " + std::to_string(code);
  return "an unknown status";
}

CCB_END_NAMESPACE
