// The catalog database: cluster-wide metadata that every process reads at
// open. Tables (see schemas/README.md):
//   ls_meta(name, value)            schema_version, buckets, hash_seed, epoch
//   ls_buckets(bucket, shard, epoch) the bucket -> shard-name map
// Shards are stored by name, not position, so reordering `shards:` in the
// config never moves data.
#pragma once

#include "backend/connection_pool.h"
#include "libshard/config.h"
#include "libshard/status.h"
#include "router/bucket_map.h"

namespace libshard::catalog {

inline constexpr int kSchemaVersion = 1;

// True once Init has written the bucket map (creates no table).
Result<bool> IsInitialized(backend::ConnectionPool& pool);

// Creates the catalog tables and, on first run, the meta rows and the
// initial round-robin bucket map. Idempotent; safe when several processes
// run it at once. InvalidConfig if an existing catalog disagrees with the
// config (bucket count, hash seed).
Status Init(backend::ConnectionPool& pool, const ClusterConfig& config);

// Reads the bucket map. NotFound when the catalog was never initialized;
// InvalidConfig when it disagrees with the config.
Result<router::BucketMap> LoadBucketMap(backend::ConnectionPool& pool,
                                        const ClusterConfig& config);

}  // namespace libshard::catalog
