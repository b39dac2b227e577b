// cc-control's wire helpers: JSON objects written the way Go's encoding/json writes them (the
// original's clients compare bytes in places), the envelope of both WebSockets, and plain-text
// HTTP answers (the original never answers errors in JSON).
#pragma once

#include "server/http.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ccbridge::detail::server::cc_control {

/// `s` as a JSON string the way Go escapes it: invalid UTF-8 becomes U+FFFD, and <, >, &,
/// U+2028 and U+2029 are written as \u escapes.
void append_go_string(std::string &out, std::string_view s);
std::string go_string(std::string_view s);

/// Builds one JSON object, members in call order.
class GoJson {
public:
  GoJson &str(std::string_view key, std::string_view value);
  GoJson &str_omit(std::string_view key, std::string_view value)  ///< omitted when empty
  {
    return value.empty() ? *this : str(key, value);
  }
  GoJson &num(std::string_view key, std::int64_t value);
  GoJson &boolean(std::string_view key, bool value);
  GoJson &strs(std::string_view key, const std::vector<std::string> &values);
  GoJson &raw(std::string_view key, std::string_view json);  ///< a value already in JSON
  std::string done();

private:
  void key(std::string_view k);
  std::string out_ = "{";
};

/// The envelope of both WebSockets (CC-CONTROL.md 1.3): empty strings, seq 0, ts 0 and empty
/// data are left out; `data` is raw JSON.
struct Envelope {
  Envelope(std::string_view t, std::string_view server, std::string_view session, std::uint64_t s, std::int64_t ts,
           std::string_view d = {}, std::string_view b64 = {})
      : type(t), server_id(server), session_id(session), seq(s), ts_ms(ts), data(d), data_b64(b64)
  {
  }
  std::string_view type;
  std::string_view server_id;
  std::string_view session_id;
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::string_view data;
  std::string_view data_b64;
};
std::string envelope(const Envelope &e);

/// Go's http.Error: text/plain, nosniff, the message and a newline.
HttpResponse text_error(int status, std::string_view message);
/// A JSON answer with Go's trailing newline.
HttpResponse json_ok(std::string body, int status = 200);

}  // namespace ccbridge::detail::server::cc_control
