#pragma once

#include "detail/json.hpp"

#include <ccbridge/message.hpp>

#include <algorithm>
#include <memory>
#include <string>

CCB_BEGIN_NAMESPACE

struct Message::Impl {
  explicit Impl(std::string line)
      : raw(std::move(line)),
        pool_bytes(std::max<std::size_t>(1024, raw.size())),
        storage(new char[raw.size() + 1 + pool_bytes]),
        pool(storage.get() + raw.size() + 1, pool_bytes),
        doc(&pool)
  {
  }
  Impl(const Impl &) = delete;
  Impl &operator=(const Impl &) = delete;

  /// Insitu parsing decodes strings in place in a private copy of the line, so the document's
  /// strings point into it instead of being copied one by one; raw stays byte-for-byte intact.
  char *insitu_copy()
  {
    std::copy(raw.begin(), raw.end(), storage.get());
    storage[raw.size()] = '\0';
    return storage.get();
  }

  std::string raw;
  std::size_t pool_bytes;
  // One allocation holds the insitu copy followed by the DOM's first pool chunk.
  std::unique_ptr<char[]> storage;
  rapidjson::MemoryPoolAllocator<> pool;
  detail::JsonDocument doc;
  MessageType type = MessageType::unknown;
  std::string_view type_name;  // into doc
  std::string_view subtype;    // into doc
  LineError error;
};

CCB_END_NAMESPACE

namespace ccbridge::detail {
/// Message::parse for a line the framer has already checked (valid UTF-8, `has_nul` known).
Message parse_checked_line(std::string line, std::uint64_t line_number, bool has_nul);
}  // namespace ccbridge::detail
