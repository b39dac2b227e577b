// One prompt through the Claude Code CLI: print the reply as it streams and the cost at the end.
//   ./query "What is 2 + 2?"
#include <ccbridge/ccbridge.hpp>

#include <chrono>
#include <iostream>

int main(int argc, char **argv)
{
  if (argc < 2) {
    std::cerr << "usage: query PROMPT\n";
    return 2;
  }
  ccbridge::Options options;
  options.include_partial_messages = true;  // text deltas as they are generated
  options.max_turns = 3;

  try {
    ccbridge::Stream stream = ccbridge::query(argv[1], options);
    for (const ccbridge::Message &m : stream) {
      if (m.is(ccbridge::MessageType::stream_event) && m.event_type() == "content_block_delta") {
        std::cout << m.delta_text() << std::flush;
      } else if (m.is(ccbridge::MessageType::result)) {
        std::cout << "\n[" << m.subtype() << ", $" << m.total_cost_usd().value_or(0) << "]\n";
        if (m.is_error()) return 1;
      }
    }
  } catch (const ccbridge::ProcessError &e) {  // the CLI failed: exit code, stderr, error result
    std::cerr << e.what() << '\n';
    return 1;
  } catch (const ccbridge::Error &e) {  // could not start: cli_not_found, cwd_not_found, ...
    std::cerr << e.what() << '\n';
    return 1;
  }
  return 0;
}
