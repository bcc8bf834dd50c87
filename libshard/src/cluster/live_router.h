// LiveRouter: this process's bucket map, changed in place while other
// threads route with it.
//
// router::Router is a value (pure, pinned by tests); the cluster needs a map
// that a redirect can correct one bucket at a time (a shard refused a write
// because the bucket moved: cluster/route_retry.h) and that a catalog
// reload can replace, without a lock on the hot path. Each bucket's owner
// is one atomic; the bucket count and seed never change after Reset.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "router/router.h"

namespace libshard::cluster {

class LiveRouter {
 public:
  // First call sizes the map; later calls must keep the bucket count.
  void Reset(uint64_t seed, const router::BucketMap& map);
  // Points one bucket at `shard` (a process-local shard index).
  void Set(uint32_t bucket, uint16_t shard) {
    slots_[bucket].store(shard, std::memory_order_relaxed);
  }

  router::Route RouteId(std::string_view id) const {
    uint32_t bucket = router::BucketOf(id, seed_, buckets_);
    return router::Route{bucket, ShardOf(bucket)};
  }
  uint16_t ShardOf(uint32_t bucket) const {
    return slots_[bucket].load(std::memory_order_relaxed);
  }
  uint32_t BucketOf(std::string_view id) const { return router::BucketOf(id, seed_, buckets_); }

  // Positions of `ids` grouped by shard (see router::Router::GroupByShard).
  template <typename IdList>
  std::vector<std::vector<size_t>> GroupByShard(const IdList& ids, size_t shard_count) const {
    std::vector<std::vector<size_t>> groups(shard_count);
    for (size_t i = 0; i < ids.size(); ++i) groups[RouteId(ids[i]).shard].push_back(i);
    return groups;
  }

  uint32_t buckets() const { return buckets_; }
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_ = 0;
  uint32_t buckets_ = 0;
  std::unique_ptr<std::atomic<uint16_t>[]> slots_;
};

}  // namespace libshard::cluster
