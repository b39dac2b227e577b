// PermissionRelay (see the header): a Unix socket in a private directory, one connection per
// permission prompt, all socket work on one strand; the questions waiting for an answer sit in a
// map under a mutex, so that answer() can take one from any thread exactly once.
#include "core/permission_relay.hpp"

#include "detail/json.hpp"
#include "protocol/frames.hpp"
#include "protocol/json_scan.hpp"

#include <ccbridge/error.hpp>

#include <asio/dispatch.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#ifndef CCB_INSTALL_BINDIR
#define CCB_INSTALL_BINDIR "/usr/local/bin"
#endif

namespace ccbridge::detail {

using RelayStrand = asio::strand<asio::io_context::executor_type>;
using UnixSocket = asio::local::stream_protocol::socket;

struct PermissionRelay::Conn {
  explicit Conn(const RelayStrand &s) : sock(s), timer(s) {}
  UnixSocket sock;
  asio::steady_timer timer;
  std::string in;
  char spare[64];        // bytes after the request line: the hook never sends any
  std::uint64_t id = 0;  // 0 until its request was accepted as a question
  std::string call;      // which tool call it is about (call_key)
  std::string reply;
};

struct PermissionRelay::Private {
  Private(asio::io_context &io, PermissionRelayConfig c, Handlers h)
      : strand(asio::make_strand(io)),
        acceptor(strand),
        config(std::move(c)),
        handlers(std::move(h))
  {}
  RelayStrand strand;
  asio::local::stream_protocol::acceptor acceptor;
  PermissionRelayConfig config;
  Handlers handlers;
  std::string dir;
  std::string secret;
  std::set<std::shared_ptr<Conn>> conns;  // strand only
  std::uint64_t last_id = 0;              // strand only
  std::mutex mu;
  std::map<std::uint64_t, std::shared_ptr<Conn>> waiting;  // under mu: asked, not answered, not gone
  bool closed = false;                                     // under mu
};

namespace {

std::string random_hex(std::size_t bytes)
{
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(&raw[got], bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(errc::io_error, std::string("permission relay: getrandom failed: ") + std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) out += {hex[c >> 4], hex[c & 15]};
  return out;
}

// A new 0700 directory for the socket: $XDG_RUNTIME_DIR when the path fits a sockaddr_un, /tmp.
std::string make_private_dir()
{
  std::vector<std::string> roots;
  if (const char *x = std::getenv("XDG_RUNTIME_DIR"); x && *x == '/') roots.emplace_back(x);
  roots.emplace_back("/tmp");
  std::string last_error;
  for (const auto &root : roots) {
    std::string tmpl = root + "/ccbridge-perm-XXXXXX";
    if (tmpl.size() + 2 >= sizeof(sockaddr_un::sun_path)) continue;
    if (::mkdtemp(&tmpl[0])) return tmpl;
    last_error = root + ": " + std::strerror(errno);
  }
  throw Error(errc::io_error, "permission relay: cannot make a private directory for its socket (" + last_error + ")");
}

bool same_bytes(std::string_view a, std::string_view b)
{
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool peer_is_us(UnixSocket &sock)
{
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == ::geteuid();
}

std::string shell_quote(std::string_view s)
{
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string hook_output(bool allow, std::string_view message)
{
  std::string decision = allow ? R"({"behavior":"allow"})"
                               : R"({"behavior":"deny","message":)" +
                                     text_content(message.empty() ? "Permission denied" : message, "message") + "}";
  return R"({"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":)" + decision + "}}\n";
}

}  // namespace

std::string default_hook_program() { return CCB_INSTALL_BINDIR "/ccbridge"; }

PermissionRelay::PermissionRelay(asio::io_context &io, PermissionRelayConfig config, Handlers handlers)
    : p_(std::make_unique<Private>(io, std::move(config), std::move(handlers)))
{
  if (p_->config.hook_program.empty()) p_->config.hook_program = default_hook_program();
}

PermissionRelay::~PermissionRelay()
{
  std::error_code ignored;
  p_->acceptor.close(ignored);
  for (const auto &c : p_->conns) c->sock.close(ignored);
  remove_files();
}

// Strand or destructor (never both: close()'s handler holds the relay).
void PermissionRelay::remove_files() noexcept
{
  if (p_->dir.empty()) return;
  ::unlink(socket_path_.c_str());
  ::rmdir(p_->dir.c_str());
  p_->dir.clear();
}

std::shared_ptr<PermissionRelay> PermissionRelay::start(asio::io_context &io, PermissionRelayConfig config,
                                                        Handlers handlers)
{
  std::shared_ptr<PermissionRelay> relay(new PermissionRelay(io, std::move(config), std::move(handlers)));
  relay->listen();
  asio::dispatch(relay->p_->strand, [w = std::weak_ptr<PermissionRelay>(relay)] {
    if (auto self = w.lock()) self->do_accept();
  });
  return relay;
}

void PermissionRelay::listen()
{
  p_->secret = random_hex(32);
  p_->dir = make_private_dir();
  socket_path_ = p_->dir + "/hook.sock";
  std::error_code ec;
  p_->acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec) p_->acceptor.bind(asio::local::stream_protocol::endpoint(socket_path_), ec);
  if (!ec) p_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw Error(errc::io_error, "permission relay: cannot listen on " + socket_path_ + ": " + ec.message());
}

std::vector<std::string> PermissionRelay::cli_args() const
{
  // PostToolUse(Failure) tells the relay that a prompt was allowed on the screen (settle()).
  std::string hook = R"([{"matcher":"*","hooks":[{"type":"command","command":)" +
                     text_content(shell_quote(p_->config.hook_program) + " permission-hook", "hook program") + "}]}]";
  std::string settings = R"({"hooks":{"PermissionRequest":)" + hook + R"(,"PostToolUse":)" + hook +
                         R"(,"PostToolUseFailure":)" + hook + "}}";
  std::vector<std::string> args{"--settings", settings};
  if (!p_->config.permission_mode.empty()) args.insert(args.end(), {"--permission-mode", p_->config.permission_mode});
  return args;
}

std::map<std::string, std::string> PermissionRelay::cli_env() const
{
  return {{kPermissionSocketEnv, socket_path_}, {kPermissionSecretEnv, p_->secret}};
}

// ---- connections (on the strand) ---------------------------------------------------------------

void PermissionRelay::do_accept()
{
  auto conn = std::make_shared<Conn>(p_->strand);
  p_->acceptor.async_accept(conn->sock, [w = weak_from_this(), conn](std::error_code ec) {
    auto self = w.lock();
    if (!self || !self->p_->acceptor.is_open()) return;
    if (!ec) self->on_accepted(conn);
    // Any other failure (EMFILE, ...) stops the relay from listening: the hooks that cannot
    // connect print nothing, and their prompts stay on the screen.
    if (!ec || ec == asio::error::connection_aborted) self->do_accept();
  });
}

void PermissionRelay::on_accepted(const std::shared_ptr<Conn> &conn)
{
  std::error_code ignored;
  if (p_->conns.size() >= p_->config.max_asks || !peer_is_us(conn->sock)) {
    conn->sock.close(ignored);
    return;
  }
  p_->conns.insert(conn);
  conn->timer.expires_after(p_->config.request_wait);
  conn->timer.async_wait([w = weak_from_this(), conn](std::error_code ec) {
    auto self = w.lock();
    if (self && !ec && conn->id == 0) self->drop(conn);
  });
  asio::async_read_until(conn->sock, asio::dynamic_buffer(conn->in, p_->config.max_message_bytes), '\n',
                         [w = weak_from_this(), conn](std::error_code ec, std::size_t n) {
                           auto self = w.lock();
                           if (!self) return;
                           if (ec) return self->drop(conn);
                           self->on_request(conn, std::string_view(conn->in).substr(0, n - 1));
                         });
}

void PermissionRelay::on_request(const std::shared_ptr<Conn> &conn, std::string_view line)
{
  conn->timer.cancel();
  PermissionAsk ask;
  std::string event;
  if (!parse_request(line, ask, event, conn->call)) return drop(conn);
  if (event == "PostToolUse" || event == "PostToolUseFailure") {
    drop(conn);  // its hook prints nothing
    return settle(conn->call);
  }
  if (event != "PermissionRequest") return drop(conn);
  ask.id = conn->id = ++p_->last_id;
  {
    std::lock_guard<std::mutex> lock(p_->mu);
    if (p_->closed) return;
    p_->waiting.emplace(ask.id, conn);
  }
  conn->in.clear();
  watch_close(conn);
  if (p_->handlers.on_ask) p_->handlers.on_ask(ask);
}

// {"secret":"<hex>","request":{"hook_event_name":..., "session_id":..., "tool_name":...,
// "tool_input":...}} with the right secret. `call` names the tool call: its PermissionRequest and
// the PostToolUse that follows when the tool has run have the same.
bool PermissionRelay::parse_request(std::string_view line, PermissionAsk &ask, std::string &event,
                                    std::string &call) const
{
  JsonDocument doc;
  if (parse_exact(doc, line).IsError() || !doc.IsObject()) return false;
  if (!same_bytes(get_string(doc, "secret"), p_->secret)) return false;
  auto request = json_member_span(line, {"request"});
  auto input = json_member_span(line, {"request", "tool_input"});
  auto it = doc.FindMember("request");
  if (!request || !input || it == doc.MemberEnd() || !it->value.IsObject()) return false;
  ask.tool_name = std::string(get_string(it->value, "tool_name"));
  if (ask.tool_name.empty()) return false;
  ask.tool_input_json = std::string(*input);
  ask.request_json = std::string(*request);
  event = std::string(get_string(it->value, "hook_event_name"));
  call = std::string(get_string(it->value, "session_id")) + '\n' + ask.tool_name + '\n' + ask.tool_input_json;
  return true;
}

// A tool ran while its question was still waiting: someone allowed it on the screen, and the CLI
// keeps the hook (and the turn) waiting until the hook ends. Ends the oldest such question as gone.
void PermissionRelay::settle(const std::string &call)
{
  std::shared_ptr<Conn> conn;
  {
    std::lock_guard<std::mutex> lock(p_->mu);
    for (const auto &w : p_->waiting)
      if (w.second->call == call) {
        conn = w.second;
        break;
      }
  }
  if (conn) drop(conn);
}

// The hook sends nothing after its request: the next read ends when it goes away.
void PermissionRelay::watch_close(const std::shared_ptr<Conn> &conn)
{
  conn->sock.async_read_some(asio::buffer(conn->spare), [w = weak_from_this(), conn](std::error_code, std::size_t) {
    if (auto self = w.lock()) self->drop(conn);
  });
}

// Closes a connection; a question still waiting for its answer is gone.
void PermissionRelay::drop(const std::shared_ptr<Conn> &conn)
{
  std::error_code ignored;
  conn->timer.cancel();
  conn->sock.close(ignored);
  if (p_->conns.erase(conn) == 0 || conn->id == 0) return;
  bool was_waiting = false;
  {
    std::lock_guard<std::mutex> lock(p_->mu);
    was_waiting = !p_->closed && p_->waiting.erase(conn->id) > 0;
  }
  if (was_waiting && p_->handlers.on_gone) p_->handlers.on_gone(conn->id);
}

// ---- answers and close (any thread) ------------------------------------------------------------

bool PermissionRelay::answer(std::uint64_t id, bool allow, std::string_view message)
{
  std::string reply = hook_output(allow, message);
  std::shared_ptr<Conn> conn;
  {
    std::lock_guard<std::mutex> lock(p_->mu);
    auto it = p_->waiting.find(id);
    if (p_->closed || it == p_->waiting.end()) return false;
    conn = std::move(it->second);
    p_->waiting.erase(it);
  }
  asio::post(p_->strand, [w = weak_from_this(), conn, reply = std::move(reply)]() mutable {
    auto self = w.lock();
    if (!self || !conn->sock.is_open()) return;
    conn->reply = std::move(reply);
    asio::async_write(conn->sock, asio::buffer(conn->reply), [w, conn](std::error_code, std::size_t) {
      if (auto relay = w.lock()) relay->drop(conn);
    });
  });
  return true;
}

void PermissionRelay::close()
{
  {
    std::lock_guard<std::mutex> lock(p_->mu);
    if (p_->closed) return;
    p_->closed = true;
    p_->waiting.clear();
  }
  asio::dispatch(p_->strand, [self = shared_from_this()] {
    std::error_code ignored;
    self->p_->acceptor.close(ignored);
    for (const auto &c : self->p_->conns) {
      c->timer.cancel();
      c->sock.close(ignored);
    }
    self->p_->conns.clear();
    self->remove_files();
  });
}

}  // namespace ccbridge::detail
