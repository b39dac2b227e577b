// JSON-RPC 2.0 envelopes (protocol/jsonrpc.hpp).
#include "protocol/jsonrpc.hpp"

namespace ccbridge::detail {

namespace {

std::string with_params(std::string s, std::string_view method, std::string_view params_json)
{
  s += R"("method":)";
  append_json_string(s, method);
  if (!params_json.empty()) {
    s += R"(,"params":)";
    s += params_json;
  }
  s += '}';
  return s;
}

}  // namespace

std::string rpc_request(std::int64_t id, std::string_view method, std::string_view params_json)
{
  return with_params(R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + ',', method, params_json);
}

std::string rpc_notification(std::string_view method, std::string_view params_json)
{
  return with_params(R"({"jsonrpc":"2.0",)", method, params_json);
}

std::string rpc_result(std::string_view id, std::string_view result)
{
  std::string s = R"({"jsonrpc":"2.0","id":)";
  s += id;
  s += R"(,"result":)";
  s += result;
  s += '}';
  return s;
}

std::string rpc_error(std::string_view id, int code, std::string_view message)
{
  std::string s = R"({"jsonrpc":"2.0","id":)";
  s += id;
  s += R"(,"error":{"code":)" + std::to_string(code) + R"(,"message":)";
  append_json_string(s, message);
  s += "}}";
  return s;
}

std::string rpc_id(const JsonView &message)
{
  JsonView idv = message["id"];
  return idv.exists() ? idv.dump() : "null";
}

RpcKind rpc_kind(const JsonView &message)
{
  if (!message.is_object()) return RpcKind::invalid;
  bool has_id = message["id"].is_string() || message["id"].is_number();
  if (message["method"].is_string()) return has_id ? RpcKind::request : RpcKind::notification;
  if (has_id && (message["result"].exists() || message["error"].is_object())) return RpcKind::response;
  return RpcKind::invalid;
}

}  // namespace ccbridge::detail
