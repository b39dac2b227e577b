// Fuzz target 4: JSON nested around and far beyond the limit (ccbridge::max_json_depth, 512),
// through every reader of outside JSON: parse_json + dump, Message::parse (a CLI line) with the
// validating scanner and json_member_span, options_from_json and server_config_from_json.
//
// Input: one mode byte, then shape bytes.
//  - mode < 0xFE: a value nested max_json_depth - 16 + mode % 32 levels (496..527); 0xFE: 65,536
//    levels; 0xFF: 200,000 (the define_tool). The big ones are rare: they are slow.
//  - shape bytes, used in turn for each level (cycled): object or array, a sibling before and
//    after the child, blanks, the member name (plain, "type", escaped, with brackets inside);
//    one more byte picks the innermost scalar (or none).
//  - a first shape byte 0xFF instead corrupts the text: the next two bytes give a position, the
//    third a replacement byte (0: delete), so the text may be invalid in any way.
//
// Checks, besides the sanitizers (a stack overflow is a crash):
//  - generated text is accepted by every reader exactly when it is at most 512 levels deep, each
//    reader wrapping it in its own levels; a refusal says "nested deeper than 512 levels";
//  - what is accepted dumps to valid JSON that parses back to the same text; the CLI line's
//    member reads back the same through the DOM and through json_member_span;
//  - on corrupted text, parse_json, Message::parse and the scanner agree on accept/reject.
#include "fuzz_common.hpp"

#include "detail/json.hpp"
#include "protocol/json_scan.hpp"

#include <ccbridge/error.hpp>
#include <ccbridge/message.hpp>
#include <ccbridge/options.hpp>
#include <ccbridge/server.hpp>

#include <string>
#include <vector>

namespace {

using ccbridge::max_json_depth;
using ccbridge::detail::kNestedTooDeep;

struct Text {
  std::string json;
  std::size_t depth = 0;
};

// The value `levels` deep, shaped by `shape` (see the header).
Text generate(std::size_t levels, const std::uint8_t *shape, std::size_t n)
{
  static const char *const names[] = {"\"a\"", "\"type\"", "\"\\u0061\"", "\"[{\""};
  static const char *const leaves[] = {"", "1", "\"s\"", "true", "null", "-1.5e300", "\"\\ud83d\\ude00\"", "0.5"};
  std::string open;
  std::vector<std::string> closers;  // innermost last
  for (std::size_t i = 0; i < levels; ++i) {
    std::uint8_t b = n ? shape[i % n] : 0;
    bool object = b & 1, before = b & 2, after = b & 4;
    const char *ws = (b & 8) ? " \n" : "";
    std::string name = names[(b >> 4) & 3];
    std::string sibling = object ? name + ":0," : "2,";
    open += object ? "{" : "[";
    open += ws;
    if (before) open += sibling;
    if (i + 1 < levels && object) open += name + ":";
    // A sibling container after the child is no deeper than the child; the innermost container
    // holds a scalar leaf or nothing instead.
    std::string tail = after ? std::string(",") + (object ? "\"z\":[]" : "[]") : std::string();
    if (i + 1 == levels) {
      std::string leaf = leaves[(n ? shape[levels % n] : 0) % 8];
      if (object && !leaf.empty()) leaf = name + ":" + leaf;
      if (leaf.empty() && before) open.pop_back();  // the sibling's comma
      open += leaf;
      tail.clear();
    }
    closers.push_back(tail + ws + (object ? "}" : "]"));
  }
  for (auto c = closers.rbegin(); c != closers.rend(); ++c) open += *c;
  return {open, levels};
}

bool refused_as_too_deep(const std::string &what) { return what.find(kNestedTooDeep) != std::string::npos; }

bool parses(const std::string &text)
{
  try {
    (void)ccbridge::parse_json(text);
    return true;
  } catch (const ccbridge::Error &) {
    return false;
  }
}

// parse_json: accepted exactly within the limit; dump round-trips.
void check_parse_json(const Text &t)
{
  const bool fits = t.depth <= max_json_depth;
  try {
    ccbridge::JsonView v = ccbridge::parse_json(t.json);
    CCB_FUZZ_CHECK(fits, "accepted at depth " + std::to_string(t.depth));
    std::string d = v.dump();
    CCB_FUZZ_CHECK(ccbridge::parse_json(d).dump() == d, d);
  } catch (const ccbridge::Error &e) {
    CCB_FUZZ_CHECK(!fits && e.code() == ccbridge::errc::parse_error && refused_as_too_deep(e.what()),
                   std::string(e.what()) + " at depth " + std::to_string(t.depth));
  }
}

// The value as member "v" of a CLI line (one level more): the scanner, Message and the span finder.
void check_cli_line(const Text &t)
{
  const std::string line = "{\"type\":\"t\",\"v\":" + t.json + "}";
  const bool fits = t.depth + 1 <= max_json_depth;
  auto scan = ccbridge::detail::scan_json_object(line.c_str(), line.size());
  CCB_FUZZ_CHECK(scan.ok == fits, line);
  if (!fits) CCB_FUZZ_CHECK(std::string(scan.error) == kNestedTooDeep, scan.error);
  ccbridge::Message m = ccbridge::Message::parse(line, 1);
  CCB_FUZZ_CHECK((m.type() != ccbridge::MessageType::invalid_line) == fits, m.line_error().description);
  if (!fits) {
    CCB_FUZZ_CHECK(refused_as_too_deep(m.line_error().description), m.line_error().description);
    return;
  }
  auto span = ccbridge::detail::json_member_span(line, {"v"});
  CCB_FUZZ_CHECK(span && *span == t.json, line);
  CCB_FUZZ_CHECK(m.json()["v"].dump() == ccbridge::parse_json(t.json).dump(), line);
}

// The value inside options (two levels more) and a server config (three more).
void check_options_and_config(const Text &t)
{
  const std::string sandbox = "{\"v\":" + t.json + "}";
  const std::string inputs[] = {"{\"sandbox\":" + sandbox + "}", "{\"cli\":{\"sandbox\":" + sandbox + "}}"};
  for (int config = 0; config < 2; ++config) {
    const bool fits = t.depth + 2 + config <= max_json_depth;
    try {
      if (config) {
        auto c = ccbridge::server_config_from_json(inputs[config]);
        CCB_FUZZ_CHECK(fits && c.cli.sandbox_json && ccb_fuzz::valid_json(*c.cli.sandbox_json), inputs[config]);
      } else {
        auto o = ccbridge::options_from_json(inputs[config]);
        CCB_FUZZ_CHECK(fits && o.sandbox_json && ccb_fuzz::valid_json(*o.sandbox_json), inputs[config]);
      }
    } catch (const ccbridge::Error &e) {
      CCB_FUZZ_CHECK(!fits && e.code() == ccbridge::errc::invalid_argument && refused_as_too_deep(e.what()),
                     std::string(e.what()) + " at depth " + std::to_string(t.depth));
    }
  }
}

// Arbitrary (corrupted) text: the readers agree on accept/reject.
void check_agreement(const std::string &text)
{
  const std::string line = "{\"v\":" + text + "}";
  const bool json_ok = parses(line);
  ccbridge::Message m = ccbridge::Message::parse(line, 1);
  CCB_FUZZ_CHECK((m.type() != ccbridge::MessageType::invalid_line) == json_ok, line);
  auto scan = ccbridge::detail::scan_json_object(line.c_str(), line.size());
  if (!scan.needs_dom || !scan.ok) CCB_FUZZ_CHECK(scan.ok == json_ok, line);
  if (json_ok) {
    std::string d = m.json().dump();
    CCB_FUZZ_CHECK(ccbridge::parse_json(d).dump() == d, line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const std::size_t levels = mode < 0xFE ? max_json_depth - 16 + mode % 32 : mode == 0xFE ? 65536 : 200000;
  const std::uint8_t *shape = data + 1;
  std::size_t n = size - 1;
  if (n >= 4 && shape[0] == 0xFF) {
    std::string text = generate(levels, shape + 4, n - 4).json;
    const std::size_t at = (static_cast<std::size_t>(shape[1]) << 8 | shape[2]) % text.size();
    if (shape[3] == 0) text.erase(at, 1);
    else text[at] = static_cast<char>(shape[3]);
    check_agreement(text);
    return 0;
  }
  Text t = generate(levels, shape, n);
  check_parse_json(t);
  check_cli_line(t);
  check_options_and_config(t);
  return 0;
}
