// Store::Impl: the state behind a Store, shared by the files that implement
// its operations (store.cc: open/init/locate; store_write.cc: put/delete;
// store_read.cc: get/get_many/scan/stats).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/connection_pool.h"
#include "indexer/index_registry.h"
#include "libshard/store.h"
#include "router/router.h"
#include "util/thread_pool.h"

namespace libshard {

class Store::Impl {
 public:
  Impl(ClusterConfig config, Options options);

  ClusterConfig config;
  Options options;
  std::map<std::string, std::unique_ptr<backend::ConnectionPool>, std::less<>> pools;
  std::vector<backend::ConnectionPool*> shards;  // by shard index
  router::Router router;
  util::ThreadPool workers;
  // Index definitions and states from the catalog (set by Open).
  std::unique_ptr<indexer::IndexRegistry> indexes;

  // InvalidArgument unless `entity` is declared in the config.
  Status CheckEntity(std::string_view entity) const;

  enum class Retry {
    kReadOnly,  // idempotent: may also retry once on a broken connection
    kWrite,     // retries deadlocks, busy locks and lost insert races
  };
  // Leases a connection and runs `fn`, translating SOCI exceptions into
  // Status and retrying transient failures (a few times, with backoff).
  Status WithConnection(backend::ConnectionPool& pool, std::string_view what,
                        Retry retry,
                        const std::function<Status(backend::Connection&)>& fn);

  // Store::GetMany (records in request order, missing left out).
  Result<std::vector<Record>> GetMany(std::string_view entity, const std::vector<Id>& ids);

  // The pool of a database named in `config`. Index definitions from the
  // catalog are checked against the config (CheckDatabasesKnown) before
  // their databases reach here.
  backend::ConnectionPool& Pool(std::string_view database) { return *pools.find(database)->second; }
  size_t ShardOf(std::string_view id) const { return router.RouteId(id).shard; }

  // Put of an already-encoded, already-checked body.
  Result<uint64_t> PutEncoded(std::string_view entity, std::string_view id,
                              const Document& doc, std::string_view body,
                              const WriteOptions& options);

  // Runs one task per shard in `shard_ids` on the worker pool; returns the
  // first error (kUnavailable preferred, so a down shard is reported as
  // such) or OK.
  // `small`: the caller has little work per shard (a few ids); when every
  // shard is SQLite (in-process, microseconds a call) the shards are then
  // done one after another on the calling thread, which is cheaper than
  // handing them to workers and waiting (shard-bench query_eq).
  Status ForEachShard(const std::vector<size_t>& shard_ids,
                      const std::function<Status(size_t shard)>& fn, bool small = false);
  bool all_shards_in_process = true;  // every record shard is SQLite
};

// Common input checks.
Status CheckId(std::string_view entity, std::string_view id);
// "users/ada" for messages; non-printable IDs shown as hex.
std::string DescribeRecord(std::string_view entity, std::string_view id);
int64_t NowMicros();

}  // namespace libshard
