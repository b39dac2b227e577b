// Shared by the fake-CLI tests: the child processes of this test process, whether a process is
// alive, and a guard that checks at the end of a test case that none is left.
#pragma once

#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

namespace ccb_test {

/// Children of this process, over all its threads.
inline std::set<int> my_children()
{
  std::set<int> out;
  std::string dir = "/proc/" + std::to_string(getpid()) + "/task";
  DIR *d = opendir(dir.c_str());
  if (!d) return out;
  while (auto *e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/children");
    int pid;
    while (in >> pid) out.insert(pid);
  }
  closedir(d);
  return out;
}

/// Whether `pid` is a live process (a zombie is not).
inline bool alive(int pid)
{
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0) return false;
  // A zombie still answers kill(0); look at its state.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  auto p = s.rfind(')');
  return p != std::string::npos && p + 2 < s.size() && s[p + 2] != 'Z';
}

struct NoLeftovers {
  ~NoLeftovers() { CHECK_MESSAGE(my_children().empty(), "a child process was left behind"); }
};

}  // namespace ccb_test
