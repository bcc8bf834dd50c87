// Moving one bucket between record shards while writers run.
//
// The state machine (the catalog's ls_moves row, move_log.h, names the
// step; the shards' ownership rows, records/bucket_owner.h, are the truth
// a resumed move reads):
//
//   source owns, target not ──► target "incoming"  (copying)
//        copy passes: make the target's rows of the bucket equal the
//        source's (compare id, version, updated, size; copy and delete the
//        difference), repeated while writers keep changing it
//   switch: one source transaction holding the source's ownership row
//        exclusively (writers of the bucket wait; writers of other buckets
//        do not, except on SQLite whose write lock is per file): a last
//        pass copies what is left, then the row flips to "moved to
//        target" and commits                                 (switched)
//   target "incoming" ──► target owns                         
//   catalog map names the target, epoch + 1                   (cleanup)
//   source's leftover rows deleted; the move row deleted.
//
// Any step may be interrupted (a crash, a shard down); Move on the same
// bucket resumes from what the ownership rows say. Every write of a move is
// fenced too: rows reach the target only while it is "incoming", and the
// source is cleaned only while it does not own the bucket, so two movers
// working on one bucket cannot undo each other.
#pragma once

#include <cstdint>
#include <string>

#include "cluster/cluster.h"
#include "libshard/rebalance.h"
#include "libshard/status.h"

namespace libshard::resharding {

class Mover {
 public:
  Mover(cluster::Cluster& cluster, MoveOptions options);

  // Moves `bucket` to shard `target`, or finishes the move of `bucket`
  // already recorded (which must be to `target`). OK at once when the
  // bucket is already there and no move is recorded.
  Status Move(uint32_t bucket, const std::string& target);

  // Records written to targets by this Mover so far.
  uint64_t copied() const { return copied_; }

 private:
  struct Pair {
    uint32_t bucket;
    size_t source, target;  // shard indexes
    std::string source_name, target_name;
  };
  Status Run(const Pair& p);
  Status MarkIncoming(const Pair& p);
  // One pass; *changes = rows that differed. `locked_source`: the open
  // source transaction of the switch, or null (read the source freely).
  Status Reconcile(const Pair& p, backend::Connection* locked_source, uint64_t* changes);
  Status ReconcileEntity(const Pair& p, const std::string& entity,
                         backend::Connection* locked_source, uint64_t* changes);
  // The switch; *switched false when another mover switched it first.
  Status Switch(const Pair& p);
  Status CommitTarget(const Pair& p);
  Status Cleanup(const Pair& p);
  Status Entities(const Pair& p);
  Status Catalog(std::string_view what, cluster::Cluster::Retry retry,
                 const std::function<void(soci::session&)>& fn);
  void Report(const Pair& p, const char* step, const std::string& error = "");

  cluster::Cluster& cluster_;
  MoveOptions options_;
  std::vector<std::string> entities_;
  uint64_t copied_ = 0;
  uint64_t bucket_copied_ = 0;
};

}  // namespace libshard::resharding
