#include "detail/json.hpp"
#include "protocol/json_scan.hpp"
#include "protocol/message_impl.hpp"

#include <ccbridge/message.hpp>

#include <cstring>
#include <string>

CCB_BEGIN_NAMESPACE

namespace {

MessageType classify_type(std::string_view type) noexcept
{
  switch (type.size()) {
  case 4:
    if (type == "user") return MessageType::user;
    break;
  case 6:
    if (type == "system") return MessageType::system;
    if (type == "result") return MessageType::result;
    break;
  case 9:
    if (type == "assistant") return MessageType::assistant;
    break;
  case 12:
    if (type == "stream_event") return MessageType::stream_event;
    break;
  case 15:
    if (type == "control_request") return MessageType::control_request;
    break;
  case 16:
    if (type == "rate_limit_event") return MessageType::rate_limit_event;
    if (type == "control_response") return MessageType::control_response;
    break;
  case 22:
    if (type == "control_cancel_request") return MessageType::control_cancel_request;
    break;
  default: break;
  }
  return MessageType::unknown;
}

const LineError kNoError{};

constexpr std::size_t kMaxRecursiveLine = 4096;

}  // namespace

const char *to_string(MessageType type) noexcept
{
  switch (type) {
  case MessageType::system: return "system";
  case MessageType::assistant: return "assistant";
  case MessageType::user: return "user";
  case MessageType::result: return "result";
  case MessageType::stream_event: return "stream_event";
  case MessageType::rate_limit_event: return "rate_limit_event";
  case MessageType::control_request: return "control_request";
  case MessageType::control_response: return "control_response";
  case MessageType::control_cancel_request: return "control_cancel_request";
  case MessageType::unknown: return "unknown";
  case MessageType::invalid_line: return "invalid_line";
  }
  return "unknown";
}

Message::Message()
{
  static const std::shared_ptr<const Impl> empty = [] {
    auto impl = std::make_shared<Impl>();
    impl->raw = "";  // raw() is "", json() an empty object
    impl->dom = std::make_unique<MessageDom>("{}");
    return impl;
  }();
  impl_ = empty;
}

Message Message::parse(std::string line, std::uint64_t line_number)
{
  const bool has_nul = std::memchr(line.data(), 0, line.size()) != nullptr;
  return detail::parse_checked_line(std::move(line), line_number, has_nul);
}

CCB_END_NAMESPACE

namespace ccbridge::detail {

namespace {
Message finish_parse(std::shared_ptr<MessageImpl> impl, std::uint64_t line_number, bool has_nul,
                     std::chrono::steady_clock::time_point read_at)
{
  impl->read_at = read_at;
  const std::string_view raw = impl->raw;
  auto fail = [&](std::string why) {
    LineError err;
    err.code = make_error_code(errc::parse_error);
    err.line_number = line_number;
    err.size = raw.size();
    err.description = "stdout line " + std::to_string(line_number) + " " + why;
    impl->type = MessageType::invalid_line;
    impl->error = std::move(err);
    impl->dom.reset();
    return Access<Message>::make(std::move(impl));
  };
  // A NUL byte is valid UTF-8 but never part of JSON text.
  if (has_nul) return fail("contains a NUL byte");

  JsonScan scan = scan_json_object(raw.data(), raw.size());
  if (!scan.ok) {
    return fail(std::string("is not valid JSON: ") + scan.error + " (at byte " + std::to_string(scan.error_offset) + ")");
  }
  if (scan.needs_dom) {
    // Exotic content (exponents, long numbers, surrogate escapes, escaped names): RapidJSON
    // decides validity and the type strings, now.
    impl->dom = std::make_unique<MessageDom>(raw);
    const auto &doc = impl->dom->doc;
    if (impl->dom->result.IsError()) {
      return fail(std::string("is not valid JSON: ") + detail::parse_error_text(impl->dom->result) +
                  " (at byte " + std::to_string(impl->dom->result.Offset()) + ")");
    }
    impl->type_name = std::string(get_string(doc, "type"));
    impl->subtype = std::string(get_string(doc, "subtype"));
  } else {
    impl->type_name = std::string(scan.type);
    impl->subtype = std::string(scan.subtype);
    impl->spans = !scan.escaped_name;
    impl->session_id_span = scan.session_id;
    impl->usage_span = scan.usage;
    impl->content_span = scan.message_content;
    impl->message_usage_span = scan.message_usage;
  }
  impl->type = ccbridge::classify_type(impl->type_name);
  return Access<Message>::make(std::move(impl));
}
}  // namespace

Message parse_checked_line(std::string line, std::uint64_t line_number, bool has_nul,
                           std::chrono::steady_clock::time_point read_at)
{
  return finish_parse(std::make_shared<MessageImpl>(std::move(line)), line_number, has_nul, read_at);
}

Message parse_checked_line(const std::shared_ptr<LinePool> &pool, std::string_view line, std::uint64_t line_number,
                           bool has_nul, std::chrono::steady_clock::time_point read_at)
{
  char *tail = nullptr;
  auto impl = std::allocate_shared<MessageImpl>(LinePoolAllocator<MessageImpl>(pool, line.size() + 1, &tail));
  std::memcpy(tail, line.data(), line.size());
  tail[line.size()] = '\0';
  impl->raw = std::string_view(tail, line.size());
  return finish_parse(std::move(impl), line_number, has_nul, read_at);
}

Message invalid_line(LineError error, std::string sample, std::chrono::steady_clock::time_point read_at)
{
  auto impl = std::make_shared<MessageImpl>(std::move(sample));
  impl->type = MessageType::invalid_line;
  impl->error = std::move(error);
  impl->read_at = read_at;
  return Access<Message>::make(std::move(impl));
}

}  // namespace ccbridge::detail

CCB_BEGIN_NAMESPACE

Message Message::invalid(LineError error, std::string sample)
{
  return detail::invalid_line(std::move(error), std::move(sample), {});
}

MessageType Message::type() const noexcept { return impl_->type; }
std::chrono::steady_clock::time_point Message::read_at() const noexcept { return impl_->read_at; }
std::string_view Message::type_name() const noexcept { return impl_->type_name; }
std::string_view Message::subtype() const noexcept { return impl_->subtype; }
std::string_view Message::raw() const noexcept { return impl_->raw; }

JsonView Message::json() const noexcept
{
  const detail::JsonValue *root = nullptr;
  try {
    root = impl_->root();
  } catch (...) {
    return {};  // out of memory building the DOM
  }
  if (!root) return {};
  return detail::Access<JsonView>::view(impl_, root);
}

const LineError &Message::line_error() const noexcept
{
  return impl_->type == MessageType::invalid_line ? impl_->error : kNoError;
}

bool Message::is_error_result() const noexcept
{
  return type() == MessageType::result && is_error();
}

std::string_view Message::model() const noexcept
{
  if (type() == MessageType::assistant) return api_message()["model"].string_or();
  return json()["model"].string_or();
}

JsonView Message::usage() const noexcept
{
  if (type() == MessageType::assistant) return api_message()["usage"];
  return json()["usage"];
}

// ---- the common fields straight from the line's bytes ---------------------------------------
// session_id(), text() and token_usage() are read on every message by most consumers. Building
// the DOM for them costs more than everything else a message costs, so where the scan allows it
// (Impl::spans) they are read from the text the scan noted, and each reader answers exactly as
// its DOM version would; anything the bytes cannot settle alone (escapes of surrogates, a
// negative or long number, an unusual shape) is left to the DOM (nullopt below).

namespace {

// The text of the string `token` when it holds no escape: a view into the line.
std::optional<std::string_view> plain_string(std::string_view token)
{
  if (token.size() < 2 || token.front() != '"') return std::nullopt;
  std::string_view inner = token.substr(1, token.size() - 2);
  if (inner.find('\\') != std::string_view::npos) return std::nullopt;
  return inner;
}

bool is_string(std::string_view token) { return !token.empty() && token.front() == '"'; }

// Message::text() from the text of message.content as written (empty: no content).
std::optional<std::string> text_of(std::string_view content)
{
  std::string out;
  if (content.empty()) return out;
  if (content.front() == '"') {  // a plain-string prompt: one text block
    if (!detail::json_string_append(content, out)) return std::nullopt;
    return out;
  }
  if (content.front() != '[') return std::nullopt;
  constexpr std::size_t kMax = 16;
  std::string_view blocks[kMax];
  const std::size_t n = detail::json_array_items(content, blocks, kMax);
  if (n > kMax) return std::nullopt;
  for (std::size_t i = 0; i < n; ++i) {
    if (blocks[i].front() != '{') continue;  // not a block: its type is unknown
    std::string_view m[3];  // type, text, thinking
    if (!detail::json_member_spans(blocks[i], {"type", "text", "thinking"}, m)) return std::nullopt;
    if (!is_string(m[0])) continue;
    auto plain = plain_string(m[0]);
    if (!plain) return std::nullopt;
    if (*plain != "text") continue;
    if (!out.empty()) out += '\n';
    std::string_view t = is_string(m[1]) ? m[1] : m[2];  // ContentBlock::text(): text, else thinking
    if (is_string(t) && !detail::json_string_append(t, out)) return std::nullopt;
  }
  return out;
}

// One count of a usage object (`v`: its text, empty when absent): false when only the DOM can tell.
bool read_count(std::string_view v, std::optional<std::int64_t> &to)
{
  if (v.empty() || v.front() < '0' || v.front() > '9') return v.empty() || v.front() != '-';
  if (auto n = detail::json_small_int(v)) {
    to = *n;
    return true;
  }
  return v.find_first_of(".eE") != std::string_view::npos;  // a double: not an int64, as in the DOM
}

}  // namespace

std::string_view Message::session_id() const noexcept
{
  if (impl_->spans) {
    std::string_view t = impl_->session_id_span;
    if (t.empty() || t.front() != '"') return {};  // absent or not a string
    if (auto s = plain_string(t)) return *s;
  }
  return json()["session_id"].string_or();
}

Message::TokenUsage Message::token_usage() const noexcept
{
  if (impl_->spans) {
    std::string_view u = type() == MessageType::assistant ? impl_->message_usage_span : impl_->usage_span;
    TokenUsage t;
    if (u.empty() || u.front() != '{') return t;
    std::string_view v[4];
    if (detail::json_member_spans(u, {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}, v) &&
        read_count(v[0], t.input_tokens) && read_count(v[1], t.output_tokens) &&
        read_count(v[2], t.cache_creation_input_tokens) && read_count(v[3], t.cache_read_input_tokens)) {
      return t;
    }
  }
  JsonView u = usage();
  return {u["input_tokens"].int64(), u["output_tokens"].int64(), u["cache_creation_input_tokens"].int64(),
          u["cache_read_input_tokens"].int64()};
}

std::vector<ContentBlock> Message::content() const
{
  std::vector<ContentBlock> blocks;
  JsonView c = api_message()["content"];
  if (auto s = c.string()) {
    // A plain-string user prompt: present it as one text block.
    auto doc = std::make_shared<detail::JsonDocument>();
    doc->SetObject();
    auto &a = doc->GetAllocator();
    doc->AddMember("type", "text", a);
    doc->AddMember("text", detail::JsonValue(s->data(), static_cast<rapidjson::SizeType>(s->size()), a), a);
    const detail::JsonValue *root = doc.get();
    blocks.emplace_back(detail::Access<JsonView>::view(doc, root));
    return blocks;
  }
  blocks.reserve(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) blocks.emplace_back(c[i]);
  return blocks;
}

std::string Message::text() const
{
  if (impl_->spans) {
    if (auto t = text_of(impl_->content_span)) return std::move(*t);
  }
  std::string out;
  for (const auto &b : content()) {
    if (b.type() != BlockType::text) continue;
    if (!out.empty()) out += '\n';
    out += b.text();
  }
  return out;
}

std::vector<std::string_view> Message::errors() const
{
  std::vector<std::string_view> out;
  JsonView e = json()["errors"];
  for (std::size_t i = 0; i < e.size(); ++i)
    if (auto s = e[i].string()) out.push_back(*s);
  return out;
}

std::vector<Message::PermissionDenial> Message::permission_denials() const
{
  std::vector<PermissionDenial> out;
  JsonView d = json()["permission_denials"];
  for (std::size_t i = 0; i < d.size(); ++i) {
    JsonView item = d[i];
    out.push_back({item["tool_name"].string_or(), item["tool_use_id"].string_or(), item["tool_input"]});
  }
  return out;
}

std::string_view Message::delta_text() const noexcept
{
  JsonView delta = event()["delta"];
  if (auto t = delta["text"].string()) return *t;
  if (auto t = delta["thinking"].string()) return *t;
  return delta["partial_json"].string_or();
}

std::string_view Message::request_id() const noexcept
{
  if (type() == MessageType::control_response) return json()["response"]["request_id"].string_or();
  return json()["request_id"].string_or();
}

// ---- ContentBlock -------------------------------------------------------------------------

BlockType ContentBlock::type() const noexcept
{
  std::string_view t = type_name();
  if (t == "text") return BlockType::text;
  if (t == "thinking") return BlockType::thinking;
  if (t == "redacted_thinking") return BlockType::redacted_thinking;
  if (t == "tool_use") return BlockType::tool_use;
  if (t == "tool_result") return BlockType::tool_result;
  if (t == "server_tool_use") return BlockType::server_tool_use;
  return BlockType::unknown;
}

std::string_view ContentBlock::text() const noexcept
{
  if (auto t = json_["text"].string()) return *t;
  return json_["thinking"].string_or();
}

std::string ContentBlock::content_text() const
{
  JsonView c = content();
  if (auto s = c.string()) return std::string(*s);
  std::string out;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (auto t = c[i]["text"].string()) {
      if (!out.empty()) out += '\n';
      out += *t;
    }
  }
  return out;
}

CCB_END_NAMESPACE
