// Shared by the Session tests against the fake CLI: options for a session whose CLI runs `script`
// with short shutdown and control timeouts, and reading a file the fake CLI wrote.
#pragma once

#include <ccbridge/ccbridge.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

namespace ccb_test {

inline ccbridge::SessionOptions fake_session(const std::string &script)
{
  using namespace std::chrono_literals;
  ccbridge::SessionOptions so;
  so.options.cli_path = CCB_FAKE_CLI;
  so.options.env["CCB_FAKE_SCRIPT_TEXT"] = script;
  so.options.shutdown.exit_wait = 500ms;
  so.options.shutdown.term_wait = 300ms;
  so.options.shutdown.drain_wait = 300ms;
  so.control_timeout = 5s;
  so.initialize_timeout = 5s;
  return so;
}

inline std::string read_all(const std::string &path)
{
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ccb_test
