// MCP clients: one external MCP server (stdio or Streamable HTTP) through ccbridge::McpClient,
// with blocking calls whose results are JSON text in the MCP wire names. Threads: as McpClient
// (any thread, concurrently), except ccb_mcp_free, which must not overlap another call.
#include "capi.hpp"

#include <ccbridge/mcp_client.hpp>

using namespace ccbridge;
using namespace ccbridge::detail::capi;

struct ccb_mcp {
  std::shared_ptr<Runtime> runtime;  // declared first: destroyed after the client
  McpClient client;
};

namespace {

std::optional<std::chrono::milliseconds> timeout_of(int timeout_ms)
{
  if (timeout_ms <= 0) return std::nullopt;  // the spec's request timeout
  return std::chrono::milliseconds(timeout_ms);
}

// ,"key":<json> when `json` is not empty.
void append_member(std::string &out, const char *key, const std::string &json)
{
  if (json.empty()) return;
  out += ",\"";
  out += key;
  out += "\":" + json;
}

void append_text_member(std::string &out, const char *key, const std::string &text)
{
  out += ",\"";
  out += key;
  out += "\":";
  append_json_string(out, text);
}

std::string tools_json(const std::vector<McpTool> &tools)
{
  std::string out = "[";
  for (const McpTool &t : tools) {
    if (out.size() > 1) out += ',';
    out += R"({"name":)";
    append_json_string(out, t.name);
    if (!t.title.empty()) append_text_member(out, "title", t.title);
    if (!t.description.empty()) append_text_member(out, "description", t.description);
    append_member(out, "inputSchema", t.input_schema_json);
    append_member(out, "outputSchema", t.output_schema_json);
    append_member(out, "annotations", t.annotations_json);
    out += '}';
  }
  return out + "]";
}

// Milliseconds with three decimals, from microseconds.
std::string millis_text(std::chrono::microseconds us)
{
  std::string frac = std::to_string(us.count() % 1000);
  return std::to_string(us.count() / 1000) + "." + std::string(3 - frac.size(), '0') + frac;
}

std::string result_json(const McpCallResult &r)
{
  std::string out = R"({"content":)" + r.content_json;
  append_member(out, "structuredContent", r.structured_json);
  out += R"(,"isError":)";
  out += r.is_error ? "true" : "false";
  return out + R"(,"elapsedMs":)" + millis_text(r.elapsed) + "}";
}

std::string info_json(const McpServerInfo &info)
{
  std::string out = R"({"protocolVersion":)";
  append_json_string(out, info.protocol_version);
  out += R"(,"serverInfo":{"name":)";
  append_json_string(out, info.name);
  append_text_member(out, "version", info.version);
  out += "}";
  append_member(out, "capabilities", info.capabilities_json.empty() ? "{}" : info.capabilities_json);
  if (!info.instructions.empty()) append_text_member(out, "instructions", info.instructions);
  return out + "}";
}

// A call on the client of `mcp` whose JSON text answer goes to `out` (required).
template <class Handle, class F> int mcp_json(char **out, Handle *mcp, F &&body)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    *out = dup_string(body(need(mcp, "mcp")->client));
    return CCB_OK;
  });
}

// A call on the client of `mcp` with nothing to answer.
template <class F> int mcp_do(ccb_mcp_t *mcp, F &&body)
{
  return guarded([&] {
    body(need(mcp, "mcp")->client);
    return CCB_OK;
  });
}

}  // namespace

extern "C" {

int ccb_mcp_connect(ccb_mcp_t **out, const char *spec_json, ccb_runtime_t *runtime)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    McpServerSpec spec = mcp_server_spec_from_json(need(spec_json, "spec_json"));
    std::shared_ptr<Runtime> rt = runtime_of(runtime);
    McpClient client = McpClient::connect(*rt, std::move(spec));
    *out = new ccb_mcp{rt, std::move(client)};
    return CCB_OK;
  });
}

int ccb_mcp_server_info(char **out, const ccb_mcp_t *mcp)
{
  return mcp_json(out, mcp, [](const McpClient &c) { return info_json(c.server_info()); });
}

int ccb_mcp_list_tools(char **out, ccb_mcp_t *mcp, int timeout_ms)
{
  return mcp_json(out, mcp, [timeout_ms](McpClient &c) { return tools_json(c.list_tools(timeout_of(timeout_ms))); });
}

int ccb_mcp_call_tool(char **out, ccb_mcp_t *mcp, const char *name, const char *arguments_json, int timeout_ms)
{
  return mcp_json(out, mcp, [&](McpClient &c) {
    return result_json(
        c.call_tool(need(name, "name"), arguments_json ? arguments_json : "{}", timeout_of(timeout_ms)));
  });
}

int ccb_mcp_ping(ccb_mcp_t *mcp, int timeout_ms, int64_t *rtt_us)
{
  if (rtt_us) *rtt_us = 0;
  return mcp_do(mcp, [&](McpClient &c) {
    auto rtt = c.ping(timeout_of(timeout_ms));
    if (rtt_us) *rtt_us = rtt.count();
  });
}

int ccb_mcp_restart(ccb_mcp_t *mcp)
{
  return mcp_do(mcp, [](McpClient &c) { c.restart(); });
}

int ccb_mcp_close(ccb_mcp_t *mcp)
{
  return mcp_do(mcp, [](McpClient &c) { c.close(); });
}

ccb_mcp_state_t ccb_mcp_state(const ccb_mcp_t *mcp)
{
  try {
    switch (mcp ? mcp->client.state() : McpState::closed) {
    case McpState::connecting: return CCB_MCP_CONNECTING;
    case McpState::ready: return CCB_MCP_READY;
    case McpState::failed: return CCB_MCP_FAILED;
    case McpState::closed: break;
    }
  } catch (...) {
    // (a mutex that cannot be locked): report it as gone
  }
  return CCB_MCP_CLOSED;
}

int ccb_mcp_last_error(char **out, const ccb_mcp_t *mcp)
{
  return mcp_json(out, mcp, [](const McpClient &c) { return c.last_error(); });
}

void ccb_mcp_free(ccb_mcp_t *mcp) { delete mcp; }

}  // extern "C"
