#include "router/rebalance_plan.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace libshard::router {
namespace {

constexpr size_t kMaxShards = 65536;  // owner and move indexes are uint16_t

void SetError(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

// A circular list of positions 0..n-1 that can drop its current element in
// O(1): the round robin over the shards that still give or take buckets.
class Ring {
 public:
  explicit Ring(size_t n) : next_(n), prev_(n), size_(n) {
    for (size_t i = 0; i < n; ++i) {
      next_[i] = (i + 1) % n;
      prev_[i] = (i + n - 1) % n;
    }
  }
  bool empty() const { return size_ == 0; }
  size_t current() const { return current_; }
  void Advance() { current_ = next_[current_]; }
  // Drops the current element; the next one becomes current.
  void Remove() {
    const size_t next = next_[current_];
    const size_t prev = prev_[current_];
    next_[prev] = next;
    prev_[next] = prev;
    current_ = next;
    --size_;
  }

 private:
  std::vector<size_t> next_, prev_;
  size_t size_;
  size_t current_ = 0;
};

}  // namespace

std::vector<uint32_t> TargetCounts(uint32_t buckets, const std::vector<ShardTarget>& shards,
                                   const std::vector<uint32_t>& owned_now, std::string* error) {
  if (shards.empty()) {
    SetError(error, "no shards to place buckets on");
    return {};
  }
  uint64_t total_weight = 0;
  for (const ShardTarget& shard : shards) {
    if (!shard.drain) total_weight += shard.weight;
  }
  if (total_weight == 0) {
    SetError(error, "every shard is drained: no shard is left to hold the " +
                        std::to_string(buckets) + " buckets");
    return {};
  }

  std::vector<uint32_t> target(shards.size(), 0);
  struct Candidate {
    uint64_t remainder;  // of buckets * weight / total_weight
    int64_t over_floor;  // owned now minus the floor share
    size_t index;
  };
  std::vector<Candidate> candidates;
  uint64_t given = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i].drain || shards[i].weight == 0) continue;
    // buckets < 2^32 and weight < 2^32: the product fits in 64 bits.
    const uint64_t scaled = uint64_t{buckets} * shards[i].weight;
    target[i] = static_cast<uint32_t>(scaled / total_weight);
    given += target[i];
    const int64_t owned = i < owned_now.size() ? int64_t{owned_now[i]} : 0;
    candidates.push_back({scaled % total_weight, owned - int64_t{target[i]}, i});
  }
  // Fewer than candidates.size() buckets are left: one each to the largest
  // remainders, ties to the shard holding more beyond its floor (a move
  // saved, and the same winner when planning again), then the lower index.
  const size_t left = static_cast<size_t>(buckets - given);
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.remainder != b.remainder) return a.remainder > b.remainder;
    if (a.over_floor != b.over_floor) return a.over_floor > b.over_floor;
    return a.index < b.index;
  });
  for (size_t k = 0; k < left; ++k) ++target[candidates[k].index];
  return target;
}

std::vector<PlannedMove> PlanRebalance(const std::vector<uint16_t>& owner,
                                       const std::vector<ShardTarget>& shards,
                                       std::string* error) {
  if (shards.size() > kMaxShards) {
    SetError(error, std::to_string(shards.size()) + " shards; at most " +
                        std::to_string(kMaxShards) + " are supported");
    return {};
  }
  if (owner.size() > UINT32_MAX) {
    SetError(error, "too many buckets");
    return {};
  }
  const uint32_t buckets = static_cast<uint32_t>(owner.size());

  // The buckets of each owner, in bucket order; unlisted owners included.
  std::map<uint16_t, std::vector<uint32_t>> owned;
  for (uint32_t b = 0; b < buckets; ++b) owned[owner[b]].push_back(b);
  std::vector<uint32_t> owned_now(shards.size(), 0);
  for (const auto& [shard, list] : owned) {
    if (shard < shards.size()) owned_now[shard] = static_cast<uint32_t>(list.size());
  }

  std::vector<uint32_t> target = TargetCounts(buckets, shards, owned_now, error);
  if (target.empty()) return {};

  // Sources in index order (unlisted owners have the highest indexes) with
  // the buckets each gives up, spread over what it owns.
  struct Source {
    uint16_t shard;
    std::vector<uint32_t> leaving;
    size_t next = 0;
  };
  std::vector<Source> sources;
  for (const auto& [shard, list] : owned) {
    const size_t n = list.size();
    const size_t keep = shard < shards.size() ? std::min<size_t>(target[shard], n) : 0;
    const size_t k = n - keep;
    if (k == 0) continue;
    Source source{shard, {}, 0};
    source.leaving.reserve(k);
    // Positions (2j+1)*n/(2k): centred in k equal slices of the list,
    // strictly increasing because the slices are at least one bucket wide.
    for (size_t j = 0; j < k; ++j) source.leaving.push_back(list[(2 * j + 1) * n / (2 * k)]);
    sources.push_back(std::move(source));
  }

  // Targets in index order with what each lacks.
  struct Target {
    uint16_t shard;
    uint32_t lacking;
  };
  std::vector<Target> targets;
  size_t moves = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (target[i] > owned_now[i]) {
      targets.push_back({static_cast<uint16_t>(i), target[i] - owned_now[i]});
      moves += target[i] - owned_now[i];
    }
  }

  // Round robin over both lists. The totals match (what the listed shards
  // lack is what the others hold beyond their targets), so both rings run
  // out together.
  std::vector<PlannedMove> plan;
  plan.reserve(moves);
  Ring from(sources.size());
  Ring to(targets.size());
  while (!from.empty() && !to.empty()) {
    Source& source = sources[from.current()];
    Target& dest = targets[to.current()];
    plan.push_back({source.leaving[source.next++], source.shard, dest.shard});
    if (source.next == source.leaving.size()) {
      from.Remove();
    } else {
      from.Advance();
    }
    if (--dest.lacking == 0) {
      to.Remove();
    } else {
      to.Advance();
    }
  }
  return plan;
}

}  // namespace libshard::router
