// The table of one index on one index database:
//
//   ls_idx_<entity>_<index>(c_<col1> …, id KEYBYTES,
//       PRIMARY KEY (c_<col1>, …, id))          -- non-unique
//       PRIMARY KEY (c_<col1>, …)               -- unique: one holder per value
//   + an index on id (verify, repair, holder checks)
//
// Strings are stored as bytes (BLOB/BYTEA/VARBINARY) so that ordering is
// bytewise and identical on every backend; this is what lets a query merge
// rows from several index databases. Column names get a "c_" prefix so no
// user column can collide with `id` or an SQL keyword.
#pragma once

#include <soci/soci.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/connection.h"
#include "backend/dialect.h"
#include "indexer/index_def.h"

namespace libshard::backend {
class SqliteStatement;
}  // namespace libshard::backend

namespace libshard::indexer {

std::string ColumnName(const IndexColumnConfig& c);  // "c_<name>"
const char* SqlType(const backend::Dialect& d, ColumnType t);

void CreateIndexTable(soci::session& sql, const backend::Dialect& d, const IndexDef& def);
void DropIndexTable(soci::session& sql, const IndexDef& def);

// Bound buffers for one row of an index (a value per column). Stable
// addresses: statements bind to these members once.
class RowSlots {
 public:
  // `prefix` names the placeholders (several rows in one statement each
  // need their own).
  RowSlots(const backend::Dialect& d, const IndexDef& def, std::string prefix = "v");
  // SQL placeholder expression for column k ("CAST(:v0 AS BLOB)", ":v1"…).
  std::string Param(size_t k) const;
  // SQL selecting column k in fetchable form (hex on PostgreSQL for bytes).
  std::string Select(size_t k) const;
  void Bind(soci::details::prepare_temp_type& prep);  // as use()
  void BindInto(soci::details::prepare_temp_type& prep);  // as into()
  void Set(const IndexRow& row);
  IndexRow Get() const;
  // The same row from columns 0..size()-1 of a native SQLite statement's
  // current row (backend/sqlite_statement.h), without the slots.
  IndexRow Get(const backend::SqliteStatement& st) const;
  size_t size() const { return slots_.size(); }
  // "c_a = CAST(:v0 AS BLOB) AND c_b = :v1"
  std::string EqualsAll() const;

 private:
  struct Slot {
    ColumnType type = ColumnType::kString;
    long long i = 0;
    double d = 0;
    int b = 0;
    std::string s;
  };
  const backend::Dialect& dialect_;
  std::vector<std::string> names_;  // copied: a cached statement outlives views
  std::string prefix_;
  std::vector<Slot> slots_;
};

// Prepared writes on an index table (cached per connection).
class IndexWriter : public backend::Prepared {
 public:
  IndexWriter(soci::session& sql, const backend::Dialect& d, const IndexDef& def);
  // Includes the shape, so a dropped and re-created index of the same name
  // never reuses statements prepared for the old columns.
  static std::string Key(const IndexDef& def) { return "idx.write:" + def.cache_key; }

  // Non-unique: inserts unless present. Unique: plain insert; throws the
  // unique violation for the caller to check the holder.
  void Insert(const IndexRow& row, std::string_view id);
  // Non-unique only: Insert of each (row, id), kBatchRows rows per
  // statement (the rest one by one). One statement per row spent more
  // in statement setup than in the B-tree insert (backfill, shard-bench).
  static constexpr size_t kBatchRows = 32;
  void InsertMany(const std::vector<std::pair<const IndexRow*, std::string_view>>& rows);
  // Deletes the row of `id` (no-op when absent).
  void Delete(const IndexRow& row, std::string_view id);
  // Unique indexes: the id holding `row`, if any.
  bool Holder(const IndexRow& row, std::string* id);

 private:
  // Prepared on the first InsertMany (most connections never batch).
  void PrepareBatch();

  soci::session& sql_;
  const backend::Dialect& dialect_;
  bool unique_;
  RowSlots slots_;
  std::string id_, holder_;
  soci::statement insert_, delete_, holder_st_;
  std::string insert_head_, insert_suffix_;  // "INSERT … (cols, id) VALUES ", " ON CONFLICT…"
  // Buffers of the batch statement: built with the writer, never resized
  // (statements bind to their addresses).
  std::vector<std::unique_ptr<RowSlots>> batch_slots_;
  std::vector<std::string> batch_ids_;
  std::unique_ptr<soci::statement> batch_insert_;
};

}  // namespace libshard::indexer
