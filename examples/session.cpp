// A multi-turn conversation with a permission callback and a C++ function the model can call.
//   ./session            (reads prompts from stdin, one per line; an empty line ends)
#include <ccbridge/ccbridge.hpp>

#include <ctime>
#include <iostream>
#include <string>

int main()
{
  ccbridge::Runtime runtime;
  ccbridge::SessionOptions so;
  so.options.include_partial_messages = true;

  // Ask on the terminal before any tool runs that the CLI's rules do not already allow.
  so.can_use_tool = ccbridge::permission_function([](const ccbridge::PermissionRequest &r) {
    std::cerr << "\nallow " << r.tool_name << " " << r.input.dump() << "? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer == "y" || answer == "Y") return ccbridge::PermissionDecision::allow();
    return ccbridge::PermissionDecision::deny("the user said no");
  });

  // An in-process tool: the model sees it as mcp__clock__now.
  ccbridge::Tool now;
  now.name = "now";
  now.description = "The current time on this machine, as seconds since the epoch";
  now.handler = [](const ccbridge::JsonView &) {
    return ccbridge::ToolResult::text(std::to_string(std::time(nullptr)));
  };
  so.mcp_servers.push_back({"clock", "1.0.0", {now}});
  so.options.allowed_tools = {"mcp__clock__now"};

  try {
    ccbridge::Session session = ccbridge::Session::open(runtime, so);
    std::string prompt;
    while (std::cerr << "\n> " << std::flush, std::getline(std::cin, prompt) && !prompt.empty()) {
      session.send(prompt);
      ccbridge::DeltaAccumulator stream;
      std::size_t shown = 0;  // characters of the current text block already printed
      for (;;) {
        ccbridge::Message m;
        if (session.messages().pull(m, std::chrono::minutes(10)) != ccbridge::PullStatus::message) break;
        if (stream.add(m)) {
          if (m.event_type() == "content_block_start") shown = 0;
          const auto &blocks = stream.blocks();
          std::size_t i = static_cast<std::size_t>(m.event()["index"].int64().value_or(0));
          if (i < blocks.size() && blocks[i].type == "text" && blocks[i].text.size() > shown) {
            std::cout << blocks[i].text.substr(shown) << std::flush;
            shown = blocks[i].text.size();
          }
        }
        if (m.is(ccbridge::MessageType::result)) {
          std::cout << "\n[" << m.subtype() << ", $" << m.total_cost_usd().value_or(0) << "]\n";
          break;
        }
      }
    }
    session.close();
  } catch (const ccbridge::Error &e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  return 0;
}
