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

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/connection_pool.h"
#include "cluster/env.h"
#include "libshard/config.h"
#include "libshard/options.h"
#include "router/router.h"
#include "util/thread_pool.h"

namespace libshard::cluster {

class Cluster {
 public:
  Cluster(ClusterConfig config, Options options, std::shared_ptr<Env> env);
  virtual ~Cluster();

  ClusterConfig config;
  Options options;
  std::shared_ptr<Env> env;
  std::map<std::string, std::unique_ptr<ConnectionPool>, std::less<>> pools;
  std::vector<ConnectionPool*> shards;  // by shard index
  router::Router router;
  util::ThreadPool workers;
  bool all_shards_in_process = true;  // every record shard is SQLite
  // Index rows inserted by this process, per index (Store::Metrics).
  IndexRowCounters index_rows;

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

  // Runs one task per shard in `shard_ids` on the worker pool; returns the
  // first error (kUnavailable preferred, so a down shard is reported as
  // such) or OK.
  // `small`: the caller has little work per shard (a few ids); when every
  // shard is SQLite (in-process, microseconds a call) the shards are then
  // done one after another on the calling thread, which is cheaper than
  // handing them to workers and waiting (shard-bench query_eq).
  Status ForEachShard(const std::vector<size_t>& shard_ids,
                      const std::function<Status(size_t shard)>& fn, bool small = false);

  // Wall-clock microseconds from the Env (record `updated`).
  int64_t NowMicros() const { return env->WallMicros(); }

 private:
  // WithConnection without its metrics; `retries` counts extra attempts.
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
