// Workload registry, the paired-round runner and shared helpers.
#include "bench/workloads.h"

#include <soci/soci.h>
#include <sys/resource.h>

#include <algorithm>

// Under `valgrind --tool=callgrind --instr-atstart=no` instrumentation
// starts at the first paired round: the preload (slow under valgrind, and
// a batch that outlasts the index lease is rolled back) is not counted.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define LIBSHARD_BENCH_START_INSTRUMENTATION() CALLGRIND_START_INSTRUMENTATION
#else
#define LIBSHARD_BENCH_START_INSTRUMENTATION() ((void)0)
#endif

#include "bench/data.h"

namespace bench {
namespace {
std::string g_workload;  // the running workload's id, for callgrind labels
}  // namespace

const std::vector<WorkloadDef>& AllWorkloads() {
  static const std::vector<WorkloadDef> kAll = {
      {"get", "point get", true, RunGet, true},
      {"put", "put (single record)", true, RunPut, true},
      {"put_batch", "put batched per shard (PutMany of 1000)", true, RunPutBatch, true},
      {"get_many", "get_many(100) vs 100 sequential gets", true, RunGetMany, true},
      {"get_many_in", "get_many(100) vs hand-written IN per shard", true, RunGetManyIn, true},
      {"put_index", "put with one index on a separate database", false, RunPutIndex},
      {"query_eq", "index equality query (~10 hits)", false, RunQueryEq},
      {"query_range", "index range query (100 hits)", false, RunQueryRange},
      {"scan", "scan (all records, decoded)", true, RunScan},
      {"index_build", "online index build", false, RunIndexBuild},
      {"writers", "2 vs 1 writer threads, 4 SQLite shards", false, RunWriters},
      {"rebalance", "rebalance 4 → 6 shards under a paced writer", true, RunRebalance},
      // workloads_servers.cc (issue 9 items 2 and 6)
      {"put_batch_multirow", "PutMany of 1000 vs a hand-written multi-row upsert per shard",
       true, RunPutBatchMultirow, true, false},
      {"put_powersafe", "put (single record), Durability::kPowerLoss", true, RunPutPowersafe,
       true},
      {"put_batch_powersafe", "PutMany of 1000, Durability::kPowerLoss", true,
       RunPutBatchPowersafe, true},
      // The floor: against the raw sqlite3 C API (workloads_raw.cc).
      {"get_raw", "point get vs raw sqlite3 C API", false, RunGetRaw},
      {"put_raw", "put (single record) vs raw sqlite3 C API", false, RunPutRaw},
      {"put_batch_raw", "put batched per shard vs raw sqlite3 C API", false, RunPutBatchRaw},
      {"scan_raw", "scan vs raw sqlite3 C API", false, RunScanRaw},
      {"get_raw_fenced", "point get vs raw sqlite3 C API with the same fence", false,
       RunGetRawFenced},
      {"put_raw_fenced", "put (single record) vs raw sqlite3 C API with the same fence", false,
       RunPutRawFenced},
      // The record cache, on vs off (workloads_cache.cc, issue 10).
      {"get_cache_memory", "point get, warm memory cache vs no cache", true, RunGetCacheMemory},
      {"get_cache_shared", "point get, warm shared (Redis) cache vs no cache", true,
       RunGetCacheShared},
      {"mix_cache", "95% get / 5% put, Zipf ids, memory + shared cache vs no cache", true,
       RunMixCache},
      {"put_cache", "put (single record) of a cached record, cache on vs off", true,
       RunPutCache},
  };
  return kAll;
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void WorkloadResult::Add(int /*round*/, const Measure& a, const Measure& b) {
  // CPU-time ratio: (B's CPU per unit) / (A's CPU per unit), same sense as
  // the throughput ratio. Less sensitive to other processes stealing the
  // cores than wall time; meaningless where waiting (fsync, locks) rules.
  if (a.cpu_seconds > 0 && b.cpu_seconds > 0 && a.ops > 0 && b.ops > 0) {
    metrics["cpu_ratio"].push_back((b.cpu_seconds / b.ops) / (a.cpu_seconds / a.ops));
  }
  if (a.cpu_seconds > 0 && a.ops > 0) a_cpu_us.push_back(a.cpu_seconds / a.ops * 1e6);
  if (b.cpu_seconds > 0 && b.ops > 0) b_cpu_us.push_back(b.cpu_seconds / b.ops * 1e6);
  a_tput.push_back(a.Throughput());
  b_tput.push_back(b.Throughput());
  ratio.push_back(b.Throughput() > 0 ? a.Throughput() / b.Throughput() : 0);
  a_lat_us.insert(a_lat_us.end(), a.lat_us.begin(), a.lat_us.end());
  b_lat_us.insert(b_lat_us.end(), b.lat_us.begin(), b.lat_us.end());
}

void RunPaired(WorkloadResult* r, int rounds,
               const std::function<Measure(bool is_a, int round)>& side) {
  LIBSHARD_BENCH_START_INSTRUMENTATION();
  // Each side named for callgrind's per-side dumps (bench/callgrind.h).
  auto run = [&](bool is_a, int round) {
    CallgrindSide(g_workload + (r->id.empty() ? "" : "/" + r->id) + " " + (is_a ? "A" : "B") +
                  (round < 0 ? " warm-up" : " round " + std::to_string(round)));
    return side(is_a, round);
  };
  // Untimed warm-up of both sides: statements prepared, caches filled.
  run(true, -1);
  run(false, -1);
  for (int round = 0; round < rounds; ++round) {
    Measure a, b;
    if (round % 2 == 0) {
      a = run(true, round);
      b = run(false, round);
    } else {
      b = run(false, round);
      a = run(true, round);
    }
    r->Add(round, a, b);
  }
}

WorkloadResult RunWorkload(const WorkloadDef& def, Context& ctx) {
  WorkloadResult r;
  g_workload = def.id;
  try {
    r = def.fn(ctx);
  } catch (const Skip& e) {
    r = WorkloadResult();
    r.skipped = e.what();
  } catch (const soci::soci_error& e) {
    r = WorkloadResult();
    r.skipped = std::string("failed: SOCI: ") + e.what();
  } catch (const std::exception& e) {
    r = WorkloadResult();
    r.skipped = std::string("failed: ") + e.what();
  }
  r.id = def.id;
  if (r.title.empty()) r.title = def.title;
  r.backend = ctx.cluster.backend();
  for (WorkloadResult& m : r.more) {  // ids set by the workload (put_batch_par…)
    if (m.title.empty()) m.title = r.title;
    m.backend = r.backend;
  }
  return r;
}

void Fail(const std::string& what) { throw BenchError(what); }

void Check(const libshard::Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

size_t Count(int round, size_t n) {
  return round < 0 ? std::max<size_t>(1, std::min<size_t>(n, std::max<size_t>(n / 10, 200))) : n;
}

void Preload(Context& ctx, const std::string& entity, uint64_t stream, size_t n, size_t cities) {
  const std::string key = entity + "/" + std::to_string(stream) + "/" + std::to_string(n);
  if (ctx.loaded.count(key)) return;
  Load(ctx, entity, stream, n, cities);
  ctx.loaded.insert(key);
}

void Load(Context& ctx, const std::string& entity, uint64_t stream, size_t n, size_t cities) {
  constexpr size_t kBatch = 1000;
  for (size_t start = 0; start < n; start += kBatch) {
    std::vector<libshard::PutItem> items;
    for (size_t i = start; i < std::min(n, start + kBatch); ++i) {
      items.push_back({MakeId(stream, i), MakeDoc(i, cities), {}});
    }
    Take(ctx.store().PutMany(entity, items), "preload " + entity);
  }
  ctx.cluster.Checkpoint();
}

}  // namespace bench
