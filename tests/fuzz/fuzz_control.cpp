// Fuzz target 2: the control protocol (lib/core/control.cpp) as a Session runs it, driven the way
// the Stream drives it: the input is CLI stdout (NDJSON) fed to a real Stream::State with a
// ControlLayer attached, in chunks, on the run's strand. No process: the ProcessChannel sits on
// pipes (stdin is a pipe this target reads back; stdout is a pipe at EOF), so everything the
// library writes to the "CLI" is checked, and nothing is spawned.
//
// Before the input is fed, two requests to the CLI are pending (interrupt, set_model); the
// placeholders REQ1 and REQ2 in the input are replaced by their ids, so control_response lines
// can answer them. The handlers behind can_use_tool, hooks and an in-process MCP server answer in
// every way the API allows (allow, allow_with, deny, throw, answer later, never answer), chosen by
// the request's content. An input that starts with "#oneshot\n" runs without a control layer
// (query(): every control_request gets an error answer).
//
// Checks, besides the sanitizers: every line written to the CLI's stdin is one JSON object with
// the control frame's shape; every request's `done` runs exactly once (answer, error, or the end
// of the process); nothing is left pending or in flight after the end.
#include "fuzz_common.hpp"

#include "core/control.hpp"
#include "core/mcp.hpp"
#include "core/stream_state.hpp"
#include "detail/runtime_impl.hpp"
#include "process/channel.hpp"

#include <ccbridge/session.hpp>

#include <asio/post.hpp>

#include <array>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

using namespace ccbridge;
using detail::ControlLayer;

std::shared_ptr<detail::RuntimeImpl> &runtime()
{
  static auto *rt = new std::shared_ptr<detail::RuntimeImpl>(std::make_shared<detail::RuntimeImpl>(1));
  return *rt;
}

template <class Fn> void on_strand(detail::StreamState &st, Fn &&fn)
{
  std::promise<void> done;
  asio::post(st.strand_, [&] {
    fn();
    done.set_value();
  });
  done.get_future().get();
}

// Two tasks that wait for each other occupy both callback threads, so every task queued before
// them has finished.
void drain_callbacks()
{
  struct Barrier {
    std::mutex mu;
    std::condition_variable cv;
    int arrived = 0;
  };
  auto b = std::make_shared<Barrier>();
  auto done = std::make_shared<std::array<std::promise<void>, 2>>();
  for (int i = 0; i < 2; ++i) {
    runtime()->callbacks.post([b, done, i] {
      std::unique_lock<std::mutex> lk(b->mu);
      ++b->arrived;
      b->cv.notify_all();
      b->cv.wait(lk, [&] { return b->arrived >= 2; });
      (*done)[static_cast<std::size_t>(i)].set_value();
    });
  }
  (*done)[0].get_future().get();
  (*done)[1].get_future().get();
}

// Replies kept by the permission callback to answer later, from the fuzzing thread.
std::mutex g_later_mu;
std::vector<PermissionReply> g_later;
std::vector<ToolReply> g_later_tools;  // async tool calls, likewise

PermissionDecision decide(const PermissionRequest &r)
{
  char c = r.tool_name.empty() ? 'x' : r.tool_name[0];
  switch (c) {
  case 'a': return PermissionDecision::allow();
  case 'e': {
    JsonView perms = r.suggestions;
    return PermissionDecision::allow_with(r.input.dump(), perms.is_array() ? perms.dump() : std::string());
  }
  case 'd': return PermissionDecision::deny("denied by the fuzzer: " + r.decision_reason, r.tool_name.size() % 2);
  case 't': throw std::runtime_error("permission callback throws");
  default: return PermissionDecision::allow_with(R"({"replaced":true})");
  }
}

ControlLayer::Handlers make_handlers()
{
  ControlLayer::Handlers h;
  h.can_use_tool = [](const PermissionRequest &r, PermissionReply reply) {
    char c = r.tool_name.empty() ? 'x' : r.tool_name[0];
    if (c == 'l') {
      std::lock_guard<std::mutex> lk(g_later_mu);
      g_later.push_back(reply);
      return;
    }
    if (c == 'n') return;  // never answered: the library answers with an error
    reply(decide(r));
    if (c == 'a') reply(PermissionDecision::deny("a second answer is ignored"));
  };
  h.hooks["hook_0"] = [](const HookInput &in) {
    HookOutput o;
    if (in.tool_name == "Bash") return HookOutput::deny_tool("no shell: " + in.tool_use_id);
    if (in.event == "Stop") o.continue_ = false;
    if (in.input["reason"].is_string()) o.reason = std::string(in.input["reason"].string_or());
    if (in.input["hookSpecificOutput"].exists()) o.hook_specific_json = in.input["hookSpecificOutput"].dump();
    o.system_message = in.event;
    return o;
  };
  h.hooks["hook_1"] = [](const HookInput &) -> HookOutput { throw std::runtime_error("hook throws"); };
  auto server = std::make_shared<McpServer>();
  server->name = "calc";
  Tool add{"add", "adds", R"({"type":"object"})", [](const JsonView &a) {
             return ToolResult::text(std::to_string(a["a"].number().value_or(0) + a["b"].number().value_or(0)));
           }};
  Tool echo{"echo", "echoes", R"({"type":"object","properties":{"x":{}}})",
            [](const JsonView &a) { return ToolResult::text(a.dump()); }};
  Tool boom{"boom", "throws", R"({"type":"object"})", [](const JsonView &) -> ToolResult { throw std::logic_error("boom"); }};
  Tool bad{"bad", "bad content", R"({"type":"object"})", [](const JsonView &a) {
             ToolResult r;
             r.content_json = a["content"].is_string() ? std::string(a["content"].string_or()) : "{not json";
             return r;
           }};
  // Asynchronous: answered at once, kept to answer later (or drop), or throwing.
  Tool async;
  async.name = "async";
  async.async_handler = [](const JsonView &a, ToolReply reply) {
    if (a["later"].exists()) {
      std::lock_guard<std::mutex> lk(g_later_mu);
      g_later_tools.push_back(reply);
      return;
    }
    if (a["throw"].exists()) throw std::runtime_error("async tool throws");
    reply(ToolResult::text(a.dump()));
  };
  server->tools = {add, echo, boom, bad, async};
  h.mcp_servers["calc"] = server;
  return h;
}

struct Pipe {
  int r = -1, w = -1;
  Pipe()
  {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) ccb_fuzz::fail("pipe2 failed");
    r = fds[0];
    w = fds[1];
    (void)::fcntl(w, F_SETPIPE_SZ, 1 << 20);
  }
};

std::string read_all(int fd)
{
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Every frame sent to the CLI: one JSON object per line, shaped as a control frame.
void check_stdin(const std::string &bytes, std::vector<std::string> *request_ids)
{
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t nl = bytes.find('\n', pos);
    CCB_FUZZ_CHECK(nl != std::string::npos, bytes.substr(pos));
    std::string_view line(bytes.data() + pos, nl - pos);
    pos = nl + 1;
    JsonView v;
    try {
      v = parse_json(line);
    } catch (...) {
      ccb_fuzz::fail("a line written to the CLI's stdin is not JSON", line);
    }
    CCB_FUZZ_CHECK(v.is_object(), line);
    std::string_view type = v["type"].string_or();
    if (type == "control_request") {
      CCB_FUZZ_CHECK(v["request_id"].is_string() && v["request"]["subtype"].is_string(), line);
      if (request_ids) request_ids->emplace_back(v["request_id"].string_or());
    } else {
      CCB_FUZZ_CHECK(type == "control_response", line);
      JsonView r = v["response"];
      CCB_FUZZ_CHECK(r["request_id"].is_string(), line);
      std::string_view sub = r["subtype"].string_or();
      CCB_FUZZ_CHECK(sub == "success" || sub == "error", line);
      if (sub == "error") CCB_FUZZ_CHECK(r["error"].is_string(), line);
      if (sub == "success") CCB_FUZZ_CHECK(r["response"].is_object(), line);
    }
  }
}

void replace_all(std::string &s, const std::string &from, const std::string &to)
{
  if (from.empty()) return;
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  std::string input(reinterpret_cast<const char *>(data), size);
  const bool oneshot = input.rfind("#oneshot\n", 0) == 0;
  ccb_fuzz::Rng rng(ccb_fuzz::hash_bytes(data, size));

  Options opts;
  opts.max_buffered_messages = 8;
  opts.max_buffered_bytes = 16 * 1024;
  opts.max_line_bytes = 256 * 1024;
  // on_stdout_end() starts the shutdown ladder: no process (pid -1) to wait for.
  opts.shutdown.exit_wait = opts.shutdown.term_wait = opts.shutdown.drain_wait = std::chrono::milliseconds(0);
  auto state = std::make_shared<detail::StreamState>(runtime(), opts);

  Pipe in, out, err;
  ::close(out.w);  // stdout at EOF: a read the library starts (resume_stdout) ends at once
  ::close(err.w);
  detail::SpawnedChild child;  // pid -1: nothing to signal or reap
  child.stdin_fd = in.w;
  child.stdout_fd = out.r;
  child.stderr_fd = err.r;

  std::shared_ptr<ControlLayer> layer;
  struct Done {
    std::mutex mu;
    int calls[2] = {0, 0};
  };
  auto done = std::make_shared<Done>();
  on_strand(*state, [&] {
    state->channel_ = std::make_shared<detail::ProcessChannel>(state->strand_, child, detail::ProcessChannel::Config{});
    if (!oneshot) {
      layer = std::make_shared<ControlLayer>(state, make_handlers());
      state->control_ = layer;
    }
  });

  std::vector<std::string> ids;
  if (layer) {
    for (int i = 0; i < 2; ++i) {
      layer->request(i == 0 ? "interrupt" : "set_model", i == 0 ? "" : R"({"model":"claude-fuzz","subtype":"x"})",
                     std::chrono::seconds(60), [done, i](std::error_code, std::string, JsonView) {
                       std::lock_guard<std::mutex> lk(done->mu);
                       ++done->calls[i];
                     });
    }
    on_strand(*state, [] {});
    check_stdin(read_all(in.r), &ids);
    CCB_FUZZ_CHECK(ids.size() == 2, std::to_string(ids.size()));
    replace_all(input, "REQ1", ids[0]);
    replace_all(input, "REQ2", ids[1]);
  }

  // The CLI's stdout, in pieces.
  on_strand(*state, [&] {
    std::size_t off = 0;
    while (off < input.size()) {
      std::size_t n = std::min<std::size_t>(input.size() - off, 1 + rng.next() % 4096);
      state->on_stdout(input.data() + off, n);
      off += n;
    }
  });
  drain_callbacks();
  on_strand(*state, [] {});
  check_stdin(read_all(in.r), nullptr);

  // Answers given later, from another thread; the rest are dropped unanswered.
  {
    std::vector<PermissionReply> later;
    std::vector<ToolReply> later_tools;
    {
      std::lock_guard<std::mutex> lk(g_later_mu);
      later.swap(g_later);
      later_tools.swap(g_later_tools);
    }
    for (std::size_t i = 0; i < later.size(); i += 2) later[i](PermissionDecision::deny("later"));
    for (std::size_t i = 0; i < later_tools.size(); i += 2) later_tools[i](ToolResult::error("later"));
  }
  drain_callbacks();
  on_strand(*state, [] {});
  check_stdin(read_all(in.r), nullptr);

  // The process ends: whatever is pending fails, whatever is in flight is cancelled.
  on_strand(*state, [&] {
    state->on_stdout_end({});
    ExitStatus status;
    status.code = static_cast<int>(rng.next() % 2);
    state->on_finished(status);
  });
  drain_callbacks();
  on_strand(*state, [] {});
  check_stdin(read_all(in.r), nullptr);
  if (layer) {
    std::lock_guard<std::mutex> lk(done->mu);
    CCB_FUZZ_CHECK(done->calls[0] == 1 && done->calls[1] == 1,
                   std::to_string(done->calls[0]) + "," + std::to_string(done->calls[1]));
    CCB_FUZZ_CHECK(layer->ended() && !layer->awaiting_response(), "");
    CCB_FUZZ_CHECK(!state->control_, "the run still holds its control layer");
  }
  CCB_FUZZ_CHECK(state->finished(), "");

  on_strand(*state, [&] { state->channel_.reset(); });
  layer.reset();
  state.reset();
  ::close(in.r);
  return 0;
}
