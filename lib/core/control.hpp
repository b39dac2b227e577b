// The control protocol on the SDK side (SDK-WIRE-SPEC.md section 5): requests to the CLI with ids,
// a pending map with per-request timeouts, and requests from the CLI (can_use_tool, ...) handed to
// user callbacks on the runtime's callback threads. Strand-side members run on the run's strand.
#pragma once

#include "core/run_end.hpp"
#include "core/stream_state.hpp"

#include <ccbridge/session.hpp>

#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ccbridge::detail {

class ControlLayer;

/// One request from the CLI being handled by a callback (permission, hook or MCP tool): answered
/// at most once, from any thread, unless the CLI cancelled it; never left without an answer. The
/// shared part of PermissionReply::State and ToolReply::State.
struct ReplyState {
  std::weak_ptr<ControlLayer> layer;
  std::string request_id;
  std::string kind;                ///< "permission", "hook", "MCP tool"
  std::string unanswered_payload;  ///< sent as the success payload if never answered; empty: an error
  std::atomic<bool> answered{false};
  std::atomic<bool> cancelled{false};

  ReplyState(std::string id, std::string what) : request_id(std::move(id)), kind(std::move(what)) {}
  ReplyState(const ReplyState &) = delete;
  ReplyState &operator=(const ReplyState &) = delete;
  /// Every request gets an answer: one never made is unanswered_payload or an error, not silence.
  ~ReplyState();

  /// Sends `payload` (success) or, if `error` is not empty, `error` to the CLI, from any thread;
  /// only the first call counts, and nothing is sent once the request was cancelled.
  void send(std::string payload, std::string error);
};

class ControlLayer : public ControlHandler, public std::enable_shared_from_this<ControlLayer> {
public:
  /// ec empty: `response` is the CLI's payload; otherwise `text` says why.
  using Done = std::function<void(std::error_code ec, std::string text, JsonView response)>;

  struct Handlers {
    PermissionCallback can_use_tool;
    std::map<std::string, HookCallback> hooks;     ///< by callback id ("hook_0", ...)
    std::map<std::string, std::shared_ptr<const McpServer>> mcp_servers;  ///< by server name
  };

  ControlLayer(std::shared_ptr<StreamState> state, Handlers handlers);

  /// Sends a control request (any thread). `fields_json` is a JSON object merged next to
  /// "subtype". `done` runs exactly once, on the strand: with the response, an error response,
  /// the timeout, the end of the process, or invalid_argument for an empty subtype or fields
  /// that are not a JSON object.
  void request(std::string subtype, std::string fields_json, std::chrono::milliseconds timeout, Done done);

  // ControlHandler (strand)
  void on_control(const Message &msg) override;
  void on_end(const RunOutcome &outcome) override;
  bool awaiting_response() const override { return !pending_.empty(); }
  void interrupt_now() override;
  void observe(const Message &msg) override { run_end_->observe(msg); }

  /// Closes stdin once the run is over (RunEndWatch), at once if no callback can be asked (no
  /// can_use_tool, hooks or in-process MCP servers). Any thread.
  void end_input_when_done(std::chrono::milliseconds ceiling);

  /// Strand: writes a success or error response to one of the CLI's requests.
  void respond(const std::string &request_id, const std::string *payload_json, const std::string *error);

  /// Strand: removes an incoming request from the in-flight set; false if it was cancelled (or
  /// already answered, or the process ended), in which case no answer may be sent.
  bool take_inflight(const std::string &request_id) { return inflight_.erase(request_id) > 0; }

  const Strand &strand() const noexcept { return state_->strand_; }
  bool ended() const noexcept { return ended_; }

private:
  struct Pending {
    std::string subtype;
    Done done;
    std::unique_ptr<asio::steady_timer> timer;
  };

  void start_request(std::string id, std::string subtype, std::string frame, std::chrono::milliseconds timeout,
                     Done done);
  void on_response(const Message &msg);
  void on_request(const Message &msg);
  void on_cancel(const Message &msg);
  void handle_can_use_tool(const Message &msg, const std::string &id);
  void handle_hook(const Message &msg, const std::string &id);
  void handle_mcp(const Message &msg, const std::string &id);
  void start_async_tool(const std::shared_ptr<const McpServer> &server, const Tool &tool, const std::string &id,
                        const JsonView &message);
  /// Registers `reply` as an in-flight incoming request and runs `work` on a callback thread; an
  /// exception from `work` becomes an error answer.
  void dispatch(std::shared_ptr<ReplyState> reply, std::function<void()> work);

  std::shared_ptr<StreamState> state_;
  Handlers handlers_;
  std::shared_ptr<RunEndWatch> run_end_;
  std::map<std::string, Pending> pending_;
  // Incoming requests being handled by callbacks; a cancel marks them (ReplyState::cancelled).
  std::map<std::string, std::weak_ptr<ReplyState>> inflight_;
  std::uint64_t next_id_ = 1;
  std::string id_suffix_;
  bool ended_ = false;
  std::string end_reason_;
};

}  // namespace ccbridge::detail
