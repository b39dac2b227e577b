// The little of RFC 6455 and JSON the benchmark clients need, shared by ccb_ws_load, ccb_cc_load
// and ccb_agent_load: the upgrade request, client frames, the head of a server frame, base64 both
// ways, and pulling a number or a string out of a known flat JSON text without parsing it. Each
// client keeps its own buffers and I/O loop; these only read and write bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ccb_bench {

/// The upgrade request for ws://127.0.0.1:port`target` (target: path and query).
inline std::string ws_upgrade_request(int port, std::string_view target, std::string_view host = "127.0.0.1")
{
  std::string r = "GET ";
  r.append(target);
  r += " HTTP/1.1\r\nHost: ";
  r.append(host);
  r += ":" + std::to_string(port) +
       "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n";
  return r;
}

/// Appends a client frame (RFC 6455 5.3) to `out`: masked with the all-zero key, so the payload
/// goes as it is (the key is the client's choice; the server unmasks whatever it is).
inline void append_ws_frame(std::string &out, int opcode, std::string_view payload)
{
  out += static_cast<char>(0x80 | opcode);
  std::uint64_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  }
  out.append(4, '\0');
  out.append(payload);
}

inline std::string ws_frame(int opcode, std::string_view payload)
{
  std::string f;
  append_ws_frame(f, opcode, payload);
  return f;
}

/// The head of a server frame (unmasked): its opcode, the header's size and the payload's.
struct WsHead {
  int opcode = 0;
  std::size_t header = 0;
  std::uint64_t length = 0;
  std::size_t total() const { return header + static_cast<std::size_t>(length); }
};

/// Reads the head of the frame at p (n bytes there); false while the head itself is incomplete.
inline bool ws_head(const char *p, std::size_t n, WsHead &h)
{
  const auto *b = reinterpret_cast<const unsigned char *>(p);
  if (n < 2) return false;
  h.opcode = b[0] & 0x0F;
  h.length = b[1] & 0x7F;
  h.header = 2;
  if (h.length == 126) {
    if (n < 4) return false;
    h.length = (static_cast<std::uint64_t>(b[2]) << 8) | b[3];
    h.header = 4;
  } else if (h.length == 127) {
    if (n < 10) return false;
    h.length = 0;
    for (int i = 0; i < 8; ++i) h.length = (h.length << 8) | b[2 + i];
    h.header = 10;
  }
  return true;
}

/// True when the upgrade answer in `head` (up to its blank line) is 101.
inline bool ws_upgraded(std::string_view head) { return head.substr(0, 12) == "HTTP/1.1 101"; }

class Base64 {
public:
  Base64()
  {
    for (auto &v : val_) v = 0xFF;
    for (int i = 0; i < 64; ++i) val_[static_cast<unsigned char>(kAlphabet[i])] = static_cast<unsigned char>(i);
  }
  /// Decodes [p, p+n) into out (grown if needed); stops at '=' or any other byte outside the alphabet.
  std::size_t decode(const char *p, std::size_t n, std::vector<char> &out) const
  {
    if (out.size() < n) out.resize(n);
    char *o = out.data();
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < n; ++i) {
      unsigned v = val_[static_cast<unsigned char>(p[i])];
      if (v == 0xFF) break;
      acc = (acc << 6) | v;
      if ((bits += 6) >= 8) {
        bits -= 8;
        *o++ = static_cast<char>(acc >> bits);
      }
    }
    return static_cast<std::size_t>(o - out.data());
  }
  /// Appends the padded standard base64 of `in` to out.
  static void encode(std::string_view in, std::string &out)
  {
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[k])); };
    for (; i + 3 <= in.size(); i += 3) {
      std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
      for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
    }
    if (std::size_t rest = in.size() - i) {
      std::uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
      out += kAlphabet[v >> 18];
      out += kAlphabet[(v >> 12) & 63];
      out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
      out += '=';
    }
  }

private:
  static constexpr const char *kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char val_[256];
};

/// The unsigned number right after `key` (e.g. R"("seq":)") in s; 0 when key is absent.
inline std::uint64_t number_after(std::string_view s, std::string_view key)
{
  auto at = s.find(key);
  std::uint64_t v = 0;
  if (at == std::string_view::npos) return 0;
  for (std::size_t i = at + key.size(); i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
  return v;
}

/// The string value right after `key` (e.g. R"("session_id":")"), up to its closing quote: for
/// ids and base64, which hold no escapes. Empty when key is absent.
inline std::string_view string_after(std::string_view s, std::string_view key)
{
  auto at = s.find(key);
  if (at == std::string_view::npos) return {};
  auto from = at + key.size(), to = s.find('"', from);
  return to == std::string_view::npos ? std::string_view{} : s.substr(from, to - from);
}

}  // namespace ccb_bench
