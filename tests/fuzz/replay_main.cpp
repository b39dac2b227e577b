// Replays the regression inputs of one fuzz target (tests/fuzz/regressions/<target>/, each a
// finding, fixed) through the target's own entry points, without libFuzzer and without coverage
// instrumentation: the normal build compiles each tests/fuzz/fuzz_*.cpp with this main
// (tests/unit/CMakeLists.txt), so ctest re-checks every finding with the compiler and sanitizers
// of that build, not only tests/fuzz/run.sh with clang.
//
//   ccb_fuzz_replay_<source> TARGET DIR      e.g. ccb_fuzz_replay_server fuzz_http_sdk_ws DIR
//
// TARGET is handed to LLVMFuzzerInitialize as argv[0] (fuzz_server.cpp picks its profile from it).
// A missing or empty DIR is no failure. A finding aborts with its message (fuzz_common.hpp), as
// under libFuzzer, so the test fails.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

int main(int argc, char **argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s TARGET DIR\n", argc > 0 ? argv[0] : "ccb_fuzz_replay");
    return 2;
  }
  std::string target = argv[1], dir = argv[2];
  std::vector<std::string> files;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (auto *e = ::readdir(d)) {
      std::string path = dir + "/" + e->d_name;
      struct stat st {};
      if (e->d_name[0] != '.' && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(path);
    }
    ::closedir(d);
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::printf("%s: no regression inputs in %s\n", target.c_str(), dir.c_str());
    return 0;
  }
  if (LLVMFuzzerInitialize) {
    std::string name = target;
    char *args[] = {&name[0], nullptr};
    char **av = args;
    int ac = 1;
    LLVMFuzzerInitialize(&ac, &av);
  }
  for (const auto &f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "%s: cannot read %s\n", target.c_str(), f.c_str());
      return 1;
    }
    std::printf("%s: %s (%zu bytes)\n", target.c_str(), f.c_str(), data.size());
    std::fflush(stdout);
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t *>(data.data()), data.size());
  }
  std::printf("%s: %zu regression input(s) replayed, no finding\n", target.c_str(), files.size());
  return 0;
}
