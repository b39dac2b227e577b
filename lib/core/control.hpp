// The control protocol on the SDK side (SDK-WIRE-SPEC.md section 5): requests to the CLI with ids,
// a pending map with per-request timeouts, and requests from the CLI (can_use_tool, ...) handed to
// user callbacks on the runtime's callback threads. Strand-side members run on the run's strand.
#pragma once

#include "core/stream_state.hpp"

#include <ccbridge/session.hpp>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ccbridge::detail {

class ControlLayer : public ControlHandler, public std::enable_shared_from_this<ControlLayer> {
public:
  /// ec empty: `response` is the CLI's payload; otherwise `text` says why.
  using Done = std::function<void(std::error_code ec, std::string text, JsonView response)>;

  struct Handlers {
    PermissionCallback can_use_tool;
    std::map<std::string, HookCallback> hooks;     ///< by callback id ("hook_0", ...)
    std::map<std::string, std::shared_ptr<const McpServer>> mcp_servers;  ///< by server name
  };

  ControlLayer(std::shared_ptr<Stream::State> state, Handlers handlers);

  /// Sends a control request (any thread). `fields_json` is a JSON object merged next to
  /// "subtype". `done` runs exactly once, on the strand: with the response, an error response,
  /// the timeout, or the end of the process.
  void request(std::string subtype, std::string fields_json, std::chrono::milliseconds timeout, Done done);

  // ControlHandler (strand)
  void on_control(const Message &msg) override;
  void on_end(const RunOutcome &outcome) override;
  bool awaiting_response() const override { return !pending_.empty(); }

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
  /// Registers an in-flight incoming request and runs `work` on a callback thread.
  void dispatch(const std::string &id, std::string kind, JsonView input,
                std::function<void(const std::shared_ptr<PermissionReply::State> &)> work);

  std::shared_ptr<Stream::State> state_;
  Handlers handlers_;
  std::map<std::string, Pending> pending_;
  // Incoming requests being handled by callbacks; a cancel marks them (PermissionReply::State).
  std::map<std::string, std::weak_ptr<PermissionReply::State>> inflight_;
  std::uint64_t next_id_ = 1;
  std::string id_suffix_;
  bool ended_ = false;
  std::string end_reason_;
};

}  // namespace ccbridge::detail
