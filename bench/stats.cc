#include "bench/stats.h"

#include <algorithm>
#include <cmath>

namespace bench {
namespace {

// Nearest rank: the smallest sample with at least q of the samples <= it.
double Rank(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

}  // namespace

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Spread Summarize(std::vector<double> values) {
  Spread s;
  if (values.empty()) return s;
  s.empty = false;
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  s.median = Median(std::move(values));
  return s;
}

Percentiles LatencyPercentiles(std::vector<double> samples) {
  Percentiles p;
  p.samples = samples.size();
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  p.p50 = Rank(samples, 0.50);
  p.p99 = Rank(samples, 0.99);
  p.p999 = Rank(samples, 0.999);
  return p;
}

}  // namespace bench
