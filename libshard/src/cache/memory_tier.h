// MemoryTier: one entity's in-process record cache — striped LRU maps from
// id to the committed body, its version and update time, bounded in bytes
// and by age.
//
// The race it must not lose: a reader misses, reads the shard, and fills
// after a writer of this process committed and invalidated — the fill
// would put back the replaced version. Each stripe has a generation that
// every invalidation and every eviction of the stripe bumps; a reader
// takes the generation (its Ticket) when it misses, before it reads the
// shard, and its fill is refused when the generation moved. An
// invalidation follows its COMMIT, so a fill is stored only when no
// commit of that stripe was announced between the reader's miss and its
// fill; a commit announced before the miss was visible to the read.
// Evictions and expiries bump it too: otherwise a slow reader could fill
// an old version after a newer one it raced with had been stored and then
// dropped, and this process would read backwards. Among fills that pass, a version
// never replaces a newer one.
//
// Writes made by other processes are not seen here: an entry lives at most
// its ttl (from the moment its read began), which bounds how long another
// process's write can go unseen (ARCHITECTURE.md "Record cache").
//
// Thread-safe; a lookup or fill locks one stripe.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace libshard::cache {

using SteadyTime = std::chrono::steady_clock::time_point;

struct CachedValue {
  uint64_t version = 0;
  int64_t updated_us = 0;
  std::string body;  // MessagePack, byte-exact
};

class MemoryTier {
 public:
  MemoryTier(uint64_t budget_bytes, std::chrono::milliseconds ttl);

  // Taken at a miss, handed back to Fill.
  struct Ticket {
    uint32_t stripe = 0;
    uint64_t generation = 0;
    SteadyTime read_began{};
  };

  // The entry, or null (a miss: `ticket` is set).
  std::shared_ptr<const CachedValue> Lookup(std::string_view id, SteadyTime now, Ticket* ticket);

  enum class FillOutcome { kStored, kKept, kStale, kTooLarge };
  FillOutcome Fill(std::string_view id, const Ticket& ticket,
                   std::shared_ptr<const CachedValue> value, SteadyTime now);

  // After a COMMIT that changed (or may have changed) `id`.
  void Invalidate(std::string_view id);

  uint64_t bytes() const;
  uint64_t entries() const;
  uint64_t evictions() const;

 private:
  struct Entry {
    std::string id;
    std::shared_ptr<const CachedValue> value;
    SteadyTime expires;
    uint64_t cost;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Stripe {
    mutable std::mutex mu;
    std::list<Entry> lru;  // front = most recently used
    std::unordered_map<std::string, std::list<Entry>::iterator, StringHash, std::equal_to<>> map;
    uint64_t generation = 0;
    uint64_t bytes = 0;
    uint64_t evictions = 0;
  };
  static constexpr size_t kStripes = 16;

  uint32_t StripeOf(std::string_view id) const;
  static uint64_t Cost(std::string_view id, const CachedValue& v);
  static void Erase(Stripe& s, std::list<Entry>::iterator it);

  const uint64_t stripe_budget_;
  const std::chrono::milliseconds ttl_;
  Stripe stripes_[kStripes];
};

}  // namespace libshard::cache
