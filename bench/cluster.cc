#include "bench/cluster.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "bench/bench.h"

namespace bench {
namespace {

using libshard::Backend;
using libshard::ClusterConfig;
using libshard::DatabaseConfig;
using libshard::EntityConfig;
using libshard::IndexColumnConfig;
using libshard::IndexConfig;

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/shard-bench-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw BenchError("cannot create a temp directory");
  return templ;
}

ClusterConfig BaseConfig() {
  ClusterConfig c;
  c.buckets = 1024;
  c.hash_seed = 0;
  c.catalog = "catalog";
  c.shards = {"s0", "s1", "s2", "s3"};
  return c;
}

EntityConfig Entity(const std::string& name, std::vector<IndexConfig> indexes = {}) {
  EntityConfig e;
  e.name = name;
  e.indexes = std::move(indexes);
  return e;
}

// Entity names of the per-round index builds: the index is declared in the
// config the store runs with, but not in the config Init sees, so the
// catalog does not know it until BuildIndex registers it.
std::string BuildEntity(int round, bool with_writer) {
  return std::string(with_writer ? "bldw" : "bld") + std::to_string(round);
}

}  // namespace

IndexConfig CityIndex() {
  IndexConfig i;
  i.name = "by_city";
  i.databases = {"idx0"};
  IndexColumnConfig c;
  c.name = "city";
  c.type = libshard::ColumnType::kString;
  c.field = "city";
  i.columns = {c};
  return i;
}

IndexConfig CreatedIndex() {
  IndexConfig i;
  i.name = "by_created";
  i.databases = {"idx0"};
  IndexColumnConfig c;
  c.name = "created";
  c.type = libshard::ColumnType::kInt;
  c.field = "created";
  i.columns = {c};
  return i;
}

std::unique_ptr<Cluster> Cluster::Sqlite(int rounds) {
  std::unique_ptr<Cluster> c(new Cluster);
  c->backend_ = "sqlite";
  c->dir_ = MakeTempDir();
  ClusterConfig cfg = BaseConfig();
  for (const char* db : {"catalog", "s0", "s1", "s2", "s3", "idx0"}) {
    DatabaseConfig d;
    d.name = db;
    d.backend = Backend::kSqlite;
    d.url = "sqlite3://db=" + c->dir_ + "/" + db + ".db";
    cfg.databases.push_back(d);
  }
  cfg.entities = {Entity("get"), Entity("put"), Entity("pidx", {CityIndex()}),
                  Entity("qry", {CityIndex(), CreatedIndex()}), Entity("wt")};
  c->AddCacheEntities(&cfg);
  ClusterConfig init = cfg;
  for (int r = 0; r < rounds; ++r) {
    for (bool w : {false, true}) {
      init.entities.push_back(Entity(BuildEntity(r, w)));
      cfg.entities.push_back(Entity(BuildEntity(r, w), {CityIndex()}));
    }
  }
  c->config_ = cfg;
  c->Start(init);
  return c;
}

// Unique per run: other users share the server databases (and the
// catalog, whose bucket map depends only on the shape, 4 shards × 1024
// buckets).
static std::string RunPrefix() {
  auto now = std::chrono::system_clock::now().time_since_epoch().count();
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "bn%x%x_", static_cast<unsigned>(getpid()) & 0xfffff,
                static_cast<unsigned>(now) & 0xffff);
  return prefix;
}

std::unique_ptr<Cluster> Cluster::Postgres(std::string* why) {
  const char* port = std::getenv("LIBSHARD_PG_PORT");
  if (port == nullptr || !*port) {
    *why = "LIBSHARD_PG_PORT is not set (source /tmp/libshard-servers/env.sh or run "
           "scripts/servers.sh start)";
    return nullptr;
  }
  const char* user = std::getenv("PGUSER");
  std::unique_ptr<Cluster> c(new Cluster);
  c->backend_ = "postgres";
  c->prefix_ = RunPrefix();
  ClusterConfig cfg = BaseConfig();
  for (const char* db : {"catalog", "s0", "s1", "s2", "s3", "idx0"}) {
    DatabaseConfig d;
    d.name = db;
    d.backend = Backend::kPostgres;
    d.url = std::string("postgresql://host=127.0.0.1 port=") + port + " dbname=ls_" + db +
            (user && *user ? std::string(" user=") + user : "");
    cfg.databases.push_back(d);
  }
  cfg.entities = {Entity(c->E("get")), Entity(c->E("put"))};
  c->AddCacheEntities(&cfg);
  c->config_ = cfg;
  c->Start(cfg);
  return c;
}

std::unique_ptr<Cluster> Cluster::Mariadb(std::string* why) {
  const char* port = std::getenv("LIBSHARD_MYSQL_PORT");
  const char* user = std::getenv("LIBSHARD_MYSQL_USER");
  const char* password = std::getenv("LIBSHARD_MYSQL_PASSWORD");
  if (port == nullptr || !*port || user == nullptr || !*user || password == nullptr) {
    *why = "LIBSHARD_MYSQL_PORT/USER/PASSWORD are not set (source "
           "/tmp/libshard-servers/env.sh or run scripts/servers.sh start)";
    return nullptr;
  }
  // The databases scripts/servers.sh creates (ls_catalog, ls_s0..ls_s3,
  // ls_idx0); created here if missing. The password goes into the URLs
  // only, which are never printed.
  const std::string server = std::string("host=127.0.0.1 port=") + port + " user=" + user +
                             " password=" + password;
  const std::vector<std::string> dbs = {"catalog", "s0", "s1", "s2", "s3", "idx0"};
  try {
    soci::session admin("mysql://" + server);
    for (const std::string& db : dbs) {
      admin << "CREATE DATABASE IF NOT EXISTS ls_" + db + " CHARACTER SET utf8mb4";
    }
  } catch (const soci::soci_error&) {
    // No right to create databases: the existing ones are used (or the
    // Store::Init below says which one is missing).
  }
  std::unique_ptr<Cluster> c(new Cluster);
  c->backend_ = "mariadb";
  c->prefix_ = RunPrefix();
  ClusterConfig cfg = BaseConfig();
  for (const std::string& db : dbs) {
    DatabaseConfig d;
    d.name = db;
    d.backend = Backend::kMysql;
    d.url = "mysql://" + server + " db=ls_" + db;
    cfg.databases.push_back(d);
  }
  cfg.entities = {Entity(c->E("get")), Entity(c->E("put"))};
  c->config_ = cfg;
  c->Start(cfg);
  return c;
}

void Cluster::AddCacheEntities(ClusterConfig* cfg) {
  // Both tiers when a shared server is there; the workloads open Stores
  // with variants of this (one tier, or none) on the same tables.
  libshard::EntityCacheConfig cache;
  cache.memory_bytes = 64ull << 20;
  // Longer than any run, so no entry expires during a timed loop.
  cache.ttl = std::chrono::minutes(10);
  const char* url = std::getenv("LIBSHARD_CACHE_URL");
  if (url == nullptr || !*url) {
    no_shared_cache_ = "LIBSHARD_CACHE_URL is not set (source /tmp/libshard-servers/env.sh "
                       "after scripts/servers.sh start)";
  } else {
    ClusterConfig trial = *cfg;
    trial.caches = {{kCacheServer, url, {}}};
    if (libshard::Status s = trial.Validate(); !s.ok()) {
      // The message names the server, never the password.
      no_shared_cache_ = "LIBSHARD_CACHE_URL is not usable: " + s.ToString();
    } else {
      cfg->caches = trial.caches;
      cache.shared = kCacheServer;
    }
  }
  for (const char* name : {kCacheGetEntity, kCacheMixEntity, kCachePutEntity}) {
    EntityConfig e = Entity(E(name));
    e.cache = cache;
    cfg->entities.push_back(e);
  }
}

void Cluster::Start(ClusterConfig init_config) {
  libshard::Status s = libshard::Store::Init(init_config);
  if (!s.ok()) throw BenchError(backend_ + ": Store::Init: " + s.ToString());
  // Diagnostics only: SHARD_BENCH_PARALLELISM=1 keeps libshard's fan-out
  // on the calling thread (clean profiles); the report uses the defaults.
  Reopen(libshard::Options());
}

void Cluster::Reopen(libshard::Options options) {
  store_.reset();
  if (const char* p = std::getenv("SHARD_BENCH_PARALLELISM")) options.parallelism = std::atoi(p);
  auto store = libshard::Store::Open(config_, options);
  if (!store.ok()) throw BenchError(backend_ + ": Store::Open: " + store.status().ToString());
  store_ = std::move(store).value();
}

Cluster::~Cluster() {
  store_.reset();
  if (backend_ != "sqlite") {
    // Drop this run's tables (entity names are unique to the run).
    try {
      for (const EntityConfig& e : config_.entities) {
        for (const std::string& shard : config_.shards) {
          Admin(shard) << "DROP TABLE IF EXISTS ls_rec_" + e.name;
        }
        for (const IndexConfig& i : e.indexes) {
          Admin("idx0") << "DROP TABLE IF EXISTS ls_idx_" + e.name + "_" + i.name;
          Admin("catalog") << "DELETE FROM ls_indexes WHERE entity = '" + e.name + "'";
        }
      }
    } catch (const std::exception&) {
      // Best effort: leftover tables only cost space.
    }
  }
  admin_.clear();
  if (!dir_.empty() && std::getenv("SHARD_BENCH_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

soci::session& Cluster::Admin(const std::string& database) {
  auto it = admin_.find(database);
  if (it != admin_.end()) return *it->second;
  const DatabaseConfig* db = config_.FindDatabase(database);
  if (db == nullptr) throw BenchError("no database " + database);
  auto sql = std::make_unique<soci::session>(db->url);
  if (db->backend == Backend::kSqlite) {
    *sql << "PRAGMA journal_mode=WAL";
    *sql << "PRAGMA synchronous=NORMAL";
    *sql << "PRAGMA busy_timeout=30000";
  }
  return *admin_.emplace(database, std::move(sql)).first->second;
}

void Cluster::Clear(const std::string& entity) {
  // Servers: TRUNCATE leaves no dead tuples (PostgreSQL) or purge work
  // (InnoDB) behind for the next side.
  const std::string wipe = backend_ != "sqlite" ? "TRUNCATE " : "DELETE FROM ";
  for (const std::string& shard : config_.shards) Admin(shard) << wipe + "ls_rec_" + entity;
  if (const EntityConfig* e = config_.FindEntity(entity)) {
    for (const IndexConfig& i : e->indexes) {
      for (const std::string& db : i.databases) {
        try {
          Admin(db) << wipe + "ls_idx_" + entity + "_" + i.name;
        } catch (const soci::soci_error&) {
          // Not built yet: no table.
        }
      }
    }
  }
  Checkpoint();
}

void Cluster::Checkpoint() {
  if (backend_ != "sqlite") return;
  for (const DatabaseConfig& db : config_.databases) {
    Admin(db.name) << "PRAGMA wal_checkpoint(TRUNCATE)";
  }
}

}  // namespace bench
