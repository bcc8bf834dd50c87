#include "records/bucket_owner.h"

namespace libshard::records {

void CreateOwnerTable(soci::session& sql, const backend::Dialect& d) {
  sql << "CREATE TABLE IF NOT EXISTS ls_owner (cluster_id VARCHAR(64) NOT NULL, "
         "bucket INTEGER NOT NULL, state INTEGER NOT NULL, peer VARCHAR(64) NOT NULL, "
         "PRIMARY KEY (cluster_id, bucket))" +
             std::string(d.TableOptions());
}

size_t FillOwnerRows(soci::session& sql, const backend::Dialect& d,
                     const std::string& cluster_id, const std::vector<bool>& owned) {
  long long have = 0;
  sql << "SELECT COUNT(*) FROM ls_owner WHERE cluster_id = :c", soci::into(have),
      soci::use(cluster_id);
  if (static_cast<size_t>(have) == owned.size()) return 0;
  int bucket = 0, state = 0;
  std::string peer;
  soci::statement st = (sql.prepare << std::string(d.InsertIgnore()) +
                                           " ls_owner (cluster_id, bucket, state, peer) "
                                           "VALUES (:c, :b, :s, :p)" + d.OnConflictIgnore(),
                        soci::use(cluster_id), soci::use(bucket), soci::use(state),
                        soci::use(peer));
  for (size_t b = 0; b < owned.size(); ++b) {
    bucket = static_cast<int>(b);
    state = owned[b] ? cluster::BucketOwner::kOwned : cluster::BucketOwner::kNotOwned;
    st.execute(true);
  }
  return owned.size() - static_cast<size_t>(have);
}

OwnerStatement::OwnerStatement(soci::session& sql, const backend::Dialect& d, Lock lock,
                               const std::string& cluster_id)
    : cluster_id_(cluster_id), st_(sql) {
  std::string suffix = lock == Lock::kShare    ? d.ForShare()
                       : lock == Lock::kUpdate ? d.ForUpdate()
                                               : "";
  if (lock == Lock::kShareNowait) suffix = std::string(d.ForShare()) + d.NoWait();
  st_ = (sql.prepare << "SELECT state, peer FROM ls_owner WHERE cluster_id = :c "
                         "AND bucket = :b" + suffix,
         soci::into(state_), soci::into(peer_), soci::use(cluster_id_), soci::use(bucket_));
}

cluster::BucketOwner OwnerStatement::Run(uint32_t bucket) {
  bucket_ = static_cast<int>(bucket);
  bool found = st_.execute(true);
  backend::Drain(st_);
  if (!found) return {};
  return cluster::BucketOwner{state_, peer_};
}

cluster::BucketOwner ReadOwner(backend::Connection& c, const backend::Dialect& d,
                               const std::string& cluster_id, uint32_t bucket,
                               OwnerStatement::Lock lock) {
  auto& st = c.Cached<OwnerStatement>(OwnerStatement::Key(lock), [&] {
    return std::make_unique<OwnerStatement>(c.sql(), d, lock, cluster_id);
  });
  return st.Run(bucket);
}

void SetOwner(soci::session& sql, const std::string& cluster_id, uint32_t bucket, int state,
              const std::string& peer) {
  int b = static_cast<int>(bucket);
  sql << "UPDATE ls_owner SET state = :s, peer = :p WHERE cluster_id = :c AND bucket = :b",
      soci::use(state), soci::use(peer), soci::use(cluster_id), soci::use(b);
}

std::vector<uint32_t> OwnedBuckets(soci::session& sql, const std::string& cluster_id) {
  std::vector<uint32_t> out;
  int owned = cluster::BucketOwner::kOwned;
  soci::rowset<int> rows =
      (sql.prepare << "SELECT bucket FROM ls_owner WHERE cluster_id = :c AND state = :s "
                      "ORDER BY bucket",
       soci::use(cluster_id), soci::use(owned));
  for (int b : rows) out.push_back(static_cast<uint32_t>(b));
  return out;
}

}  // namespace libshard::records
