#include "cache/cache_set.h"

#include <algorithm>

namespace libshard::cache {

Result<std::unique_ptr<CacheSet>> CacheSet::Create(
    const ClusterConfig& config, const Options& options, const std::string& cluster_id,
    CacheHooks hooks, std::function<bool(std::string_view, std::string_view)> fail) {
  auto set = std::make_unique<CacheSet>();
  for (const EntityConfig& entity : config.entities) {
    const EntityCacheConfig& c = entity.cache;
    if (!c.enabled()) continue;
    // Caching off in this process: only the shared tier is kept, to
    // invalidate after writes.
    if (!options.cache && c.shared.empty()) continue;
    SharedTier* shared = nullptr;
    if (!c.shared.empty()) {
      auto it = set->servers_.find(c.shared);
      if (it == set->servers_.end()) {
        const CacheServerConfig* server = config.FindCache(c.shared);
        if (server == nullptr) {
          return Status::InvalidConfig("entity '" + entity.name + "': cache server '" + c.shared +
                                       "' is not under caches:");
        }
        SharedTierOptions o;
        o.name = server->name;
        o.url = server->url;
        o.timeout = std::chrono::milliseconds(std::max(1, options.cache_timeout_ms));
        o.breaker = std::chrono::milliseconds(std::max(0, options.cache_breaker_ms));
        // The longest ttl of the entities on this server (see max_ttl).
        o.max_ttl = std::chrono::milliseconds(0);
        for (const EntityConfig& other : config.entities) {
          if (other.cache.shared == c.shared) o.max_ttl = std::max(o.max_ttl, other.cache.ttl);
        }
        if (fail) {
          o.fault = [fail, name = server->name](std::string_view op) { return fail(name, op); };
        }
        Result<std::unique_ptr<SharedTier>> tier = SharedTier::Create(std::move(o));
        if (!tier.ok()) return tier.status();
        it = set->servers_.emplace(c.shared, std::move(tier).value()).first;
      }
      shared = it->second.get();
    }
    std::string prefix = "ls:" + cluster_id + ":" + entity.name + ":";
    set->entities_.emplace(entity.name,
                           std::make_unique<RecordCache>(entity.name, c, std::move(prefix), shared,
                                                         options.cache, hooks));
  }
  return set;
}

RecordCache* CacheSet::For(std::string_view entity) const {
  auto it = entities_.find(entity);
  return it == entities_.end() ? nullptr : it->second.get();
}

void CacheSet::AppendMetrics(const ClusterConfig& config, std::vector<CacheMetrics>* out) const {
  for (const EntityConfig& entity : config.entities) {
    if (const RecordCache* c = For(entity.name)) c->AppendMetrics(out);
  }
}

}  // namespace libshard::cache
