// The record table of one entity on one shard, and its prepared statements.
//
//   ls_rec_<entity>(id KEYBYTES PRIMARY KEY, bucket INT, version BIGINT,
//                   updated BIGINT, body BODYBYTES)  + index on (bucket)
//
// `bucket` is kept per row so a bucket can be scanned and moved without
// rehashing every ID. Each statement class owns its bound buffers and lives
// in the per-connection cache (ConnectionPool's Connection::Cached), so the
// hot paths re-execute prepared statements instead of re-parsing SQL.
// On SQLite, the point get (GetStatement), the lock read
// (LockVersionStatement) and the row writes (WriteStatements) run on the
// session's native sqlite3 handle (backend/sqlite_statement.h) instead of
// SOCI's statement layer, which cost more than the statements themselves.
// The point get also runs natively on the servers: on MariaDB as a
// server-side prepared statement (backend/mysql_statement.h; SOCI's MySQL
// backend sends every execution as text for the server to parse again),
// on PostgreSQL with binary results (backend/pg_statement.h; SOCI reads
// text, so the body would travel hex-encoded).
// All Run() methods throw soci::soci_error; callers translate.
#pragma once

#include <soci/soci.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/connection.h"
#include "backend/dialect.h"
#include "backend/int_column.h"
#include "backend/mysql_statement.h"
#include "backend/pg_statement.h"
#include "backend/sqlite_statement.h"
#include "cluster/route_retry.h"
#include "libshard/store.h"

namespace libshard::records {

std::string TableName(std::string_view entity);

// CREATE TABLE / INDEX IF NOT EXISTS for one entity.
void CreateTable(soci::session& sql, const backend::Dialect& d,
                 std::string_view entity);

// Point read, fenced: the record and its bucket's ownership row in one
// statement (one snapshot), so a shard that no longer owns the bucket is
// never taken at its word, whether it still has a leftover copy or not.
class GetStatement : public backend::Prepared {
 public:
  GetStatement(soci::session& sql, const backend::Dialect& d, std::string_view entity,
               const std::string& cluster_id);
  enum class Found { kYes, kNo, kNotOwned };
  // kYes fills `out` (id untouched); kNotOwned fills `owner`.
  Found Run(std::string_view id, uint32_t bucket, RawRecord* out, cluster::BucketOwner* owner);
  static std::string Key(std::string_view entity) { return "rec.get:" + std::string(entity); }
  void ConnectionClosing() override {
    if (pg_) pg_->ConnectionClosing();
  }

 private:
  const backend::Dialect& dialect_;
  std::string id_, cluster_id_;
  int bucket_ = 0;
  backend::IntColumn state_, version_, updated_;  // version and updated NULL: no record
  std::string peer_;
  std::string body_;
  soci::indicator body_ind_ = soci::i_ok;
  soci::statement st_;
  std::unique_ptr<backend::SqliteStatement> native_;  // SQLite: instead of st_
  std::unique_ptr<backend::MysqlStatement> mysql_;    // MariaDB: instead of st_
  std::unique_ptr<backend::PgStatement> pg_;          // PostgreSQL: instead of st_
};

// Inside a write transaction: the current version (locked until commit on
// PostgreSQL/MariaDB; SQLite's BEGIN IMMEDIATE already excludes writers).
class LockVersionStatement : public backend::Prepared {
 public:
  LockVersionStatement(soci::session& sql, const backend::Dialect& d, std::string_view entity);
  struct Current {
    uint64_t version = 0;    // 0 when absent
    int64_t updated_us = 0;
  };
  Current Run(std::string_view id);
  static std::string Key(std::string_view entity) { return "rec.lock:" + std::string(entity); }

 private:
  const backend::Dialect& dialect_;
  std::string id_;
  backend::IntColumn version_, updated_;
  soci::statement st_;
  std::unique_ptr<backend::SqliteStatement> native_;  // SQLite: instead of st_
};

// As LockVersionStatement, also fetching the body (needed when the entity
// has indexes: the old document's index rows).
class LockRowStatement : public backend::Prepared {
 public:
  LockRowStatement(soci::session& sql, const backend::Dialect& d, std::string_view entity);
  // false when absent.
  bool Run(std::string_view id, RawRecord* out);
  static std::string Key(std::string_view entity) { return "rec.lockrow:" + std::string(entity); }

 private:
  const backend::Dialect& dialect_;
  std::string id_, body_;
  backend::IntColumn version_, updated_;
  soci::statement st_;
};

// The record `id` locked as LockRowStatement does, after reading its
// bucket's ownership row with a shared lock (the write-path fence): kNo
// when absent, kNotOwned (and `owner`) when this shard does not own the
// bucket any more — its copy, if any, is a leftover of a move.
GetStatement::Found LockOwnedRow(backend::Connection& c, const backend::Dialect& d,
                                 const std::string& cluster_id, const std::string& entity,
                                 std::string_view id,
                                 uint32_t bucket, RawRecord* out, cluster::BucketOwner* owner);

// INSERT (version 1) or UPDATE (new version) of a whole row.
class WriteStatements : public backend::Prepared {
 public:
  WriteStatements(soci::session& sql, const backend::Dialect& d, std::string_view entity);
  void Insert(std::string_view id, uint32_t bucket, uint64_t version,
              int64_t updated_us, std::string_view body);
  void Update(std::string_view id, uint64_t version, int64_t updated_us,
              std::string_view body);
  // Rows deleted (0 or 1).
  long long Delete(std::string_view id);
  static std::string Key(std::string_view entity) { return "rec.write:" + std::string(entity); }

 private:
  const backend::Dialect& dialect_;
  std::string id_, body_;
  int bucket_ = 0;
  long long version_ = 0, updated_ = 0;
  soci::statement insert_, update_, delete_;
  // SQLite: instead of the SOCI statements.
  std::unique_ptr<backend::SqliteStatement> native_insert_, native_update_, native_delete_;
};

// The write path of a batch on PostgreSQL and MariaDB (store_write.cc,
// ShardWriter::ApplyMany): a constant number of statements per shard
// batch instead of two per record.

// Inside a write transaction: the rows of several ids, locked until commit
// (SELECT … WHERE id IN (…) ORDER BY id FOR UPDATE). Rows are locked in
// primary-key order, the same order for every writer. Prepared for a few
// fixed sizes and padded by repeating the last id (IN is a set: a padded
// id comes back once). The body is fetched only `with_body` (the entity
// has maintained indexes: the old document's rows).
class LockManyStatement : public backend::Prepared {
 public:
  static constexpr size_t kSizes[] = {4, 16, 64, 256};
  LockManyStatement(soci::session& sql, const backend::Dialect& d, std::string_view entity,
                    size_t size, bool with_body);
  // Appends the rows found (id, version, updated[, body]) to `out`, in id
  // order. 1 ≤ ids.size() ≤ size().
  void Run(const std::vector<std::string_view>& ids, std::vector<RawRecord>* out);
  size_t size() const { return ids_.size(); }
  static std::string Key(std::string_view entity, size_t size, bool with_body) {
    return std::string(with_body ? "rec.lockmanyrow" : "rec.lockmany") + std::to_string(size) +
           ":" + std::string(entity);
  }

 private:
  const backend::Dialect& dialect_;
  bool with_body_;
  std::vector<std::string> ids_;
  std::string id_out_, body_;
  backend::IntColumn version_, updated_;
  soci::statement st_;
};

// One row of InsertManyStatement.
struct RowWrite {
  std::string_view id;
  uint32_t bucket = 0;
  uint64_t version = 0;
  int64_t updated_us = 0;
  std::string_view body;
};

// A multi-row INSERT of exactly `rows` rows. Plain (`update` false): rows
// that must not exist yet, so an id another writer inserted meanwhile is a
// unique violation, retried like the single-row INSERT's lost race. With
// `update`: rows that exist and are locked by this transaction, written as
// an upsert (PostgreSQL ON CONFLICT (id) DO UPDATE, MariaDB ON DUPLICATE KEY
// UPDATE) of version, updated and body — the multi-row form of UPDATE.
class InsertManyStatement : public backend::Prepared {
 public:
  InsertManyStatement(soci::session& sql, const backend::Dialect& d, std::string_view entity,
                      size_t rows, bool update);
  // rows.size() == size().
  void Run(const RowWrite* rows, size_t n);
  size_t size() const { return ids_.size(); }
  static std::string Key(std::string_view entity, size_t rows, bool update) {
    return std::string(update ? "rec.upsertmany" : "rec.insertmany") + std::to_string(rows) +
           ":" + std::string(entity);
  }

 private:
  const backend::Dialect& dialect_;
  std::vector<std::string> ids_, bodies_;
  std::vector<int> buckets_;
  std::vector<long long> versions_, updated_;
  soci::statement st_;
};

// DELETE … WHERE id IN (exactly `size` ids).
class DeleteManyStatement : public backend::Prepared {
 public:
  DeleteManyStatement(soci::session& sql, const backend::Dialect& d, std::string_view entity,
                      size_t size);
  // ids.size() == size(); returns the rows deleted.
  long long Run(const std::string_view* ids, size_t n);
  size_t size() const { return ids_.size(); }
  static std::string Key(std::string_view entity, size_t size) {
    return "rec.deletemany" + std::to_string(size) + ":" + std::string(entity);
  }

 private:
  const backend::Dialect& dialect_;
  std::vector<std::string> ids_;
  soci::statement st_;
};

// Several ids in one query: WHERE id IN (…) (SQLite: a VALUES list joined
// to the records), each row with its bucket's ownership state (fenced like
// GetStatement). Statements are prepared for a few fixed sizes and padded
// (by repeating the last id; SQLite: with NULLs), so any request size
// reuses a handful of prepared statements. Exact up to 8 — a query's
// re-check fetches a few hits per shard, and each padded id costs a bind
// and a list entry — then at most a third padding. A repeated id may
// come back twice (SQLite).
class MultiGetStatement : public backend::Prepared {
 public:
  static constexpr size_t kSizes[] = {1,  2,  3,  4,  5,  6,  7,   8,   12,
                                      16, 24, 32, 48, 64, 96, 128, 192, 256};
  MultiGetStatement(soci::session& sql, const backend::Dialect& d,
                    std::string_view entity, size_t size, const std::string& cluster_id);
  // Appends the found rows of owned buckets (in no particular order) to
  // `out`, and the ids of rows in buckets this shard does not own to
  // `not_owned`. ids.size() must be ≤ size().
  void Run(const std::vector<std::string_view>& ids, std::vector<RawRecord>* out,
           std::vector<std::string>* not_owned);
  size_t size() const { return size_; }
  static std::string Key(std::string_view entity, size_t size) {
    return "rec.mget" + std::to_string(size) + ":" + std::string(entity);
  }
  void ConnectionClosing() override {
    if (pg_) pg_->ConnectionClosing();
  }

 private:
  const backend::Dialect& dialect_;
  size_t size_;
  std::vector<std::string> ids_;  // the SOCI path's bound ids (native: binds the caller's)
  std::string id_out_, body_, cluster_id_;
  backend::IntColumn version_, updated_;
  backend::IntColumn state_;
  soci::statement st_;
  std::unique_ptr<backend::SqliteStatement> native_;  // SQLite: instead of st_
  std::unique_ptr<backend::PgStatement> pg_;          // PostgreSQL: instead of st_
};

// Keyset scan: the next `limit` rows with id > after, in id order, of the
// buckets this shard owns (leftover copies of a bucket that moved away are
// skipped). With `lock` (online index backfill, which never runs while a
// move is recorded, so there are no leftovers), every row of the table,
// locked until the caller's transaction ends.
class ScanStatement : public backend::Prepared {
 public:
  // `cluster_id` selects the ownership rows (unused with `lock`).
  ScanStatement(soci::session& sql, const backend::Dialect& d, std::string_view entity,
                int limit, const std::string& cluster_id, bool lock = false);
  // Appends up to `limit` rows; returns how many.
  size_t Run(std::string_view after, std::vector<RawRecord>* out);
  static std::string Key(std::string_view entity, int limit, bool lock = false) {
    return std::string(lock ? "rec.scanlock" : "rec.scan") + std::to_string(limit) + ":" +
           std::string(entity);
  }

 private:
  const backend::Dialect& dialect_;
  std::string after_, id_out_, body_, cluster_id_;
  backend::IntColumn version_, updated_;
  soci::statement st_;
  std::unique_ptr<backend::SqliteStatement> native_;  // SQLite: instead of st_
  bool lock_ = false;
};

// Number of rows of the entity in the buckets this shard owns.
uint64_t CountRows(soci::session& sql, std::string_view entity, const std::string& cluster_id);

}  // namespace libshard::records
