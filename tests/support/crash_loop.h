// The crash loop: writer processes (tests/support/ack_writer.cc) killed with
// SIGKILL at seeded random moments, many times, while `shardctl index drop`
// and `shardctl index build` of one index run concurrently and are killed at
// random points too (each killed run is then re-run to completion). At the
// end every acknowledged write in the writers' logs is checked against
// `shardctl export` (present, with at least the logged version; when the
// version is the logged one, the body is that write's), and every index is
// checked with `shardctl index verify` (0 missing; dangling rows, which a
// kill between a commit and its cleanup may leave, are then repaired and
// verified again).
//
// Used by tests/cli/crash_loop_test.cc and by the operator tool
// scripts/crash_loop.sh (through tests/support/crash_loop_main.cc). No test
// framework inside: failed checks are returned as `problems`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace libshard::testing {

struct CrashLoopOptions {
  std::string shardctl;  // path of the shardctl binary
  std::string writer;    // path of the ack_writer binary
  std::string config;    // cluster YAML, already initialized (`shardctl init`)
  std::string entity;    // entity the writers write
  std::string index;     // index of `entity` dropped and rebuilt during the loop
  // Other indexes of `entity` that stay ready throughout (maintained by the
  // killed writers); verified at the end with `index`.
  std::vector<std::string> stable_indexes;
  std::string work_dir = ".";  // logs and command outputs go here (must exist)
  uint64_t seed = 1;
  int kills = 100;        // writer processes to SIGKILL (at least)
  int index_cycles = 2;   // each: drop (killed), drop, build (killed), build
  int writers = 2;        // writer processes running at once
  int min_kill_ms = 3;    // a writer is killed this long…
  int max_kill_ms = 300;  // …to this long after its measured start-up
  int ids = 2000;         // record ids k0…k{ids-1}
  int batch = 32;         // largest PutMany batch
  int build_chunk = 20;   // `index build --chunk` (small: more checkpoints)
  // Progress lines (seed, phases, counts); may be empty.
  std::function<void(const std::string&)> progress;
};

struct CrashLoopReport {
  uint64_t seed = 0;
  int writer_startup_ms = 0;    // measured: open the store, write once, exit
  int writers_started = 0;
  int writers_killed = 0;
  int killed_after_acks = 0;    // killed writers that had acknowledged writes
  int writers_exited = 0;       // ended on their own before their kill
  // Writes a writer saw fail ("ack_writer: failed …" on its stderr). Not a
  // broken guarantee (nothing was acknowledged), so not a problem; the test
  // expects none (writes never fail because of an index build or a kill).
  long long failed_writes = 0;
  std::vector<std::string> failed_samples;  // the first few of those lines
  int index_runs = 0;           // shardctl index build/drop started
  int index_kills = 0;          // of those, killed
  // Drop phases with nothing to do: the to-be-killed drop before them
  // finished dropping before its kill landed.
  int index_skipped = 0;
  long long acked_writes = 0;   // complete log lines
  long long cut_lines = 0;      // partial last lines (a kill during write(2))
  size_t acked_ids = 0;         // distinct ids among them
  size_t exported = 0;          // records in the final export
  // index -> {missing, dangling} from the first verify after the loop
  std::map<std::string, std::pair<long long, long long>> verify;
  double seconds = 0;
  // Failed checks, each one line; empty when everything held.
  std::vector<std::string> problems;
};

CrashLoopReport RunCrashLoop(const CrashLoopOptions& options);

// One line summing up a report (for logs and the operator tool).
std::string Summary(const CrashLoopReport& report);

}  // namespace libshard::testing
