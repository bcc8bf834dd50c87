#include "catalog/catalog.h"

#include <soci/soci.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>

#include "backend/errors.h"
#include "records/bucket_owner.h"

namespace libshard::catalog {
namespace {

using cluster::ConnectionPool;
using backend::Dialect;

void CreateTables(soci::session& sql, const Dialect& d) {
  sql << "CREATE TABLE IF NOT EXISTS ls_meta (name VARCHAR(64) NOT NULL PRIMARY KEY, "
         "value VARCHAR(255) NOT NULL)" + std::string(d.TableOptions());
  sql << "CREATE TABLE IF NOT EXISTS ls_buckets (bucket INTEGER NOT NULL PRIMARY KEY, "
         "shard VARCHAR(64) NOT NULL, epoch BIGINT NOT NULL)" + std::string(d.TableOptions());
  sql << "CREATE TABLE IF NOT EXISTS ls_moves (bucket INTEGER NOT NULL PRIMARY KEY, "
         "source VARCHAR(64) NOT NULL, target VARCHAR(64) NOT NULL, "
         "state VARCHAR(16) NOT NULL, error " + std::string(d.LongTextType()) +
             " NOT NULL, updated BIGINT NOT NULL)" + std::string(d.TableOptions());
}

std::vector<std::string> ReadOwners(soci::session& sql, uint32_t buckets) {
  std::vector<std::string> owners(buckets);
  soci::rowset<soci::row> rows = (sql.prepare << "SELECT bucket, shard FROM ls_buckets");
  for (const soci::row& r : rows) {
    int b = r.get<int>(0);
    if (b >= 0 && static_cast<uint32_t>(b) < buckets) owners[b] = r.get<std::string>(1);
  }
  return owners;
}

std::map<std::string, std::string> ReadMeta(soci::session& sql) {
  std::map<std::string, std::string> meta;
  soci::rowset<soci::row> rows = (sql.prepare << "SELECT name, value FROM ls_meta");
  for (const soci::row& r : rows) meta[r.get<std::string>(0)] = r.get<std::string>(1);
  return meta;
}

// "catalog database 'catalog' (\"sqlite3://db=/x/catalog.db\")": the
// database by name and redacted URL, for messages.
std::string Describe(const DatabaseConfig& db) {
  return "database '" + db.name + "' (\"" + db.RedactedUrl() + "\")";
}

const DatabaseConfig& CatalogDb(const ClusterConfig& config) {
  for (const DatabaseConfig& db : config.databases) {
    if (db.name == config.catalog) return db;
  }
  throw std::logic_error("validated config has no catalog database");
}

// The layout version in `meta` (a catalog initialized before versions
// were read always has one; a missing row counts as 1). Corruption when
// the stored value is not a number.
Result<int> VersionOf(const std::map<std::string, std::string>& meta,
                      const ClusterConfig& config) {
  auto it = meta.find("schema_version");
  if (it == meta.end()) return meta.count("buckets") ? 1 : 0;
  try {
    size_t used = 0;
    int v = std::stoi(it->second, &used);
    if (used == it->second.size() && v >= 1) return v;
  } catch (const std::exception&) {
  }
  return Status::Corruption("catalog " + Describe(CatalogDb(config)) +
                            ": ls_meta.schema_version is not a layout version");
}

Status RefuseNewer(int version, const ClusterConfig& config) {
  return Status::InvalidConfig(
      "catalog " + Describe(CatalogDb(config)) + " is at layout version " +
      std::to_string(version) + "; this libshard supports layout " +
      std::to_string(kSchemaVersion) + ": upgrade libshard");
}

// 128 random bits as hex: tells this cluster's shard markers from those of
// another cluster that once used the same database.
std::string NewClusterId() {
  std::random_device rd;
  std::string id;
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    unsigned v = rd();
    for (int j = 0; j < 4; ++j, v >>= 4) id.push_back(kHex[v & 15]);
  }
  return id;
}

// The catalog's upgrade step from layout `from` to `from + 1`, run inside
// Init's catalog transaction after every shard went through PrepareShard.
void UpgradeCatalog(soci::session& /*sql*/, int from) {
  switch (from) {
    case 1:
      // 1 -> 2: cluster_id was written by Prepare and the shard markers by
      // PrepareShard; the catalog itself has nothing more to change.
      break;
    case 2:
      // 2 -> 3: ls_moves was created with the catalog tables and ls_owner
      // by PrepareShard (from the map, which no move has changed yet).
      break;
    default:
      break;
  }
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
  // cluster_id is already there (Prepare).
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

// Runs `fn` on a catalog connection after creating the catalog tables.
// Another process initializing concurrently makes the loser's inserts hit
// the primary keys: `fn` runs again (3 times at most) to see what the
// winner wrote.
template <typename T>
Result<T> WithCatalog(ConnectionPool& pool, const char* what,
                      const std::function<Result<T>(backend::Connection&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    Result<ConnectionPool::Lease> lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    try {
      CreateTables((*lease)->sql(), pool.dialect());
      return fn(**lease);
    } catch (const soci::soci_error& e) {
      lease->Discard();
      if (backend::Classify(e) == backend::ErrorKind::kUniqueViolation && attempt < 3) {
        continue;
      }
      return backend::ToStatus(e, pool.name(), what);
    }
  }
}

}  // namespace

Result<State> Prepare(ConnectionPool& pool, const ClusterConfig& config) {
  return WithCatalog<State>(pool, "read catalog", [&](backend::Connection& c) -> Result<State> {
    soci::session& sql = c.sql();
    std::map<std::string, std::string> meta = ReadMeta(sql);
    State state;
    state.initialized = meta.count("buckets") > 0;
    Result<int> version = VersionOf(meta, config);
    if (!version.ok()) return version.status();
    state.version = *version;
    if (state.version > kSchemaVersion) return RefuseNewer(state.version, config);
    if (auto it = meta.find("cluster_id"); it != meta.end()) {
      state.cluster_id = it->second;
    } else {
      // A lone INSERT: two processes racing here both get the winner's id
      // (the loser hits the primary key and reads again).
      std::string name = "cluster_id";
      state.cluster_id = NewClusterId();
      sql << "INSERT INTO ls_meta (name, value) VALUES (:n, :v)", soci::use(name),
          soci::use(state.cluster_id);
    }
    if (state.initialized) {
      state.owner_of_bucket = ReadOwners(sql, config.buckets);
    } else {
      router::BucketMap initial = router::BucketMap::RoundRobin(
          config.buckets, static_cast<uint32_t>(config.shards.size()));
      for (uint32_t b = 0; b < config.buckets; ++b) {
        state.owner_of_bucket.push_back(config.shards[initial.ShardOf(b)]);
      }
    }
    if (state.initialized) {
      for (const std::string& shard : state.owner_of_bucket) {
        if (!shard.empty()) state.shards_with_buckets.insert(shard);
      }
    }
    return state;
  });
}

// The shard's ownership rows: created on first run, on an upgrade from
// layout 2 and for a shard added to the config; rows that exist are never
// changed here (moves own them).
Status PrepareOwnerRows(soci::session& sql, const Dialect& d, const State& state,
                        const DatabaseConfig& shard) {
  records::CreateOwnerTable(sql, d);
  std::vector<bool> owned(state.owner_of_bucket.size());
  for (size_t b = 0; b < owned.size(); ++b) owned[b] = state.owner_of_bucket[b] == shard.name;
  soci::transaction tx(sql);
  records::FillOwnerRows(sql, d, state.cluster_id, owned);
  tx.commit();
  return Status::OK();
}

Status PrepareShard(soci::session& sql, const Dialect& d, const State& state,
                    const DatabaseConfig& shard) {
  sql << "CREATE TABLE IF NOT EXISTS ls_shard (cluster_id VARCHAR(64) NOT NULL PRIMARY KEY, "
         "shard VARCHAR(64) NOT NULL)" + std::string(d.TableOptions());
  std::string marked;
  soci::indicator ind = soci::i_null;
  sql << "SELECT shard FROM ls_shard WHERE cluster_id = :c", soci::into(marked, ind),
      soci::use(state.cluster_id);
  if (sql.got_data() && ind == soci::i_ok) {
    if (marked == shard.name) return PrepareOwnerRows(sql, d, state, shard);
    return Status::InvalidConfig(
        "shard " + Describe(shard) + " holds shard '" + marked +
        "' of this cluster, not '" + shard.name +
        "': are two shard URLs swapped in the config?");
  }
  // No marker. Legal while the cluster is being created (no bucket map
  // yet), while upgrading from layout 1 (which had no markers), and for a
  // shard that owns no bucket yet (newly added to `shards:`).
  if (state.initialized && state.version >= 2 &&
      state.shards_with_buckets.count(shard.name)) {
    return Status::Corruption(
        "shard " + Describe(shard) +
        " owns buckets in the catalog but has no ls_shard marker of this cluster: "
        "its database was lost or replaced (a deleted SQLite file is recreated empty). "
        "Restore it from a backup; init does not recreate a shard that held data");
  }
  std::string name = shard.name;
  sql << "INSERT INTO ls_shard (cluster_id, shard) VALUES (:c, :s)",
      soci::use(state.cluster_id), soci::use(name);
  return PrepareOwnerRows(sql, d, state, shard);
}

Status Init(ConnectionPool& pool, const ClusterConfig& config) {
  Result<bool> done = WithCatalog<bool>(pool, "initialize catalog",
                                      [&](backend::Connection& c) -> Result<bool> {
    soci::session& sql = c.sql();
    Status tx = backend::InWriteTransaction(c, pool.dialect(), [&]() -> Status {
      std::map<std::string, std::string> meta = ReadMeta(sql);
      if (!meta.count("buckets")) {
        WriteInitialMap(sql, config);
        return Status::OK();
      }
      if (Status s = CheckMeta(meta, config); !s.ok()) return s;
      Result<int> version = VersionOf(meta, config);
      if (!version.ok()) return version.status();
      // Re-read inside the transaction: a newer libshard may have
      // upgraded the catalog since Prepare.
      if (*version > kSchemaVersion) return RefuseNewer(*version, config);
      if (*version == kSchemaVersion) return Status::OK();
      for (int v = *version; v < kSchemaVersion; ++v) UpgradeCatalog(sql, v);
      std::string name = "schema_version";
      std::string value = std::to_string(kSchemaVersion);
      if (meta.count("schema_version")) {
        sql << "UPDATE ls_meta SET value = :v WHERE name = :n", soci::use(value),
            soci::use(name);
      } else {
        sql << "INSERT INTO ls_meta (name, value) VALUES (:n, :v)", soci::use(name),
            soci::use(value);
      }
      return Status::OK();
    });
    if (!tx.ok()) return tx;
    return true;
  });
  return done.status();
}

std::string UnlistedOwners(const std::vector<std::string>& owner_of_bucket,
                           const ClusterConfig& config) {
  std::map<std::string, size_t> unlisted;
  for (const std::string& shard : owner_of_bucket) {
    if (std::find(config.shards.begin(), config.shards.end(), shard) == config.shards.end()) {
      ++unlisted[shard];
    }
  }
  std::string out;
  for (const auto& [shard, n] : unlisted) {
    if (!out.empty()) out += "; ";
    out += "shard '" + shard + "' owns " + std::to_string(n) + " bucket" +
           (n == 1 ? "" : "s") + " in the catalog but is not in `shards:` of " +
           (config.source.empty() ? std::string("the config") : config.source) +
           ": keep it listed and run `shardctl rebalance --drain " + shard +
           "` first, then remove it";
  }
  return out;
}

Result<NamedMap> LoadBucketMap(ConnectionPool& pool, const ClusterConfig& config) {
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
    Result<int> version = VersionOf(meta, config);
    if (!version.ok()) return version.status();
    if (*version > kSchemaVersion) return RefuseNewer(*version, config);
    if (*version < kSchemaVersion) {
      return Status::InvalidConfig(
          "catalog " + Describe(CatalogDb(config)) + " is at layout version " +
          std::to_string(*version) + "; this libshard uses layout " +
          std::to_string(kSchemaVersion) + ": run `shardctl init` (or Store::Init) to upgrade it");
    }
    NamedMap map;
    map.cluster_id = meta["cluster_id"];
    map.epoch = std::stoull(meta.count("epoch") ? meta["epoch"] : "1");
    map.owner_of_bucket.resize(config.buckets);
    soci::rowset<soci::row> rows =
        (sql.prepare << "SELECT bucket, shard FROM ls_buckets ORDER BY bucket");
    for (const soci::row& r : rows) {
      int bucket = r.get<int>(0);
      if (bucket < 0 || static_cast<uint32_t>(bucket) >= config.buckets) {
        return Status::Corruption("catalog bucket map has bucket " +
                                  std::to_string(bucket) + " out of range");
      }
      map.owner_of_bucket[bucket] = r.get<std::string>(1);
    }
    for (uint32_t b = 0; b < config.buckets; ++b) {
      if (map.owner_of_bucket[b].empty()) {
        return Status::Corruption("catalog bucket map has no entry for bucket " +
                                  std::to_string(b));
      }
    }
    return map;
  } catch (const soci::soci_error& e) {
    lease->Discard();
    return backend::ToStatus(e, pool.name(), "read bucket map");
  }
}

}  // namespace libshard::catalog
