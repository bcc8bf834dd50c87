// The catalog database: cluster-wide metadata that every process reads at
// open. Tables (see schemas/README.md):
//   ls_meta(name, value)            schema_version, cluster_id, buckets,
//                                   hash_seed, epoch
//   ls_buckets(bucket, shard, epoch) the bucket -> shard-name map
//   ls_moves(bucket, source, target, state, error, updated)
//                                   bucket moves not finished (catalog/moves.h)
// and on every record shard:
//   ls_shard(cluster_id, shard)     the marker: this database is shard
//                                   `shard` of cluster `cluster_id`
//   ls_owner(bucket, state, peer)   which buckets the shard owns: the fence
//                                   of bucket moves (records/bucket_owner.h)
// Shards are stored by name, not position, so reordering `shards:` in the
// config never moves data.
//
// Layout versions (ls_meta.schema_version):
//   1  ls_meta, ls_buckets, ls_rec_<entity> on shards, index catalog.
//   2  adds ls_meta.cluster_id (random, written once) and the ls_shard
//      marker row on each shard. A shard that owns buckets but has no
//      marker was lost (e.g. a deleted SQLite file that SQLite silently
//      recreates empty): Init refuses it instead of creating empty tables.
//      Upgrade 1 -> 2 writes the markers into the existing shards (their
//      contents are trusted as they are) and then bumps the version.
//   3  adds ls_owner on each shard (filled from the catalog's map: every
//      bucket owned by the shard the map names) and ls_moves in the
//      catalog. Writes and reads check ls_owner, so the layout is required.
// Init writes the version last, after every shard step, so a crash half
// way leaves a catalog that the next Init simply upgrades again.
#pragma once

#include <set>
#include <string>

#include "backend/dialect.h"
#include "cluster/connection_pool.h"
#include "libshard/config.h"
#include "libshard/status.h"
#include "router/bucket_map.h"
#include <vector>

namespace soci {
class session;
}

namespace libshard::catalog {

inline constexpr int kSchemaVersion = 3;

// What Prepare found in the catalog.
struct State {
  bool initialized = false;  // the bucket map exists
  int version = 0;           // layout version found; 0 when not initialized
  std::string cluster_id;
  std::set<std::string> shards_with_buckets;  // names that own >= 1 bucket
  // Owner of each bucket by shard name: the catalog's map, or the map Init
  // is about to write (round robin) when not initialized.
  std::vector<std::string> owner_of_bucket;
};

// The bucket map as the catalog stores it: shard names.
struct NamedMap {
  std::string cluster_id;
  std::vector<std::string> owner_of_bucket;
  uint64_t epoch = 0;
};

// "shard 's1' owns 12 buckets …" when the catalog's map names shards that
// `config` does not list (removed from the YAML before being drained);
// empty when every owner is listed.
std::string UnlistedOwners(const std::vector<std::string>& owner_of_bucket,
                           const ClusterConfig& config);

// Init, step 1: creates the catalog tables, refuses a layout newer than
// kSchemaVersion (InvalidConfig naming the database and both versions) and
// makes sure the catalog has a cluster_id.
Result<State> Prepare(cluster::ConnectionPool& pool, const ClusterConfig& config);

// Init, step 2, on each record shard before its record tables are created
// (and for each shard's ownership rows, filled from `state`):
// Corruption when the shard owns buckets on a layout >= 2 catalog but has
// no marker (its database was lost and is now empty: creating tables would
// hide that); InvalidConfig when the marker names another shard (two URLs
// swapped in the config). Otherwise writes the marker. SOCI errors are
// thrown for the caller (Cluster::WithConnection) to classify.
Status PrepareShard(soci::session& sql, const backend::Dialect& dialect, const State& state,
                    const DatabaseConfig& shard);

// Init, step 3, last: on first run writes the meta rows and the initial
// round-robin bucket map; on an older layout runs the catalog's upgrade
// steps and writes the new version. Idempotent; safe when several processes
// run it at once. InvalidConfig if an existing catalog disagrees with the
// config (bucket count, hash seed) or is newer than this libshard.
Status Init(cluster::ConnectionPool& pool, const ClusterConfig& config);

// Reads the bucket map. NotFound when the catalog was never initialized;
// InvalidConfig when it disagrees with the config or its layout version is
// not kSchemaVersion (newer: upgrade libshard; older: run `shardctl init`).
// Owners are names; the caller maps them to shards it knows.
Result<NamedMap> LoadBucketMap(cluster::ConnectionPool& pool, const ClusterConfig& config);

}  // namespace libshard::catalog
