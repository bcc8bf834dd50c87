#include "cluster/route_retry.h"

#include <algorithm>
#include <thread>

#include "cluster/cluster.h"

namespace libshard::cluster {

RouteRetry::RouteRetry(Cluster& cluster, std::string what)
    : cluster_(cluster), what_(std::move(what)), start_(cluster.env->SteadyNow()) {}

RouteRetry::RouteRetry(Cluster& cluster, std::string_view entity, std::string_view id)
    : cluster_(cluster), entity_(entity), id_(id), start_(cluster.env->SteadyNow()) {}

Status RouteRetry::Refused(uint32_t bucket, size_t shard, const BucketOwner& owner) {
  ++hops_;
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      cluster_.env->SteadyNow() - start_);
  const std::string where = "shard '" + cluster_.ShardName(shard) + "'";
  if (waited.count() >= cluster_.options.move_wait_ms || hops_ > 10000) {
    std::string state = owner.state == BucketOwner::kIncoming
                            ? "is receiving it from '" + owner.peer + "'"
                        : owner.state == BucketOwner::kSwitching ? "is handing it over"
                        : owner.peer.empty()                     ? "does not own it"
                                             : "moved it to '" + owner.peer + "'";
    if (what_.empty()) what_ = DescribeRecord(entity_, id_);
    return Status::Unavailable(what_ + ": bucket " + std::to_string(bucket) +
                               " is being moved between shards (" + where + " " + state +
                               "); gave up after " + std::to_string(waited.count()) +
                               " ms (Options::move_wait_ms); nothing was written, retry "
                               "(run `shardctl rebalance status` if it persists)");
  }
  bool wait = false;
  if (owner.state == BucketOwner::kNotOwned && !owner.peer.empty()) {
    // The shard says where the bucket went: go there directly (the
    // catalog may not have been updated yet).
    Result<size_t> next = cluster_.ShardIndex(owner.peer);
    if (!next.ok()) return next.status();
    if (*next == shard) {
      wait = true;  // it names itself: an inconsistent moment, wait it out
    } else {
      cluster_.router.Set(bucket, static_cast<uint16_t>(*next));
    }
  } else if (owner.state == BucketOwner::kIncoming || owner.state == BucketOwner::kSwitching) {
    wait = true;  // the switch is in progress: the new owner says so shortly
  } else {
    // Never owned here, or no row: this process's map is older than the
    // catalog's. Read the catalog's map.
    if (cluster_.reload_map) {
      if (Status s = cluster_.reload_map(); !s.ok()) return s;
    }
    wait = cluster_.router.ShardOf(bucket) == shard;
  }
  if (wait) {
    // 1, 2, 4, 8, 16 ms, then 20 ms: a switch holds the bucket for a few
    // milliseconds; a move interrupted mid-switch until it is resumed.
    int ms = std::min(20, 1 << std::min(waits_, 4));
    ++waits_;
    cluster_.env->SleepFor(std::chrono::milliseconds(ms));
  }
  return Status::OK();
}

}  // namespace libshard::cluster
