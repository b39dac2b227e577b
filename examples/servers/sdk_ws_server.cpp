// The SDK WebSocket server protocol (seed 003) on port 8000, behind a bearer token, for a web UI
// served from http://localhost:5173. Each connection is one conversation (one CLI process).
//
//   CCBRIDGE_TOKEN=secret sdk_ws_server
//   then ws://127.0.0.1:8000/ws?token=secret
#include <ccbridge/ccbridge.hpp>
#include <ccbridge/server.hpp>

#include "stop_signal.hpp"

#include <cstdlib>
#include <iostream>

int main()
{
  const char *token = std::getenv("CCBRIDGE_TOKEN");
  if (!token || !*token) {
    std::cerr << "set CCBRIDGE_TOKEN\n";
    return 2;
  }
  ccbridge::ServerConfig cfg;
  cfg.listeners.push_back({"127.0.0.1", 8000, {"sdk-ws"}});
  cfg.token = token;
  cfg.allowed_origins = {"http://localhost:5173"};
  cfg.cors = true;
  cfg.sdk_ws.session_timeout = std::chrono::minutes(30);

  StopSignal stop;  // before any thread starts

  ccbridge::Runtime runtime;
  ccbridge::Server server(runtime, cfg);
  server.start();
  std::cout << "sdk-ws on ws://127.0.0.1:" << server.endpoints()[0].port << "/ws" << std::endl;
  stop.wait();
  server.stop();
}
