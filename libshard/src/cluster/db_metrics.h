// DbMetrics: the counters of one database (owned by its ConnectionPool,
// fed by Cluster::WithConnection and ConnectionPool::Acquire).
// IndexRowCounters: index rows inserted by this process, per index (owned
// by the Cluster, fed by the indexer's maintainer).
//
// Both are on the path of every operation, so they are atomics only: no
// lock and no allocation per operation. Readers (Store::Metrics) copy the
// values one by one; a snapshot taken while operations run may be off by
// the operations in flight, never torn within one counter.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libshard/metrics.h"
#include "libshard/status.h"

namespace libshard::cluster {

class DbMetrics {
 public:
  // Latency bucket upper bounds, µs: 100 µs (an in-process SQLite read)
  // to 10 s (Options::connect_timeout_seconds and lock waits).
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      100,    250,    500,     1000,    2500,    5000,    10000,   25000,
      50000,  100000, 250000,  500000,  1000000, 2500000, 5000000, 10000000};

  // One finished operation: its wall time, extra attempts and final code.
  void RecordOperation(uint64_t micros, int retries, Code code);
  // An Acquire that found the pool full and waited.
  void RecordWait() { waits_.fetch_add(1, std::memory_order_relaxed); }

  // Fills the counter fields of `out` (not the database name or pool gauges).
  void Fill(DatabaseMetrics* out) const;

 private:
  // Per bucket, not cumulative (one increment per operation); the last
  // one is above every bound (+Inf).
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> waits_{0};
  // By Code value; codes past the array (none today) count as kInternal.
  std::array<std::atomic<uint64_t>, 16> errors_{};
};

class IndexRowCounters {
 public:
  // Adds `n` rows to entity.index. After the first call for an index this
  // is a lookup under a shared lock plus one atomic add; a new index is
  // inserted once, under the exclusive lock.
  void Add(std::string_view entity, std::string_view index, uint64_t n);
  // (entity, index) → rows, for every index seen since the start.
  std::vector<std::pair<std::pair<std::string, std::string>, uint64_t>> Snapshot() const;

 private:
  struct Less {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::pair<std::string_view, std::string_view>(a.first, a.second) <
             std::pair<std::string_view, std::string_view>(b.first, b.second);
    }
  };
  // Entries are never removed, and a std::map's nodes do not move, so a
  // counter found under the shared lock is safe to add to. (Not a
  // copy-on-write std::atomic<std::shared_ptr<Map>>: GCC 12's lock-bit
  // implementation of it is reported as a data race by ThreadSanitizer,
  // google/sanitizers#1558, and an uncontended shared lock costs the same
  // one atomic operation as its load.)
  mutable std::shared_mutex mu_;
  std::map<std::pair<std::string, std::string>, std::atomic<uint64_t>, Less> counters_;
};

}  // namespace libshard::cluster
