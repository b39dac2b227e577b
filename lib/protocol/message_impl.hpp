#pragma once

#include "detail/json.hpp"

#include <ccbridge/message.hpp>

#include <string>

CCB_BEGIN_NAMESPACE

struct Message::Impl {
  explicit Impl(std::string line)
      : raw(std::move(line)), pool(raw.size() * 2 + 256), doc(&pool)
  {
  }
  std::string raw;
  // One pool sized from the line keeps parsing to a single allocation for typical lines.
  rapidjson::MemoryPoolAllocator<> pool;
  detail::JsonDocument doc;
  MessageType type = MessageType::unknown;
  std::string_view type_name;  // into doc
  std::string_view subtype;    // into doc
  LineError error;
};

CCB_END_NAMESPACE
