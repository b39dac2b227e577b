// Byte-level NDJSON framer for the CLI's stdout.
//
// Splits on the newline byte only, assembling lines across reads; never decodes partial lines, so
// a multi-byte UTF-8 sequence or a JSON token split between two reads is reassembled intact.
// Each complete line is trimmed of surrounding spaces, tabs and '\r'; blank lines and lines that do
// not start with '{' are skipped (the CLI sometimes prints debug noise on stdout). A line longer
// than the limit (counted in bytes) or not valid UTF-8 becomes an error event for that line only;
// an oversize line is never held in memory beyond the limit.
#pragma once

#include <ccbridge/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "protocol/utf8.hpp"

namespace ccbridge::detail {

struct FramerEvent {
  enum class Kind { line, skipped, error };
  Kind kind = Kind::line;
  std::string_view bytes;        ///< line: the trimmed line; error: a sample of its first bytes
  errc code = errc::ok;          ///< error: invalid_utf8 or line_too_long
  std::uint64_t line_number = 0; ///< 1-based
  std::uint64_t size = 0;        ///< the untrimmed line length in bytes
  std::size_t error_offset = 0;  ///< invalid_utf8: offset of the first bad byte in the trimmed line
  bool has_nul = false;          ///< line: it contains a NUL byte (valid UTF-8, never valid JSON)
};

class LineFramer {
public:
  static constexpr std::size_t kSampleBytes = 1024;

  explicit LineFramer(std::size_t max_line_bytes) : max_(max_line_bytes) {}

  /// Feeds bytes; calls sink(const FramerEvent&) for every complete line.
  /// Views in the event are valid only during the call.
  template <class Sink> void feed(const char *data, std::size_t size, Sink &&sink)
  {
    const char *p = data;
    const char *end = data + size;
    while (p < end) {
      const auto *nl = static_cast<const char *>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (!nl) {
        hold(p, static_cast<std::size_t>(end - p));
        return;
      }
      const auto seg = static_cast<std::size_t>(nl - p);
      if (discarding_) {
        discarded_ += seg;
        add_sample(p, seg);
        emit_too_long(sink);
      } else if (partial_.empty()) {
        if (seg > max_) {
          sample_.assign(p, std::min(seg, kSampleBytes));
          discarded_ = seg;
          emit_too_long(sink);
        } else {
          emit_line(std::string_view(p, seg), sink);
        }
      } else if (partial_.size() + seg > max_) {
        start_discarding(p, seg);
        emit_too_long(sink);
      } else {
        append_partial(p, seg);
        emit_line(partial_, sink);
        release_partial();
      }
      p = nl + 1;
    }
  }

  /// End of input: a final line without a newline is still delivered.
  template <class Sink> void finish(Sink &&sink)
  {
    if (discarding_) {
      emit_too_long(sink);
    } else if (!partial_.empty()) {
      emit_line(partial_, sink);
      release_partial();
    }
  }

  std::uint64_t lines() const noexcept { return line_no_; }
  /// Bytes held for an unfinished line.
  std::size_t pending_bytes() const noexcept { return discarding_ ? 0 : partial_.size(); }

private:
  void hold(const char *p, std::size_t n)
  {
    if (discarding_) {
      discarded_ += n;
      add_sample(p, n);
    } else if (partial_.size() + n > max_) {
      start_discarding(p, n);
    } else {
      append_partial(p, n);
    }
  }

  // Grows the unfinished line's buffer geometrically, but past half the limit straight to the
  // limit: a growth step copies the old buffer while it is still held, so a string left to double
  // on its own could briefly hold about twice the limit (measured: 130 MB of RSS for a 200 MB
  // line under the 64 MiB limit). This way a line costs at most the limit.
  void append_partial(const char *p, std::size_t n)
  {
    std::size_t need = partial_.size() + n;  // <= max_, checked by the callers
    if (need > partial_.capacity()) {
      std::size_t grow = std::max(need, 2 * partial_.capacity());
      partial_.reserve(grow > max_ / 2 ? std::max(need, max_) : grow);
    }
    partial_.append(p, n);
  }

  // The sample of an over-long line is its first kSampleBytes bytes however the reads split it.
  void add_sample(const char *p, std::size_t n)
  {
    if (sample_.size() < kSampleBytes) sample_.append(p, std::min(n, kSampleBytes - sample_.size()));
  }

  void start_discarding(const char *p, std::size_t n)
  {
    sample_.assign(partial_, 0, std::min(partial_.size(), kSampleBytes));
    add_sample(p, n);
    discarded_ = partial_.size() + n;
    discarding_ = true;
    partial_.clear();
    partial_.shrink_to_fit();
  }

  void release_partial()
  {
    partial_.clear();
    if (partial_.capacity() > (1u << 20)) partial_.shrink_to_fit();
  }

  template <class Sink> void emit_too_long(Sink &sink)
  {
    FramerEvent ev;
    ev.kind = FramerEvent::Kind::error;
    ev.code = errc::line_too_long;
    ev.line_number = ++line_no_;
    ev.size = discarded_;
    ev.bytes = sample_;
    sink(static_cast<const FramerEvent &>(ev));
    discarding_ = false;
    discarded_ = 0;
    sample_.clear();
  }

  template <class Sink> void emit_line(std::string_view raw, Sink &sink)
  {
    FramerEvent ev;
    ev.line_number = ++line_no_;
    ev.size = raw.size();
    std::size_t b = 0, e = raw.size();
    while (b < e && is_space(raw[b])) ++b;
    while (e > b && is_space(raw[e - 1])) --e;
    std::string_view line = raw.substr(b, e - b);
    if (line.empty() || line.front() != '{') {
      ev.kind = FramerEvent::Kind::skipped;
      ev.bytes = line.substr(0, std::min(line.size(), kSampleBytes));
    } else if (Utf8Check u = check_utf8(line.data(), line.size()); !u.valid) {
      ev.kind = FramerEvent::Kind::error;
      ev.code = errc::invalid_utf8;
      ev.error_offset = u.error_offset;
      ev.bytes = line.substr(0, std::min(line.size(), kSampleBytes));
    } else {
      ev.has_nul = u.has_nul;
      ev.bytes = line;
    }
    sink(static_cast<const FramerEvent &>(ev));
  }

  static bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

  std::size_t max_;
  std::string partial_;
  std::string sample_;
  bool discarding_ = false;
  std::uint64_t discarded_ = 0;
  std::uint64_t line_no_ = 0;
};

}  // namespace ccbridge::detail
