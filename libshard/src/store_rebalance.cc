// Store: resharding — plan, rebalance, move one bucket, move states and
// bucket shares. The work is resharding::Mover's; this file plans (with
// router/rebalance_plan.h over the catalog's map) and runs moves a few at
// a time.
#include <soci/soci.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>

#include "resharding/move_log.h"
#include "resharding/mover.h"
#include "router/rebalance_plan.h"
#include "store_impl.h"

namespace libshard {
namespace {

struct Shares {
  std::vector<std::string> names;         // the config's shards, in order
  std::vector<uint16_t> owner;            // per bucket: index into names
                                          // (names.size()+k: unlisted shard k)
  std::vector<std::string> unlisted;      // owners the config does not list
  std::vector<router::ShardTarget> targets;
};

Result<Shares> ReadShares(Store::Impl& impl, const std::vector<std::string>& drain) {
  for (const std::string& d : drain) {
    if (std::find(impl.config.shards.begin(), impl.config.shards.end(), d) ==
        impl.config.shards.end()) {
      return Status::InvalidArgument("cannot drain '" + d + "': it is not in `shards:`");
    }
  }
  Result<catalog::NamedMap> map = catalog::LoadBucketMap(impl.Pool(impl.config.catalog),
                                                         impl.config);
  if (!map.ok()) return map.status();
  Shares s;
  s.names = impl.config.shards;
  for (size_t i = 0; i < s.names.size(); ++i) {
    bool drained = std::find(drain.begin(), drain.end(), s.names[i]) != drain.end();
    s.targets.push_back({impl.config.ShardWeight(i), drained});
  }
  for (const std::string& name : map->owner_of_bucket) {
    auto it = std::find(s.names.begin(), s.names.end(), name);
    if (it != s.names.end()) {
      s.owner.push_back(static_cast<uint16_t>(it - s.names.begin()));
      continue;
    }
    auto u = std::find(s.unlisted.begin(), s.unlisted.end(), name);
    if (u == s.unlisted.end()) u = s.unlisted.insert(s.unlisted.end(), name);
    s.owner.push_back(static_cast<uint16_t>(s.names.size() + (u - s.unlisted.begin())));
  }
  return s;
}

std::string NameOf(const Shares& s, uint16_t index) {
  return index < s.names.size() ? s.names[index] : s.unlisted[index - s.names.size()];
}

}  // namespace

Result<std::vector<BucketMove>> Store::PlanRebalance(const RebalanceOptions& options) {
  Result<Shares> shares = ReadShares(*impl_, options.drain);
  if (!shares.ok()) return shares.status();
  std::string error;
  std::vector<router::PlannedMove> plan =
      router::PlanRebalance(shares->owner, shares->targets, &error);
  if (!error.empty()) return Status::InvalidArgument("cannot plan a rebalance: " + error);
  std::vector<BucketMove> out;
  for (const router::PlannedMove& m : plan) {
    out.push_back({m.bucket, NameOf(*shares, m.from), NameOf(*shares, m.to)});
  }
  return out;
}

Status Store::MoveBucket(uint32_t bucket, std::string_view to, const MoveOptions& options) {
  if (std::find(impl_->config.shards.begin(), impl_->config.shards.end(), to) ==
      impl_->config.shards.end()) {
    return Status::InvalidArgument("cannot move bucket " + std::to_string(bucket) + " to '" +
                                   std::string(to) + "': it is not in `shards:`");
  }
  resharding::Mover mover(*impl_, options);
  return mover.Move(bucket, std::string(to));
}

Result<std::vector<MoveState>> Store::MoveStates() {
  std::vector<MoveState> out;
  Status s = impl_->WithConnection(impl_->Pool(impl_->config.catalog), "read bucket moves",
                                   Impl::Retry::kReadOnly, [&](backend::Connection& c) {
                                     out = resharding::ReadMoves(c.sql());
                                     return Status::OK();
                                   });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<ShardShare>> Store::BucketShares() {
  Result<Shares> shares = ReadShares(*impl_, {});
  if (!shares.ok()) return shares.status();
  std::vector<uint32_t> owned(shares->names.size() + shares->unlisted.size(), 0);
  for (uint16_t o : shares->owner) ++owned[o];
  std::string error;
  std::vector<uint32_t> target = router::TargetCounts(
      impl_->config.buckets, shares->targets,
      std::vector<uint32_t>(owned.begin(), owned.begin() + shares->names.size()), &error);
  std::vector<ShardShare> out;
  for (size_t i = 0; i < owned.size(); ++i) {
    ShardShare s;
    s.shard = NameOf(*shares, static_cast<uint16_t>(i));
    s.buckets = owned[i];
    s.weight = i < shares->names.size() ? impl_->config.ShardWeight(i) : 0;
    s.target = i < target.size() ? target[i] : 0;
    out.push_back(std::move(s));
  }
  return out;
}

Result<RebalanceReport> Store::Rebalance(const RebalanceOptions& options) {
  RebalanceReport report;
  std::mutex mu;  // guards the queue, the report and the progress calls
  size_t finished = 0;
  // Runs `moves` on `parallel` threads; adds them to the report.
  auto run = [&](const std::vector<BucketMove>& moves) {
    report.plan.insert(report.plan.end(), moves.begin(), moves.end());
    std::deque<BucketMove> queue(moves.begin(), moves.end());
    const size_t total = report.plan.size();
    auto worker = [&] {
      for (;;) {
        BucketMove m;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (queue.empty()) return;
          m = queue.front();
          queue.pop_front();
        }
        MoveOptions mo;
        mo.chunk = options.chunk;
        if (options.progress) {
          mo.progress = [&](const MoveProgress& p) {
            std::lock_guard<std::mutex> lock(mu);
            MoveProgress q = p;
            q.moves_done = finished;
            q.moves_total = total;
            options.progress(q);
          };
        }
        resharding::Mover mover(*impl_, mo);
        Status s = mover.Move(m.bucket, m.to);
        std::lock_guard<std::mutex> lock(mu);
        ++finished;
        report.records_copied += mover.copied();
        if (s.ok()) {
          ++report.moved;
        } else {
          MoveState f;
          f.bucket = m.bucket;
          f.from = m.from;
          f.to = m.to;
          f.state = "failed";
          f.error = s.ToString();
          f.code = s.code();
          f.updated_us = impl_->NowMicros();
          report.failed.push_back(std::move(f));
        }
      }
    };
    const int parallel = std::max(1, std::min<int>(options.parallel, 16));
    std::vector<std::thread> threads;
    for (int i = 1; i < parallel && static_cast<size_t>(i) < moves.size(); ++i) {
      threads.emplace_back(worker);
    }
    worker();
    for (std::thread& t : threads) t.join();
  };

  // First the moves recorded earlier (interrupted, or failed): they hold
  // their buckets, and the plan must start from a settled map.
  Result<std::vector<MoveState>> pending = MoveStates();
  if (!pending.ok()) return pending.status();
  std::vector<BucketMove> resumed;
  for (const MoveState& m : *pending) resumed.push_back({m.bucket, m.from, m.to});
  run(resumed);
  Result<std::vector<BucketMove>> plan = PlanRebalance(options);
  if (!plan.ok()) return plan.status();
  // A bucket whose recorded move failed again is not planned anew (its
  // move row holds it; the next rebalance resumes it).
  std::vector<BucketMove> fresh;
  for (const BucketMove& m : *plan) {
    bool held = std::any_of(report.failed.begin(), report.failed.end(),
                            [&](const MoveState& f) { return f.bucket == m.bucket; });
    if (!held) fresh.push_back(m);
  }
  if (!fresh.empty()) {
    // Checked once here (each move checks again, after recording itself):
    // with an index being built every new move would be refused alike.
    std::vector<std::string> building;
    Status s = impl_->WithConnection(impl_->Pool(impl_->config.catalog), "check index builds",
                                     Impl::Retry::kReadOnly, [&](backend::Connection& c) {
                                       building = resharding::IndexesBeingBuilt(c.sql());
                                       return Status::OK();
                                     });
    if (!s.ok()) return s;
    if (!building.empty()) {
      return Status::Unavailable("index " + building.front() +
                                 " is being built (write_only); buckets cannot move until it "
                                 "is ready: finish `shardctl index build`, then rebalance");
    }
  }
  run(fresh);
  std::sort(report.failed.begin(), report.failed.end(),
            [](const MoveState& a, const MoveState& b) { return a.bucket < b.bucket; });
  return report;
}

}  // namespace libshard
