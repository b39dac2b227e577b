// Shared by the example servers: SIGINT/SIGTERM are taken with sigwait(), so they are blocked
// before any thread starts (threads inherit the mask) and waited for on the main thread.
#pragma once

#include <csignal>

#include <pthread.h>

class StopSignal {
public:
  StopSignal()
  {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  /// Blocks until SIGINT or SIGTERM arrives.
  void wait()
  {
    int sig = 0;
    sigwait(&set_, &sig);
  }

private:
  sigset_t set_;
};
