// The point put's fence and lock read in one statement, on SQLite.
//
// A write reads its bucket's ownership row (records/bucket_owner.h, the
// fence of bucket moves) and then the record's current version. On
// PostgreSQL and MariaDB these are two locking reads (FOR SHARE on the
// ownership row, FOR UPDATE on the record). SQLite has no row locks: the
// transaction's BEGIN IMMEDIATE already holds the database's write lock, so
// both reads are plain reads of one snapshot and can be one statement —
// the ownership row (by primary key) LEFT JOINed to the record (by primary
// key), as GetStatement reads. One statement instead of two is a sixth of
// a single put's CPU (shard-bench put_raw; bench/README.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "backend/connection.h"
#include "backend/sqlite_statement.h"
#include "cluster/route_retry.h"

namespace soci {
class session;
}  // namespace soci

namespace libshard::records {

class FencedLockStatement : public backend::Prepared {
 public:
  // SQLite sessions only. Throws soci::soci_error.
  FencedLockStatement(soci::session& sql, std::string_view entity, const std::string& cluster_id);
  struct Current {
    bool owned = false;       // false: `owner` says who has the bucket
    cluster::BucketOwner owner;
    uint64_t version = 0;     // 0 when the record is absent
    int64_t updated_us = 0;
  };
  Current Run(std::string_view id, uint32_t bucket);
  static std::string Key(std::string_view entity) { return "rec.flock:" + std::string(entity); }

 private:
  std::string cluster_id_;
  backend::SqliteStatement st_;
};

}  // namespace libshard::records
