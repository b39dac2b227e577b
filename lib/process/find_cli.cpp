// Locating the Claude Code executable in the official Python SDK's order (minus its bundled copy):
// explicit path, PATH, then the usual install locations.
#include <ccbridge/error.hpp>
#include <ccbridge/options.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

CCB_BEGIN_NAMESPACE

namespace {

bool is_executable_file(const std::string &path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> search_path(const std::string &name, std::vector<std::string> &searched)
{
  const char *path = std::getenv("PATH");
  std::string p = path ? path : "";
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  searched.push_back("PATH (" + p + ")");
  return std::nullopt;
}

}  // namespace

std::string find_cli(const Options &options)
{
  std::vector<std::string> searched;
  if (options.cli_path) {
    const std::string &p = *options.cli_path;
    if (p.empty()) throw Error(errc::invalid_argument, "Options::cli_path is set but empty");
    if (p.find('/') != std::string::npos) return p;  // used as given; spawn reports problems
    if (auto hit = search_path(p, searched)) return *hit;
    throw Error(errc::cli_not_found, "Claude Code not found at: " + p + " (Options::cli_path, looked up on " +
                                         searched.front() + "): give a full path or fix PATH");
  }
  if (auto hit = search_path("claude", searched)) return *hit;

  const char *home_env = std::getenv("HOME");
  std::string home = home_env ? home_env : "";
  std::vector<std::string> fixed;
  if (!home.empty()) fixed.push_back(home + "/.npm-global/bin/claude");
  fixed.emplace_back("/usr/local/bin/claude");
  if (!home.empty()) {
    fixed.push_back(home + "/.local/bin/claude");
    fixed.push_back(home + "/node_modules/.bin/claude");
    fixed.push_back(home + "/.yarn/bin/claude");
    fixed.push_back(home + "/.claude/local/claude");
  }
  for (const auto &f : fixed) {
    if (is_executable_file(f)) return f;
    searched.push_back(f);
  }
  std::string list;
  for (const auto &s : searched) list += (list.empty() ? "" : ", ") + s;
  // The messages start as the Python SDK's do ("Claude Code not found"), which callers match on.
  throw Error(errc::cli_not_found, "Claude Code not found. Install it with `npm install -g @anthropic-ai/claude-code` "
                                   "or set Options::cli_path; searched " + list);
}

CCB_END_NAMESPACE
