#include "server/profiles/cc_control/wire.hpp"

#include "protocol/utf8.hpp"

namespace ccbridge::detail::server::cc_control {
namespace {

void append_escape(std::string &out, unsigned c)
{
  static const char kHex[] = "0123456789abcdef";
  out += "\\u00";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

// One ASCII byte; false if it is the start of a multi-byte sequence.
bool append_ascii(std::string &out, unsigned char c)
{
  switch (c) {
  case '"': out += "\\\""; return true;
  case '\\': out += "\\\\"; return true;
  case '\n': out += "\\n"; return true;
  case '\r': out += "\\r"; return true;
  case '\t': out += "\\t"; return true;
  case '<': case '>': case '&': append_escape(out, c); return true;
  default: break;
  }
  if (c < 0x20) {
    append_escape(out, c);
    return true;
  }
  if (c < 0x80) {
    out += static_cast<char>(c);
    return true;
  }
  return false;
}

}  // namespace

void append_go_string(std::string &out, std::string_view s)
{
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    if (append_ascii(out, static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence_length(s.data() + i, s.size() - i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    std::string_view ch = s.substr(i, n);
    if (ch == "\xE2\x80\xA8") out += "\\u2028";
    else if (ch == "\xE2\x80\xA9") out += "\\u2029";
    else out += ch;
    i += n;
  }
  out += '"';
}

std::string go_string(std::string_view s)
{
  std::string out;
  append_go_string(out, s);
  return out;
}

void GoJson::key(std::string_view k)
{
  if (out_.size() > 1) out_ += ',';
  append_go_string(out_, k);
  out_ += ':';
}

GoJson &GoJson::str(std::string_view k, std::string_view v)
{
  key(k);
  append_go_string(out_, v);
  return *this;
}

GoJson &GoJson::num(std::string_view k, std::int64_t v)
{
  key(k);
  out_ += std::to_string(v);
  return *this;
}

GoJson &GoJson::boolean(std::string_view k, bool v)
{
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}

GoJson &GoJson::strs(std::string_view k, const std::vector<std::string> &v)
{
  key(k);
  out_ += '[';
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out_ += ',';
    append_go_string(out_, v[i]);
  }
  out_ += ']';
  return *this;
}

GoJson &GoJson::raw(std::string_view k, std::string_view json)
{
  key(k);
  out_ += json;
  return *this;
}

std::string GoJson::done()
{
  out_ += '}';
  return std::move(out_);
}

std::string envelope(const Envelope &e)
{
  GoJson j;
  j.str("type", e.type).str_omit("server_id", e.server_id).str_omit("session_id", e.session_id);
  if (e.seq) j.num("seq", static_cast<std::int64_t>(e.seq));
  if (e.ts_ms) j.num("ts_ms", e.ts_ms);
  if (!e.data.empty()) j.raw("data", e.data);
  j.str_omit("data_b64", e.data_b64);
  return j.done();
}

HttpResponse text_error(int status, std::string_view message)
{
  HttpResponse r;
  r.status = status;
  r.body = std::string(message) + "\n";
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

HttpResponse json_ok(std::string body, int status)
{
  body += '\n';
  return HttpResponse::json(status, std::move(body));
}

}  // namespace ccbridge::detail::server::cc_control
