#include "cache/record_cache.h"

#include <algorithm>

namespace libshard::cache {

RecordCache::RecordCache(std::string entity, const EntityCacheConfig& config,
                         std::string key_prefix, SharedTier* shared, bool reading,
                         CacheHooks hooks)
    : entity_(std::move(entity)), key_prefix_(std::move(key_prefix)), ttl_(config.ttl),
      shared_(shared), reading_(reading), hooks_(std::move(hooks)) {
  if (reading_ && config.memory_bytes > 0) {
    memory_ = std::make_unique<MemoryTier>(config.memory_bytes, config.MemoryTtl());
  }
  if (!hooks_.now) hooks_.now = [] { return std::chrono::steady_clock::now(); };
}

std::string RecordCache::SharedKey(std::string_view id) const {
  std::string key;
  key.reserve(key_prefix_.size() + id.size());
  key.append(key_prefix_).append(id);
  return key;
}

void RecordCache::CountShared(Outcome o) {
  switch (o) {
    case Outcome::kHit: ++shared_counters_.hits; break;
    case Outcome::kMiss: ++shared_counters_.misses; break;
    case Outcome::kStored: ++shared_counters_.fills; break;
    case Outcome::kStale: ++shared_counters_.stale_fills; break;
    case Outcome::kKept: break;
    case Outcome::kError: ++shared_counters_.errors; break;
    case Outcome::kBypassed: ++shared_counters_.bypassed; break;
  }
}

void RecordCache::RaiseFloor(std::string_view id, uint64_t version, SteadyTime now) {
  std::lock_guard<std::mutex> lock(floor_mu_);
  auto it = floors_.find(std::string(id));
  if (it != floors_.end()) {
    it->second.version = std::max(it->second.version, version);
    it->second.expires = now + ttl_;
    return;
  }
  if (floors_.size() >= kMaxFloors) {
    std::erase_if(floors_, [&](const auto& f) { return f.second.expires <= now; });
  }
  if (floors_.size() >= kMaxFloors) {
    floors_.clear();
    distrust_until_ = now + ttl_;
    return;
  }
  floors_.emplace(std::string(id), Floor{version, now + ttl_});
}

bool RecordCache::BelowFloor(std::string_view id, uint64_t version, SteadyTime now) {
  std::lock_guard<std::mutex> lock(floor_mu_);
  if (now < distrust_until_) return true;
  if (floors_.empty()) return false;
  auto it = floors_.find(std::string(id));
  if (it == floors_.end()) return false;
  if (it->second.expires <= now) {
    floors_.erase(it);
    return false;
  }
  return version < it->second.version;
}

void RecordCache::Lookup(const std::vector<std::string_view>& ids,
                         std::vector<std::shared_ptr<const CachedValue>>* found, MissPlan* plan) {
  found->assign(ids.size(), nullptr);
  plan->positions.clear();
  plan->tickets.clear();
  plan->leases.clear();
  if (!reading_) {
    for (size_t i = 0; i < ids.size(); ++i) plan->positions.push_back(i);
    plan->tickets.resize(ids.size());
    plan->leases.resize(ids.size());
    return;
  }
  const SteadyTime now = hooks_.now();
  // Memory first. Its tickets are taken before anything below is read.
  std::vector<size_t> missed;
  std::vector<MemoryTier::Ticket> tickets;
  for (size_t i = 0; i < ids.size(); ++i) {
    MemoryTier::Ticket ticket;
    if (memory_) {
      (*found)[i] = memory_->Lookup(ids[i], now, &ticket);
      if ((*found)[i]) {
        ++memory_counters_.hits;
        continue;
      }
      ++memory_counters_.misses;
    }
    missed.push_back(i);
    tickets.push_back(ticket);
  }
  if (missed.empty()) return;
  std::vector<LookupResult> shared;
  if (shared_ != nullptr) {
    std::vector<std::string> keys;
    keys.reserve(missed.size());
    for (size_t i : missed) keys.push_back(SharedKey(ids[i]));
    shared_->LookupMany(keys, ttl_, &shared);
  }
  for (size_t k = 0; k < missed.size(); ++k) {
    const size_t i = missed[k];
    if (!shared.empty()) {
      LookupResult& r = shared[k];
      if (r.outcome == Outcome::kHit && BelowFloor(ids[i], r.value.version, now)) {
        // Older than a version this process read (see floors_): a miss,
        // read from the shard, not filled.
        ++shared_counters_.stale_fills;
        ++shared_counters_.misses;
        plan->leases.emplace_back();
        plan->positions.push_back(i);
        plan->tickets.push_back(tickets[k]);
        continue;
      }
      CountShared(r.outcome);
      if (r.outcome == Outcome::kHit) {
        auto value = std::make_shared<const CachedValue>(
            CachedValue{r.value.version, r.value.updated_us, std::move(r.value.body)});
        if (memory_) {
          switch (memory_->Fill(ids[i], tickets[k], value, hooks_.now())) {
            case MemoryTier::FillOutcome::kStored: ++memory_counters_.fills; break;
            case MemoryTier::FillOutcome::kStale: ++memory_counters_.stale_fills; break;
            default: break;
          }
        }
        (*found)[i] = std::move(value);
        continue;
      }
      plan->leases.push_back(r.outcome == Outcome::kMiss ? std::move(r.lease) : std::string());
    } else {
      plan->leases.emplace_back();
    }
    plan->positions.push_back(i);
    plan->tickets.push_back(tickets[k]);
  }
}

void RecordCache::Fill(const std::vector<std::string_view>& ids, const MissPlan& plan,
                       const std::vector<std::shared_ptr<const CachedValue>>& rows) {
  if (!reading_ || plan.positions.empty()) return;
  if (hooks_.before_fill) hooks_.before_fill(entity_);
  std::vector<std::string> keys;
  std::vector<FillItem> items;
  const SteadyTime now = hooks_.now();
  for (size_t k = 0; k < plan.positions.size(); ++k) {
    const std::shared_ptr<const CachedValue>& row = rows[k];
    std::string_view id = ids[plan.positions[k]];
    if (memory_ && row) {
      switch (memory_->Fill(id, plan.tickets[k], row, hooks_.now())) {
        case MemoryTier::FillOutcome::kStored: ++memory_counters_.fills; break;
        case MemoryTier::FillOutcome::kStale: ++memory_counters_.stale_fills; break;
        default: break;
      }
    }
    if (shared_ == nullptr) continue;
    if (!plan.leases[k].empty()) {
      keys.push_back(SharedKey(id));
    } else if (row) {
      RaiseFloor(id, row->version, now);  // read, but not stored in the shared tier
    }
  }
  if (keys.empty()) return;
  // A lease is handed back even when the record was not found (version 0:
  // release only), so a hot missing id does not pile leases on its key.
  size_t key = 0;
  for (size_t k = 0; k < plan.positions.size(); ++k) {
    if (plan.leases[k].empty()) continue;
    const std::shared_ptr<const CachedValue>& row = rows[k];
    FillItem item;
    item.key = keys[key++];
    item.lease = plan.leases[k];
    item.ttl = ttl_;
    if (row) {
      item.version = row->version;
      item.updated_us = row->updated_us;
      item.body = row->body;
    }
    items.push_back(item);
  }
  std::vector<Outcome> outcomes;
  shared_->FillMany(items, &outcomes);
  for (size_t j = 0; j < outcomes.size(); ++j) {
    if (items[j].version != 0 &&
        (outcomes[j] == Outcome::kError || outcomes[j] == Outcome::kBypassed)) {
      // Not known to be stored: the lease may still be on the key.
      RaiseFloor(items[j].key.substr(key_prefix_.size()), items[j].version, now);
    }
    if (items[j].version == 0 && outcomes[j] != Outcome::kError &&
        outcomes[j] != Outcome::kBypassed) {
      continue;  // a lease handed back, not a fill
    }
    CountShared(outcomes[j]);
  }
}

void RecordCache::Invalidate(const std::vector<std::string_view>& ids) {
  if (memory_) {
    for (std::string_view id : ids) memory_->Invalidate(id);
    memory_counters_.invalidations += ids.size();
  }
  if (shared_ == nullptr) return;
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (std::string_view id : ids) keys.push_back(SharedKey(id));
  if (shared_->Invalidate(keys)) {
    shared_counters_.invalidations += keys.size();
  } else {
    ++shared_counters_.errors;
  }
}

void RecordCache::AppendMetrics(std::vector<CacheMetrics>* out) const {
  auto fill = [&](const char* tier, const TierCounters& c) {
    CacheMetrics m;
    m.entity = entity_;
    m.tier = tier;
    m.hits = c.hits.load();
    m.misses = c.misses.load();
    m.fills = c.fills.load();
    m.stale_fills = c.stale_fills.load();
    m.invalidations = c.invalidations.load();
    m.errors = c.errors.load();
    m.bypassed = c.bypassed.load();
    return m;
  };
  if (memory_) {
    CacheMetrics m = fill("memory", memory_counters_);
    m.entries = memory_->entries();
    m.bytes = memory_->bytes();
    out->push_back(std::move(m));
  }
  if (shared_ != nullptr) {
    CacheMetrics m = fill("shared", shared_counters_);
    m.server = shared_->name();
    m.pending_invalidations = shared_->pending();
    m.breaker_open = shared_->breaker_open();
    out->push_back(std::move(m));
  }
}

}  // namespace libshard::cache
