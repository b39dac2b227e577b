// The transport over websocketpp (standalone Asio; TLS through Asio's SSL stream and OpenSSL). The
// only translation unit that includes websocketpp: it is slow to compile and must be built as C++17.
// Everything below is a template over websocketpp's config (PlainConfig or TlsConfig), so that the
// plain path is the same code as without TLS, with no indirection added.
#include "server/transport.hpp"

#include "server/context.hpp"

#include <ccbridge/error.hpp>

#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <set>

namespace ccbridge::detail::server {

namespace {

template <class Cfg>
struct ConnImpl;

// How long a connection may take to finish its close handshake before it is cut.
constexpr std::chrono::seconds kCloseGrace{10};

// Per-connection data that websocketpp stores inside its connection object.
template <class Cfg>
struct ConnData {
  std::shared_ptr<ConnImpl<Cfg>> impl;
  WsAccept accept;
  HttpRequest request;
  bool holds_slot = false;  // an accepted upgrade, counted in pending_upgrades until it opens or fails
};

// RFC 9112 6.1 and 6.3: a request whose body length is not one plain Content-Length. websocketpp
// reads a body by Content-Length only and ignores Transfer-Encoding, while a proxy in front may
// frame the same bytes by Transfer-Encoding (request smuggling); chunked bodies are not read at
// all. Such a request is refused with 400: why, or nullptr when the framing is fine.
template <class Req>
const char *framing_error(const Req &r)
{
  const auto &h = r.get_headers();  // names compare case-insensitively
  if (h.count("Transfer-Encoding") && h.count("Content-Length"))
    return "Content-Length together with Transfer-Encoding is refused (RFC 9112 6.3); "
           "send the body with Content-Length only";
  if (h.count("Transfer-Encoding"))
    return "Transfer-Encoding is not supported (chunked bodies are not read); "
           "send the body with Content-Length";
  auto cl = h.find("Content-Length");
  if (cl != h.end() && (cl->second.empty() || cl->second.find_first_not_of("0123456789") != std::string::npos))
    return "Content-Length must be one decimal number, sent once";
  return nullptr;
}

// websocketpp's request parser, except that a request with a refused framing is complete once its
// headers are: its body is not waited for. Otherwise a Content-Length that the (chunked) body never
// fills would hold the connection until the handshake timeout and end it without an answer. The
// connection uses this type statically (config::request_type), so hiding consume() and ready() is
// enough.
class Request : public websocketpp::http::parser::request {
public:
  std::size_t consume(const char *buf, std::size_t len)
  {
    if (cut_) return 0;
    std::size_t used = request::consume(buf, len);
    // Headers complete and a body still expected: m_body_bytes_needed > 0.
    if (!request::ready() && m_body_bytes_needed > 0 && framing_error(*this)) cut_ = true;
    return used;
  }
  bool ready() const { return cut_ || request::ready(); }

private:
  bool cut_ = false;
};

struct PlainConfig : websocketpp::config::asio {
  typedef ConnData<PlainConfig> connection_base;
  typedef Request request_type;
};
struct TlsConfig : websocketpp::config::asio_tls {
  typedef ConnData<TlsConfig> connection_base;
  typedef Request request_type;
};

// A client that connects and sends nothing is cut by websocketpp's own timers: over TLS after
// timeout_socket_post_init (the TLS handshake), then after timeout_open_handshake (the HTTP
// request). Neither holds one of max_connections meanwhile (only an accepted upgrade does).
static_assert(TlsConfig::transport_config::timeout_socket_post_init > 0, "TLS handshakes must time out");
static_assert(TlsConfig::timeout_open_handshake > 0, "HTTP requests must time out");
static_assert(PlainConfig::timeout_open_handshake > 0, "HTTP requests must time out");

template <class Cfg>
using WsServer = websocketpp::server<Cfg>;
template <class Cfg>
using ConnPtr = typename WsServer<Cfg>::connection_ptr;
// One message type for both: a prepared frame (Frame::wire) serves plain and TLS connections.
using Message = PlainConfig::message_type;
using MessagePtr = Message::ptr;
static_assert(std::is_same<Message, TlsConfig::message_type>::value, "one prepared frame for every socket");

// RFC 6455 section 5.2: a final, unmasked text frame header for a payload of n bytes.
std::string text_frame_header(std::size_t n)
{
  std::string h;
  h.push_back(static_cast<char>(0x81));
  if (n < 126) {
    h.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    h.push_back(static_cast<char>(126));
    h.push_back(static_cast<char>((n >> 8) & 0xFF));
    h.push_back(static_cast<char>(n & 0xFF));
  } else {
    h.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  return h;
}

// The frame as a prepared websocketpp message, made once and shared by every connection.
MessagePtr wire_message(const FramePtr &f)
{
  if (!f->wire) {
    auto m = std::make_shared<Message>(PlainConfig::con_msg_manager_type::ptr(), websocketpp::frame::opcode::text, 0);
    m->set_header(text_frame_header(f->text.size()));
    m->set_payload(f->text);
    m->set_prepared(true);
    f->wire = m;
  }
  return std::static_pointer_cast<Message>(f->wire);
}

// RFC 6455 5.5.1: a close reason is UTF-8 and fits a control frame (125 bytes, 2 of them the
// code). Profiles may quote client text in it, so bytes that are not UTF-8 are replaced, and a long
// reason is cut on a character boundary.
std::string close_reason_text(const std::string &reason)
{
  std::string out = utf8_or_replaced(reason);
  if (out.size() > 123) {
    std::size_t cut = 120;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

// RFC 9110 5.5: a field value with CR, LF or NUL is invalid. Such a request is refused, so that
// no header a client sent (Origin, reflected by CORS) can split a response.
template <class Req>
bool header_values_ok(const Req &r)
{
  for (const auto &h : r.get_headers()) {
    if (h.first.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos ||
        h.second.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return false;
    }
  }
  return true;
}

// Why the transport refuses a request with 400 before any route sees it, or nullptr.
template <class Req>
const char *refusal(const Req &r)
{
  if (!header_values_ok(r)) return "a header value contains CR, LF or NUL";
  return framing_error(r);
}

std::string percent_decode(std::string_view s, bool plus_is_space)
{
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

template <class Req>
HttpRequest to_request(const Req &r, const std::string &remote)
{
  HttpRequest out;
  out.method = r.get_method();
  const std::string &uri = r.get_uri();
  auto q = uri.find('?');
  out.path = percent_decode(std::string_view(uri).substr(0, q), false);
  if (q != std::string::npos) {
    std::string_view qs = std::string_view(uri).substr(q + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      std::string_view kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      std::string k = percent_decode(kv.substr(0, eq), true);
      std::string v = eq == std::string_view::npos ? std::string() : percent_decode(kv.substr(eq + 1), true);
      if (!k.empty()) out.query[k] = v;
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  for (const auto &h : r.get_headers()) {
    std::string name = h.first;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[name] = h.second;
  }
  out.body = r.get_body();
  out.remote = remote;
  return out;
}

// What the transport keeps of an open connection, whatever its socket.
struct AnyConn : WsConn {
  /// Cuts the connection now (no close handshake).
  virtual void terminate() = 0;
  std::unique_ptr<WsHandler> handler;
};

template <class Cfg>
struct ConnImpl final : AnyConn {
  ConnImpl(ConnPtr<Cfg> con, HttpRequest req) : con_(std::move(con)), req_(std::move(req)) {}

  void send(const FramePtr &frame) override
  {
    if (!open_) return;
    last_activity_ = std::chrono::steady_clock::now();
    auto ec = con_->send(wire_message(frame));
    if (ec) open_ = false;
  }
  // Several frames as one prepared message holding their complete WebSocket framing: one queue
  // entry and one write for the lot. The frames' text is serialised once (shared in the run's
  // log); only this memcpy into the socket's batch is per connection. Queuing each shared
  // prepared frame instead costs a websocketpp send (two locks, a queue push, a dispatch) per
  // frame and measured about half the throughput (200k vs 340k msgs/s, one client, ws_load).
  void send_batch(const FramePtr *frames, std::size_t n) override
  {
    if (n == 1) return send(frames[0]);
    if (!open_ || n == 0) return;
    last_activity_ = std::chrono::steady_clock::now();
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) total += frames[i]->text.size() + 10;
    auto m = std::make_shared<Message>(PlainConfig::con_msg_manager_type::ptr(), websocketpp::frame::opcode::text, 0);
    std::string &out = m->get_raw_payload();
    out.reserve(total);
    for (std::size_t i = 0; i < n; ++i) {
      out += text_frame_header(frames[i]->text.size());
      out += frames[i]->text;
    }
    m->set_prepared(true);
    auto ec = con_->send(m);
    if (ec) open_ = false;
  }

  void close(std::uint16_t code, const std::string &reason) override
  {
    if (!open_ || closing_) return;
    closing_ = true;
    std::error_code ec;
    con_->close(code, close_reason_text(reason), ec);
    if (ec) open_ = false;
    // The close frame waits behind what is queued; a peer that reads nothing would keep the
    // connection forever, so it is cut after a while.
    auto timer = std::make_shared<asio::steady_timer>(con_->get_raw_socket().get_executor(), kCloseGrace);
    std::weak_ptr<typename WsServer<Cfg>::connection_type> weak = con_;
    timer->async_wait([timer, weak](std::error_code e) {
      auto c = weak.lock();
      if (e || !c || c->get_state() == websocketpp::session::state::closed) return;
      c->terminate(websocketpp::lib::error_code());
    });
  }
  std::size_t buffered() const override { return con_->get_buffered_amount(); }
  bool is_open() const override { return open_ && !closing_; }
  const HttpRequest &request() const override { return req_; }
  // The ping waits behind what is queued, so its pong also says the peer reads. Not sent once
  // closing; neither it nor the pong counts as activity for limits.idle_timeout.
  void ping() override
  {
    if (!is_open()) return;
    std::error_code ec;
    con_->ping(std::string(), ec);
  }
  void terminate() override
  {
    std::error_code ec;
    con_->terminate(ec);
  }

  // limits.idle_timeout: nothing received or sent for that long closes the connection (1000).
  void watch_idle(std::chrono::milliseconds idle)
  {
    if (idle.count() <= 0) return;
    idle_timer_ = std::make_shared<asio::steady_timer>(con_->get_raw_socket().get_executor());
    arm_idle(idle, idle);
  }
  void arm_idle(std::chrono::milliseconds idle, std::chrono::steady_clock::duration wait)
  {
    idle_timer_->expires_after(wait);
    std::weak_ptr<ConnImpl> weak = std::static_pointer_cast<ConnImpl>(self_.lock());
    idle_timer_->async_wait([weak, idle](std::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->is_open()) return;
      auto quiet = std::chrono::steady_clock::now() - self->last_activity_;
      if (quiet >= idle) {
        self->close(close_code::normal, "idle timeout");
        return;
      }
      self->arm_idle(idle, idle - quiet);
    });
  }

  // limits.messages_per_second: a token bucket holding one second's worth. A message beyond it
  // waits here and the socket is not read meanwhile, so a flooding client is slowed down to the
  // limit and nothing it sent is lost; what waits is at most one read buffer's worth of messages.
  void receive(const std::string &text)
  {
    if (rate_ == 0) return deliver(text);
    refill();
    if (held_.empty() && tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return deliver(text);
    }
    held_.push_back(text);
    if (!reading_paused_) {
      reading_paused_ = true;
      con_->pause_reading();
    }
    if (!rate_timer_) schedule_release();
  }
  void set_rate(std::size_t per_second)
  {
    rate_ = static_cast<double>(per_second);
    tokens_ = rate_;
  }
  void stop_rate() { if (rate_timer_) rate_timer_->cancel(); }

  ConnPtr<Cfg> con_;
  HttpRequest req_;
  std::weak_ptr<WsConn> self_;
  std::shared_ptr<asio::steady_timer> idle_timer_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  bool open_ = true;
  bool closing_ = false;

private:
  void deliver(const std::string &text)
  {
    if (handler && is_open()) handler->on_text(text);
  }
  void refill()
  {
    auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(rate_, tokens_ + rate_ * std::chrono::duration<double>(now - refilled_).count());
    refilled_ = now;
  }
  void schedule_release()
  {
    rate_timer_ = std::make_shared<asio::steady_timer>(con_->get_raw_socket().get_executor());
    rate_timer_->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>((1.0 - tokens_) / rate_)));
    std::weak_ptr<ConnImpl> weak = std::static_pointer_cast<ConnImpl>(self_.lock());
    rate_timer_->async_wait([weak](std::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->rate_timer_.reset();
      self->release_held();
    });
  }
  void release_held()
  {
    refill();
    while (!held_.empty() && tokens_ >= 1.0 && is_open()) {
      tokens_ -= 1.0;
      std::string text = std::move(held_.front());
      held_.pop_front();
      deliver(text);
    }
    if (!is_open()) {
      held_.clear();
      return;
    }
    if (!held_.empty()) return schedule_release();
    reading_paused_ = false;
    con_->resume_reading();
  }

  double rate_ = 0;  // messages per second; 0: no limit
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
  std::deque<std::string> held_;
  std::shared_ptr<asio::steady_timer> rate_timer_;
  bool reading_paused_ = false;
};

}  // namespace

struct Transport::Impl {
  Impl(asio::io_context &io, TransportHandler &h, TransportLimits l) : ioc(io), handler(h), limits(l) {}

  template <class Cfg>
  using Servers = std::vector<std::unique_ptr<WsServer<Cfg>>>;

  asio::io_context &ioc;
  TransportHandler &handler;
  TransportLimits limits;
  // Set by use_tls(): the listeners bound afterwards serve TLS only, all with this one context.
  std::shared_ptr<asio::ssl::context> tls;
  Servers<PlainConfig> plain_servers;
  Servers<TlsConfig> tls_servers;
  std::set<std::shared_ptr<AnyConn>> conns;
  // Upgrades accepted and not yet open: each holds one of limits.max_connections, like an open one.
  std::size_t pending_upgrades = 0;

  template <class Cfg>
  std::uint16_t listen(Servers<Cfg> &servers, std::size_t listener, const std::string &host, std::uint16_t port);
  template <class Cfg>
  void setup(WsServer<Cfg> &s, std::size_t listener);
  template <class Cfg>
  void configure(WsServer<Cfg> &s);
  void secure(WsServer<PlainConfig> &) {}
  void secure(WsServer<TlsConfig> &s)
  {
    s.set_tls_init_handler([ctx = tls](const websocketpp::connection_hdl &) { return ctx; });
  }
  template <class Cfg>
  void on_http(WsServer<Cfg> &s, std::size_t listener, const websocketpp::connection_hdl &hdl);
  template <class Cfg>
  bool on_validate(WsServer<Cfg> &s, std::size_t listener, const websocketpp::connection_hdl &hdl);
  template <class Cfg>
  void on_open(WsServer<Cfg> &s, const websocketpp::connection_hdl &hdl);
  template <class Cfg>
  void on_gone(WsServer<Cfg> &s, const websocketpp::connection_hdl &hdl);
  // Gives an accepted upgrade's slot back, once: when it opens (then conns counts it) or fails.
  // websocketpp marks a failed connection closed before the fail handler runs, so its state
  // cannot tell whether the slot is still held.
  template <class Cfg>
  void release_slot(ConnData<Cfg> &c)
  {
    if (!c.holds_slot) return;
    c.holds_slot = false;
    --pending_upgrades;
  }
  template <class F>
  void each_server(F f)
  {
    for (auto &s : plain_servers) f(*s);
    for (auto &s : tls_servers) f(*s);
  }
};

namespace {

// A request answered at once with a JSON body (an HTTP refusal, or an upgrade refused with this
// status instead of 101).
template <class Con>
void answer_json(const Con &con, websocketpp::http::status_code::value status, const std::string &body)
{
  con->set_status(status);
  con->replace_header("Content-Type", "application/json");
  con->set_body(body);
}

// Sends a deferred HTTP answer on the connection, if it is still there.
template <class Con>
void send_http_response(const std::weak_ptr<Con> &weak, const HttpResponse &r)
{
  auto c = weak.lock();
  if (!c) return;
  c->set_status(static_cast<websocketpp::http::status_code::value>(r.status));
  if (!r.content_type.empty()) c->replace_header("Content-Type", r.content_type);
  for (const auto &h : r.headers) {
    // Never let a value (e.g. a reflected Origin) add lines to the response.
    if (h.second.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) continue;
    c->replace_header(h.first, h.second);
  }
  c->set_body(r.body);  // websocketpp copies the body whatever it is given
  std::error_code ec;
  c->send_http_response(ec);
}

// A text message from a client, or a close for any other kind.
template <class Cfg>
void on_message(WsServer<Cfg> &s, const websocketpp::connection_hdl &hdl, const typename WsServer<Cfg>::message_ptr &msg)
{
  auto con = s.get_con_from_hdl(hdl);
  auto impl = con->impl;
  if (!impl || !impl->handler || !impl->is_open()) return;
  impl->last_activity_ = std::chrono::steady_clock::now();
  if (msg->get_opcode() != websocketpp::frame::opcode::text) {
    impl->close(close_code::unsupported_data, "binary messages are not supported; send JSON text");
    return;
  }
  impl->receive(msg->get_payload());
}

// The peer answered a ping (ours, or sent unasked: RFC 6455 5.5.3 allows that too).
template <class Cfg>
void on_pong(WsServer<Cfg> &s, const websocketpp::connection_hdl &hdl)
{
  auto impl = s.get_con_from_hdl(hdl)->impl;
  if (impl && impl->handler && impl->is_open()) impl->handler->on_pong();
}

// TLS 1.2 suites, for clients without TLS 1.3: forward secrecy and AEAD only. TLS 1.3's suites
// are OpenSSL's defaults (all AEAD).
constexpr const char *kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// A file that cannot be opened, named with the system's reason (OpenSSL would only say "system lib").
void check_readable(const std::string &what, const std::string &path)
{
  std::FILE *f = std::fopen(path.c_str(), "r");
  if (!f) throw Error(errc::invalid_argument, what + " '" + path + "' cannot be read: " + std::strerror(errno));
  std::fclose(f);
}

// The key first, then the certificate: OpenSSL drops a loaded key that does not match a
// certificate loaded after it, which SSL_CTX_check_private_key then reports as a mismatch.
void load_pem(asio::ssl::context &ctx, const std::string &cert, const std::string &key)
{
  std::error_code ec;
  ctx.use_private_key_file(key, asio::ssl::context::pem, ec);
  if (ec) {
    throw Error(errc::invalid_argument, "the TLS key file '" + key + "' holds no usable private key (" + ec.message() +
                                            "); it must be an unencrypted PEM key, PKCS#8 or traditional");
  }
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) {
    throw Error(errc::invalid_argument,
                "the TLS certificate file '" + cert + "' holds no usable PEM certificate (" + ec.message() + ")");
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw Error(errc::invalid_argument, "the TLS key in '" + key + "' does not match the certificate in '" + cert + "'");
}

// The server's one TLS context: TLS 1.2 at least, no compression (CRIME), no renegotiation.
std::shared_ptr<asio::ssl::context> tls_context(const std::string &cert, const std::string &key)
{
  check_readable("the TLS certificate file", cert);
  check_readable("the TLS key file", key);
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX *c = ctx->native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(c, kTls12Ciphers);
  // An encrypted key would have OpenSSL ask for its passphrase on the terminal: refused instead.
  ctx->set_password_callback([](std::size_t, asio::ssl::context::password_purpose) { return std::string(); });
  load_pem(*ctx, cert, key);
  return ctx;
}

}  // namespace

template <class Cfg>
void Transport::Impl::setup(WsServer<Cfg> &s, std::size_t listener)
{
  configure(s);
  secure(s);
  WsServer<Cfg> *sp = &s;
  s.set_http_handler([this, sp, listener](const websocketpp::connection_hdl &hdl) { on_http(*sp, listener, hdl); });
  s.set_validate_handler(
      [this, sp, listener](const websocketpp::connection_hdl &hdl) { return on_validate(*sp, listener, hdl); });
  s.set_open_handler([this, sp](const websocketpp::connection_hdl &hdl) { on_open(*sp, hdl); });
  s.set_message_handler([sp](const websocketpp::connection_hdl &hdl, const typename WsServer<Cfg>::message_ptr &msg) {
    on_message(*sp, hdl, msg);
  });
  // No ping handler: websocketpp then answers every ping with a pong itself.
  s.set_pong_handler([sp](const websocketpp::connection_hdl &hdl, const std::string &) { on_pong(*sp, hdl); });
  // Every WebSocket connection and refused upgrade ends here once: by the close handler, or by the
  // fail handler (also an accepted upgrade whose 101 could not be written: a reset, the timeout;
  // and over TLS a failed handshake, e.g. plain HTTP sent to the TLS port).
  auto gone = [this, sp](const websocketpp::connection_hdl &hdl) { on_gone(*sp, hdl); };
  s.set_close_handler(gone);
  s.set_fail_handler(gone);
}

// Logging off, the limits, and TCP_NODELAY on every accepted socket.
template <class Cfg>
void Transport::Impl::configure(WsServer<Cfg> &s)
{
  s.clear_access_channels(websocketpp::log::alevel::all);
  s.clear_error_channels(websocketpp::log::elevel::all);
  s.init_asio(&ioc);
  s.set_reuse_addr(true);
  s.set_listen_backlog(1024);
  s.set_max_http_body_size(limits.max_body_bytes);
  s.set_max_message_size(limits.max_ws_message_bytes);
  WsServer<Cfg> *sp = &s;
  // Frames are small and must go out at once: no Nagle delay (with the peer's delayed ACKs it
  // cost 20-40 ms per frame). Set once the socket is accepted (before, it is not open yet).
  s.set_tcp_post_init_handler([sp](const websocketpp::connection_hdl &hdl) {
    std::error_code ec;
    auto con = sp->get_con_from_hdl(hdl, ec);
    if (!ec) con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ec);
  });
}

// A plain HTTP request, handed to the server, whose answer may come later. One the transport
// refuses goes too, marked (HttpRequest::refused), so that its 400 has the body of the profile
// that serves the path.
template <class Cfg>
void Transport::Impl::on_http(WsServer<Cfg> &s, std::size_t listener, const websocketpp::connection_hdl &hdl)
{
  auto con = s.get_con_from_hdl(hdl);
  HttpRequest req = to_request(con->get_request(), con->get_remote_endpoint());
  if (const char *why = refusal(con->get_request())) req.refused = why;
  con->defer_http_response();
  auto answered = std::make_shared<bool>(false);
  // The reply holds the connection: with the answer deferred, websocketpp has no operation
  // pending on it, so an answer that comes later (the platform's sync tasks) would find it gone.
  // Dropped unanswered, the reply lets it go and the socket is closed.
  handler.http(listener, req, [con, answered](const HttpResponse &r) {
    if (*answered) return;
    *answered = true;
    send_http_response(std::weak_ptr<typename WsServer<Cfg>::connection_type>(con), r);
  });
}

// A WebSocket upgrade: true accepts it (it then holds a connection slot until it opens or fails).
template <class Cfg>
bool Transport::Impl::on_validate(WsServer<Cfg> &s, std::size_t listener, const websocketpp::connection_hdl &hdl)
{
  using status = websocketpp::http::status_code::value;
  auto con = s.get_con_from_hdl(hdl);
  // RFC 6455 only. websocketpp also speaks the pre-RFC drafts hixie-76 (version 0) and
  // hybi-07/08; on hixie-76 the prepared frames (wire_message) are the wrong framing and its
  // messages escape the message size limit. RFC 6455 4.2.2: refuse, naming the version we speak.
  if (con->get_request_header("Sec-WebSocket-Version") != "13") {
    con->set_status(websocketpp::http::status_code::upgrade_required);
    con->replace_header("Sec-WebSocket-Version", "13");
    con->replace_header("Content-Type", "application/json");
    con->set_body(R"({"error":"unsupported WebSocket version; this server speaks RFC 6455, version 13"})");
    return false;
  }
  if (const char *why = refusal(con->get_request())) {
    answer_json(con, websocketpp::http::status_code::bad_request, error_body(why));
    return false;
  }
  HttpRequest req = to_request(con->get_request(), con->get_remote_endpoint());
  if (conns.size() + pending_upgrades >= limits.max_connections) {
    answer_json(con, websocketpp::http::status_code::service_unavailable, R"({"error":"too many connections"})");
    return false;
  }
  WsAccept acc = handler.upgrade(listener, req);
  if (acc.reject_status) {
    answer_json(con, static_cast<status>(acc.reject_status), acc.reject_body);
    con->replace_header("Content-Type", acc.reject_content_type);
    for (const auto &h : acc.reject_headers) con->replace_header(h.first, h.second);
    return false;
  }
  con->holds_slot = true;
  ++pending_upgrades;
  con->accept = std::move(acc);
  con->request = std::move(req);
  return true;
}

// An accepted upgrade is open: its ConnImpl is made and its profile handler created.
template <class Cfg>
void Transport::Impl::on_open(WsServer<Cfg> &s, const websocketpp::connection_hdl &hdl)
{
  auto con = s.get_con_from_hdl(hdl);
  release_slot(*con);
  auto impl = std::make_shared<ConnImpl<Cfg>>(con, std::move(con->request));
  impl->self_ = impl;
  con->impl = impl;
  conns.insert(impl);
  impl->watch_idle(limits.idle_timeout);
  impl->set_rate(con->accept.messages_per_second.value_or(limits.messages_per_second));
  if (con->accept.close_code) {
    impl->close(con->accept.close_code, con->accept.close_reason);
    return;
  }
  impl->handler = con->accept.factory(*impl);
  con->accept.factory = nullptr;
  if (impl->handler) impl->handler->on_open();
}

template <class Cfg>
void Transport::Impl::on_gone(WsServer<Cfg> &s, const websocketpp::connection_hdl &hdl)
{
  auto con = s.get_con_from_hdl(hdl);
  release_slot(*con);
  auto impl = con->impl;
  if (!impl) return;
  impl->open_ = false;
  if (impl->idle_timer_) impl->idle_timer_->cancel();
  impl->stop_rate();
  con->impl.reset();
  conns.erase(impl);
  std::uint16_t code = con->get_remote_close_code();
  if (auto h = std::move(impl->handler)) h->on_close(code);
}

template <class Cfg>
std::uint16_t Transport::Impl::listen(Servers<Cfg> &servers, std::size_t listener, const std::string &host,
                                      std::uint16_t port)
{
  auto s = std::make_unique<WsServer<Cfg>>();
  setup(*s, listener);
  std::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw Error(errc::invalid_argument, "'" + host + "' is not an IP address: " + ec.message());
  s->listen(asio::ip::tcp::endpoint(addr, port), ec);
  if (ec) {
    throw Error(errc::io_error, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message() +
                                    ". What to do: choose another port, or stop what uses this one.");
  }
  s->start_accept(ec);
  if (ec) throw Error(errc::io_error, "cannot accept on " + host + ":" + std::to_string(port) + ": " + ec.message());
  auto ep = s->get_local_endpoint(ec);
  std::uint16_t bound = ec ? port : ep.port();
  servers.push_back(std::move(s));
  return bound;
}

Transport::Transport(asio::io_context &ioc, TransportHandler &handler, TransportLimits limits)
    : impl_(std::make_unique<Impl>(ioc, handler, limits))
{
}

Transport::~Transport()
{
  for (auto &c : impl_->conns) c->handler.reset();
  impl_->conns.clear();
}

void Transport::use_tls(const std::string &cert_file, const std::string &key_file)
{
  impl_->tls = tls_context(cert_file, key_file);
}

std::uint16_t Transport::listen(std::size_t listener, const std::string &host, std::uint16_t port)
{
  if (impl_->tls) return impl_->listen(impl_->tls_servers, listener, host, port);
  return impl_->listen(impl_->plain_servers, listener, host, port);
}

void Transport::stop_accepting()
{
  impl_->each_server([](auto &s) {
    std::error_code ec;
    if (s.is_listening()) s.stop_listening(ec);
  });
}

void Transport::shutdown_connections()
{
  auto conns = impl_->conns;  // handlers may close connections, which erases them
  for (auto &c : conns) {
    if (c->handler) {
      c->handler->on_shutdown();
    } else {
      c->close(close_code::going_away, "server shutting down");
    }
  }
}

void Transport::abort_connections()
{
  auto conns = impl_->conns;
  for (auto &c : conns) c->terminate();
}

std::size_t Transport::open_connections() const { return impl_->conns.size(); }

std::size_t Transport::pending_handshakes() const { return impl_->pending_upgrades; }

}  // namespace ccbridge::detail::server
