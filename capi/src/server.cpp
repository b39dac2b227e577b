// The gateway server (built when CCB_BUILD_SERVER is on; server_stub.cpp otherwise).
#include "capi.hpp"

#include <ccbridge/server.hpp>

struct ccb_server {
  std::shared_ptr<ccbridge::Runtime> runtime;  // declared first: outlives the server, as it must
  std::unique_ptr<ccbridge::Server> server;
};

using namespace ccbridge;
using namespace ccbridge::detail::capi;

extern "C" {

int ccb_server_start(ccb_server_t **out, const char *config_json, ccb_runtime_t *runtime)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    ServerConfig config = server_config_from_json(need(config_json, "config_json"));
    auto handle = std::make_unique<ccb_server>();
    handle->runtime = runtime ? runtime->runtime : std::make_shared<Runtime>(2);
    handle->server = std::make_unique<Server>(*handle->runtime, std::move(config));
    handle->server->start();
    *out = handle.release();
    return CCB_OK;
  });
}

int ccb_server_port(const ccb_server_t *server, size_t index)
{
  return guarded([&] {
    std::vector<ServerEndpoint> endpoints = need(server, "server")->server->endpoints();
    if (index >= endpoints.size()) {
      throw Error(errc::invalid_argument, "listener " + std::to_string(index) + " does not exist (the server has " +
                                              std::to_string(endpoints.size()) + ")");
    }
    return static_cast<int>(endpoints[index].port);
  });
}

int ccb_server_endpoints(char **out, const ccb_server_t *server)
{
  return guarded([&] {
    *need(out, "out") = nullptr;
    std::string json = "[";
    for (const ServerEndpoint &e : need(server, "server")->server->endpoints()) {
      if (json.size() > 1) json += ',';
      json += R"({"host":)";
      append_json_string(json, e.host);
      json += R"(,"port":)" + std::to_string(e.port) + R"(,"profiles":[)";
      for (std::size_t i = 0; i < e.profiles.size(); ++i) {
        if (i) json += ',';
        append_json_string(json, e.profiles[i]);
      }
      json += "]}";
    }
    *out = dup_string(json + "]");
    return CCB_OK;
  });
}

int ccb_server_stop(ccb_server_t *server)
{
  return guarded([&] {
    need(server, "server")->server->stop();
    return CCB_OK;
  });
}

int ccb_server_wait(ccb_server_t *server)
{
  return guarded([&] {
    need(server, "server")->server->wait();
    return CCB_OK;
  });
}

void ccb_server_free(ccb_server_t *server)
{
  if (!server) return;
  try {
    server->server.reset();  // stops gracefully
  } catch (...) {
  }
  delete server;
}

}  // extern "C"
