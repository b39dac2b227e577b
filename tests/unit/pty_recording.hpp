// Reads a PTY recording of tests/fixtures/pty/ (tests/support/record_pty.py: JSON lines, a header,
// then {"t", "out"|"in": base64} or {"t", "mark"}). Header-only, for the unit tests.
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ccb_test {

struct PtyEvent {
  enum Kind { out, in, mark } kind;
  std::string data;  ///< decoded bytes (out, in) or the mark's name
};

inline std::string base64_decode(const std::string &s)
{
  static const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0, acc = 0;
  for (char c : s) {
    auto v = abc.find(c);
    if (v == std::string::npos) continue;  // '=' padding
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The string value of "key": "..." in a line the recorder wrote (no escapes in base64 or marks).
inline bool field(const std::string &line, const std::string &key, std::string &value)
{
  std::string k = "\"" + key + "\": \"";
  auto p = line.find(k);
  if (p == std::string::npos) return false;
  p += k.size();
  value = line.substr(p, line.find('"', p) - p);
  return true;
}

inline std::vector<PtyEvent> read_recording(const std::string &path)
{
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<PtyEvent> events;
  std::string line, v;
  std::getline(f, line);  // the header
  while (std::getline(f, line)) {
    if (field(line, "out", v)) events.push_back({PtyEvent::out, base64_decode(v)});
    else if (field(line, "in", v)) events.push_back({PtyEvent::in, base64_decode(v)});
    else if (field(line, "mark", v)) events.push_back({PtyEvent::mark, v});
  }
  return events;
}

}  // namespace ccb_test
