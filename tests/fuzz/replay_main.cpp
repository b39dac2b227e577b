// Replays the seed corpus and the regression inputs of one fuzz target through the target's own
// entry points, without libFuzzer and without coverage instrumentation: the normal build compiles
// each tests/fuzz/fuzz_*.cpp with this main (tests/unit/CMakeLists.txt), so ctest re-checks the
// seeds (tests/fuzz/make_corpus.py, generated into the build directory) and every finding
// (tests/fuzz/regressions/<target>/, each fixed) with the compiler and sanitizers of that build,
// not only tests/fuzz/run.sh with clang.
//
//   ccb_fuzz_replay_<source> TARGET SEEDS [REGRESSIONS]
//   e.g. ccb_fuzz_replay_server fuzz_http_sdk_ws build/tests/unit/fuzz-corpus/fuzz_http_sdk_ws \
//          tests/fuzz/regressions/fuzz_http_sdk_ws
//
// TARGET is handed to LLVMFuzzerInitialize as argv[0] (fuzz_server.cpp picks its profile from it).
// SEEDS missing or empty is a failure: a replay of nothing must not pass. REGRESSIONS may be
// missing (most targets have had no finding). A finding aborts with its message (fuzz_common.hpp),
// as under libFuzzer, so the test fails.
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

namespace {

// The regular files of dir, sorted; false if dir cannot be opened.
bool list_files(const std::string &dir, std::vector<std::string> &files)
{
  DIR *d = ::opendir(dir.c_str());
  if (!d) return false;
  while (auto *e = ::readdir(d)) {
    std::string path = dir + "/" + e->d_name;
    struct stat st {};
    if (e->d_name[0] != '.' && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(path);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  return true;
}

}  // namespace

int main(int argc, char **argv)
{
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s TARGET SEEDS [REGRESSIONS]\n", argc > 0 ? argv[0] : "ccb_fuzz_replay");
    return 2;
  }
  std::string target = argv[1], seed_dir = argv[2];
  std::vector<std::string> seeds, regressions;
  if (!list_files(seed_dir, seeds) || seeds.empty()) {
    std::fprintf(stderr, "%s: no seeds in %s (missing or empty: is the corpus generated? see tests/unit/CMakeLists.txt)\n",
                 target.c_str(), seed_dir.c_str());
    return 1;
  }
  if (argc == 4) list_files(argv[3], regressions);
  if (LLVMFuzzerInitialize) {
    std::string name = target;
    char *args[] = {&name[0], nullptr};
    char **av = args;
    int ac = 1;
    LLVMFuzzerInitialize(&ac, &av);
  }
  std::vector<std::string> files = regressions;
  files.insert(files.end(), seeds.begin(), seeds.end());
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
  std::printf("%s: replayed %zu regression input(s) and %zu seed(s), no finding\n", target.c_str(),
              regressions.size(), seeds.size());
  return 0;
}
