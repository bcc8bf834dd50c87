// The rebalance planner (router/rebalance_plan.h): shares by weight, the
// fewest moves, idempotence, drain, unlisted owners, determinism and the
// interleaved order.
#include "router/rebalance_plan.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "router/bucket_map.h"

namespace libshard::router {
namespace {

std::vector<uint32_t> Counts(const std::vector<uint16_t>& owner, size_t shards) {
  std::vector<uint32_t> counts(shards, 0);
  for (uint16_t o : owner) {
    if (o < shards) ++counts[o];
  }
  return counts;
}

std::vector<ShardTarget> Even(size_t n) { return std::vector<ShardTarget>(n); }

// Plans, checks the plan's invariants, and returns the map after it.
std::vector<uint16_t> PlanAndApply(const std::vector<uint16_t>& owner,
                                   const std::vector<ShardTarget>& shards,
                                   std::vector<PlannedMove>* plan_out = nullptr) {
  std::string error;
  std::vector<PlannedMove> plan = PlanRebalance(owner, shards, &error);
  REQUIRE_MESSAGE(error.empty(), error);
  const std::vector<uint32_t> before = Counts(owner, shards.size());
  const std::vector<uint32_t> target =
      TargetCounts(static_cast<uint32_t>(owner.size()), shards, before, &error);
  REQUIRE(target.size() == shards.size());

  // The fewest moves: exactly what the shards below their target lack.
  size_t lacking = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (target[i] > before[i]) lacking += target[i] - before[i];
  }
  CHECK(plan.size() == lacking);

  std::vector<uint16_t> after = owner;
  std::set<uint32_t> moved;
  for (const PlannedMove& m : plan) {
    REQUIRE(m.bucket < owner.size());
    CHECK(moved.insert(m.bucket).second);  // each bucket moves once
    CHECK(after[m.bucket] == m.from);      // from its current owner
    CHECK(m.from != m.to);
    REQUIRE(m.to < shards.size());
    // Only from shards above their target (or unlisted), only to shards
    // below theirs.
    CHECK((m.from >= shards.size() || before[m.from] > target[m.from]));
    CHECK(before[m.to] < target[m.to]);
    after[m.bucket] = m.to;
  }
  CHECK(Counts(after, shards.size()) == target);
  if (plan_out != nullptr) *plan_out = plan;
  return after;
}

bool SamePair(const PlannedMove& a, const PlannedMove& b) {
  return a.from == b.from && a.to == b.to;
}

bool SameMoves(const std::vector<PlannedMove>& a, const std::vector<PlannedMove>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].bucket != b[i].bucket || !SamePair(a[i], b[i])) return false;
  }
  return true;
}

TEST_SUITE_BEGIN("rebalance_plan");

TEST_CASE("4 to 6 shards over 1024 buckets: 170 or 171 each, fewest moves") {
  const std::vector<uint16_t> owner = BucketMap::RoundRobin(1024, 4).shard_of_bucket();
  std::vector<PlannedMove> plan;
  const std::vector<uint16_t> after = PlanAndApply(owner, Even(6), &plan);
  const std::vector<uint32_t> counts = Counts(after, 6);
  uint32_t kept = 0;
  for (uint32_t b = 0; b < 1024; ++b) kept += owner[b] == after[b] ? 1 : 0;
  for (uint32_t c : counts) CHECK((c == 170 || c == 171));
  CHECK(plan.size() == 1024 - kept);
  // The 4 extra buckets stay on the old shards (they own more): no shard
  // gives one it would have to take back.
  CHECK(counts == std::vector<uint32_t>{171, 171, 171, 171, 170, 170});
  CHECK(plan.size() == 340);
  for (const PlannedMove& m : plan) {
    CHECK(m.from < 4);
    CHECK(m.to >= 4);
  }
}

TEST_CASE("the buckets leaving a shard are spread over its range") {
  const std::vector<uint16_t> owner = BucketMap::RoundRobin(1024, 4).shard_of_bucket();
  std::vector<PlannedMove> plan;
  PlanAndApply(owner, Even(6), &plan);
  // Shard 0 owns 0, 4, …, 1020 and gives 85 of them: some in each quarter.
  int quarters[4] = {0, 0, 0, 0};
  for (const PlannedMove& m : plan) {
    if (m.from == 0) ++quarters[m.bucket / 256];
  }
  for (int q : quarters) CHECK((q >= 20 && q <= 22));
}

TEST_CASE("planning again on the result gives no moves") {
  struct Case {
    uint32_t buckets, shards_before;
    std::vector<ShardTarget> shards;
  };
  const std::vector<Case> cases = {
      {1024, 4, Even(6)},
      {1024, 6, Even(4)},
      {1000, 3, {{2, false}, {1, false}, {1, false}}},
      {7, 2, {{1, false}, {1, false}, {1, false}}},
      // Equal remainders at different weights: the tie must not flip.
      {3, 3, {{3, false}, {1, false}, {2, false}}},
      {100, 5, {{1, false}, {1, true}, {3, false}, {1, false}, {2, false}}},
      {65536, 7, {{5, false}, {7, false}, {1, true}, {1000, false}, {3, false}, {1, false},
                  {2, false}, {9, false}}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.buckets);
    CAPTURE(c.shards.size());
    std::vector<uint16_t> owner = BucketMap::RoundRobin(c.buckets, c.shards_before).shard_of_bucket();
    const std::vector<uint16_t> after = PlanAndApply(owner, c.shards);
    std::string error;
    CHECK(PlanRebalance(after, c.shards, &error).empty());
    CHECK(error.empty());
  }
  // Tie at equal remainders (3 buckets, weights 3:1:2): shard 1 owns all
  // three and keeps one, and keeps it on the next plan.
  std::vector<ShardTarget> shards = {{3, false}, {1, false}, {2, false}};
  std::string error;
  CHECK(TargetCounts(3, shards, {0, 3, 0}, &error) == std::vector<uint32_t>{1, 1, 1});
  CHECK(TargetCounts(3, shards, {1, 1, 1}, &error) == std::vector<uint32_t>{1, 1, 1});
  CHECK(TargetCounts(3, shards, {2, 0, 1}, &error) == std::vector<uint32_t>{2, 0, 1});
}

TEST_CASE("a drained shard ends with no bucket, the others even") {
  const std::vector<uint16_t> owner = BucketMap::RoundRobin(1024, 4).shard_of_bucket();
  std::vector<ShardTarget> shards = Even(4);
  shards[2].drain = true;
  shards[2].weight = 5;  // ignored when drained
  std::vector<PlannedMove> plan;
  const std::vector<uint16_t> after = PlanAndApply(owner, shards, &plan);
  const std::vector<uint32_t> counts = Counts(after, 4);
  CHECK(counts[2] == 0);
  // 1024 = 3 * 341 + 1: one shard gets 342.
  CHECK(counts == std::vector<uint32_t>{342, 341, 0, 341});
  CHECK(plan.size() == 256);
  for (const PlannedMove& m : plan) CHECK(m.from == 2);
}

TEST_CASE("weights 2:1:1 over 1000 buckets give 500, 250, 250") {
  std::string error;
  const std::vector<ShardTarget> shards = {{2, false}, {1, false}, {1, false}};
  CHECK(TargetCounts(1000, shards, {0, 0, 0}, &error) == std::vector<uint32_t>{500, 250, 250});
  CHECK(error.empty());
  const std::vector<uint16_t> owner = BucketMap::RoundRobin(1000, 3).shard_of_bucket();
  const std::vector<uint16_t> after = PlanAndApply(owner, shards);
  CHECK(Counts(after, 3) == std::vector<uint32_t>{500, 250, 250});
}

TEST_CASE("TargetCounts: largest remainder, ties to the shard owning more, then lower index") {
  std::string error;
  // 10 over 3: 3 each and one left; equal remainders.
  CHECK(TargetCounts(10, Even(3), {0, 0, 0}, &error) == std::vector<uint32_t>{4, 3, 3});
  CHECK(TargetCounts(10, Even(3), {2, 5, 3}, &error) == std::vector<uint32_t>{3, 4, 3});
  CHECK(TargetCounts(10, Even(3), {}, &error) == std::vector<uint32_t>{4, 3, 3});
  // 10 over weights 1:2 (W = 3): floors 3 and 6, remainders 1 and 2.
  CHECK(TargetCounts(10, {{1, false}, {2, false}}, {10, 0}, &error) ==
        std::vector<uint32_t>{3, 7});
  // Weight 0 counts as drained.
  CHECK(TargetCounts(5, {{0, false}, {1, false}}, {5, 0}, &error) == std::vector<uint32_t>{0, 5});
  CHECK(TargetCounts(0, Even(2), {0, 0}, &error) == std::vector<uint32_t>{0, 0});
  CHECK(error.empty());
}

TEST_CASE("owners outside the shard list give up all their buckets") {
  // Six shards before; shards 4 and 5 are no longer listed.
  const std::vector<uint16_t> owner = BucketMap::RoundRobin(1024, 6).shard_of_bucket();
  std::vector<PlannedMove> plan;
  const std::vector<uint16_t> after = PlanAndApply(owner, Even(4), &plan);
  for (uint16_t o : after) CHECK(o < 4);
  CHECK(Counts(after, 4) == std::vector<uint32_t>{256, 256, 256, 256});
  // 170 + 170 buckets of the old shards 4 and 5, nothing else.
  CHECK(plan.size() == 340);
  for (const PlannedMove& m : plan) CHECK(m.from >= 4);

  // An owner index far past the list.
  std::vector<uint16_t> stray = BucketMap::RoundRobin(8, 2).shard_of_bucket();
  stray[3] = 900;
  const std::vector<uint16_t> fixed = PlanAndApply(stray, Even(2));
  CHECK(Counts(fixed, 2) == std::vector<uint32_t>{4, 4});
  CHECK(fixed[3] == 1);
}

TEST_CASE("every shard drained, or none listed, is an error") {
  const std::vector<uint16_t> owner = BucketMap::RoundRobin(16, 2).shard_of_bucket();
  std::string error;
  CHECK(PlanRebalance(owner, {{1, true}, {3, true}}, &error).empty());
  CHECK(error.find("every shard is drained") != std::string::npos);

  error.clear();
  CHECK(TargetCounts(16, {{1, true}}, {16}, &error).empty());
  CHECK(error.find("every shard is drained") != std::string::npos);

  error.clear();
  CHECK(TargetCounts(16, {}, {}, &error).empty());
  CHECK(error == "no shards to place buckets on");

  error.clear();
  CHECK(PlanRebalance(owner, {}, &error).empty());
  CHECK_FALSE(error.empty());

  // A null error pointer is allowed.
  CHECK(PlanRebalance(owner, {{1, true}}, nullptr).empty());
}

TEST_CASE("the same inputs give the same plan") {
  std::vector<uint16_t> owner = BucketMap::RoundRobin(4096, 5).shard_of_bucket();
  for (uint32_t b = 0; b < owner.size(); b += 7) owner[b] = 1;  // uneven start
  std::vector<ShardTarget> shards = {{1, false}, {2, false}, {1, true}, {1, false},
                                     {3, false}, {1, false}, {1, false}};
  std::string error;
  const std::vector<PlannedMove> first = PlanRebalance(owner, shards, &error);
  REQUIRE(error.empty());
  REQUIRE_FALSE(first.empty());
  for (int i = 0; i < 3; ++i) CHECK(SameMoves(PlanRebalance(owner, shards, &error), first));
  PlanAndApply(owner, shards);
}

TEST_CASE("consecutive moves use different shard pairs when more than one pair is left") {
  struct Case {
    uint32_t buckets, shards_before;
    std::vector<ShardTarget> shards;
  };
  const std::vector<Case> cases = {
      {1024, 4, Even(6)},
      {1024, 4, Even(8)},
      {1024, 6, Even(4)},
      {1000, 3, {{1, false}, {1, false}, {1, false}, {3, false}, {1, false}}},
      {1024, 4, {{1, true}, {1, false}, {1, true}, {1, false}, {1, false}}},
      {300, 2, {{1, false}, {1, false}, {1, false}}},  // one source
      {300, 3, {{1, false}, {1, false}, {1, true}}},   // one source, two targets
  };
  for (const Case& c : cases) {
    CAPTURE(c.buckets);
    CAPTURE(c.shards_before);
    CAPTURE(c.shards.size());
    const std::vector<uint16_t> owner =
        BucketMap::RoundRobin(c.buckets, c.shards_before).shard_of_bucket();
    std::vector<PlannedMove> plan;
    PlanAndApply(owner, c.shards, &plan);
    REQUIRE(plan.size() > 1);
    for (size_t i = 0; i + 1 < plan.size(); ++i) {
      if (!SamePair(plan[i], plan[i + 1])) continue;
      // Allowed only once a single (source, target) pair is left.
      CAPTURE(i);
      for (size_t j = i; j < plan.size(); ++j) CHECK(SamePair(plan[j], plan[i]));
      break;
    }
  }
  // With as many sources as targets, consecutive moves share no shard.
  const std::vector<uint16_t> owner = BucketMap::RoundRobin(1024, 4).shard_of_bucket();
  std::vector<PlannedMove> plan;
  PlanAndApply(owner, Even(8), &plan);
  REQUIRE(plan.size() == 512);
  for (size_t i = 0; i + 1 < plan.size(); ++i) {
    CAPTURE(i);
    CHECK(plan[i].from != plan[i + 1].from);
    CHECK(plan[i].to != plan[i + 1].to);
  }
}

TEST_SUITE_END();

}  // namespace
}  // namespace libshard::router
