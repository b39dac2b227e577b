// The tasks-ui WebSocket (seed 002) on port 3000 with a 2-minute limit per prompt, logging JSON
// lines. Clients connect to ws://127.0.0.1:3000/ws/claude and send {"prompt":"...","meta":"TASK-1"}.
#include <ccbridge/ccbridge.hpp>
#include <ccbridge/server.hpp>

#include "stop_signal.hpp"

#include <iostream>

int main()
{
  ccbridge::ServerConfig cfg;
  cfg.listeners.push_back({"127.0.0.1", 3000, {"tasks-ui"}});
  cfg.tasks_ui.timeout = std::chrono::minutes(2);
  cfg.limits.max_sessions = 8;  // at most 8 prompts at a time
  cfg.log.json = true;

  StopSignal stop;  // before any thread starts

  ccbridge::Runtime runtime;
  ccbridge::Server server(runtime, cfg);
  server.start();
  std::cout << "tasks-ui on ws://127.0.0.1:" << server.endpoints()[0].port << "/ws/claude" << std::endl;
  stop.wait();
  server.stop();
}
