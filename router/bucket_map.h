// BucketMap: which record shard owns each virtual bucket.
//
// The number of buckets is fixed when a cluster is initialized; the map
// from bucket to shard lives in the catalog with an epoch, so that a bucket
// (the unit of migration) can later move to another shard by rewriting one
// row and bumping the epoch. Adding a shard moves ~1/(N+1) of the buckets
// instead of the ~80% that `hash % N` would.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace libshard::router {

class BucketMap {
 public:
  BucketMap() = default;
  BucketMap(std::vector<uint16_t> shard_of_bucket, uint64_t epoch)
      : shard_of_bucket_(std::move(shard_of_bucket)), epoch_(epoch) {}

  // Initial placement: bucket b -> shard b % shards. Spreads consecutive
  // buckets over every shard, so any range of buckets is balanced.
  static BucketMap RoundRobin(uint32_t buckets, uint32_t shards);

  uint16_t ShardOf(uint32_t bucket) const { return shard_of_bucket_[bucket]; }
  uint32_t buckets() const { return static_cast<uint32_t>(shard_of_bucket_.size()); }
  uint64_t epoch() const { return epoch_; }
  const std::vector<uint16_t>& shard_of_bucket() const { return shard_of_bucket_; }

  // Empty when every bucket points at a shard index < shard_count;
  // otherwise a description. A shard may own no bucket (newly added, not
  // yet given buckets by a rebalance).
  std::string Check(uint32_t shard_count) const;

 private:
  std::vector<uint16_t> shard_of_bucket_;
  uint64_t epoch_ = 0;
};

}  // namespace libshard::router
