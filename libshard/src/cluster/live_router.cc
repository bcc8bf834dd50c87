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

}  // namespace libshard::cluster
