// The ownership rows on a record shard: ls_owner(cluster_id, bucket, state,
// peer), one row per bucket of the cluster (keyed by cluster too: one
// database may hold shards of several clusters, as the test servers do). The fence of a bucket move
// (ARCHITECTURE.md, "Moving a bucket"):
//   - every write transaction reads its buckets' rows with a shared lock
//     (OwnerStatement, Lock::kShare) and writes only when it owns them;
//   - every read checks ownership in the same statement as the data;
//   - a move flips the source's row to "not owned, moved to T" under an
//     exclusive lock (Lock::kUpdate), so it waits for writers that hold
//     the row and every later writer sees the flip.
// States are cluster::BucketOwner::State. SOCI errors are thrown.
#pragma once

#include <soci/soci.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/connection.h"
#include "backend/dialect.h"
#include "backend/int_column.h"
#include "backend/sqlite_statement.h"
#include "cluster/route_retry.h"

namespace libshard::records {

// CREATE TABLE IF NOT EXISTS ls_owner.
void CreateOwnerTable(soci::session& sql, const backend::Dialect& d);

// Inserts the rows that are missing (never changes an existing row):
// bucket b owned when owned[b], otherwise not owned. Returns how many rows
// were inserted. Run in a transaction by the caller.
size_t FillOwnerRows(soci::session& sql, const backend::Dialect& d,
                     const std::string& cluster_id, const std::vector<bool>& owned);

// Reads one bucket's row, locked until the transaction ends.
class OwnerStatement : public backend::Prepared {
 public:
  // kShareNowait: fails at once (a lock-timeout error) instead of queueing
  // behind a move's exclusive lock; SQLite has no row locks (as kShare).
  enum class Lock { kNone, kShare, kShareNowait, kUpdate };
  OwnerStatement(soci::session& sql, const backend::Dialect& d, Lock lock,
                 const std::string& cluster_id);
  // A missing row reads as not owned, no peer.
  cluster::BucketOwner Run(uint32_t bucket);
  static std::string Key(Lock lock) {
    return "owner:" + std::to_string(static_cast<int>(lock));
  }

 private:
  std::string cluster_id_;
  int bucket_ = 0;
  backend::IntColumn state_;
  std::string peer_;
  soci::statement st_;
  std::unique_ptr<backend::SqliteStatement> native_;  // SQLite: instead of st_
};

// Several buckets' rows in one statement (a batch's fence: one round trip
// however many buckets it touches), locked as OwnerStatement's. Prepared
// for a few sizes, padded by repeating the last bucket; size 0 (PostgreSQL
// only): any number of buckets, bound as one integer[] array literal
// (callgrind, PutMany of 1000 over 4 shards: the fence of 256 bound ints
// per shard batch took 40M of PutMany's 162M client instructions; 18M
// with the array).
class MultiOwnerStatement : public backend::Prepared {
 public:
  static constexpr size_t kSizes[] = {4, 16, 64, 256};
  MultiOwnerStatement(soci::session& sql, const backend::Dialect& d, OwnerStatement::Lock lock,
                      const std::string& cluster_id, size_t size);
  // The rows of `buckets` (≤ size(); missing rows are left out).
  void Run(const std::vector<uint32_t>& buckets,
           std::vector<std::pair<uint32_t, cluster::BucketOwner>>* out);
  size_t size() const { return buckets_.size(); }
  static std::string Key(OwnerStatement::Lock lock, size_t size) {
    return "owners:" + std::to_string(static_cast<int>(lock)) + ":" + std::to_string(size);
  }

 private:
  std::string cluster_id_;
  bool array_;
  std::string array_text_;
  std::vector<int> buckets_;
  backend::IntColumn bucket_, state_;
  std::string peer_;
  soci::statement st_;
};

// Reads the rows of `buckets` (any number) with MultiOwnerStatement;
// a bucket without a row reads as not owned.
std::vector<std::pair<uint32_t, cluster::BucketOwner>> ReadOwners(
    backend::Connection& c, const backend::Dialect& d, const std::string& cluster_id,
    const std::vector<uint32_t>& buckets, OwnerStatement::Lock lock);

// The cached OwnerStatement of a connection.
cluster::BucketOwner ReadOwner(backend::Connection& c, const backend::Dialect& d,
                               const std::string& cluster_id, uint32_t bucket,
                               OwnerStatement::Lock lock);

// Sets one bucket's row (the caller holds it with Lock::kUpdate).
void SetOwner(soci::session& sql, const std::string& cluster_id, uint32_t bucket, int state,
              const std::string& peer);

}  // namespace libshard::records
