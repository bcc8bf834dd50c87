#include "cluster/live_router.h"

#include <stdexcept>

namespace libshard::cluster {

void LiveRouter::Reset(uint64_t seed, const router::BucketMap& map) {
  if (!slots_) {
    seed_ = seed;
    buckets_ = map.buckets();
    slots_ = std::make_unique<std::atomic<uint16_t>[]>(buckets_);
  } else if (map.buckets() != buckets_ || seed != seed_) {
    throw std::logic_error("LiveRouter::Reset: the bucket count and seed are fixed");
  }
  for (uint32_t b = 0; b < buckets_; ++b) Set(b, map.ShardOf(b));
}

router::BucketMap LiveRouter::Snapshot() const {
  std::vector<uint16_t> shard_of(buckets_);
  for (uint32_t b = 0; b < buckets_; ++b) shard_of[b] = ShardOf(b);
  return router::BucketMap(std::move(shard_of), 0);
}

}  // namespace libshard::cluster
