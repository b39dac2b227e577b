// cc-control's screen-reading approval detector, its stripper and the resume-hint detector, on
// hand-made input and on recordings of the real Claude Code 2.1.330 UI (tests/fixtures/pty/).
#include "pty_recording.hpp"
#include "server/profiles/cc_control/detector.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

using namespace ccbridge::detail::server::cc_control;
using ccb_test::PtyEvent;

namespace {

std::vector<PtyEvent> recording(const std::string &name)
{
  return ccb_test::read_recording(std::string(CCB_FIXTURES_DIR) + "/pty/" + name + ".jsonl");
}

std::string all_output(const std::vector<PtyEvent> &events)
{
  std::string out;
  for (const auto &e : events)
    if (e.kind == PtyEvent::out) out += e.data;
  return out;
}

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

// Feeds the recording's output chunks, as recorded, to a detector: the first match and the index of
// the event it came on (-1 when none).
struct Detection {
  std::optional<PromptMatch> match;
  int at = -1;
};
Detection detect(const std::vector<PtyEvent> &events)
{
  PromptDetector d;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].kind != PtyEvent::out) continue;
    if (auto m = d.feed(events[i].data)) return {m, static_cast<int>(i)};
  }
  return {};
}

// The whole output as a slower reader with `size`-byte reads would get it: full reads, then the rest
// (the first read `skew` bytes short, to move every edge).
std::optional<PromptMatch> detect_in_reads(const std::vector<PtyEvent> &events, std::size_t size, std::size_t skew)
{
  std::string all = all_output(events);
  PromptDetector d(size);
  std::size_t p = 0;
  for (std::size_t n = size - skew; p < all.size(); p += n, n = size)
    if (auto m = d.feed(std::string_view(all).substr(p, n))) return m;
  return std::nullopt;
}

int mark_index(const std::vector<PtyEvent> &events, const std::string &name)
{
  for (std::size_t i = 0; i < events.size(); ++i)
    if (events[i].kind == PtyEvent::mark && events[i].data == name) return static_cast<int>(i);
  return -1;
}

std::optional<std::string> rule_on(const std::string &text)
{
  PromptDetector d;
  auto m = d.feed(text);
  return m ? std::optional<std::string>(m->rule) : std::nullopt;
}

}  // namespace

TEST_CASE("cc-control stripper: the original's rules (CSI, OSC, DCS/SOS/PM/APC, SCS, ESC, C0)")
{
  CHECK(strip_term_escapes("\x1b[1;31mred\x1b[0m") == "red");
  CHECK(strip_term_escapes("a\x1b[1Cb\x1b[2Bc") == "a b\nc");  // CSI C one space, CSI B a line break
  CHECK(strip_term_escapes("t\x1b]0;title\x07x\x1b]8;;u\x1b\\y") == "txy");
  CHECK(strip_term_escapes("a\x1bPq#0;1\x1b\\b\x1bXs\x1b\\c\x1b^p\x1b\\d\x1b_a\x1b\\e") == "abcde");
  CHECK(strip_term_escapes("\x1b(Bx\x1b)0y") == "xy");
  CHECK(strip_term_escapes("\x1b"
                           "7a\x1b"
                           "8\x1b#8b\x1b=") == "ab");
  CHECK(strip_term_escapes("a\r\nb\tc\x07\x08\x7f\x0f"
                           "d") == "a\n\nb cd");
}

TEST_CASE("cc-control stripper: cursor moves Claude Code uses between words and lines become gaps")
{
  // 2.1.330 places words with CSI n G and moves lines with CSI n B / CSI r;c H.
  CHECK(strip_term_escapes("Do\x1b[5Gyou\x1b[9Gwant") == "Do you want");
  CHECK(strip_term_escapes("a\x1b[40;1Hb\x1b[Hc\x1b[3Ad\x1b[2Ee\x1b[5df") == "a\nb\nc\nd\ne\nf");
  CHECK(strip_term_escapes("a\x1b[Kb\x1b[2Jc\x1b[?25ld\x1b[>0qe\x1b[<uf") == "abcdef");
}

TEST_CASE("cc-control stripper: 0x9B and 0x9D inside UTF-8 characters are text, lone ones are C1 CSI and OSC")
{
  // ❯ is E2 9D AF: the original took its 9D for a C1 OSC and lost the rest of the chunk.
  CHECK(strip_term_escapes("\xe2\x9d\xaf 1. Yes\n2. No") == "\xe2\x9d\xaf 1. Yes\n2. No");
  CHECK(strip_term_escapes("\xe2\x9b\x94 ok \xc3\x9b") == "\xe2\x9b\x94 ok \xc3\x9b");  // ⛔ E2 9B 94, Û C3 9B
  CHECK(strip_term_escapes("a\x9b"
                           "31mb") == "ab");
  CHECK(strip_term_escapes("a\x9d"
                           "0;t\x07"
                           "b\x9d"
                           "0;t\x9c"
                           "c") == "abc");
  // In an ESC ] OSC, a 9C inside a UTF-8 title (✜ E2 9C 9C) does not end it.
  CHECK(strip_term_escapes("\x1b]0;\xe2\x9c\x9c Claude\x07"
                           "x") == "x");
}

TEST_CASE("cc-control stripper: invalid UTF-8 is dropped, CAN cancels, an unterminated string is given up")
{
  CHECK(strip_term_escapes("a\x80"
                           "b\xc0\xaf"
                           "c\xe2\x28"
                           "d\xed\xa0\x80"
                           "e\xf5"
                           "f") == "abc(def");
  CHECK(strip_term_escapes("a\x1b[12\x18"
                           "b") == "ab");
  std::string long_osc = "\x1b]0;" + std::string(70 * 1024, 'x') + "tail";
  std::string out = strip_term_escapes(long_osc);
  CHECK(out.size() < 8 * 1024);
  CHECK(out.size() > 0);
}

TEST_CASE("cc-control stripper: a sequence or character cut at any chunk edge is finished by the next chunk")
{
  std::string sample = "x\x1b[38;5;246m\xe2\x9d\xaf\x1b[4G1. Yes\x1b]0;\xe2\x9c\xb3 t\x07\r\x1b[1B\x1bPq\x1b\\"
                       "\x1b(B\xc3\xa9\x9b"
                       "2Jz\xf0\x9f\x98\x80!";
  std::string whole = strip_term_escapes(sample);
  CHECK(whole == "x\xe2\x9d\xaf 1. Yes\n\n\xc3\xa9z\xf0\x9f\x98\x80!");
  for (std::size_t cut = 0; cut <= sample.size(); ++cut) {
    TermStripper s;
    std::string out = s.feed(sample.substr(0, cut));
    out += s.feed(sample.substr(cut));
    CHECK_MESSAGE(out == whole, "cut at " << cut);
  }
  for (const char *name : {"approve", "reject", "source"}) {
    auto events = recording(name);
    std::string raw = all_output(events), chunked, bytewise;
    TermStripper a, b;
    for (const auto &e : events)
      if (e.kind == PtyEvent::out) chunked += a.feed(e.data);
    for (char c : raw) bytewise += b.feed(std::string(1, c));
    CHECK(chunked == strip_term_escapes(raw));
    CHECK(bytewise == chunked);
  }
}

TEST_CASE("cc-control stripper: the recorded permission menu keeps its text after the selection marker")
{
  std::string text = collapse_whitespace(strip_term_escapes(all_output(recording("approve"))));
  CHECK(contains(text, "Do you want to proceed?\n\n\xe2\x9d\xaf 1. Yes\n\n2. Yes, and always allow access to"));
  CHECK(contains(text, "4. No\n\nEsc to cancel \xc2\xb7 Tab to amend"));
  CHECK(contains(text, "Bash command"));
}

TEST_CASE("cc-control collapse_whitespace: runs, line ends, blank lines, U+00A0 kept")
{
  CHECK(collapse_whitespace("a  \t b") == "a b");
  CHECK(collapse_whitespace("a  \n   b") == "a\nb");
  CHECK(collapse_whitespace("a\n \n\n \n\nb") == "a\n\nb");
  CHECK(collapse_whitespace("want ") == "want ");  // a chunk may end mid-line
  CHECK(collapse_whitespace("\xe2\x9d\xaf\xc2\xa0 x") == "\xe2\x9d\xaf\xc2\xa0 x");
}

TEST_CASE("cc-control detector: each rule fires on its prompt shape, by name")
{
  CHECK(rule_on("Do you want to proceed?\n\xe2\x9d\xaf 1. Yes\n 2. No\n") == "claude_menu");
  CHECK(rule_on("Do you want to make this edit?\n1) yes\n3) no\n") == "claude_menu");
  CHECK(rule_on("Pick one\nEsc to cancel \xc2\xb7 Tab to amend\n") == "esc_cancel_tab_amend");
  CHECK(rule_on("Overwrite config.json? (y/n) ") == "yn_paren");
  CHECK(rule_on("Delete 3 files (Y/N): ") == "yn_paren");
  CHECK(rule_on("Continue? [Y/n] ") == "yn_bracket");
  CHECK(rule_on("Please confirm the upgrade?") == "confirm_prompt");
  CHECK(rule_on("Confirm deletion yes/no: ") == "confirm_prompt");
  CHECK(rule_on("Do you want to continue?") == "continue_prompt");
  CHECK(rule_on("Continue? y/n") == "continue_prompt");
  CHECK(rule_on("Do you want to overwrite it? ") == "do_you_want_question");
}

TEST_CASE("cc-control detector: ordinary output and code no longer match (the original's false positives)")
{
  for (const std::string &text : std::vector<std::string>{
           "approved by the reviewer; 2 rejected\n",          // rule 1, dropped
           "def confirm(self):\n    return self.ok\n",        // rule 4 anywhere
           "label = \"Continue?\" if ok else \"Stop\"\n",     // rule 5 anywhere
           "print(\"Proceed (y/n)\", \"[y/N]\")\n",           // rules 2 and 3, not at the end of the line
           "Overwrite? (y/n)\nOverwritten.\n",                // answered: not the final line
           "print(\"Do you want to merge this change?\")\n",  // rule 8 on a printed line
           "Do you want to proceed?\n1. Yes\n",               // a menu cut after its first option
           "Do you want to?",                                 // rule 8 needs a verb
           "esc to cancel\n" + std::string(400, '.') + " tab to amend\n",
       }) {
    CHECK_MESSAGE(!rule_on(text), text);
  }
  // The question with the cursor still on its line is a prompt.
  CHECK(rule_on("Overwrite? (y/n)\nOverwritten.\nAgain? (y/n)") == "yn_paren");
}

TEST_CASE("cc-control detector: the recorded permission menu is detected, Enter approves and Esc rejects")
{
  for (const char *name : {"approve", "reject"}) {
    auto events = recording(name);
    Detection d = detect(events);
    REQUIRE_MESSAGE(d.match, name);
    CHECK(d.match->rule == "claude_menu");
    CHECK(d.at < mark_index(events, "menu"));
    const std::string &x = d.match->excerpt;
    CHECK(contains(x, "Do you want to proceed?"));
    CHECK(contains(x, "\xe2\x9d\xaf 1. Yes"));
    CHECK(contains(x, "4. No"));
    CHECK(contains(x, "Esc to cancel \xc2\xb7 Tab to amend"));
    CHECK(std::count(x.begin(), x.end(), '\n') <= 11);
    CHECK(approval_keys(x, true) == "\r");
    CHECK(approval_keys(x, false) == "\x1b");
    // The keys the recordings pressed are the ones approval_keys gives.
    CHECK(events[mark_index(events, "menu") + 1].data == approval_keys(x, std::string(name) == "approve"));
  }
}

TEST_CASE("cc-control detector: the recorded session printing source code never matches")
{
  auto events = recording("source");
  std::string text = strip_term_escapes(all_output(events));
  // What the original's rules fired on is there.
  for (const char *s : {"approve(request)", "reject(request", "# confirm the reviewer", "\"Continue?\"", "(y/n)",
                        "[y/N]", "Do you want to merge this change?"})
    CHECK_MESSAGE(contains(text, s), s);
  CHECK(!detect(events).match);
  for (std::size_t size : {4096, 1000, 100, 7})
    for (std::size_t skew = 0; skew < size; skew += 1 + size / 7) CHECK(!detect_in_reads(events, size, 0 + skew));
}

TEST_CASE("cc-control detector: the recordings give the same verdict whatever the chunk edges")
{
  for (const char *name : {"approve", "reject"}) {
    auto events = recording(name);
    // The output while the menu waited (read together with its answer, it is not pending: above).
    events.resize(mark_index(events, "answered"));
    for (std::size_t size : {4096, 1000, 100, 7}) {
      for (std::size_t skew = 0; skew < size; skew += 1 + size / 7) {
        auto m = detect_in_reads(events, size, skew);
        REQUIRE(m);
        INFO(name, " reads of ", size, " skew ", skew, ": ", m->excerpt);
        CHECK(m->rule == "claude_menu");
        CHECK(approval_keys(m->excerpt, true) == "\r");
        CHECK(approval_keys(m->excerpt, false) == "\x1b");
      }
    }
  }
  // A read that filled the buffer runs no final-line rule; the rest of the line decides.
  PromptDetector d(16);
  CHECK(!d.feed("label = Continue?"));  // 17 bytes: a full read
  CHECK(!d.feed(" if ok\n"));
  PromptDetector e(16);
  CHECK(e.feed("Continue?"));
}

TEST_CASE("cc-control detector: a menu answered within the same output is not pending")
{
  PromptDetector d;
  // The whole approve recording in one go: the menu and, after it, the input box back.
  CHECK(!d.feed(all_output(recording("approve"))));
  std::string menu = "Do you want to proceed?\n\xe2\x9d\xaf 1. Yes\n2. No\n";
  CHECK(!match_prompt_rules(menu + "\xe2\x9d\xaf\xc2\xa0\n? for shortcuts"));
  // A later menu in the same buffer still counts.
  auto hit = match_prompt_rules(menu + "? for shortcuts\n" + menu);
  REQUIRE(hit);
  CHECK(hit->end > menu.size());
}

TEST_CASE("cc-control detector: 4096-byte buffer, cleared after a match and by clear()")
{
  PromptDetector d;
  CHECK(!d.feed(std::string(10000, 'a')));
  CHECK(d.buffer().size() == PromptDetector::buffer_bytes);
  CHECK(!d.feed(" \n\t "));  // blank: kept as the line break it is
  CHECK(d.buffer().size() == PromptDetector::buffer_bytes);
  CHECK(d.buffer().back() == '\n');
  CHECK(d.feed("\nProceed? (y/n) "));
  CHECK(d.buffer().empty());
  CHECK(!d.feed("\x1b[31"));  // a cut sequence...
  d.clear();
  CHECK(!d.feed("mx"));  // ...is forgotten by clear(): "mx" is text
  CHECK(d.buffer() == "mx");
  // The buffer is cut on a character boundary.
  PromptDetector u;
  for (int i = 0; i < 2000; ++i) u.feed("\xe2\x9d\xaf");
  CHECK((static_cast<unsigned char>(u.buffer()[0]) & 0xc0) != 0x80);
  // The excerpt is the last 12 non-blank lines.
  PromptDetector e;
  std::string many;
  for (int i = 1; i <= 20; ++i) many += "line " + std::to_string(i) + "\n\n";
  auto m = e.feed(many + "Sure? (y/n)");
  REQUIRE(m);
  CHECK(m->excerpt.rfind("line 10\n", 0) == 0);
  CHECK(m->excerpt.size() > 0);
}

TEST_CASE("cc-control approval keys: 5.4's menu tests on the normalised excerpt")
{
  CHECK(is_menu_prompt("Esc  to\ncancel · TAB to amend"));
  CHECK(is_menu_prompt("Do you want to run it?\n\xe2\x9d\xaf\xc2\xa0"
                       "1. Yes\n 2. No"));
  CHECK(is_menu_prompt("do you want to x 1) yes 3) no"));
  CHECK(is_menu_prompt("2. Yes, and always allow access to /p from this project"));
  CHECK(!is_menu_prompt("Do you want to proceed?\n1. Yes"));
  CHECK(!is_menu_prompt("Overwrite? (y/n)"));
  CHECK(approval_keys("Overwrite? (y/n)", true) == "y\n");
  CHECK(approval_keys("Overwrite? (y/n)", false) == "n\n");
  CHECK(approval_keys("Esc to cancel · Tab to amend", true) == "\r");
  CHECK(approval_keys("Esc to cancel · Tab to amend", false) == "\x1b");
}

TEST_CASE("cc-control prompt watch: the recorded menu goes away after Enter and after Esc, not before")
{
  for (const char *name : {"approve", "reject"}) {
    auto events = recording(name);
    Detection d = detect(events);
    REQUIRE(d.match);
    PromptWatch w(d.match->excerpt);
    int answered = mark_index(events, "answered"), gone_at = -1;
    for (int i = d.at + 1; i < static_cast<int>(events.size()) && gone_at < 0; ++i)
      if (events[i].kind == PtyEvent::out && w.feed(events[i].data)) gone_at = i;
    CHECK_MESSAGE(gone_at > answered, name);  // the blinking bullet while the menu waits is not a dismissal
    CHECK(w.dismissed());
    CHECK(w.feed("anything"));
  }
}

TEST_CASE("cc-control prompt watch: markers cut by chunk edges, and line prompts")
{
  PromptWatch menu("Do you want to proceed?\n1. Yes\n2. No");
  CHECK(!menu.feed("\x1b[H\r\x1b[8B\x1b[38;5;246m\xe2\x97\x8f\x1b[39m"));  // the bullet blinking
  CHECK(!menu.feed("\xe2\x9d"));
  CHECK(menu.feed("\xaf\xc2\xa0\x1b[7m \x1b[27m"));  // the input box, cut inside ❯
  PromptWatch interrupt("Esc to cancel · Tab to amend");
  CHECK(!interrupt.feed("esc to inter"));
  CHECK(interrupt.feed("rupt"));
  PromptWatch line("Overwrite? (y/n)");
  CHECK(!line.feed("y"));
  CHECK(!line.feed("\r\n"));
  CHECK(line.feed("Overwritten.\r\n"));
}

TEST_CASE("cc-control resume detector: the recorded exit hint, the original's form, last wins, chunk edges")
{
  auto events = recording("approve");
  ResumeDetector r;
  std::optional<std::string> id;
  for (const auto &e : events)
    if (e.kind == PtyEvent::out && (id = r.feed(e.data), id)) break;
  REQUIRE(id);  // "claude --permission-mode default --resume <uuid>"
  CHECK(id->size() == 36);
  CHECK(contains(strip_term_escapes(all_output(events)), "--resume " + *id));

  ResumeDetector o;
  CHECK(!o.feed("claude --resume 12345678-1234-1234-1234-12345678"));  // too short so far
  CHECK(o.feed("9abc\n") == std::string("12345678-1234-1234-1234-123456789abc"));
  CHECK(o.feed("run Claude-Code  --resume AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE now") ==
        std::string("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"));
  o.clear();
  CHECK(!o.feed("myclaude --resume 12345678-1234-1234-1234-123456789abc"));   // not a word
  CHECK(!o.feed("\nclaude\n--resume 12345678-1234-1234-1234-123456789abc"));  // not on its line
  CHECK(!o.feed("\nclaude --resume 12345678-1234-1234-1234-123456789abcd"));  // no boundary
  CHECK(!find_resume_id("claude --resume 12345678-1234-1234-1234-12345678zabc"));
  // Later output keeps the id found; a newer hint replaces it.
  ResumeDetector keep;
  CHECK(keep.feed("claude --resume 12345678-1234-1234-1234-123456789abc\r\n") == std::string("12345678-1234-1234-1234-123456789abc"));
  for (int i = 0; i < 200; ++i) CHECK(keep.feed("some other output line\r\n") == std::string("12345678-1234-1234-1234-123456789abc"));
  CHECK(keep.feed("claude --resume aaaaaaaa-1234-1234-1234-123456789abc\r\n") == std::string("aaaaaaaa-1234-1234-1234-123456789abc"));
  ResumeDetector split;
  CHECK(!split.feed("\x1b[2mclaude --resu"));
  CHECK(split.feed("me 0d12ab34-0000-4000-8000-00000000000f\x1b[22m") ==
        std::string("0d12ab34-0000-4000-8000-00000000000f"));
}
