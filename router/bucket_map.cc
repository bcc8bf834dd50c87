#include "router/bucket_map.h"

namespace libshard::router {

BucketMap BucketMap::RoundRobin(uint32_t buckets, uint32_t shards) {
  std::vector<uint16_t> map(buckets);
  for (uint32_t b = 0; b < buckets; ++b) map[b] = static_cast<uint16_t>(b % shards);
  return BucketMap(std::move(map), 1);
}

std::string BucketMap::Check(uint32_t shard_count) const {
  for (uint32_t b = 0; b < shard_of_bucket_.size(); ++b) {
    if (shard_of_bucket_[b] >= shard_count) {
      return "bucket " + std::to_string(b) + " maps to shard #" +
             std::to_string(shard_of_bucket_[b]) + " but only " +
             std::to_string(shard_count) + " shards are configured";
    }
  }
  return "";
}

}  // namespace libshard::router
