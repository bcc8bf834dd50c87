// CacheSet: every record cache of a Store — one SharedTier per `caches:`
// server that some entity uses, one RecordCache per entity with `cache:`.
// Built at Store::Open (it needs the catalog's cluster id for its keys).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/record_cache.h"
#include "libshard/options.h"

namespace libshard::cache {

class CacheSet {
 public:
  // `fail(server, op)`: the shared tiers' fault seam (may be null).
  static Result<std::unique_ptr<CacheSet>> Create(
      const ClusterConfig& config, const Options& options, const std::string& cluster_id,
      CacheHooks hooks, std::function<bool(std::string_view server, std::string_view op)> fail);

  // The entity's cache, or null when it has none.
  RecordCache* For(std::string_view entity) const;
  bool empty() const { return entities_.empty(); }

  void AppendMetrics(const ClusterConfig& config, std::vector<CacheMetrics>* out) const;

 private:
  std::map<std::string, std::unique_ptr<SharedTier>, std::less<>> servers_;
  std::map<std::string, std::unique_ptr<RecordCache>, std::less<>> entities_;
};

}  // namespace libshard::cache
