// The files of cc-control's browser console (console/ here, and the pinned xterm.js that
// scripts/fetch-xterm.sh caches), embedded into the server by cmake/embed_files.cmake.
#pragma once

#include <cstddef>

namespace ccbridge::detail::server::cc_control {

struct EmbeddedFile {
  const char *name;           ///< e.g. "console.js"
  const unsigned char *data;  ///< `size` bytes (then a 0 byte)
  std::size_t size;
};

extern const EmbeddedFile kConsoleFiles[];
extern const std::size_t kConsoleFiles_count;

}  // namespace ccbridge::detail::server::cc_control
