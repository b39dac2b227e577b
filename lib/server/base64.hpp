// Standard base64 (RFC 4648, with padding): cc-control carries raw terminal bytes in data_b64.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ccbridge::detail::server {

std::string base64_encode(std::string_view bytes);
/// The decoded bytes, or nothing if `text` is not canonical padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ccbridge::detail::server
