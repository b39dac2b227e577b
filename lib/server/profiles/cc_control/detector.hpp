// cc-control (seed 004): the screen-reading fallback of approval detection (CC-CONTROL.md 5) and
// the resume-hint detector (5.5). The exact path is the CLI's PermissionRequest hook; this one guesses
// from the terminal output, as the original does, with its defects fixed (section 8, items 11 and 36):
// the stripper decodes UTF-8, so `❯` (E2 9D AF) no longer starts a fake C1 OSC that eats the menu,
// sequences cut at a chunk edge are finished by the next chunk, and the rules are narrowed so
// ordinary output and source code do not look like prompts. Rules and screens are tested on
// recordings of the real CLI (tests/fixtures/pty/, tests/support/record_pty.py).
// Plain single-threaded objects: one of each per session, used on that session's strand.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ccbridge::detail::server::cc_control {

/// Terminal output to printable text, chunk by chunk (CC-CONTROL.md 5.2 step 1, UTF-8-aware).
/// - CSI (ESC [ or a lone C1 0x9B) is removed, except that a horizontal cursor move (CSI C, G, `)
///   becomes one space and a move to another line (CSI A, B, E, F, H, f, d) becomes '\n': Claude Code
///   2.1.330 places words with CSI n G and lines with CR + CSI n B, so without this "Do you want to"
///   would read "Doyouwantto".
/// - OSC (ESC ] or a lone C1 0x9D) up to BEL or ESC \ (a C1 OSC also ends at a lone 0x9C); DCS, SOS,
///   PM and APC (ESC P, X, ^, _) up to ESC \; SCS (ESC ( ) * + and one byte); other ESC sequences
///   (intermediates 0x20-0x2F, then a final 0x30-0x7E). ESC inside a sequence starts a new one and
///   CAN/SUB cancel it, as a terminal does; a string sequence longer than 64 KiB is given up.
/// - C0: '\n' kept, '\r' -> '\n', '\t' -> ' ', the others and DEL dropped.
/// - UTF-8 characters pass through whole; 0x9B/0x9D are C1 only where they are not part of a valid
///   UTF-8 character. Invalid bytes are dropped, so the output is always valid UTF-8.
class TermStripper {
public:
  /// Appends the text of `chunk` to `out`. An escape sequence or UTF-8 character cut at the end of
  /// the chunk is held and finished by the next call.
  void feed(std::string_view chunk, std::string &out);
  std::string feed(std::string_view chunk);
  /// Forgets a held partial sequence (the next chunk starts fresh).
  void reset();

private:
  enum class State { ground, utf8, esc, esc_inter, scs, csi, osc, c1_osc, string, string_esc };
  void on_ground(unsigned char c, std::string &out);
  void on_esc(unsigned char c, std::string &out);
  void on_csi(unsigned char c, std::string &out);
  void on_string(unsigned char c, std::string &out);
  void on_utf8(unsigned char c, std::string &out);
  void start_utf8(unsigned char c);
  void step(unsigned char c, std::string &out);

  State state_ = State::ground;
  std::string utf8_;            ///< the bytes of a UTF-8 character so far
  std::size_t utf8_need_ = 0;   ///< its length
  std::size_t string_len_ = 0;  ///< bytes of the current OSC/DCS/SOS/PM/APC so far
};

/// strip_term_escapes in one go (a sequence cut at the end of `raw` is dropped).
std::string strip_term_escapes(std::string_view raw);

/// CC-CONTROL.md 5.2 step 2, adapted to the stripper's line breaks: every run of spaces, tabs, VT and
/// FF becomes one space, whitespace at either end of a line is dropped (so blank lines are empty),
/// and three or more '\n' become two. U+00A0 is not whitespace here: Claude Code's input box is
/// "❯" + U+00A0 while its menu's marker is "❯" + space, and PromptWatch tells them apart by that.
std::string collapse_whitespace(std::string_view text);

/// A detected prompt: the last 12 non-blank lines of the detector's buffer (each trimmed, joined by
/// '\n'; cut after the line the match ends on when more output followed it in the same chunk) and
/// the name of the rule that fired.
struct PromptMatch {
  std::string excerpt;
  std::string rule;
};

/// The rules, first match wins (names as PromptMatch::rule reports them). Case-insensitive (ASCII).
/// "The final line" is the text after the buffer's last line break: a prompt that waits for an
/// answer leaves the cursor there, while a Claude Code frame ends with a cursor move (a line break
/// once stripped), so printed code never is. The original's rules 1, 4 and 5 matched anywhere in
/// 4 KiB, so source code fired them.
/// - claude_menu: "do you want to" (words apart by whitespace), then within 800 bytes "1." or "1)",
///   optional whitespace and the word "yes" (the original's rule 6), then within 400 bytes a second
///   option ("2." / "2)" / "3. no"), as is_menu_prompt needs: Claude Code's permission menu;
/// - esc_cancel_tab_amend: "esc to cancel", then within 300 bytes "tab to amend" (rule 7; the menu's
///   footer);
/// - yn_paren: the final line ends with "(y/n)" (then only spaces, ':', '?', '>') (rule 2, narrowed);
/// - yn_bracket: the same with "[y/n]" in any case, e.g. "[Y/n]" (rule 3, narrowed);
/// - confirm_prompt: the final line has the word "confirm" and ends with '?' or with a choice (y/n,
///   yes/no, bracketed or not) (rule 4, narrowed);
/// - continue_prompt: the final line ends with "continue?", or has "continue?" and ends with a choice
///   (rule 5, narrowed);
/// - do_you_want_question: the final line has "do you want to <word>" and ends with '?' (rule 8,
///   narrowed).
/// The original's rule 1, (approve|reject) anywhere, is dropped. A menu whose dismissal (see
/// PromptWatch) already follows it in the buffer is skipped: a prompt answered before the chunk
/// ended (e.g. by the hook) is not a pending one.
/// Chunk edges: the menu rules need the whole menu up to its second option, so a cut menu waits for
/// the next chunk. The final-line rules assume a read ends where the program's write ended; a read
/// that filled the reader's buffer (read_size bytes) was cut by it, so it runs no final-line rule.
/// A write cut elsewhere mid-line (the program writing a line in pieces) can still look final.
class PromptDetector {
public:
  static constexpr std::size_t buffer_bytes = 4096;
  static constexpr std::size_t excerpt_lines = 12;

  /// `read_size`: the size of the reads that produce the chunks (the agent reads 4096 bytes).
  explicit PromptDetector(std::size_t read_size = 4096) : read_size_(read_size) {}

  /// Strips and collapses `raw`, appends it to the buffer (its last 4096 bytes are kept) and runs
  /// the rules on the whole buffer. On a match the buffer is cleared. Blank text is appended (it
  /// separates the words of the chunks around it; the original dropped it) but runs no rule.
  std::optional<PromptMatch> feed(std::string_view raw);
  /// Empties the buffer and the stripper's carry-over. Call it when detection resumes after an
  /// approval ended (the output in between went to a PromptWatch, not here).
  void clear();
  const std::string &buffer() const { return buf_; }

private:
  TermStripper stripper_;
  std::string buf_;
  std::size_t read_size_;
};

/// The rule that fires on `text` (already stripped and collapsed) and where its match ends, ignoring
/// dismissed menus; nullopt when none does. What PromptDetector::feed runs on its buffer
/// (`line_rules` false: the menu rules only).
struct RuleHit {
  const char *rule;
  std::size_t end;
};
std::optional<RuleHit> match_prompt_rules(std::string_view text, bool line_rules = true);

/// CC-CONTROL.md 5.4: the excerpt, lower-cased with whitespace runs as single spaces, is a menu
/// prompt if it has "esc to cancel" and "tab to amend"; or "do you want to", "1. yes" or "1) yes",
/// and "2. " or "2) " or "3. no" or "3) no"; or "always allow access" and "from this project".
bool is_menu_prompt(std::string_view excerpt);
/// The keys that answer the prompt of `excerpt`: Enter ("\r", the highlighted "1. Yes") or Esc
/// ("\x1b") for a menu prompt, "y\n" or "n\n" otherwise.
std::string approval_keys(std::string_view excerpt, bool approve);

/// Watches the output that follows a detected prompt and tells when the prompt has left the screen,
/// so awaiting_approval can be cleared when the person answers in the terminal (or the hook does).
/// - A menu prompt (is_menu_prompt) is gone when Claude Code's normal screen is back: its input box
///   ("❯" followed by U+00A0), "? for shortcuts" or "esc to interrupt". While the menu is shown none
///   of them is (the menu replaces the input box, and the only other output is the blinking tool
///   bullet). Recorded: Enter erases the menu lines (CSI K) and repaints the input box with the
///   spinner's "esc to interrupt"; Esc prints "Interrupted · What should Claude do instead?" and the
///   input box with "? for shortcuts".
/// - A line prompt ((y/n) and the like, on the last line) is gone once a further non-blank line is
///   printed: the answer's echo stays on the prompt line, the program's next output does not.
class PromptWatch {
public:
  explicit PromptWatch(std::string_view excerpt);
  /// Feeds output printed after the prompt; true once the prompt is gone (and from then on).
  bool feed(std::string_view raw);
  bool dismissed() const { return dismissed_; }

private:
  TermStripper stripper_;
  std::string tail_;  ///< recent text, enough to find a marker cut by a chunk edge
  bool menu_;
  bool seen_newline_ = false;
  bool dismissed_ = false;
};

/// True when `text` (stripped, from just after a menu) holds one of the markers PromptWatch looks
/// for; `end` is then set to just after the first one.
bool menu_dismissed_in(std::string_view text, std::size_t *end = nullptr);

/// CC-CONTROL.md 5.5: Claude Code's resume hint. Keeps the last 4096 bytes of stripped (not collapsed)
/// output and finds "claude" or "claude-code", then on the same line "--resume" and a UUID. Unlike the
/// original's regex, other options may stand between them: 2.1.330 prints
/// "claude --permission-mode default --resume <uuid>" when started with that option, which the
/// original's `claude(-code)?\s+--resume\s+` misses.
class ResumeDetector {
public:
  static constexpr std::size_t buffer_bytes = 4096;
  /// Feeds a chunk; the last resume id in the buffer (lower-cased), if there is one. The caller
  /// updates resume_id (and broadcasts) when it differs from the current value.
  std::optional<std::string> feed(std::string_view raw);
  void clear();

private:
  TermStripper stripper_;
  std::string buf_;
  std::optional<std::string> last_;  ///< the id found last
};

/// The last resume id (lower-cased) in `text`, as ResumeDetector finds it.
std::optional<std::string> find_resume_id(std::string_view text);

}  // namespace ccbridge::detail::server::cc_control
