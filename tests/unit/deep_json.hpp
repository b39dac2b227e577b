// JSON text nested a given number of levels deep, for the tests of the nesting limit
// (ccbridge::max_json_depth, 512: docs/SERVER.md "Limits").
#pragma once

#include <cstddef>
#include <string>

namespace ccb_test {

/// `levels` arrays, one inside the other: "[[[]]]" for 3.
inline std::string nested_arrays(std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

/// `levels` containers alternating object and array, with siblings on the way down:
/// {"a":[1,{"a":[1,...]}]} (an object at the top; an empty one at the bottom).
inline std::string nested_mixed(std::size_t levels)
{
  std::string open, close;
  for (std::size_t i = 0; i < levels; ++i) {
    bool object = i % 2 == 0;
    bool last = i + 1 == levels;
    open += object ? (last ? "{" : "{\"k\":true,\"a\":") : (last ? "[" : "[1,");
    close.insert(0, object ? "}" : "]");
  }
  return open + close;
}

}  // namespace ccb_test
