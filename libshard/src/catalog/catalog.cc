#include "catalog/catalog.h"

#include <soci/soci.h>

#include <map>
#include <optional>

#include "backend/errors.h"

namespace libshard::catalog {
namespace {

using backend::ConnectionPool;
using backend::Dialect;

void CreateTables(soci::session& sql, const Dialect& d) {
  sql << "CREATE TABLE IF NOT EXISTS ls_meta (name VARCHAR(64) NOT NULL PRIMARY KEY, "
         "value VARCHAR(255) NOT NULL)" + std::string(d.TableOptions());
  sql << "CREATE TABLE IF NOT EXISTS ls_buckets (bucket INTEGER NOT NULL PRIMARY KEY, "
         "shard VARCHAR(64) NOT NULL, epoch BIGINT NOT NULL)" + std::string(d.TableOptions());
}

std::map<std::string, std::string> ReadMeta(soci::session& sql) {
  std::map<std::string, std::string> meta;
  soci::rowset<soci::row> rows = (sql.prepare << "SELECT name, value FROM ls_meta");
  for (const soci::row& r : rows) meta[r.get<std::string>(0)] = r.get<std::string>(1);
  return meta;
}

// Compares the stored cluster shape with the config; the error points at
// the config line that would have to change back.
Status CheckMeta(const std::map<std::string, std::string>& meta,
                 const ClusterConfig& config) {
  auto it = meta.find("buckets");
  if (it != meta.end() && it->second != std::to_string(config.buckets)) {
    return Status::InvalidConfig(
        config.buckets_mark.ToString() + ": cluster.buckets is " +
        std::to_string(config.buckets) + " but the catalog was initialized with " +
        it->second + " buckets; the bucket count is fixed at init");
  }
  it = meta.find("hash_seed");
  if (it != meta.end() && it->second != std::to_string(config.hash_seed)) {
    return Status::InvalidConfig(
        config.hash_seed_mark.ToString() + ": cluster.hash_seed is " +
        std::to_string(config.hash_seed) + " but the catalog was initialized with " +
        it->second + "; the seed is fixed at init");
  }
  return Status::OK();
}

void WriteInitialMap(soci::session& sql, const ClusterConfig& config) {
  router::BucketMap map = router::BucketMap::RoundRobin(
      config.buckets, static_cast<uint32_t>(config.shards.size()));
  int bucket = 0;
  std::string shard;
  long long epoch = static_cast<long long>(map.epoch());
  soci::statement st = (sql.prepare << "INSERT INTO ls_buckets (bucket, shard, epoch) "
                                       "VALUES (:b, :s, :e)",
                        soci::use(bucket), soci::use(shard), soci::use(epoch));
  for (uint32_t b = 0; b < map.buckets(); ++b) {
    bucket = static_cast<int>(b);
    shard = config.shards[map.ShardOf(b)];
    st.execute(true);
  }
  std::string name, value;
  soci::statement meta = (sql.prepare << "INSERT INTO ls_meta (name, value) VALUES (:n, :v)",
                          soci::use(name), soci::use(value));
  for (auto [n, v] : std::map<std::string, std::string>{
           {"schema_version", std::to_string(kSchemaVersion)},
           {"buckets", std::to_string(config.buckets)},
           {"hash_seed", std::to_string(config.hash_seed)},
           {"epoch", std::to_string(map.epoch())}}) {
    name = n;
    value = v;
    meta.execute(true);
  }
}

}  // namespace

Result<bool> IsInitialized(ConnectionPool& pool) {
  Result<ConnectionPool::Lease> lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    return ReadMeta((*lease)->sql()).count("buckets") > 0;
  } catch (const soci::soci_error& e) {
    if (backend::Classify(e) == backend::ErrorKind::kConnection) {
      lease->Discard();
      return backend::ToStatus(e, pool.name(), "read catalog");
    }
    (*lease)->ForgetStatements();
    return false;  // no ls_meta table yet
  }
}

Status Init(ConnectionPool& pool, const ClusterConfig& config) {
  for (int attempt = 0;; ++attempt) {
    Result<ConnectionPool::Lease> lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    try {
      soci::session& sql = (*lease)->sql();
      CreateTables(sql, pool.dialect());
      return backend::InWriteTransaction(**lease, pool.dialect(), [&]() -> Status {
        std::map<std::string, std::string> meta = ReadMeta(sql);
        if (meta.count("buckets")) return CheckMeta(meta, config);
        WriteInitialMap(sql, config);
        return Status::OK();
      });
    } catch (const soci::soci_error& e) {
      lease->Discard();
      // Another process initialized concurrently: the loser's inserts hit
      // the primary keys; run again to check what the winner wrote.
      if (backend::Classify(e) == backend::ErrorKind::kUniqueViolation && attempt < 3) {
        continue;
      }
      return backend::ToStatus(e, pool.name(), "initialize catalog");
    }
  }
}

Result<router::BucketMap> LoadBucketMap(ConnectionPool& pool,
                                        const ClusterConfig& config) {
  Result<ConnectionPool::Lease> lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  const std::string not_initialized =
      "catalog database '" + config.catalog +
      "' is not initialized: run `shardctl init` (or Store::Init) first";
  try {
    soci::session& sql = (*lease)->sql();
    std::map<std::string, std::string> meta;
    try {
      meta = ReadMeta(sql);
    } catch (const soci::soci_error& e) {
      if (backend::Classify(e) == backend::ErrorKind::kConnection) throw;
      return Status::NotFound(not_initialized);  // no ls_meta table yet
    }
    if (!meta.count("buckets")) return Status::NotFound(not_initialized);
    if (Status s = CheckMeta(meta, config); !s.ok()) return s;

    std::map<std::string, uint16_t> shard_index;
    for (size_t i = 0; i < config.shards.size(); ++i) {
      shard_index[config.shards[i]] = static_cast<uint16_t>(i);
    }
    std::vector<uint16_t> shard_of(config.buckets);
    std::vector<bool> seen(config.buckets, false);
    uint64_t epoch = std::stoull(meta.count("epoch") ? meta["epoch"] : "1");
    soci::rowset<soci::row> rows =
        (sql.prepare << "SELECT bucket, shard FROM ls_buckets ORDER BY bucket");
    for (const soci::row& r : rows) {
      int bucket = r.get<int>(0);
      std::string shard = r.get<std::string>(1);
      if (bucket < 0 || static_cast<uint32_t>(bucket) >= config.buckets) {
        return Status::Corruption("catalog bucket map has bucket " +
                                  std::to_string(bucket) + " out of range");
      }
      auto it = shard_index.find(shard);
      if (it == shard_index.end()) {
        return Status::InvalidConfig(
            config.source + ": the catalog maps bucket " + std::to_string(bucket) +
            " to shard '" + shard + "', which is not in the config's shards list");
      }
      shard_of[bucket] = it->second;
      seen[bucket] = true;
    }
    for (uint32_t b = 0; b < config.buckets; ++b) {
      if (!seen[b]) {
        return Status::Corruption("catalog bucket map has no entry for bucket " +
                                  std::to_string(b));
      }
    }
    return router::BucketMap(std::move(shard_of), epoch);
  } catch (const soci::soci_error& e) {
    lease->Discard();
    return backend::ToStatus(e, pool.name(), "read bucket map");
  }
}

}  // namespace libshard::catalog
