// Terminals: the CLI's interactive UI on a PTY, with C callbacks.
#include "capi.hpp"

#include <limits>

using namespace ccbridge;
using namespace ccbridge::detail::capi;

struct ccb_terminal {
  std::shared_ptr<Runtime> runtime;  // declared first: destroyed after the terminal
  Terminal terminal;
};

namespace {

TerminalEvents c_events(ccb_terminal_output_cb on_output, ccb_terminal_exit_cb on_exit, const UserPtr &user)
{
  TerminalEvents ev;
  if (on_output) {
    ev.output = [on_output, user](std::string_view bytes, std::uint64_t seq) {
      on_output(bytes.data(), bytes.size(), seq, user->user);
    };
  }
  if (on_exit) {
    ev.exit = [on_exit, user](const TerminalExit &x) {
      ccb_terminal_exit_t c{};
      c.status = x.error ? status_of(x.error) : CCB_OK;
      c.has_exit_code = x.exit_code.has_value() ? 1 : 0;
      c.exit_code = x.exit_code.value_or(0);
      c.signal = x.signal.c_str();
      c.reason = x.reason.c_str();
      on_exit(&c, user->user);
    };
  }
  return ev;
}

}  // namespace

extern "C" {

int ccb_terminal_start(ccb_terminal_t **out, const char *options_json, ccb_runtime_t *runtime,
                       ccb_terminal_output_cb on_output, ccb_terminal_exit_cb on_exit, void *user,
                       ccb_user_free_fn user_free)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    TerminalOptions options = options_json ? terminal_options_from_json(options_json) : TerminalOptions{};
    UserPtr u = make_user(user);
    std::shared_ptr<Runtime> rt = runtime_of(runtime);
    Terminal t = Terminal::start(*rt, options, c_events(on_output, on_exit, u));
    u->user_free = user_free;
    *out = new ccb_terminal{rt, std::move(t)};
    return CCB_OK;
  });
}

int ccb_terminal_write(ccb_terminal_t *terminal, const char *data, size_t len)
{
  return guarded([&] {
    need(terminal, "terminal");
    if (len > 0) terminal->terminal.write(std::string(need(data, "data"), len));
    return CCB_OK;
  });
}

int ccb_terminal_resize(ccb_terminal_t *terminal, unsigned cols, unsigned rows)
{
  return guarded([&] {
    need(terminal, "terminal");
    constexpr unsigned kMax = std::numeric_limits<std::uint16_t>::max();
    if (cols == 0 || rows == 0 || cols > kMax || rows > kMax) {
      throw Error(errc::invalid_argument, "cols and rows must be from 1 to 65535");
    }
    terminal->terminal.resize(static_cast<std::uint16_t>(cols), static_cast<std::uint16_t>(rows));
    return CCB_OK;
  });
}

int ccb_terminal_stop(ccb_terminal_t *terminal, int grace_ms, int kill_after_ms)
{
  return guarded([&] {
    need(terminal, "terminal")
        ->terminal.stop(std::chrono::milliseconds(grace_ms > 0 ? grace_ms : 4000),
                        std::chrono::milliseconds(kill_after_ms > 0 ? kill_after_ms : 9000));
    return CCB_OK;
  });
}

int ccb_terminal_pause_reading(ccb_terminal_t *terminal, int paused)
{
  return guarded([&] {
    need(terminal, "terminal");
    if (paused) {
      terminal->terminal.pause_reading();
    } else {
      terminal->terminal.resume_reading();
    }
    return CCB_OK;
  });
}

int ccb_terminal_pid(const ccb_terminal_t *terminal) { return terminal ? terminal->terminal.pid() : 0; }

int ccb_terminal_running(const ccb_terminal_t *terminal) { return terminal && terminal->terminal.running() ? 1 : 0; }

void ccb_terminal_free(ccb_terminal_t *terminal) { delete terminal; }

}  // extern "C"
