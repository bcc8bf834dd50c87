// The online index lifecycle: build (register write_only → wait for the
// lease → backfill every shard from its checkpoint → ready), drop, and the
// status report. Store::BuildIndex, DropIndex and IndexStatuses
// (libshard/src/store_index.cc) are thin wrappers over these.
//
// Backfill, and why it is safe while other processes write:
//  - The index is registered write_only first, then BuildIndex sleeps
//    the lease wait (LeaseTimings::state_change_wait). By the lease (index_registry.h), every commit made
//    after that sleep by any process maintains the index itself; every
//    earlier commit is visible to the backfill, which starts after it.
//  - Each chunk is ONE write transaction on the record shard: the next
//    `chunk` records after the checkpoint are read with their rows locked
//    (ScanStatement lock=true; SQLite's BEGIN IMMEDIATE locks the shard),
//    their rows are computed and inserted into the index databases (the
//    shard connection is passed to InsertRows as own_conn, so a unique
//    holder on the same shard is checked inside this transaction), and only
//    then does the transaction commit. A writer that wants one of these
//    records waits for the commit and then sees the rows the backfill
//    inserted as the "old" rows of the record, so its post-commit cleanup
//    removes those it no longer needs: the backfill never leaves a row for a
//    document that no longer exists (no dangling rows from the build), and
//    never inserts a row after a writer's cleanup decided it was stale.
//  - The checkpoint (last id, records scanned, done) is written to the
//    catalog only after the chunk committed, so a crash between the two
//    repeats the chunk (inserts are idempotent) and never skips one.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "indexer/index_def.h"
#include "libshard/index.h"
#include "libshard/status.h"
#include "cluster/cluster.h"
#include "indexer/index_registry.h"

namespace libshard::indexer {

// Every index in the catalog (entity, name, state) with its backfill
// progress: shards_total = record shards of this config, shards_done =
// checkpoints marked done (all shards for a ready index), records_scanned
// = the sum over the checkpoints. Ordered by entity, then index.
Result<std::vector<IndexStatus>> IndexStatuses(cluster::Cluster& cluster);

// See the header comment. kInvalidArgument for an index neither the catalog
// nor this config knows, or one being dropped; kUniqueViolation (index left
// write_only, message naming both records) when existing records share a
// value of a unique index. An exception thrown by options.progress
// propagates out of BuildIndex; it is called after the chunk's checkpoint
// was saved, so calling BuildIndex again resumes after that chunk.
Status BuildIndex(cluster::Cluster& cluster, IndexRegistry* registry, std::string_view entity, std::string_view index,
                  const BuildOptions& options);

// dropping → wait the lease wait (LeaseTimings::state_change_wait) → drop the tables → remove the catalog
// rows. An index already in `dropping` (a drop that was interrupted) is
// finished. kInvalidArgument when the catalog does not know the index.
Status DropIndex(cluster::Cluster& cluster, IndexRegistry* registry, std::string_view entity, std::string_view index);

// --- shared with verify.cc ----------------------------------------------

struct CatalogEntry {
  bool registered = false;
  std::shared_ptr<const IndexDef> def;  // map function attached for C++ indexes
  IndexState state = IndexState::kWriteOnly;
};

// The catalog's definition and state of one index (registered = false when
// absent). The map function of a C++ index comes from this store's config.
Result<CatalogEntry> LoadCatalogEntry(cluster::Cluster& cluster, std::string_view entity,
                                      std::string_view index);

// Locks the records `ids` (all on record shard `shard`) in one write
// transaction on that shard and inserts the rows of `def` their current
// documents produce (absent records are skipped) — only those whose
// EncodeHit is in `*only`, when given. `*produced`, when not null,
// receives EncodeHit of every row passed to InsertRows.
Status IndexRecordsLocked(cluster::Cluster& cluster, const std::shared_ptr<const IndexDef>& def,
                          size_t shard, const std::vector<std::string>& ids,
                          const std::unordered_set<std::string>* only,
                          std::vector<std::string>* produced);

}  // namespace libshard::indexer
