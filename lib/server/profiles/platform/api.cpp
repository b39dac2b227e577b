#include "server/profiles/platform/api.hpp"

#include "server/context.hpp"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

namespace ccbridge::detail::server::platform {

void fail(int status, std::string code, std::string message, std::string details)
{
  throw ApiFailure(ApiError{status, std::move(code), std::move(message), std::move(details)});
}

void bad_field(std::string_view field, std::string why, bool missing)
{
  fail(422, missing ? "MISSING_REQUIRED_FIELD" : "INVALID_INPUT", std::move(why),
       "{\"field\":" + json_str(field) + "}");
}

std::string error_envelope(const ApiError &e, const std::string &request_id)
{
  std::string out = "{\"success\":false,\"error\":{\"code\":" + json_str(e.code) +
                    ",\"message\":" + json_str(utf8_or_replaced(e.message));
  if (!e.details.empty()) out += ",\"details\":" + e.details;
  return out + ",\"timestamp\":" + json_str(now_iso()) + ",\"requestId\":" + json_str(request_id) + "}}";
}

std::string ok_envelope(const std::string &data_json, std::string_view message)
{
  std::string out = "{\"success\":true";
  if (!message.empty()) out += ",\"message\":" + json_str(message);
  return out + ",\"data\":" + data_json + "}";
}

std::int64_t now_unix_ms()
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t now_unix() { return now_unix_ms() / 1000; }

std::string iso_from_unix_ms(std::int64_t ms)
{
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string now_iso() { return iso_from_unix_ms(now_unix_ms()); }

namespace {

// The digits of s[at, at + n) as a number, or -1.
int digits(const std::string &s, std::size_t at, std::size_t n)
{
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Milliseconds since the epoch of a now_iso() text ("2026-01-22T10:30:00.123Z"), or -1.
std::int64_t iso_ms(const std::string &s)
{
  if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
      s[23] != 'Z')
    return -1;
  std::tm tm{};
  tm.tm_year = digits(s, 0, 4) - 1900;
  tm.tm_mon = digits(s, 5, 2) - 1;
  tm.tm_mday = digits(s, 8, 2);
  tm.tm_hour = digits(s, 11, 2);
  tm.tm_min = digits(s, 14, 2);
  tm.tm_sec = digits(s, 17, 2);
  int ms = digits(s, 20, 3);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 0 || tm.tm_hour < 0 || tm.tm_min < 0 || tm.tm_sec < 0 || ms < 0)
    return -1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

}  // namespace

std::int64_t iso_diff_ms(const std::string &from, const std::string &to)
{
  std::int64_t a = iso_ms(from), b = iso_ms(to);
  return a < 0 || b < 0 || b < a ? 0 : b - a;
}

std::string new_id(std::string_view prefix) { return std::string(prefix) + Context::new_secret().substr(0, 16); }

std::string to_json(const JsonValue &v) { return dump(v); }

JsonDocument parse_object(std::string_view text)
{
  JsonDocument d;
  d.Parse<rapidjson::kParseStopWhenDoneFlag>(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject()) d.SetNull();
  return d;
}

JsonValue Json::strings(const std::vector<std::string> &v)
{
  JsonValue arr(rapidjson::kArrayType);
  for (const auto &s : v) arr.PushBack(str(s), a_);
  return arr;
}

void Json::set(JsonValue &obj, std::string_view key, JsonValue v)
{
  auto it = obj.FindMember(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
  if (it != obj.MemberEnd()) {
    it->value = std::move(v);
    return;
  }
  obj.AddMember(str(key), std::move(v), a_);
}

const JsonValue *member(const JsonValue &obj, std::string_view key)
{
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const JsonValue &sub(const JsonValue &obj, std::string_view key)
{
  static const JsonValue kNull;
  const JsonValue *v = member(obj, key);
  return v ? *v : kNull;
}

std::string text_of(const JsonValue &obj, std::string_view key, std::string_view fallback)
{
  const JsonValue *v = member(obj, key);
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string(fallback);
}

}  // namespace ccbridge::detail::server::platform
