// A shard batch of puts on PostgreSQL in one statement, sent outside a
// transaction: one round trip where the general path (store_write.cc,
// ShardWriter::ApplyMany) makes five (BEGIN, fence, lock read, write,
// COMMIT). The statement is all or nothing: it writes every item, with
// the versions the general path would give, or it declines (nothing
// written) or fails (PostgreSQL rolls all of it back) — the caller then
// runs the general path, which finds out exactly what is wrong (a version
// conflict, a moved bucket) or succeeds against whatever changed meanwhile.
//
// What the statement does, in order (data-modifying CTEs, one snapshot):
//   1. the checks before writing: the fence — the batch's ownership rows
//      (records/bucket_owner.h) read FOR SHARE NOWAIT, held until the
//      statement commits — and, for if_version items, the rows at their
//      expected versions (locked FOR UPDATE) and no row for if_version 0;
//      the items pass only if all hold, else nothing is written and the
//      answer says "declined" (a move's lock fails the statement);
//   2. the items, in id order (every writer locks rows in id order):
//        - no if_version: INSERT … ON CONFLICT (id) DO UPDATE, version 1 or
//          the row's locked version + 1, `updated` never decreasing;
//        - if_version 0 (must not exist): INSERT … ON CONFLICT DO NOTHING;
//        - if_version v > 0: UPDATE … WHERE version = v (re-checked on the
//          newest row version under READ COMMITTED);
//   3. the check after writing (an aggregate over all the rows
//      returned): as many rows as items (or none: declined), and the
//      server's clock still inside `deadline_ms` of the statement's
//      start — the index-state
//      lease (indexer/index_registry.h): a write may commit only within
//      the lease of the view it used, and no round trip is left to check
//      it between the write and COMMIT. Otherwise the statement fails
//      (a cast of a non-constant text to integer: plain SQL has no RAISE,
//      and a constant would fail at plan time).
// The answer is one row: the versions in item order, as text.
#pragma once

#include <soci/soci.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/connection.h"
#include "records/put_many_item.h"

namespace libshard::records {

class PgPutManyStatement : public backend::Prepared {
 public:
  using Item = PutManyItem;
  // `conditional`: the statement for batches with if_version items (the
  // other leaves out the create-only and compare-and-set parts, and fails
  // on such an item).
  PgPutManyStatement(soci::session& sql, std::string_view entity, const std::string& cluster_id,
                     bool conditional);
  // `items` sorted by id, each id once; `buckets` their distinct buckets.
  using Outcome = PutManyOutcome;
  // Throws soci::soci_error, the whole batch undone, when a check fails
  // while writing (or the link broke: then the outcome is unknown).
  Outcome Run(const std::vector<Item>& items, const std::vector<uint32_t>& buckets, int64_t now_us,
           int64_t deadline_ms, std::vector<uint64_t>* versions);
  static std::string Key(std::string_view entity, bool conditional) {
    return (conditional ? "rec.pgputmanyif:" : "rec.pgputmany:") + std::string(entity);
  }

 private:
  bool conditional_;
  std::string cluster_id_, buckets_, ids_, item_buckets_, bodies_, expects_;
  long long bucket_count_ = 0, item_count_ = 0, now_ = 0, deadline_ms_ = 0;
  std::string versions_text_;
  soci::indicator versions_null_ = soci::i_ok;
  soci::statement st_;
};

}  // namespace libshard::records
