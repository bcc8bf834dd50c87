// ClusterConfig: the cluster described by a YAML file (see README "Config
// reference"): databases by name with SOCI connection strings, the record
// shards, the catalog database, the fixed number of virtual buckets, and the
// entities with their secondary indexes.
//
// Load() validates everything it can without a connection and reports the
// first problem as one InvalidConfig status naming file:line:column. Values
// may use ${ENV_VAR}; relative SQLite paths resolve against the folder of the
// config file.
//
// Thread-safety: a loaded ClusterConfig is immutable data.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libshard/document.h"
#include "libshard/status.h"

namespace libshard {

// Where a value came from, for error messages: "cluster.yaml:4:12".
struct SourceMark {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
  std::string ToString() const;
};

enum class ColumnType { kInt, kFloat, kString, kBool, kBytes };
const char* ColumnTypeName(ColumnType t);

struct IndexColumnConfig {
  std::string name;   // SQL column name, [a-z_][a-z0-9_]*
  ColumnType type = ColumnType::kString;
  std::string field;  // document path: "email", "address.city", "tags[]"
  bool lower = false; // transform: lower (strings only)
  SourceMark mark;
};

// One index row: a value per index column, in column order.
using IndexRow = std::vector<Document>;
// A C++ index: appends 0..n rows for a document. Must be deterministic (the
// same document always gives the same rows) and cheap: it runs on every
// write of the entity and again on every query hit (re-check).
using IndexMapFunction = std::function<void(const Document& doc, std::vector<IndexRow>* rows)>;

struct IndexConfig {
  std::string name;
  std::vector<std::string> databases;  // >1 = sharded by the first column
  bool unique = false;
  std::vector<IndexColumnConfig> columns;
  // Set for indexes defined in C++ (columns then need no `field`); empty
  // for YAML indexes, whose rows come from the columns' field paths.
  IndexMapFunction map;
  SourceMark mark;
};

// An entity's record cache (YAML `cache:` of an entity; README "Caching").
// Get, GetMany and a query's record fetch read through it; every write of
// the entity invalidates it after its COMMIT. Either tier alone, or both
// (memory in front of shared in front of the shard).
struct EntityCacheConfig {
  // Memory tier: at most this many bytes (keys + bodies) per process and
  // entity; 0 = no memory tier. YAML: `memory: 64MiB` (B, KiB, MiB, GiB).
  // The tier is split in 16 stripes, so a record larger than 1/16 of it is
  // not cached in memory.
  uint64_t memory_bytes = 0;
  // Shared tier: the name of a `caches:` server; "" = no shared tier.
  std::string shared;
  // How long an entry may live. It is also the bound of the windows in
  // which a replaced version can still be served: another process's
  // memory tier (it is not told about writes made elsewhere), and a writer
  // that could not reach the shared server. YAML: `ttl: 60s` (ms, s, m, h).
  std::chrono::milliseconds ttl{60000};
  // The memory tier's own ttl, when it should be shorter; 0 = `ttl`.
  std::chrono::milliseconds memory_ttl{0};
  SourceMark mark;
  bool enabled() const { return memory_bytes > 0 || !shared.empty(); }
  std::chrono::milliseconds MemoryTtl() const {
    return memory_ttl.count() > 0 ? memory_ttl : ttl;
  }
};

struct EntityConfig {
  std::string name;
  std::vector<IndexConfig> indexes;
  EntityCacheConfig cache;  // off unless `cache:` is given
  SourceMark mark;
  const IndexConfig* FindIndex(std::string_view name) const;
};

enum class Backend { kSqlite, kPostgres, kMysql };
const char* BackendName(Backend b);

struct DatabaseConfig {
  std::string name;
  Backend backend = Backend::kSqlite;
  // SOCI connection string after ${VAR} substitution and path resolution,
  // e.g. "sqlite3://db=/abs/data/s0.db". May hold a password: print
  // RedactedUrl(), never this.
  std::string url;
  SourceMark mark;
  std::string RedactedUrl() const;
};

// A shared cache server (top-level `caches:`, name → connection string).
struct CacheServerConfig {
  std::string name;
  // redis://[[user]:password@]host[:port][/db] after ${VAR} substitution.
  // May hold a password: print RedactedUrl(), never this.
  std::string url;
  SourceMark mark;
  std::string RedactedUrl() const;
};

struct ClusterConfig {
  std::string source;          // file the config was read from ("" if none)
  uint32_t buckets = 1024;     // fixed at init
  uint64_t hash_seed = 0;      // XXH3 seed, fixed at init
  SourceMark buckets_mark;     // where `buckets` was set, for catalog checks
  SourceMark hash_seed_mark;
  std::string catalog;         // name of the catalog database
  std::vector<DatabaseConfig> databases;
  std::vector<std::string> shards;  // record shards, in bucket-map order
  // Parallel to `shards`: each shard's share of the buckets in a rebalance
  // (a shard of weight 2 aims at twice the buckets of one of weight 1), an
  // integer from 1 to 1000. YAML: `shards: [s0, {name: s1, weight: 2}]`.
  // Load/Parse always fill it (1 when not given); a config built in code may
  // leave it empty, meaning every weight is 1. Read it through ShardWeight().
  std::vector<uint32_t> shard_weights;
  std::vector<EntityConfig> entities;
  std::vector<CacheServerConfig> caches;

  // Reads, substitutes, resolves and validates a YAML file.
  static Result<ClusterConfig> Load(const std::string& path);
  // Same, from text. `source` names it in errors; `base_dir` anchors
  // relative SQLite paths (current directory when empty).
  static Result<ClusterConfig> Parse(std::string_view yaml,
                                     const std::string& source,
                                     const std::string& base_dir);

  // Checks names, references and limits. Load/Parse call this; call it
  // again after building or editing a config in code.
  Status Validate() const;

  const DatabaseConfig* FindDatabase(std::string_view name) const;
  const EntityConfig* FindEntity(std::string_view name) const;
  const CacheServerConfig* FindCache(std::string_view name) const;
  // The weight of shards[i]: 1 when shard_weights is empty (or too short).
  uint32_t ShardWeight(size_t i) const;
};

// True for identifiers safe to splice into SQL: [a-z_][a-z0-9_]{0,47}.
bool IsValidIdentifier(std::string_view name);

// The URL with any password=… value replaced by "***".
std::string RedactUrl(std::string_view url);

}  // namespace libshard
