// Fuzz target 1: the NDJSON framer (lib/protocol/framer.hpp), the validating scanner
// (json_scan.cpp), Message::parse (message.cpp) and the typed accessors, on bytes as the CLI's
// stdout would deliver them.
//
// Checks, besides the sanitizers:
//  - chunking never changes what the framer produces (the input fed at once vs in pieces whose
//    sizes come from the input's hash), under a small and a large line limit;
//  - every line event is trimmed, starts with '{' and is within the limit; every too-long event
//    is over it;
//  - the scanner agrees with RapidJSON (the rule tests/unit/test_json_scan.cpp states), and a line
//    is an invalid_line message exactly when RapidJSON refuses it;
//  - a Message serialises back to its bytes; json().dump() is valid JSON and stable when re-parsed;
//  - session_id(), text() and token_usage(), read from the bytes, agree with the DOM.
#include "fuzz_common.hpp"

#include "detail/json.hpp"
#include "protocol/framer.hpp"
#include "protocol/json_scan.hpp"
#include "protocol/message_impl.hpp"

#include <ccbridge/message.hpp>
#include <ccbridge/stream_events.hpp>

#include <string>
#include <vector>

namespace {

using ccbridge::Message;
using ccbridge::MessageType;
using ccbridge::detail::FramerEvent;
using ccbridge::detail::LineFramer;

struct Ev {
  FramerEvent::Kind kind;
  std::string bytes;
  ccbridge::errc code;
  std::uint64_t line_number, size;
  std::size_t error_offset;
  bool has_nul;
  bool operator==(const Ev &o) const
  {
    return kind == o.kind && bytes == o.bytes && code == o.code && line_number == o.line_number && size == o.size &&
           error_offset == o.error_offset && has_nul == o.has_nul;
  }
};

std::vector<Ev> frame(const std::uint8_t *data, std::size_t size, std::size_t limit, ccb_fuzz::Rng *chunks)
{
  std::vector<Ev> out;
  LineFramer f(limit);
  auto sink = [&](const FramerEvent &e) {
    out.push_back({e.kind, std::string(e.bytes), e.code, e.line_number, e.size, e.error_offset, e.has_nul});
  };
  const char *p = reinterpret_cast<const char *>(data);
  std::size_t off = 0;
  while (off < size) {
    std::size_t n = size - off;
    if (chunks) n = std::min<std::size_t>(n, 1 + chunks->next() % 97);
    f.feed(p + off, n, sink);
    off += n;
    // Bytes held for an unfinished line never exceed the limit.
    CCB_FUZZ_CHECK(f.pending_bytes() <= limit, std::to_string(f.pending_bytes()));
  }
  f.finish(sink);
  return out;
}

std::string describe(const std::vector<Ev> &a, const std::vector<Ev> &b)
{
  std::string s = "events " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (!(a[i] == b[i])) {
      auto one = [](const Ev &e) {
        return "{kind " + std::to_string(static_cast<int>(e.kind)) + ", code " + std::to_string(static_cast<int>(e.code)) +
               ", line " + std::to_string(e.line_number) + ", size " + std::to_string(e.size) + ", bytes " +
               std::to_string(e.bytes.size()) + ", offset " + std::to_string(e.error_offset) + ", nul " +
               std::to_string(e.has_nul) + ": '" + e.bytes.substr(0, 120) + "'}";
      };
      s += "; first difference at event " + std::to_string(i) + ": " + one(a[i]) + " vs " + one(b[i]);
      break;
    }
  return s;
}

// The agreement rule of tests/unit/test_json_scan.cpp.
// Lines with a NUL byte never reach the scanner (parse_checked_line refuses them first), and
// RapidJSON would stop at the NUL, so the rule applies to the others only.
// session_id(), text() and token_usage() read from the line's bytes (before any DOM exists)
// answer as their DOM versions do on a second copy of the line.
void check_byte_readers(const Message &fresh, const std::string &line)
{
  std::string sid(fresh.session_id()), text = fresh.text();
  Message::TokenUsage u = fresh.token_usage();
  Message ref = Message::parse(line);
  CCB_FUZZ_CHECK(sid == ref.json()["session_id"].string_or(), line);
  std::string ref_text;
  for (const auto &b : ref.content()) {
    if (b.type() != ccbridge::BlockType::text) continue;
    if (!ref_text.empty()) ref_text += '\n';
    ref_text += b.text();
  }
  CCB_FUZZ_CHECK(text == ref_text, line);
  ccbridge::JsonView ru = ref.usage();
  CCB_FUZZ_CHECK(u.input_tokens == ru["input_tokens"].int64() && u.output_tokens == ru["output_tokens"].int64() &&
                     u.cache_creation_input_tokens == ru["cache_creation_input_tokens"].int64() &&
                     u.cache_read_input_tokens == ru["cache_read_input_tokens"].int64(),
                 line);
}

void check_scanner(const std::string &line, bool has_nul)
{
  if (has_nul) {
    CCB_FUZZ_CHECK(Message::parse(line).type() == MessageType::invalid_line, line);
    return;
  }
  ccbridge::detail::JsonDocument doc;
  auto r = ccbridge::detail::parse_exact(doc, line);  // the library's reader, with its nesting limit
  const bool ok = !r.IsError() && doc.IsObject();
  auto scan = ccbridge::detail::scan_json_object(line.c_str(), line.size());
  if (!scan.needs_dom) {
    CCB_FUZZ_CHECK(scan.ok == ok, line);
    if (ok) {
      CCB_FUZZ_CHECK(scan.type == ccbridge::detail::get_string(doc, "type"), line);
      CCB_FUZZ_CHECK(scan.subtype == ccbridge::detail::get_string(doc, "subtype"), line);
    }
  } else if (!scan.ok) {
    CCB_FUZZ_CHECK(!ok, line);
  }
  Message m = Message::parse(line, 7);
  CCB_FUZZ_CHECK((m.type() != MessageType::invalid_line) == ok, line);
  if (ok) {
    CCB_FUZZ_CHECK(m.type_name() == ccbridge::detail::get_string(doc, "type"), line);
    CCB_FUZZ_CHECK(m.subtype() == ccbridge::detail::get_string(doc, "subtype"), line);
    check_byte_readers(m, line);
  }
}

void check_dump(const ccbridge::JsonView &v, std::string_view context)
{
  if (!v.exists()) return;
  std::string d = v.dump();
  ccbridge::JsonView again;
  try {
    again = ccbridge::parse_json(d);
  } catch (...) {
    ccb_fuzz::fail("JsonView::dump() is not valid JSON: " + d.substr(0, 300), context);
  }
  CCB_FUZZ_CHECK(again.dump() == d, std::string(context));
}

std::size_t sink_size = 0;
void use(std::string_view s) { sink_size += s.size(); }
template <class T> void use(const std::optional<T> &o) { sink_size += o.has_value(); }

void exercise(const Message &m, ccbridge::DeltaAccumulator &acc)
{
  use(m.type_name());
  use(m.subtype());
  use(ccbridge::to_string(m.type()));
  use(m.session_id());
  use(m.uuid());
  use(m.parent_tool_use_id());
  use(m.model());
  use(m.cwd());
  use(m.permission_mode());
  use(m.claude_code_version());
  use(m.status());
  use(m.attempt());
  use(m.max_retries());
  use(m.retry_delay_ms());
  use(m.error_status());
  use(m.task_id());
  use(m.message_id());
  for (const auto &b : m.content()) {
    sink_size += static_cast<std::size_t>(b.type());
    use(b.type_name());
    use(b.text());
    use(b.signature());
    use(b.id());
    use(b.name());
    use(b.tool_use_id());
    use(b.content_text());
    sink_size += b.is_error();
    check_dump(b.input(), m.raw());
  }
  use(m.text());
  use(m.error());
  sink_size += m.is_replay() + m.is_error() + m.is_error_result();
  use(m.result_text());
  use(m.total_cost_usd());
  use(m.duration_ms());
  use(m.duration_api_ms());
  use(m.num_turns());
  use(m.stop_reason());
  use(m.terminal_reason());
  use(m.api_error_status());
  for (auto e : m.errors()) use(e);
  for (const auto &d : m.permission_denials()) {
    use(d.tool_name);
    use(d.tool_use_id);
    check_dump(d.tool_input, m.raw());
  }
  check_dump(m.usage(), m.raw());
  check_dump(m.model_usage(), m.raw());
  check_dump(m.structured_output(), m.raw());
  check_dump(m.tool_use_result(), m.raw());
  check_dump(m.rate_limit_info(), m.raw());
  use(m.event_type());
  use(m.delta_text());
  use(m.request_id());
  use(m.line_error().description);
  acc.add(m);
  for (std::size_t i = 0; i < acc.blocks().size(); ++i) use(acc.text(i));
  if (m.type() != MessageType::invalid_line) {
    CCB_FUZZ_CHECK(m.json().is_object(), m.raw());
    check_dump(m.json(), m.raw());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  for (std::size_t limit : {std::size_t(256), std::size_t(1) << 20}) {
    std::vector<Ev> whole = frame(data, size, limit, nullptr);
    ccb_fuzz::Rng rng(ccb_fuzz::hash_bytes(data, size));
    std::vector<Ev> pieces = frame(data, size, limit, &rng);
    CCB_FUZZ_CHECK(whole == pieces, describe(whole, pieces));
    for (const Ev &e : whole) {
      if (e.kind == FramerEvent::Kind::line) {
        CCB_FUZZ_CHECK(!e.bytes.empty() && e.bytes.front() == '{' && e.bytes.size() <= limit, e.bytes);
        CCB_FUZZ_CHECK(e.bytes.back() != ' ' && e.bytes.back() != '\t' && e.bytes.back() != '\r', e.bytes);
        CCB_FUZZ_CHECK(e.bytes.find('\n') == std::string::npos, e.bytes);
      } else if (e.kind == FramerEvent::Kind::error && e.code == ccbridge::errc::line_too_long) {
        CCB_FUZZ_CHECK(e.size > limit, std::to_string(e.size));
        CCB_FUZZ_CHECK(e.bytes.size() <= LineFramer::kSampleBytes, std::to_string(e.bytes.size()));
      }
    }
    if (limit != 256) {
      ccbridge::DeltaAccumulator acc;
      std::size_t lines = 0;
      for (const Ev &e : whole) {
        if (e.kind != FramerEvent::Kind::line || ++lines > 64) continue;
        check_scanner(e.bytes, e.has_nul);
        Message m = ccbridge::detail::parse_checked_line(e.bytes, e.line_number, e.has_nul);
        CCB_FUZZ_CHECK(m.raw() == e.bytes && m.to_json() == e.bytes, e.bytes);
        CCB_FUZZ_CHECK(m.raw().data()[m.raw().size()] == '\0', e.bytes);
        exercise(m, acc);
      }
    }
  }
  // The public entry point on the whole input (newlines, NUL bytes and all).
  Message whole = Message::parse(std::string(reinterpret_cast<const char *>(data), size), 1);
  ccbridge::DeltaAccumulator acc;
  exercise(whole, acc);
  return 0;
}
