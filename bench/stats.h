// Summary statistics of the harness: median and min–max over rounds, and
// latency percentiles over every per-operation sample.
#pragma once

#include <cstddef>
#include <vector>

namespace bench {

struct Spread {
  double median = 0, min = 0, max = 0;
  bool empty = true;
};
Spread Summarize(std::vector<double> values);

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0;
  size_t samples = 0;
};
// Nearest-rank percentiles.
Percentiles LatencyPercentiles(std::vector<double> samples);

double Median(std::vector<double> values);

}  // namespace bench
