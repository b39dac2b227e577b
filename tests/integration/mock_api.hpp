// Test fixture: the project's mock of the Messages API (tests/support/mock_anthropic.py) on
// 127.0.0.1, plus Options that run the pinned real CLI offline against it.
#pragma once

#include <ccbridge/options.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

class MockApi {
public:
  /// `extra_args`: more of the mock's options, e.g. {"--rule", "TEXT=>MARKERS"}.
  explicit MockApi(const std::vector<std::string> &extra_args = {})
  {
    std::vector<std::string> args = {
        "python3", CCB_SUPPORT_DIR "/mock_anthropic.py", "--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char *> argv;  // built before fork: the child of a threaded process must not allocate
    for (auto &a : args) argv.push_back(&a[0]);
    argv.push_back(nullptr);
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    keepalive_ = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[128] = {0};
    if (!f || !fgets(line, sizeof line, f) || std::sscanf(line, "PORT %d", &port_) != 1) {
      throw std::runtime_error("the mock Messages API did not start");
    }
    fclose(f);
    char tmpl[] = "/tmp/ccb-it-XXXXXX";
    scratch_ = mkdtemp(tmpl);
    std::string mk = "mkdir -p '" + scratch_ + "/home' '" + scratch_ + "/work'";
    if (std::system(mk.c_str()) != 0) throw std::runtime_error("mkdir");
  }

  ~MockApi()
  {
    close(keepalive_);  // the mock exits on stdin EOF
    int st;
    waitpid(pid_, &st, 0);
    std::string rm = "rm -rf '" + scratch_ + "'";
    if (std::system(rm.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", scratch_.c_str());
  }

  int port() const { return port_; }
  std::string home_dir() const { return scratch_ + "/home"; }
  std::string work_dir() const { return scratch_ + "/work"; }

  /// Options for the real CLI: offline, scratch HOME, small requests.
  ccbridge::Options options() const
  {
    ccbridge::Options o;
    const char *cli = std::getenv("CCB_REAL_CLI");
    o.cli_path = cli && *cli ? cli : CCB_REAL_CLI;
    o.cwd = work_dir();
    o.env["HOME"] = scratch_ + "/home";
    o.env["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(port_);
    o.env["ANTHROPIC_API_KEY"] = "sk-test";
    o.env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1";
    o.env["DISABLE_TELEMETRY"] = "1";
    o.env["DISABLE_AUTOUPDATER"] = "1";
    o.env["CLAUDE_CODE_MAX_RETRIES"] = "1";
    o.model = "mock-model";
    return o;
  }

private:
  pid_t pid_ = -1;
  int port_ = 0;
  int keepalive_ = -1;
  std::string scratch_;
};
