// The MCP client's Streamable HTTP transport (MCP 2025-06-18): every message is POSTed to the
// endpoint; a request's answer comes back as a JSON body or as an SSE stream (which may carry the
// server's own requests first). Mcp-Session-Id from initialize is echoed, MCP-Protocol-Version
// sent after it, the session ended with DELETE. A minimal HTTP/1.1 client on Asio with idle
// keep-alive connections reused; http:// only. Threads: on the client's strand only.
#include "core/mcp_transport.hpp"

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <array>
#include <cctype>
#include <map>

namespace ccbridge::detail {

namespace {

using asio::ip::tcp;

constexpr std::size_t kMaxHead = 64 * 1024;

struct Url {
  std::string host, port, target;
};

Url parse_url(const McpServerSpec &spec)
{
  std::string who = "McpServerSpec '" + spec.name + "': url '" + spec.url + "'";
  const std::string &u = spec.url;
  if (u.rfind("https://", 0) == 0) {
    throw Error(errc::invalid_argument, who + ": https is not supported by the ccbridge MCP client yet; "
                                              "use http:// (a local TLS proxy can front the server)");
  }
  if (u.rfind("http://", 0) != 0) throw Error(errc::invalid_argument, who + " must start with http://");
  std::string rest = u.substr(7);
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  Url url;
  url.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos)
    throw Error(errc::invalid_argument, who + ": no host (or user info, which is not supported)");
  std::size_t colon = authority.rfind(':');
  bool bracketed = authority.front() == '[';
  if (colon != std::string::npos && (!bracketed || authority.find(']') < colon)) {
    url.host = authority.substr(0, colon);
    url.port = authority.substr(colon + 1);
  } else {
    url.host = authority;
    url.port = "80";
  }
  if (bracketed && url.host.size() > 2 && url.host.back() == ']') url.host = url.host.substr(1, url.host.size() - 2);
  if (url.port.empty() || url.port.size() > 5 || url.port.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(errc::invalid_argument, who + ": the port is not a number");
  }
  for (char c : u)
    if (static_cast<unsigned char>(c) <= ' ')
      throw Error(errc::invalid_argument, who + " contains a space or control character");
  return url;
}

std::string lower(std::string s)
{
  for (char &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s)
{
  std::size_t b = s.find_first_not_of(" \t");
  std::size_t e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

// The body of one response, decoded as it arrives: Content-Length, chunked, or to the end of the
// connection.
class BodyDecoder {
public:
  enum class Mode { length, chunked, until_close };
  void reset(Mode mode, std::size_t length)
  {
    mode_ = mode;
    left_ = length;
    state_ = State::size;
    done_ = mode == Mode::length && length == 0;
  }
  /// Consumes bytes from `in` (from `pos`), appends what they decode to `out`. Throws std::runtime_error on bad chunking.
  void feed(const std::string &in, std::size_t &pos, std::string &out);
  bool done() const { return done_; }
  Mode mode() const { return mode_; }

private:
  enum class State { size, data, data_end, trailer };
  bool line(const std::string &in, std::size_t &pos, std::string &line);
  Mode mode_ = Mode::length;
  State state_ = State::size;
  std::size_t left_ = 0;
  bool done_ = false;
};

bool BodyDecoder::line(const std::string &in, std::size_t &pos, std::string &out)
{
  std::size_t nl = in.find('\n', pos);
  if (nl == std::string::npos) {
    if (in.size() - pos > 4096) throw std::runtime_error("a chunk header line is too long");
    return false;
  }
  out = trim(std::string_view(in).substr(pos, nl - pos));
  pos = nl + 1;
  return true;
}

void BodyDecoder::feed(const std::string &in, std::size_t &pos, std::string &out)
{
  while (!done_ && pos < in.size()) {
    if (mode_ != Mode::chunked || state_ == State::data) {
      std::size_t n = in.size() - pos;
      if (mode_ != Mode::until_close && n > left_) n = left_;
      out.append(in, pos, n);
      pos += n;
      if (mode_ == Mode::until_close) continue;
      left_ -= n;
      if (left_ == 0) {
        if (mode_ == Mode::length) done_ = true;
        state_ = State::data_end;
      }
      continue;
    }
    std::string l;
    if (!line(in, pos, l)) return;
    if (state_ == State::data_end) {
      if (!l.empty()) throw std::runtime_error("a chunk is not followed by CRLF");
      state_ = State::size;
    } else if (state_ == State::trailer) {
      if (l.empty()) done_ = true;
    } else {
      std::string hex = l.substr(0, l.find(';'));
      if (hex.empty() || hex.size() > 15 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        throw std::runtime_error("a chunk size is not hexadecimal");
      }
      left_ = std::stoull(hex, nullptr, 16);
      state_ = left_ == 0 ? State::trailer : State::data;
    }
  }
}

// Server-sent events: each event's data (its `data:` lines joined by '\n') is one message.
class SseParser {
public:
  explicit SseParser(std::size_t max) : max_(max) {}
  /// Feeds decoded body bytes; calls `emit` per complete event. Throws std::length_error if an
  /// event grows beyond the limit.
  template <class Emit> void feed(std::string_view bytes, Emit &&emit)
  {
    line_.append(bytes);
    std::size_t start = 0;
    for (std::size_t nl; (nl = line_.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view l(line_.data() + start, nl - start);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (l.empty()) {
        if (has_data_) emit(std::string_view(data_));
        data_.clear();
        has_data_ = false;
      } else if (l.rfind("data:", 0) == 0) {
        l.remove_prefix(5);
        if (!l.empty() && l.front() == ' ') l.remove_prefix(1);
        if (has_data_) data_ += '\n';
        data_.append(l);
        has_data_ = true;
      }  // comments, event:, id:, retry: carry nothing the client uses
    }
    line_.erase(0, start);
    if (data_.size() + line_.size() > max_) throw std::length_error("an SSE event");
  }

private:
  std::size_t max_;
  std::string line_, data_;
  bool has_data_ = false;
};

class HttpTransport;

// One HTTP request and its response, on a connection of its own (reused when it is kept alive).
struct Exchange : std::enable_shared_from_this<Exchange> {
  Exchange(std::shared_ptr<HttpTransport> o, std::string m, std::string b, std::int64_t i)
      : owner(std::move(o)),
        method(std::move(m)),
        body(std::move(b)),
        id(i)
  {}
  std::shared_ptr<HttpTransport> owner;
  std::string method, body;
  std::int64_t id;               // the JSON-RPC request's, or -1
  std::function<void()> on_end;  // DELETE: the transport's close waits for it
  bool gate = false;             // notifications/initialized: later POSTs wait until it ends
  std::unique_ptr<tcp::socket> socket;
  bool reused = false, got_bytes = false, ended = false;
  std::string in;  // bytes read, from `pos` on not consumed yet
  std::size_t pos = 0;
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  BodyDecoder decoder;
  std::optional<SseParser> sse;
  std::string json;  // a JSON body so far
};

class HttpTransport : public McpTransport, public std::enable_shared_from_this<HttpTransport> {
public:
  HttpTransport(const Strand &strand, McpServerSpec spec)
      : strand_(strand),
        spec_(std::move(spec)),
        url_(parse_url(spec_)),
        resolver_(strand_)
  {
    for (const auto &[k, v] : spec_.headers) {
      if (k.empty() || k.find_first_of(":\r\n \t") != std::string::npos ||
          v.find_first_of("\r\n") != std::string::npos || v.find('\0') != std::string::npos) {
        throw Error(errc::invalid_argument, "McpServerSpec '" + spec_.name + "': header '" + k +
                                                "' has an invalid name or a line break in its value");
      }
    }
  }

  void start(McpTransportEvents events) override { events_ = std::move(events); }
  void send(std::string message, std::int64_t id) override
  {
    if (closed_) return;
    auto x = std::make_shared<Exchange>(shared_from_this(), "POST", std::move(message), id);
    if (gated_) return held_.push_back(std::move(x));
    if (gate_next_) {
      // Every POST may take a connection of its own, so a request sent right after
      // notifications/initialized could overtake it, and servers that follow the MCP lifecycle
      // refuse a request before it. Later messages wait until the server has accepted it.
      gate_next_ = false;
      gated_ = x->gate = true;
    }
    begin(x);
  }
  void abandon(std::int64_t id) override
  {
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if ((*it)->id == id) {
        held_.erase(it);
        return;
      }
    }
    for (auto it = active_.begin(); it != active_.end(); ++it) {
      if ((*it)->id == id) {
        auto x = *it;
        end(x, false);
        return;
      }
    }
  }
  void initialized(const std::string &protocol_version) override
  {
    protocol_version_ = protocol_version;
    gate_next_ = true;  // the next message is notifications/initialized
  }
  void close(std::function<void()> done) override;

  // ---- the exchanges (public for the handlers' sake; on the strand) ----
  void begin(const std::shared_ptr<Exchange> &x);
  void connect(const std::shared_ptr<Exchange> &x);
  void write(const std::shared_ptr<Exchange> &x);
  void read(const std::shared_ptr<Exchange> &x);
  void on_bytes(const std::shared_ptr<Exchange> &x);
  bool parse_head(const std::shared_ptr<Exchange> &x);
  void deliver_body(const std::shared_ptr<Exchange> &x, const std::string &decoded);
  void complete(const std::shared_ptr<Exchange> &x, bool reusable);
  void io_failed(const std::shared_ptr<Exchange> &x, const std::string &why);
  void end(const std::shared_ptr<Exchange> &x, bool reusable);
  std::string request_text(const Exchange &x) const;
  std::string who() const { return "MCP server '" + spec_.name + "' (" + spec_.url + ")"; }

private:
  Strand strand_;
  McpServerSpec spec_;
  Url url_;
  tcp::resolver resolver_;
  McpTransportEvents events_;
  std::vector<std::unique_ptr<tcp::socket>> idle_;
  std::vector<std::shared_ptr<Exchange>> active_;
  std::vector<std::shared_ptr<Exchange>> held_;  // sent while the gate exchange was under way
  bool gate_next_ = false, gated_ = false;
  std::string session_id_, protocol_version_;
  bool closed_ = false;
  bool failed_ = false;
};

std::string HttpTransport::request_text(const Exchange &x) const
{
  std::string r = x.method + " " + url_.target + " HTTP/1.1\r\nHost: " + url_.host +
                  (url_.port == "80" ? "" : ":" + url_.port) + "\r\n";
  if (x.method == "POST") {
    r += "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
  }
  r += "Content-Length: " + std::to_string(x.body.size()) + "\r\n";
  if (!session_id_.empty()) r += "Mcp-Session-Id: " + session_id_ + "\r\n";
  if (!protocol_version_.empty()) r += "MCP-Protocol-Version: " + protocol_version_ + "\r\n";
  for (const auto &[k, v] : spec_.headers) r.append(k).append(": ").append(v).append("\r\n");
  return r.append("\r\n").append(x.body);
}

void HttpTransport::begin(const std::shared_ptr<Exchange> &x)
{
  active_.push_back(x);
  if (!idle_.empty()) {
    x->socket = std::move(idle_.back());
    idle_.pop_back();
    x->reused = true;
    return write(x);
  }
  connect(x);
}

void HttpTransport::connect(const std::shared_ptr<Exchange> &x)
{
  x->reused = false;
  x->socket = std::make_unique<tcp::socket>(strand_);
  resolver_.async_resolve(
      url_.host, url_.port,
      [this, self = shared_from_this(), x](std::error_code ec, const tcp::resolver::results_type &results) {
        if (x->ended) return;
        if (ec) return io_failed(x, "cannot resolve '" + url_.host + "': " + ec.message());
        asio::async_connect(*x->socket, results, [this, self, x](std::error_code ec2, const tcp::endpoint &) {
          if (x->ended) return;
          if (ec2) return io_failed(x, "cannot connect: " + ec2.message());
          x->socket->set_option(tcp::no_delay(true));
          write(x);
        });
      });
}

void HttpTransport::write(const std::shared_ptr<Exchange> &x)
{
  auto text = std::make_shared<std::string>(request_text(*x));
  asio::async_write(*x->socket, asio::buffer(*text),
                    [this, self = shared_from_this(), x, text](std::error_code ec, std::size_t) {
                      if (x->ended) return;
                      if (ec) return io_failed(x, "cannot send: " + ec.message());
                      read(x);
                    });
}

void HttpTransport::read(const std::shared_ptr<Exchange> &x)
{
  auto buf = std::make_shared<std::array<char, 16 * 1024>>();
  x->socket->async_read_some(
      asio::buffer(*buf), [this, self = shared_from_this(), x, buf](std::error_code ec, std::size_t n) {
        if (x->ended) return;
        if (n > 0) {
          x->got_bytes = true;
          x->in.append(buf->data(), n);
          on_bytes(x);
          if (x->ended) return;
        }
        if (!ec) return read(x);
        if (ec == asio::error::eof && x->status && x->decoder.mode() == BodyDecoder::Mode::until_close)
          return complete(x, false);
        io_failed(x, ec == asio::error::eof ? "the server closed the connection before the answer was complete"
                                            : ec.message());
      });
}

void HttpTransport::on_bytes(const std::shared_ptr<Exchange> &x)
{
  if (!x->status && !parse_head(x)) return;
  std::string decoded;
  try {
    x->decoder.feed(x->in, x->pos, decoded);
  } catch (const std::exception &e) {
    return io_failed(x, e.what());
  }
  if (x->pos > 64 * 1024) {
    x->in.erase(0, x->pos);
    x->pos = 0;
  }
  deliver_body(x, decoded);
  if (!x->ended && x->decoder.done()) {
    auto conn = x->headers.find("connection");
    complete(x, x->pos == x->in.size() && (conn == x->headers.end() || lower(conn->second) != "close"));
  }
}

// The whole response is in: a JSON answer is delivered, an HTTP error fails the request.
void HttpTransport::complete(const std::shared_ptr<Exchange> &x, bool reusable)
{
  if (x->status / 100 != 2) {
    return io_failed(x, "HTTP " + std::to_string(x->status) + (x->json.empty() ? "" : ": " + x->json));
  }
  if (!x->sse && !x->json.empty() && events_.message && !closed_) events_.message(x->json);
  end(x, reusable);
  if (x->id >= 0 && events_.request_failed && !closed_) {
    // Answered requests are no longer pending; this only reaches one whose answer never came.
    events_.request_failed(x->id, Error(errc::io_error, who() + " ended its HTTP answer to request " +
                                                            std::to_string(x->id) + " without a JSON-RPC response"));
  }
}

// The status line and headers, once complete; false while they are not.
bool HttpTransport::parse_head(const std::shared_ptr<Exchange> &x)
{
  std::size_t head_end = x->in.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (x->in.size() > kMaxHead) io_failed(x, "the response headers exceed 64 KiB");
    return false;
  }
  std::string_view head(x->in.data(), head_end);
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) {
    io_failed(x, "the answer is not HTTP/1.x");
    return false;
  }
  x->status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
  for (std::size_t p = head.find("\r\n"); p != std::string_view::npos;) {
    std::size_t next = head.find("\r\n", p + 2);
    std::string_view line = head.substr(p + 2, next == std::string_view::npos ? std::string_view::npos : next - p - 2);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      x->headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    p = next;
  }
  x->pos = head_end + 4;
  auto h = [&x](const char *name) {
    auto it = x->headers.find(name);
    return it == x->headers.end() ? std::string() : it->second;
  };
  if (x->status < 200) {  // 1xx: another head follows
    x->in.erase(0, x->pos);
    x->pos = 0;
    x->status = 0;
    x->headers.clear();
    return parse_head(x);
  }
  if (session_id_.empty() && !h("mcp-session-id").empty()) session_id_ = h("mcp-session-id");
  std::string length = h("content-length");
  if (lower(h("transfer-encoding")).find("chunked") != std::string::npos) {
    x->decoder.reset(BodyDecoder::Mode::chunked, 0);
  } else if (!length.empty() && length.size() < 16 && length.find_first_not_of("0123456789") == std::string::npos) {
    x->decoder.reset(BodyDecoder::Mode::length, std::stoull(length));
  } else {
    x->decoder.reset(
        x->method == "POST" && x->status != 202 ? BodyDecoder::Mode::until_close : BodyDecoder::Mode::length, 0);
  }
  if (x->status == 404 && !session_id_.empty() && x->method == "POST") {
    failed_ = true;
    if (events_.failed && !closed_) {
      events_.failed(Error(errc::io_error,
                           who() + " no longer knows the session (HTTP 404): it expired; restart() starts a new one"));
    }
    end(x, false);
    return false;
  }
  if (lower(h("content-type")).rfind("text/event-stream", 0) == 0 && x->status / 100 == 2)
    x->sse.emplace(spec_.max_message_bytes);
  return true;
}

void HttpTransport::deliver_body(const std::shared_ptr<Exchange> &x, const std::string &decoded)
{
  if (decoded.empty()) return;
  if (x->status / 100 != 2) {  // kept for the message (complete())
    if (x->json.size() < 300) x->json.append(decoded, 0, 300 - x->json.size());
    return;
  }
  if (x->sse) {
    try {
      x->sse->feed(decoded, [this](std::string_view event) {
        if (events_.message && !closed_) events_.message(event);
      });
    } catch (const std::length_error &) {
      io_failed(x, "an SSE event is larger than " + std::to_string(spec_.max_message_bytes) +
                       " bytes (max_message_bytes)");
    }
    return;
  }
  x->json += decoded;
  if (x->json.size() > spec_.max_message_bytes) {
    io_failed(x, "the answer is larger than " + std::to_string(spec_.max_message_bytes) + " bytes (max_message_bytes)");
  }
}

void HttpTransport::io_failed(const std::shared_ptr<Exchange> &x, const std::string &why)
{
  if (x->ended) return;
  // A kept-alive connection the server closed meanwhile: once more on a new one.
  if (x->reused && !x->got_bytes && !closed_) {
    x->socket.reset();
    return connect(x);
  }
  errc code = why.find("max_message_bytes") != std::string::npos ? errc::line_too_long : errc::io_error;
  end(x, false);
  if (x->id >= 0 && events_.request_failed && !closed_) events_.request_failed(x->id, Error(code, who() + ": " + why));
}

void HttpTransport::end(const std::shared_ptr<Exchange> &x, bool reusable)
{
  if (x->ended) return;
  x->ended = true;
  for (auto it = active_.begin(); it != active_.end(); ++it) {
    if (*it == x) {
      active_.erase(it);
      break;
    }
  }
  if (reusable && x->socket && !closed_) {
    idle_.push_back(std::move(x->socket));
  } else if (x->socket) {
    std::error_code ignored;
    x->socket->close(ignored);
  }
  auto on_end = std::move(x->on_end);
  x->owner.reset();
  if (on_end) on_end();
  if (x->gate) {
    // Posted, not begun here: end() runs inside other exchanges' handlers. Still gated until
    // then, so that nothing sent meanwhile overtakes what is held.
    asio::post(strand_, [this, self = shared_from_this()] {
      gated_ = false;
      auto held = std::move(held_);
      held_.clear();
      for (auto &h : held) {
        if (closed_ || failed_) return;  // the client failed or closed their requests already
        begin(h);
      }
    });
  }
}

void HttpTransport::close(std::function<void()> done)
{
  if (closed_) {
    if (done) done();
    return;
  }
  closed_ = true;
  resolver_.cancel();
  auto active = active_;
  for (auto &x : active) end(x, false);
  idle_.clear();
  held_.clear();  // their requests fail with the client's `closed`
  if (session_id_.empty() || failed_) {
    if (done) done();
    return;
  }
  // DELETE ends the session; bounded, so that a server that does not answer cannot hold us.
  auto x = std::make_shared<Exchange>(shared_from_this(), "DELETE", "", -1);
  auto timer = std::make_shared<asio::steady_timer>(strand_, std::chrono::seconds(2));
  x->on_end = [timer, done] {
    timer->cancel();
    if (done) done();
  };
  timer->async_wait([this, self = shared_from_this(), x](std::error_code ec) {
    if (!ec) end(x, false);
  });
  begin(x);
}

}  // namespace

std::shared_ptr<McpTransport> make_http_transport(const Strand &strand, const McpServerSpec &spec)
{
  return std::make_shared<HttpTransport>(strand, spec);
}

}  // namespace ccbridge::detail
