// RecordCache: one entity's cache tiers stacked — memory (this process) in
// front of shared (a Redis server) in front of the shard — with the
// read-through and invalidation steps the store's read and write paths
// call, and the entity's counters.
//
//   read:   Lookup(ids) → hits, and a MissPlan for the rest
//           read the misses from the shards (committed rows only)
//           Fill(plan, rows) → each tier stores what it may (memory:
//           tickets; shared: leases — see memory_tier.h, shared_tier.h)
//   write:  COMMIT, then Invalidate(ids), before the write is acknowledged;
//           puts: BeginInvalidate(ids, new versions) just before COMMIT,
//           then Invalidate(ids, early) (or Abandon(early) on a rollback),
//           so the shared tier's round trip overlaps the COMMIT's
//
// Entries are keyed by entity and id, never by shard: a bucket move copies
// records unchanged (same version, same body), so an entry stays right
// wherever its record lives.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/memory_tier.h"
#include "cache/shared_tier.h"
#include "libshard/config.h"
#include "libshard/metrics.h"

namespace libshard::cache {

// What the cache takes from its surroundings (the cluster's Env).
struct CacheHooks {
  std::function<SteadyTime()> now;
  // Test seam: called by a reader after its shard read, before its fill.
  std::function<void(std::string_view entity)> before_fill;
};

struct TierCounters {
  std::atomic<uint64_t> hits{0}, misses{0}, fills{0}, stale_fills{0}, invalidations{0},
      errors{0}, bypassed{0};
};

// The misses of one Lookup, for its Fill.
struct MissPlan {
  std::vector<size_t> positions;                // into the looked-up ids
  std::vector<MemoryTier::Ticket> tickets;      // per miss (memory tier)
  std::vector<std::string> keys;                // per miss (shared key; "" = no shared tier)
  std::vector<std::string> leases;              // per miss (shared; "" = may not fill)
};

class RecordCache {
 public:
  // `shared` may be null (memory only); it outlives this. `reading` false:
  // Options::cache is off — no lookups or fills, but writes still
  // invalidate the shared tier.
  RecordCache(std::string entity, const EntityCacheConfig& config, std::string key_prefix,
              SharedTier* shared, bool reading, CacheHooks hooks);

  bool reading() const { return reading_; }

  // found[i] is the cached value of ids[i], or null; `plan` lists the rest.
  void Lookup(const std::vector<std::string_view>& ids,
              std::vector<std::shared_ptr<const CachedValue>>* found, MissPlan* plan);
  // rows[k]: what the shard read found for plan.positions[k] (null: no record).
  void Fill(const std::vector<std::string_view>& ids, const MissPlan& plan,
            const std::vector<std::shared_ptr<const CachedValue>>& rows);
  // Just before the COMMIT of puts of `ids`, which then have `versions`:
  // sends the shared tier's early invalidation (SharedTier::BeginInvalidate).
  // Null without a shared tier.
  SharedTier::InFlightPtr BeginInvalidate(const std::vector<std::string_view>& ids,
                                          const std::vector<uint64_t>& versions);
  // After a COMMIT (or an outcome unknown) of writes to `ids`: the memory
  // tier, then the shared tier — confirming `early` when BeginInvalidate
  // was called for these writes, else deleting the keys now (`floors`:
  // kDrop for deleted records only; see SharedTier::Invalidate).
  void Invalidate(const std::vector<std::string_view>& ids, SharedTier::InFlightPtr early = {},
                  SharedTier::Floors floors = SharedTier::Floors::kKeep);
  // After a rollback of writes whose invalidation was begun.
  void Abandon(SharedTier::InFlightPtr early);

  void AppendMetrics(std::vector<CacheMetrics>* out) const;

 private:
  std::string SharedKey(std::string_view id) const;
  void CountShared(Outcome o);
  void FillMemory(std::string_view id, const MemoryTier::Ticket& ticket,
                  const std::shared_ptr<const CachedValue>& value, SteadyTime now);
  // The version floors (see floors_).
  void RaiseFloor(std::string_view id, uint64_t version, SteadyTime now);
  bool BelowFloor(std::string_view id, uint64_t version, SteadyTime now);

  const std::string entity_;
  const std::string key_prefix_;  // "ls:<cluster id>:<entity>:"
  const std::chrono::milliseconds ttl_;
  std::unique_ptr<MemoryTier> memory_;
  SharedTier* shared_;
  const bool reading_;
  CacheHooks hooks_;
  TierCounters memory_counters_, shared_counters_;

  // Versions this process read from a shard without storing them in the
  // shared tier (it had no lease, or the server failed). Another reader's
  // lease from before a write can still fill the version that write
  // replaced, until the writer's DEL lands; without these floors this
  // process could then read backwards. A shared hit below a floor is not
  // served (the shard is read instead). A floor lasts `ttl`: such a fill
  // expires ttl after its lease, which predates this read. Bounded: past
  // kMaxFloors live ones, every shared hit is distrusted for `ttl`.
  struct Floor {
    uint64_t version;
    SteadyTime expires;
  };
  static constexpr size_t kMaxFloors = 10000;
  std::mutex floor_mu_;
  // Looked up by string_view (a shared hit checks its id on every read):
  // no key string is built for a lookup.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  std::unordered_map<std::string, Floor, IdHash, std::equal_to<>> floors_;
  SteadyTime distrust_until_{};
};

}  // namespace libshard::cache
