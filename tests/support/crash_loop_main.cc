// crash_loop — the crash loop of tests/cli/crash_loop_test.cc as a program,
// for operators who want to run it longer or on their own cluster (see
// scripts/crash_loop.sh, which builds the binaries and makes a cluster).
//
//   crash_loop --shardctl PATH --writer PATH --config FILE --entity E
//              --index I [--stable-index J]… [--work-dir DIR]
//              [--iterations N] [--seed S] [--index-cycles C] [--writers W]
//              [--ids N] [--max-kill-ms MS]
//
// --iterations is the number of writer processes to SIGKILL. Prints the
// seed first, progress on stderr, and the failed checks; exits 0 when every
// check held, 1 otherwise, 2 on usage errors.

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "support/crash_loop.h"

namespace {

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "crash_loop: " << why << "\n"
            << "usage: crash_loop --shardctl PATH --writer PATH --config FILE --entity E --index I\n"
               "                  [--stable-index J]... [--work-dir DIR] [--iterations N] [--seed S]\n"
               "                  [--index-cycles C] [--writers W] [--ids N] [--max-kill-ms MS]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  libshard::testing::CrashLoopOptions o;
  o.seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "-h" || k == "--help") Usage("the crash loop");
    if (i + 1 >= argc) Usage("missing value for " + k);
    const std::string v = argv[++i];
    try {
      if (k == "--shardctl") o.shardctl = v;
      else if (k == "--writer") o.writer = v;
      else if (k == "--config") o.config = v;
      else if (k == "--entity") o.entity = v;
      else if (k == "--index") o.index = v;
      else if (k == "--stable-index") o.stable_indexes.push_back(v);
      else if (k == "--work-dir") o.work_dir = v;
      else if (k == "--iterations") o.kills = std::stoi(v);
      else if (k == "--seed") o.seed = std::stoull(v);
      else if (k == "--index-cycles") o.index_cycles = std::stoi(v);
      else if (k == "--writers") o.writers = std::stoi(v);
      else if (k == "--ids") o.ids = std::stoi(v);
      else if (k == "--max-kill-ms") o.max_kill_ms = std::stoi(v);
      else Usage("unknown option " + k);
    } catch (const std::exception&) {
      Usage("bad value for " + k + ": " + v);
    }
  }
  if (o.shardctl.empty() || o.writer.empty() || o.config.empty() || o.entity.empty() ||
      o.index.empty()) {
    Usage("--shardctl, --writer, --config, --entity and --index are required");
  }
  if (o.kills < 1 || o.index_cycles < 0 || o.writers < 1 || o.ids < 1) Usage("counts must be positive");
  std::cout << "seed=" << o.seed << std::endl;
  o.progress = [](const std::string& line) { std::cerr << "crash_loop: " << line << std::endl; };
  const libshard::testing::CrashLoopReport r = libshard::testing::RunCrashLoop(o);
  for (const std::string& f : r.failed_samples) std::cout << "failed write: " << f << "\n";
  for (const std::string& p : r.problems) std::cout << "PROBLEM: " << p << "\n";
  std::cout << libshard::testing::Summary(r) << std::endl;
  return r.problems.empty() ? 0 : 1;
}
