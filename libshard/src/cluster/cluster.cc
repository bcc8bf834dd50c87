#include "cluster/cluster.h"

#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "backend/errors.h"
#include "cache/cache_set.h"
#include "backend/statement_timeout.h"
#include "libshard/id.h"

namespace libshard::cluster {
namespace {

int WorkerThreads(const ClusterConfig& config, const Options& options) {
  int want = options.parallelism > 0
                 ? options.parallelism
                 : std::min<int>(16, static_cast<int>(config.shards.size()));
  return std::max(0, want - 1);  // the calling thread works too
}

}  // namespace

Cluster::~Cluster() = default;

cache::RecordCache* Cluster::CacheFor(std::string_view entity) const {
  return caches ? caches->For(entity) : nullptr;
}

Cluster::Cluster(ClusterConfig cfg, Options opts, std::shared_ptr<Env> e)
    : config(std::move(cfg)), options(opts), env(e ? std::move(e) : Env::Default()),
      workers(WorkerThreads(config, options)) {
  for (const DatabaseConfig& db : config.databases) {
    pools.emplace(db.name, std::make_unique<ConnectionPool>(db, options, env));
  }
  for (const std::string& name : config.shards) {
    shards.Append(pools.at(name).get());
    if (pools.at(name)->db().backend != Backend::kSqlite) all_shards_in_process = false;
  }
}

size_t ShardList::Append(ConnectionPool* pool) {
  size_t i = size_.load(std::memory_order_relaxed);
  if (i >= kCapacity) throw std::length_error("more than 1024 record shards in one process");
  slots_[i].store(pool, std::memory_order_release);
  size_.store(i + 1, std::memory_order_release);
  return i;
}

Result<size_t> Cluster::ShardIndex(std::string_view name) {
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i]->name() == name) return i;
  }
  std::lock_guard<std::mutex> lock(shards_mu_);
  for (size_t i = 0; i < shards.size(); ++i) {  // appended meanwhile?
    if (shards[i]->name() == name) return i;
  }
  const std::string why = "the bucket map names record shard '" + std::string(name) +
                          "', which this process's config does not list";
  if (config.source.empty()) {
    return Status::InvalidConfig(why + " (the config was built in code: open the Store with "
                                       "a config that lists it)");
  }
  // The operator added the shard to the YAML file after this process
  // started: read the file again, for that database only. The catalog,
  // seed and bucket count must still match this process's config.
  Result<ClusterConfig> fresh = ClusterConfig::Load(config.source);
  if (!fresh.ok()) {
    return Status::InvalidConfig(why + "; reading " + config.source +
                                 " again failed: " + fresh.status().message());
  }
  const DatabaseConfig* db = fresh->FindDatabase(name);
  bool listed = std::find(fresh->shards.begin(), fresh->shards.end(), name) != fresh->shards.end();
  if (db == nullptr || !listed || fresh->catalog != config.catalog ||
      fresh->buckets != config.buckets || fresh->hash_seed != config.hash_seed) {
    return Status::InvalidConfig(why + ", and " + config.source +
                                 " does not list it as a shard of the same cluster either");
  }
  added_pools_.push_back(std::make_unique<ConnectionPool>(*db, options, env));
  if (db->backend != Backend::kSqlite) all_shards_in_process = false;
  return shards.Append(added_pools_.back().get());
}

std::vector<size_t> Cluster::ShardsToScan(bool with_listed) {
  if (reload_map) (void)reload_map();  // best effort: a stale map still reads
  // A shard index in the router was appended to `shards` before it was
  // stored there, so sizing after reading the router covers every index.
  std::vector<uint16_t> owners(router.buckets());
  for (uint32_t b = 0; b < router.buckets(); ++b) owners[b] = router.ShardOf(b);
  std::vector<bool> visit(shards.size(), false);
  for (uint16_t s : owners) visit[s] = true;
  if (with_listed) {
    for (size_t i = 0; i < config.shards.size(); ++i) visit[i] = true;
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < visit.size(); ++i) {
    if (visit[i]) out.push_back(i);
  }
  return out;
}

Status Cluster::CheckEntity(std::string_view entity) const {
  if (config.FindEntity(entity)) return Status::OK();
  std::string known;
  for (const EntityConfig& e : config.entities) known += (known.empty() ? "" : ", ") + e.name;
  return Status::InvalidArgument("unknown entity '" + std::string(entity) +
                                 "' (the config declares: " +
                                 (known.empty() ? "none" : known) + ")");
}

Status Cluster::WithConnection(ConnectionPool& pool, std::string_view what, Retry retry,
                               const std::function<Status(Connection&)>& fn,
                               int lock_timeout_ms) {
  // One operation = one call here, timed from the first Acquire to the
  // final answer (retries and backoff included), since that is what the
  // caller waited for. Real time, not the Env's: a FaultEnv's clock is for
  // lease logic, latency is what a dashboard compares with its own.
  auto start = std::chrono::steady_clock::now();
  int retries = 0;
  Status s = WithConnectionUncounted(pool, what, retry, fn, lock_timeout_ms, &retries);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  pool.metrics().RecordOperation(static_cast<uint64_t>(us.count()), retries, s.code());
  return s;
}

std::vector<DatabaseMetrics> Cluster::DatabaseSnapshots() {
  std::vector<DatabaseMetrics> out;
  for (const DatabaseConfig& db : config.databases) out.push_back(Pool(db.name).Snapshot());
  return out;
}

Status Cluster::WithConnectionUncounted(ConnectionPool& pool, std::string_view what, Retry retry,
                                        const std::function<Status(Connection&)>& fn,
                                        int lock_timeout_ms, int* retries) {
  constexpr int kMaxAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    Result<ConnectionPool::Lease> lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    try {
      if (retry != Retry::kNested) return fn(**lease);
      Connection& c = **lease;
      const Backend backend = pool.dialect().backend();
      c.SetLockTimeout(backend, std::max(1, lock_timeout_ms));
      Status s;
      try {
        s = fn(c);
      } catch (...) {
        c.MarkBroken();  // its lock timeout may still be the short one
        throw;
      }
      c.SetLockTimeout(backend, 0);
      return s;
    } catch (const backend::CommitOutcomeUnknown& e) {
      lease->Discard();
      return Status::OutcomeUnknown(
          std::string(what) + " on database '" + pool.name() +
          "': the connection broke during COMMIT, so the write may or may not have been "
          "applied; read the record back (or retry with if_version) before retrying: " +
          e.detail);
    } catch (const soci::soci_error& e) {
      backend::ErrorKind kind = backend::Classify(e);
      bool again = false;
      if (kind == backend::ErrorKind::kConnection) {
        lease->Discard();
        // A pooled connection may have died while idle (server restart):
        // one fresh try is safe for reads. Writes are not retried: the
        // commit may have happened before the link broke.
        // A statement timeout is not retried: the server did not answer,
        // and a fresh connection would wait for it again.
        again = retry == Retry::kReadOnly && attempt == 1 && !backend::IsStatementTimeout(e);
      } else {
        (*lease)->ForgetStatements();
        again = retry != Retry::kNested &&
                (kind == backend::ErrorKind::kRetryable ||
                 (retry == Retry::kWrite && kind == backend::ErrorKind::kUniqueViolation));
      }
      if (!again || attempt >= kMaxAttempts) return backend::ToStatus(e, pool.name(), what);
      ++*retries;
      env->SleepFor(std::chrono::milliseconds(1 << std::min(attempt, 6)));
    } catch (const std::exception& e) {
      lease->Discard();
      return Status::Internal(std::string(what) + " on database '" + pool.name() +
                              "': " + e.what());
    }
  }
}

Status Cluster::ForEachShard(const std::vector<size_t>& shard_ids,
                             const std::function<Status(size_t)>& fn, Fanout fanout) {
  const size_t n = shard_ids.size();
  std::vector<Status> results(n);
  auto run = [&](size_t i) {
    try {
      results[i] = fn(shard_ids[i]);
    } catch (const std::exception& e) {
      results[i] = Status::Internal(e.what());
    }
  };
  const bool in_process = all_shards_in_process;
  // Read once: hardware_concurrency() reads /sys on every call (glibc's
  // get_nprocs), which cost a query ~15 % of its CPU time when it was
  // asked per fan-out (shard-bench query_eq; callgrind does not see it).
  static const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (n == 1 || (fanout == Fanout::kSmall && in_process)) {
    // No hand-off to a worker (and back) for a little work.
    for (size_t i = 0; i < n; ++i) run(i);
  } else if (fanout == Fanout::kCpu && in_process && n > cores) {
    // `cores` lanes (the caller is one), each taking the next shard.
    std::atomic<size_t> next{0};
    auto lane = [&] {
      for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) run(i);
    };
    workers.RunAll(std::vector<std::function<void()>>(cores, lane));
  } else {
    std::vector<std::function<void()>> tasks;
    tasks.reserve(n);
    for (size_t i = 0; i < n; ++i) tasks.push_back([&run, i] { run(i); });
    workers.RunAll(std::move(tasks));
  }
  Status first;
  for (Status& s : results) {
    if (s.ok()) continue;
    if (first.ok() || (s.IsUnavailable() && !first.IsUnavailable())) first = s;
  }
  return first;
}

}  // namespace libshard::cluster

namespace libshard {

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
  // Only a short prefix of a long id: messages end up in logs, and an id
  // may carry data (an email, a token) that does not belong there.
  constexpr size_t kShownBytes = 64;
  std::string_view shown = id.substr(0, kShownBytes);
  bool printable = std::all_of(shown.begin(), shown.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  std::string out = std::string(entity) + "/" +
                    (printable ? std::string(shown) : "0x" + ids::ToHex(shown));
  if (shown.size() < id.size()) out += "… (" + std::to_string(id.size()) + "-byte id)";
  return out;
}

}  // namespace libshard
