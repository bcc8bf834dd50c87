// Cluster: the databases of one cluster as the layers above see them — a
// pool per database, the record shards in order, the router, the worker
// threads, the Env — and the two helpers every operation uses to reach a
// database: WithConnection (lease, classify errors, retry what is safe to
// retry) and ForEachShard (fan out on the workers).
//
// Layering: store → indexer → records → cluster → backend → router. The
// store (Store::Impl extends Cluster with the index registry) and the
// indexer reach databases only through this class.
//
// Thread-safety: every member may be used from any thread once built.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <mutex>
#include <vector>

#include "cluster/connection_pool.h"
#include "cluster/env.h"
#include "cluster/live_router.h"
#include "libshard/config.h"
#include "libshard/options.h"
#include "util/thread_pool.h"

namespace libshard::cache {
class CacheSet;
class RecordCache;
}  // namespace libshard::cache

namespace libshard::cluster {

// The record shards this process knows, by process-local index: the
// config's `shards:` in order, then shards learned at run time (a bucket
// moved to a shard added to the YAML after this process started; the
// config file is read again to connect to it). Slots are only appended, so
// readers index it without a lock.
class ShardList {
 public:
  static constexpr size_t kCapacity = 1024;
  ConnectionPool* operator[](size_t i) const { return slots_[i].load(std::memory_order_acquire); }
  size_t size() const { return size_.load(std::memory_order_acquire); }
  // Appends (callers serialize); returns the new index.
  size_t Append(ConnectionPool* pool);

 private:
  std::array<std::atomic<ConnectionPool*>, kCapacity> slots_{};
  std::atomic<size_t> size_{0};
};

class Cluster {
 public:
  Cluster(ClusterConfig config, Options options, std::shared_ptr<Env> env);
  virtual ~Cluster();

  ClusterConfig config;
  Options options;
  std::shared_ptr<Env> env;
  std::map<std::string, std::unique_ptr<ConnectionPool>, std::less<>> pools;
  ShardList shards;  // by process-local shard index
  // The catalog's cluster id (set at Open): keys this cluster's ownership
  // rows on each shard (records/bucket_owner.h).
  std::string cluster_id;
  LiveRouter router;
  util::ThreadPool workers;
  std::atomic<bool> all_shards_in_process{true};  // every record shard is SQLite
  // Index rows inserted by this process, per index (Store::Metrics).
  IndexRowCounters index_rows;
  // Record caches (cache/cache_set.h), built at Open; null before.
  std::unique_ptr<cache::CacheSet> caches;
  // The entity's record cache, or null when it has none.
  cache::RecordCache* CacheFor(std::string_view entity) const;

  // InvalidArgument unless `entity` is declared in the config.
  Status CheckEntity(std::string_view entity) const;

  enum class Retry {
    kReadOnly,  // idempotent: may also retry once on a broken connection
    kWrite,     // retries deadlocks, busy locks and lost insert races
    kNested,    // runs while the caller holds locks on another database:
                // never retried, lock waits bounded by `lock_timeout_ms`
  };
  // Leases a connection and runs `fn`, translating SOCI exceptions into
  // Status and retrying transient failures (a few times, with backoff).
  // A write whose COMMIT lost its link returns kOutcomeUnknown, never
  // retried.
  Status WithConnection(ConnectionPool& pool, std::string_view what, Retry retry,
                        const std::function<Status(Connection&)>& fn, int lock_timeout_ms = 0);

  // Every pool's counters and gauges, in config order.
  std::vector<DatabaseMetrics> DatabaseSnapshots();

  // The pool of a database named in `config`. Index definitions from the
  // catalog are checked against the config (CheckDatabasesKnown) before
  // their databases reach here.
  ConnectionPool& Pool(std::string_view database) { return *pools.find(database)->second; }
  size_t ShardOf(std::string_view id) const { return router.RouteId(id).shard; }
  const std::string& ShardName(size_t shard) const { return shards[shard]->name(); }
  // The index of record shard `name`. A shard the config does not name is
  // looked up in the config file again (the operator added it while this
  // process ran) and connected; InvalidConfig when it is not there either.
  Result<size_t> ShardIndex(std::string_view name);

  // The shards a whole-cluster read visits: every shard that owns a bucket
  // in the catalog's map (read again first, so shards added since this
  // process started are included; when the catalog cannot be read, this
  // process's map), plus, `with_listed`, the config's own shards. Each
  // shard returns only the buckets it owns (records/bucket_owner.h).
  std::vector<size_t> ShardsToScan(bool with_listed);

  // Reads the bucket map from the catalog into `router` (set by the store:
  // the catalog layer sits above this one).
  std::function<Status()> reload_map;

  // Runs one task per shard in `shard_ids` on the worker pool; returns the
  // first error (kUnavailable preferred, so a down shard is reported as
  // such) or OK.
  // How much a task does, which decides how it is spread when every shard
  // is SQLite (in-process; with a server shard, one task per shard always,
  // so their round trips overlap):
  // - kPerShard: one task per shard (writes: a power-safe commit waits on
  //   its fsync, and those waits overlap);
  // - kCpu: reads, all CPU: at most as many lanes as the machine has
  //   cores, each taking the next shard, so no more workers are woken
  //   than can run at once (shard-bench get_many_in: a wake-up costs more
  //   CPU than a few records);
  // - kSmall: little work per shard (a few ids): one after another on the
  //   calling thread, cheaper than handing them to workers and waiting
  //   (shard-bench query_eq).
  enum class Fanout { kPerShard, kCpu, kSmall };
  Status ForEachShard(const std::vector<size_t>& shard_ids,
                      const std::function<Status(size_t shard)>& fn,
                      Fanout fanout = Fanout::kPerShard);

  // Wall-clock microseconds from the Env (record `updated`).
  int64_t NowMicros() const { return env->WallMicros(); }

 private:
  // WithConnection without its metrics; `retries` counts extra attempts.
  std::mutex shards_mu_;  // ShardIndex's appends
  std::vector<std::unique_ptr<ConnectionPool>> added_pools_;  // learned shards
  Status WithConnectionUncounted(ConnectionPool& pool, std::string_view what, Retry retry,
                                 const std::function<Status(Connection&)>& fn,
                                 int lock_timeout_ms, int* retries);
};

}  // namespace libshard::cluster

namespace libshard {

// Common input checks.
Status CheckId(std::string_view entity, std::string_view id);
// "users/ada" for messages; non-printable IDs shown as hex.
std::string DescribeRecord(std::string_view entity, std::string_view id);

}  // namespace libshard
