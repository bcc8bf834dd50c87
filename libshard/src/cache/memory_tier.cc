#include "cache/memory_tier.h"

namespace libshard::cache {

MemoryTier::MemoryTier(uint64_t budget_bytes, std::chrono::milliseconds ttl)
    : stripe_budget_(budget_bytes / kStripes), ttl_(ttl) {}

uint32_t MemoryTier::StripeOf(std::string_view id) const {
  return static_cast<uint32_t>(std::hash<std::string_view>()(id) % kStripes);
}

// Bytes an entry holds: the id twice (map key and entry), the body, and
// the nodes and control blocks around them.
uint64_t MemoryTier::Cost(std::string_view id, const CachedValue& v) {
  return 2 * id.size() + v.body.size() + 160;
}

void MemoryTier::Erase(Stripe& s, std::list<Entry>::iterator it) {
  s.bytes -= it->cost;
  s.map.erase(it->id);
  s.lru.erase(it);
}

std::shared_ptr<const CachedValue> MemoryTier::Lookup(std::string_view id, SteadyTime now,
                                                      Ticket* ticket) {
  const uint32_t index = StripeOf(id);
  Stripe& s = stripes_[index];
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(id);
  if (it != s.map.end()) {
    if (it->second->expires > now) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      return it->second->value;
    }
    // Expired. Dropping it moves the generation like an eviction: a slow
    // reader that read an older row before this entry was filled must not
    // put it back now that the newer entry is gone.
    Erase(s, it->second);
    ++s.generation;
  }
  *ticket = Ticket{index, s.generation, now};
  return nullptr;
}

MemoryTier::FillOutcome MemoryTier::Fill(std::string_view id, const Ticket& ticket,
                                         std::shared_ptr<const CachedValue> value,
                                         SteadyTime now) {
  const uint64_t cost = Cost(id, *value);
  if (cost > stripe_budget_) return FillOutcome::kTooLarge;
  const SteadyTime expires = ticket.read_began + ttl_;
  if (expires <= now) return FillOutcome::kStale;
  Stripe& s = stripes_[ticket.stripe];
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.generation != ticket.generation) return FillOutcome::kStale;
  auto it = s.map.find(id);
  if (it != s.map.end()) {
    // Filled meanwhile by another reader of the same generation: keep the
    // newer version (both were committed; neither was invalidated).
    if (it->second->value->version >= value->version) return FillOutcome::kKept;
    Erase(s, it->second);
  }
  while (s.bytes + cost > stripe_budget_ && !s.lru.empty()) {
    Erase(s, std::prev(s.lru.end()));
    ++s.evictions;
    ++s.generation;  // see the header: a slow fill must not undo an eviction
  }
  s.lru.push_front(Entry{std::string(id), std::move(value), expires, cost});
  s.map.emplace(s.lru.front().id, s.lru.begin());
  s.bytes += cost;
  return FillOutcome::kStored;
}

void MemoryTier::Invalidate(std::string_view id) {
  Stripe& s = stripes_[StripeOf(id)];
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.generation;
  auto it = s.map.find(id);
  if (it != s.map.end()) Erase(s, it->second);
}

uint64_t MemoryTier::bytes() const {
  uint64_t n = 0;
  for (const Stripe& s : stripes_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.bytes;
  }
  return n;
}

uint64_t MemoryTier::entries() const {
  uint64_t n = 0;
  for (const Stripe& s : stripes_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.map.size();
  }
  return n;
}

uint64_t MemoryTier::evictions() const {
  uint64_t n = 0;
  for (const Stripe& s : stripes_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.evictions;
  }
  return n;
}

}  // namespace libshard::cache
