// Helpers shared by the libFuzzer targets in tests/fuzz (see docs/RELIABILITY.md, "Fuzzing").
//
// A finding is reported by aborting with a message on stderr (libFuzzer then saves the input as
// crash-*), so the same mechanism covers sanitizer reports and the targets' own checks.
#pragma once

#include "detail/json.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <dirent.h>
#include <unistd.h>

namespace ccb_fuzz {

[[noreturn]] inline void fail(const std::string &what, std::string_view detail = {})
{
  std::fprintf(stderr, "\n==ccb_fuzz== CHECK FAILED: %s\n", what.c_str());
  if (!detail.empty()) {
    std::string d(detail.substr(0, 2000));
    std::fprintf(stderr, "==ccb_fuzz== detail (%zu bytes): %s\n", detail.size(), d.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

#define CCB_FUZZ_CHECK(cond, detail)                                                                  \
  do {                                                                                              \
    if (!(cond)) ::ccb_fuzz::fail(std::string(__FILE__ ":") + std::to_string(__LINE__) + ": " #cond, \
                                  (detail));                                                        \
  } while (0)

/// True if `text` is one valid JSON value, however deep: what ccbridge writes may wrap a value it
/// read (at most ccbridge::max_json_depth levels) a few levels deeper. The grammar is RapidJSON's
/// as ccbridge reads it (numbers as text), without building anything.
inline bool valid_json(std::string_view text)
{
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);  // as parse_exact
  rapidjson::BaseReaderHandler<> any;
  return !reader.Parse<ccbridge::detail::kParseFlags | rapidjson::kParseNumbersAsStringsFlag>(in, any).IsError();
}

/// Children of this process that are still around (any thread's), from /proc, but the symbolizer.
inline std::string live_children()
{
  std::string out;
  std::string dir = "/proc/self/task";
  DIR *d = opendir(dir.c_str());
  if (!d) return out;
  while (auto *e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string path = dir + "/" + e->d_name + "/children";
    if (FILE *f = std::fopen(path.c_str(), "r")) {
      int pid = 0;
      while (std::fscanf(f, "%d", &pid) == 1) {
        // The sanitizers' symbolizer (started by libFuzzer to print new functions) is no finding.
        std::string comm;
        if (FILE *c = std::fopen(("/proc/" + std::to_string(pid) + "/comm").c_str(), "r")) {
          char name[64] = {0};
          if (std::fgets(name, sizeof name, c)) comm = name;
          std::fclose(c);
        }
        if (comm.rfind("llvm-symbolizer", 0) == 0) continue;
        out += std::to_string(pid) + ":" + comm + " ";
      }
      std::fclose(f);
    }
  }
  closedir(d);
  return out;
}

/// A small deterministic generator (splitmix64) for chunk sizes derived from the input.
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next()
  {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

inline std::uint64_t hash_bytes(const std::uint8_t *d, std::size_t n)
{
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ d[i]) * 1099511628211ull;
  return h;
}

}  // namespace ccb_fuzz
