// The MCP client's stdio transport: the server as a child process (process/spawn.hpp, in its own
// process group, listed with the guard, reaped), newline-delimited JSON on its stdin and stdout,
// stderr drained into a bounded tail for error messages. Threads: on the client's strand only.
#include "core/mcp_transport.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace ccbridge::detail {

namespace {

bool executable_file(const std::string &path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string host_env(const char *name)
{
  const char *v = std::getenv(name);
  return v ? v : "";
}

// The program to run: `command` as given if it has a '/', else the first match on PATH (the
// spec's own PATH if it sets one).
std::string resolve_command(const McpServerSpec &spec)
{
  const std::string &cmd = spec.command;
  std::string who = "MCP server '" + spec.name + "': command '" + cmd + "'";
  if (cmd.find('/') != std::string::npos) {
    if (::access(cmd.c_str(), F_OK) != 0) throw Error(errc::cli_not_found, who + " does not exist");
    return cmd;
  }
  auto env_path = spec.env.find("PATH");
  std::string path = env_path != spec.env.end() ? env_path->second : host_env("PATH");
  for (std::size_t start = 0; start <= path.size();) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + cmd;
    if (executable_file(candidate)) return candidate;
    start = end + 1;
  }
  throw Error(errc::cli_not_found, who + " was not found on PATH (" + path + "): give a full path or fix PATH");
}

// A reduced environment (what a program needs to find its tools and home), plus the spec's.
std::vector<std::string> server_environment(const McpServerSpec &spec)
{
  std::map<std::string, std::string> env;
  for (const char *keep : {"PATH", "HOME", "LANG", "TERM", "USER", "SHELL", "TMPDIR"})
    if (const char *v = std::getenv(keep)) env[keep] = v;
  for (const auto &[k, v] : spec.env) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto &[k, v] : env) out.push_back(std::string(k).append("=").append(v));
  return out;
}

class StdioTransport : public McpTransport, public ChannelHandler, public std::enable_shared_from_this<StdioTransport> {
public:
  StdioTransport(Strand strand, McpServerSpec spec) : strand_(std::move(strand)), spec_(std::move(spec)) {}

  void start(McpTransportEvents events) override
  {
    for (const auto &[k, v] : spec_.env) {
      if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos ||
          v.find('\0') != std::string::npos) {
        throw Error(errc::invalid_argument, "MCP server '" + spec_.name + "': environment variable '" + k +
                                                "' has an empty name, a '=' in its name or a NUL byte");
      }
    }
    events_ = std::move(events);
    SpawnRequest req;
    req.program = resolve_command(spec_);
    req.args = spec_.args;
    req.env = server_environment(spec_);
    if (!spec_.cwd.empty()) req.cwd = spec_.cwd;
    SpawnedChild child = spawn(req);
    ProcessChannel::Config config;
    config.stderr_tail_bytes = 4096;
    config.read_chunk = 64 * 1024;
    channel_ = std::make_shared<ProcessChannel>(strand_, child, config);
    channel_->start(shared_from_this());
  }

  void send(std::string message, std::int64_t) override
  {
    if (!channel_ || closing_) return;
    message += '\n';
    channel_->write(std::move(message));
  }

  void abandon(std::int64_t) override {}
  void initialized(const std::string &) override {}

  void close(std::function<void()> done) override
  {
    closing_ = true;
    if (!channel_ || finished_) {
      if (done) done();
      return;
    }
    if (done) waiters_.push_back(std::move(done));
    ShutdownPolicy policy;
    policy.exit_wait = std::chrono::milliseconds(1000);
    policy.term_wait = std::chrono::milliseconds(1000);
    channel_->shutdown(policy);
  }

  // ---- ChannelHandler ----
  void on_stdout(const char *data, std::size_t size) override;
  void on_stdout_end(std::error_code) override {}
  void on_stderr_line(std::string_view) override {}
  void on_stdin_error(std::error_code) override {}
  void on_finished(ExitStatus status) override;

private:
  SpawnedChild spawn(const SpawnRequest &req);
  void fail(const Error &why);

  Strand strand_;
  McpServerSpec spec_;
  McpTransportEvents events_;
  std::shared_ptr<ProcessChannel> channel_;
  std::string line_;  // the partial line read so far
  bool closing_ = false;
  bool failed_ = false;
  bool finished_ = false;
  std::vector<std::function<void()>> waiters_;
};

// spawn_child() speaks of "the Claude Code CLI"; say which MCP server instead.
SpawnedChild StdioTransport::spawn(const SpawnRequest &req)
{
  try {
    return spawn_child(req);
  } catch (const Error &e) {
    std::string who = "MCP server '" + spec_.name + "'";
    if (e.code() == make_error_code(errc::cli_not_found)) {
      throw Error(errc::cli_not_found,
                  who + ": could not execute '" + req.program + "' (or its interpreter is missing)");
    }
    throw Error(e.code(), who + ": " + e.detail());
  }
}

void StdioTransport::on_stdout(const char *data, std::size_t size)
{
  const char *end = data + size;
  while (data < end && !failed_ && !closing_) {
    const auto *nl = static_cast<const char *>(std::memchr(data, '\n', static_cast<std::size_t>(end - data)));
    const char *stop = nl ? nl : end;
    line_.append(data, static_cast<std::size_t>(stop - data));
    if (line_.size() > spec_.max_message_bytes) {
      fail(Error(errc::line_too_long, "MCP server '" + spec_.name + "' wrote a line longer than " +
                                          std::to_string(spec_.max_message_bytes) +
                                          " bytes (McpServerSpec::max_message_bytes); the connection is ended"));
      return;
    }
    if (!nl) return;
    data = nl + 1;
    std::string line = std::move(line_);
    line_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos && events_.message) events_.message(line);
  }
}

void StdioTransport::fail(const Error &why)
{
  if (failed_ || closing_) return;
  failed_ = true;
  line_.clear();
  auto failed = events_.failed;
  if (failed) failed(why);
  close(nullptr);
}

void StdioTransport::on_finished(ExitStatus status)
{
  finished_ = true;
  if (!closing_ && !failed_) {
    std::string tail = channel_->stderr_tail();
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
    std::string why = "MCP server '" + spec_.name + "' exited (" + status.describe() + ")";
    if (!tail.empty()) why += "; the end of its stderr: " + tail;
    failed_ = true;
    if (events_.failed) events_.failed(Error(errc::process_failed, why));
  }
  auto waiters = std::move(waiters_);
  for (auto &w : waiters) w();
}

}  // namespace

std::shared_ptr<McpTransport> make_stdio_transport(const Strand &strand, const McpServerSpec &spec)
{
  return std::make_shared<StdioTransport>(strand, spec);
}

}  // namespace ccbridge::detail
