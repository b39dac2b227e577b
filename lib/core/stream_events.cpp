#include <ccbridge/stream_events.hpp>

CCB_BEGIN_NAMESPACE

bool DeltaAccumulator::add(const Message &m)
{
  if (!m.is(MessageType::stream_event)) return false;
  if (m.parent_tool_use_id().value_or("") != parent_) return false;
  JsonView ev = m.event();
  std::string_view type = ev["type"].string_or();
  if (type == "message_start") {
    message_id_ = std::string(ev["message"]["id"].string_or());
    blocks_.clear();
    message_complete_ = false;
    return true;
  }
  if (type == "message_stop") {
    message_complete_ = true;
    return true;
  }
  auto index = ev["index"].int64();
  if (!index || *index < 0 || *index > 4096) return false;  // malformed: ignore rather than grow
  auto i = static_cast<std::size_t>(*index);
  if (i >= blocks_.size()) blocks_.resize(i + 1);
  Block &b = blocks_[i];
  if (type == "content_block_start") {
    b.type = std::string(ev["content_block"]["type"].string_or());
    b.text = std::string(ev["content_block"]["text"].string_or());
    b.complete = false;
  } else if (type == "content_block_delta") {
    b.text += m.delta_text();
  } else if (type == "content_block_stop") {
    b.complete = true;
  } else {
    return false;
  }
  return true;
}

CCB_END_NAMESPACE
