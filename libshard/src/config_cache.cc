// The cache parts of the config: `caches:` (servers by name) and an
// entity's `cache: {memory: 64MiB, shared: hot, ttl: 60s}` — the value
// syntaxes here, their checks in ValidateCaches.
#include <charconv>
#include <set>

#include "cache/redis_url.h"
#include "config_internal.h"

namespace libshard {
namespace config_internal {
namespace {

// "64MiB" → 64 << 20: digits, optional spaces, then a unit.
bool ParseScaled(std::string_view text, const std::vector<std::pair<std::string_view, uint64_t>>& units,
                 uint64_t* out) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return false;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  for (const auto& [name, scale] : units) {
    if (unit != name) continue;
    if (scale != 0 && n > UINT64_MAX / scale) return false;
    *out = n * scale;
    return true;
  }
  return false;
}

}  // namespace

bool ParseByteSize(std::string_view text, uint64_t* out) {
  static const std::vector<std::pair<std::string_view, uint64_t>> kUnits = {
      {"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
      {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}};
  return ParseScaled(text, kUnits, out);
}

bool ParseDurationMs(std::string_view text, std::chrono::milliseconds* out) {
  static const std::vector<std::pair<std::string_view, uint64_t>> kUnits = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
  uint64_t ms = 0;
  if (!ParseScaled(text, kUnits, &ms) || ms > static_cast<uint64_t>(INT64_MAX)) return false;
  *out = std::chrono::milliseconds(static_cast<int64_t>(ms));
  return true;
}

Status ValidateCaches(const ClusterConfig& config,
                      const std::function<Status(const SourceMark&, const std::string&)>& error_at) {
  std::set<std::string> names;
  for (const CacheServerConfig& cache : config.caches) {
    if (!IsValidIdentifier(cache.name)) {
      return error_at(cache.mark, "cache server name '" + cache.name +
                                      "' must match [a-z_][a-z0-9_]{0,47}");
    }
    if (!names.insert(cache.name).second) {
      return error_at(cache.mark, "cache server '" + cache.name + "' is defined twice");
    }
    Result<cache::RedisEndpoint> endpoint = cache::ParseRedisUrl(cache.url);
    if (!endpoint.ok()) {
      return error_at(cache.mark, "cache server '" + cache.name + "' (\"" + cache.RedactedUrl() +
                                      "\"): " + endpoint.status().message());
    }
  }
  for (const EntityConfig& entity : config.entities) {
    const EntityCacheConfig& c = entity.cache;
    const std::string what = "entity '" + entity.name + "': cache";
    if (!c.shared.empty() && names.count(c.shared) == 0) {
      return error_at(c.mark, what + " names shared server '" + c.shared +
                                  "', which is not under caches:");
    }
    if (!c.enabled()) continue;
    if (c.ttl < kMinCacheTtl || c.ttl > kMaxCacheTtl) {
      return error_at(c.mark, what + ": ttl must be from 1ms to 24h");
    }
    if (c.memory_ttl.count() < 0 || c.memory_ttl > c.ttl) {
      return error_at(c.mark, what + ": memory_ttl must be from 1ms to ttl");
    }
    if (c.memory_bytes > kMaxCacheMemory) {
      return error_at(c.mark, what + ": memory must be at most 1TiB");
    }
  }
  return Status::OK();
}

}  // namespace config_internal

const CacheServerConfig* ClusterConfig::FindCache(std::string_view name) const {
  for (const CacheServerConfig& cache : caches) {
    if (cache.name == name) return &cache;
  }
  return nullptr;
}

std::string CacheServerConfig::RedactedUrl() const { return RedactUrl(url); }

}  // namespace libshard
