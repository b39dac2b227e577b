// Several prompts at once on one Runtime, consumed by callbacks on ccbridge's I/O thread.
//   ./callbacks "first prompt" "second prompt" ...
#include <ccbridge/ccbridge.hpp>

#include <iostream>
#include <mutex>
#include <vector>

int main(int argc, char **argv)
{
  ccbridge::Runtime runtime(1);  // one I/O thread drives every CLI process
  std::mutex out;
  std::vector<ccbridge::Stream> runs;
  try {
    for (int i = 1; i < argc; ++i) {
      runs.push_back(ccbridge::query(runtime, argv[i]));
      runs.back().on_message(
          [&out, i](const ccbridge::Message &m) {
            if (!m.is(ccbridge::MessageType::assistant)) return;
            std::lock_guard<std::mutex> lock(out);
            std::cout << "[" << i << "] " << m.text() << '\n';
          },
          [&out, i](const ccbridge::RunOutcome &o) {
            std::lock_guard<std::mutex> lock(out);
            std::cout << "[" << i << "] done: " << (o.ok() ? "ok" : o.message) << '\n';
          });
    }
  } catch (const ccbridge::Error &e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  for (auto &r : runs) r.wait();  // blocks this thread only
  return 0;
}
