// The query engine behind Store::Query.
//
// A query names one index and ANDs conditions on its columns. The engine
//  1. checks the query against the index definition this process sees in
//     the catalog (the index must be `ready`; columns must exist; values are
//     converted with IndexDef::Normalize, so `lower` columns compare
//     lower-cased);
//  2. picks the index databases to read: a sharded index (several
//     databases, rows placed by the first column's value) is read on the
//     databases that `=`/`IN` values of the first column map to, otherwise
//     on all of them;
//  3. reads each database in order of the order key (order_by column, the
//     other index columns in index order, then the record id; all ASC or all
//     DESC) in batches, with a keyset condition after the cursor, every
//     value bound as a parameter; the per-database streams are merged in
//     C++ by the same key (ints and floats numerically, strings and bytes
//     bytewise, as the index tables store them);
//  4. re-checks every candidate: the record is fetched (GetMany, shards in
//     parallel) and kept only if it exists, its current document still
//     produces exactly that index row, and the row satisfies every
//     condition. Dangling rows are skipped; the engine reads further
//     batches until `limit` records are collected or the index is
//     exhausted.
//
// The cursor (QueryPage::next) is the last index row consumed (values and
// id) plus the index name and the order it was made for, as unpadded
// base64url of a MessagePack array. It is opaque to callers, but not
// secret: a forged cursor can only move the start of the page.
#pragma once

#include <string_view>

#include "cluster/cluster.h"
#include "indexer/index_registry.h"
#include "libshard/store.h"

namespace libshard::indexer {

// Most records one query page may return (Query::limit is 1..kMaxQueryLimit).
inline constexpr int kMaxQueryLimit = 10000;

Result<QueryPage> RunQuery(cluster::Cluster& cluster, IndexRegistry& registry, std::string_view entity, const Query& q);

}  // namespace libshard::indexer
