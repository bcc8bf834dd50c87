// Secondary indexes: queries and the online index lifecycle.
//
// An index lives in its own table on one or more index databases (several
// = sharded by the first column's value). Its state is kept in the catalog:
//
//   write_only ──(backfill, Store::BuildIndex)──► ready ──(DropIndex)──► gone
//
// In write_only every writer maintains the index but queries refuse it;
// BuildIndex backfills existing records shard by shard with a resumable
// checkpoint and then marks it ready. Query hits are always re-checked
// against the record, so a result always matches the query even when the
// index holds dangling rows (left by crashes, updates or deletes).
//
// Thread-safety: all Store methods may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "libshard/document.h"

namespace libshard {

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn };

// `column op value`; kIn takes several values (column = v1 | v2 | …).
// Values are converted to the column's type (e.g. "42" for an int column
// is an error, 42 is fine; strings of a `lower` column are lower-cased).
struct Condition {
  std::string column;
  Op op = Op::kEq;
  std::vector<Document> values;
};

struct Query {
  std::string index;
  std::vector<Condition> where;  // ANDed
  // Column to order by; empty = the index's column order. Ties are broken
  // by the remaining index columns and then the record id, all in the same
  // direction, so the order is total and cursors are exact.
  std::string order_by;
  bool descending = false;
  int limit = 100;     // 1..10000
  std::string after;   // QueryPage::next of the previous page, or empty
};

enum class IndexState { kWriteOnly, kReady, kDropping };
const char* IndexStateName(IndexState s);

struct IndexStatus {
  std::string entity;
  std::string index;
  IndexState state = IndexState::kWriteOnly;
  uint64_t shards_done = 0;     // backfill checkpoints complete
  uint64_t shards_total = 0;
  uint64_t records_scanned = 0; // by the backfill so far
};

struct BuildOptions {
  // Records per backfill transaction. Larger chunks backfill faster
  // (fewer commits, and on SQLite fewer WAL checkpoints) but hold the
  // shard's write lock longer.
  int chunk = 2000;
  // Share of the wall time the backfill may spend inside its transactions,
  // in (0, 1]: after a chunk that held the locks for t, it pauses
  // t × (1 − duty) / duty, so foreground writers of the same databases get
  // the rest. 1 = no pause (fastest build, e.g. in a maintenance window).
  double duty = 0.4;
  // Called after each chunk with the status so far (for progress bars).
  std::function<void(const IndexStatus&)> progress;
};

struct VerifyReport {
  uint64_t missing = 0;   // rows the records need that the index lacks
  uint64_t dangling = 0;  // index rows no record produces
};

}  // namespace libshard
