// The OpCode API (seed 000) on port 3000: POST /claude/execute, WS /ws/claude/{id},
// POST /claude/cancel/{id}. Projects may live under the directory given as the first argument.
//
//   opcode_server ~/projects
//   curl -s localhost:3000/claude/execute -d '{"project_path":"'$HOME'/projects/x","prompt":"hi"}'
#include <ccbridge/ccbridge.hpp>
#include <ccbridge/server.hpp>

#include "stop_signal.hpp"

#include <iostream>

int main(int argc, char **argv)
{
  ccbridge::ServerConfig cfg;
  cfg.listeners.push_back({"127.0.0.1", 3000, {"opcode"}});
  if (argc > 1) cfg.allowed_roots = {argv[1]};
  cfg.default_permission_mode = "acceptEdits";  // file edits without asking; Bash still refused
  cfg.allowed_permission_modes = {"default", "acceptEdits"};

  StopSignal stop;  // before any thread starts

  ccbridge::Runtime runtime;
  ccbridge::Server server(runtime, cfg);
  server.start();
  std::cout << "opcode API on http://127.0.0.1:" << server.endpoints()[0].port << std::endl;
  stop.wait();
  server.stop();  // ends runs with the shutdown ladder, closes sockets with 1001
}
