// The workloads of issue 4. Each returns one WorkloadResult per backend;
// a workload that cannot run (a library call that fails or is not there
// yet) reports "skipped: <reason>" instead of aborting the run.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bench/baseline.h"
#include "bench/bench.h"
#include "bench/cluster.h"
#include "libshard/store.h"

namespace bench {

struct Context {
  Cluster& cluster;
  Baseline& baseline;  // the main thread's connections
  Scale scale;
  std::set<std::string> loaded;  // data sets already preloaded

  libshard::Store& store() { return cluster.store(); }
};

using WorkloadFn = WorkloadResult (*)(Context&);

struct WorkloadDef {
  const char* id;
  const char* title;
  bool postgres;  // also run on PostgreSQL (the core workloads)
  WorkloadFn fn;
  bool mariadb = false;  // also run on MariaDB
  bool sqlite = true;    // runs on SQLite (false: a server-only workload)
};
const std::vector<WorkloadDef>& AllWorkloads();

// Runs one workload, turning exceptions into a skipped result.
WorkloadResult RunWorkload(const WorkloadDef& def, Context& ctx);

// --- helpers shared by the workload files ---------------------------------
void Check(const libshard::Status& s, const std::string& what);
template <typename T>
T Take(libshard::Result<T>&& r, const std::string& what) {
  Check(r.status(), what);
  return std::move(r).value();
}
// Operation count of a round; round < 0 is the untimed warm-up (smaller).
size_t Count(int round, size_t n);
// Writes records 0..n-1 of data set `stream` (docs MakeDoc(i, cities))
// through PutMany, once per Context.
void Preload(Context& ctx, const std::string& entity, uint64_t stream, size_t n, size_t cities);
// The same, every time it is called (records back at version 1).
void Load(Context& ctx, const std::string& entity, uint64_t stream, size_t n, size_t cities);

// One put_batch comparison (workloads_core.cc): PutMany of `batch_size`
// against `base_batch`, which writes one batch (ids and docs) by hand.
using BaseBatch = std::function<void(const std::vector<std::string>& ids,
                                     const std::vector<const libshard::Document*>& docs)>;
void PutBatchRounds(Context& ctx, WorkloadResult* r, const std::string& e,
                    const BaseBatch& base_batch);

WorkloadResult RunGet(Context& ctx);
WorkloadResult RunPut(Context& ctx);
WorkloadResult RunPutBatch(Context& ctx);
WorkloadResult RunGetMany(Context& ctx);
WorkloadResult RunGetManyIn(Context& ctx);
WorkloadResult RunScan(Context& ctx);
WorkloadResult RunPutIndex(Context& ctx);
WorkloadResult RunQueryEq(Context& ctx);
WorkloadResult RunQueryRange(Context& ctx);
WorkloadResult RunIndexBuild(Context& ctx);
WorkloadResult RunWriters(Context& ctx);
WorkloadResult RunRebalance(Context& ctx);
// workloads_servers.cc
WorkloadResult RunPutBatchMultirow(Context& ctx);
WorkloadResult RunPutPowersafe(Context& ctx);
WorkloadResult RunPutBatchPowersafe(Context& ctx);
// workloads_raw.cc: against the raw sqlite3 C API (SQLite only).
WorkloadResult RunGetRaw(Context& ctx);
WorkloadResult RunPutRaw(Context& ctx);
WorkloadResult RunPutBatchRaw(Context& ctx);
WorkloadResult RunScanRaw(Context& ctx);
WorkloadResult RunGetRawFenced(Context& ctx);
WorkloadResult RunPutRawFenced(Context& ctx);
// workloads_cache.cc: the record cache on vs off (libshard against itself).
WorkloadResult RunGetCacheMemory(Context& ctx);
WorkloadResult RunGetCacheShared(Context& ctx);
WorkloadResult RunMixCache(Context& ctx);
WorkloadResult RunPutCache(Context& ctx);

}  // namespace bench
