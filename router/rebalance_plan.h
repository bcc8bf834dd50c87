// The rebalance planner: which buckets move where so that each record shard
// owns its share of the buckets. Pure computation, like the rest of
// router/: the caller reads the bucket map and the shard list, executes the
// moves (copy, catch-up, switch, cleanup) and writes the catalog.
//
// The rule. A shard's share is proportional to its weight (a drained shard,
// or one of weight 0, gets none): shard i gets floor(buckets * w_i / W),
// W the sum of the weights of the shards that take buckets, and the
// buckets left over (fewer than the number of such shards) go one each to
// the shards with the largest remainder buckets * w_i mod W (the largest
// remainder method). With equal weights every share is floor(buckets / n)
// or one more, so shares differ by at most one bucket.
//
// Ties in the remainder go to the shard that currently owns more buckets
// beyond its floor share (with equal weights: that owns more), then to the
// lower index. Giving the extra bucket to a shard that already holds it
// saves a move; and it makes planning idempotent: once a plan has run, the
// shards holding an extra bucket are exactly those that win the tie again,
// so planning on the result gives no moves.
//
// The moves. A bucket moves only from a shard above its target to a shard
// below its target, and each shard below gets exactly what it lacks, so the
// number of moves is the sum over shards of max(0, target - owned): the
// fewest possible, since one move raises one shard's count by one. Buckets
// of a shard no longer listed (an owner index >= shards.size()) all move.
//
// Which buckets leave a shard: spread evenly over the buckets it owns (of n
// owned, k leaving: the ones at positions (2j+1)*n/(2k), j < k, in bucket
// order), not the highest ones, so what remains still covers the bucket
// range.
//
// The order: round robin over the source shards and, independently, over
// the target shards (each in index order, a shard leaving the rotation when
// done). Consecutive moves then have different sources whenever two or more
// sources still have buckets to give, and different targets whenever two or
// more targets still lack buckets, so an executor running a few moves at
// once spreads them over different shard pairs. Two consecutive moves share
// both source and target only when a single (source, target) pair is left.
//
// Everything is deterministic: the same inputs give the same plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace libshard::router {

// A listed shard as the planner sees it.
struct ShardTarget {
  uint32_t weight = 1;  // share relative to the others (0 = none, as drain)
  bool drain = false;   // to be emptied: target 0 buckets
};

// How many buckets each shard should own (parallel to `shards`), by the
// rule above; the sum is `buckets`. `owned_now[i]` is what shard i owns
// today (it only breaks ties; missing entries count as 0). Returns an empty
// vector and sets `*error` (when not null) when `shards` is empty or no
// shard can take buckets (all drained or of weight 0).
std::vector<uint32_t> TargetCounts(uint32_t buckets, const std::vector<ShardTarget>& shards,
                                   const std::vector<uint32_t>& owned_now, std::string* error);

struct PlannedMove {
  uint32_t bucket = 0;
  uint16_t from = 0;  // owner index now (may be >= shards.size(): unlisted)
  uint16_t to = 0;    // index into `shards`
};

// The moves that take the map `owner` (owner[b] = index of the shard owning
// bucket b) to TargetCounts(owner.size(), shards, <counts of owner>), in
// the order described above. Empty when the map is already there. On error
// (see TargetCounts; also more than 65536 shards) returns an empty vector
// and sets `*error` (when not null); `*error` is left alone on success.
std::vector<PlannedMove> PlanRebalance(const std::vector<uint16_t>& owner,
                                       const std::vector<ShardTarget>& shards,
                                       std::string* error);

}  // namespace libshard::router
