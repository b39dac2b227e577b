// ccbridge: command-line front end. `ccbridge query "..."` runs one prompt through the Claude Code
// CLI and prints its messages (readable by default, raw NDJSON with --raw).
#include "agent_main.hpp"
#include "args.hpp"
#include "permission_hook.hpp"
#include "serve.hpp"
#include "users_main.hpp"

#include <ccbridge/ccbridge.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char kUsage[] =
    "usage: ccbridge serve [options]          (ccbridge serve --help for its options)\n"
    "       ccbridge agent --control URL --token T --allow-root DIR  (ccbridge agent --help)\n"
    "       ccbridge users add|list|disable|enable|set-permissions ...  (the agent platform's users)\n"
    "       ccbridge query [options] PROMPT\n"
    "       ccbridge --version\n"
    "       ccbridge permission-hook          (run by the CLI as its PermissionRequest hook; see "
    "docs/ARCHITECTURE.md)\n"
    "\n"
    "Runs PROMPT through the Claude Code CLI and prints the conversation.\n"
    "\n"
    "options:\n"
    "  --model NAME              model to use\n"
    "  --cli PATH                Claude Code executable (default: PATH, then the usual install places)\n"
    "  --cwd DIR                 working directory for the CLI\n"
    "  --allowed-tools A,B       tools allowed without asking (e.g. Bash,Read)\n"
    "  --disallowed-tools A,B    tools removed\n"
    "  --permission-mode MODE    default, acceptEdits, plan, bypassPermissions, dontAsk\n"
    "  --max-turns N             stop after N turns\n"
    "  --system-prompt TEXT      system prompt (default: empty, as in the SDKs)\n"
    "  --claude-code-prompt      use Claude Code's own system prompt instead\n"
    "  --partial                 stream text as it is generated\n"
    "  --raw                     print every message as the JSON line the CLI wrote\n"
    "  --verbose                 also print the CLI's stderr\n";

std::string first_line(std::string s, std::size_t max = 160)
{
  auto nl = s.find('\n');
  if (nl != std::string::npos) s = s.substr(0, nl) + " ...";
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

struct Printer {
  bool raw = false;
  bool partial = false;
  bool mid_delta = false;

  void end_delta()
  {
    if (mid_delta) std::cout << '\n';
    mid_delta = false;
  }

  void print(const ccbridge::Message &m)
  {
    using ccbridge::MessageType;
    if (raw) {
      std::cout << m.raw() << '\n';
      return;
    }
    switch (m.type()) {
    case MessageType::system:
      if (m.subtype() == "init") {
        std::cerr << "[init] session " << m.session_id() << ", model " << m.model() << ", Claude Code "
                  << m.claude_code_version() << "\n";
      } else if (m.subtype() == "api_retry") {
        std::cerr << "[api_retry] attempt " << m.attempt().value_or(0) << "/" << m.max_retries().value_or(0)
                  << " after HTTP " << m.error_status().value_or(0) << "\n";
      }
      break;
    case MessageType::stream_event:
      if (partial && m.event_type() == "content_block_delta" && m.event()["delta"]["type"].string_or() == "text_delta") {
        std::cout << m.delta_text() << std::flush;
        mid_delta = true;
      }
      break;
    case MessageType::assistant:
      for (const auto &b : m.content()) {
        switch (b.type()) {
        case ccbridge::BlockType::text:
          if (partial && mid_delta) {
            end_delta();
          } else {
            std::cout << b.text() << '\n';
          }
          break;
        case ccbridge::BlockType::tool_use:
          end_delta();
          std::cout << "> " << b.name() << " " << first_line(b.input().dump()) << '\n';
          break;
        case ccbridge::BlockType::thinking: std::cerr << "[thinking] " << first_line(std::string(b.text())) << '\n'; break;
        default: break;
        }
      }
      break;
    case MessageType::user:
      for (const auto &b : m.content()) {
        if (b.type() == ccbridge::BlockType::tool_result) {
          std::cout << "  " << (b.is_error() ? "! " : "= ") << first_line(b.content_text()) << '\n';
        }
      }
      break;
    case MessageType::result: {
      end_delta();
      std::cerr << "[result] " << m.subtype() << (m.is_error() ? " (error)" : "") << ", " << m.num_turns().value_or(0)
                << " turn(s), $" << m.total_cost_usd().value_or(0.0) << ", " << m.duration_ms().value_or(0)
                << " ms\n";
      if (m.is_error()) {
        std::string why(m.result_text().value_or(""));
        for (auto e : m.errors()) why += (why.empty() ? "" : "; ") + std::string(e);
        if (!why.empty()) std::cerr << "  " << why << '\n';
      }
      break;
    }
    case MessageType::invalid_line: std::cerr << "[invalid line] " << m.line_error().description << '\n'; break;
    default: break;
    }
  }
};

int run_query(int argc, char **argv)
{
  ccbridge::Options opts;
  Printer printer;
  bool verbose = false;
  std::string prompt;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "ccbridge: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") opts.model = value();
    else if (a == "--cli") opts.cli_path = value();
    else if (a == "--cwd") opts.cwd = value();
    else if (a == "--allowed-tools") opts.allowed_tools = split_commas(value());
    else if (a == "--disallowed-tools") opts.disallowed_tools = split_commas(value());
    else if (a == "--permission-mode") opts.permission_mode = value();
    else if (a == "--max-turns") opts.max_turns = std::atoi(value().c_str());
    else if (a == "--system-prompt") opts.system_prompt = ccbridge::SystemPrompt::text(value());
    else if (a == "--claude-code-prompt") opts.system_prompt = ccbridge::SystemPrompt::preset();
    else if (a == "--partial") printer.partial = opts.include_partial_messages = true;
    else if (a == "--raw") printer.raw = true;
    else if (a == "--verbose") verbose = true;
    else if (a == "--") {
      for (++i; i < argc; ++i) prompt += (prompt.empty() ? "" : " ") + std::string(argv[i]);
    } else if (a.size() > 1 && a[0] == '-') {
      std::cerr << "ccbridge: unknown option " << a << "\n\n" << kUsage;
      return 2;
    } else {
      prompt += (prompt.empty() ? "" : " ") + a;
    }
  }
  if (prompt.empty()) {
    std::cerr << "ccbridge: query needs a PROMPT\n\n" << kUsage;
    return 2;
  }
  if (verbose) opts.stderr_callback = [](std::string_view line) { std::cerr << "[stderr] " << line << '\n'; };

  try {
    ccbridge::Stream stream = ccbridge::query(prompt, opts);
    bool error_result = false;
    for (const ccbridge::Message &m : stream) {
      printer.print(m);
      if (m.is(ccbridge::MessageType::result)) error_result = m.is_error();
    }
    return error_result ? 1 : 0;
  } catch (const ccbridge::Error &e) {
    printer.end_delta();
    std::cerr << "ccbridge: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace

int main(int argc, char **argv)
{
  if (argc >= 2 && (std::strcmp(argv[1], "--version") == 0)) {
    std::cout << "ccbridge " << CCB_VERSION_STRING << '\n';
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "query") == 0) return run_query(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) return run_serve(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "agent") == 0) return run_agent(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "users") == 0) return run_users(argc, argv);
  if (argc == 2 && std::strcmp(argv[1], "permission-hook") == 0) return run_permission_hook();
  std::cerr << kUsage;
  return argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) ? 0 : 2;
}
