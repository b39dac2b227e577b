#pragma once

#include "detail/json.hpp"
#include "protocol/line_pool.hpp"

#include <ccbridge/message.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>

CCB_BEGIN_NAMESPACE

/// The RapidJSON document of a line. Insitu parsing decodes strings in place in a private copy of
/// the line, so strings point into it instead of being copied one by one; one allocation holds
/// that copy followed by the DOM's first pool chunk.
struct MessageDom {
  explicit MessageDom(std::string_view raw)
      : pool_offset((raw.size() + 1 + 15) & ~std::size_t(15)),  // the pool needs 8-byte alignment
        pool_bytes(std::max<std::size_t>(1024, raw.size())),
        storage(new char[pool_offset + pool_bytes]),
        pool(storage.get() + pool_offset, pool_bytes),
        doc(&pool)
  {
    std::copy(raw.begin(), raw.end(), storage.get());
    storage[raw.size()] = '\0';
    // The recursive parser is faster but its depth is unbounded; a line of at most 4 KiB can nest
    // at most 4096 levels, a few hundred KiB of stack, so only those take the recursive path.
    rapidjson::InsituStringStream in(storage.get());
    if (raw.size() <= 4096) {
      result = detail::parse_exact<rapidjson::kParseInsituFlag>(doc, in);
    } else {
      result = detail::parse_exact<rapidjson::kParseInsituFlag | detail::kParseFlags>(doc, in);
    }
  }
  MessageDom(const MessageDom &) = delete;
  MessageDom &operator=(const MessageDom &) = delete;

  std::size_t pool_offset;
  std::size_t pool_bytes;
  std::unique_ptr<char[]> storage;
  rapidjson::MemoryPoolAllocator<> pool;
  detail::JsonDocument doc;
  rapidjson::ParseResult result;
};

struct Message::Impl {
  /// Bytes placed by the caller (a LinePool block's tail): `raw` is set afterwards.
  Impl() = default;
  explicit Impl(std::string line) : owned(std::move(line)), raw(owned) {}
  Impl(const Impl &) = delete;
  Impl &operator=(const Impl &) = delete;

  /// The DOM, built on first use (thread-safe). Null for invalid lines.
  const detail::JsonValue *root() const
  {
    if (type == MessageType::invalid_line) return nullptr;
    std::call_once(dom_once, [this] {
      if (!dom) dom = std::make_unique<MessageDom>(raw);
    });
    return dom->doc.IsObject() ? &dom->doc : nullptr;
  }

  std::string owned;    // the line's bytes, unless they sit after this Impl in its pool block
  std::string_view raw;  // NUL-terminated
  std::chrono::steady_clock::time_point read_at{};
  MessageType type = MessageType::unknown;
  std::string type_name;
  std::string subtype;
  /// Set when the scan alone can answer the common fields (no DOM was needed to validate the
  /// line, no member name anywhere is escaped): their text as written in `raw`, empty if absent.
  bool spans = false;
  std::string_view session_id_span;
  std::string_view usage_span;          // top level (result)
  std::string_view content_span;        // message.content
  std::string_view message_usage_span;  // message.usage (assistant)
  LineError error;
  mutable std::once_flag dom_once;
  mutable std::unique_ptr<MessageDom> dom;  // set eagerly when validation needed RapidJSON
};

CCB_END_NAMESPACE

namespace ccbridge::detail {
/// Message's internals, for the code that makes messages (message.cpp).
template <> struct Access<Message> {
  using Impl = Message::Impl;
  static Message make(std::shared_ptr<const Impl> impl) noexcept { return Message(std::move(impl)); }
  /// Whether the message's DOM has been built (tests: the byte readers must not build it).
  static bool dom_built(const Message &m) noexcept { return m.impl_->dom != nullptr; }
};
using MessageImpl = Access<Message>::Impl;

/// Message::parse for a line the framer has already checked (valid UTF-8, `has_nul` known).
Message parse_checked_line(std::string line, std::uint64_t line_number, bool has_nul,
                           std::chrono::steady_clock::time_point read_at = {});
/// The same with the message (control block, Impl and a copy of `line`) in one block of `pool`.
/// Only one thread at a time may make messages from a pool (line_pool.hpp).
Message parse_checked_line(const std::shared_ptr<LinePool> &pool, std::string_view line, std::uint64_t line_number,
                           bool has_nul, std::chrono::steady_clock::time_point read_at);
/// Message::invalid, read at `read_at`.
Message invalid_line(LineError error, std::string sample, std::chrono::steady_clock::time_point read_at);
}  // namespace ccbridge::detail
