// Store::Impl: the state behind a Store, shared by the files that implement
// its operations (store.cc: open/init/locate; store_write.cc: put/delete;
// store_read.cc: get/get_many/scan/stats; store_index.cc, store_query.cc).
//
// It is the cluster (cluster/cluster.h: pools, router, workers, Env, the
// connection and fan-out helpers) plus what only the store has: the index
// registry. The indexer is handed the cluster and the registry, never the
// store.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "cluster/cluster.h"
#include "indexer/index_registry.h"
#include "libshard/store.h"

namespace libshard {

class Store::Impl : public cluster::Cluster {
 public:
  Impl(ClusterConfig config, Options options, std::shared_ptr<cluster::Env> env);

  // Store::Init / Store::Open in a chosen Env (tests pass a FaultEnv).
  static Status Init(const ClusterConfig& config, const Options& options,
                     std::shared_ptr<cluster::Env> env);
  static Result<std::unique_ptr<Store>> Open(const ClusterConfig& config, const Options& options,
                                             std::shared_ptr<cluster::Env> env);

  // Index definitions and states from the catalog (set by Open).
  std::unique_ptr<indexer::IndexRegistry> indexes;

  // Points the router at the catalog's map (shards named there that this
  // process does not know are learned: Cluster::ShardIndex).
  Status ApplyMap(const catalog::NamedMap& map);
  // Reads the map from the catalog and applies it (Cluster::reload_map).
  Status ReloadMap();
  // Builds the record caches (Cluster::caches); needs cluster_id.
  Status OpenCaches();

  // Put of an already-encoded, already-checked body.
  Result<uint64_t> PutEncoded(std::string_view entity, std::string_view id,
                              const Document& doc, std::string_view body,
                              const WriteOptions& options);
};

}  // namespace libshard
