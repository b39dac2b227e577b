// SHA-256 as lower-case hex (OpenSSL's libcrypto), for token hashes (CC-CONTROL.md 2.2)
// and the audit log's term_in records. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ccbridge::detail::server {

/// The 64 lower-case hex digits of SHA-256(bytes). Throws Error(internal) if libcrypto fails.
std::string sha256_hex(std::string_view bytes);

}  // namespace ccbridge::detail::server
