// Versions, status codes and the last error, strings, runtimes, messages and run outcomes.
#include "capi.hpp"

#include <ccbridge/version.h>

#include <cstdlib>
#include <iterator>

namespace ccbridge::detail::capi {

namespace {

thread_local std::string t_last_error;

struct Code {
  int status;
  errc code;
  const char *text;
};

// The C status of every errc value, in order; the header's numbers are checked against errc here.
constexpr Code kCodes[] = {
    {CCB_E_INVALID_ARGUMENT, errc::invalid_argument, "invalid argument"},
    {CCB_E_CLI_NOT_FOUND, errc::cli_not_found, "Claude Code CLI not found"},
    {CCB_E_CWD_NOT_FOUND, errc::cwd_not_found, "working directory not found"},
    {CCB_E_SPAWN_FAILED, errc::spawn_failed, "could not start the Claude Code CLI"},
    {CCB_E_PROCESS_FAILED, errc::process_failed, "the Claude Code CLI failed"},
    {CCB_E_IO_ERROR, errc::io_error, "I/O error on the CLI's pipes"},
    {CCB_E_PARSE_ERROR, errc::parse_error, "line is not valid JSON"},
    {CCB_E_INVALID_UTF8, errc::invalid_utf8, "line is not valid UTF-8"},
    {CCB_E_LINE_TOO_LONG, errc::line_too_long, "line exceeds the line limit"},
    {CCB_E_TIMEOUT, errc::timeout, "timed out"},
    {CCB_E_CLOSED, errc::closed, "closed"},
    {CCB_E_CANCELLED, errc::cancelled, "cancelled"},
    {CCB_E_WOULD_DEADLOCK, errc::would_deadlock, "blocking call from a ccbridge callback would deadlock"},
    {CCB_E_INTERNAL, errc::internal, "internal error"},
    {CCB_E_CONTROL_ERROR, errc::control_error, "the CLI refused a control request"},
    {CCB_E_SESSION_NOT_FOUND, errc::session_not_found, "no such session to resume"},
};

constexpr bool codes_match_errc()
{
  for (std::size_t i = 0; i < std::size(kCodes); ++i) {
    int value = static_cast<int>(kCodes[i].code);
    if (kCodes[i].status != -value || value != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(codes_match_errc(), "CCB_E_* must be the errc values negated, in order");
static_assert(std::size(kCodes) == static_cast<std::size_t>(errc::session_not_found),
              "every errc value needs a CCB_E_* status");

const Code *find_code(int status) noexcept
{
  if (status >= 0 || status < -static_cast<int>(std::size(kCodes))) return nullptr;
  return &kCodes[-status - 1];
}

}  // namespace

int fail(int status, const char *message, const char *detail) noexcept
{
  try {
    t_last_error.assign(message).append(detail);
  } catch (...) {
    t_last_error.clear();  // out of memory: an empty message rather than none at all
  }
  return status;
}

int fail(int status, const std::string &message) noexcept { return fail(status, message.c_str()); }

void succeed() noexcept { t_last_error.clear(); }

int status_of(std::error_code ec) noexcept
{
  if (ec.category() != error_category() || !find_code(-ec.value())) return CCB_E_INTERNAL;
  return -ec.value();
}

char *dup_string(std::string_view s)
{
  auto *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (!p) throw std::bad_alloc();
  s.copy(p, s.size());
  p[s.size()] = '\0';
  return p;
}

void to_c(const RunOutcome &o, ccb_outcome_t &c) noexcept
{
  c = ccb_outcome_t{};
  c.status = o.ok() ? CCB_OK : status_of(o.error);
  c.exit_code = o.exit.code;
  c.signal = o.exit.signal;
  c.message = o.message.c_str();
  c.stderr_tail = o.stderr_tail.c_str();
  c.messages = o.messages;
  c.invalid_lines = o.invalid_lines;
  c.skipped_lines = o.skipped_lines;
}

const ccb_outcome_t *OutcomeCache::get(const RunOutcome &outcome)
{
  std::lock_guard<std::mutex> lk(mu_);
  if (!filled_) {
    message_ = outcome.message;
    stderr_tail_ = outcome.stderr_tail;
    to_c(outcome, c_);
    c_.message = message_.c_str();
    c_.stderr_tail = stderr_tail_.c_str();
    filled_ = true;
  }
  return &c_;
}

int outcome_status(const ccb_outcome_t &c) noexcept
{
  if (c.status == CCB_OK) return CCB_OK;
  return fail(c.status, *c.message ? c.message : ccb_strerror(c.status));
}

int pull(Stream &stream, int timeout_ms, ccb_message_t **out)
{
  auto holder = std::make_unique<ccb_message>();  // allocated first: a pulled message is never lost
  auto timeout = timeout_ms < 0 ? std::chrono::milliseconds::max() : std::chrono::milliseconds(timeout_ms);
  switch (stream.pull(holder->msg, timeout)) {
  case PullStatus::message: *out = holder.release(); return CCB_OK;
  case PullStatus::end: return CCB_END;
  case PullStatus::timeout: break;
  }
  return fail(CCB_E_TIMEOUT, "[ccbridge.timeout] no message within " + std::to_string(timeout_ms) + " ms");
}

void set_message_callbacks(Stream &stream, ccb_message_cb on_message, ccb_end_cb on_end, UserPtr user)
{
  Stream::EndCallback end;
  if (on_end) {
    end = [on_end, user](const RunOutcome &o) {
      ccb_outcome_t c;
      to_c(o, c);
      on_end(&c, user->user);
    };
  }
  stream.on_message(
      [on_message, user](const Message &m) {
        ccb_message borrowed{m};
        on_message(&borrowed, user->user);
      },
      std::move(end));
}

std::shared_ptr<Runtime> runtime_for(const ccb_options_t *opts)
{
  if (opts && opts->runtime) return opts->runtime;
  return std::make_shared<Runtime>(1);
}

std::shared_ptr<Runtime> runtime_of(ccb_runtime_t *runtime)
{
  return runtime ? runtime->runtime : std::make_shared<Runtime>(1);
}

}  // namespace ccbridge::detail::capi

using namespace ccbridge;
using namespace ccbridge::detail::capi;

namespace {

// Strings of a Message are std::string members, so their data() is NUL-terminated.
const char *c_str(std::string_view s) noexcept { return s.empty() ? "" : s.data(); }

}  // namespace

extern "C" {

int ccb_abi_version(void) { return CCB_ABI_VERSION; }
const char *ccb_version(void) { return CCB_VERSION_STRING; }
unsigned ccb_version_number(void) { return CCB_VERSION_NUMBER; }

const char *ccb_last_error(void) { return t_last_error.c_str(); }

const char *ccb_errc_name(int status)
{
  if (status == CCB_OK) return "ok";
  if (status == CCB_END) return "end";
  const Code *c = find_code(status);
  return c ? errc_name(c->code) : "unknown";
}

const char *ccb_strerror(int status)
{
  if (status == CCB_OK) return "success";
  if (status == CCB_END) return "end of stream";
  const Code *c = find_code(status);
  return c ? c->text : "unknown status";
}

void ccb_free(char *str) { std::free(str); }

int ccb_runtime_new(ccb_runtime_t **out, unsigned threads)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    *out = new ccb_runtime{std::make_shared<Runtime>(threads)};
    return CCB_OK;
  });
}

void ccb_runtime_free(ccb_runtime_t *runtime) { delete runtime; }

ccb_message_type_t ccb_message_type(const ccb_message_t *msg)
{
  if (!msg) return CCB_MESSAGE_UNKNOWN;
  switch (msg->msg.type()) {
  case MessageType::system: return CCB_MESSAGE_SYSTEM;
  case MessageType::assistant: return CCB_MESSAGE_ASSISTANT;
  case MessageType::user: return CCB_MESSAGE_USER;
  case MessageType::result: return CCB_MESSAGE_RESULT;
  case MessageType::stream_event: return CCB_MESSAGE_STREAM_EVENT;
  case MessageType::rate_limit_event: return CCB_MESSAGE_RATE_LIMIT_EVENT;
  case MessageType::invalid_line: return CCB_MESSAGE_INVALID_LINE;
  default: return CCB_MESSAGE_UNKNOWN;  // control frames never reach the application
  }
}

const char *ccb_message_type_name(const ccb_message_t *msg) { return msg ? c_str(msg->msg.type_name()) : ""; }
const char *ccb_message_subtype(const ccb_message_t *msg) { return msg ? c_str(msg->msg.subtype()) : ""; }

const char *ccb_message_json(const ccb_message_t *msg, size_t *len)
{
  std::string_view raw = msg ? msg->msg.raw() : std::string_view();
  if (len) *len = raw.size();
  return c_str(raw);
}

const char *ccb_message_string(const ccb_message_t *msg, const char *key)
{
  if (!msg || !key) return nullptr;
  auto s = msg->msg.json()[std::string_view(key)].string();
  return s ? s->data() : nullptr;  // RapidJSON strings are NUL-terminated
}

int ccb_message_is_error(const ccb_message_t *msg) { return msg && msg->msg.is_error_result() ? 1 : 0; }

int ccb_message_text(char **out, const ccb_message_t *msg)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    *out = dup_string(need(msg, "msg")->msg.text());
    return CCB_OK;
  });
}

int ccb_message_copy(ccb_message_t **out, const ccb_message_t *msg)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    *out = new ccb_message{need(msg, "msg")->msg};
    return CCB_OK;
  });
}

void ccb_message_free(ccb_message_t *msg) { delete msg; }

}  // extern "C"
