// _ccbridge: the C++ engine as seen from Python. Deliberately small: runs, sessions and the server,
// with messages handed over as Python dicts built from the already-parsed JSON. The Pythonic API
// (the official SDK's names, dataclasses, asyncio) lives in the pure-Python package around it.
//
// Threads and the GIL: every call that waits (pull, open, control requests, close, server stop)
// releases the GIL; MCP clients do not wait at all but report to a Python callable (see PyMcp). Waits are cut into short slices so that Ctrl-C (a pending signal) interrupts
// them with KeyboardInterrupt. C++ callbacks (stderr lines, permissions, hooks, tools) run on
// ccbridge threads and take the GIL only while calling into Python; once the interpreter is
// shutting down they no longer call Python at all.
#include <ccbridge/ccbridge.hpp>
#include <ccbridge/mcp_client.hpp>
#include <ccbridge/server.hpp>
#include <ccbridge/version.h>

#include "py_json.hpp"
#include "py_messages.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace std::chrono_literals;

void bind_session_history(py::module_ &m);  // session_history.cpp

namespace {

std::atomic<bool> g_exiting{false};

bool python_alive() { return !g_exiting.load() && Py_IsInitialized() != 0; }

// The C++ threads' visits to Python (callbacks, releasing Python objects): refused once the
// interpreter starts to exit, and the visits under way are waited for (mark_exiting()), so that no
// thread asks for the GIL during finalization: Python ends such a thread with pthread_exit, whose
// forced unwind through a noexcept frame aborts the process ("terminate called without an active
// exception", seen once at the exit of a program with a stderr callback).
std::mutex g_visits_mu;
std::condition_variable g_visits_cv;
int g_visits = 0;

class PythonVisit {
public:
  PythonVisit()
  {
    std::lock_guard<std::mutex> lk(g_visits_mu);
    if (!python_alive()) return;
    ++g_visits;
    admitted_ = true;
  }
  ~PythonVisit()
  {
    if (!admitted_) return;
    std::lock_guard<std::mutex> lk(g_visits_mu);
    if (--g_visits == 0) g_visits_cv.notify_all();
  }
  PythonVisit(const PythonVisit &) = delete;
  PythonVisit &operator=(const PythonVisit &) = delete;
  explicit operator bool() const { return admitted_; }

private:
  bool admitted_ = false;
};

// atexit (with the GIL): no new visits; those under way may finish (they need the GIL, so it is
// released meanwhile), within a bound, so that a callback stuck in Python cannot hold the exit.
void mark_exiting()
{
  std::unique_lock<std::mutex> lk(g_visits_mu);
  g_exiting = true;
  py::gil_scoped_release nogil;
  g_visits_cv.wait_for(lk, std::chrono::seconds(5), [] { return g_visits == 0; });
}

// A Python object owned by C++ callbacks, which may be destroyed on any thread.
struct PyRef {
  py::object obj;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  PyRef(const PyRef &) = delete;
  PyRef &operator=(const PyRef &) = delete;
  ~PyRef()
  {
    if (PythonVisit visit; visit) {
      py::gil_scoped_acquire gil;
      obj = py::object();
    } else {
      obj.release();  // the interpreter is going away; leaking beats touching it
    }
  }
};
using PyFn = std::shared_ptr<PyRef>;

PyFn hold(py::object o) { return o.is_none() ? nullptr : std::make_shared<PyRef>(std::move(o)); }

// The process-wide runtime every run of the module uses (two I/O threads), made on first use.
ccbridge::Runtime &runtime()
{
  static ccbridge::Runtime rt(2);
  return rt;
}

// ---- JSON -> Python ------------------------------------------------------------------------

py::object to_python(const ccbridge::JsonView &v)
{
  using K = ccbridge::JsonKind;
  switch (v.kind()) {
  case K::missing:
  case K::null: return py::none();
  case K::boolean: return py::bool_(*v.boolean());
  case K::number:
    if (auto i = v.int64()) return py::int_(*i);
    return py::float_(*v.number());
  case K::string: {
    auto s = *v.string();
    return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
  }
  case K::array: {
    py::list out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = to_python(v[i]);
    return std::move(out);
  }
  case K::object: {
    py::dict out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto k = v.key_at(i);
      out[py::str(k.data(), k.size())] = to_python(v.value_at(i));
    }
    return std::move(out);
  }
  }
  return py::none();
}

// A message for Python: its dict, or for a line that could not be used a tuple
// ("invalid_line", error id, description, the line or its start).
ccbridge::detail::python::MessageClasses &message_classes()
{
  static auto *classes = new ccbridge::detail::python::MessageClasses();  // made with the GIL; never freed
  return *classes;
}

py::object message_to_python(const ccbridge::Message &m)
{
  if (m.type() == ccbridge::MessageType::invalid_line) {
    const auto &e = m.line_error();
    auto raw = m.raw();
    return py::make_tuple("invalid_line", ccbridge::errc_name(static_cast<ccbridge::errc>(e.code.value())),
                          e.description,
                          py::reinterpret_steal<py::object>(
                              PyUnicode_DecodeUTF8(raw.data(), static_cast<Py_ssize_t>(raw.size()), "replace")));
  }
  // One pass from the line's bytes; the DOM route is the fallback (it never fails on a line the
  // engine accepted, but the builder's allocation might).
  static ccbridge::detail::python::PyJsonBuilder builder;  // used with the GIL held only
  if (PyObject *o = builder.parse(m.raw())) {
    // Assistant lines become their dataclass here (py_messages.hpp); the rest, and anything
    // irregular, are parsed by the package (_parse.py).
    if (m.type() == ccbridge::MessageType::assistant) {
      if (PyObject *typed = message_classes().assistant(o)) {
        Py_DECREF(o);
        return py::reinterpret_steal<py::object>(typed);
      }
    }
    return py::reinterpret_steal<py::object>(o);
  }
  return to_python(m.json());
}

py::dict outcome_to_python(const ccbridge::RunOutcome &o)
{
  py::dict d;
  d["ok"] = o.ok();
  d["error"] = o.error ? ccbridge::errc_name(static_cast<ccbridge::errc>(o.error.value())) : "";
  d["message"] = o.message;
  d["exit_code"] = o.exit.code;
  d["signal"] = o.exit.signal;
  d["stderr_tail"] = o.stderr_tail;
  d["messages"] = o.messages;
  d["last_error_result"] = o.last_error_result ? to_python(o.last_error_result->json()) : py::none();
  return d;
}

// ---- waiting without holding the GIL, interruptible by Ctrl-C ----------------------------------

void check_signals()
{
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// Up to `max` messages: waits up to `timeout_s` (< 0: forever) for the first, then takes what is
// already there. Returns None at the end of the run, [] on timeout.
py::object next_batch(ccbridge::Stream &stream, std::size_t max, double timeout_s)
{
  using clock = std::chrono::steady_clock;
  const bool forever = timeout_s < 0;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(forever ? 0 : timeout_s));
  std::vector<ccbridge::Message> got;
  bool ended = false;
  if (max == 0) max = 1;
  for (;;) {
    {
      py::gil_scoped_release nogil;
      auto slice = std::chrono::milliseconds(100);
      if (!forever) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        slice = std::max(0ms, std::min(slice, left));
      }
      ccbridge::Message m;
      auto st = stream.pull(m, slice);
      if (st == ccbridge::PullStatus::message) {
        got.push_back(std::move(m));
        while (got.size() < max && (st = stream.pull(m, 0ms)) == ccbridge::PullStatus::message) got.push_back(std::move(m));
      }
      if (st == ccbridge::PullStatus::end && got.empty()) ended = true;
    }
    if (ended) return py::none();
    if (!got.empty()) break;
    check_signals();
    if (!forever && clock::now() >= deadline) break;
  }
  py::list out(got.size());
  for (std::size_t i = 0; i < got.size(); ++i) out[i] = message_to_python(got[i]);
  return std::move(out);
}

// Runs `fn` without the GIL: C++ threads may need it meanwhile (callbacks into Python).
template <class Fn> auto without_gil(Fn &&fn)
{
  py::gil_scoped_release nogil;
  return fn();
}

// Resets `owner` (a handle whose destructor waits for ccbridge threads, which may need the GIL)
// without the GIL when this thread holds it.
template <class Owner> void reset_without_gil(Owner &owner)
{
  if (python_alive() && PyGILState_Check()) {
    py::gil_scoped_release nogil;
    owner.reset();
  } else {
    owner.reset();
  }
}

ccbridge::StderrCallback stderr_callback(const py::object &fn)
{
  auto f = hold(fn);
  if (!f) return {};
  return [f](std::string_view line) {
    PythonVisit visit;
    if (!visit) return;
    py::gil_scoped_acquire gil;
    try {
      f->obj(py::str(line.data(), line.size()));
    } catch (py::error_already_set &e) {
      e.discard_as_unraisable("ccbridge stderr callback");
    }
  };
}

ccbridge::Options options_from(const std::string &options_json, const py::object &on_stderr)
{
  auto o = ccbridge::options_from_json(options_json);
  o.stderr_callback = stderr_callback(on_stderr);
  // As the official Python SDK sets them: the entry point as a default (a name the CLI does not
  // know as an SDK's made it describe agents in every request, ~270 input tokens), and the SDK's
  // version always (the CLI puts it in its User-Agent).
  o.env.emplace("CLAUDE_CODE_ENTRYPOINT", "sdk-py");
  o.env["CLAUDE_AGENT_SDK_VERSION"] = CCB_VERSION_STRING;
  return o;
}

// ---- transcript mirror ---------------------------------------------------------------------

// The transcript_mirror frames of a run with a SessionStore (Options::session_mirror): kept here,
// out of the message stream, until the package's store batcher takes them (between batches of
// messages, and once more after the CLI has exited, so that what it writes last is not lost).
struct MirrorSink {
  std::mutex mu;
  std::vector<ccbridge::Message> frames;
};
using MirrorSinkPtr = std::shared_ptr<MirrorSink>;

MirrorSinkPtr mirror_sink(ccbridge::Options &o, bool mirror)
{
  if (!mirror) return nullptr;
  o.session_mirror = true;
  auto sink = std::make_shared<MirrorSink>();
  o.transcript_mirror_callback = [sink](const ccbridge::Message &frame) {
    std::lock_guard<std::mutex> lk(sink->mu);
    sink->frames.push_back(frame);
  };
  return sink;
}

// The frames received since the last call, as dicts ([] without a sink).
py::list take_mirror(const MirrorSinkPtr &sink)
{
  py::list out;
  if (!sink) return out;
  std::vector<ccbridge::Message> frames;
  {
    std::lock_guard<std::mutex> lk(sink->mu);
    frames.swap(sink->frames);
  }
  for (const auto &f : frames) out.append(message_to_python(f));
  return out;
}

// ---- query ---------------------------------------------------------------------------------

struct PyStream {
  PyStream(ccbridge::Stream s, MirrorSinkPtr m) : stream(std::move(s)), mirror(std::move(m)) {}
  ccbridge::Stream stream;
  MirrorSinkPtr mirror;
  py::object next_batch(std::size_t max, double timeout_s) { return ::next_batch(stream, max, timeout_s); }
  py::list take_mirror() { return ::take_mirror(mirror); }
  void close() { without_gil([&] { stream.close(); }); }
  void cancel() { stream.cancel(); }
  py::object outcome()
  {
    if (!stream.finished()) return py::none();
    return outcome_to_python(stream.outcome());
  }
  // Closing waits for the process, whose stderr callback may need the GIL.
  ~PyStream()
  {
    if (python_alive() && PyGILState_Check()) {
      py::gil_scoped_release nogil;
      ccbridge::Stream closing = std::move(stream);
    }
  }
};

std::unique_ptr<PyStream> start_query(const std::string &prompt, bool prompt_is_content, const std::string &options_json,
                                      const py::object &on_stderr, bool mirror)
{
  auto o = options_from(options_json, on_stderr);
  auto sink = mirror_sink(o, mirror);
  return without_gil([&] {
    auto s = prompt_is_content ? ccbridge::query_content(runtime(), prompt, o) : ccbridge::query(runtime(), prompt, o);
    return std::make_unique<PyStream>(std::move(s), std::move(sink));
  });
}

// ---- session -------------------------------------------------------------------------------

struct PyPermissionReply {
  ccbridge::PermissionReply reply;
  void allow(std::optional<std::string> updated_input_json, std::optional<std::string> updated_permissions_json)
  {
    if (!updated_input_json && !updated_permissions_json) {
      reply(ccbridge::PermissionDecision::allow());
    } else {
      reply(ccbridge::PermissionDecision::allow_with(updated_input_json.value_or(""), updated_permissions_json.value_or("")));
    }
  }
  void deny(const std::string &message, bool interrupt) { reply(ccbridge::PermissionDecision::deny(message, interrupt)); }
  void fail(const std::string &message) { reply.fail(message); }
  bool cancelled() const { return reply.cancelled(); }
  bool answered() const { return reply.answered(); }
};

// Python gets (tool_name, input, request, reply) and answers through reply, now or later.
ccbridge::PermissionCallback permission_callback(const py::object &fn)
{
  auto f = hold(fn);
  if (!f) return {};
  return [f](const ccbridge::PermissionRequest &rq, ccbridge::PermissionReply reply) {
    PythonVisit visit;
    if (!visit) throw ccbridge::Error(ccbridge::errc::closed, "the Python interpreter is shutting down");
    py::gil_scoped_acquire gil;
    try {
      f->obj(py::str(rq.tool_name), to_python(rq.input), to_python(rq.request), PyPermissionReply{reply});
    } catch (py::error_already_set &e) {
      throw std::runtime_error(e.what());  // becomes an error answer carrying the message
    }
  };
}

std::optional<std::string> opt_str(const py::dict &d, const char *k)
{
  if (!d.contains(k) || d[k].is_none()) return std::nullopt;
  return py::cast<std::string>(d[k]);
}
std::optional<bool> opt_bool(const py::dict &d, const char *k)
{
  if (!d.contains(k) || d[k].is_none()) return std::nullopt;
  return py::cast<bool>(d[k]);
}

// A Python hook gets the input dict and the tool_use_id (or None) and returns a dict with the wire names ("continue",
// "stopReason", ...; "hookSpecificOutput" already as JSON text).
ccbridge::HookCallback hook_callback(py::object fn)
{
  auto f = hold(std::move(fn));
  return [f](const ccbridge::HookInput &in) {
    PythonVisit visit;
    if (!visit) throw ccbridge::Error(ccbridge::errc::closed, "the Python interpreter is shutting down");
    py::gil_scoped_acquire gil;
    ccbridge::HookOutput out;
    try {
      py::object r = f->obj(to_python(in.input), in.tool_use_id.empty() ? py::object(py::none()) : py::str(in.tool_use_id));
      if (r.is_none()) return out;
      auto d = py::cast<py::dict>(r);
      out.continue_ = opt_bool(d, "continue");
      out.stop_reason = opt_str(d, "stopReason");
      out.suppress_output = opt_bool(d, "suppressOutput");
      out.decision = opt_str(d, "decision");
      out.reason = opt_str(d, "reason");
      out.system_message = opt_str(d, "systemMessage");
      out.hook_specific_json = opt_str(d, "hookSpecificOutput").value_or("");
    } catch (py::error_already_set &e) {
      throw std::runtime_error(e.what());
    } catch (py::cast_error &e) {
      throw std::runtime_error(std::string("a hook returned something that is not a dict of hook output: ") + e.what());
    }
    return out;
  };
}

// hooks: {event: [(matcher or None, [callables], timeout seconds or None)]}
std::map<std::string, std::vector<ccbridge::HookMatcher>> hooks_from(const py::dict &hooks)
{
  std::map<std::string, std::vector<ccbridge::HookMatcher>> out;
  for (auto item : hooks) {
    auto event = py::cast<std::string>(item.first);
    for (auto m : py::cast<py::list>(item.second)) {
      auto t = py::cast<py::tuple>(m);
      ccbridge::HookMatcher hm;
      if (!t[0].is_none()) hm.matcher = py::cast<std::string>(t[0]);
      for (auto cb : py::cast<py::list>(t[1])) hm.callbacks.push_back(hook_callback(py::reinterpret_borrow<py::object>(cb)));
      if (!t[2].is_none()) hm.timeout = std::chrono::seconds(static_cast<long long>(py::cast<double>(t[2])));
      out[event].push_back(std::move(hm));
    }
  }
  return out;
}

// A ToolReply as Python sees it: called once with (content blocks JSON text, is_error), from any
// thread, now or later. Answering and dropping only post to the session's strand; both release
// the GIL anyway, so that nothing C++ does there can wait on a thread that needs it.
struct PyToolReply {
  ccbridge::ToolReply reply;
  explicit PyToolReply(ccbridge::ToolReply r) : reply(std::move(r)) {}
  PyToolReply(const PyToolReply &) = delete;
  PyToolReply &operator=(const PyToolReply &) = delete;
  void answer(const std::string &content_json, bool is_error) const
  {
    ccbridge::ToolResult r;
    r.content_json = content_json;
    r.is_error = is_error;
    reply(r);  // called with the GIL released (call_guard)
  }
  bool cancelled() const { return reply.cancelled(); }
  bool answered() const { return reply.answered(); }
  // The last copy, dropped unanswered, sends the CLI an error result.
  ~PyToolReply()
  {
    if (python_alive() && PyGILState_Check()) {
      py::gil_scoped_release nogil;
      ccbridge::ToolReply dropping = std::move(reply);
    }
  }
};

// Python gets (arguments, reply) on a callback thread and must return at once: it answers through
// reply, now or later (an async tool from the caller's event loop), so no callback thread waits
// for it. An exception that escapes the Python side becomes an error result carrying its text.
ccbridge::AsyncToolHandler tool_handler(py::object fn)
{
  auto f = hold(std::move(fn));
  return [f](const ccbridge::JsonView &args, ccbridge::ToolReply reply) {
    PythonVisit visit;
    if (!visit) return reply(ccbridge::ToolResult::error("the Python interpreter is shutting down"));
    std::optional<std::string> failed;
    {
      py::gil_scoped_acquire gil;
      try {
        f->obj(to_python(args), py::cast(new PyToolReply(reply), py::return_value_policy::take_ownership));
      } catch (py::error_already_set &e) {
        failed = e.what();
      }
    }
    if (failed) reply(ccbridge::ToolResult::error(*failed));  // ignored if Python answered first
  };
}

// mcp_servers: [(name, version, [(tool, description, input_schema_json, handler[, annotations_json,
// meta_json])])]; a handler gets the arguments dict and a ToolReply (see tool_handler).
std::vector<ccbridge::McpServer> mcp_servers_from(const py::list &servers)
{
  std::vector<ccbridge::McpServer> out;
  for (auto s : servers) {
    auto t = py::cast<py::tuple>(s);
    ccbridge::McpServer srv;
    srv.name = py::cast<std::string>(t[0]);
    srv.version = py::cast<std::string>(t[1]);
    for (auto tool : py::cast<py::list>(t[2])) {
      auto tt = py::cast<py::tuple>(tool);
      ccbridge::Tool x;
      x.name = py::cast<std::string>(tt[0]);
      x.description = py::cast<std::string>(tt[1]);
      x.input_schema_json = py::cast<std::string>(tt[2]);
      x.async_handler = tool_handler(py::reinterpret_borrow<py::object>(tt[3]));
      if (tt.size() > 4) x.annotations_json = py::cast<std::string>(tt[4]);
      if (tt.size() > 5) x.meta_json = py::cast<std::string>(tt[5]);
      srv.tools.push_back(std::move(x));
    }
    out.push_back(std::move(srv));
  }
  return out;
}

py::object json_result(const ccbridge::JsonView &v) { return to_python(v); }

struct PySession {
  std::optional<ccbridge::Session> session;
  MirrorSinkPtr mirror;  // outlives the session: close() leaves the CLI's last frames in it

  ccbridge::Session &s()
  {
    if (!session) throw ccbridge::Error(ccbridge::errc::closed, "the session is closed");
    return *session;
  }
  void send(const std::string &text, bool client_composed) { without_gil([&] { s().send(text, client_composed); }); }
  void send_content(const std::string &json, bool client_composed)
  {
    without_gil([&] { s().send_content(json, client_composed); });
  }
  void end_input() { s().end_input(); }
  void end_input_when_done(std::optional<long long> ceiling_ms)
  {
    std::optional<std::chrono::milliseconds> ceiling;
    if (ceiling_ms) ceiling = std::chrono::milliseconds(*ceiling_ms < 0 ? 0 : *ceiling_ms);
    s().end_input_when_done(ceiling);
  }
  py::object next_batch(std::size_t max, double timeout_s) { return ::next_batch(s().messages(), max, timeout_s); }
  py::list take_mirror() { return ::take_mirror(mirror); }
  py::object interrupt() { return json_result(without_gil([&] { return s().interrupt(); })); }
  void set_permission_mode(const std::string &mode) { without_gil([&] { s().set_permission_mode(mode); }); }
  void set_model(std::optional<std::string> model)
  {
    without_gil([&] { s().set_model(model ? std::optional<std::string_view>(*model) : std::nullopt); });
  }
  void stop_task(const std::string &task_id) { without_gil([&] { s().stop_task(task_id); }); }
  void toggle_mcp_server(const std::string &name, bool enabled) { without_gil([&] { s().toggle_mcp_server(name, enabled); }); }
  void reconnect_mcp_server(const std::string &name) { without_gil([&] { s().reconnect_mcp_server(name); }); }
  py::object rewind_files(const std::string &id) { return json_result(without_gil([&] { return s().rewind_files(id); })); }
  py::object control(const std::string &subtype, const std::string &fields_json, std::optional<double> timeout_s)
  {
    std::optional<std::chrono::milliseconds> t;
    if (timeout_s) t = std::chrono::milliseconds(static_cast<long long>(*timeout_s * 1000));
    return json_result(without_gil([&] { return s().control(subtype, fields_json, t); }));
  }
  py::object server_info() { return json_result(s().server_info()); }
  int pid() { return session ? session->pid() : 0; }
  py::object close()
  {
    if (!session) return py::none();
    auto outcome = without_gil([&] { return session->close(); });
    auto d = outcome_to_python(outcome);
    without_gil([&] { session.reset(); });  // the CLI is gone; the destructor only frees
    return d;
  }
  ~PySession()
  {
    if (session) reset_without_gil(session);
  }
};

std::unique_ptr<PySession> open_session(const std::string &options_json, const py::object &on_stderr,
                                        const py::object &can_use_tool, const py::dict &hooks, const py::list &mcp_servers,
                                        bool initialize, double initialize_timeout_s, double control_timeout_s,
                                        const std::string &initialize_fields, bool mirror)
{
  ccbridge::SessionOptions so;
  so.options = options_from(options_json, on_stderr);
  auto sink = mirror_sink(so.options, mirror);
  so.can_use_tool = permission_callback(can_use_tool);
  so.hooks = hooks_from(hooks);
  so.mcp_servers = mcp_servers_from(mcp_servers);
  so.initialize = initialize;
  so.initialize_fields = initialize_fields;
  so.initialize_timeout = std::chrono::milliseconds(static_cast<long long>(initialize_timeout_s * 1000));
  so.control_timeout = std::chrono::milliseconds(static_cast<long long>(control_timeout_s * 1000));
  auto out = std::make_unique<PySession>();
  out->mirror = std::move(sink);
  out->session.emplace(without_gil([&] { return ccbridge::Session::open(runtime(), std::move(so)); }));
  return out;
}

// ---- server --------------------------------------------------------------------------------

struct PyServer {
  std::unique_ptr<ccbridge::Server> server;
  explicit PyServer(const std::string &config_json, const py::object &log_sink)
  {
    auto cfg = ccbridge::server_config_from_json(config_json);
    if (auto f = hold(log_sink)) {
      cfg.log.sink = [f](std::string_view line) {
        PythonVisit visit;
        if (!visit) return;
        py::gil_scoped_acquire gil;
        try {
          f->obj(py::str(line.data(), line.size()));
        } catch (py::error_already_set &e) {
          e.discard_as_unraisable("ccbridge server log sink");
        }
      };
    }
    server = std::make_unique<ccbridge::Server>(runtime(), std::move(cfg));
  }
  void start() { without_gil([&] { server->start(); }); }
  void stop() { without_gil([&] { server->stop(); }); }
  py::list endpoints()
  {
    py::list out;
    for (const auto &e : server->endpoints()) out.append(py::make_tuple(e.host, e.port, e.profiles));
    return out;
  }
  ~PyServer()
  {
    if (python_alive() && PyGILState_Check()) {
      py::gil_scoped_release nogil;
      server.reset();
    }
  }
};

// ---- terminals -------------------------------------------------------------------------------

// A Terminal whose events go into a queue Python reads, so the I/O thread never takes the GIL.
// Past kMaxUnread unread bytes the PTY is not read (the program blocks) until Python catches up.
class PyTerminal {
public:
  explicit PyTerminal(const std::string &options_json) : q_(std::make_shared<Queue>())
  {
    auto options = ccbridge::terminal_options_from_json(options_json);
    ccbridge::TerminalEvents ev;
    ev.output = [q = q_](std::string_view bytes, std::uint64_t seq) { q->push(bytes, seq); };
    ev.exit = [q = q_](const ccbridge::TerminalExit &x) { q->finish(x); };
    terminal_ = std::make_unique<ccbridge::Terminal>(ccbridge::Terminal::start(runtime(), options, std::move(ev)));
    std::lock_guard<std::mutex> lk(q_->mu);
    q_->terminal = terminal_.get();
    if (q_->paused) terminal_->pause_reading();  // over the limit before the pointer was set
  }
  ~PyTerminal() { close(); }

  // (seq, bytes) of the next chunk, None at the end (every chunk read and the exit known), or
  // raises TimeoutError. timeout < 0: forever.
  py::object read(double timeout_s)
  {
    using clock = std::chrono::steady_clock;
    const bool forever = timeout_s < 0;
    const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(forever ? 0 : timeout_s));
    for (;;) {
      std::optional<Chunk> got;
      bool ended = false;
      {
        py::gil_scoped_release nogil;
        auto slice = forever ? 100ms : std::max(0ms, std::min<std::chrono::milliseconds>(100ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now())));
        got = take(slice, ended);
      }
      if (got) return py::make_tuple(got->seq, py::bytes(got->bytes));
      if (ended) return py::none();
      check_signals();
      if (!forever && clock::now() >= deadline) {
        PyErr_SetString(PyExc_TimeoutError, "no terminal output within the timeout");
        throw py::error_already_set();
      }
    }
  }

  void write(const py::bytes &data)
  {
    std::string bytes = data;
    if (terminal_) without_gil([&] { terminal_->write(std::move(bytes)); });
  }
  void resize(std::uint16_t cols, std::uint16_t rows)
  {
    if (terminal_) terminal_->resize(cols, rows);
  }
  void stop(double grace_s, double kill_after_s)
  {
    auto ms = [](double s) { return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000)); };
    if (terminal_) terminal_->stop(ms(grace_s), ms(kill_after_s));
  }
  int pid() const { return terminal_ ? terminal_->pid() : 0; }
  bool running() const { return terminal_ && terminal_->running(); }
  std::size_t unread() const
  {
    std::lock_guard<std::mutex> lk(q_->mu);
    return q_->bytes;
  }
  py::object exit_info() const
  {
    std::lock_guard<std::mutex> lk(q_->mu);
    if (!q_->exit) return py::none();
    const auto &x = *q_->exit;
    py::dict d;
    d["exit_code"] = x.exit_code ? py::object(py::int_(*x.exit_code)) : py::none();
    d["signal"] = x.signal;
    d["reason"] = x.reason;
    d["error"] = x.error ? ccbridge::errc_name(static_cast<ccbridge::errc>(x.error.value())) : "";
    return std::move(d);
  }
  // Stops the program without waiting for it; no event reaches the queue afterwards.
  void close()
  {
    {
      std::lock_guard<std::mutex> lk(q_->mu);
      q_->terminal = nullptr;  // before the handle goes: an event may be waiting for this lock
    }
    if (terminal_) reset_without_gil(terminal_);
  }

private:
  static constexpr std::size_t kMaxUnread = 1 << 20;
  struct Chunk {
    std::uint64_t seq;
    std::string bytes;
  };
  struct Queue {
    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<Chunk> chunks;
    std::size_t bytes = 0;
    bool paused = false;
    std::optional<ccbridge::TerminalExit> exit;
    ccbridge::Terminal *terminal = nullptr;

    void push(std::string_view data, std::uint64_t seq)
    {
      std::lock_guard<std::mutex> lk(mu);
      chunks.push_back({seq, std::string(data)});
      bytes += data.size();
      if (bytes >= kMaxUnread && !paused) {
        paused = true;
        if (terminal) terminal->pause_reading();  // from its own event: before the next read
      }
      cv.notify_all();
    }
    void finish(const ccbridge::TerminalExit &x)
    {
      std::lock_guard<std::mutex> lk(mu);
      exit = x;
      cv.notify_all();
    }
  };

  std::optional<Chunk> take(std::chrono::milliseconds wait, bool &ended)
  {
    std::unique_lock<std::mutex> lk(q_->mu);
    q_->cv.wait_for(lk, wait, [&] { return !q_->chunks.empty() || q_->exit; });
    if (q_->chunks.empty()) {
      ended = q_->exit.has_value();
      return std::nullopt;
    }
    Chunk c = std::move(q_->chunks.front());
    q_->chunks.pop_front();
    q_->bytes -= c.bytes.size();
    if (q_->paused && q_->bytes < kMaxUnread / 2) {
      q_->paused = false;
      if (q_->terminal) q_->terminal->resume_reading();
    }
    return c;
  }

  std::shared_ptr<Queue> q_;
  std::unique_ptr<ccbridge::Terminal> terminal_;
};

// ---- MCP clients --------------------------------------------------------------------------------

// The module's Error class (set once the module is initialized).
py::handle g_error_type;

// A ccbridge::Error as the module's Error instance, as the exception translator raises it.
py::object error_object(const ccbridge::Error &e)
{
  const char *name = e.code().category() == ccbridge::error_category()
                         ? ccbridge::errc_name(static_cast<ccbridge::errc>(e.code().value()))
                         : "internal";
  return g_error_type(name, e.what(), py::none(), py::none());
}

py::object json_or_none(const std::string &json) { return json.empty() ? py::none() : to_python(ccbridge::parse_json(json)); }

py::dict tool_to_python(const ccbridge::McpTool &t)
{
  py::dict d;
  d["name"] = t.name;
  d["title"] = t.title.empty() ? py::object(py::none()) : py::str(t.title);
  d["description"] = t.description.empty() ? py::object(py::none()) : py::str(t.description);
  d["input_schema"] = json_or_none(t.input_schema_json);
  d["output_schema"] = json_or_none(t.output_schema_json);
  d["annotations"] = json_or_none(t.annotations_json);
  return d;
}

py::dict call_result_to_python(const ccbridge::McpCallResult &r)
{
  py::dict d;
  d["content"] = json_or_none(r.content_json);
  d["structured_content"] = json_or_none(r.structured_json);
  d["is_error"] = r.is_error;
  d["elapsed"] = std::chrono::duration<double>(r.elapsed).count();
  return d;
}

// Runs the Python `done(error, value)` with the GIL: error is an Error instance or None; value is
// make() (built with the GIL) or None. On a ccbridge I/O thread: Python's side must return at once
// (it hands the outcome to its event loop).
template <class Make> void deliver(const PyFn &done, const std::optional<ccbridge::Error> &error, Make make)
{
  if (!done) return;
  PythonVisit visit;
  if (!visit) return;
  py::gil_scoped_acquire gil;
  try {
    py::object err = py::none(), value = py::none();
    if (error) {
      err = error_object(*error);
    } else {
      try {
        value = make();
      } catch (const std::exception &x) {  // the awaiting side must hear of it all the same
        err = error_object(ccbridge::Error(ccbridge::errc::internal, std::string("MCP result for Python: ") + x.what()));
      }
    }
    done->obj(err, value);
  } catch (py::error_already_set &e) {
    e.discard_as_unraisable("ccbridge MCP client callback");
  }
}

std::optional<std::chrono::milliseconds> timeout_ms(std::optional<double> seconds)
{
  if (!seconds) return std::nullopt;
  if (!(*seconds > 0) || *seconds > 86400.0 * 365) {
    throw ccbridge::Error(ccbridge::errc::invalid_argument, "timeout must be a positive number of seconds");
  }
  return std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(*seconds * 1000)));
}

// A pending call_tool: cancel() sends notifications/cancelled and completes it with Error(cancelled).
struct PyMcpCall {
  ccbridge::McpClient::Call call;
  void cancel() { call.cancel(); }  // posts to the client's strand: never waits
};

// An McpClient for Python. Every operation but close() returns at once and reports through
// `done(error, value)`, run on a ccbridge I/O thread with the GIL (so asyncio awaits it without a
// thread of its own). The client is set by connect's completion; `mu` is never held while waiting
// (for the GIL or for the client), and close() waits without the GIL, so pending callbacks can run.
class PyMcp {
public:
  ~PyMcp() { close(); }

  void connect(const std::string &spec_json, py::object done)
  {
    auto spec = ccbridge::mcp_server_spec_from_json(spec_json);
    {
      std::lock_guard<std::mutex> lk(h_->mu);
      if (h_->started) throw ccbridge::Error(ccbridge::errc::invalid_argument, "this MCP client was connected already");
      h_->started = true;
    }
    ccbridge::McpClient::connect_async(
        runtime(), std::move(spec),
        [h = h_, f = hold(std::move(done))](std::optional<ccbridge::Error> e, std::optional<ccbridge::McpClient> c) {
          if (!e && !h->store(std::move(*c))) e = ccbridge::Error(ccbridge::errc::closed, "the MCP client was closed while connecting");
          deliver(f, e, [] { return py::none(); });
        });
  }

  void list_tools(py::object done, std::optional<double> timeout)
  {
    auto t = timeout_ms(timeout);
    with_client([&](ccbridge::McpClient &c) {
      c.list_tools_async(
          [f = hold(std::move(done))](std::optional<ccbridge::Error> e, std::vector<ccbridge::McpTool> tools) {
            deliver(f, e, [&] {
              py::list out;
              for (const auto &t : tools) out.append(tool_to_python(t));
              return out;
            });
          },
          t);
    });
  }

  PyMcpCall call_tool(const std::string &name, const std::string &arguments_json, py::object done,
                      std::optional<double> timeout)
  {
    auto t = timeout_ms(timeout);
    PyMcpCall out;
    with_client([&](ccbridge::McpClient &c) {
      out.call = c.call_tool_async(
          name, arguments_json,
          [f = hold(std::move(done))](std::optional<ccbridge::Error> e, ccbridge::McpCallResult r) {
            deliver(f, e, [&] { return call_result_to_python(r); });
          },
          t);
    });
    return out;
  }

  void ping(py::object done, std::optional<double> timeout)
  {
    auto t = timeout_ms(timeout);
    with_client([&](ccbridge::McpClient &c) {
      c.ping_async(
          [f = hold(std::move(done))](std::optional<ccbridge::Error> e, std::chrono::microseconds rtt) {
            deliver(f, e, [&] { return py::float_(std::chrono::duration<double>(rtt).count()); });
          },
          t);
    });
  }

  void restart(py::object done)
  {
    with_client([&](ccbridge::McpClient &c) {
      c.restart_async([f = hold(std::move(done))](std::optional<ccbridge::Error> e, ccbridge::McpServerInfo) {
        deliver(f, e, [] { return py::none(); });
      });
    });
  }

  // Ends the server and waits for it (stdio: the shutdown ladder), without the GIL. Idempotent; a
  // connect still under way drops its client when it completes.
  void close()
  {
    std::optional<ccbridge::McpClient> c;
    {
      std::lock_guard<std::mutex> lk(h_->mu);
      h_->closed = true;
      c = std::move(h_->client);
      h_->client.reset();
    }
    if (c) reset_without_gil(c);
  }

  std::string state() const
  {
    std::lock_guard<std::mutex> lk(h_->mu);
    if (!h_->client) return h_->closed ? "closed" : "connecting";
    switch (h_->client->state()) {
    case ccbridge::McpState::connecting: return "connecting";
    case ccbridge::McpState::ready: return "ready";
    case ccbridge::McpState::failed: return "failed";
    case ccbridge::McpState::closed: break;
    }
    return "closed";
  }

  std::string last_error() const
  {
    std::lock_guard<std::mutex> lk(h_->mu);
    return h_->client ? h_->client->last_error() : std::string();
  }

  py::object server_info() const
  {
    std::optional<ccbridge::McpServerInfo> info;
    {
      std::lock_guard<std::mutex> lk(h_->mu);
      if (h_->client) info = h_->client->server_info();
    }
    if (!info) return py::none();
    py::dict d;
    d["protocol_version"] = info->protocol_version;
    d["name"] = info->name;
    d["version"] = info->version;
    d["capabilities"] = json_or_none(info->capabilities_json.empty() ? "{}" : info->capabilities_json);
    d["instructions"] = info->instructions;
    return std::move(d);
  }

private:
  struct Holder {
    mutable std::mutex mu;
    std::optional<ccbridge::McpClient> client;
    bool started = false, closed = false;
    // Keeps the client unless close() came first (then it is dropped: closed without waiting).
    bool store(ccbridge::McpClient c)
    {
      std::lock_guard<std::mutex> lk(mu);
      if (closed) return false;
      client = std::move(c);
      return true;
    }
  };

  // Runs `fn` on the client (its _async calls return at once), or raises Error(closed).
  template <class F> void with_client(F &&fn)
  {
    std::lock_guard<std::mutex> lk(h_->mu);
    if (!h_->client) {
      throw ccbridge::Error(ccbridge::errc::closed,
                            h_->closed ? "the MCP client is closed" : "the MCP client is not connected yet");
    }
    fn(*h_->client);
  }

  std::shared_ptr<Holder> h_ = std::make_shared<Holder>();
};

}  // namespace

PYBIND11_MODULE(_ccbridge, m)
{
  m.doc() = "ccbridge's C++ engine (internal: use the ccbridge package)";
  m.def(
      "_set_message_classes",
      [](py::object assistant, py::object text, py::object thinking, py::object tool_use, py::object server_tool_use,
         py::object server_tool_result) {
        if (!message_classes().set(assistant.ptr(), text.ptr(), thinking.ptr(), tool_use.ptr(), server_tool_use.ptr(),
                                   server_tool_result.ptr())) {
          throw py::type_error("_set_message_classes takes six classes");
        }
      },
      "The dataclasses next_batch() makes assistant messages of (AssistantMessage and its blocks).");
  m.attr("__version__") = CCB_VERSION_STRING;

  // Every ccbridge::Error becomes _ccbridge.Error(code_name, message, exit_code, stderr), a
  // ProcessError also with its run's outcome (a dict, as Stream.outcome()); the Python package maps
  // code names to the SDK's exception classes.
  static py::exception<ccbridge::Error> error_type(m, "Error");
  g_error_type = error_type;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ccbridge::ProcessError &e) {
      // The run's outcome too, for the SDK's exception (ResultError when it ended on an error result).
      const char *name = e.code().category() == ccbridge::error_category()
                             ? ccbridge::errc_name(static_cast<ccbridge::errc>(e.code().value()))
                             : "process_failed";
      py::object exc = py::handle(error_type.ptr())(name, e.what(), e.exit_code(), e.stderr_tail(),
                                                    outcome_to_python(e.outcome()));
      PyErr_SetObject(error_type.ptr(), exc.ptr());
    } catch (const ccbridge::Error &e) {
      const char *name = e.code().category() == ccbridge::error_category()
                             ? ccbridge::errc_name(static_cast<ccbridge::errc>(e.code().value()))
                             : "internal";
      py::object exc = py::handle(error_type.ptr())(name, e.what(), py::none(), py::none());
      PyErr_SetObject(error_type.ptr(), exc.ptr());
    }
  });

  m.def("_mark_exiting", &mark_exiting, "Stop calling into Python from C++ threads (atexit).");
  m.def("build_cli_args", [](const std::string &options_json) {
    return ccbridge::build_cli_args(ccbridge::options_from_json(options_json));
  });
  m.def("find_cli", [](const std::string &options_json) { return ccbridge::find_cli(ccbridge::options_from_json(options_json)); });

  py::class_<PyStream>(m, "Stream")
      .def("next_batch", &PyStream::next_batch, py::arg("max"), py::arg("timeout"))
      .def("close", &PyStream::close)
      .def("cancel", &PyStream::cancel)
      .def("outcome", &PyStream::outcome)
      .def("take_mirror", &PyStream::take_mirror)
      .def_property_readonly("pid", [](PyStream &s) { return s.stream.pid(); });
  m.def("query", &start_query, py::arg("prompt"), py::arg("prompt_is_content"), py::arg("options_json"),
        py::arg("on_stderr") = py::none(), py::arg("mirror") = false);

  py::class_<PyPermissionReply>(m, "PermissionReply")
      .def("allow", &PyPermissionReply::allow, py::arg("updated_input_json") = py::none(),
           py::arg("updated_permissions_json") = py::none())
      .def("deny", &PyPermissionReply::deny, py::arg("message"), py::arg("interrupt") = false)
      .def("fail", &PyPermissionReply::fail, py::arg("message"))
      .def_property_readonly("cancelled", &PyPermissionReply::cancelled)
      .def_property_readonly("answered", &PyPermissionReply::answered);

  py::class_<PyToolReply>(m, "ToolReply")
      .def("__call__", &PyToolReply::answer, py::arg("content_json"), py::arg("is_error") = false,
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("cancelled", &PyToolReply::cancelled)
      .def_property_readonly("answered", &PyToolReply::answered);

  py::class_<PySession>(m, "Session")
      .def("send", &PySession::send, py::arg("text"), py::arg("client_composed") = false)
      .def("send_content", &PySession::send_content, py::arg("content_json"), py::arg("client_composed") = false)
      .def("end_input", &PySession::end_input)
      .def("end_input_when_done", &PySession::end_input_when_done, py::arg("ceiling_ms") = py::none())
      .def("next_batch", &PySession::next_batch, py::arg("max"), py::arg("timeout"))
      .def("interrupt", &PySession::interrupt)
      .def("set_permission_mode", &PySession::set_permission_mode)
      .def("set_model", &PySession::set_model)
      .def("stop_task", &PySession::stop_task)
      .def("toggle_mcp_server", &PySession::toggle_mcp_server)
      .def("reconnect_mcp_server", &PySession::reconnect_mcp_server)
      .def("rewind_files", &PySession::rewind_files)
      .def("control", &PySession::control, py::arg("subtype"), py::arg("fields_json") = "{}", py::arg("timeout") = py::none())
      .def("server_info", &PySession::server_info)
      .def("close", &PySession::close)
      .def("take_mirror", &PySession::take_mirror)
      .def_property_readonly("pid", &PySession::pid);
  m.def("open_session", &open_session, py::arg("options_json"), py::arg("on_stderr") = py::none(),
        py::arg("can_use_tool") = py::none(), py::arg("hooks") = py::dict(), py::arg("mcp_servers") = py::list(),
        py::arg("initialize") = true, py::arg("initialize_timeout") = 60.0, py::arg("control_timeout") = 60.0,
        py::arg("initialize_fields") = "", py::arg("mirror") = false);

  py::class_<PyTerminal>(m, "Terminal")
      .def(py::init<const std::string &>(), py::arg("options_json"))
      .def("read", &PyTerminal::read, py::arg("timeout"))
      .def("write", &PyTerminal::write)
      .def("resize", &PyTerminal::resize, py::arg("cols"), py::arg("rows"))
      .def("stop", &PyTerminal::stop, py::arg("grace"), py::arg("kill_after"))
      .def("exit_info", &PyTerminal::exit_info)
      .def("close", &PyTerminal::close)
      .def_property_readonly("pid", &PyTerminal::pid)
      .def_property_readonly("running", &PyTerminal::running)
      .def_property_readonly("unread", &PyTerminal::unread);

  py::class_<PyMcpCall>(m, "McpCall").def("cancel", &PyMcpCall::cancel);
  py::class_<PyMcp>(m, "McpClient")
      .def(py::init<>())
      .def("connect", &PyMcp::connect, py::arg("spec_json"), py::arg("done"))
      .def("list_tools", &PyMcp::list_tools, py::arg("done"), py::arg("timeout") = py::none())
      .def("call_tool", &PyMcp::call_tool, py::arg("name"), py::arg("arguments_json"), py::arg("done"),
           py::arg("timeout") = py::none())
      .def("ping", &PyMcp::ping, py::arg("done"), py::arg("timeout") = py::none())
      .def("restart", &PyMcp::restart, py::arg("done"))
      .def("close", &PyMcp::close)
      .def("server_info", &PyMcp::server_info)
      .def_property_readonly("state", &PyMcp::state)
      .def_property_readonly("last_error", &PyMcp::last_error);

  py::class_<PyServer>(m, "Server")
      .def(py::init<const std::string &, const py::object &>(), py::arg("config_json"), py::arg("log_sink") = py::none())
      .def("start", &PyServer::start)
      .def("stop", &PyServer::stop)
      .def("endpoints", &PyServer::endpoints);

  bind_session_history(m);
}
