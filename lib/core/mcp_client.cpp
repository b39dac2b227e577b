// McpClient (include/ccbridge/mcp_client.hpp): JSON-RPC requests to one MCP server over a
// transport (core/mcp_transport.hpp), with ids, timeouts, cancellation, initialize and restart.
// Threads: every piece of state but the snapshot under `mu` lives on the client's strand; the
// public functions post there, and the blocking ones wait for the answer on the caller's thread.
#include "core/mcp_transport.hpp"
#include "core/stream_state.hpp"  // call_safely
#include "detail/runtime_impl.hpp"
#include "protocol/frames.hpp"  // parse_argument_json
#include "protocol/jsonrpc.hpp"

#include <ccbridge/json.hpp>

#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <future>
#include <mutex>

CCB_BEGIN_NAMESPACE

using detail::call_safely;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char *kNewestVersion = "2025-06-18";
constexpr std::size_t kMaxPages = 10000;

bool known_version(std::string_view v) { return v == "2025-06-18" || v == "2025-03-26" || v == "2024-11-05"; }

/// The answer to one request: an error, or the `result` member.
using RpcDone = std::function<void(std::optional<Error>, JsonView result)>;

struct Pending {
  std::string method;
  RpcDone done;
  asio::steady_timer timer;
  Clock::time_point sent = Clock::now();
  Pending(const detail::Strand &strand, std::string m, RpcDone d)
      : method(std::move(m)),
        done(std::move(d)),
        timer(strand)
  {}
};

std::string ms_text(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

}  // namespace

struct McpClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(std::shared_ptr<detail::RuntimeImpl> rt, McpServerSpec s)
      : runtime(std::move(rt)),
        strand(asio::make_strand(*runtime->ioc)),
        spec(std::move(s))
  {}

  std::shared_ptr<detail::RuntimeImpl> runtime;
  detail::Strand strand;
  const McpServerSpec spec;

  // ---- on the strand ----
  std::shared_ptr<detail::McpTransport> transport;
  std::uint64_t generation = 0;  // of `transport`: events of an older one are dropped
  std::map<std::int64_t, std::shared_ptr<Pending>> pending;
  std::int64_t next_id = 1;
  std::size_t skipped_lines = 0;
  std::vector<std::function<void()>> close_waiters;  // a close under way
  bool closing = false;

  // ---- the snapshot the const accessors read, from any thread ----
  mutable std::mutex mu;
  McpState state_ = McpState::connecting;
  McpServerInfo info_;
  std::string last_error_;
  errc last_code_ = errc::process_failed;  // why it failed: a failed client refuses requests with it

  std::string who() const { return "MCP server '" + spec.name + "'"; }

  void set_state(McpState s, std::string why = {})
  {
    std::lock_guard<std::mutex> lk(mu);
    state_ = s;
    if (!why.empty()) last_error_ = std::move(why);
  }
  McpState state() const
  {
    std::lock_guard<std::mutex> lk(mu);
    return state_;
  }

  // Runs `fn` on the strand (at once if already there).
  template <class F> void on_strand(F fn) { asio::dispatch(strand, std::move(fn)); }

  /// Sends a request; `done` runs once, on the strand. Returns its id (0 if it was not sent).
  std::int64_t request(const std::string &method, const std::string &params, std::chrono::milliseconds timeout,
                       RpcDone done);
  void finish(std::int64_t id, std::optional<Error> error, JsonView result);
  void cancel(std::int64_t id, errc why, const std::string &text);
  void on_message(std::string_view text);
  void on_response(const JsonView &msg);
  void answer_server_request(const JsonView &msg);
  void fail_all(const Error &why);
  void on_failed(const Error &why);

  void start(const std::function<void(std::optional<Error>)> &done);
  void initialize(const std::function<void(std::optional<Error>)> &done);
  void end_transport(std::function<void()> done);
  void close(std::function<void()> done);

  void list_page(const std::string &cursor, const std::shared_ptr<std::vector<McpTool>> &tools, std::size_t pages,
                 Clock::time_point deadline, const Callback<std::vector<McpTool>> &done);
};

// ---- requests --------------------------------------------------------------------------------

std::int64_t McpClient::Impl::request(const std::string &method, const std::string &params,
                                      std::chrono::milliseconds timeout, RpcDone done)
{
  bool starting = method == "initialize";
  McpState st = state();
  if (!transport || (st != McpState::ready && !starting)) {
    std::optional<Error> refused;
    {
      std::lock_guard<std::mutex> lk(mu);
      // A failed client refuses with the code of its failure, so a caller sees the same code
      // whether its request was in flight when the client failed or was sent just after.
      errc code = state_ == McpState::failed ? last_code_ : errc::closed;
      refused = Error(code, state_ == McpState::failed
                                ? who() + " failed: " + last_error_ + " (restart() connects again)"
                                : who() + " is " + (state_ == McpState::closed ? "closed" : "not ready"));
    }
    call_safely(done, std::move(refused), JsonView());  // not under `mu`: the callback may read the state
    return 0;
  }
  std::int64_t id = next_id++;
  auto p = std::make_shared<Pending>(strand, method, std::move(done));
  pending.emplace(id, p);
  p->timer.expires_after(timeout);
  p->timer.async_wait([w = weak_from_this(), id, method, timeout](std::error_code ec) {
    auto self = w.lock();
    if (ec || !self) return;
    self->cancel(id, errc::timeout, self->who() + " did not answer " + method + " within " + ms_text(timeout));
  });
  transport->send(detail::rpc_request(id, method, params), id);
  return id;
}

void McpClient::Impl::finish(std::int64_t id, std::optional<Error> error, JsonView result)
{
  auto it = pending.find(id);
  if (it == pending.end()) return;  // answered, timed out or cancelled already
  auto p = it->second;
  pending.erase(it);
  p->timer.cancel();
  call_safely(p->done, std::move(error), std::move(result));
}

// The caller stops waiting: the server is told (notifications/cancelled, never for initialize,
// as the specification says), and a late answer is ignored.
void McpClient::Impl::cancel(std::int64_t id, errc why, const std::string &text)
{
  auto it = pending.find(id);
  if (it == pending.end()) return;
  if (transport) {
    if (it->second->method != "initialize") {
      std::string params = R"({"requestId":)" + std::to_string(id) + R"(,"reason":)";
      append_json_string(params, why == errc::timeout ? "timeout" : "cancelled by the client");
      transport->send(detail::rpc_notification("notifications/cancelled", params + "}"), -1);
    }
    transport->abandon(id);
  }
  finish(id, Error(why, text), JsonView());
}

void McpClient::Impl::fail_all(const Error &why)
{
  auto all = std::move(pending);
  pending.clear();
  for (auto &[id, p] : all) {
    p->timer.cancel();
    call_safely(p->done, std::optional<Error>(why), JsonView());
  }
}

// ---- what the server sends ---------------------------------------------------------------------

void McpClient::Impl::on_message(std::string_view text)
{
  JsonView msg;
  try {
    msg = parse_json(text);
  } catch (const Error &) {
    ++skipped_lines;  // a server that logs to stdout must not break the connection
    return;
  }
  switch (detail::rpc_kind(msg)) {
  case detail::RpcKind::response: return on_response(msg);
  case detail::RpcKind::request: return answer_server_request(msg);
  case detail::RpcKind::notification: return;  // progress, logging, list_changed: nothing the client tracks
  case detail::RpcKind::invalid: ++skipped_lines; return;
  }
}

void McpClient::Impl::on_response(const JsonView &msg)
{
  std::optional<std::int64_t> id = msg["id"].int64();
  if (!id) return;  // our ids are numbers
  auto it = pending.find(*id);
  if (it == pending.end()) return;
  JsonView error = msg["error"];
  if (!error.exists()) return finish(*id, std::nullopt, msg["result"]);
  std::string text = who() + " answered " + it->second->method + " with error " + error["code"].dump() + ": " +
                     std::string(error["message"].string_or("(no message)"));
  finish(*id, Error(errc::process_failed, text), JsonView());
}

// The server is never left waiting: ping is answered, everything else refused.
void McpClient::Impl::answer_server_request(const JsonView &msg)
{
  if (!transport) return;
  std::string id = detail::rpc_id(msg);
  std::string_view method = msg["method"].string_or();
  std::string answer = method == "ping"
                           ? detail::rpc_result(id, "{}")
                           : detail::rpc_error(id, detail::rpc_method_not_found,
                                               "the ccbridge MCP client does not support " + std::string(method));
  transport->send(std::move(answer), -1);
}

void McpClient::Impl::on_failed(const Error &why)
{
  if (state() == McpState::closed) return;
  {
    std::lock_guard<std::mutex> lk(mu);
    last_code_ = why.code().category() == error_category() ? static_cast<errc>(why.code().value())
                                                           : errc::process_failed;
  }
  set_state(McpState::failed, why.detail());
  fail_all(why);
}

// ---- connecting, closing -----------------------------------------------------------------------

void McpClient::Impl::start(const std::function<void(std::optional<Error>)> &done)
{
  set_state(McpState::connecting);
  std::uint64_t gen = ++generation;
  skipped_lines = 0;
  detail::McpTransportEvents events;
  std::weak_ptr<Impl> w = weak_from_this();
  auto live = [w, gen]() -> std::shared_ptr<Impl> {
    auto self = w.lock();
    return self && self->generation == gen ? self : nullptr;
  };
  events.message = [live](std::string_view text) {
    if (auto self = live()) self->on_message(text);
  };
  events.request_failed = [live](std::int64_t id, const Error &why) {
    if (auto self = live()) self->finish(id, why, JsonView());
  };
  events.failed = [live](const Error &why) {
    if (auto self = live()) self->on_failed(why);
  };
  try {
    transport =
        spec.command.empty() ? detail::make_http_transport(strand, spec) : detail::make_stdio_transport(strand, spec);
    transport->start(std::move(events));
  } catch (const Error &e) {
    transport.reset();
    set_state(McpState::failed, e.detail());
    return done(e);
  }
  initialize(done);
}

void McpClient::Impl::initialize(const std::function<void(std::optional<Error>)> &done)
{
  std::string params = R"({"protocolVersion":")" + std::string(kNewestVersion) +
                       R"(","capabilities":{},"clientInfo":{"name":"ccbridge","version":"1"}})";
  auto fail = [self = shared_from_this(), done](const Error &e) {
    if (self->state() != McpState::closed) self->set_state(McpState::failed, e.detail());
    self->end_transport([done, e] { done(e); });
  };
  request("initialize", params, spec.connect_timeout,
          [self = shared_from_this(), done, fail](std::optional<Error> error, const JsonView &r) {
            if (error) return fail(*error);
            std::string version(r["protocolVersion"].string_or());
            if (!known_version(version)) {
              return fail(
                  Error(errc::process_failed, self->who() + " answered initialize with protocol version '" + version +
                                                  "', which ccbridge does not speak (it speaks 2025-06-18, 2025-03-26 "
                                                  "and 2024-11-05)"));
            }
            McpServerInfo info;
            info.protocol_version = version;
            info.name = std::string(r["serverInfo"]["name"].string_or());
            info.version = std::string(r["serverInfo"]["version"].string_or());
            info.capabilities_json = r["capabilities"].is_object() ? r["capabilities"].dump() : "{}";
            info.instructions = std::string(r["instructions"].string_or());
            self->transport->initialized(version);
            self->transport->send(detail::rpc_notification("notifications/initialized", ""), -1);
            {
              std::lock_guard<std::mutex> lk(self->mu);
              self->info_ = std::move(info);
              self->state_ = McpState::ready;
              self->last_error_.clear();
            }
            done(std::nullopt);
          });
}

// Ends the current transport (if any); `done` runs on the strand once it is over.
void McpClient::Impl::end_transport(std::function<void()> done)
{
  ++generation;  // no event of the old transport reaches the client any more
  auto t = std::move(transport);
  transport.reset();
  if (!t) return done();
  t->close([t, done = std::move(done)] { done(); });
}

void McpClient::Impl::close(std::function<void()> done)
{
  if (done) close_waiters.push_back(std::move(done));
  if (closing) return;
  closing = true;
  set_state(McpState::closed);
  ++generation;  // no event of the old transport reaches the client any more
  auto t = std::move(transport);
  transport.reset();
  fail_all(Error(errc::closed, who() + " was closed"));
  auto closed = [self = shared_from_this(), t] {
    self->closing = false;
    auto waiters = std::move(self->close_waiters);
    self->close_waiters.clear();
    for (auto &w : waiters) w();
  };
  if (t) {
    t->close(closed);
  } else {
    closed();
  }
}

// ---- tools/list --------------------------------------------------------------------------------

namespace {

McpTool tool_from(const JsonView &t)
{
  McpTool tool;
  tool.name = std::string(t["name"].string_or());
  tool.title = std::string(t["title"].string_or());
  tool.description = std::string(t["description"].string_or());
  tool.input_schema_json = t["inputSchema"].is_object() ? t["inputSchema"].dump() : "{}";
  if (t["outputSchema"].exists()) tool.output_schema_json = t["outputSchema"].dump();
  if (t["annotations"].exists()) tool.annotations_json = t["annotations"].dump();
  return tool;
}

std::chrono::milliseconds remaining(Clock::time_point deadline)
{
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

}  // namespace

void McpClient::Impl::list_page(const std::string &cursor, const std::shared_ptr<std::vector<McpTool>> &tools,
                                std::size_t pages, Clock::time_point deadline,
                                const Callback<std::vector<McpTool>> &done)
{
  std::string params;
  if (!cursor.empty()) {
    params = R"({"cursor":)";
    append_json_string(params, cursor);
    params += '}';
  }
  auto on_page = [self = shared_from_this(), tools, pages, deadline, done](std::optional<Error> error,
                                                                           const JsonView &r) {
    if (error) return call_safely(done, std::move(error), std::vector<McpTool>());
    for (std::size_t i = 0; i < r["tools"].size(); ++i) tools->push_back(tool_from(r["tools"][i]));
    std::string next(r["nextCursor"].string_or());
    if (next.empty()) return call_safely(done, std::optional<Error>(), std::move(*tools));
    if (pages + 1 >= kMaxPages) {
      return call_safely(
          done,
          std::optional<Error>(Error(errc::process_failed, self->who() + " listed more than " +
                                                               std::to_string(kMaxPages) + " pages of tools")),
          std::vector<McpTool>());
    }
    self->list_page(next, tools, pages + 1, deadline, done);
  };
  request("tools/list", params, remaining(deadline), std::move(on_page));
}

// ---- the public class --------------------------------------------------------------------------

namespace {

std::string check_spec(const McpServerSpec &spec)
{
  std::string who = "McpServerSpec '" + spec.name + "'";
  if (spec.command.empty() == spec.url.empty()) return who + ": set exactly one of command (stdio) and url (HTTP)";
  if (spec.connect_timeout.count() <= 0 || spec.request_timeout.count() <= 0) {
    return who + ": connect_timeout and request_timeout must be positive";
  }
  if (spec.max_message_bytes == 0) return who + ": max_message_bytes must be positive";
  return {};
}

template <class T> T wait_for(const char *what, const std::function<void(McpClient::Callback<T>)> &start)
{
  if (detail::on_io_thread()) {
    throw Error(errc::would_deadlock, std::string("McpClient::") + what +
                                          " called on a ccbridge I/O thread (inside a callback?); use its _async form");
  }
  auto answer = std::make_shared<std::promise<std::pair<std::optional<Error>, T>>>();
  auto future = answer->get_future();
  start([answer](std::optional<Error> error, T value) { answer->set_value({std::move(error), std::move(value)}); });
  auto r = future.get();
  if (r.first) throw Error(*r.first);
  return std::move(r.second);
}

template <class I> I &checked(const std::shared_ptr<I> &impl)
{
  if (!impl) throw Error(errc::invalid_argument, "this McpClient was moved from");
  return *impl;
}

}  // namespace

McpClient::McpClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
McpClient::McpClient(McpClient &&) noexcept = default;

namespace {
// The destructor's close(): a failure to wait (std::system_error from the promise) is dropped.
void close_quietly(McpClient &client) noexcept
{
  try {
    client.close();
  } catch (...) {
  }
}
}  // namespace

McpClient &McpClient::operator=(McpClient &&other) noexcept
{
  if (this != &other) {
    if (impl_) close_quietly(*this);
    impl_ = std::move(other.impl_);
  }
  return *this;
}

McpClient::~McpClient()
{
  if (impl_) close_quietly(*this);
}

McpClient McpClient::connect(Runtime &runtime, McpServerSpec spec)
{
  std::function<void(Callback<std::optional<McpClient>>)> start = [&runtime, &spec](auto done) {
    connect_async(runtime, std::move(spec), std::move(done));
  };
  return std::move(*wait_for<std::optional<McpClient>>("connect", start));
}

void McpClient::connect_async(Runtime &runtime, McpServerSpec spec, Callback<std::optional<McpClient>> done)
{
  auto impl = std::make_shared<Impl>(detail::Access<Runtime>::impl(runtime), std::move(spec));
  std::string bad = check_spec(impl->spec);
  asio::post(impl->strand, [impl, bad, done = std::move(done)] {
    if (!bad.empty()) return call_safely(done, std::optional<Error>(Error(errc::invalid_argument, bad)), std::nullopt);
    impl->start([impl, done](std::optional<Error> error) {
      if (error) return call_safely(done, std::move(error), std::optional<McpClient>());
      call_safely(done, std::optional<Error>(), std::optional<McpClient>(McpClient(impl)));
    });
  });
}

const McpServerSpec &McpClient::spec() const { return checked(impl_).spec; }

McpServerInfo McpClient::server_info() const
{
  auto &impl = checked(impl_);
  std::lock_guard<std::mutex> lk(impl.mu);
  return impl.info_;
}

McpState McpClient::state() const { return checked(impl_).state(); }

std::string McpClient::last_error() const
{
  auto &impl = checked(impl_);
  std::lock_guard<std::mutex> lk(impl.mu);
  return impl.state_ == McpState::failed ? impl.last_error_ : std::string();
}

std::vector<McpTool> McpClient::list_tools(std::optional<std::chrono::milliseconds> timeout)
{
  checked(impl_);
  std::function<void(Callback<std::vector<McpTool>>)> start = [this, timeout](auto done) {
    list_tools_async(std::move(done), timeout);
  };
  return wait_for<std::vector<McpTool>>("list_tools", start);
}

McpCallResult McpClient::call_tool(const std::string &name, const std::string &arguments_json,
                                   std::optional<std::chrono::milliseconds> timeout)
{
  checked(impl_);
  detail::parse_argument_json(arguments_json, JsonKind::object, "call_tool: arguments_json is not valid JSON: ",
                              "call_tool: arguments_json must be a JSON object");
  std::function<void(Callback<McpCallResult>)> start = [&](auto done) {
    call_tool_async(name, arguments_json, std::move(done), timeout);
  };
  return wait_for<McpCallResult>("call_tool", start);
}

std::chrono::microseconds McpClient::ping(std::optional<std::chrono::milliseconds> timeout)
{
  checked(impl_);
  std::function<void(Callback<std::chrono::microseconds>)> start = [this, timeout](auto done) {
    ping_async(std::move(done), timeout);
  };
  return wait_for<std::chrono::microseconds>("ping", start);
}

McpServerInfo McpClient::restart()
{
  checked(impl_);
  std::function<void(Callback<McpServerInfo>)> start = [this](auto done) { restart_async(std::move(done)); };
  return wait_for<McpServerInfo>("restart", start);
}

void McpClient::close()
{
  auto impl = impl_;
  if (!impl) return;
  if (detail::on_io_thread()) {
    // No waiting here: pending callbacks run now if this is the client's strand, else soon.
    impl->on_strand([impl] { impl->close(nullptr); });
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  impl->on_strand([impl, done] { impl->close([done] { done->set_value(); }); });
  future.wait();
}

void McpClient::Call::cancel()
{
  if (cancel_) cancel_();
}

void McpClient::list_tools_async(Callback<std::vector<McpTool>> done, std::optional<std::chrono::milliseconds> timeout)
{
  auto impl = impl_;
  if (!impl) throw Error(errc::invalid_argument, "this McpClient was moved from");
  auto deadline = Clock::now() + timeout.value_or(impl->spec.request_timeout);
  impl->on_strand([impl, deadline, done = std::move(done)] {
    impl->list_page("", std::make_shared<std::vector<McpTool>>(), 0, deadline, done);
  });
}

namespace {

McpCallResult call_result(const JsonView &r, std::chrono::microseconds elapsed)
{
  McpCallResult out;
  out.content_json = r["content"].is_array() ? r["content"].dump() : "[]";
  if (r["structuredContent"].exists()) out.structured_json = r["structuredContent"].dump();
  out.is_error = r["isError"].boolean().value_or(false);
  out.elapsed = elapsed;
  return out;
}

}  // namespace

McpClient::Call McpClient::call_tool_async(const std::string &name, const std::string &arguments_json,
                                           Callback<McpCallResult> done,
                                           std::optional<std::chrono::milliseconds> timeout)
{
  auto impl = impl_;
  if (!impl) throw Error(errc::invalid_argument, "this McpClient was moved from");
  auto id = std::make_shared<std::int64_t>(0);  // set on the strand when the request is sent
  std::string params = R"({"name":)";
  append_json_string(params, name);
  std::optional<Error> bad;
  try {
    params += R"(,"arguments":)" +
              detail::parse_argument_json(
                  arguments_json, JsonKind::object,
                  "call_tool: arguments_json is not valid JSON: ", "call_tool: arguments_json must be a JSON object")
                  .dump() +
              "}";
  } catch (const Error &e) {
    bad = e;
  }
  auto ms = timeout.value_or(impl->spec.request_timeout);
  asio::post(impl->strand, [impl, id, params, ms, bad, name, done = std::move(done)] {
    if (bad) return call_safely(done, bad, McpCallResult());
    auto sent = Clock::now();
    *id = impl->request("tools/call", params, ms, [done, sent](std::optional<Error> error, const JsonView &r) {
      if (error) return call_safely(done, std::move(error), McpCallResult());
      auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
      call_safely(done, std::optional<Error>(), call_result(r, elapsed));
    });
  });
  Call call;
  std::weak_ptr<Impl> w = impl;
  call.cancel_ = [w, id, name] {
    auto self = w.lock();
    if (!self) return;
    self->on_strand([self, id, name] {
      if (*id) self->cancel(*id, errc::cancelled, "call of tool '" + name + "' on " + self->who() + " was cancelled");
    });
  };
  return call;
}

void McpClient::ping_async(Callback<std::chrono::microseconds> done, std::optional<std::chrono::milliseconds> timeout)
{
  auto impl = impl_;
  if (!impl) throw Error(errc::invalid_argument, "this McpClient was moved from");
  auto ms = timeout.value_or(impl->spec.request_timeout);
  impl->on_strand([impl, ms, done = std::move(done)] {
    auto sent = Clock::now();
    impl->request("ping", "{}", ms, [done, sent](std::optional<Error> error, const JsonView &) {
      auto rtt = error ? std::chrono::microseconds(0)
                       : std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
      call_safely(done, std::move(error), rtt);
    });
  });
}

void McpClient::restart_async(Callback<McpServerInfo> done)
{
  auto impl = impl_;
  if (!impl) throw Error(errc::invalid_argument, "this McpClient was moved from");
  impl->on_strand([impl, done = std::move(done)] {
    impl->close([impl, done] {
      impl->start([impl, done](std::optional<Error> error) {
        McpServerInfo info;
        if (!error) {
          std::lock_guard<std::mutex> lk(impl->mu);
          info = impl->info_;
        }
        call_safely(done, std::move(error), std::move(info));
      });
    });
  });
}

CCB_END_NAMESPACE
