// Output of a run: a markdown table (stdout and results.md), a JSON file,
// and a chart (SVG through gnuplot when installed, else drawn by hand).
#pragma once

#include <string>
#include <vector>

#include "bench/bench.h"

namespace bench {

struct RunInfo {
  std::string command;    // the exact command line
  std::string date;       // UTC, ISO 8601
  int nproc = 0;
  std::string host;
  std::string cpu;
  bool quick = false;
  double elapsed_s = 0;
  std::string load_start, load_end;  // /proc/loadavg (1, 5, 15 min) around the run
  std::vector<std::string> notes;  // e.g. "postgres: not run: …"
};

// Evaluates each target on its worst round: met when the minimum over
// rounds clears a ≥ target, the maximum a ≤ target.
struct TargetOutcome {
  const WorkloadResult* result;
  const Target* target;
  double value = 0, min = 0, max = 0;  // value: the median over rounds
  size_t rounds = 0;
  bool evaluated = false;  // false when the workload was skipped
  bool met = false;
};
std::vector<TargetOutcome> EvaluateTargets(const std::vector<WorkloadResult>& results);

std::string Markdown(const std::vector<WorkloadResult>& results, const RunInfo& info);
void WriteJson(const std::string& path, const std::vector<WorkloadResult>& results,
               const RunInfo& info);
// Returns a description of how the chart was made ("gnuplot" or "built-in SVG").
std::string WriteChart(const std::string& path, const std::vector<WorkloadResult>& results);

}  // namespace bench
