// cache::MemoryTier: hits, the fill ticket rules (invalidation, eviction and
// expiry between a miss and its fill refuse the fill), versions never going
// backwards, the byte budget and the ttl.
#include "cache/memory_tier.h"

#include <doctest/doctest.h>

#include <string>

namespace libshard::cache {
namespace {

using std::chrono::milliseconds;
using Fill = MemoryTier::FillOutcome;

std::shared_ptr<const CachedValue> Value(uint64_t version, std::string body = "b") {
  return std::make_shared<const CachedValue>(CachedValue{version, 7, std::move(body)});
}

const SteadyTime t0 = SteadyTime() + std::chrono::hours(1);

TEST_CASE("memory tier: a miss gives a ticket, its fill is a hit, byte-exact") {
  MemoryTier tier(1 << 20, milliseconds(1000));
  MemoryTier::Ticket ticket;
  const std::string id("a\0b", 3);
  CHECK(tier.Lookup(id, t0, &ticket) == nullptr);
  CHECK(tier.Fill(id, ticket, Value(3, std::string("x\0y", 3)), t0) == Fill::kStored);
  MemoryTier::Ticket unused;
  auto hit = tier.Lookup(id, t0, &unused);
  REQUIRE(hit != nullptr);
  CHECK(hit->version == 3);
  CHECK(hit->body == std::string("x\0y", 3));
  CHECK(tier.entries() == 1);
  CHECK(tier.Lookup(std::string("a"), t0, &unused) == nullptr);  // ids are bytes, not C strings
}

TEST_CASE("memory tier: an invalidation between the miss and the fill refuses the fill") {
  MemoryTier tier(1 << 20, milliseconds(1000));
  MemoryTier::Ticket ticket;
  CHECK(tier.Lookup("k", t0, &ticket) == nullptr);
  tier.Invalidate("k");
  CHECK(tier.Fill("k", ticket, Value(1), t0) == Fill::kStale);
  MemoryTier::Ticket again;
  CHECK(tier.Lookup("k", t0, &again) == nullptr);
  CHECK(tier.Fill("k", again, Value(2), t0) == Fill::kStored);
  tier.Invalidate("k");
  CHECK(tier.Lookup("k", t0, &again) == nullptr);
}

TEST_CASE("memory tier: a lower version never replaces a higher one") {
  MemoryTier tier(1 << 20, milliseconds(1000));
  MemoryTier::Ticket slow, fast;
  CHECK(tier.Lookup("k", t0, &slow) == nullptr);
  CHECK(tier.Lookup("k", t0, &fast) == nullptr);
  CHECK(tier.Fill("k", fast, Value(5), t0) == Fill::kStored);
  CHECK(tier.Fill("k", slow, Value(4), t0) == Fill::kKept);
  MemoryTier::Ticket unused;
  CHECK(tier.Lookup("k", t0, &unused)->version == 5);
}

TEST_CASE("memory tier: an eviction or an expiry refuses a slow fill of an older row") {
  // Budget per stripe is 1/16: ~one 400-byte entry per stripe.
  MemoryTier tier(16 * 700, milliseconds(1000));
  MemoryTier::Ticket slow, fast;
  CHECK(tier.Lookup("k", t0, &slow) == nullptr);
  CHECK(tier.Lookup("k", t0, &fast) == nullptr);
  CHECK(tier.Fill("k", fast, Value(2, std::string(400, 'n')), t0) == Fill::kStored);
  // Push "k" out of its stripe with other ids of the same stripe.
  for (int i = 0; tier.Lookup("k", t0, &fast) != nullptr; ++i) {
    REQUIRE(i < 100000);
    MemoryTier::Ticket t;
    const std::string other = "o" + std::to_string(i);
    if (tier.Lookup(other, t0, &t) == nullptr) tier.Fill(other, t, Value(1, std::string(400, 'o')), t0);
  }
  CHECK(tier.evictions() >= 1);
  CHECK(tier.Fill("k", slow, Value(1, std::string(400, 's')), t0) == Fill::kStale);

  MemoryTier ttl_tier(1 << 20, milliseconds(1000));
  MemoryTier::Ticket a, b;
  CHECK(ttl_tier.Lookup("k", t0, &a) == nullptr);
  CHECK(ttl_tier.Lookup("k", t0 + milliseconds(10), &b) == nullptr);
  CHECK(ttl_tier.Fill("k", b, Value(2), t0 + milliseconds(10)) == Fill::kStored);
  MemoryTier::Ticket after;
  // Expired at t0 + 10 ms + 1000 ms; dropped by this lookup.
  CHECK(ttl_tier.Lookup("k", t0 + milliseconds(1011), &after) == nullptr);
  CHECK(ttl_tier.Fill("k", a, Value(1), t0 + milliseconds(900)) == Fill::kStale);
}

TEST_CASE("memory tier: entries live ttl from the read that filled them; the budget holds") {
  MemoryTier tier(16 * 4096, milliseconds(100));
  MemoryTier::Ticket ticket;
  CHECK(tier.Lookup("k", t0, &ticket) == nullptr);
  CHECK(tier.Fill("k", ticket, Value(1), t0 + milliseconds(50)) == Fill::kStored);
  MemoryTier::Ticket t;
  CHECK(tier.Lookup("k", t0 + milliseconds(99), &t) != nullptr);
  CHECK(tier.Lookup("k", t0 + milliseconds(100), &t) == nullptr);
  // A fill later than ttl after its read began is refused outright.
  CHECK(tier.Fill("k", t, Value(1), t0 + milliseconds(250)) == Fill::kStale);
  CHECK(tier.Fill("big", t, Value(1, std::string(5000, 'x')), t0) == Fill::kTooLarge);
  for (int i = 0; i < 500; ++i) {
    MemoryTier::Ticket f;
    const std::string id = "e" + std::to_string(i);
    if (tier.Lookup(id, t0, &f) == nullptr) tier.Fill(id, f, Value(1, std::string(1000, 'x')), t0);
  }
  CHECK(tier.bytes() <= 16 * 4096);
  CHECK(tier.entries() > 16);
}

}  // namespace
}  // namespace libshard::cache
