// `ccbridge permission-hook`: the CLI's PermissionRequest hook for a terminal whose owner runs a
// permission relay (lib/core/permission_relay.hpp). Reads the hook's JSON on stdin, sends
// {"secret":...,"request":<stdin>} as one line to the relay's socket, waits (no timeout of its own:
// the CLI ends it with SIGTERM when the prompt is answered on the screen) for one reply line, and
// prints it. On any failure it prints nothing and exits 0, so that the CLI keeps its on-screen
// prompt. Plain POSIX and no library calls, so that it starts fast.
#include "permission_hook.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

// The same names and limit as lib/core/permission_relay.hpp (the app sees only public headers).
constexpr char kSocketEnv[] = "CCBRIDGE_PERMISSION_SOCKET";
constexpr char kSecretEnv[] = "CCBRIDGE_PERMISSION_SECRET";
constexpr std::size_t kMaxInput = 1024 * 1024 - 256;  // the relay reads 1 MiB lines, envelope included
constexpr std::size_t kMaxReply = 64 * 1024;
constexpr char kReplyStart[] = R"({"hookSpecificOutput":)";

bool read_all(int fd, std::string &out, std::size_t max)
{
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    if (out.size() + static_cast<std::size_t>(n) > max) return false;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

bool write_all(int fd, std::string_view data)
{
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// One line from the relay (without its newline); false if it closes first, sends too much, or the
// CLI goes away: the hook runs in a session of its own, so a CLI killed with its process group
// would leave it waiting forever; its stdout pipe then reports an error (POLLERR).
bool read_line(int fd, std::string &line)
{
  char c;
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {1, 0, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) return false;
    if (!p[0].revents) continue;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || line.size() >= kMaxReply) return false;
    if (c == '\n') return true;
    line.push_back(c);
  }
}

int connect_to(const char *path)
{
  sockaddr_un addr{};
  if (std::strlen(path) >= sizeof addr.sun_path) return -1;
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The request line. Raw CR/LF can only be blanks between JSON tokens (inside strings they are
// escaped), so they become spaces and the line stays one line; the relay checks the JSON.
std::string request_line(const char *secret, std::string input)
{
  for (char &c : input)
    if (c == '\n' || c == '\r') c = ' ';
  return std::string(R"({"secret":")") + secret + R"(","request":)" + input + "}\n";
}

// Asks the relay; true with its reply when it answered.
bool ask(std::string &reply)
{
  const char *path = std::getenv(kSocketEnv);
  const char *secret = std::getenv(kSecretEnv);
  if (!path || !*path || !secret || !*secret || std::strspn(secret, "0123456789abcdef") != std::strlen(secret))
    return false;
  std::string input;
  if (!read_all(0, input, kMaxInput) || input.find_first_not_of(" \t\r\n") == std::string::npos) return false;
  int fd = connect_to(path);
  if (fd < 0) return false;
  bool ok = write_all(fd, request_line(secret, std::move(input))) && read_line(fd, reply);
  ::close(fd);
  return ok && reply.compare(0, sizeof kReplyStart - 1, kReplyStart) == 0 && reply.back() == '}';
}

}  // namespace

int run_permission_hook()
{
  std::signal(SIGPIPE, SIG_IGN);  // a relay or a CLI that went away is a failure, not a signal
  std::string reply;
  if (ask(reply)) write_all(1, reply + "\n");
  return 0;
}
