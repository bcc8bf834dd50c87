// Hashing of record IDs. XXH3-64 over the exact ID bytes with the cluster's
// seed: stable across processes, platforms and releases (never std::hash,
// whose value is implementation-defined). Changing anything here moves
// data; tests/unit/router_test.cc pins known values.
#pragma once

#include <cstdint>
#include <string_view>

namespace libshard::router {

uint64_t HashId(std::string_view id, uint64_t seed);

// Virtual bucket of an ID: HashId % buckets.
inline uint32_t BucketOf(std::string_view id, uint64_t seed, uint32_t buckets) {
  return static_cast<uint32_t>(HashId(id, seed) % buckets);
}

}  // namespace libshard::router
