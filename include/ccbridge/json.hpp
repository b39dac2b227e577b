// A read-only view of a parsed JSON value (an object inside a Message, for example).
//
// Ownership: a JsonView shares ownership of the document it points into, so it stays valid after
// the Message it came from is gone. It is cheap to copy (one shared_ptr).
// Thread safety: views are immutable; concurrent reads from any number of threads are safe.
// Missing values: indexing a missing key or index, or a value of another kind, yields an empty view
// (kind() == JsonKind::missing) instead of throwing, so chains like msg.json()["a"]["b"] are safe.
#pragma once

#include <ccbridge/export.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ccbridge::detail {
template <class T> struct Access;  // how the library reaches a class's internals (defined in lib/)
}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

enum class JsonKind { missing, null, boolean, number, string, array, object };

class CCB_API JsonView {
public:
  JsonView() = default;

  JsonKind kind() const noexcept;
  bool exists() const noexcept { return value_ != nullptr; }
  explicit operator bool() const noexcept { return exists(); }
  bool is_null() const noexcept { return kind() == JsonKind::null; }
  bool is_string() const noexcept { return kind() == JsonKind::string; }
  bool is_number() const noexcept { return kind() == JsonKind::number; }
  bool is_bool() const noexcept { return kind() == JsonKind::boolean; }
  bool is_array() const noexcept { return kind() == JsonKind::array; }
  bool is_object() const noexcept { return kind() == JsonKind::object; }

  /// The string value, or nullopt if this is not a string. Valid while any view of the document lives.
  std::optional<std::string_view> string() const noexcept;
  /// The string value, or `fallback` if this is not a string.
  std::string_view string_or(std::string_view fallback = {}) const noexcept;
  std::optional<bool> boolean() const noexcept;
  /// Integral numbers that fit in int64 (doubles with no fraction are not converted).
  std::optional<std::int64_t> int64() const noexcept;
  /// Any number as double.
  std::optional<double> number() const noexcept;

  /// Member of an object (empty view if not an object or no such key).
  JsonView operator[](std::string_view key) const noexcept;
  JsonView operator[](const char *key) const noexcept { return (*this)[std::string_view(key)]; }
  /// Element of an array (empty view if not an array or out of range).
  JsonView operator[](std::size_t index) const noexcept;
  JsonView operator[](int index) const noexcept
  {
    return index < 0 ? JsonView() : (*this)[static_cast<std::size_t>(index)];
  }

  /// Number of elements (array) or members (object); 0 otherwise.
  std::size_t size() const noexcept;
  /// Key of the i-th member of an object (empty if out of range).
  std::string_view key_at(std::size_t index) const noexcept;
  /// Value of the i-th member of an object.
  JsonView value_at(std::size_t index) const noexcept;

  /// Compact JSON text of this value ("" for a missing value). Allocates.
  std::string dump() const;

private:
  friend struct detail::Access<JsonView>;
  JsonView(std::shared_ptr<const void> owner, const void *value) noexcept
      : owner_(std::move(owner)), value_(value)
  {
  }

  std::shared_ptr<const void> owner_;
  const void *value_ = nullptr;  // a rapidjson::Value inside *owner_
};

/// The deepest nesting of arrays and objects ccbridge reads: parse_json(), Message::parse (the
/// CLI's lines), options_from_json() and server_config_from_json() refuse JSON text nested deeper
/// ("nested deeper than 512 levels"), so that no walk over a parsed value (serialising it,
/// converting it for Python) can exhaust the stack. The outermost array or object is level 1.
inline constexpr std::size_t max_json_depth = 512;

/// Parses JSON text into a standalone view. Throws Error(errc::parse_error) on invalid input,
/// including input nested deeper than max_json_depth.
CCB_API JsonView parse_json(std::string_view text);

/// Appends `text` as a JSON string literal (with quotes and escapes) to `out`.
CCB_API void append_json_string(std::string &out, std::string_view text);

CCB_END_NAMESPACE
