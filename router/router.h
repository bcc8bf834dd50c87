// Router: ID -> bucket -> shard. Pure computation; never opens a
// connection (the catalog layer loads the BucketMap and hands it over).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "router/bucket_map.h"
#include "router/hash.h"

namespace libshard::router {

struct Route {
  uint32_t bucket = 0;
  uint16_t shard = 0;  // index into ClusterConfig::shards
};

class Router {
 public:
  Router() = default;
  Router(uint64_t seed, BucketMap map) : seed_(seed), map_(std::move(map)) {}

  Route RouteId(std::string_view id) const {
    uint32_t bucket = BucketOf(id, seed_, map_.buckets());
    return Route{bucket, map_.ShardOf(bucket)};
  }

  // Positions of `ids` grouped by shard: result[s] lists, in request
  // order, the indexes i with RouteId(ids[i]).shard == s.
  template <typename IdList>
  std::vector<std::vector<size_t>> GroupByShard(const IdList& ids,
                                                size_t shard_count) const {
    std::vector<std::vector<size_t>> groups(shard_count);
    for (size_t i = 0; i < ids.size(); ++i) {
      groups[RouteId(ids[i]).shard].push_back(i);
    }
    return groups;
  }

  const BucketMap& map() const { return map_; }
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_ = 0;
  BucketMap map_;
};

}  // namespace libshard::router
