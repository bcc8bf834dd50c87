// The clusters the benchmark runs on: an embedded SQLite cluster (4 record
// shards, a catalog and one index database, in a fresh temp directory) and,
// when LIBSHARD_PG_PORT is set, the local PostgreSQL databases
// ls_catalog / ls_s0..ls_s3 / ls_idx0 with entity names unique to this run
// (the tables are dropped again at the end); likewise MariaDB when
// LIBSHARD_MYSQL_PORT is set.
#pragma once

#include <soci/soci.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "libshard/store.h"

namespace bench {

class Cluster {
 public:
  // `rounds` sizes the per-round entities of the index-build workload.
  static std::unique_ptr<Cluster> Sqlite(int rounds);
  // Null (with *why set) when no server is configured.
  static std::unique_ptr<Cluster> Postgres(std::string* why);
  // MariaDB (LIBSHARD_MYSQL_PORT/USER/PASSWORD): the databases
  // ls_catalog / ls_s0..ls_s3 / ls_idx0, entity names unique to the run.
  static std::unique_ptr<Cluster> Mariadb(std::string* why);
  ~Cluster();

  const std::string& backend() const { return backend_; }
  // Entity name for a workload's short name ("get" -> "get" or "b1a2f_get").
  std::string E(const std::string& short_name) const { return prefix_ + short_name; }
  libshard::Store& store() { return *store_; }
  // Closes the store and opens it again with `options` (the power-safe
  // workloads run with Options::durability = kPowerLoss, then back).
  void Reopen(libshard::Options options);
  // The full config (including the indexes that BuildIndex registers later).
  const libshard::ClusterConfig& config() const { return config_; }
  // The record cache workloads (workloads_cache.cc): their entities are
  // declared with `cache:` (memory, and the shared tier kCacheServer when
  // LIBSHARD_CACHE_URL is set). Empty when the shared tier is there;
  // otherwise why it is not (the shared-tier rows are skipped with it).
  const std::string& no_shared_cache() const { return no_shared_cache_; }

  // Removes every record of `entity` and the rows of its index tables, and
  // checkpoints SQLite WALs, so the next side starts from the same state.
  void Clear(const std::string& entity);
  void Checkpoint();

 private:
  Cluster() = default;
  void Start(libshard::ClusterConfig init_config);
  // Adds the cache workloads' entities (and `caches:`) to `cfg`.
  void AddCacheEntities(libshard::ClusterConfig* cfg);
  soci::session& Admin(const std::string& database);

  std::string backend_;
  std::string prefix_;
  std::string dir_;  // SQLite temp dir (removed at the end)
  std::string no_shared_cache_;
  libshard::ClusterConfig config_;
  std::unique_ptr<libshard::Store> store_;
  std::map<std::string, std::unique_ptr<soci::session>> admin_;
};

// The shared cache server's name under `caches:` (LIBSHARD_CACHE_URL).
inline constexpr const char* kCacheServer = "bench";
// The cache workloads' entities (short names, see Cluster::E).
inline constexpr const char* kCacheGetEntity = "cget";
inline constexpr const char* kCacheMixEntity = "cmix";
inline constexpr const char* kCachePutEntity = "cput";

// The index definitions the workloads use.
libshard::IndexConfig CityIndex();     // by_city: string column `city`
libshard::IndexConfig CreatedIndex();  // by_created: int column `created`

}  // namespace bench
