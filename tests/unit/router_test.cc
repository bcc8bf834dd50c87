// Routing must never change silently: a different hash or bucket function
// would send existing IDs to shards that do not hold them. These values are
// pinned; if a test here fails, data placement changed.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "libshard/id.h"
#include "router/router.h"

using libshard::router::BucketMap;
using libshard::router::BucketOf;
using libshard::router::HashId;
using libshard::router::Router;

TEST_CASE("XXH3-64 of ID bytes is pinned") {
  struct Case {
    std::string id;
    uint64_t seed0, seed7;
    uint32_t bucket1024, bucket4096;
  };
  const Case cases[] = {
      {"a", 0xe6c632b61e964e1fULL, 0x9ed5888bc5a2a094ULL, 543, 3615},
      {"ada", 0x691d4463952c802fULL, 0x3da409aeab991b85ULL, 47, 47},
      {"user:1", 0x3b577afd7fed9501ULL, 0x4871460d0200f525ULL, 257, 1281},
      {"hello world", 0xd447b1ea40e6988bULL, 0x8e07c4fa14f02f30ULL, 139, 2187},
      {std::string("\xff\x00\x01", 3), 0x5798cfa26addd6edULL, 0x93513cfdd72cd04cULL, 749, 1773},
      {libshard::ids::FromU64(42), 0x2e4fe982b68910acULL, 0x1561f5e543968b5bULL, 172, 172},
  };
  for (const Case& c : cases) {
    CAPTURE(libshard::ids::ToHex(c.id));
    CHECK(HashId(c.id, 0) == c.seed0);
    CHECK(HashId(c.id, 7) == c.seed7);
    CHECK(BucketOf(c.id, 0, 1024) == c.bucket1024);
    CHECK(BucketOf(c.id, 0, 4096) == c.bucket4096);
  }
}

TEST_CASE("round-robin bucket map spreads buckets evenly") {
  BucketMap map = BucketMap::RoundRobin(1024, 4);
  CHECK(map.buckets() == 1024);
  CHECK(map.epoch() == 1);
  std::map<uint16_t, int> per_shard;
  for (uint32_t b = 0; b < map.buckets(); ++b) per_shard[map.ShardOf(b)]++;
  CHECK(per_shard.size() == 4);
  for (auto [shard, n] : per_shard) CHECK(n == 256);
  CHECK(map.Check(4).empty());
  CHECK_FALSE(map.Check(3).empty());  // bucket 3 -> shard #3 does not exist
}

TEST_CASE("router sends an id to the shard its bucket maps to") {
  Router router(0, BucketMap::RoundRobin(1024, 4));
  auto r = router.RouteId("ada");
  CHECK(r.bucket == 47);
  CHECK(r.shard == 47 % 4);
  std::vector<std::string> ids = {"a", "ada", "user:1", "hello world"};
  auto groups = router.GroupByShard(ids, 4);
  size_t total = 0;
  for (size_t s = 0; s < groups.size(); ++s) {
    for (size_t i : groups[s]) CHECK(router.RouteId(ids[i]).shard == s);
    total += groups[s].size();
  }
  CHECK(total == ids.size());
}

TEST_CASE("10,000 ids spread over 4 shards within 10% of even") {
  Router router(0, BucketMap::RoundRobin(1024, 4));
  std::map<uint16_t, int> per_shard;
  for (uint64_t i = 0; i < 10000; ++i) per_shard[router.RouteId(libshard::ids::FromU64(i)).shard]++;
  for (auto [shard, n] : per_shard) {
    CAPTURE(shard);
    CHECK(n > 2250);
    CHECK(n < 2750);
  }
}
