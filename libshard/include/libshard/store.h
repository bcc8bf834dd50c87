// Store: the handle a service holds on a sharded cluster.
//
// Every record lives in exactly one record shard, chosen by hashing its ID
// (XXH3-64 with the configured seed) into one of a fixed number of virtual
// buckets and looking the bucket up in the bucket map kept in the catalog
// database. A record is a MessagePack map plus metadata: `version` (1 on
// create, +1 per write) and `updated` (microseconds since the Unix epoch).
//
//   auto cfg = libshard::ClusterConfig::Load("libshard.yaml");
//   auto store = libshard::Store::Open(*cfg);
//   auto v = (*store)->Put("users", "ada", doc);          // -> version 1
//   auto rec = (*store)->Get("users", "ada");              // -> Record
//
// Errors (see status.h): kNotFound, kVersionConflict (if_version mismatch),
// kUniqueViolation (a unique index refused the value), kInvalidArgument
// (unknown entity, empty/oversized id, body not a map), kUnavailable (a
// database could not be reached within Options::connect_timeout_seconds; other
// shards keep working), kCorruption (stored bytes are not a valid document).
//
// Thread-safety: a Store is safe to share between threads. Each database has
// its own connection pool; calls on different shards run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libshard/config.h"
#include "libshard/document.h"
#include "libshard/id.h"
#include "libshard/index.h"
#include "libshard/metrics.h"
#include "libshard/options.h"
#include "libshard/rebalance.h"
#include "libshard/status.h"

namespace libshard {

struct Record {
  Id id;
  uint64_t version = 0;
  int64_t updated_us = 0;  // microseconds since the Unix epoch
  Document doc;
};

// A record whose body is left as MessagePack bytes (for typed structs and
// pass-through tools that do not need a Document).
struct RawRecord {
  Id id;
  uint64_t version = 0;
  int64_t updated_us = 0;
  std::string body;  // a MessagePack map
};

struct PutItem {
  Id id;
  Document doc;
  WriteOptions options;
};

struct Location {
  uint32_t bucket = 0;
  std::string shard;
};

// One page of query results: records in index order. A record matching
// through several index rows (e.g. several tags) appears once per row.
struct QueryPage {
  std::vector<Record> records;
  std::string next;  // cursor for the next page; empty when there is none
};

struct EntityCount {
  std::string shard;
  std::string entity;
  uint64_t records = 0;
};

class Store {
 public:
  // Creates or upgrades every table on every database and, on first run,
  // writes the bucket map to the catalog. Idempotent. InvalidConfig if the
  // catalog was initialized with a different bucket count or hash seed.
  static Status Init(const ClusterConfig& config, const Options& options = {});

  // Connects to the catalog and reads the bucket map. Record shards are
  // connected lazily, so a shard that is down affects only its own records.
  // InvalidConfig when the catalog was never initialized (run Init or
  // `shardctl init`) or disagrees with the config.
  static Result<std::unique_ptr<Store>> Open(const ClusterConfig& config,
                                             const Options& options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Creates or replaces the record; returns its new version. `doc` must be
  // an object. With options.if_version, kVersionConflict on mismatch.
  Result<uint64_t> Put(std::string_view entity, std::string_view id,
                       const Document& doc, const WriteOptions& options = {});
  // As Put, with the body already encoded as a MessagePack map.
  Result<uint64_t> PutRaw(std::string_view entity, std::string_view id,
                          std::string_view msgpack_map,
                          const WriteOptions& options = {});

  // kNotFound when absent.
  Result<Record> Get(std::string_view entity, std::string_view id);
  Result<RawRecord> GetRaw(std::string_view entity, std::string_view id);

  // true if a record was deleted, false if there was none (not an error).
  // With options.if_version, kVersionConflict on mismatch (if_version 0
  // matches only an absent record).
  Result<bool> Delete(std::string_view entity, std::string_view id,
                      const WriteOptions& options = {});

  // The records that exist, in request order; missing IDs are left out.
  // One query per shard, shards in parallel. Duplicate IDs appear once per
  // request position.
  Result<std::vector<Record>> GetMany(std::string_view entity,
                                      const std::vector<Id>& ids);

  // Writes grouped per shard: one transaction per shard, shards in
  // parallel. Returns the new versions in item order. On error no write of
  // the failing shard's batch is kept; batches on other shards may have
  // committed (each item is safe to retry without if_version).
  Result<std::vector<uint64_t>> PutMany(std::string_view entity,
                                        const std::vector<PutItem>& items);

  using Predicate = std::function<bool(const Record&)>;
  using Visitor = std::function<bool(Record&&)>;  // return false to stop

  // Visits every record of `entity` for which `where` (may be null) holds.
  // Shards are read in parallel, in chunks of Options::scan_chunk, and
  // `where` runs on the reading threads; `visit` is called one record at a
  // time (never concurrently), in no particular order across shards.
  Status Scan(std::string_view entity, const Predicate& where,
              const Visitor& visit);
  // Scan collected into a vector.
  Result<std::vector<Record>> ScanAll(std::string_view entity,
                                      const Predicate& where = nullptr);

  // Where an ID lives. Pure computation, no I/O.
  Location Locate(std::string_view id) const;

  // Record counts per shard and entity.
  Result<std::vector<EntityCount>> Stats();

  // --- Secondary indexes (see index.h) ---------------------------------

  // Records found through a ready index, re-checked against the query.
  // InvalidArgument for an unknown index/column, a bad value or cursor, or
  // an index that is not ready yet.
  Result<QueryPage> Query(std::string_view entity, const struct Query& query);

  // Every index known to the catalog, with its state and build progress.
  Result<std::vector<IndexStatus>> IndexStatuses();

  // Online build: registers the index (from this Store's config) as
  // write_only if the catalog does not know it, waits until every process
  // maintains it, backfills each shard from its checkpoint, marks it ready.
  // Resumable: after a crash, calling it again continues. Writes continue
  // meanwhile. UniqueViolation if existing records hold duplicate values.
  Status BuildIndex(std::string_view entity, std::string_view index,
                    const BuildOptions& options = {});

  // Exact counts of missing and dangling rows (reads every record and
  // every index row; run it when writers are quiet for exact numbers).
  Result<VerifyReport> VerifyIndex(std::string_view entity, std::string_view index);
  // Inserts missing rows and deletes dangling ones; returns what it fixed.
  Result<VerifyReport> RepairIndex(std::string_view entity, std::string_view index);

  // Online drop: queries stop at once, writers stop maintaining it, then
  // its tables and catalog rows are removed.
  Status DropIndex(std::string_view entity, std::string_view index);

  // --- Resharding (see rebalance.h) -------------------------------------

  // The moves Rebalance would make now; changes nothing. InvalidArgument
  // when a drained shard is unknown or every shard would be drained.
  Result<std::vector<BucketMove>> PlanRebalance(const RebalanceOptions& options = {});
  // Finishes every move recorded in the catalog (interrupted earlier), then
  // moves buckets until each shard owns its share: counts differ by at most
  // one with equal weights; drained shards own none. Writes and reads in
  // every process continue. A move that fails (a shard down) is recorded
  // and reported in RebalanceReport::failed; the others proceed; the call
  // then returns the report (check `failed`), and running it again resumes.
  Result<RebalanceReport> Rebalance(const RebalanceOptions& options = {});
  // Moves one bucket to shard `to` (or finishes its interrupted move).
  // InvalidArgument for a bucket out of range or an unknown shard;
  // kUnavailable when a shard involved cannot be reached (resumable).
  Status MoveBucket(uint32_t bucket, std::string_view to, const MoveOptions& options = {});
  // Moves in progress or failed, from the catalog.
  Result<std::vector<MoveState>> MoveStates();
  // Buckets owned per shard (config order) and the shares Rebalance aims at.
  Result<std::vector<ShardShare>> BucketShares();

  // --- Metrics (see metrics.h) -------------------------------------------

  // This process's counters per database and index, with the pools' sizes
  // now and the index states from the catalog. Never fails: when the
  // catalog cannot be read, index_states_ok is false.
  MetricsSnapshot Metrics();
  // RenderPrometheus(Metrics()): the body of a /metrics endpoint.
  std::string PrometheusText();

  const ClusterConfig& config() const;

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace libshard
