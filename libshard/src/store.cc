// Store: open, init, routing and the shared plumbing of Store::Impl.
#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "backend/errors.h"
#include "catalog/catalog.h"
#include "indexer/index_catalog.h"
#include "indexer/index_table.h"
#include "libshard/store.h"
#include "records/record_table.h"
#include "store_impl.h"

namespace libshard {
namespace {

int WorkerThreads(const ClusterConfig& config, const Options& options) {
  int want = options.parallelism > 0
                 ? options.parallelism
                 : std::min<int>(16, static_cast<int>(config.shards.size()));
  return std::max(0, want - 1);  // the calling thread works too
}

// SQLite creates a missing file but not a missing folder; Init creates the
// folders so `shardctl init` works on a fresh checkout.
void CreateSqliteFolder(const DatabaseConfig& db) {
  if (db.backend != Backend::kSqlite) return;
  auto pos = db.url.find("db=");
  if (pos == std::string::npos) return;
  std::string path = db.url.substr(pos + 3);
  if (auto end = path.find(' '); end != std::string::npos) path.resize(end);
  if (!path.empty() && (path.front() == '"' || path.front() == '\'')) {
    path = path.substr(1, path.size() - 2);
  }
  if (path.empty() || path == ":memory:") return;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
}

}  // namespace

Store::Impl::Impl(ClusterConfig cfg, Options opts)
    : config(std::move(cfg)), options(opts), workers(WorkerThreads(config, options)) {
  for (const DatabaseConfig& db : config.databases) {
    pools.emplace(db.name, std::make_unique<backend::ConnectionPool>(db, options));
  }
  for (const std::string& name : config.shards) {
    shards.push_back(pools.at(name).get());
    if (shards.back()->db().backend != Backend::kSqlite) all_shards_in_process = false;
  }
}

Status Store::Impl::CheckEntity(std::string_view entity) const {
  if (config.FindEntity(entity)) return Status::OK();
  std::string known;
  for (const EntityConfig& e : config.entities) known += (known.empty() ? "" : ", ") + e.name;
  return Status::InvalidArgument("unknown entity '" + std::string(entity) +
                                 "' (the config declares: " +
                                 (known.empty() ? "none" : known) + ")");
}

Status Store::Impl::WithConnection(backend::ConnectionPool& pool, std::string_view what,
                                   Retry retry,
                                   const std::function<Status(backend::Connection&)>& fn) {
  constexpr int kMaxAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    Result<backend::ConnectionPool::Lease> lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    try {
      return fn(**lease);
    } catch (const soci::soci_error& e) {
      backend::ErrorKind kind = backend::Classify(e);
      bool again = false;
      if (kind == backend::ErrorKind::kConnection) {
        lease->Discard();
        // A pooled connection may have died while idle (server restart):
        // one fresh try is safe for reads. Writes are not retried: the
        // commit may have happened before the link broke.
        again = retry == Retry::kReadOnly && attempt == 1;
      } else {
        (*lease)->ForgetStatements();
        again = kind == backend::ErrorKind::kRetryable ||
                (retry == Retry::kWrite && kind == backend::ErrorKind::kUniqueViolation);
      }
      if (!again || attempt >= kMaxAttempts) return backend::ToStatus(e, pool.name(), what);
      std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(attempt, 6)));
    } catch (const std::exception& e) {
      lease->Discard();
      return Status::Internal(std::string(what) + " on database '" + pool.name() +
                              "': " + e.what());
    }
  }
}

Status Store::Impl::ForEachShard(const std::vector<size_t>& shard_ids,
                                 const std::function<Status(size_t)>& fn, bool small) {
  std::vector<Status> results(shard_ids.size());
  auto run = [&](size_t i) {
    try {
      results[i] = fn(shard_ids[i]);
    } catch (const std::exception& e) {
      results[i] = Status::Internal(e.what());
    }
  };
  if (shard_ids.size() == 1 || (small && all_shards_in_process)) {
    // No hand-off to a worker (and back) for a little work.
    for (size_t i = 0; i < shard_ids.size(); ++i) run(i);
  } else {
    std::vector<std::function<void()>> tasks;
    tasks.reserve(shard_ids.size());
    for (size_t i = 0; i < shard_ids.size(); ++i) tasks.push_back([&run, i] { run(i); });
    workers.RunAll(std::move(tasks));
  }
  Status first;
  for (Status& s : results) {
    if (s.ok()) continue;
    if (first.ok() || (s.IsUnavailable() && !first.IsUnavailable())) first = s;
  }
  return first;
}

Status CheckId(std::string_view entity, std::string_view id) {
  if (id.empty()) {
    return Status::InvalidArgument("empty id for entity '" + std::string(entity) + "'");
  }
  if (id.size() > kMaxIdBytes) {
    return Status::InvalidArgument("id of " + std::to_string(id.size()) +
                                   " bytes for entity '" + std::string(entity) +
                                   "' exceeds the limit of " + std::to_string(kMaxIdBytes));
  }
  return Status::OK();
}

std::string DescribeRecord(std::string_view entity, std::string_view id) {
  bool printable = std::all_of(id.begin(), id.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  return std::string(entity) + "/" + (printable ? std::string(id) : "0x" + ids::ToHex(id));
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Creates the tables of every index the config declares and registers the
// ones the catalog does not know: `ready` on a cluster being initialized for
// the first time (no process can have written a record yet: Open needs the
// bucket map, written after this), `write_only` on a live cluster (then
// `shardctl index build` backfills it). An index the catalog knows with a
// different definition is a config error.
static Status RegisterConfigIndexes(Store::Impl& impl, bool fresh) {
  const ClusterConfig& config = impl.config;
  backend::ConnectionPool& catalog_pool = impl.Pool(config.catalog);
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
        backend::ConnectionPool& pool = impl.Pool(db);
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
  if (Status s = config.Validate(); !s.ok()) return s;
  for (const DatabaseConfig& db : config.databases) CreateSqliteFolder(db);
  Impl impl(config, options);
  backend::ConnectionPool& catalog_pool = impl.Pool(config.catalog);
  Result<bool> initialized = catalog::IsInitialized(catalog_pool);
  if (!initialized.ok()) return initialized.status();
  if (Status s = RegisterConfigIndexes(impl, !*initialized); !s.ok()) return s;
  if (Status s = catalog::Init(catalog_pool, config); !s.ok()) return s;
  std::vector<size_t> all(impl.shards.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return impl.ForEachShard(all, [&](size_t shard) {
    backend::ConnectionPool& pool = *impl.shards[shard];
    return impl.WithConnection(pool, "create tables", Impl::Retry::kWrite,
                               [&](backend::Connection& c) {
                                 for (const EntityConfig& e : config.entities) {
                                   records::CreateTable(c.sql(), pool.dialect(), e.name);
                                 }
                                 return Status::OK();
                               });
  });
}

Result<std::unique_ptr<Store>> Store::Open(const ClusterConfig& config,
                                           const Options& options) {
  if (Status s = config.Validate(); !s.ok()) return s;
  if (options.create_if_missing) {
    for (const DatabaseConfig& db : config.databases) CreateSqliteFolder(db);
  }
  auto impl = std::make_unique<Impl>(config, options);
  backend::ConnectionPool& catalog_pool = *impl->pools.at(config.catalog);
  Result<router::BucketMap> map = catalog::LoadBucketMap(catalog_pool, config);
  if (!map.ok() && map.status().IsNotFound() && options.create_if_missing) {
    if (Status s = Init(config, options); !s.ok()) return s;
    map = catalog::LoadBucketMap(catalog_pool, config);
  }
  if (!map.ok()) {
    if (map.status().IsNotFound()) return Status::InvalidConfig(map.status().message());
    return map.status();
  }
  std::string problem = map->Check(static_cast<uint32_t>(config.shards.size()));
  if (!problem.empty()) {
    return Status::Corruption("catalog bucket map: " + problem);
  }
  impl->router = router::Router(config.hash_seed, std::move(map).value());
  impl->indexes = std::make_unique<indexer::IndexRegistry>(catalog_pool, impl->config);
  if (Status s = impl->indexes->Refresh(); !s.ok()) return s;
  impl->indexes->StartBackgroundRefresh();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const ClusterConfig& Store::config() const { return impl_->config; }

Location Store::Locate(std::string_view id) const {
  router::Route r = impl_->router.RouteId(id);
  return Location{r.bucket, impl_->config.shards[r.shard]};
}

}  // namespace libshard
