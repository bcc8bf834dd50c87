#include "cluster/db_metrics.h"

#include <algorithm>

namespace libshard::cluster {

void DbMetrics::RecordOperation(uint64_t micros, int retries, Code code) {
  // Few buckets: a linear scan is as fast as a binary search.
  size_t i = 0;
  while (i < kBoundsUs.size() && micros > kBoundsUs[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(micros, std::memory_order_relaxed);
  if (retries > 0) retries_.fetch_add(static_cast<uint64_t>(retries), std::memory_order_relaxed);
  if (code != Code::kOk) {
    size_t c = static_cast<size_t>(code);
    if (c >= errors_.size()) c = static_cast<size_t>(Code::kInternal);
    errors_[c].fetch_add(1, std::memory_order_relaxed);
  }
}

void DbMetrics::Fill(DatabaseMetrics* out) const {
  out->latency_bounds_us.assign(kBoundsUs.begin(), kBoundsUs.end());
  out->latency_buckets.clear();
  uint64_t cumulative = 0;
  for (const auto& b : buckets_) {
    cumulative += b.load(std::memory_order_relaxed);
    out->latency_buckets.push_back(cumulative);
  }
  // The operation count is the histogram's count, so the two always agree.
  out->operations = cumulative;
  out->latency_sum_us = sum_us_.load(std::memory_order_relaxed);
  out->retries = retries_.load(std::memory_order_relaxed);
  out->pool_waits = waits_.load(std::memory_order_relaxed);
  out->errors_by_code.clear();
  for (size_t c = 1; c < errors_.size(); ++c) {
    uint64_t n = errors_[c].load(std::memory_order_relaxed);
    if (n == 0) continue;
    // Prometheus label values are free text, but snake_case names
    // ("version_conflict") are what dashboards and alerts expect.
    std::string name = CodeName(static_cast<Code>(c));
    std::replace(name.begin(), name.end(), ' ', '_');
    out->errors_by_code[name] += n;
  }
}

void IndexRowCounters::Add(std::string_view entity, std::string_view index, uint64_t n) {
  if (n == 0) return;
  const std::pair<std::string_view, std::string_view> key(entity, index);
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = counters_.find(key);
    if (it != counters_.end()) {
      it->second.fetch_add(n, std::memory_order_relaxed);
      return;
    }
  }
  // First rows of this index in this process (once per index).
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = counters_.find(key);
  if (it == counters_.end()) {
    it = counters_.try_emplace(std::pair<std::string, std::string>(entity, index), 0).first;
  }
  it->second.fetch_add(n, std::memory_order_relaxed);
}

std::vector<std::pair<std::pair<std::string, std::string>, uint64_t>> IndexRowCounters::Snapshot()
    const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<std::pair<std::pair<std::string, std::string>, uint64_t>> out;
  out.reserve(counters_.size());
  for (const auto& [key, n] : counters_) out.emplace_back(key, n.load(std::memory_order_relaxed));
  return out;
}

}  // namespace libshard::cluster
