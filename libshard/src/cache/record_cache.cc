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
  auto it = floors_.find(id);
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
  auto it = floors_.find(id);
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
  plan->keys.clear();
  plan->leases.clear();
  if (!reading_) {
    for (size_t i = 0; i < ids.size(); ++i) plan->positions.push_back(i);
    plan->tickets.resize(ids.size());
    plan->keys.resize(ids.size());
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
  std::vector<std::string> keys;  // the misses' shared keys, kept for Fill
  std::vector<LookupResult> shared;
  if (shared_ != nullptr) {
    keys.reserve(missed.size());
    for (size_t i : missed) keys.push_back(SharedKey(ids[i]));
    shared_->LookupMany(keys, ttl_, &shared);
  }
  // A miss of every tier: read from the shard, then filled with `lease`.
  auto miss = [&](size_t k, std::string lease) {
    plan->positions.push_back(missed[k]);
    plan->tickets.push_back(tickets[k]);
    plan->keys.push_back(keys.empty() ? std::string() : std::move(keys[k]));
    plan->leases.push_back(std::move(lease));
  };
  for (size_t k = 0; k < missed.size(); ++k) {
    const size_t i = missed[k];
    if (shared.empty()) {
      miss(k, {});
      continue;
    }
    LookupResult& r = shared[k];
    if (r.outcome == Outcome::kHit && BelowFloor(ids[i], r.value.version, now)) {
      // Older than a version this process read (see floors_): a miss,
      // read from the shard, not filled.
      ++shared_counters_.stale_fills;
      ++shared_counters_.misses;
      miss(k, {});
      continue;
    }
    CountShared(r.outcome);
    if (r.outcome != Outcome::kHit) {
      miss(k, r.outcome == Outcome::kMiss ? std::move(r.lease) : std::string());
      continue;
    }
    auto value = std::make_shared<const CachedValue>(
        CachedValue{r.value.version, r.value.updated_us, std::move(r.value.body)});
    FillMemory(ids[i], tickets[k], value, now);
    (*found)[i] = std::move(value);
  }
}

void RecordCache::FillMemory(std::string_view id, const MemoryTier::Ticket& ticket,
                             const std::shared_ptr<const CachedValue>& value, SteadyTime now) {
  if (!memory_) return;
  switch (memory_->Fill(id, ticket, value, now)) {
    case MemoryTier::FillOutcome::kStored: ++memory_counters_.fills; break;
    case MemoryTier::FillOutcome::kStale: ++memory_counters_.stale_fills; break;
    default: break;
  }
}

void RecordCache::Fill(const std::vector<std::string_view>& ids, const MissPlan& plan,
                       const std::vector<std::shared_ptr<const CachedValue>>& rows) {
  if (!reading_ || plan.positions.empty()) return;
  if (hooks_.before_fill) hooks_.before_fill(entity_);
  const SteadyTime now = hooks_.now();
  std::vector<FillItem> items;
  std::vector<size_t> item_miss;  // the plan index of each item
  for (size_t k = 0; k < plan.positions.size(); ++k) {
    const std::shared_ptr<const CachedValue>& row = rows[k];
    const std::string_view id = ids[plan.positions[k]];
    if (row) FillMemory(id, plan.tickets[k], row, now);
    if (shared_ == nullptr) continue;
    if (plan.leases[k].empty()) {
      if (row) RaiseFloor(id, row->version, now);  // read, but not stored in the shared tier
      continue;
    }
    // A lease is handed back even when the record was not found (version
    // 0: release only), so a hot missing id does not pile leases on its key.
    FillItem item;
    item.key = plan.keys[k];
    item.lease = plan.leases[k];
    item.ttl = ttl_;
    if (row) {
      item.version = row->version;
      item.updated_us = row->updated_us;
      item.body = row->body;
    }
    items.push_back(item);
    item_miss.push_back(k);
  }
  if (items.empty()) return;
  std::vector<Outcome> outcomes;
  shared_->FillMany(items, &outcomes);
  for (size_t j = 0; j < outcomes.size(); ++j) {
    const bool failed = outcomes[j] == Outcome::kError || outcomes[j] == Outcome::kBypassed;
    if (items[j].version == 0 && !failed) continue;  // a lease handed back, not a fill
    if (items[j].version != 0 && failed) {
      // Not known to be stored: the lease may still be on the key.
      RaiseFloor(ids[plan.positions[item_miss[j]]], items[j].version, now);
    }
    CountShared(outcomes[j]);
  }
}

SharedTier::InFlightPtr RecordCache::BeginInvalidate(const std::vector<std::string_view>& ids,
                                                     const std::vector<uint64_t>& versions) {
  if (shared_ == nullptr || ids.empty()) return {};
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (std::string_view id : ids) keys.push_back(SharedKey(id));
  return shared_->BeginInvalidate(std::move(keys), versions, ttl_);
}

void RecordCache::Invalidate(const std::vector<std::string_view>& ids,
                             SharedTier::InFlightPtr early, SharedTier::Floors floors) {
  if (ids.empty()) return;
  if (memory_) {
    for (std::string_view id : ids) memory_->Invalidate(id);
    memory_counters_.invalidations += ids.size();
  }
  if (shared_ == nullptr) return;
  bool ok;
  if (early != nullptr) {
    ok = shared_->FinishInvalidate(std::move(early));
  } else {
    std::vector<std::string> keys;
    keys.reserve(ids.size());
    for (std::string_view id : ids) keys.push_back(SharedKey(id));
    ok = shared_->Invalidate(keys, floors);
  }
  if (ok) {
    shared_counters_.invalidations += ids.size();
  } else {
    ++shared_counters_.errors;
  }
}

void RecordCache::Abandon(SharedTier::InFlightPtr early) {
  if (shared_ != nullptr) shared_->AbandonInvalidate(std::move(early));
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
