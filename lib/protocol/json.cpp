#include "detail/json.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/json.hpp>

#include <cstdio>

CCB_BEGIN_NAMESPACE

namespace {
const detail::JsonValue *val(const void *p) noexcept
{
  return static_cast<const detail::JsonValue *>(p);
}
}  // namespace

JsonKind JsonView::kind() const noexcept
{
  const auto *v = val(value_);
  if (!v) return JsonKind::missing;
  switch (v->GetType()) {
  case rapidjson::kNullType: return JsonKind::null;
  case rapidjson::kFalseType:
  case rapidjson::kTrueType: return JsonKind::boolean;
  case rapidjson::kNumberType: return JsonKind::number;
  case rapidjson::kStringType: return JsonKind::string;
  case rapidjson::kArrayType: return JsonKind::array;
  case rapidjson::kObjectType: return JsonKind::object;
  }
  return JsonKind::missing;
}

std::optional<std::string_view> JsonView::string() const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsString()) return std::nullopt;
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::string_view JsonView::string_or(std::string_view fallback) const noexcept
{
  return string().value_or(fallback);
}

std::optional<bool> JsonView::boolean() const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsBool()) return std::nullopt;
  return v->GetBool();
}

std::optional<std::int64_t> JsonView::int64() const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

std::optional<double> JsonView::number() const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsNumber()) return std::nullopt;
  return v->GetDouble();
}

JsonView JsonView::operator[](std::string_view key) const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsObject()) return {};
  // FindMember needs a Value key; a non-owning string ref avoids copying.
  detail::JsonValue k(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
  auto it = v->FindMember(k);
  if (it == v->MemberEnd()) return {};
  return JsonView(owner_, &it->value);
}

JsonView JsonView::operator[](std::size_t index) const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsArray() || index >= v->Size()) return {};
  return JsonView(owner_, &(*v)[static_cast<rapidjson::SizeType>(index)]);
}

std::size_t JsonView::size() const noexcept
{
  const auto *v = val(value_);
  if (!v) return 0;
  if (v->IsArray()) return v->Size();
  if (v->IsObject()) return v->MemberCount();
  return 0;
}

std::string_view JsonView::key_at(std::size_t index) const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsObject() || index >= v->MemberCount()) return {};
  const auto &name = (v->MemberBegin() + static_cast<std::ptrdiff_t>(index))->name;
  return {name.GetString(), name.GetStringLength()};
}

JsonView JsonView::value_at(std::size_t index) const noexcept
{
  const auto *v = val(value_);
  if (!v || !v->IsObject() || index >= v->MemberCount()) return {};
  return JsonView(owner_, &(v->MemberBegin() + static_cast<std::ptrdiff_t>(index))->value);
}

std::string JsonView::dump() const
{
  const auto *v = val(value_);
  return v ? detail::dump(*v) : std::string();
}

JsonView parse_json(std::string_view text)
{
  auto doc = std::make_shared<detail::JsonDocument>();
  auto r = detail::parse_exact(*doc, text);
  if (r.IsError()) {
    throw Error(errc::parse_error, std::string("invalid JSON at offset ") + std::to_string(r.Offset()) + ": " +
                                       detail::parse_error_text(r));
  }
  const detail::JsonValue *root = doc.get();
  return detail::Access<JsonView>::view(doc, root);
}

void append_json_string(std::string &out, std::string_view text)
{
  static const char hex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (c < 0x20) {
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  out.push_back('"');
}

CCB_END_NAMESPACE
