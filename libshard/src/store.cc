// Store: open, init, routing and the shared plumbing of Store::Impl.
#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "backend/errors.h"
#include "cache/cache_set.h"
#include "catalog/catalog.h"
#include "indexer/index_catalog.h"
#include "indexer/index_table.h"
#include "libshard/store.h"
#include "records/record_table.h"
#include "store_impl.h"

namespace libshard {
namespace {


// SQLite creates a missing file but not a missing folder; Init creates the
// folders so `shardctl init` works on a fresh checkout.
// The file of a SQLite database; empty for other backends and :memory:.
std::string SqlitePath(const DatabaseConfig& db) {
  if (db.backend != Backend::kSqlite) return "";
  auto pos = db.url.find("db=");
  if (pos == std::string::npos) return "";
  std::string path = db.url.substr(pos + 3);
  if (auto end = path.find(' '); end != std::string::npos) path.resize(end);
  if (!path.empty() && (path.front() == '"' || path.front() == '\'')) {
    path = path.substr(1, path.size() - 2);
  }
  if (path == ":memory:") return "";
  return path;
}

// For a shard that owns buckets: its SQLite file must exist (SQLite would
// silently create an empty one at the first connection).
Status CheckSqliteShardExists(const DatabaseConfig& db) {
  std::string path = SqlitePath(db);
  std::error_code ec;
  if (path.empty() || std::filesystem::exists(path, ec) || ec) return Status::OK();
  return Status::Corruption(
      "shard database '" + db.name + "' (\"" + db.RedactedUrl() +
      "\") owns buckets in the catalog but its SQLite file is missing: restore it "
      "from a backup (libshard does not recreate a shard that held data)");
}

void CreateSqliteFolder(const DatabaseConfig& db) {
  std::string path = SqlitePath(db);
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
}

}  // namespace

Store::Impl::Impl(ClusterConfig cfg, Options opts, std::shared_ptr<cluster::Env> env)
    : cluster::Cluster(std::move(cfg), opts, std::move(env)) {}


// Creates the tables of every index the config declares and registers the
// ones the catalog does not know: `ready` on a cluster being initialized for
// the first time (no process can have written a record yet: Open needs the
// bucket map, written after this), `write_only` on a live cluster (then
// `shardctl index build` backfills it). An index the catalog knows with a
// different definition is a config error.
static Status RegisterConfigIndexes(Store::Impl& impl, bool fresh) {
  const ClusterConfig& config = impl.config;
  cluster::ConnectionPool& catalog_pool = impl.Pool(config.catalog);
  Status s = impl.WithConnection(catalog_pool, "create index catalog", Store::Impl::Retry::kWrite,
                                 [&](backend::Connection& c) {
                                   indexer::CreateCatalogTables(c.sql(), catalog_pool.dialect());
                                   return Status::OK();
                                 });
  if (!s.ok()) return s;
  std::vector<indexer::CatalogIndex> known;
  s = impl.WithConnection(catalog_pool, "read index catalog", Store::Impl::Retry::kReadOnly,
                          [&](backend::Connection& c) {
                            known = indexer::LoadIndexes(c.sql());
                            return Status::OK();
                          });
  if (!s.ok()) return s;
  for (const EntityConfig& entity : config.entities) {
    for (const IndexConfig& index : entity.indexes) {
      indexer::IndexDef def = indexer::FromConfig(entity, index);
      auto it = std::find_if(known.begin(), known.end(), [&](const indexer::CatalogIndex& k) {
        return k.def.entity == def.entity && k.def.name == def.name;
      });
      if (it != known.end()) {
        if (!it->def.problem.ok()) return it->def.problem;
        if (!it->def.SameShape(def)) {
          return Status::InvalidConfig(
              index.mark.ToString() + ": index " + def.FullName() +
              " differs from the definition the catalog holds; drop it (`shardctl index drop`) "
              "and build it again, or give the new definition another name");
        }
        continue;
      }
      for (const std::string& db : def.databases) {
        cluster::ConnectionPool& pool = impl.Pool(db);
        s = impl.WithConnection(pool, "create index table", Store::Impl::Retry::kWrite,
                                [&](backend::Connection& c) {
                                  indexer::CreateIndexTable(c.sql(), pool.dialect(), def);
                                  return Status::OK();
                                });
        if (!s.ok()) return s;
      }
      s = impl.WithConnection(catalog_pool, "register index", Store::Impl::Retry::kWrite,
                              [&](backend::Connection& c) {
                                indexer::RegisterIndex(c.sql(), def,
                                                       fresh ? IndexState::kReady
                                                             : IndexState::kWriteOnly);
                                return Status::OK();
                              });
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

Status Store::Init(const ClusterConfig& config, const Options& options) {
  return Impl::Init(config, options, cluster::Env::Default());
}

Result<std::unique_ptr<Store>> Store::Open(const ClusterConfig& config,
                                           const Options& options) {
  return Impl::Open(config, options, cluster::Env::Default());
}

Status Store::Impl::Init(const ClusterConfig& config, const Options& options,
                         std::shared_ptr<cluster::Env> env) {
  if (Status s = config.Validate(); !s.ok()) return s;
  for (const DatabaseConfig& db : config.databases) CreateSqliteFolder(db);
  Impl impl(config, options, env);
  cluster::ConnectionPool& catalog_pool = impl.Pool(config.catalog);
  // Order matters for a crash half way: the catalog's bucket map (first
  // run) or new layout version (upgrade) is written last, after every
  // shard has its marker and tables, so a rerun sees the same state again.
  Result<catalog::State> state = catalog::Prepare(catalog_pool, config);
  if (!state.ok()) return state.status();
  if (state->initialized) {
    // A shard removed from the YAML while it still owns buckets: its
    // records would be unreachable.
    if (std::string unlisted = catalog::UnlistedOwners(state->owner_of_bucket, config);
        !unlisted.empty()) {
      return Status::InvalidConfig(unlisted);
    }
    // Checked before any connection to the shards: SQLite would create
    // the missing file, and the next Open would no longer see it missing.
    for (size_t i = 0; i < impl.shards.size(); ++i) {
      const cluster::ConnectionPool* pool = impl.shards[i];
      if (!state->shards_with_buckets.count(pool->name())) continue;
      if (Status s = CheckSqliteShardExists(pool->db()); !s.ok()) return s;
    }
  }
  if (Status s = RegisterConfigIndexes(impl, !state->initialized); !s.ok()) return s;
  std::vector<size_t> all(impl.shards.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  Status shards = impl.ForEachShard(all, [&](size_t shard) {
    cluster::ConnectionPool& pool = *impl.shards[shard];
    return impl.WithConnection(pool, "create tables", Impl::Retry::kWrite,
                               [&](backend::Connection& c) {
                                 // The marker check comes first: a lost
                                 // shard must not get empty tables.
                                 Status s = catalog::PrepareShard(c.sql(), pool.dialect(),
                                                                  *state, pool.db());
                                 if (!s.ok()) return s;
                                 for (const EntityConfig& e : config.entities) {
                                   records::CreateTable(c.sql(), pool.dialect(), e.name);
                                 }
                                 return Status::OK();
                               });
  });
  if (!shards.ok()) return shards;
  return catalog::Init(catalog_pool, config);
}

Result<std::unique_ptr<Store>> Store::Impl::Open(const ClusterConfig& config,
                                                 const Options& options,
                                                 std::shared_ptr<cluster::Env> env) {
  if (Status s = config.Validate(); !s.ok()) return s;
  if (options.create_if_missing) {
    for (const DatabaseConfig& db : config.databases) CreateSqliteFolder(db);
  }
  auto impl = std::make_unique<Impl>(config, options, env);
  cluster::ConnectionPool& catalog_pool = *impl->pools.at(config.catalog);
  Result<catalog::NamedMap> map = catalog::LoadBucketMap(catalog_pool, config);
  if (!map.ok() && map.status().IsNotFound() && options.create_if_missing) {
    if (Status s = Init(config, options, env); !s.ok()) return s;
    map = catalog::LoadBucketMap(catalog_pool, config);
  }
  if (!map.ok()) {
    if (map.status().IsNotFound()) return Status::InvalidConfig(map.status().message());
    return map.status();
  }
  if (std::string unlisted = catalog::UnlistedOwners(map->owner_of_bucket, config);
      !unlisted.empty()) {
    return Status::InvalidConfig(unlisted);
  }
  // A SQLite shard that owns buckets must exist: SQLite would silently
  // create an empty file at the first query. A stat per SQLite shard is
  // cheap; reading each shard's ls_shard marker here would cost a
  // connection per shard at every Open, so that full check is Init's.
  for (const std::string& shard : std::set<std::string>(map->owner_of_bucket.begin(),
                                                        map->owner_of_bucket.end())) {
    if (Status s = CheckSqliteShardExists(impl->Pool(shard).db()); !s.ok()) return s;
  }
  impl->cluster_id = map->cluster_id;
  if (Status s = impl->ApplyMap(*map); !s.ok()) return s;
  if (Status s = impl->OpenCaches(); !s.ok()) return s;
  Impl* raw = impl.get();
  impl->reload_map = [raw] { return raw->ReloadMap(); };
  impl->indexes = std::make_unique<indexer::IndexRegistry>(catalog_pool, impl->config,
                                                          impl->env);
  if (Status s = impl->indexes->Refresh(); !s.ok()) return s;
  impl->indexes->StartBackgroundRefresh();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::Impl::ApplyMap(const catalog::NamedMap& map) {
  std::vector<uint16_t> shard_of(map.owner_of_bucket.size());
  for (size_t b = 0; b < shard_of.size(); ++b) {
    Result<size_t> shard = ShardIndex(map.owner_of_bucket[b]);
    if (!shard.ok()) return shard.status();
    shard_of[b] = static_cast<uint16_t>(*shard);
  }
  router.Reset(config.hash_seed, router::BucketMap(std::move(shard_of), map.epoch));
  return Status::OK();
}

// The record caches' keys carry the cluster id (two clusters may share a
// cache server); their clocks and test seams come from the Env.
Status Store::Impl::OpenCaches() {
  std::shared_ptr<cluster::Env> e = env;
  cache::CacheHooks hooks;
  hooks.now = [e] { return e->SteadyNow(); };
  hooks.before_fill = [e](std::string_view entity) { e->BeforeCacheFill(entity); };
  Result<std::unique_ptr<cache::CacheSet>> set = cache::CacheSet::Create(
      config, options, cluster_id, std::move(hooks),
      [e](std::string_view server, std::string_view op) { return e->FailCacheCall(server, op); });
  if (!set.ok()) return set.status();
  caches = std::move(set).value();
  return Status::OK();
}

Status Store::Impl::ReloadMap() {
  Result<catalog::NamedMap> map = catalog::LoadBucketMap(Pool(config.catalog), config);
  if (!map.ok()) return map.status();
  return ApplyMap(*map);
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const ClusterConfig& Store::config() const { return impl_->config; }

Location Store::Locate(std::string_view id) const {
  router::Route r = impl_->router.RouteId(id);
  return Location{r.bucket, impl_->ShardName(r.shard)};
}

}  // namespace libshard
