// The WebSocket client over websocketpp (standalone Asio; TLS through Asio's OpenSSL stream). The
// only translation unit of the client that includes websocketpp: it is slow to compile.
#include "server/ws_client.hpp"

#include <ccbridge/error.hpp>

#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include <asio/ssl/host_name_verification.hpp>
#include <asio/steady_timer.hpp>

namespace ccbridge::detail::server {

namespace {

using Clock = std::chrono::steady_clock;

bool starts_with(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

// One connection: sends, pings every ping_interval, and closes it when nothing was heard for the
// idle limit (a half-open link would otherwise look alive until TCP gives up, minutes later).
template <class Config>
class Link final : public WsClientLink, public std::enable_shared_from_this<Link<Config>> {
public:
  using Conn = websocketpp::connection<Config>;
  Link(asio::io_context &ioc, std::weak_ptr<Conn> conn, const WsClientOptions &o)
      : timer_(ioc), conn_(std::move(conn)), ping_interval_(o.ping_interval), idle_limit_(o.idle_limit)
  {
  }

  void send(const std::string &text) override
  {
    if (auto c = live()) (void)c->send(text, websocketpp::frame::opcode::text);
  }
  std::size_t buffered() const override
  {
    auto c = conn_.lock();
    return c ? c->get_buffered_amount() : 0;
  }
  void close(int code, const std::string &reason) override
  {
    std::error_code ec;
    if (auto c = live()) c->close(static_cast<websocketpp::close::status::value>(code), reason, ec);
    closing_ = true;
  }
  void heard() { last_heard_ = Clock::now(); }
  void opened()
  {
    heard();
    tick();
  }
  void ended()
  {
    closing_ = true;
    timer_.cancel();
  }

private:
  std::shared_ptr<Conn> live() const { return closing_ ? nullptr : conn_.lock(); }
  void tick()
  {
    timer_.expires_after(ping_interval_);
    timer_.async_wait([weak = this->weak_from_this()](std::error_code ec) {
      auto self = weak.lock();
      if (!ec && self && !self->closing_) self->check();
    });
  }
  void check()
  {
    auto c = live();
    if (!c) return;
    if (Clock::now() - last_heard_ >= idle_limit_) {
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(idle_limit_).count();
      return close(1001, "nothing heard for " + std::to_string(secs) + " s");
    }
    std::error_code ec;
    c->ping("", ec);
    tick();
  }

  asio::steady_timer timer_;
  std::weak_ptr<Conn> conn_;  // the endpoint keeps the connection alive while it is open
  std::chrono::milliseconds ping_interval_, idle_limit_;
  Clock::time_point last_heard_;
  bool closing_ = false;
};

// Certificate checks for wss://: the system's roots (or --ca-file), and the name in the URL
// against the certificate (RFC 2818; SNI is sent by websocketpp).
std::shared_ptr<asio::ssl::context> tls_context(const WsClientOptions &o, const std::string &host)
{
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  if (o.tls_skip_verify) {
    ctx->set_verify_mode(asio::ssl::verify_none);
    return ctx;
  }
  std::error_code ec;
  if (o.ca_file.empty()) ctx->set_default_verify_paths(ec);
  else ctx->load_verify_file(o.ca_file, ec);
  if (ec) {
    const std::string what = o.ca_file.empty() ? "the system's CA certificates" : "CA file '" + o.ca_file + "'";
    throw Error(errc::invalid_argument, "cannot load " + what + ": " + ec.message());
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->set_verify_callback(asio::ssl::host_name_verification(host));
  return ctx;
}

// Why a dial failed, for the log: the HTTP answer if there was one (401: the token), else the error.
template <class ConnPtr>
std::string failure(const ConnPtr &c)
{
  auto status = c->get_response_code();
  std::string why = c->get_ec().message();
  if (status != websocketpp::http::status_code::uninitialized && status != websocketpp::http::status_code::switching_protocols)
    why = "HTTP " + std::to_string(static_cast<int>(status)) + " " + c->get_response_msg() + " (" + why + ")";
  return why;
}

template <class Config>
class Dialer final : public WsDialer {
public:
  using Client = websocketpp::client<Config>;
  Dialer(asio::io_context &ioc, WsClientOptions o) : ioc_(ioc), opts_(std::move(o))
  {
    client_.init_asio(&ioc);
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    client_.set_open_handshake_timeout(static_cast<long>(opts_.handshake_timeout.count()));
    client_.set_close_handshake_timeout(2000);
    client_.set_max_message_size(opts_.max_message_bytes);
    client_.set_user_agent("ccbridge-agent");
  }
  void use_tls(std::shared_ptr<asio::ssl::context> tls)
  {
    client_.set_tls_init_handler([tls](const websocketpp::connection_hdl &) { return tls; });
  }

  void dial(WsClientHandlers h) override
  {
    std::error_code ec;
    auto con = client_.get_connection(opts_.url, ec);
    auto hs = std::make_shared<WsClientHandlers>(std::move(h));
    if (ec) {
      asio::post(ioc_, [hs, why = ec.message()] { hs->closed(1006, "", why); });
      return;
    }
    con->append_header("Authorization", "Bearer " + opts_.bearer);
    auto link = std::make_shared<Link<Config>>(ioc_, con, opts_);
    con->set_open_handler([link, hs](const websocketpp::connection_hdl &) {
      link->opened();
      hs->open(link);
    });
    con->set_message_handler([link, hs](const websocketpp::connection_hdl &, typename Client::message_ptr m) {
      link->heard();
      hs->message(m->get_payload());
    });
    con->set_pong_handler([link](const websocketpp::connection_hdl &, const std::string &) { link->heard(); });
    con->set_close_handler([this, link, hs](const websocketpp::connection_hdl &hdl) {
      link->ended();
      std::error_code e;
      auto c = client_.get_con_from_hdl(hdl, e);
      if (c) hs->closed(c->get_remote_close_code(), c->get_remote_close_reason(), "");
      else hs->closed(1006, "", "");
    });
    con->set_fail_handler([this, link, hs](const websocketpp::connection_hdl &hdl) {
      link->ended();
      std::error_code e;
      auto c = client_.get_con_from_hdl(hdl, e);
      hs->closed(1006, "", c ? failure(c) : "connection failed");
    });
    client_.connect(con);
  }

private:
  asio::io_context &ioc_;
  WsClientOptions opts_;
  Client client_;
};

}  // namespace

std::string ws_url(const std::string &url)
{
  if (starts_with(url, "http://")) return "ws://" + url.substr(7);
  if (starts_with(url, "https://")) return "wss://" + url.substr(8);
  return url;
}

std::unique_ptr<WsDialer> make_ws_dialer(asio::io_context &ioc, WsClientOptions options)
{
  options.url = ws_url(options.url);
  websocketpp::uri uri(options.url);
  if (!uri.get_valid() || (!starts_with(options.url, "ws://") && !starts_with(options.url, "wss://")))
    throw Error(errc::invalid_argument, "'" + options.url + "' is not a ws://, wss://, http:// or https:// URL");
  if (!uri.get_secure()) return std::make_unique<Dialer<websocketpp::config::asio_client>>(ioc, std::move(options));
  auto tls = tls_context(options, uri.get_host());
  auto d = std::make_unique<Dialer<websocketpp::config::asio_tls_client>>(ioc, std::move(options));
  d->use_tls(std::move(tls));
  return d;
}

}  // namespace ccbridge::detail::server
