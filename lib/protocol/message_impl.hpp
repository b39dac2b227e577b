#pragma once

#include "detail/json.hpp"

#include <ccbridge/message.hpp>

#include <string>

CCB_BEGIN_NAMESPACE

struct Message::Impl {
  explicit Impl(std::string line)
      : raw(std::move(line)), pool(raw.size() + 1024), doc(&pool)
  {
  }
  std::string raw;
  // Insitu parsing decodes strings in place in this copy of the line, so the document's strings
  // point into it instead of being copied one by one (raw stays byte-for-byte intact).
  std::string insitu;
  // One pool sized from the line keeps the DOM to a single allocation for typical lines.
  rapidjson::MemoryPoolAllocator<> pool;
  detail::JsonDocument doc;
  MessageType type = MessageType::unknown;
  std::string_view type_name;  // into doc
  std::string_view subtype;    // into doc
  LineError error;
};

CCB_END_NAMESPACE
