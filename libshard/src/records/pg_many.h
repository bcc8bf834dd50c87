// The batch write path's statements on PostgreSQL (store_write.cc,
// ShardWriter::ApplyMany), with the rows bound as arrays: one text
// parameter per column ("{"hex","hex",…}" / "{1,2,…}", unnest()ed by the
// server) instead of one parameter per value. One prepared statement serves
// any row count, so a shard batch is one lock read and one write statement
// (the VALUES-list forms in record_table.h need a statement per row count
// and 64-row chunks), and the client binds 5 strings instead of 5 values
// per row (shard-bench put_batch_multirow: client CPU per record was 3.7×
// the hand-written unnest upsert's with the VALUES lists).
#pragma once

#include <soci/soci.h>

#include <string>
#include <string_view>
#include <vector>

#include "backend/connection.h"
#include "libshard/store.h"
#include "records/record_table.h"

namespace libshard::records {

// Inside a write transaction: the rows of `ids`, locked until commit, in id
// order (SELECT … WHERE id = ANY(ARRAY(SELECT decode(x,'hex') FROM
// unnest(:ids))) ORDER BY id FOR UPDATE: an index scan of the primary key).
// The body is fetched only `with_body`. Duplicated ids come back once.
class PgLockManyStatement : public backend::Prepared {
 public:
  PgLockManyStatement(soci::session& sql, std::string_view entity, bool with_body);
  // Appends the rows found to `out`. n ≥ 1.
  void Run(const std::string_view* ids, size_t n, std::vector<RawRecord>* out);
  static std::string Key(std::string_view entity, bool with_body) {
    return std::string(with_body ? "rec.pglockmanyrow:" : "rec.pglockmany:") +
           std::string(entity);
  }

 private:
  bool with_body_;
  std::string ids_, id_out_, body_;
  long long version_ = 0, updated_ = 0;
  soci::statement st_;
};

// INSERT … SELECT … FROM unnest(…) of any number of rows, each id once.
// Plain (`update` false): rows that must not exist yet (another writer's
// insert meanwhile is a unique violation, as with InsertManyStatement).
// With `update`: rows that exist and are locked by this transaction,
// written by ON CONFLICT (id) DO UPDATE of version, updated and body.
class PgWriteManyStatement : public backend::Prepared {
 public:
  PgWriteManyStatement(soci::session& sql, std::string_view entity, bool update);
  void Run(const RowWrite* rows, size_t n);
  static std::string Key(std::string_view entity, bool update) {
    return std::string(update ? "rec.pgupsertmany:" : "rec.pginsertmany:") +
           std::string(entity);
  }

 private:
  std::string ids_, buckets_, versions_, updated_, bodies_;
  soci::statement st_;
};

}  // namespace libshard::records
