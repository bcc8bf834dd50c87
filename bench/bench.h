// shard-bench: shared types of the benchmark harness (issue 4).
//
// Method: every workload runs in rounds; each round runs side A (libshard)
// and side B (the baseline: hand-written SOCI, the same with one thread per
// shard, raw sqlite3, or for the libshard-vs-libshard workloads the
// reference configuration), alternating which goes first, on
// fresh-but-identical data on the same databases in the same process. The
// ratio A/B is computed per round; the report gives its median and min–max,
// so a noisy machine (2 shared cores) still yields comparable numbers.
// Every target is judged on the worst round (issue 9).
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/callgrind.h"

namespace bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Thrown by the harness on an unexpected error; the workload is reported
// as failed/skipped with the message instead of aborting the whole run.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Thrown when a workload cannot run (e.g. a library call not landed yet).
struct Skip : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How much work each workload does. Scale::For() picks the counts for a
// backend and mode; a YAML workload file may override any of them.
struct Scale {
  // Full SQLite run. Rounds are short (~0.1-0.5 s a side) and many, so both
  // sides of a round see the same machine load.
  int rounds = 7;
  size_t read_records = 20000;   // preloaded for get / get_many / scan
  size_t get_ops = 10000;
  size_t put_ops = 3000;
  size_t batch_size = 1000;
  size_t batches = 10;
  size_t get_many_calls = 200;
  size_t get_many_size = 100;
  size_t put_index_ops = 3000;
  size_t query_records = 20000;  // preloaded for the index queries
  size_t eq_hits = 10;           // records per equality value
  size_t eq_queries = 2000;
  size_t range_hits = 100;
  size_t range_queries = 600;
  size_t scans = 3;
  size_t build_records = 100000;
  int build_rounds = 3;          // each round: one build alone, one with a writer
  int build_chunk = 2000;        // BuildOptions::chunk default
  double build_phase_seconds = 1.0;  // writer phases before/after the build
  size_t writer_ops = 10000;
  // Rebalance under load (workloads_rebalance.cc): each round builds a fresh
  // cluster of 4 record shards (+2 declared, empty), loads the records,
  // measures a paced writer without and then during Rebalance 4 -> 6.
  size_t rebalance_records = 200000;
  int rebalance_rounds = 3;
  uint32_t rebalance_buckets = 1024;
  double rebalance_phase_seconds = 3.0;  // the no-rebalance (baseline) phase
  double rebalance_pace = 0.5;           // paced rate = this × unpaced rate
  int rebalance_parallel = 0;            // RebalanceOptions::parallel; 0 = default
  int rebalance_chunk = 0;               // RebalanceOptions::chunk; 0 = default

  static Scale For(const std::string& backend, bool quick);
  // Overrides from a YAML map {field: value}; unknown keys are errors.
  void Apply(const std::string& yaml_map_text, const std::string& where);
};

// CPU time (user + system) of the whole process so far, in seconds.
double ProcessCpuSeconds();

// One side's timed run in one round.
struct Measure {
  double ops = 0;               // units of work (records, operations)
  double seconds = 0;
  double cpu_seconds = 0;       // process CPU time over the run (all threads)
  std::vector<double> lat_us;   // per-operation latency samples
  double Throughput() const { return seconds > 0 ? ops / seconds : 0; }
};

// A target is met only when the worst round clears it: the minimum over
// rounds for a ≥ target, the maximum for a ≤ target (issue 9: a median
// hides the rounds that miss).
struct Target {
  std::string metric;   // "ratio" or a key of WorkloadResult::metrics
  double threshold = 0; // met when min over rounds of metric >= threshold
  std::string text;     // "≥ 0.90 × baseline"
  bool at_most = false;      // met when the max over rounds is <= threshold
  bool worst_round = true;   // kept for source compatibility; every target
                             // is judged on the worst round
};

// What side B of a row is — every row says which of these it compares.
namespace compares {
inline constexpr const char* kSoci = "hand-written SOCI";
inline constexpr const char* kSociParallel =
    "hand-written SOCI, same parallelism (one thread per shard)";
inline constexpr const char* kSelf = "libshard against itself";
inline constexpr const char* kRawSqlite = "raw sqlite3 C API";
}  // namespace compares

struct WorkloadResult {
  std::string id;        // "get", "put_batch", …
  std::string backend;   // "sqlite" / "postgres"
  std::string title;     // human description
  std::string unit = "ops/s";
  std::string a_label = "libshard";
  std::string b_label = "baseline";
  std::string compares;  // one of compares::k…; empty renders as "unstated"
  std::vector<double> a_tput, b_tput, ratio;  // per round
  // Process CPU (all threads, user + system) per unit of work, µs; per round.
  std::vector<double> a_cpu_us, b_cpu_us;
  std::vector<double> a_lat_us, b_lat_us;     // all rounds' samples
  std::string lat_unit = "op";                // what one latency sample is
  std::map<std::string, std::vector<double>> metrics;  // extra, per round
  std::vector<Target> targets;
  std::string skipped;  // non-empty: the workload did not run (reason)
  std::string note;
  // Further rows of the same workload, each one comparison (e.g. put_batch
  // against the sequential and the one-thread-per-shard baseline).
  std::vector<WorkloadResult> more;

  void Add(int round, const Measure& a, const Measure& b);
};

// Runs `rounds` rounds of A and B, alternating which goes first.
// `side(is_a, round)` prepares and runs one side and returns its timing.
void RunPaired(WorkloadResult* r, int rounds,
               const std::function<Measure(bool is_a, int round)>& side);

// Times `n` operations, one latency sample each.
template <typename F>
Measure TimeOps(size_t n, F&& op, double ops_per_call = 1) {
  Measure m;
  m.lat_us.reserve(n);
  CallgrindBegin();
  const double cpu0 = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  Clock::time_point prev = start;
  for (size_t i = 0; i < n; ++i) {
    op(i);
    Clock::time_point now = Clock::now();
    m.lat_us.push_back(std::chrono::duration<double, std::micro>(now - prev).count());
    prev = now;
  }
  m.seconds = Seconds(start, prev);
  m.cpu_seconds = ProcessCpuSeconds() - cpu0;
  m.ops = static_cast<double>(n) * ops_per_call;
  CallgrindEnd(m.ops);
  return m;
}

// Status/Result checks: libshard errors become BenchError.
void Fail(const std::string& what);

}  // namespace bench
