// Partial messages: with Options::include_partial_messages the CLI sends the API's streaming
// events (stream_event messages) before each complete assistant message. DeltaAccumulator turns
// them back into the growing text of each content block, as it arrives.
//
// Thread safety: a plain value type; use one per consumer.
#pragma once

#include <ccbridge/export.h>
#include <ccbridge/message.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

CCB_BEGIN_NAMESPACE

class CCB_API DeltaAccumulator {
public:
  struct Block {
    std::string type;  ///< "text", "thinking", "tool_use", ...
    std::string text;  ///< text, thinking text, or the partial JSON of a tool input
    bool complete = false;
  };

  /// Feeds one message. Returns true if it was a stream event of the tracked stream (it changed
  /// the state). Only events of the main conversation are used unless `parent_tool_use_id` was
  /// given to the constructor (then only that subagent's).
  bool add(const Message &message);

  explicit DeltaAccumulator(std::string parent_tool_use_id = {}) : parent_(std::move(parent_tool_use_id)) {}

  /// The API message id of the message being streamed ("" before the first message_start).
  const std::string &message_id() const noexcept { return message_id_; }
  /// Blocks of the current API message, by index.
  const std::vector<Block> &blocks() const noexcept { return blocks_; }
  /// The accumulated text of block `index` ("" if there is no such block).
  std::string_view text(std::size_t index = 0) const noexcept
  {
    return index < blocks_.size() ? std::string_view(blocks_[index].text) : std::string_view();
  }
  /// True after message_stop for the current message.
  bool message_complete() const noexcept { return message_complete_; }

private:
  std::string parent_;
  std::string message_id_;
  std::vector<Block> blocks_;
  bool message_complete_ = false;
};

CCB_END_NAMESPACE
