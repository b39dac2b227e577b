#include "protocol/framer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using ccbridge::errc;
using ccbridge::detail::FramerEvent;
using ccbridge::detail::LineFramer;

namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<errc> errors;
  std::vector<std::uint64_t> error_sizes;
  int skipped = 0;
};

struct Sink {
  Collected *c;
  void operator()(const FramerEvent &ev) const
  {
    switch (ev.kind) {
    case FramerEvent::Kind::line: c->lines.emplace_back(ev.bytes); break;
    case FramerEvent::Kind::skipped: ++c->skipped; break;
    case FramerEvent::Kind::error:
      c->errors.push_back(ev.code);
      c->error_sizes.push_back(ev.size);
      break;
    }
  }
};

Collected run_chunks(const std::vector<std::string> &chunks, std::size_t max = 1 << 20)
{
  Collected c;
  LineFramer f(max);
  for (const auto &ch : chunks) f.feed(ch.data(), ch.size(), Sink{&c});
  f.finish(Sink{&c});
  return c;
}

}  // namespace

TEST_CASE("framer: splits on newline only and keeps every line intact at every chunk seam")
{
  const std::string input =
      "{\"type\":\"system\",\"text\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}\n"
      "{\"type\":\"assistant\",\"s\":\"a\\nb \\u2028 x\"}\r\n"
      "\n"
      "   \n"
      "[SandboxDebug] noise on stdout\n"
      "{\"type\":\"result\",\"big\":\"" + std::string(300, 'z') + "\"}\n";
  const std::vector<std::string> expected = {
      "{\"type\":\"system\",\"text\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
      "{\"type\":\"assistant\",\"s\":\"a\\nb \\u2028 x\"}",
      "{\"type\":\"result\",\"big\":\"" + std::string(300, 'z') + "\"}",
  };
  // Every single seam.
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    auto c = run_chunks({input.substr(0, cut), input.substr(cut)});
    CHECK_MESSAGE(c.lines == expected, "cut at " << cut);
    CHECK(c.errors.empty());
    CHECK(c.skipped == 3);
  }
  // Every pair of seams (three chunks), which covers multi-byte UTF-8 split two ways.
  for (std::size_t a = 0; a < 80; ++a) {
    for (std::size_t b = a; b < 90; ++b) {
      auto c = run_chunks({input.substr(0, a), input.substr(a, b - a), input.substr(b)});
      REQUIRE_MESSAGE(c.lines == expected, "cuts at " << a << "," << b);
    }
  }
  // One byte at a time.
  std::vector<std::string> bytes;
  for (char ch : input) bytes.emplace_back(1, ch);
  CHECK(run_chunks(bytes).lines == expected);
}

TEST_CASE("framer: a UTF-8 character split across reads is reassembled, bad UTF-8 fails only its line")
{
  const std::string good = "{\"t\":\"\xf0\x9f\x98\x80\"}\n";
  auto c = run_chunks({good.substr(0, 7), good.substr(7, 1), good.substr(8)});
  REQUIRE(c.lines.size() == 1);
  CHECK(c.lines[0] == good.substr(0, good.size() - 1));

  const std::vector<std::string> bad_lines = {
      "{\"t\":\"\xff\"}\n",            // invalid byte
      "{\"t\":\"\xc0\xaf\"}\n",        // overlong
      "{\"t\":\"\xed\xa0\x80\"}\n",    // surrogate
      "{\"t\":\"\xf4\x90\x80\x80\"}\n",// > U+10FFFF
      "{\"t\":\"\xe2\x82\"}\n",        // truncated sequence
  };
  for (const auto &bad : bad_lines) {
    auto r = run_chunks({bad, "{\"after\":1}\n"});
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0] == errc::invalid_utf8);
    REQUIRE(r.lines.size() == 1);
    CHECK(r.lines[0] == "{\"after\":1}");
  }
}

TEST_CASE("framer: an oversize line becomes one error and the stream goes on, without holding it")
{
  const std::size_t max = 1000;
  std::string huge = "{\"x\":\"" + std::string(5000, 'a') + "\"}";
  // Arrives in many small pieces; the framer must not buffer past the limit.
  std::vector<std::string> chunks = {"{\"before\":1}\n"};
  for (std::size_t i = 0; i < huge.size(); i += 97) chunks.push_back(huge.substr(i, 97));
  chunks.emplace_back("\n{\"after\":2}\n");
  Collected c;
  LineFramer f(max);
  std::size_t max_pending = 0;
  for (const auto &ch : chunks) {
    f.feed(ch.data(), ch.size(), Sink{&c});
    max_pending = std::max(max_pending, f.pending_bytes());
  }
  f.finish(Sink{&c});
  CHECK(max_pending <= max);
  REQUIRE(c.errors.size() == 1);
  CHECK(c.errors[0] == errc::line_too_long);
  CHECK(c.error_sizes[0] == huge.size());
  CHECK(c.lines == std::vector<std::string>{"{\"before\":1}", "{\"after\":2}"});

  // Exactly at the limit is accepted; one byte more is not.
  std::string at = "{\"y\":\"" + std::string(max - 8, 'b') + "\"}";
  REQUIRE(at.size() == max);
  CHECK(run_chunks({at + "\n"}, max).lines.size() == 1);
  CHECK(run_chunks({at + " \n"}, max).errors.size() == 1);
}

TEST_CASE("framer: 100 MB lines")
{
  const std::size_t n = 100u * 1000u * 1000u;
  std::string line = "{\"pad\":\"";
  line.append(n - line.size() - 2, 'p');
  line += "\"}";
  REQUIRE(line.size() == n);
  std::string input = line + "\n{\"next\":true}\n";

  SUBCASE("accepted under a 128 MiB limit, fed in 64 KiB reads")
  {
    Collected c;
    LineFramer f(128u << 20);
    for (std::size_t i = 0; i < input.size(); i += 65536) {
      f.feed(input.data() + i, std::min<std::size_t>(65536, input.size() - i), Sink{&c});
    }
    f.finish(Sink{&c});
    REQUIRE(c.lines.size() == 2);
    CHECK(c.lines[0].size() == n);
    CHECK(c.lines[1] == "{\"next\":true}");
  }
  SUBCASE("rejected under the default 64 MiB limit; the next line still arrives")
  {
    Collected c;
    LineFramer f(64u << 20);
    for (std::size_t i = 0; i < input.size(); i += 65536) {
      f.feed(input.data() + i, std::min<std::size_t>(65536, input.size() - i), Sink{&c});
    }
    f.finish(Sink{&c});
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0] == errc::line_too_long);
    CHECK(c.error_sizes[0] == n);
    CHECK(c.lines == std::vector<std::string>{"{\"next\":true}"});
  }
}

TEST_CASE("framer: garbage, binary noise and a final line without newline")
{
  std::string garbage = std::string("\x00\x01\x02 plain text\n", 16) + "}{ not json\n" + "\x1b[31mred\x1b[0m\n";
  auto c = run_chunks({garbage, "{\"tail\":true}"});
  CHECK(c.skipped == 3);
  CHECK(c.errors.empty());
  CHECK(c.lines == std::vector<std::string>{"{\"tail\":true}"});
  // Lines are counted for error reports, including skipped ones.
  LineFramer f(100);
  Collected d;
  f.feed("a\nb\n{}\n", 7, Sink{&d});
  CHECK(f.lines() == 3);
}
