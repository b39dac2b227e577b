// Agent platform (seed 001): what the profile's parts share: the seed's response envelopes and
// error codes, timestamps, ids, and small JSON builders over RapidJSON. Server thread only.
#pragma once

#include "server/context.hpp"
#include "server/http.hpp"

#include "detail/json.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace ccbridge::detail::server::platform {

/// A failure a handler answers with: HTTP status, the seed's ErrorCode, a message and optional
/// details (a JSON object's text, or "").
struct ApiError {
  int status = 500;
  std::string code = "INTERNAL_ERROR";
  std::string message;
  std::string details;
};

/// Thrown by handlers; the router turns it into the error envelope.
struct ApiFailure : std::exception {
  explicit ApiFailure(ApiError e) : error(std::move(e)) {}
  const char *what() const noexcept override { return error.message.c_str(); }
  ApiError error;
};

[[noreturn]] void fail(int status, std::string code, std::string message, std::string details = {});
/// 422 naming a field: MISSING_REQUIRED_FIELD when absent, INVALID_INPUT when wrong.
[[noreturn]] void bad_field(std::string_view field, std::string why, bool missing = false);

/// `{"success":false,"error":{code,message,details?,timestamp,requestId}}`.
std::string error_envelope(const ApiError &e, const std::string &request_id);
/// `{"success":true,"data":<data>}` (and `"message"` when given).
std::string ok_envelope(const std::string &data_json, std::string_view message = {});

/// Now as ISO 8601 UTC with milliseconds ("2026-01-22T10:30:00.123Z"); sorts as text.
std::string now_iso();
std::string iso_from_unix_ms(std::int64_t ms);
std::int64_t now_unix();
std::int64_t now_unix_ms();
/// Milliseconds between two timestamps made by now_iso (0 if either is malformed).
std::int64_t iso_diff_ms(const std::string &from, const std::string &to);
/// A fresh id: `prefix` + 16 random hex digits.
std::string new_id(std::string_view prefix);

/// JSON text of a document or value.
std::string to_json(const JsonValue &v);
/// Parses an object; nullopt-like empty document (IsObject() false) when `text` is not one.
JsonDocument parse_object(std::string_view text);

/// Builders that keep a document's allocator at hand.
class Json {
public:
  explicit Json(JsonDocument &doc) : a_(doc.GetAllocator()) {}
  JsonValue str(std::string_view s) { return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), a_); }
  JsonValue strings(const std::vector<std::string> &v);
  JsonValue copy(const JsonValue &v) { return JsonValue(v, a_); }
  /// Sets obj[key] (replacing it if present).
  void set(JsonValue &obj, std::string_view key, JsonValue v);
  void set(JsonValue &obj, std::string_view key, std::string_view s) { set(obj, key, str(s)); }
  void set(JsonValue &obj, std::string_view key, const char *s) { set(obj, key, str(s)); }
  void set(JsonValue &obj, std::string_view key, std::int64_t n) { set(obj, key, JsonValue(n)); }
  void set(JsonValue &obj, std::string_view key, int n) { set(obj, key, JsonValue(n)); }
  void set(JsonValue &obj, std::string_view key, double n) { set(obj, key, JsonValue(n)); }
  void set(JsonValue &obj, std::string_view key, bool b) { set(obj, key, JsonValue(b)); }
  rapidjson::MemoryPoolAllocator<> &alloc() { return a_; }

private:
  rapidjson::MemoryPoolAllocator<> &a_;
};

/// obj[key] if obj is an object holding it, else null.
const JsonValue *member(const JsonValue &obj, std::string_view key);
std::string text_of(const JsonValue &obj, std::string_view key, std::string_view fallback = {});
/// obj[key], or a null value when obj is not an object holding it (never a dangling read).
const JsonValue &sub(const JsonValue &obj, std::string_view key);

}  // namespace ccbridge::detail::server::platform
