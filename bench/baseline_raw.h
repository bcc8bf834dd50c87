// The floor: the same record work as the SOCI baseline (baseline.h), written
// against the raw sqlite3 C API — what a competent engineer writes with
// sqlite3_prepare_v3 / sqlite3_bind_blob / sqlite3_step / sqlite3_reset.
//
// Same files and tables (ls_rec_<entity>: id BLOB, bucket, version,
// updated, body BLOB), same connection settings (WAL, synchronous=NORMAL,
// wal_autocheckpoint=10000, busy_timeout), same transactions (prepared
// BEGIN IMMEDIATE; lock SELECT; INSERT or UPDATE; COMMIT), same MessagePack
// encode/decode (libshard::Document, decoded straight from the column's
// bytes), same shard choice (Baseline::Route). Like the SOCI baseline it
// runs shards one after another and, by default, does not read the
// ownership rows (ls_owner) libshard fences bucket moves with: that is the
// floor. `fenced` adds exactly libshard's fence to the point get and put —
// the ownership row LEFT JOINed to the record in one SELECT, checked for
// "owned" — so the cost of the fence itself can be told apart from the
// cost of the library's layers. SQLite only; one object per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/baseline.h"
#include "libshard/config.h"
#include "libshard/document.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bench {

// One prepared statement (SQLITE_PREPARE_PERSISTENT), finalized on
// destruction.
class RawStatement {
 public:
  RawStatement(sqlite3* db, const std::string& sql);
  ~RawStatement();
  RawStatement(const RawStatement&) = delete;
  RawStatement& operator=(const RawStatement&) = delete;
  sqlite3_stmt* get() const { return st_; }
  // Binds bytes without copying them (valid until the next Reset).
  void Blob(int i, std::string_view bytes);
  void Int(int i, int64_t v);
  void Text(int i, std::string_view text);
  // true: a row; false: done. Throws BenchError on an error.
  bool Step();
  void Reset();  // every parameter is bound again before the next use
  bool IsNull(int i) const;
  int64_t ColInt(int i) const;
  std::string_view ColBytes(int i) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// One connection to one SQLite shard file and its prepared statements for
// one entity's record table.
class RawShard {
 public:
  RawShard(const libshard::DatabaseConfig& db, const std::string& entity, bool fenced);
  ~RawShard();
  RawShard(const RawShard&) = delete;
  RawShard& operator=(const RawShard&) = delete;

  // `bucket` is used by the fenced form only.
  bool Get(std::string_view id, uint32_t bucket, BRecord* out);
  // Inside a transaction: version/updated of `id` (0 when absent), then
  // INSERT version 1 or UPDATE to version + 1. Returns the new version.
  uint64_t Write(std::string_view id, uint32_t bucket, std::string_view body, int64_t now);
  void Begin();
  void Commit();
  void Rollback();
  // Keyset chunks of `chunk` rows in id order, each row decoded and
  // visited as it is stepped; returns the count.
  size_t Scan(int chunk, const std::function<void(BRecord&&)>& visit);

 private:
  sqlite3* db_ = nullptr;
  std::string table_;
  bool fenced_;
  std::string cluster_id_;  // fenced: this shard's cluster (ls_shard)
  std::unique_ptr<RawStatement> begin_, commit_, rollback_, get_, lock_, insert_, update_;
  std::unique_ptr<RawStatement> scan_;
  int scan_chunk_ = 0;
};

class RawBaselineTable {
 public:
  // Opens one connection per record shard of `config`; routes with `b`.
  RawBaselineTable(const libshard::ClusterConfig& config, Baseline& b, const std::string& entity,
                   bool fenced = false);
  bool Get(std::string_view id, BRecord* out);
  uint64_t Put(std::string_view id, const libshard::Document& doc);
  // Encodes every body, groups by shard, one transaction per shard.
  void PutBatch(const std::vector<std::string>& ids,
                const std::vector<const libshard::Document*>& docs);
  size_t Scan(int chunk, const std::function<void(BRecord&&)>& visit);

 private:
  Baseline& b_;
  std::vector<std::unique_ptr<RawShard>> shards_;
};

}  // namespace bench
