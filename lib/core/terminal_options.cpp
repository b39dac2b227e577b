// What a Terminal's CLI is started with: its environment (an allow-list, CC-CONTROL.md 1.6), its
// argv (a checked --resume id), options from JSON, and Go's names of signals for its exit report.
#include "detail/json.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/terminal.hpp>

#include <algorithm>
#include <csignal>
#include <limits>

CCB_BEGIN_NAMESPACE

namespace {

constexpr std::size_t kMaxResumeId = 128;

bool valid_env_key(std::string_view key)
{
  return !key.empty() && key.find_first_of(std::string_view("=\0", 2)) == std::string_view::npos;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

bool allowed_key(const TerminalOptions &o, const std::string &key)
{
  if (!o.env_allow_prefix.empty() && key.compare(0, o.env_allow_prefix.size(), o.env_allow_prefix) == 0) return true;
  return std::find(o.env_allow_keys.begin(), o.env_allow_keys.end(), key) != o.env_allow_keys.end();
}

// One code point of UTF-8 at `i` (advanced past it); an invalid byte counts as one U+FFFD.
char32_t next_code_point(std::string_view s, std::size_t &i)
{
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return ++i, b;
  std::size_t extra = (b >> 5) == 0x6 ? 1 : (b >> 4) == 0xE ? 2 : (b >> 3) == 0x1E ? 3 : 0;
  if (extra == 0 || i + extra >= s.size()) return ++i, 0xFFFD;
  char32_t cp = b & (0x3F >> extra);
  for (std::size_t k = 1; k <= extra; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return ++i, 0xFFFD;
    cp = (cp << 6) | (c & 0x3F);
  }
  i += extra + 1;
  return cp;
}

// Go's unicode.IsSpace.
bool is_space(char32_t c)
{
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Go's strings.TrimSpace.
std::string_view trim_space(std::string_view s)
{
  std::size_t i = 0, first = s.size(), last = 0;
  while (i < s.size()) {
    std::size_t at = i;
    if (!is_space(next_code_point(s, i))) {
      first = std::min(first, at);
      last = i;
    }
  }
  return first < last ? s.substr(first, last - first) : std::string_view();
}

bool contains_space(std::string_view s)
{
  for (std::size_t i = 0; i < s.size();)
    if (is_space(next_code_point(s, i))) return true;
  return false;
}

std::string checked_resume_id(std::string_view raw)
{
  std::string_view id = trim_space(raw);
  auto bad = [](const std::string &why) -> std::string {
    throw Error(errc::invalid_argument, "TerminalOptions::resume_id " + why);
  };
  if (id.size() > kMaxResumeId) {
    return bad("is too long (" + std::to_string(id.size()) + " bytes, at most " + std::to_string(kMaxResumeId) + ")");
  }
  if (contains_space(id)) return bad("contains whitespace");
  if (has_nul(id)) return bad("contains a NUL byte");
  if (!id.empty() && id[0] == '-') return bad("starts with '-' (it would read as a flag)");
  return std::string(id);
}

}  // namespace

std::vector<std::string> terminal_args(const TerminalOptions &o)
{
  std::vector<std::string> args = o.args;
  std::string id = checked_resume_id(o.resume_id);
  if (!id.empty()) {
    args.emplace_back("--resume");
    args.push_back(std::move(id));
  }
  return args;
}

std::vector<std::string> terminal_env(const TerminalOptions &o, const std::vector<std::string> &host)
{
  std::map<std::string, std::string> env;
  for (const auto &entry : host) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = entry.substr(0, eq);
    if (std::find(o.host_env_keys.begin(), o.host_env_keys.end(), key) != o.host_env_keys.end()) {
      env[key] = entry.substr(eq + 1);
    }
  }
  for (const auto &[key, value] : o.env)
    if (valid_env_key(key) && !has_nul(value) && allowed_key(o, key)) env[key] = value;
  for (const auto &[key, value] : o.extra_env) {
    if (!valid_env_key(key) || has_nul(value)) {
      throw Error(errc::invalid_argument, "TerminalOptions::extra_env has a malformed entry for key '" + key + "'");
    }
    env[key] = value;
  }
  if (o.cols > 0 && o.rows > 0) {
    env["COLUMNS"] = std::to_string(o.cols);
    env["LINES"] = std::to_string(o.rows);
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto &[key, value] : env) out.push_back(std::string(key).append("=").append(value));
  return out;
}

std::string go_signal_name(int sig)
{
  // Go's table for Linux (syscall.Signal.String()).
  static const char *const names[] = {
      nullptr, "hangup", "interrupt", "quit", "illegal instruction", "trace/breakpoint trap", "aborted",
      "bus error", "floating point exception", "killed", "user defined signal 1", "segmentation fault",
      "user defined signal 2", "broken pipe", "alarm clock", "terminated", "stack fault", "child exited",
      "continued", "stopped (signal)", "stopped", "stopped (tty input)", "stopped (tty output)",
      "urgent I/O condition", "CPU time limit exceeded", "file size limit exceeded", "virtual timer expired",
      "profiling timer expired", "window changed", "I/O possible", "power failure", "bad system call"};
  if (sig > 0 && sig < static_cast<int>(sizeof names / sizeof names[0])) return names[sig];
  return "signal " + std::to_string(sig);
}

// ---- JSON ---------------------------------------------------------------------------------------

namespace {

using detail::JsonValue;

[[noreturn]] void bad(const std::string &key, const std::string &what)
{
  throw Error(errc::invalid_argument, "terminal option '" + key + "' " + what);
}

std::string str(const JsonValue &v, const std::string &key)
{
  if (!v.IsString()) bad(key, "must be a string");
  return {v.GetString(), v.GetStringLength()};
}

std::vector<std::string> strings(const JsonValue &v, const std::string &key)
{
  if (!v.IsArray()) bad(key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto &e : v.GetArray()) out.push_back(str(e, key));
  return out;
}

std::map<std::string, std::string> string_map(const JsonValue &v, const std::string &key)
{
  if (!v.IsObject()) bad(key, "must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto &m : v.GetObject()) out[str(m.name, key)] = str(m.value, key);
  return out;
}

std::int64_t integer(const JsonValue &v, const std::string &key, std::int64_t lo, std::int64_t hi)
{
  if (!v.IsInt64() || v.GetInt64() < lo || v.GetInt64() > hi) {
    bad(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v.GetInt64();
}

void set_field(TerminalOptions &o, const std::string &key, const JsonValue &v)
{
  constexpr std::int64_t kMaxU16 = std::numeric_limits<std::uint16_t>::max();
  if (key == "cli_path") return void(o.cli_path = str(v, key));
  if (key == "args") return void(o.args = strings(v, key));
  if (key == "cwd") return void(o.cwd = str(v, key));
  if (key == "env") return void(o.env = string_map(v, key));
  if (key == "env_allow_keys") return void(o.env_allow_keys = strings(v, key));
  if (key == "env_allow_prefix") return void(o.env_allow_prefix = str(v, key));
  if (key == "host_env_keys") return void(o.host_env_keys = strings(v, key));
  if (key == "extra_env") return void(o.extra_env = string_map(v, key));
  if (key == "cols") return void(o.cols = static_cast<std::uint16_t>(integer(v, key, 0, kMaxU16)));
  if (key == "rows") return void(o.rows = static_cast<std::uint16_t>(integer(v, key, 0, kMaxU16)));
  if (key == "resume_id") return void(o.resume_id = str(v, key));
  if (key == "start_timeout_ms") return void(o.start_timeout = std::chrono::milliseconds(integer(v, key, 0, 86400000LL)));
  if (key == "read_chunk") o.read_chunk = static_cast<std::size_t>(integer(v, key, 1, 1 << 24));
}

}  // namespace

TerminalOptions terminal_options_from_json(std::string_view json)
{
  detail::JsonDocument doc;
  auto r = detail::parse_exact<detail::kParseFlags | rapidjson::kParseValidateEncodingFlag>(doc, json);
  if (r.IsError()) {
    throw Error(errc::invalid_argument, std::string("terminal options are not valid JSON: ") +
                                            detail::parse_error_text(r) + " at offset " + std::to_string(r.Offset()));
  }
  const JsonValue &v = doc;
  if (!v.IsObject()) throw Error(errc::invalid_argument, "terminal options must be a JSON object");
  static const char *const known[] = {"cli_path",  "args",    "cwd",     "env",       "env_allow_keys",   "env_allow_prefix",
                                      "host_env_keys", "extra_env", "cols", "rows", "resume_id", "start_timeout_ms",
                                      "read_chunk"};
  TerminalOptions o;
  for (const auto &m : v.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    if (std::find(std::begin(known), std::end(known), key) == std::end(known)) {
      throw Error(errc::invalid_argument, "unknown terminal option '" + key + "'");
    }
    if (!m.value.IsNull()) set_field(o, key, m.value);  // null keeps the default
  }
  return o;
}

CCB_END_NAMESPACE
