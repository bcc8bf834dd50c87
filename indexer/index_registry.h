// IndexRegistry: this process's view of the cluster's indexes, read from
// the catalog and refreshed in the background.
//
// The lease (the invariant online builds rely on): a writer commits a
// record only while its view is younger than the lease (Env::lease(), 3 s by
// default; tests shorten it through their Env), measured from the
// moment the catalog read *began*. BuildIndex registers an index as
// write_only and then waits longer than the lease before it backfills, so
// every commit made by a process that had not yet seen the index happened
// before the backfill started, and the backfill reads it; every later
// commit maintains the index itself. A write that outlasts its view
// commits only after Reconfirm() (a view read within the lease with the
// same maintained indexes). DropIndex waits the same way before it
// removes tables. The price: writes fail with kUnavailable when the catalog
// has been unreachable for longer than the lease.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/connection_pool.h"
#include "cluster/env.h"
#include "indexer/index_catalog.h"
#include "libshard/config.h"

namespace libshard::indexer {

struct LiveIndex {
  std::shared_ptr<const IndexDef> def;
  IndexState state = IndexState::kWriteOnly;
  bool maintained() const { return state != IndexState::kDropping; }
};

struct IndexView {
  std::map<std::string, std::vector<LiveIndex>, std::less<>> by_entity;
  cluster::SteadyTime read_at{};  // when the catalog read began (Env's clock)
  cluster::SteadyTime expires{};  // read_at + the lease
  const cluster::Env* env = nullptr;
  // Indexes of an entity (all states); empty when none.
  const std::vector<LiveIndex>& For(std::string_view entity) const;
  const LiveIndex* Find(std::string_view entity, std::string_view name) const;
  // May a write still commit with this view? (the lease)
  bool Fresh() const { return env != nullptr && env->SteadyNow() < expires; }
};

class IndexRegistry {
 public:
  IndexRegistry(cluster::ConnectionPool& catalog, const ClusterConfig& config,
                std::shared_ptr<cluster::Env> env);
  ~IndexRegistry();

  // Reads the catalog now. The view keeps its previous content on error.
  Status Refresh();
  // Refreshes every Env::lease().refresh until destroyed.
  void StartBackgroundRefresh();
  // A view fresh enough to write with (refreshing synchronously when the
  // background refresh has fallen behind); kUnavailable if the catalog
  // cannot be read and the view has expired.
  Result<std::shared_ptr<const IndexView>> Current();
  // For a write whose own view expired while it ran (a long transaction):
  // OK when a view read within the lease maintains exactly the same indexes
  // of `entity` as `used` did — then the write knew every index a builder
  // could be backfilling, which is all the lease promises (see the header
  // comment). kUnavailable when the catalog cannot be read in time or the
  // entity's maintained indexes changed; the write must roll back.
  Status Reconfirm(std::string_view entity, const IndexView& used);

 private:
  cluster::ConnectionPool& catalog_;
  std::shared_ptr<cluster::Env> env_;
  cluster::LeaseTimings timings_;
  const ClusterConfig& config_;  // owned by the Store, outlives the registry
  // C++ map functions of this process, by "entity.index".
  std::map<std::string, IndexMapFunction> code_maps_;

  std::mutex mu_;
  std::shared_ptr<const IndexView> view_;
  std::mutex refresh_mu_;  // one catalog read at a time
  // Definitions parsed by the last refresh, by entity, name and JSON text
  // (guarded by refresh_mu_): a catalog of hundreds of indexes is re-read
  // every refresh interval in every process, and parsing each definition
  // again cost ~65k instructions (41 M per refresh with 634 of them).
  std::map<std::string, std::shared_ptr<const IndexDef>> parsed_;

  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread refresher_;
};

}  // namespace libshard::indexer
