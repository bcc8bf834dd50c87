// Internals shared by the config sources: config.cc (YAML → ClusterConfig),
// config_validate.cc (the rules) and config_url.cc (connection strings).
// Nothing here is public API.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libshard/config.h"

namespace libshard::config_internal {

// Most columns one index may have. Each column is part of every index key
// and of every keyset cursor; eight is plenty and keeps keys short.
inline constexpr size_t kMaxIndexColumns = 8;
inline constexpr size_t kMaxEntityPlusIndexName = 48;
inline constexpr uint32_t kMaxBuckets = 65536;
// Shard weights (ClusterConfig::shard_weights) run from 1 to this.
inline constexpr uint32_t kMaxShardWeight = 1000;

// ClusterConfig keeps the marks of definitions (a database, an entity…) but
// not of references to them (the catalog name, each shard, each index
// database). The parser records those here so that "unknown database" points
// at the exact list element; configs built in code have none, and Validate
// then falls back to the nearest definition's mark.
struct ReferenceMarks {
  SourceMark catalog;             // the value of `catalog:`
  SourceMark shards;              // the `shards:` list itself
  std::vector<SourceMark> shard;  // parallel to ClusterConfig::shards
  // (entity position, index position) -> marks parallel to
  // IndexConfig::databases.
  std::map<std::pair<size_t, size_t>, std::vector<SourceMark>> index_databases;
};

// The rules behind ClusterConfig::Validate. `marks` may be null.
Status ValidateConfig(const ClusterConfig& config, const ReferenceMarks* marks);

// Document paths: segments of [A-Za-z0-9_-]+ joined by '.', one of which may
// end in "[]" (one index row per array element): "email", "a.b", "tags[]".
bool IsValidFieldPath(std::string_view path);

// Replaces ${VAR} with the environment variable's value, ${VAR:-text} with
// the value or `text` when unset or empty; "$${" is a literal "${". The
// error names the variable but never any value.
Result<std::string> SubstituteEnv(std::string_view text);

// A connection string split into what libshard needs.
struct ParsedUrl {
  Backend backend = Backend::kSqlite;
  std::string url;  // canonical: "sqlite3://db=/abs/path …", "mysql://…"
};

// Checks the settings after "scheme://" the way the backend will read them
// (SOCI's sqlite3 and MySQL parsers, libpq's): unknown or repeated keys,
// unterminated quotes, bad numbers. Messages name settings by key or
// position and never quote a value.
Status CheckSettings(Backend backend, std::string_view settings);

// What a connection string points at, so that two database names for one
// database can be refused: the absolute SQLite file (symbolic links
// resolved), or the server and database name with libpq/MySQL defaults
// filled in. `key` is empty when it cannot be told (":memory:", a
// PostgreSQL service, no database name…). `description` has no password.
struct DatabaseTarget {
  std::string key;
  std::string description;
};
DatabaseTarget TargetOf(Backend backend, std::string_view url);

// Picks the backend from the scheme (sqlite3, postgresql|postgres,
// mysql|mariadb), rewrites aliases to the SOCI backend name, and makes a
// relative SQLite db path absolute against `base_dir` (which must itself be
// absolute). Error messages never quote the string: the caller does, redacted.
Result<ParsedUrl> NormalizeDatabaseUrl(std::string_view url, const std::string& base_dir);

// Cache values: "64MiB", "1GiB", "4096" (bytes; B KiB MiB GiB KB MB GB)
// and "60s", "500ms", "5m", "1h". False when `text` is not one.
bool ParseByteSize(std::string_view text, uint64_t* out);
bool ParseDurationMs(std::string_view text, std::chrono::milliseconds* out);

inline constexpr std::chrono::milliseconds kMinCacheTtl{1};
inline constexpr std::chrono::milliseconds kMaxCacheTtl{24 * 3600 * 1000};
inline constexpr uint64_t kMaxCacheMemory = 1ull << 40;

// The cache servers (names, URLs) and the entities' `cache:` (a known
// server, ttl in range); `error_at` makes the located error.
Status ValidateCaches(const ClusterConfig& config,
                      const std::function<Status(const SourceMark&, const std::string&)>& error_at);

}  // namespace libshard::config_internal
