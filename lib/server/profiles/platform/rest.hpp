// Agent platform: one REST call as handlers see it, and the route table (rest.cpp) that the
// dispatcher (dispatch.cpp) and the OpenAPI document's test both read. Server thread only.
#pragma once

#include "server/profiles/platform/platform.hpp"

#include <functional>
#include <string>
#include <vector>

namespace ccbridge::detail::server::platform {

class Call {
public:
  /// Sends `body` (JSON) with `status`.
  using Answer = std::function<void(int status, std::string body)>;
  Call(const HttpRequest &r, Answer answer) : req(r), answer_(std::move(answer)) {}

  const HttpRequest &req;
  Caller caller;  ///< set for routes with a permission ("" or a name)
  /// The body as a JSON object (an empty body is {}); 422 INVALID_INPUT when it is not one.
  const JsonValue &body();
  /// Answers `status` with `{"success":true,"data":<data>}` ("" data: null), and `message`.
  void ok(int status, const std::string &data, const std::string &message = {})
  {
    answer_(status, ok_envelope(data.empty() ? "null" : data, message));
  }
  /// Answers with `body` as it is (the OpenAPI document).
  void raw(int status, std::string body) { answer_(status, std::move(body)); }
  /// For answers that come later (a sync task): the function answers once, from the server thread.
  std::function<void(int, const std::string &)> later();
  /// The same for answers that may be errors: sends an envelope made by ok_envelope or by
  /// error_envelope with this request's id.
  Answer raw_later() const { return answer_; }
  std::string request_id;

private:
  Answer answer_;
  JsonDocument body_;
  bool parsed_ = false;
};

struct Route {
  const char *method;
  const char *path;        ///< under /v1; {name} is one segment
  const char *permission;  ///< nullptr: no token needed; "": any valid token
  void (*handler)(Platform &, Call &);
};

/// Every route of the API.
const std::vector<Route> &routes();

/// The request's answer: dispatches `req` (path under /v1 or not) and always answers.
void dispatch(Platform &p, const HttpRequest &req, HttpReply reply);
/// An error the server answers before dispatch (a request the transport refused, shutting
/// down), as the seed's error envelope: the mounts' ErrorRenderer.
HttpResponse error_response(int status, const std::string &message);

// Validation shared by handlers (422 naming the field).
std::string required_string(const JsonValue &body, const char *field, std::size_t max_bytes);
void check_string_list(const JsonValue &obj, const char *field_path, const char *key);
/// The query parameter `name`: "" when absent or empty, else one of `allowed` (422 otherwise).
std::string enum_param(const HttpRequest &req, const char *name, std::initializer_list<const char *> allowed);
/// An agent's configuration (all of it, or a `partial` one to merge).
void check_agent_configuration(const JsonValue &conf, bool partial);

// Handlers defined beside their subjects.
void auth_login(Platform &, Call &);
void auth_refresh(Platform &, Call &);
void auth_logout(Platform &, Call &);
void list_agents(Platform &, Call &);
void create_agent(Platform &, Call &);
void get_agent(Platform &, Call &);
void update_agent(Platform &, Call &);
void delete_agent(Platform &, Call &);
void list_users(Platform &, Call &);
void create_user(Platform &, Call &);
void update_user(Platform &, Call &);
void openapi(Platform &, Call &);
void get_config(Platform &, Call &);
void put_config(Platform &, Call &);
void monitoring_health(Platform &, Call &);
void monitoring_metrics(Platform &, Call &);

}  // namespace ccbridge::detail::server::platform
