#include "server/sha256.hpp"

#include <ccbridge/error.hpp>

#include <openssl/evp.h>

namespace ccbridge::detail::server {

std::string sha256_hex(std::string_view bytes)
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw Error(errc::internal, "SHA-256 failed in libcrypto");
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xF]);
  }
  return out;
}

}  // namespace ccbridge::detail::server
