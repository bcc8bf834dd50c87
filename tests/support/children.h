// Child processes for the crash loops (support/crash_loop.h,
// support/move_crash_loop.h): start one with its output in files, poll it,
// kill it, and make sure none outlives the loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace libshard::testing {

using ChildClock = std::chrono::steady_clock;

int MsSince(ChildClock::time_point t);
// A whole file ("" when it cannot be read).
std::string Slurp(const std::string& path);

// A child with stdin from /dev/null and stdout/stderr to files.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err);
// Exit status (or 128 + signal) when the child has ended, nullopt otherwise.
std::optional<int> Poll(pid_t pid);
// SIGKILL, then reap; returns 128 + 9 (or the exit status if it had ended).
int KillAndReap(pid_t pid);

// Every process a run started and has not reaped yet: killed on the way
// out, whatever happens.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children();
  void Add(pid_t pid) { live_.push_back(pid); }
  void Remove(pid_t pid);

 private:
  std::vector<pid_t> live_;
};

}  // namespace libshard::testing
