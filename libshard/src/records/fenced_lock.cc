#include "records/fenced_lock.h"

#include "records/record_table.h"

namespace libshard::records {

FencedLockStatement::FencedLockStatement(soci::session& sql, std::string_view entity,
                                         const std::string& cluster_id)
    : cluster_id_(cluster_id),
      st_(sql, "SELECT o.state, o.peer, r.version, r.updated FROM ls_owner o LEFT JOIN " +
                   TableName(entity) +
                   " r ON r.id = ?1 WHERE o.cluster_id = ?2 AND o.bucket = ?3") {}

FencedLockStatement::Current FencedLockStatement::Run(std::string_view id, uint32_t bucket) {
  backend::SqliteStatement::Reader reader(st_);
  st_.BindBytes(1, id);
  st_.BindText(2, cluster_id_);
  st_.BindInt(3, bucket);
  Current cur;
  if (!st_.Execute()) return cur;  // no ownership row: never this shard's bucket
  const int state = static_cast<int>(st_.Int(0));
  if (state != cluster::BucketOwner::kOwned) {
    cur.owner = cluster::BucketOwner{state, std::string(st_.Bytes(1))};
    return cur;
  }
  cur.owned = true;
  cur.owner.state = state;
  if (!st_.IsNull(2)) {
    cur.version = static_cast<uint64_t>(st_.Int(2));
    cur.updated_us = st_.Int(3);
  }
  return cur;
}

}  // namespace libshard::records
