// The baseline: what a competent engineer would write by hand with SOCI to
// do the same work as libshard on the same databases.
//
// Same tables (ls_rec_<entity>, ls_idx_<entity>_<index>), same SQL shape
// (prepared statements re-executed; SQLite BEGIN IMMEDIATE / COMMIT
// prepared once; PostgreSQL BEGIN … SELECT … FOR UPDATE … COMMIT), same
// bytes binding (SQLite CAST(:x AS BLOB), PostgreSQL hex, MariaDB the
// std::string as it is: SOCI escapes it into the text), same MessagePack
// encode/decode (libshard::Document), same shard choice (XXH3 through
// router::Router and the bucket map read from the catalog by hand), same
// SQLite busy handling (a polling busy handler, as libshard installs). One
// connection per database per Baseline object; use one Baseline per thread.
// What it leaves out is exactly libshard's machinery: pools, statement
// caches keyed by strings, Status values, retries, the index registry and
// lease, thread-pool fan-out (baseline_parallel.h adds one thread per shard
// where the report compares at the same parallelism).
#pragma once

#include <soci/soci.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/dialect.h"
#include "libshard/config.h"
#include "libshard/document.h"
#include "router/router.h"

namespace bench {

struct BRecord {
  std::string id;
  uint64_t version = 0;
  int64_t updated_us = 0;
  libshard::Document doc;
};

// One record of a batched put, routed: the shard's part of the batch.
struct ShardItem {
  std::string_view id;
  const libshard::Document* doc = nullptr;
  uint32_t bucket = 0;
};

// One connection to one database.
class BDb {
 public:
  explicit BDb(const libshard::DatabaseConfig& db);
  ~BDb();
  soci::session& sql() { return *sql_; }
  const libshard::backend::Dialect& dialect() const { return dialect_; }
  bool pg() const { return dialect_.backend() == libshard::Backend::kPostgres; }
  // Write transaction (SQLite: prepared BEGIN IMMEDIATE / COMMIT / ROLLBACK).
  void Begin();
  void Commit();
  void Rollback();
  // Bytes in bound form / back from fetched form (hex on PostgreSQL).
  std::string Enc(std::string_view bytes) const;
  std::string Dec(const std::string& fetched) const;

  // State of the SQLite busy handler (baseline.cc): when this wait began
  // and how long it may last.
  struct BusyWait {
    std::chrono::steady_clock::time_point began;
    int timeout_ms = 30000;
  };

 private:
  BusyWait busy_;  // declared before the session that points at it
  libshard::backend::Dialect dialect_;
  std::unique_ptr<soci::session> sql_;
  std::unique_ptr<soci::statement> begin_, commit_, rollback_;
};

class Baseline {
 public:
  explicit Baseline(const libshard::ClusterConfig& config);
  size_t shard_count() const { return shards_.size(); }
  BDb& shard(size_t i) { return *shards_[i]; }
  BDb& db(const std::string& name);  // index databases
  libshard::router::Route Route(std::string_view id) const { return router_.RouteId(id); }

 private:
  const libshard::ClusterConfig& config_;
  std::vector<std::unique_ptr<BDb>> shards_;
  std::map<std::string, std::unique_ptr<BDb>> others_;
  libshard::router::Router router_;
};

// Prepared statements of one record table on one shard.
struct RecordStatements {
  explicit RecordStatements(BDb& db, const std::string& entity);
  BDb& db;
  std::string id, body_in, body_out, after, id_out;
  long long version = 0, updated = 0, new_version = 0, new_updated = 0;
  int bucket = 0;
  soci::statement get, lock, lock_row, insert, update;
  std::map<int, std::unique_ptr<soci::statement>> scans;  // by chunk size
  // WHERE id IN (…) of n ids, prepared on first use per n.
  struct Multi {
    std::vector<std::string> ids;
    soci::statement st;
    explicit Multi(soci::session& sql) : st(sql) {}
  };
  std::map<size_t, std::unique_ptr<Multi>> multi;
  std::string table;

  // Runs an already-executed single-row statement to its end, so SQLite
  // resets it and no read snapshot stays open (as every SOCI user must).
  static void Finish(soci::statement& st);
  // Current version/updated of `id` (0 when absent), inside a transaction;
  // with `body`, also the stored body.
  bool Lock(std::string_view id, bool with_body);
  void Write(std::string_view id, uint32_t bucket, std::string_view body, int64_t now);
  Multi& MultiGet(size_t n);
  void FetchRows(soci::statement& st, bool executed_ok, std::vector<BRecord>* out);
  // The current row of id_out/version/updated/body_out, decoded.
  BRecord Row();
  // This shard's part of a batched put: bodies encoded, then one
  // transaction with lock + write per record.
  void PutBatch(const std::vector<ShardItem>& items, int64_t now);
  // Keyset scan of this shard in chunks of `chunk` rows; each row is
  // decoded and visited as it is fetched (streaming, nothing materialised
  // per chunk). Returns the row count.
  size_t Scan(int chunk, const std::function<void(BRecord&&)>& visit);
};

class BaselineTable {
 public:
  BaselineTable(Baseline& b, const std::string& entity);
  const std::string& entity() const { return entity_; }

  bool Get(std::string_view id, BRecord* out);
  size_t shard_count() const { return shards_.size(); }
  RecordStatements& shard(size_t i) { return *shards_[i]; }
  // Routes a batch: per shard, its records (with their buckets).
  std::vector<std::vector<ShardItem>> Split(const std::vector<std::string>& ids,
                                            const std::vector<const libshard::Document*>& docs);
  // Versioned write in one shard transaction; returns the new version.
  uint64_t Put(std::string_view id, const libshard::Document& doc);
  // Groups by shard, one transaction per shard (shards one after another:
  // the simple code; baseline_parallel.h has the one-thread-per-shard one).
  void PutBatch(const std::vector<std::string>& ids,
                const std::vector<const libshard::Document*>& docs);
  // Per shard one SELECT … WHERE id IN (…); records in no particular order.
  void FetchMany(const std::vector<std::string>& ids, std::vector<BRecord>* out);
  // Streaming keyset scan of every shard (one after another) in chunks;
  // returns the count.
  size_t Scan(int chunk, const std::function<void(BRecord&&)>& visit);

 protected:
  Baseline& b_;
  std::string entity_;
  std::vector<std::unique_ptr<RecordStatements>> shards_;
};

// Put with one non-unique string index (`column`, document field `field`)
// on an index database: index row inserted before the record commits, the
// old row (if the value changed) deleted after — libshard's order.
class BaselineIndexedTable : public BaselineTable {
 public:
  BaselineIndexedTable(Baseline& b, const std::string& entity, const std::string& index,
                       const std::string& column, const std::string& field,
                       const std::string& index_db);
  uint64_t Put(std::string_view id, const libshard::Document& doc);

 private:
  BDb& idx_;
  std::string field_;
  std::string value_, id_;
  soci::statement insert_, delete_;
};

// Index queries by hand: SELECT the ids from the index table, then fetch
// the records per shard and decode them, returned in index order. Each hit
// is re-checked against its record (the document's field must still hold
// the queried value, or lie in the range), as careful hand-written code
// does so that a dangling index row — left by a crash between the index
// write and the record's commit — is never returned; libshard re-checks
// every hit too.
class BaselineQuery {
 public:
  BaselineQuery(Baseline& b, BaselineTable& table, const std::string& index_db);
  // WHERE c_<column> = :v ORDER BY c_<column>, id LIMIT n; keeps the
  // records whose string `field` equals `value`.
  void Equal(const std::string& table, const std::string& column, const std::string& field,
             const std::string& value, int limit, std::vector<BRecord>* out);
  // WHERE c_col >= :lo AND c_col < :hi ORDER BY c_col, id LIMIT n; keeps
  // the records whose integer `field` lies in [lo, hi).
  void Range(const std::string& table, const std::string& column, const std::string& field,
             int64_t lo, int64_t hi, int limit, std::vector<BRecord>* out);

 private:
  void Fetch(std::vector<BRecord>* out);
  BDb& idx_;
  BaselineTable& table_;
  std::string s_value_, id_out_;
  long long lo_ = 0, hi_ = 0;
  std::vector<std::string> ids_;
  std::map<std::string, std::unique_ptr<soci::statement>> eq_, range_;
};

int64_t NowMicros();
// Call once at startup, before any SOCI session exists.
void RegisterSociBackends();

}  // namespace bench
