// cc-control: approval detection from the screen (the fallback) and the resume-hint detector. See
// detector.hpp for the rules; CC-CONTROL.md 5 for the original they narrow.
#include "server/profiles/cc_control/detector.hpp"

#include <algorithm>
#include <initializer_list>
#include <vector>

namespace ccbridge::detail::server::cc_control {

namespace {

constexpr unsigned char esc_byte = 0x1b;
constexpr std::size_t max_string_sequence = 64 * 1024;
constexpr std::string_view input_box_marker = "\xe2\x9d\xaf\xc2\xa0";  // "❯" U+00A0

bool is_hspace(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

bool is_space(char c) { return c == '\n' || is_hspace(c); }

bool is_word(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

std::string lower_ascii(std::string_view s)
{
  std::string out(s);
  for (char &c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix)
{
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// Drops bytes from the front so that at most `cap` remain, starting on a UTF-8 character.
void keep_tail(std::string &s, std::size_t cap)
{
  if (s.size() <= cap) return;
  std::size_t cut = s.size() - cap;
  while (cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) ++cut;
  s.erase(0, cut);
}

}  // namespace

// ---- TermStripper ---------------------------------------------------------------------------

void TermStripper::feed(std::string_view chunk, std::string &out)
{
  for (char c : chunk) step(static_cast<unsigned char>(c), out);
}

std::string TermStripper::feed(std::string_view chunk)
{
  std::string out;
  feed(chunk, out);
  return out;
}

void TermStripper::reset()
{
  state_ = State::ground;
  utf8_.clear();
}

void TermStripper::step(unsigned char c, std::string &out)
{
  bool in_sequence = state_ != State::ground && state_ != State::utf8;
  if (in_sequence && (c == 0x18 || c == 0x1a)) {  // CAN, SUB: cancel the sequence
    state_ = State::ground;
    return;
  }
  switch (state_) {
  case State::ground: return on_ground(c, out);
  case State::utf8: return on_utf8(c, out);
  case State::esc:
  case State::esc_inter:
  case State::scs: return on_esc(c, out);
  case State::csi: return on_csi(c, out);
  default: return on_string(c, out);
  }
}

void TermStripper::on_ground(unsigned char c, std::string &out)
{
  if (c == esc_byte) {
    state_ = State::esc;
  } else if (c == '\n' || c == '\r') {
    out += '\n';
  } else if (c == '\t') {
    out += ' ';
  } else if (c >= 0x20 && c < 0x7f) {
    out += static_cast<char>(c);
  } else if (c == 0x9b) {  // a lone C1 CSI (not inside a UTF-8 character: that is on_utf8's)
    state_ = State::csi;
  } else if (c == 0x9d) {  // a lone C1 OSC
    state_ = State::c1_osc;
    string_len_ = 0;
  } else if (c >= 0xc2 && c <= 0xf4) {
    start_utf8(c);
  }
  // Other C0 controls, DEL, other C1 bytes and invalid UTF-8 leads: dropped.
}

void TermStripper::start_utf8(unsigned char c)
{
  utf8_.assign(1, static_cast<char>(c));
  utf8_need_ = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  state_ = State::utf8;
}

void TermStripper::on_utf8(unsigned char c, std::string &out)
{
  auto lead = static_cast<unsigned char>(utf8_[0]);
  bool ok = c >= 0x80 && c <= 0xbf;
  if (ok && utf8_.size() == 1) {  // no overlong forms, no surrogates, nothing past U+10FFFF
    ok = !(lead == 0xe0 && c < 0xa0) && !(lead == 0xed && c > 0x9f) && !(lead == 0xf0 && c < 0x90) &&
         !(lead == 0xf4 && c > 0x8f);
  }
  if (!ok) {  // an invalid character: dropped, and the byte read afresh
    state_ = State::ground;
    utf8_.clear();
    return on_ground(c, out);
  }
  utf8_ += static_cast<char>(c);
  if (utf8_.size() < utf8_need_) return;
  out += utf8_;
  utf8_.clear();
  state_ = State::ground;
}

void TermStripper::on_esc(unsigned char c, std::string &out)
{
  State s = state_;
  state_ = State::ground;
  if (s == State::scs) return;  // ESC ( x: the designated set, whatever it is
  if (c == esc_byte) {
    state_ = State::esc;
  } else if (s == State::esc && c == '[') {
    state_ = State::csi;
  } else if (s == State::esc && (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')) {
    state_ = c == ']' ? State::osc : State::string;
    string_len_ = 0;
  } else if (s == State::esc && (c == '(' || c == ')' || c == '*' || c == '+')) {
    state_ = State::scs;
  } else if (c >= 0x20 && c <= 0x2f) {
    state_ = State::esc_inter;
  } else if (c < 0x30 || c > 0x7e) {  // not a final byte: the sequence is abandoned
    on_ground(c, out);
  }
}

void TermStripper::on_csi(unsigned char c, std::string &out)
{
  if (c >= 0x20 && c <= 0x3f) return;  // parameters and intermediates
  state_ = State::ground;
  if (c == esc_byte) {
    state_ = State::esc;
  } else if (c == 'C' || c == 'G' || c == '`') {  // cursor forward / to a column: a gap between words
    out += ' ';
  } else if (c == 'A' || c == 'B' || c == 'E' || c == 'F' || c == 'H' || c == 'f' || c == 'd') {
    out += '\n';  // to another line
  } else if (c < 0x40 || c > 0x7e) {
    on_ground(c, out);
  }
}

void TermStripper::on_string(unsigned char c, std::string &out)
{
  if (++string_len_ > max_string_sequence) {  // never terminated: give it up
    state_ = State::ground;
    return;
  }
  if (state_ == State::string_esc) {  // ST ends the string; ESC + anything else starts a new sequence
    state_ = State::esc;
    if (c != '\\') on_esc(c, out);
    else state_ = State::ground;
  } else if (c == esc_byte) {
    state_ = State::string_esc;
  } else if (((state_ == State::osc || state_ == State::c1_osc) && c == 0x07) || (state_ == State::c1_osc && c == 0x9c)) {
    state_ = State::ground;  // BEL ends an OSC; a C1 OSC also ends at a lone ST (0x9C)
  }
}

std::string strip_term_escapes(std::string_view raw) { return TermStripper().feed(raw); }

// ---- collapse_whitespace --------------------------------------------------------------------

namespace {

// The whitespace run before a non-space character: up to two line breaks (a line's leading
// spaces dropped), or one space within a line.
void put_gap(std::string &out, std::size_t newlines, bool space)
{
  if (newlines > 0) out.append(std::min<std::size_t>(newlines, 2), '\n');
  else if (space) out += ' ';
}

}  // namespace

std::string collapse_whitespace(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  std::size_t newlines = 0;
  bool space = false;
  for (char c : text) {
    if (c == '\n') {
      ++newlines;
      space = false;  // a line's trailing spaces
    } else if (is_hspace(c)) {
      space = true;
    } else {
      put_gap(out, newlines, space);
      out += c;
      newlines = 0;
      space = false;
    }
  }
  put_gap(out, newlines, space);
  return out;
}

// ---- the rules ------------------------------------------------------------------------------

namespace {

// `phrase` (lower-case words apart by single spaces) at `pos` of `t`, each space standing for one or
// more whitespace characters, with word boundaries at both ends: the end of the match, or npos.
std::size_t phrase_at(std::string_view t, std::size_t pos, std::string_view phrase)
{
  if (pos > 0 && is_word(t[pos - 1])) return std::string_view::npos;
  std::size_t i = pos;
  for (char want : phrase) {
    if (want != ' ') {
      if (i >= t.size() || t[i] != want) return std::string_view::npos;
      ++i;
      continue;
    }
    if (i >= t.size() || !is_space(t[i])) return std::string_view::npos;
    while (i < t.size() && is_space(t[i])) ++i;
  }
  return i < t.size() && is_word(t[i]) ? std::string_view::npos : i;
}

struct Span {
  std::size_t begin, end;
};

// The first `phrase` in t[from, to) (where it starts; it may end later).
std::optional<Span> find_phrase(std::string_view t, std::string_view phrase, std::size_t from,
                                std::size_t to = std::string_view::npos)
{
  std::string_view first = phrase.substr(0, phrase.find(' '));
  for (std::size_t p = t.find(first, from); p != std::string_view::npos && p < to; p = t.find(first, p + 1)) {
    std::size_t end = phrase_at(t, p, phrase);
    if (end != std::string_view::npos) return Span{p, end};
  }
  return std::nullopt;
}

// "1." or "1)", optional whitespace, the word "yes", starting in t[from, to): its end.
std::optional<std::size_t> find_one_yes(std::string_view t, std::size_t from, std::size_t to)
{
  for (std::size_t p = t.find('1', from); p != std::string_view::npos && p < to; p = t.find('1', p + 1)) {
    if (p + 1 >= t.size() || (t[p + 1] != '.' && t[p + 1] != ')')) continue;
    std::size_t i = p + 2;
    while (i < t.size() && is_space(t[i])) ++i;
    if (t.compare(i, 3, "yes") == 0 && (i + 3 == t.size() || !is_word(t[i + 3]))) return i + 3;
  }
  return std::nullopt;
}

// After "1. yes" at `from`: a second option ("2. " or "2) ", the space perhaps a line break) or
// "3. no" / "3) no", within 400 bytes (what is_menu_prompt looks for). Where it ends.
std::optional<std::size_t> find_second_option(std::string_view t, std::size_t from)
{
  std::string_view w = t.substr(from, 400);
  for (std::size_t i = 0; i + 2 < w.size(); ++i) {
    if ((w[i] != '2' && w[i] != '3') || (w[i + 1] != '.' && w[i + 1] != ')')) continue;
    if (w[i] == '2' && is_space(w[i + 2])) return from + i + 3;
    if (w[i] == '3' && w.compare(i + 2, 3, " no") == 0) return from + i + 5;
  }
  return std::nullopt;
}

// The original's rule 6, \bdo\s+you\s+want\s+to\b.{0,800}1[.)]\s*yes\b (bytes, not characters),
// plus a second option after "1. yes", as 5.4 needs to call it a menu: a menu cut by a chunk edge
// right after "1. Yes" waits for the next chunk instead of being answered with "y\n".
std::optional<std::size_t> rule_claude_menu(std::string_view t)
{
  for (auto q = find_phrase(t, "do you want to", 0); q; q = find_phrase(t, "do you want to", q->begin + 1)) {
    auto yes = find_one_yes(t, q->end, q->end + 801);
    if (auto end = yes ? find_second_option(t, *yes) : std::nullopt) return end;
  }
  return std::nullopt;
}

// The original's rule 7: \besc\s+to\s+cancel\b.{0,300}\btab\s+to\s+amend\b.
std::optional<std::size_t> rule_esc_tab(std::string_view t)
{
  for (auto e = find_phrase(t, "esc to cancel", 0); e; e = find_phrase(t, "esc to cancel", e->begin + 1)) {
    if (auto tab = find_phrase(t, "tab to amend", e->end, e->end + 301)) return tab->end;
  }
  return std::nullopt;
}

// The line the cursor waits on: the text after t's last line break, trimmed ("" when t ends with
// a line break, as a Claude Code frame does: it parks the cursor with CSI H).
std::string_view final_line(std::string_view t)
{
  std::size_t nl = t.rfind('\n');
  std::string_view line = nl == std::string_view::npos ? t : t.substr(nl + 1);
  while (!line.empty() && is_hspace(line.front())) line.remove_prefix(1);
  while (!line.empty() && is_hspace(line.back())) line.remove_suffix(1);
  return line;
}

// The line without what may follow a prompt's choice: spaces, ':', '?', '>'.
std::string_view trim_prompt_end(std::string_view line)
{
  while (!line.empty() && (is_hspace(line.back()) || line.back() == ':' || line.back() == '?' || line.back() == '>'))
    line.remove_suffix(1);
  return line;
}

// The line ends by offering a choice: (y/n), [y/n], y/n, yes/no and their bracketed forms.
bool ends_with_choice(std::string_view line)
{
  std::string_view l = trim_prompt_end(line);
  for (std::string_view c : {"y/n", "yes/no", "y/n)", "y/n]", "yes/no)", "yes/no]"})
    if (ends_with(l, c)) return true;
  return false;
}

bool has_word(std::string_view line, std::string_view word) { return find_phrase(line, word, 0).has_value(); }

bool line_yn_paren(std::string_view l) { return ends_with(trim_prompt_end(l), "(y/n)"); }

bool line_yn_bracket(std::string_view l) { return ends_with(trim_prompt_end(l), "[y/n]"); }

bool line_confirm(std::string_view l) { return has_word(l, "confirm") && (ends_with(l, "?") || ends_with_choice(l)); }

bool line_continue(std::string_view l)
{
  return ends_with(l, "continue?") || (contains(l, "continue?") && ends_with_choice(l));
}

// The original's rule 8 on the last line: \bdo\s+you\s+want\s+to\s+\w+.*\? and ending with '?'.
bool line_do_you_want(std::string_view l)
{
  auto q = find_phrase(l, "do you want to", 0);
  if (!q || !ends_with(l, "?") || q->end >= l.size() || !is_space(l[q->end])) return false;
  std::size_t i = q->end;
  while (i < l.size() && is_space(l[i])) ++i;
  return i < l.size() && is_word(l[i]);
}

struct LineRule {
  const char *name;
  bool (*test)(std::string_view);
};

constexpr LineRule final_line_rules[] = {
    {"yn_paren", line_yn_paren},
    {"yn_bracket", line_yn_bracket},
    {"confirm_prompt", line_confirm},
    {"continue_prompt", line_continue},
    {"do_you_want_question", line_do_you_want},
};

// The first rule that fires on lower-cased `t`, dismissed menus included.
std::optional<RuleHit> first_rule(std::string_view t, bool line_rules)
{
  if (auto end = rule_claude_menu(t)) return RuleHit{"claude_menu", *end};
  if (auto end = rule_esc_tab(t)) return RuleHit{"esc_cancel_tab_amend", *end};
  if (!line_rules) return std::nullopt;
  std::string_view line = final_line(t);
  for (const LineRule &r : final_line_rules)
    if (r.test(line)) return RuleHit{r.name, t.size()};
  return std::nullopt;
}

}  // namespace

bool menu_dismissed_in(std::string_view text, std::size_t *end)
{
  std::string t = lower_ascii(text);
  std::size_t best = std::string::npos, best_end = 0;
  for (std::string_view marker :
       {input_box_marker, std::string_view("? for shortcuts"), std::string_view("esc to interrupt")}) {
    std::size_t p = t.find(marker);
    if (p < best) best = p, best_end = p + marker.size();
  }
  if (best == std::string::npos) return false;
  if (end) *end = best_end;
  return true;
}

std::optional<RuleHit> match_prompt_rules(std::string_view text, bool line_rules)
{
  std::string t = lower_ascii(text);
  std::size_t start = 0;
  while (auto hit = first_rule(std::string_view(t).substr(start), line_rules)) {
    hit->end += start;
    std::size_t gone = 0;  // (a line rule's match ends the text, so nothing can follow it)
    if (!menu_dismissed_in(std::string_view(t).substr(hit->end), &gone)) return hit;
    start = hit->end + gone;  // answered already: look past it
  }
  return std::nullopt;
}

// ---- PromptDetector -------------------------------------------------------------------------

namespace {

bool is_blank(std::string_view s) { return std::all_of(s.begin(), s.end(), is_space); }

// The last n non-blank lines of t, each trimmed, joined by '\n'; *from is where the first starts.
std::string last_lines(std::string_view t, std::size_t n, std::size_t *from = nullptr)
{
  std::vector<std::string_view> lines;
  std::size_t end = t.size();
  while (lines.size() < n && end > 0) {
    std::size_t nl = t.rfind('\n', end - 1);
    std::size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
    std::string_view line = t.substr(begin, end - begin);
    while (!line.empty() && is_hspace(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_hspace(line.back())) line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    if (!line.empty() && from) *from = begin;
    end = nl == std::string_view::npos ? 0 : nl;
  }
  std::string out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) out += (out.empty() ? "" : "\n") + std::string(*it);
  return out;
}

// The excerpt of a match: the buffer's last lines, or, when the match ends above them (more output
// followed it in the same chunk), the lines up to the one it ends on.
std::string excerpt_of(std::string_view buf, std::size_t match_end, std::size_t n)
{
  std::size_t from = 0;
  std::string whole = last_lines(buf, n, &from);
  if (match_end > from) return whole;
  return last_lines(buf.substr(0, buf.find('\n', match_end)), n);
}

}  // namespace

std::optional<PromptMatch> PromptDetector::feed(std::string_view raw)
{
  std::string text = stripper_.feed(raw);
  buf_ = collapse_whitespace(buf_ + text);  // blank text too: it may be the gap between two chunks' words
  keep_tail(buf_, buffer_bytes);
  if (is_blank(text)) return std::nullopt;
  auto hit = match_prompt_rules(buf_, raw.size() < read_size_);
  if (!hit) return std::nullopt;
  PromptMatch m{excerpt_of(buf_, hit->end, excerpt_lines), hit->rule};
  buf_.clear();
  return m;
}

void PromptDetector::clear()
{
  buf_.clear();
  stripper_.reset();
}

// ---- approve / reject keys ------------------------------------------------------------------

namespace {

// Lower-cased, every whitespace run (U+00A0 included) one space.
std::string normalise(std::string_view excerpt)
{
  std::string t = lower_ascii(excerpt), out;
  bool space = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    bool nbsp = t.compare(i, 2, "\xc2\xa0") == 0;
    if (is_space(t[i]) || nbsp) {
      space = true;
      i += nbsp ? 1 : 0;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += t[i];
  }
  return out;
}

}  // namespace

bool is_menu_prompt(std::string_view excerpt)
{
  std::string t = normalise(excerpt) + ' ';  // an excerpt is trimmed: a last "2." still reads "2. "
  if (contains(t, "esc to cancel") && contains(t, "tab to amend")) return true;
  if (contains(t, "always allow access") && contains(t, "from this project")) return true;
  bool yes = contains(t, "1. yes") || contains(t, "1) yes");
  bool more = contains(t, "2. ") || contains(t, "2) ") || contains(t, "3. no") || contains(t, "3) no");
  return contains(t, "do you want to") && yes && more;
}

std::string approval_keys(std::string_view excerpt, bool approve)
{
  if (is_menu_prompt(excerpt)) return approve ? "\r" : "\x1b";
  return approve ? "y\n" : "n\n";
}

// ---- PromptWatch ----------------------------------------------------------------------------

PromptWatch::PromptWatch(std::string_view excerpt) : menu_(is_menu_prompt(excerpt)) {}

bool PromptWatch::feed(std::string_view raw)
{
  if (dismissed_) return true;
  std::string text = stripper_.feed(raw);
  if (menu_) {
    tail_ += text;
    dismissed_ = menu_dismissed_in(tail_);
    keep_tail(tail_, 32);  // longer than any marker, so one cut by a chunk edge is still found
    return dismissed_;
  }
  for (char c : text) {
    if (c == '\n') seen_newline_ = true;
    else if (seen_newline_ && !is_space(c)) dismissed_ = true;
  }
  return dismissed_;
}

// ---- ResumeDetector -------------------------------------------------------------------------

namespace {

bool is_uuid_at(std::string_view t, std::size_t p)
{
  if (p + 36 > t.size()) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    char c = t[p + i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return p + 36 == t.size() || !is_word(t[p + 36]);
}

// After "claude" / "claude-code" ending at `from` (lower-cased t): on the same line, whitespace,
// any options, "--resume", whitespace and a UUID. Where the UUID starts, or npos.
std::size_t resume_uuid_after(std::string_view t, std::size_t from)
{
  if (from >= t.size() || !is_space(t[from])) return std::string_view::npos;
  std::size_t line_end = std::min(t.find('\n', from), t.size());
  for (std::size_t p = t.find("--resume", from); p < line_end; p = t.find("--resume", p + 1)) {
    std::size_t i = p + 8;
    if (!is_space(t[p - 1]) || i >= t.size() || !is_space(t[i])) continue;
    while (i < t.size() && is_space(t[i])) ++i;
    return is_uuid_at(t, i) ? i : std::string_view::npos;
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<std::string> find_resume_id(std::string_view text)
{
  std::string t = lower_ascii(text);
  std::optional<std::string> last;
  for (std::size_t p = t.find("claude"); p != std::string::npos; p = t.find("claude", p + 1)) {
    if (p > 0 && is_word(t[p - 1])) continue;
    std::size_t end = p + 6;
    if (t.compare(end, 5, "-code") == 0) end += 5;
    std::size_t id = resume_uuid_after(t, end);
    if (id != std::string_view::npos) last = t.substr(id, 36);
  }
  return last;
}

// A new id can only be in a match that ends in the new text, so only the lines the new text
// touches are searched (the whole window, per chunk, was most of this detector's cost).
std::optional<std::string> ResumeDetector::feed(std::string_view raw)
{
  std::size_t before = buf_.size();
  stripper_.feed(raw, buf_);
  std::size_t added = buf_.size() - before;
  keep_tail(buf_, buffer_bytes);
  if (added == 0) return last_;
  std::size_t from = buf_.size() - std::min(added, buf_.size());
  std::size_t nl = from == 0 ? std::string::npos : buf_.rfind('\n', from - 1);
  std::size_t line = nl == std::string::npos ? 0 : nl + 1;
  if (auto id = find_resume_id(std::string_view(buf_).substr(line))) last_ = std::move(id);
  return last_;
}

void ResumeDetector::clear()
{
  buf_.clear();
  stripper_.reset();
  last_.reset();
}

}  // namespace ccbridge::detail::server::cc_control
