// Index maintenance on the write path, and the row operations that
// backfill and repair share with it.
//
// The consistency argument (see ARCHITECTURE.md, "Index consistency"):
//  1. With the record row locked in its shard transaction, rows the new
//     document produces that the old one did not are inserted into the
//     index databases BEFORE the record commits. A crash before COMMIT
//     leaves only dangling rows.
//  2. After COMMIT, rows the old document produced that the new one does
//     not are deleted — in a second transaction that re-locks the record
//     and re-reads it, deleting only rows its *current* document does not
//     produce. Every insert of a row happens under the record lock, so no
//     concurrent writer can need a row between that check and the delete.
// Hence an index row a committed record needs is never missing; rows may
// dangle (crash between steps), which queries filter by re-checking.
#pragma once

#include <string>
#include <vector>

#include "cluster/connection_pool.h"
#include "indexer/index_registry.h"
#include "libshard/status.h"
#include "cluster/cluster.h"

namespace libshard::indexer {

// One index row of one record.
struct RowOp {
  std::shared_ptr<const IndexDef> index;
  IndexRow row;
  std::string id;
};

// Rows of `doc` (nullptr = none) for every maintained index of the view's
// entity, as RowOps of record `id`.
Status RowsOf(const std::vector<LiveIndex>& indexes, const Document* doc, std::string_view id,
              std::vector<RowOp>* out);

// new − old and old − new, per index.
void Diff(const std::vector<RowOp>& old_rows, const std::vector<RowOp>& new_rows,
          std::vector<RowOp>* to_insert, std::vector<RowOp>* to_delete);

// Inserts rows (idempotent). Unique indexes: a row held by another id is
// checked against that record (locked on its shard; `own_conn` is the
// caller's open write transaction on shard `own_shard`, used when the
// holder lives there): a holder that no longer produces the row loses it;
// a live holder makes this fail with kUniqueViolation, after the rows this
// call inserted are removed again.
Status InsertRows(cluster::Cluster& cluster, const std::vector<RowOp>& rows, size_t own_shard,
                  backend::Connection* own_conn);

// Deletes rows unconditionally (caller guarantees they are not needed).
Status DeleteRows(cluster::Cluster& cluster, const std::vector<RowOp>& rows);

// Step 2 above, for rows of records that all live on `shard`.
Status DeleteStaleRows(cluster::Cluster& cluster, std::string_view entity, size_t shard,
                       const std::vector<RowOp>& stale);

}  // namespace libshard::indexer
