// Running a program as a child process, for the tests that drive the
// shardctl binary the way scripts do (stdin, stdout and stderr as files).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace libshard::testing {

std::string ReadFile(const std::string& path);
// Writes `text` to `path` (replacing it); fails the test if it cannot.
void WriteFile(const std::string& path, const std::string& text);

struct SpawnOptions {
  std::string stdin_path = "/dev/null";
  std::string cwd;                         // "" = inherit
  std::map<std::string, std::string> env;  // set in the child
};

// Starts `program args…` with stdout and stderr going to the files.
// LIBSHARD_CONFIG is unset in the child unless options.env sets it, so the
// caller's environment cannot leak in.
pid_t Spawn(const std::string& program, const std::vector<std::string>& args,
            const std::string& out_path, const std::string& err_path,
            const SpawnOptions& options = {});

// The child's exit status, or 128 + signal when a signal ended it; nullopt
// when it did not end within `timeout` (it is then killed and reaped).
std::optional<int> Wait(pid_t pid, std::chrono::milliseconds timeout);

}  // namespace libshard::testing
