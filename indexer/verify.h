// Verify and repair of one index (Store::VerifyIndex / RepairIndex).
//
// Verify compares two sets of index hits, each hit = EncodeHit(row, id):
//   expected — every row RowsOf gives for every record (all record shards,
//              scanned in parallel, keyset chunks of Options::scan_chunk);
//   actual   — every row of the index table on each of its databases.
// missing = |expected \ actual|, dangling = |actual \ expected|. A row
// stored on the wrong database of a sharded index (not the one
// IndexDef::DatabaseFor picks) is dangling, and if the right database
// lacks it, it is also missing: queries never read it there.
//
// Memory: the expected set is held in memory (a hash set of encoded hits,
// roughly 100 bytes per row plus the encoded values), and one index
// database's rows at a time on top of it. Size the machine for that, or
// verify during a quiet period on a replica.
//
// Exactness: the counts are exact when writers are quiet. With writers
// running, records and index rows are read at different moments; to keep
// that from reporting rows a concurrent write just added or removed, every
// candidate (when there are at most kMaxRecheck) is checked again one by
// one: a missing candidate counts only if the record, read again, still
// produces the row and the row is then still absent (record first, then
// row: a committed record's row is inserted before its commit); a dangling
// candidate counts only if the row is still present and the record, read
// after it, does not produce it.
//
// Repair fixes what verify finds:
//  - missing rows: the records are locked on their shard (one write
//    transaction per 500 ids) and the rows their *current* documents
//    produce, among the missing ones, are inserted with InsertRows inside
//    that transaction — so repair never inserts a row for a document that a
//    writer has replaced meanwhile;
//  - dangling rows: DeleteStaleRows per record shard, which re-locks each
//    record and deletes only rows its current document does not produce;
//  - rows on the wrong database of a sharded index: deleted there directly
//    (no record can need a row on a database queries never read).
// It returns the counts it fixed.
#pragma once

#include <string_view>

#include "libshard/index.h"
#include "libshard/status.h"
#include "cluster/cluster.h"

namespace libshard::indexer {

// Above this many candidates the one-by-one recheck is skipped (the counts
// are then the raw set differences, exact only when writers are quiet).
inline constexpr size_t kMaxRecheck = 100000;

Result<VerifyReport> VerifyIndex(cluster::Cluster& cluster, std::string_view entity,
                                 std::string_view index);
Result<VerifyReport> RepairIndex(cluster::Cluster& cluster, std::string_view entity,
                                 std::string_view index);

}  // namespace libshard::indexer
