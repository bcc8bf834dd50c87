// Metrics: what a service scrapes about its Store — per database the
// operations, errors by code, retries, a latency histogram and the
// connection pool; per index its state, backfill progress and the rows
// this process's writes inserted.
//
//   libshard::MetricsSnapshot m = store->Metrics();
//   std::string body = libshard::RenderPrometheus(m);  // serve on /metrics
//
// Counters are kept by this process (since Store::Open) and only grow;
// index states and backfill progress are read from the catalog at each
// snapshot, so they are the cluster's. Plain structs: no SOCI or msgpack.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace libshard {

// One database of the config (record shard, catalog or index database).
// An "operation" is one call to a database as the library makes it: one
// lease of a connection and the statements run on it, with its retries.
struct DatabaseMetrics {
  std::string database;
  std::string backend;                             // "sqlite", "postgresql", "mysql"
  uint64_t operations = 0;                         // finished, OK or not
  uint64_t retries = 0;                            // extra attempts after transient errors
  std::map<std::string, uint64_t> errors_by_code;  // "unavailable" → n (codes as in status.h)
  // Latency of operations (retries and backoff included). Upper bounds in
  // microseconds, ascending; `latency_buckets[i]` counts operations that
  // took ≤ latency_bounds_us[i] (cumulative), and one more entry at the
  // end counts all of them (le="+Inf", equal to `operations`).
  std::vector<uint64_t> latency_bounds_us;
  std::vector<uint64_t> latency_buckets;
  uint64_t latency_sum_us = 0;
  // Connection pool: its limit (Options::pool_size), connections open
  // (idle or leased), leased now, and how many Acquire calls had to wait
  // for a connection to come free.
  int pool_size = 0;
  int pool_open = 0;
  int pool_in_use = 0;
  uint64_t pool_waits = 0;
};

struct IndexMetrics {
  std::string entity;
  std::string index;
  std::string state;  // "write_only", "ready", "dropping" (IndexStateName)
  uint64_t shards_done = 0;      // backfill checkpoints complete
  uint64_t shards_total = 0;
  uint64_t records_scanned = 0;  // by the backfill so far
  uint64_t rows_written = 0;     // index rows inserted by this process's writes
};

// One cache tier of one entity (EntityCacheConfig). Counted by this
// process since Store::Open.
struct CacheMetrics {
  std::string entity;
  std::string tier;          // "memory" or "shared"
  std::string server;        // shared: the caches: name; memory: ""
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t fills = 0;        // entries stored after a shard read
  uint64_t stale_fills = 0;  // fills refused: a write (or an eviction) came between
  uint64_t invalidations = 0;  // entries dropped after this process's commits
  uint64_t errors = 0;       // shared: calls that failed (the shard answered instead)
  uint64_t bypassed = 0;     // shared: calls skipped while the breaker was open
  // Now: memory — entries and bytes held; shared — invalidations waiting
  // for the server, and whether the breaker is open.
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t pending_invalidations = 0;
  bool breaker_open = false;
};

struct MetricsSnapshot {
  std::vector<DatabaseMetrics> databases;  // in config order
  std::vector<IndexMetrics> indexes;       // by entity, index
  std::vector<CacheMetrics> caches;        // by entity (config order), memory first
  // Index states come from the catalog: false (with the reason) when it
  // could not be read; `indexes` then holds only the rows_written counts.
  bool index_states_ok = true;
  std::string index_states_error;
};

// The Prometheus text exposition format (version 0.0.4; Content-Type
// "text/plain; version=0.0.4; charset=utf-8"): metrics named libshard_*,
// each with HELP and TYPE lines.
std::string RenderPrometheus(const MetricsSnapshot& snapshot);

}  // namespace libshard
