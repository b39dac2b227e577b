// fake_cli.cpp - a scriptable stand-in for the Claude Code CLI, for ccbridge unit tests and benchmarks.
//
// It speaks the CLI's stream-json protocol (NDJSON on stdin/stdout) just well enough to drive an SDK
// through normal runs and every failure mode of the process layer, and it can produce bulk output fast
// enough that it is never the bottleneck of a throughput benchmark. Documentation: FAKE_CLI.md (same
// directory). Only the C++ standard library and POSIX are used.

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

namespace {

constexpr std::size_t kBulkChunk = 256 * 1024;     // write size of the bulk output paths
constexpr std::size_t kBigLineChunk = 1024 * 1024;  // write size of big_line
constexpr std::size_t kReadChunk = 256 * 1024;      // stdin read size
constexpr int kExitBadScript = 99;

int g_argc = 0;
char **g_argv = nullptr;
bool g_stdout_closed = false;  // after close_stdout or a write error other than EPIPE
std::string g_prompt;          // decoded text of the last user message seen by wait_user
int g_stdin_log_fd = -1;
int g_stdout_full_log_fd = -1;     // CCB_FAKE_STDOUT_FULL_LOG: where a write to a full stdout is reported
std::uint64_t g_stdout_bytes = 0;  // written to stdout so far

// ------------------------------------------------------------------------------------------------
// Raw output

[[noreturn]] void die_of_sigpipe()
{
  std::signal(SIGPIPE, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(SIGPIPE);
  _exit(141);
}

// Writes all n bytes; handles EINTR, partial writes and a non-blocking fd. Dies of SIGPIPE on EPIPE.
// Returns false on any other error.
bool write_all(int fd, const char *p, std::size_t n)
{
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
      if (fd == 1) g_stdout_bytes += static_cast<std::uint64_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (fd == 1 && g_stdout_full_log_fd >= 0) {
        // The reader holds us back: say so (with our progress) before waiting, for tests of backpressure.
        std::string line = std::to_string(g_stdout_bytes) + "\n";
        (void)write_all(g_stdout_full_log_fd, line.data(), line.size());
      }
      struct pollfd pfd;
      pfd.fd = fd;
      pfd.events = POLLOUT;
      pfd.revents = 0;
      ::poll(&pfd, 1, -1);
      continue;
    }
    if (w < 0 && errno == EPIPE) die_of_sigpipe();
    return false;
  }
  return true;
}

void out_write(const char *p, std::size_t n)
{
  if (g_stdout_closed || n == 0) return;
  if (!write_all(1, p, n)) g_stdout_closed = true;
}
void out_write(const std::string &s) { out_write(s.data(), s.size()); }

void err_write(const char *p, std::size_t n) { (void)write_all(2, p, n); }
void err_write(const std::string &s) { err_write(s.data(), s.size()); }

// A fixed-size output buffer that is written out only when full (or on flush), so that bulk output
// goes out in writes of exactly `cap` bytes.
class Bulk {
 public:
  Bulk(int fd, std::size_t cap) : fd_(fd), cap_(cap), buf_(cap) {}
  Bulk(const Bulk &) = delete;
  Bulk &operator=(const Bulk &) = delete;
  ~Bulk() { flush(); }

  bool dead() const { return fd_ == 1 && g_stdout_closed; }

  void append(const char *p, std::size_t n)
  {
    while (n > 0) {
      if (len_ == 0 && n >= cap_) {  // a whole chunk straight from the source
        std::size_t k = n - n % cap_;
        sink(p, k);
        p += k;
        n -= k;
        continue;
      }
      std::size_t k = cap_ - len_ < n ? cap_ - len_ : n;
      std::memcpy(buf_.data() + len_, p, k);
      len_ += k;
      p += k;
      n -= k;
      if (len_ == cap_) flush();
    }
  }
  void append(const std::string &s) { append(s.data(), s.size()); }

  void fill(char c, std::size_t n)
  {
    while (n > 0) {
      std::size_t k = cap_ - len_ < n ? cap_ - len_ : n;
      std::memset(buf_.data() + len_, c, k);
      len_ += k;
      n -= k;
      if (len_ == cap_) flush();
    }
  }

  void flush()
  {
    if (len_ == 0) return;
    sink(buf_.data(), len_);
    len_ = 0;
  }

 private:
  void sink(const char *p, std::size_t n)
  {
    if (fd_ == 1)
      out_write(p, n);
    else
      err_write(p, n);
  }

  int fd_;
  std::size_t cap_;
  std::vector<char> buf_;
  std::size_t len_ = 0;
};

// ------------------------------------------------------------------------------------------------
// Small helpers

// Appends s as the inside of a JSON string (no quotes). Control characters become \n, \t, ... or
// \u00XX; bytes >= 0x80 pass through unchanged.
void json_escape_append(std::string &out, const char *s, std::size_t n)
{
  static const char hex[] = "0123456789abcdef";
  const char *run = s;
  const char *end = s + n;
  for (const char *p = s; p < end; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(run, static_cast<std::size_t>(p - run));
    run = p + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(run, static_cast<std::size_t>(end - run));
}
void json_escape_append(std::string &out, const std::string &s) { json_escape_append(out, s.data(), s.size()); }
std::string json_quote(const std::string &s)
{
  std::string out = "\"";
  json_escape_append(out, s);
  out += '"';
  return out;
}

std::string current_dir()
{
  std::vector<char> buf(4096);
  for (;;) {
    if (::getcwd(buf.data(), buf.size())) return std::string(buf.data());
    if (errno != ERANGE) return std::string();
    buf.resize(buf.size() * 2);
  }
}

void sleep_ms(std::uint64_t ms)
{
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ms / 1000);
  ts.tv_nsec = static_cast<long>((ms % 1000) * 1000000);
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool parse_u64(const std::string &s, std::uint64_t &v)
{
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (r > (UINT64_MAX - d) / 10) return false;
    r = r * 10 + d;
  }
  v = r;
  return true;
}

char *u64_to_str(std::uint64_t v, char *end)  // writes digits ending before `end`; returns start
{
  char *p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  return p;
}

// Reads a whole file. Returns false (errno set) on failure.
bool read_file(const std::string &path, std::string &out)
{
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  std::vector<char> buf(kBigLineChunk);
  for (;;) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      return false;
    }
    if (r == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(r));
  }
  ::close(fd);
  return true;
}

// Writes a file atomically: to "<path>.tmp.<pid>", then rename().
bool write_file_atomic(const std::string &path, const std::string &data)
{
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = write_all(fd, data.data(), data.size());
  int e = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = e;
  }
  return ok;
}

// Input files named in commands resolve against $CCB_FAKE_FIXTURES when relative.
std::string resolve_input(const std::string &path)
{
  if (path.empty() || path[0] == '/') return path;
  const char *fx = std::getenv("CCB_FAKE_FIXTURES");
  if (!fx || !*fx) return path;
  std::string r = fx;
  if (r.back() != '/') r += '/';
  return r + path;
}

// ------------------------------------------------------------------------------------------------
// A small validating JSON reader (no DOM): enough to check that a stdin line is a JSON object and to
// pull out a few string members.

struct Span {
  const char *b = nullptr;
  const char *e = nullptr;
  bool ok() const { return b != nullptr; }
};

class JsonReader {
 public:
  JsonReader(const char *b, const char *e) : p_(b), e_(e) {}
  explicit JsonReader(Span s) : p_(s.b), e_(s.e) {}

  bool at_end() { ws(); return p_ == e_; }
  char peek() { ws(); return p_ < e_ ? *p_ : '\0'; }

  void ws()
  {
    while (p_ < e_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  // Parses a JSON string at the current position; decodes it into *out if out is non-null.
  bool string(std::string *out)
  {
    ws();
    if (p_ >= e_ || *p_ != '"') return false;
    ++p_;
    for (;;) {
      const char *s = p_;
      while (p_ < e_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
      if (out) out->append(s, static_cast<std::size_t>(p_ - s));
      if (p_ >= e_) return false;
      char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c != '\\') return false;  // raw control character
      ++p_;
      if (p_ >= e_) return false;
      char esc = *p_++;
      char ch = 0;
      switch (esc) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
          std::uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && e_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
            const char *save = p_;
            p_ += 2;
            std::uint32_t lo;
            if (!hex4(lo)) return false;
            if (lo >= 0xDC00 && lo <= 0xDFFF)
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else
              p_ = save;  // lone high surrogate; the next escape stands on its own
          }
          if (out) utf8(*out, cp);
          continue;
        }
        default: return false;
      }
      if (out) *out += ch;
    }
  }

  bool value(int depth)
  {
    ws();
    if (p_ >= e_) return false;
    switch (*p_) {
      case '{': return object(depth, nullptr, nullptr, 0);
      case '[': return array(depth, nullptr);
      case '"': return string(nullptr);
      case 't': return literal("true", 4);
      case 'f': return literal("false", 5);
      case 'n': return literal("null", 4);
      default: return number();
    }
  }

  // Parses an object. For each of the nkeys names in keys[], spans[i] receives the span of that
  // member's value (the last one if a key repeats).
  bool object(int depth, const char *const *keys, Span *spans, int nkeys)
  {
    ws();
    if (p_ >= e_ || *p_ != '{' || depth > kMaxDepth) return false;
    ++p_;
    ws();
    if (p_ < e_ && *p_ == '}') {
      ++p_;
      return true;
    }
    std::string key;
    for (;;) {
      key.clear();
      if (!string(nkeys ? &key : nullptr)) return false;
      ws();
      if (p_ >= e_ || *p_ != ':') return false;
      ++p_;
      ws();
      const char *vb = p_;
      if (!value(depth + 1)) return false;
      for (int i = 0; i < nkeys; ++i) {
        if (key == keys[i]) {
          spans[i].b = vb;
          spans[i].e = p_;
        }
      }
      ws();
      if (p_ >= e_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return false;
    }
  }

  // Parses an array; each element's span is passed to visit (if non-null) until it returns true.
  template <class F>
  bool array(int depth, F *visit)
  {
    ws();
    if (p_ >= e_ || *p_ != '[' || depth > kMaxDepth) return false;
    ++p_;
    ws();
    if (p_ < e_ && *p_ == ']') {
      ++p_;
      return true;
    }
    bool stop = false;
    for (;;) {
      ws();
      const char *vb = p_;
      if (!value(depth + 1)) return false;
      if (visit && !stop) stop = (*visit)(Span{vb, p_});
      ws();
      if (p_ >= e_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return false;
    }
  }
  bool array(int depth, std::nullptr_t) { return array<bool (*)(Span)>(depth, nullptr); }

 private:
  static constexpr int kMaxDepth = 2000;

  bool hex4(std::uint32_t &cp)
  {
    if (e_ - p_ < 4) return false;
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      cp <<= 4;
      if (c >= '0' && c <= '9')
        cp |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        cp |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        cp |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }

  static void utf8(std::string &out, std::uint32_t cp)
  {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {  // lone surrogates are passed through as 3-byte sequences
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool literal(const char *w, std::size_t n)
  {
    if (static_cast<std::size_t>(e_ - p_) < n || std::memcmp(p_, w, n) != 0) return false;
    p_ += n;
    return true;
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }

  bool number()
  {
    if (p_ < e_ && *p_ == '-') ++p_;
    if (p_ >= e_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < e_ && digit(*p_)) ++p_;
    } else {
      return false;
    }
    if (p_ < e_ && *p_ == '.') {
      ++p_;
      if (p_ >= e_ || !digit(*p_)) return false;
      while (p_ < e_ && digit(*p_)) ++p_;
    }
    if (p_ < e_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < e_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= e_ || !digit(*p_)) return false;
      while (p_ < e_ && digit(*p_)) ++p_;
    }
    return true;
  }

  const char *p_;
  const char *e_;
};

// Decodes the span if it holds a JSON string.
bool span_string(Span s, std::string &out)
{
  if (!s.ok()) return false;
  JsonReader r(s);
  if (r.peek() != '"') return false;
  out.clear();
  return r.string(&out);
}

// Finds one member of the object in span s.
Span member(Span s, const char *key)
{
  Span v;
  if (!s.ok()) return v;
  JsonReader r(s);
  if (r.peek() != '{') return v;
  const char *keys[1] = {key};
  if (!r.object(0, keys, &v, 1)) return Span();
  return v;
}

// ------------------------------------------------------------------------------------------------
// Stdin: line reader, protocol handling

class StdinReader {
 public:
  StdinReader() : buf_(kReadChunk) {}

  // Next line without its '\n' (a final unterminated line counts). Calls before_block() before every
  // read() that may block. Returns false at EOF.
  template <class F>
  bool next_line(const char *&line, std::size_t &len, F &&before_block)
  {
    for (;;) {
      if (scan_ < beg_) scan_ = beg_;
      if (scan_ < end_) {
        const void *nl = std::memchr(buf_.data() + scan_, '\n', end_ - scan_);
        if (nl) {
          std::size_t pos = static_cast<std::size_t>(static_cast<const char *>(nl) - buf_.data());
          line = buf_.data() + beg_;
          len = pos - beg_;
          beg_ = scan_ = pos + 1;
          return true;
        }
        scan_ = end_;
      }
      if (eof_) {
        if (beg_ < end_) {
          line = buf_.data() + beg_;
          len = end_ - beg_;
          beg_ = scan_ = end_;
          return true;
        }
        return false;
      }
      // Make room for at least kReadChunk more bytes.
      if (beg_ > 0) {
        std::memmove(buf_.data(), buf_.data() + beg_, end_ - beg_);
        end_ -= beg_;
        scan_ -= beg_;
        beg_ = 0;
      }
      if (buf_.size() - end_ < kReadChunk) buf_.resize(buf_.size() * 2 > end_ + kReadChunk ? buf_.size() * 2 : end_ + kReadChunk);
      before_block();
      for (;;) {
        ssize_t r = ::read(0, buf_.data() + end_, buf_.size() - end_);
        if (r > 0) {
          end_ += static_cast<std::size_t>(r);
          break;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          struct pollfd pfd;
          pfd.fd = 0;
          pfd.events = POLLIN;
          pfd.revents = 0;
          ::poll(&pfd, 1, -1);
          continue;
        }
        eof_ = true;  // EOF, or an unreadable stdin
        break;
      }
    }
  }

 private:
  std::vector<char> buf_;
  std::size_t beg_ = 0, end_ = 0, scan_ = 0;
  bool eof_ = false;
};

StdinReader g_stdin;

enum class WaitMode { user, eof, echo };

// One classified stdin line. The spans point into the reader's buffer and stay valid until the next
// read.
struct Incoming {
  std::string type;        // top-level "type"
  std::string request_id;  // control_request / control_cancel_request: top level; control_response: inner
  std::string subtype;     // request.subtype (control_request) or response.subtype (control_response)
  Span request;            // control_request.request
  Span response;           // control_response.response, the whole inner object
  Span message;            // user.message
};

std::string span_text(Span s) { return s.ok() ? std::string(s.b, static_cast<std::size_t>(s.e - s.b)) : std::string("null"); }

// message.content if it is a string, else the text of its first text block.
std::string prompt_of(Span message)
{
  std::string text;
  Span content = member(message, "content");
  if (!content.ok()) return text;
  JsonReader r(content);
  char c = r.peek();
  if (c == '"') {
    r.string(&text);
  } else if (c == '[') {
    auto visit = [&text](Span block) {
      std::string t;
      if (!span_string(member(block, "type"), t) || t != "text") return false;
      span_string(member(block, "text"), text);
      return true;
    };
    r.array(0, &visit);
  }
  return text;
}

// control_answer: subtype -> the response body a control request of that subtype gets.
std::map<std::string, std::string> g_control_answers;

// Stdin lines in, queued protocol output out. Output is flushed before every blocking read, so that
// nothing the host waits for sits in a buffer.
class Wire {
 public:
  // Reads the next non-blank line into `in`; false at EOF. An invalid line ends the process the way
  // the real CLI does. With echo, every line (blank ones too) is first echoed as an "echo" message.
  bool read(Incoming &in, bool echo)
  {
    const char *line;
    std::size_t len;
    auto flush = [this] { this->flush(); };
    while (g_stdin.next_line(line, len, flush)) {
      if (g_stdin_log_fd >= 0) {
        log_.append(line, len);
        log_ += '\n';
      }
      if (echo) {
        out_ += "{\"type\":\"echo\",\"line\":\"";
        json_escape_append(out_, line, len);
        out_ += "\"}\n";
        if (out_.size() >= kBulkChunk) this->flush();
      }
      std::size_t i = 0;
      while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      if (i == len) continue;  // blank line

      static const char *const kKeys[] = {"type", "request_id", "request", "message", "response"};
      Span spans[5];
      JsonReader r(line, line + len);
      bool valid = r.peek() == '{' && r.object(0, kKeys, spans, 5) && r.at_end();
      if (!valid) {
        this->flush();
        err_write("Error parsing streaming input line (type=unknown, " + std::to_string(len) + " chars): SyntaxError\n");
        _exit(1);
      }
      in = Incoming();
      span_string(spans[0], in.type);
      in.request = spans[2];
      in.message = spans[3];
      in.response = spans[4];
      if (in.type == "control_response") {
        span_string(member(in.response, "request_id"), in.request_id);
        span_string(member(in.response, "subtype"), in.subtype);
      } else {
        span_string(spans[1], in.request_id);
        span_string(member(in.request, "subtype"), in.subtype);
      }
      return true;
    }
    return false;
  }

  void queue(const std::string &s)
  {
    out_ += s;
    if (out_.size() >= kBulkChunk) flush();
  }

  void flush()
  {
    if (!log_.empty()) {
      if (g_stdin_log_fd >= 0) (void)write_all(g_stdin_log_fd, log_.data(), log_.size());
      log_.clear();
    }
    if (!out_.empty()) {
      out_write(out_);
      out_.clear();
    }
  }

  // The answers of an idle CLI (CLI-OBSERVED.md section 6), or the one control_answer set; an
  // unknown subtype gets the real CLI's error text.
  void answer_control(const Incoming &in)
  {
    const std::string &subtype = in.subtype;
    std::string head = "{\"type\":\"control_response\",\"response\":{\"subtype\":";
    std::string rid = ",\"request_id\":" + json_quote(in.request_id);
    auto success = [&](const std::string &body) { queue(head + "\"success\"" + rid + ",\"response\":" + body + "}}\n"); };
    auto set = g_control_answers.find(subtype);
    if (set != g_control_answers.end()) {
      success(set->second);
    } else if (subtype == "initialize") {
      success("{\"commands\":[],\"agents\":[],\"output_style\":\"default\",\"available_output_styles\":[\"default\"],"
              "\"models\":[],\"account\":{},\"pid\":" + std::to_string(::getpid()) + "}");
    } else if (subtype == "interrupt") {
      success("{\"still_queued\":[]}");
    } else if (subtype == "set_permission_mode") {
      success("{\"mode\":" + span_text(member(in.request, "mode")) + "}");
    } else if (subtype == "set_model") {
      success("{}");
    } else if (subtype == "mcp_status") {
      success("{\"mcpServers\":[]}");
    } else if (subtype == "get_context_usage") {
      success("{\"categories\":[{\"name\":\"System prompt\",\"tokens\":1000,\"color\":\"promptBorder\"}],"
              "\"totalTokens\":1000,\"maxTokens\":200000,\"rawMaxTokens\":200000,\"percentage\":0.5}");
    } else {
      std::string err;
      json_escape_append(err, "Unsupported control request subtype: " + subtype);
      queue(head + "\"error\"" + rid + ",\"error\":\"" + err + "\"}}\n");
    }
  }

 private:
  std::string out_;
  std::string log_;
};

Wire g_wire;
std::vector<std::string> g_pending_users;  // user prompts that arrived while a command waited for something else
unsigned g_next_request = 0;               // fake_req_N ids of the requests the fake sends
unsigned g_next_tool = 0;                  // toolu_fake_N ids
unsigned g_next_uuid = 100;

// wait_user, wait_eof, echo_stdin_lines.
void wait_stdin(WaitMode mode)
{
  if (mode == WaitMode::user && !g_pending_users.empty()) {
    g_prompt = g_pending_users.front();
    g_pending_users.erase(g_pending_users.begin());
    return;
  }
  Incoming in;
  while (g_wire.read(in, mode == WaitMode::echo)) {
    if (in.type == "control_request") {
      g_wire.answer_control(in);
    } else if (in.type == "user" && mode == WaitMode::user) {
      g_prompt = prompt_of(in.message);
      break;
    }
  }
  g_wire.flush();
}

// The next user prompt into g_prompt, answering control requests meanwhile; false at EOF.
bool next_user()
{
  if (!g_pending_users.empty()) {
    g_prompt = g_pending_users.front();
    g_pending_users.erase(g_pending_users.begin());
    return true;
  }
  Incoming in;
  while (g_wire.read(in, false)) {
    if (in.type == "control_request") {
      g_wire.answer_control(in);
    } else if (in.type == "user") {
      g_prompt = prompt_of(in.message);
      return true;
    }
  }
  g_wire.flush();
  return false;
}

std::string next_uuid()
{
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012u", ++g_next_uuid);
  return buf;
}

void queue_init()
{
  g_wire.queue("{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"" + [] {
    std::string s;
    json_escape_append(s, current_dir());
    return s;
  }() + "\",\"session_id\":\"fake-session\",\"tools\":[\"Bash\",\"Write\"],\"mcp_servers\":[],\"model\":\"claude-fake\","
        "\"permissionMode\":\"default\",\"apiKeySource\":\"ANTHROPIC_API_KEY\",\"uuid\":\"" + next_uuid() + "\"}\n");
}

void queue_assistant(const std::string &content_json)
{
  g_wire.queue("{\"type\":\"assistant\",\"message\":{\"id\":\"msg_fake_" + std::to_string(g_next_uuid) +
               "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-fake\",\"content\":" + content_json +
               ",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}},"
               "\"parent_tool_use_id\":null,\"session_id\":\"fake-session\",\"uuid\":\"" + next_uuid() + "\"}\n");
}

void queue_user(const std::string &content_json)
{
  g_wire.queue("{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":" + content_json +
               "},\"parent_tool_use_id\":null,\"session_id\":\"fake-session\",\"uuid\":\"" + next_uuid() + "\"}\n");
}

// subtype success or error_during_execution; result_text is raw JSON (a string or null).
void queue_result(bool success, const std::string &result_json, const std::string &denials_json,
                  const char *terminal_reason)
{
  std::string s = "{\"type\":\"result\",\"subtype\":\"";
  s += success ? "success" : "error_during_execution";
  s += "\",\"is_error\":";
  s += success ? "false" : "true";
  s += ",\"duration_ms\":1,\"duration_api_ms\":1,\"num_turns\":1";
  if (success) s += ",\"result\":" + result_json;
  s += ",\"stop_reason\":\"end_turn\",\"session_id\":\"fake-session\",\"total_cost_usd\":0.001,"
       "\"usage\":{\"input_tokens\":1,\"output_tokens\":1},\"permission_denials\":" + denials_json +
       ",\"terminal_reason\":\"" + terminal_reason + "\",\"uuid\":\"" + next_uuid() + "\"}\n";
  g_wire.queue(s);
}

// serve_turns: one echo turn per user message until stdin ends.
void do_serve_turns()
{
  while (next_user()) {
    std::string echo = "echo: ";
    json_escape_append(echo, g_prompt);
    queue_init();
    queue_assistant("[{\"type\":\"text\",\"text\":\"" + echo + "\"}]");
    queue_result(true, "\"" + echo + "\"", "[]", "completed");
    g_wire.flush();
  }
}

// Sends a control request to the host; returns the id.
std::string send_request(const std::string &request_json)
{
  std::string id = "fake_req_" + std::to_string(++g_next_request);
  g_wire.queue("{\"type\":\"control_request\",\"request_id\":\"" + id + "\",\"request\":" + request_json + "}\n");
  g_wire.flush();
  return id;
}

// send_control: sends a request, waits for the host's answer and reports it as fake_control_result.
void do_send_control(const std::string &request_json, bool wait)
{
  std::string id = send_request(request_json);
  if (!wait) return;
  Incoming in;
  while (g_wire.read(in, false)) {
    if (in.type == "control_request") {
      g_wire.answer_control(in);
    } else if (in.type == "user") {
      g_pending_users.push_back(prompt_of(in.message));
    } else if (in.type == "control_response" && in.request_id == id) {
      g_wire.queue("{\"type\":\"fake_control_result\",\"request_id\":\"" + id + "\",\"response\":" + span_text(in.response) + "}\n");
      break;
    }
  }
  g_wire.flush();
}

// permission_turn: a turn in which the model wants one tool and the CLI asks the host first, as the
// real CLI does with --permission-prompt-tool stdio (transcripts d_control_*).
void do_permission_turn(const std::string &tool, const std::string &input)
{
  if (!next_user()) return;
  std::string tool_use_id = "toolu_fake_" + std::to_string(++g_next_tool);
  std::string qtool = json_quote(tool);
  queue_init();
  queue_assistant("[{\"type\":\"tool_use\",\"id\":\"" + tool_use_id + "\",\"name\":" + qtool + ",\"input\":" + input + "}]");
  std::string id = send_request(
      "{\"subtype\":\"can_use_tool\",\"tool_name\":" + qtool + ",\"display_name\":" + qtool + ",\"input\":" + input +
      ",\"permission_suggestions\":[{\"type\":\"addRules\",\"rules\":[{\"toolName\":" + qtool +
      "}],\"behavior\":\"allow\",\"destination\":\"localSettings\"}],"
      "\"decision_reason\":\"This command requires approval\",\"decision_reason_type\":\"other\",\"tool_use_id\":\"" +
      tool_use_id + "\"}");
  std::string denial = "[{\"tool_name\":" + qtool + ",\"tool_use_id\":\"" + tool_use_id + "\",\"tool_input\":" + input + "}]";
  auto deny = [&](const std::string &message, bool interrupted) {
    std::string m;
    json_escape_append(m, message);
    queue_user("[{\"type\":\"tool_result\",\"content\":\"" + m + "\",\"is_error\":true,\"tool_use_id\":\"" + tool_use_id + "\"}]");
    if (interrupted) {
      queue_user("[{\"type\":\"text\",\"text\":\"[Request interrupted by user for tool use]\"}]");
      queue_result(false, "", denial, "aborted_tools");
    } else {
      queue_assistant("[{\"type\":\"text\",\"text\":\"denied\"}]");
      queue_result(true, "\"denied\"", denial, "completed");
    }
  };
  Incoming in;
  while (g_wire.read(in, false)) {
    if (in.type == "control_request") {
      g_wire.answer_control(in);
      if (in.subtype == "interrupt") {
        // The pending permission request is withdrawn; any late answer to it is ignored.
        g_wire.queue("{\"type\":\"control_cancel_request\",\"request_id\":\"" + id + "\"}\n");
        deny("The user doesn't want to proceed with this tool use.", true);
        break;
      }
    } else if (in.type == "user") {
      g_pending_users.push_back(prompt_of(in.message));
    } else if (in.type == "control_response" && in.request_id == id) {
      std::string behavior, message;
      Span decision = member(in.response, "response");
      span_string(member(decision, "behavior"), behavior);
      if (in.subtype == "success" && behavior == "allow") {
        Span updated = member(decision, "updatedInput");
        std::string used = updated.ok() ? span_text(updated) : input;
        std::string text;
        json_escape_append(text, "ran " + tool + " with " + used);
        queue_user("[{\"type\":\"tool_result\",\"content\":\"" + text + "\",\"tool_use_id\":\"" + tool_use_id + "\"}]");
        queue_assistant("[{\"type\":\"text\",\"text\":\"done\"}]");
        queue_result(true, "\"done\"", "[]", "completed");
      } else {
        if (in.subtype == "success")
          span_string(member(decision, "message"), message);
        else
          span_string(member(in.response, "error"), message);
        deny(message, false);
      }
      break;
    }
  }
  g_wire.flush();
}

// timed_text: N assistant text messages of `bytes` bytes whose text starts with "t=<ns> ", the
// CLOCK_REALTIME time of the write, so that a client can measure the latency from the CLI writing
// a line to receiving it; at most `per_second` of them a second (0: as fast as possible).
void do_timed_text(std::uint64_t n, std::uint64_t per_second, std::uint64_t bytes)
{
  g_wire.flush();
  static const char kHead[] = "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_fake_t\",\"type\":\"message\","
                              "\"role\":\"assistant\",\"model\":\"claude-fake\",\"content\":[{\"type\":\"text\",\"text\":\"t=";
  static const char kTail[] = "\"}],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,"
                              "\"output_tokens\":1}},\"parent_tool_use_id\":null,\"session_id\":\"fake-session\"}\n";
  std::string line;
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  std::vector<char> buf;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (per_second) {
      // Pace against the start time, so that the rate holds on average without drifting.
      std::uint64_t due_ns = i * 1000000000ull / per_second;
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      std::uint64_t elapsed = static_cast<std::uint64_t>(now.tv_sec - start.tv_sec) * 1000000000ull +
                              static_cast<std::uint64_t>(now.tv_nsec) - static_cast<std::uint64_t>(start.tv_nsec);
      if (due_ns > elapsed) {
        std::uint64_t wait = due_ns - elapsed;
        timespec ts{static_cast<time_t>(wait / 1000000000ull), static_cast<long>(wait % 1000000000ull)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
      }
    }
    timespec rt{};
    clock_gettime(CLOCK_REALTIME, &rt);
    line.assign(kHead, sizeof kHead - 1);
    line += std::to_string(static_cast<std::uint64_t>(rt.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(rt.tv_nsec));
    line += ' ';
    std::size_t fixed = line.size() + (sizeof kTail - 1);
    if (bytes > fixed) line.append(bytes - fixed, 'x');
    line.append(kTail, sizeof kTail - 1);
    if (per_second) {
      out_write(line);  // each line on its own, at its time
    } else {
      buf.insert(buf.end(), line.begin(), line.end());
      if (buf.size() >= kBulkChunk) {
        out_write(buf.data(), buf.size());
        buf.clear();
      }
    }
    if (g_stdout_closed) return;
  }
  if (!buf.empty()) out_write(buf.data(), buf.size());
}

// ------------------------------------------------------------------------------------------------
// Script

enum class Op {
  wait_user,
  wait_eof,
  echo_stdin_lines,
  emit,
  emit_raw,
  replay,
  repeat,
  repeat_line,
  flood,
  big_line,
  split,
  stderr_text,
  stderr_flood,
  sleep,
  exit,
  kill,
  ignore_sigterm,
  hang,
  close_stdout,
  grandchild,
  daemon,
  wait_file,
  dump_invocation,
  serve_turns,
  send_control,
  send_control_nowait,
  permission_turn,
  timed_text,
  control_answer,
  read_line,
};

struct Cmd {
  Op op;
  int line;
  std::uint64_t n1 = 0, n2 = 0, n3 = 0;
  std::string text;
  std::string tool;  // permission_turn: the tool; control_answer: the subtype
};

bool is_json_object(const std::string &s)
{
  JsonReader r(s.data(), s.data() + s.size());
  return r.peek() == '{' && r.object(0, nullptr, nullptr, 0) && r.at_end();
}

const char *const kCommandNames[] = {
    "wait_user", "wait_eof",     "echo_stdin_lines", "emit",  "emit_raw", "replay",         "repeat",
    "repeat_line", "flood",      "big_line",         "split", "stderr",   "stderr_flood",   "sleep",
    "exit",      "kill",         "ignore_sigterm",   "hang",  "close_stdout", "grandchild", "daemon", "wait_file", "dump_invocation",
    "serve_turns", "send_control_nowait", "send_control", "permission_turn", "timed_text", "control_answer", "read_line",
};

[[noreturn]] void bad_line(int n, const std::string &why, const std::string &line)
{
  err_write("fake_cli: bad script line " + std::to_string(n) + ": " + why + ": " + line + "\n");
  _exit(kExitBadScript);
}

[[noreturn]] void runtime_failure(int n, const std::string &why)
{
  err_write("fake_cli: script line " + std::to_string(n) + ": " + why + "\n");
  _exit(kExitBadScript);
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Splits off the next blank-separated word of s starting at i; i then points past following blanks.
std::string next_word(const std::string &s, std::size_t &i)
{
  std::size_t b = i;
  while (i < s.size() && !is_blank(s[i])) ++i;
  std::string w = s.substr(b, i - b);
  while (i < s.size() && is_blank(s[i])) ++i;
  return w;
}

std::string rtrim(std::string s)
{
  while (!s.empty() && is_blank(s.back())) s.pop_back();
  return s;
}

bool decode_c_escapes(const std::string &in, std::string &out, std::string &why)
{
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= in.size()) {
      why = "trailing backslash";
      return false;
    }
    switch (in[i]) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        auto hv = [](char h) {
          if (h >= '0' && h <= '9') return h - '0';
          if (h >= 'a' && h <= 'f') return h - 'a' + 10;
          if (h >= 'A' && h <= 'F') return h - 'A' + 10;
          return -1;
        };
        if (i + 2 >= in.size() || hv(in[i + 1]) < 0 || hv(in[i + 2]) < 0) {
          why = "\\x needs two hex digits";
          return false;
        }
        out += static_cast<char>(hv(in[i + 1]) * 16 + hv(in[i + 2]));
        i += 2;
        break;
      }
      default:
        why = std::string("unknown escape \\") + in[i];
        return false;
    }
  }
  return true;
}

int signal_from_name(const std::string &s)
{
  std::uint64_t v;
  if (parse_u64(s, v)) return v >= 1 && v <= 64 ? static_cast<int>(v) : -1;
  std::string n = s;
  for (auto &c : n) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  if (n.compare(0, 3, "SIG") == 0) n = n.substr(3);
  static const struct {
    const char *name;
    int sig;
  } kSigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
               {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
               {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
               {"STOP", SIGSTOP}, {"CONT", SIGCONT}, {"SYS", SIGSYS}};
  for (const auto &e : kSigs)
    if (n == e.name) return e.sig;
  return -1;
}

Cmd parse_line(const std::string &raw, int n)
{
  std::size_t i = 0;
  while (i < raw.size() && is_blank(raw[i])) ++i;
  std::string word = next_word(raw, i);
  std::string rest = raw.substr(i);  // verbatim (text commands keep trailing blanks)
  Cmd c{Op::wait_user, n, 0, 0, 0, std::string(), std::string()};

  auto no_args = [&](Op op) {
    if (!rtrim(rest).empty()) bad_line(n, "'" + word + "' takes no arguments", raw);
    c.op = op;
  };
  // Reads k leading numbers; returns what follows them.
  auto numbers = [&](int k, const char *usage) {
    std::size_t j = 0;
    std::uint64_t *dst[2] = {&c.n1, &c.n2};
    for (int a = 0; a < k; ++a) {
      std::string w = next_word(rest, j);
      if (!parse_u64(w, *dst[a])) bad_line(n, std::string("usage: ") + usage, raw);
    }
    return rest.substr(j);
  };
  auto only_numbers = [&](int k, const char *usage) {
    if (!rtrim(numbers(k, usage)).empty()) bad_line(n, std::string("usage: ") + usage, raw);
  };
  auto need_path = [&](const std::string &p, const char *usage) {
    std::string t = rtrim(p);
    if (t.empty()) bad_line(n, std::string("usage: ") + usage, raw);
    return t;
  };

  if (word == "wait_user") {
    no_args(Op::wait_user);
  } else if (word == "wait_eof") {
    no_args(Op::wait_eof);
  } else if (word == "echo_stdin_lines") {
    no_args(Op::echo_stdin_lines);
  } else if (word == "emit") {
    c.op = Op::emit;
    c.text = rest;
  } else if (word == "emit_raw") {
    c.op = Op::emit_raw;
    std::string why;
    if (!decode_c_escapes(rest, c.text, why)) bad_line(n, why, raw);
  } else if (word == "replay") {
    c.op = Op::replay;
    c.text = need_path(rest, "replay <path>");
  } else if (word == "repeat") {
    c.op = Op::repeat;
    c.text = need_path(numbers(1, "repeat <N> <path>"), "repeat <N> <path>");
  } else if (word == "repeat_line") {
    c.op = Op::repeat_line;
    c.text = numbers(1, "repeat_line <N> <text>");
  } else if (word == "flood") {
    c.op = Op::flood;
    only_numbers(2, "flood <N> <bytes>, bytes >= 64");
    if (c.n2 < 64) bad_line(n, "flood: <bytes> must be at least 64", raw);
  } else if (word == "big_line") {
    c.op = Op::big_line;
    only_numbers(1, "big_line <bytes>, bytes >= 29");
    if (c.n1 < 29) bad_line(n, "big_line: <bytes> must be at least 29", raw);
  } else if (word == "split") {
    c.op = Op::split;
    c.text = numbers(2, "split <chunk> <delay_ms> <text>");
    if (c.n1 == 0) bad_line(n, "split: <chunk> must be at least 1", raw);
  } else if (word == "stderr") {
    c.op = Op::stderr_text;
    c.text = rest;
  } else if (word == "stderr_flood") {
    c.op = Op::stderr_flood;
    only_numbers(1, "stderr_flood <bytes>");
  } else if (word == "sleep") {
    c.op = Op::sleep;
    only_numbers(1, "sleep <ms>");
  } else if (word == "exit") {
    c.op = Op::exit;
    only_numbers(1, "exit <code 0-255>");
    if (c.n1 > 255) bad_line(n, "usage: exit <code 0-255>", raw);
  } else if (word == "kill") {
    c.op = Op::kill;
    std::string s = rtrim(rest);
    int sig = signal_from_name(s);
    if (sig < 0) bad_line(n, "usage: kill <signal number or name>", raw);
    c.n1 = static_cast<std::uint64_t>(sig);
  } else if (word == "ignore_sigterm") {
    no_args(Op::ignore_sigterm);
  } else if (word == "hang") {
    no_args(Op::hang);
  } else if (word == "close_stdout") {
    no_args(Op::close_stdout);
  } else if (word == "grandchild") {
    c.op = Op::grandchild;
    c.text = need_path(rest, "grandchild <pidfile>");
  } else if (word == "daemon") {
    c.op = Op::daemon;
    c.text = need_path(rest, "daemon <pidfile>");
  } else if (word == "wait_file") {
    c.op = Op::wait_file;
    c.text = need_path(rest, "wait_file <path>");
  } else if (word == "dump_invocation") {
    c.op = Op::dump_invocation;
    c.text = need_path(rest, "dump_invocation <path>");
  } else if (word == "timed_text") {
    c.op = Op::timed_text;
    std::size_t j = 0;
    std::uint64_t *dst[3] = {&c.n1, &c.n2, &c.n3};
    for (int a = 0; a < 3; ++a) {
      std::string w = next_word(rest, j);
      if (!parse_u64(w, *dst[a])) bad_line(n, "usage: timed_text <N> <per_second, 0 = no limit> <bytes>", raw);
    }
    if (!rtrim(rest.substr(j)).empty() || c.n3 < 200) bad_line(n, "usage: timed_text <N> <per_second> <bytes >= 200>", raw);
  } else if (word == "serve_turns") {
    no_args(Op::serve_turns);
  } else if (word == "read_line") {
    no_args(Op::read_line);
  } else if (word == "send_control" || word == "send_control_nowait") {
    c.op = word == "send_control" ? Op::send_control : Op::send_control_nowait;
    c.text = rtrim(rest);
    if (!is_json_object(c.text)) bad_line(n, "usage: " + word + " <JSON object: the request>", raw);
  } else if (word == "control_answer" || word == "permission_turn") {  // <name> <JSON object>
    bool answer = word == "control_answer";
    c.op = answer ? Op::control_answer : Op::permission_turn;
    std::size_t j = 0;
    c.tool = next_word(rest, j);
    c.text = rtrim(rest.substr(j));
    if (c.tool.empty() || !is_json_object(c.text)) {
      bad_line(n, answer ? "usage: control_answer <subtype> <JSON object: the response>"
                         : "usage: permission_turn <tool> <JSON object: the input>", raw);
    }
  } else {
    bad_line(n, "unknown command '" + word + "'", raw);
  }
  return c;
}

// Is there a command word (or a comment) at s[i...] (after blanks)?
bool command_follows(const std::string &s, std::size_t i)
{
  while (i < s.size() && is_blank(s[i])) ++i;
  if (i < s.size() && s[i] == '#') return true;
  for (const char *name : kCommandNames) {
    std::size_t k = std::strlen(name);
    if (s.compare(i, k, name) != 0) continue;
    std::size_t j = i + k;
    if (j == s.size() || is_blank(s[j]) || (s[j] == '\\' && j + 1 < s.size() && s[j + 1] == 'n')) return true;
  }
  return false;
}

// Splits script text into lines. Real newlines always separate. When `literal_nl` is set (one-line
// CCB_FAKE_SCRIPT_TEXT), the two characters `\n` also separate, but only where they are not part of
// a `\\` pair and are followed by a command name or a comment, so that JSON escapes such as
// "a\nb" in emit lines survive.
std::vector<std::string> split_script(const std::string &text, bool literal_nl)
{
  std::vector<std::string> lines;
  std::string cur;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
      continue;
    }
    if (c == '\\' && literal_nl && i + 1 < text.size()) {
      if (text[i + 1] == 'n' && command_follows(text, i + 2)) {
        lines.push_back(cur);
        cur.clear();
        ++i;
        continue;
      }
      cur += c;
      cur += text[i + 1];  // keep escape pairs (including `\\`) together
      ++i;
      continue;
    }
    cur += c;
  }
  lines.push_back(cur);
  for (auto &l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  return lines;
}

std::vector<Cmd> parse_script(const std::string &text, bool literal_nl)
{
  std::vector<Cmd> cmds;
  auto lines = split_script(text, literal_nl);
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const std::string &l = lines[k];
    std::size_t i = 0;
    while (i < l.size() && is_blank(l[i])) ++i;
    if (i == l.size() || l[i] == '#') continue;
    cmds.push_back(parse_line(l, static_cast<int>(k + 1)));
  }
  return cmds;
}

const char kDefaultScript[] =
    "wait_user\n"
    "emit {\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"{{cwd}}\",\"session_id\":\"fake-session\","
    "\"tools\":[],\"mcp_servers\":[],\"model\":\"claude-fake\",\"permissionMode\":\"default\","
    "\"slash_commands\":[],\"apiKeySource\":\"none\",\"claude_code_version\":\"0.0.0-fake\","
    "\"output_style\":\"default\",\"agents\":[],\"skills\":[],\"plugins\":[],"
    "\"uuid\":\"00000000-0000-4000-8000-000000000001\"}\n"
    "emit {\"type\":\"assistant\",\"message\":{\"id\":\"msg_fake_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-fake\",\"content\":[{\"type\":\"text\",\"text\":\"echo: {{prompt}}\"}],"
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}},"
    "\"parent_tool_use_id\":null,\"session_id\":\"fake-session\","
    "\"uuid\":\"00000000-0000-4000-8000-000000000002\"}\n"
    "emit {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"duration_ms\":1,"
    "\"duration_api_ms\":1,\"num_turns\":1,\"result\":\"echo: {{prompt}}\",\"stop_reason\":\"end_turn\","
    "\"session_id\":\"fake-session\",\"total_cost_usd\":0.001,\"usage\":{\"input_tokens\":1,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1,"
    "\"server_tool_use\":{\"web_search_requests\":0,\"web_fetch_requests\":0},\"service_tier\":\"standard\"},"
    "\"modelUsage\":{\"claude-fake\":{\"inputTokens\":1,\"outputTokens\":1,\"cacheReadInputTokens\":0,"
    "\"cacheCreationInputTokens\":0,\"webSearchRequests\":0,\"costUSD\":0.001,\"contextWindow\":200000,"
    "\"maxOutputTokens\":32000}},\"permission_denials\":[],\"terminal_reason\":\"completed\","
    "\"uuid\":\"00000000-0000-4000-8000-000000000003\"}\n"
    "wait_eof\n"
    "exit 0\n";

// Replaces {{prompt}}, {{cwd}}, {{env:NAME}} (JSON-escaped, without quotes), {{pid}} and {{now_ns}}.
std::string substitute(const std::string &text)
{
  if (text.find("{{") == std::string::npos) return text;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t b = text.find("{{", i);
    if (b == std::string::npos) break;
    out.append(text, i, b - i);
    if (text.compare(b, 10, "{{prompt}}") == 0) {
      json_escape_append(out, g_prompt);
      i = b + 10;
    } else if (text.compare(b, 7, "{{cwd}}") == 0) {
      json_escape_append(out, current_dir());
      i = b + 7;
    } else if (text.compare(b, 6, "{{env:") == 0 && text.find("}}", b + 6) != std::string::npos) {
      std::size_t e = text.find("}}", b + 6);
      const char *v = std::getenv(text.substr(b + 6, e - b - 6).c_str());
      json_escape_append(out, v ? v : "");
      i = e + 2;
    } else if (text.compare(b, 7, "{{pid}}") == 0) {
      out += std::to_string(::getpid());
      i = b + 7;
    } else if (text.compare(b, 10, "{{now_ns}}") == 0) {
      timespec rt{};
      clock_gettime(CLOCK_REALTIME, &rt);
      out += std::to_string(static_cast<std::uint64_t>(rt.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(rt.tv_nsec));
      i = b + 10;
    } else {
      out += "{{";
      i = b + 2;
    }
  }
  out.append(text, i, std::string::npos);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Commands

void do_replay(const Cmd &c)
{
  std::string path = resolve_input(c.text);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) runtime_failure(c.line, "cannot open '" + path + "': " + std::strerror(errno));
  std::vector<char> buf(kBigLineChunk);
  for (;;) {
    // Fill the buffer completely (or to EOF) so that output goes out in few large writes.
    std::size_t got = 0;
    bool eof = false;
    while (got < buf.size()) {
      ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) runtime_failure(c.line, "cannot read '" + path + "': " + std::strerror(errno));
      if (r == 0) {
        eof = true;
        break;
      }
      got += static_cast<std::size_t>(r);
    }
    out_write(buf.data(), got);
    if (eof || g_stdout_closed) break;
  }
  ::close(fd);
}

// Writes `unit` n times through a large buffer: a block of whole copies is built once and written
// repeatedly.
void write_repeated(const std::string &unit, std::uint64_t n)
{
  if (n == 0 || unit.empty() || g_stdout_closed) return;
  if (unit.size() >= kBulkChunk) {
    for (std::uint64_t i = 0; i < n && !g_stdout_closed; ++i) out_write(unit);
    return;
  }
  std::uint64_t per_block = kBulkChunk / unit.size();
  if (per_block > n) per_block = n;
  std::string block;
  block.reserve(per_block * unit.size());
  for (std::uint64_t i = 0; i < per_block; ++i) block += unit;
  std::uint64_t left = n;
  while (left >= per_block && !g_stdout_closed) {
    out_write(block);
    left -= per_block;
  }
  if (left > 0) out_write(block.data(), static_cast<std::size_t>(left * unit.size()));
}

void do_flood(std::uint64_t n, std::uint64_t bytes)
{
  static const char kHead[] = "{\"type\":\"stream_event\",\"seq\":";
  static const char kMid[] = ",\"pad\":\"";
  static const char kTail[] = "\"}\n";
  const std::size_t fixed = (sizeof kHead - 1) + (sizeof kMid - 1) + (sizeof kTail - 1);
  const std::size_t line_len = static_cast<std::size_t>(bytes);
  if (line_len <= kBulkChunk) {
    // Fast path: lines are built directly in a buffer; within a run of equal digit counts a line
    // differs from its template only in the digits.
    std::vector<char> buf(kBulkChunk);
    std::size_t len = 0;
    std::string tmpl;
    std::size_t tmpl_digits = 0;
    char num[24];
    for (std::uint64_t i = 0; i < n; ++i) {
      char *d = u64_to_str(i, num + sizeof num);
      std::size_t nd = static_cast<std::size_t>(num + sizeof num - d);
      if (nd != tmpl_digits) {
        tmpl_digits = nd;
        tmpl.assign(kHead, sizeof kHead - 1);
        tmpl.append(nd, '0');
        tmpl.append(kMid, sizeof kMid - 1);
        tmpl.append(line_len - fixed - nd, 'x');
        tmpl.append(kTail, sizeof kTail - 1);
      }
      if (len + line_len > buf.size()) {
        out_write(buf.data(), len);
        len = 0;
        if (g_stdout_closed) return;
      }
      char *dst = buf.data() + len;
      std::memcpy(dst, tmpl.data(), line_len);
      std::memcpy(dst + sizeof kHead - 1, d, nd);
      len += line_len;
    }
    out_write(buf.data(), len);
    return;
  }
  // Lines longer than the buffer: stream each one through it.
  Bulk out(1, kBulkChunk);
  char num[24];
  for (std::uint64_t i = 0; i < n && !out.dead(); ++i) {
    char *d = u64_to_str(i, num + sizeof num);
    std::size_t nd = static_cast<std::size_t>(num + sizeof num - d);
    out.append(kHead, sizeof kHead - 1);
    out.append(d, nd);
    out.append(kMid, sizeof kMid - 1);
    out.fill('x', line_len - fixed - nd);
    out.append(kTail, sizeof kTail - 1);
  }
}

void do_big_line(std::uint64_t bytes)
{
  static const char kHead[] = "{\"type\":\"assistant\",\"pad\":\"";
  static const char kTail[] = "\"}\n";
  Bulk out(1, kBigLineChunk);
  out.append(kHead, sizeof kHead - 1);
  std::uint64_t pad = bytes - (sizeof kHead - 1) - 2;
  while (pad > 0 && !out.dead()) {
    std::size_t k = pad > kBigLineChunk ? kBigLineChunk : static_cast<std::size_t>(pad);
    out.fill('a', k);
    pad -= k;
  }
  out.append(kTail, sizeof kTail - 1);
}

void do_split(const Cmd &c)
{
  std::string line = substitute(c.text) + "\n";
  std::size_t chunk = c.n1 > line.size() ? line.size() : static_cast<std::size_t>(c.n1);
  for (std::size_t i = 0; i < line.size(); i += chunk) {
    if (i > 0) sleep_ms(c.n2);
    std::size_t k = line.size() - i < chunk ? line.size() - i : chunk;
    out_write(line.data() + i, k);
  }
}

void do_stderr_flood(std::uint64_t bytes)
{
  std::string unit(99, 'e');
  unit += '\n';
  Bulk err(2, kBulkChunk);
  std::uint64_t full = bytes / unit.size();
  for (std::uint64_t i = 0; i < full; ++i) err.append(unit);
  std::size_t r = static_cast<std::size_t>(bytes % unit.size());
  if (r > 0) {
    err.fill('e', r - 1);
    err.append("\n", 1);
  }
}

void do_kill(int sig)
{
  std::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  // Signals whose default action is to ignore or stop land here (after SIGCONT); carry on.
}

void do_close_stdout()
{
  // Point fd 1 at /dev/null (which closes the pipe to the reader) so that the descriptor number cannot
  // be reused by a later open(); output commands are skipped from now on.
  int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 1);
    ::close(null);
  } else {
    ::close(1);
  }
  g_stdout_closed = true;
}

// Lets a test hold the script at a point of its choosing (until its clients are ready, say)
// instead of guessing with a sleep.
void do_wait_file(const Cmd &c)
{
  g_wire.flush();
  for (int i = 0; i < 30000; ++i) {
    struct stat st;
    if (::stat(c.text.c_str(), &st) == 0) return;
    sleep_ms(1);
  }
  runtime_failure(c.line, "'" + c.text + "' did not appear within 30 s");
}

// grandchild: stays in the process group and holds stdout. daemon: leaves it (setsid, as
// `setsid sleep 1000 &` from a Bash tool would) with its stdio on /dev/null.
void do_grandchild(const Cmd &c)
{
  const std::string &pidfile = c.text;
  const bool daemon = c.op == Op::daemon;
  const char *what = daemon ? "daemon" : "grandchild";
  ::unlink(pidfile.c_str());
  pid_t pid = ::fork();
  if (pid < 0) runtime_failure(c.line, std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    if (daemon) {
      ::setsid();
      int null = ::open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3 && null >= 0; ++fd) ::dup2(null, fd);
      std::signal(SIGHUP, SIG_IGN);
    }
    std::signal(SIGTERM, SIG_IGN);
    std::string text = std::to_string(::getpid()) + "\n";
    if (!write_file_atomic(pidfile, text)) {
      err_write(std::string("fake_cli: ") + what + " cannot write '" + pidfile + "': " + std::strerror(errno) + "\n");
      _exit(1);
    }
    for (;;) ::pause();
  }
  // Wait (up to 10 s) for the pidfile to appear.
  for (int i = 0; i < 10000; ++i) {
    struct stat st;
    if (::stat(pidfile.c_str(), &st) == 0) return;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) runtime_failure(c.line, std::string(what) + " died before writing its pidfile");
    sleep_ms(1);
  }
  runtime_failure(c.line, std::string(what) + " did not write its pidfile within 10 s");
}

void do_dump_invocation(const Cmd &c)
{
  std::string j = "{\"argv\":[";
  for (int i = 0; i < g_argc; ++i) {
    if (i) j += ',';
    j += json_quote(g_argv[i] ? g_argv[i] : "");
  }
  j += "],\"cwd\":" + json_quote(current_dir()) + ",\"env\":{";
  bool first = true;
  for (char **e = environ; e && *e; ++e) {
    const char *eq = std::strchr(*e, '=');
    std::string k = eq ? std::string(*e, static_cast<std::size_t>(eq - *e)) : std::string(*e);
    std::string v = eq ? std::string(eq + 1) : std::string();
    if (!first) j += ',';
    first = false;
    j += json_quote(k) + ":" + json_quote(v);
  }
  j += "}}\n";
  if (!write_file_atomic(c.text, j)) runtime_failure(c.line, "cannot write '" + c.text + "': " + std::strerror(errno));
}

void run(const std::vector<Cmd> &cmds)
{
  for (const Cmd &c : cmds) {
    switch (c.op) {
      case Op::wait_user: wait_stdin(WaitMode::user); break;
      case Op::wait_eof: wait_stdin(WaitMode::eof); break;
      case Op::echo_stdin_lines: wait_stdin(WaitMode::echo); break;
      case Op::serve_turns: do_serve_turns(); break;
      case Op::read_line: {  // one line, unanswered (a CLI that dies before it answers)
        Incoming in;
        (void)g_wire.read(in, false);
        g_wire.flush();
        break;
      }
      case Op::send_control: do_send_control(c.text, true); break;
      case Op::send_control_nowait: do_send_control(c.text, false); break;
      case Op::control_answer: g_control_answers[c.tool] = c.text; break;
      case Op::permission_turn: do_permission_turn(c.tool, c.text); break;
      case Op::timed_text: do_timed_text(c.n1, c.n2, c.n3); break;
      case Op::emit: g_wire.flush(); out_write(substitute(c.text) + "\n"); break;
      case Op::emit_raw: out_write(c.text); break;
      case Op::replay: do_replay(c); break;
      case Op::repeat: {
        std::string path = resolve_input(c.text);
        std::string data;
        if (!read_file(path, data)) runtime_failure(c.line, "cannot read '" + path + "': " + std::strerror(errno));
        write_repeated(data, c.n1);
        break;
      }
      case Op::repeat_line: write_repeated(substitute(c.text) + "\n", c.n1); break;
      case Op::flood: do_flood(c.n1, c.n2); break;
      case Op::big_line: do_big_line(c.n1); break;
      case Op::split: do_split(c); break;
      case Op::stderr_text: err_write(c.text + "\n"); break;
      case Op::stderr_flood: do_stderr_flood(c.n1); break;
      case Op::sleep: sleep_ms(c.n1); break;
      case Op::exit: _exit(static_cast<int>(c.n1));
      case Op::kill: do_kill(static_cast<int>(c.n1)); break;
      case Op::ignore_sigterm:
        std::signal(SIGTERM, SIG_IGN);
        std::signal(SIGHUP, SIG_IGN);
        std::signal(SIGINT, SIG_IGN);
        break;
      case Op::hang:
        for (;;) ::pause();
      case Op::close_stdout: do_close_stdout(); break;
      case Op::grandchild:
      case Op::daemon: do_grandchild(c); break;
      case Op::wait_file: do_wait_file(c); break;
      case Op::dump_invocation: do_dump_invocation(c); break;
    }
  }
}

}  // namespace

int main(int argc, char **argv)
{
  g_argc = argc;
  g_argv = argv;
  // `claude -v` is how the official SDKs check the CLI's version before they start it.
  if (argc == 2 && (std::strcmp(argv[1], "-v") == 0 || std::strcmp(argv[1], "--version") == 0)) {
    out_write("2.1.330 (Claude Code)\n");
    _exit(0);
  }
  // Die of SIGPIPE when the reader goes away, even if our parent left SIGPIPE ignored.
  std::signal(SIGPIPE, SIG_DFL);

  if (const char *log = std::getenv("CCB_FAKE_STDIN_LOG")) {
    if (*log) {
      g_stdin_log_fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (g_stdin_log_fd < 0) {
        err_write(std::string("fake_cli: cannot open CCB_FAKE_STDIN_LOG '") + log + "': " + std::strerror(errno) + "\n");
        _exit(kExitBadScript);
      }
    }
  }

  if (const char *log = std::getenv("CCB_FAKE_STDOUT_FULL_LOG")) {
    if (*log) {
      g_stdout_full_log_fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (g_stdout_full_log_fd < 0) {
        err_write(std::string("fake_cli: cannot open CCB_FAKE_STDOUT_FULL_LOG '") + log + "': " + std::strerror(errno) +
                  "\n");
        _exit(kExitBadScript);
      }
      // Non-blocking, so that a full pipe shows as EAGAIN (write_all then polls) and can be reported.
      ::fcntl(1, F_SETFL, ::fcntl(1, F_GETFL) | O_NONBLOCK);
    }
  }

  std::vector<Cmd> cmds;
  const char *file = std::getenv("CCB_FAKE_SCRIPT");
  const char *text = std::getenv("CCB_FAKE_SCRIPT_TEXT");
  if (file && *file) {
    std::string data;
    if (!read_file(file, data)) {
      err_write(std::string("fake_cli: cannot read CCB_FAKE_SCRIPT '") + file + "': " + std::strerror(errno) + "\n");
      _exit(kExitBadScript);
    }
    cmds = parse_script(data, false);
  } else if (text && *text) {
    std::string t = text;
    cmds = parse_script(t, t.find('\n') == std::string::npos);
  } else {
    cmds = parse_script(kDefaultScript, false);
  }

  run(cmds);
  _exit(0);
}
