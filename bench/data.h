// Test data: deterministic record ids and ~220-byte MessagePack maps of
// 10 fields, identical for both sides of a round.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libshard/document.h"
#include "libshard/id.h"

namespace bench {

// 16 bytes (like a UUID), pseudo-random so ids spread over the shards;
// distinct for distinct (stream, i).
libshard::Id MakeId(uint64_t stream, uint64_t i);
std::vector<libshard::Id> MakeIds(uint64_t stream, size_t n);

// Record i of a data set whose `city` field has `cities` distinct values
// (i % cities) and whose `created` field is kCreatedBase + i * kCreatedStep.
libshard::Document MakeDoc(uint64_t i, size_t cities);
inline constexpr int64_t kCreatedBase = 1700000000000000;  // µs
inline constexpr int64_t kCreatedStep = 1000;
std::string CityName(uint64_t c);

// Small deterministic PRNG (splitmix64) for picking ids.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next();
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t s_;
};

}  // namespace bench
