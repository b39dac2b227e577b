// Internals of the C ABI: the handle structs behind the opaque C types, and the guard that turns
// every C++ exception into a status code plus the thread-local last error.
#pragma once

#include <ccbridge.h>

#include <ccbridge/ccbridge.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace ccbridge::detail::capi {

/// Records `message` + `detail` as this thread's last error and returns `status`. Never throws.
int fail(int status, const char *message, const char *detail = "") noexcept;
int fail(int status, const std::string &message) noexcept;
/// Clears the last error (a successful call).
void succeed() noexcept;

/// The C status of a ccbridge error code (errc values negated).
int status_of(std::error_code ec) noexcept;

/// Runs `body` (returning a status); every exception becomes a status and the last error.
template <class F> int guarded(F &&body) noexcept
{
  try {
    int status = body();
    if (status >= 0) succeed();
    return status;
  } catch (const Error &e) {
    return fail(status_of(e.code()), e.what());
  } catch (const std::bad_alloc &) {
    return fail(CCB_E_INTERNAL, "[ccbridge.internal] out of memory");
  } catch (const std::exception &e) {
    return fail(CCB_E_INTERNAL, "[ccbridge.internal] ", e.what());
  } catch (...) {
    return fail(CCB_E_INTERNAL, "[ccbridge.internal] unknown exception");
  }
}

/// Throws Error(invalid_argument) naming `what` when `p` is NULL.
template <class T> T *need(T *p, const char *what)
{
  if (!p) throw Error(errc::invalid_argument, std::string(what) + " is NULL");
  return p;
}

/// Copies `s` into memory the caller releases with ccb_free().
char *dup_string(std::string_view s);

/// A C callback's user data; user_free runs once, when the last copy of the callback is gone.
/// `user_free` is set only once registration succeeded (a failed call keeps ownership with the caller).
struct UserData {
  void *user = nullptr;
  ccb_user_free_fn user_free = nullptr;
  explicit UserData(void *u) : user(u) {}
  UserData(const UserData &) = delete;
  UserData &operator=(const UserData &) = delete;
  ~UserData()
  {
    if (user_free) user_free(user);
  }
};
using UserPtr = std::shared_ptr<UserData>;
inline UserPtr make_user(void *user) { return std::make_shared<UserData>(user); }

/// A ccb_outcome_t built once from a finished run; the strings it points to live here.
class OutcomeCache {
public:
  const ccb_outcome_t *get(const RunOutcome &outcome);

private:
  std::mutex mu_;
  bool filled_ = false;
  std::string message_;
  std::string stderr_tail_;
  ccb_outcome_t c_{};
};

/// Fills `c` from `o`; its strings point into `o`.
void to_c(const RunOutcome &o, ccb_outcome_t &c) noexcept;
/// The status of a finished run; sets the last error to its message when it failed.
int outcome_status(const ccb_outcome_t &c) noexcept;

/// Pulls one message into a new ccb_message_t (CCB_OK, CCB_END or CCB_E_TIMEOUT).
int pull(Stream &stream, int timeout_ms, ccb_message_t **out);
/// Switches `stream` to C callbacks.
void set_message_callbacks(Stream &stream, ccb_message_cb on_message, ccb_end_cb on_end, UserPtr user);

/// The runtime a stream or session runs on: the options' own, or a private one.
std::shared_ptr<Runtime> runtime_for(const ccb_options_t *opts);
/// The runtime a terminal or MCP client runs on: `runtime`'s, or a private one (NULL).
std::shared_ptr<Runtime> runtime_of(ccb_runtime_t *runtime);

}  // namespace ccbridge::detail::capi

// The opaque C types (global tags, as the header declares them).
struct ccb_runtime {
  std::shared_ptr<ccbridge::Runtime> runtime;
};

struct ccb_message {
  ccbridge::Message msg;
};

struct ccb_options {
  ccbridge::SessionOptions session;  // session.options: the CLI options
  std::shared_ptr<ccbridge::Runtime> runtime;
};

struct ccb_stream {
  ccb_stream(std::shared_ptr<ccbridge::Runtime> rt, ccbridge::Stream s)
      : runtime(std::move(rt)), stream(std::move(s))
  {
  }
  std::shared_ptr<ccbridge::Runtime> runtime;  // declared first: destroyed after the stream
  ccbridge::Stream stream;
  bool callback_mode = false;
  ccbridge::detail::capi::OutcomeCache outcome;
};

struct ccb_session {
  ccb_session(std::shared_ptr<ccbridge::Runtime> rt, ccbridge::Session s, std::string info)
      : runtime(std::move(rt)), session(std::move(s)), server_info(std::move(info))
  {
  }
  std::shared_ptr<ccbridge::Runtime> runtime;
  ccbridge::Session session;
  std::string server_info;
  bool callback_mode = false;
  ccbridge::detail::capi::OutcomeCache outcome;
};

namespace ccbridge::detail::capi {
/// What a permission request says, as C strings; shared by the handles of one request.
struct PermissionData {
  std::string tool_name;
  std::string input_json;
  std::string request_json;
};
}  // namespace ccbridge::detail::capi

struct ccb_permission {
  ccbridge::PermissionReply reply;
  std::shared_ptr<const ccbridge::detail::capi::PermissionData> data;
};

struct ccb_output {
  enum class Kind { hook, tool };
  explicit ccb_output(Kind k) : kind(k) {}
  Kind kind;
  bool set = false;
  ccbridge::HookOutput hook;
  ccbridge::ToolResult tool;
};
