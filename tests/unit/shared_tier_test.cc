// Tests for cache/shared_tier.h against a real Redis: the one of
// scripts/servers.sh (LIBSHARD_CACHE_URL) for the protocol, and servers the
// test starts itself (LIBSHARD_REDIS_SERVER) for the ones it stops. Without
// them the tests skip, or fail under LIBSHARD_REQUIRE_SERVERS=1 (see
// support/redis_server.h).

#include "cache/shared_tier.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.h"

namespace libshard::cache {
namespace {

using namespace std::chrono_literals;
using testing::RawRedis;
using testing::RedisServer;

// Keys unique to this run and test, so tests sharing the server never meet.
std::string RunPrefix() {
  static const std::string prefix = [] {
    std::random_device rd;
    char buf[32];
    std::snprintf(buf, sizeof buf, "ls:t%08x:", rd());
    return std::string(buf);
  }();
  return prefix;
}
std::string Key(const std::string& name) { return RunPrefix() + name; }

std::unique_ptr<SharedTier> MakeTier(const std::string& url, SharedTierOptions o = {}) {
  if (o.name.empty()) o.name = "test";
  o.url = url;
  if (o.timeout == 200ms) o.timeout = 5s;  // sanitizer builds are slow
  Result<std::unique_ptr<SharedTier>> t = SharedTier::Create(std::move(o));
  REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  return std::move(t).value();
}

LookupResult LookupOne(SharedTier& t, const std::string& key, std::chrono::milliseconds ttl = 60s) {
  std::vector<LookupResult> out;
  t.LookupMany({key}, ttl, &out);
  REQUIRE(out.size() == 1);
  return out[0];
}

Outcome FillOne(SharedTier& t, const std::string& key, const std::string& lease, uint64_t version,
                const std::string& body, std::chrono::milliseconds ttl = 60s) {
  std::vector<Outcome> out;
  t.FillMany({FillItem{key, lease, version, static_cast<int64_t>(version) * 10, body, ttl}},
             &out);
  REQUIRE(out.size() == 1);
  return out[0];
}

// A body with every byte value, NULs included.
std::string BinaryBody(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Threads read (lookup, "shard read", fill) and write (commit a new version,
// then invalidate) a few keys through one SharedTier, as one process's
// threads would. A hit must never be older than a version whose write was
// acknowledged (its Invalidate returned) before the lookup began, even when
// every `fault_every`-th invalidation fails and is queued (0 = none fail):
// the queue is replayed before any read.
void CheckNoRegressionAcrossThreads(const std::string& url, int fault_every) {
  const uint32_t seed = std::random_device{}();
  MESSAGE("seed " << seed);
  std::atomic<int> invalidations{0};
  SharedTierOptions o;
  o.pool_size = 2;  // fewer connections than threads: the pool is shared
  if (fault_every > 0) {
    o.fault = [&](std::string_view op) {
      return op == "invalidate" && ++invalidations % fault_every == 0;
    };
  }
  auto tier = MakeTier(url, o);
  constexpr int kKeys = 4, kThreads = 4, kOps = 300;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back(Key("mt" + std::to_string(fault_every) + ":" + std::to_string(i)));
  }
  // committed[k]: the shard's version; acked[k]: the highest version whose
  // write was acknowledged (committed, then invalidated or queued).
  std::atomic<uint64_t> committed[kKeys] = {}, acked[kKeys] = {};
  std::atomic<int> errors{0}, queued{0}, hits{0}, stored{0}, regressions{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed + t);
      for (int op = 0; op < kOps; ++op) {
        const int i = static_cast<int>(rng() % kKeys);
        if (rng() % 4 == 0) {
          const uint64_t v = committed[i].fetch_add(1) + 1;
          if (!tier->Invalidate({keys[i]})) ++queued;
          uint64_t a = acked[i].load();
          while (a < v && !acked[i].compare_exchange_weak(a, v)) {
          }
          continue;
        }
        const uint64_t floor = acked[i].load();
        LookupResult r = LookupOne(*tier, keys[i]);
        if (r.outcome == Outcome::kHit) {
          ++hits;
          if (r.value.version < floor) ++regressions;
        } else if (r.outcome == Outcome::kMiss) {
          const uint64_t v = committed[i].load();  // the shard read
          Outcome f = FillOne(*tier, keys[i], r.lease, v, "v" + std::to_string(v));
          if (f == Outcome::kStored) ++stored;
          if (f == Outcome::kError) ++errors;
        } else {
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors == 0);
  CHECK(regressions == 0);
  CHECK(hits > 0);
  CHECK(stored > 0);
  if (fault_every > 0) CHECK(queued > 0);
  MESSAGE("hits " << hits.load() << ", stored " << stored.load() << ", queued "
                  << queued.load() << ", still pending " << tier->pending());
}

TEST_SUITE("shared tier") {
  TEST_CASE("create refuses a bad URL without quoting the password") {
    SharedTierOptions o;
    o.name = "hot";
    o.url = "redis://:TopSecretPw@127.0.0.1:70000";
    Result<std::unique_ptr<SharedTier>> t = SharedTier::Create(o);
    REQUIRE(!t.ok());
    CHECK(t.status().code() == Code::kInvalidConfig);
    CHECK(t.status().message().find("'hot'") != std::string::npos);
    CHECK(t.status().message().find("TopSecretPw") == std::string::npos);
  }

  TEST_CASE("miss, lease, fill, hit: byte-exact binary keys and a 1 MiB body") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto tier = MakeTier(*url);
    const std::string k1 = Key(std::string("a\0b\xff", 4));
    const std::string k2 = Key(std::string("\0", 1));
    const std::string big = BinaryBody(1 << 20, 1);
    const std::string small = std::string("x\0y", 3);

    std::vector<LookupResult> out;
    tier->LookupMany({k1, k2}, 60s, &out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].outcome == Outcome::kMiss);
    CHECK(out[1].outcome == Outcome::kMiss);
    CHECK(!out[0].lease.empty());
    CHECK(out[0].lease != out[1].lease);

    std::vector<Outcome> filled;
    tier->FillMany({FillItem{k1, out[0].lease, 7, -5, big, 60s},
                    FillItem{k2, out[1].lease, (uint64_t{1} << 53) - 1, 1700000000000000, small,
                             60s}},
                   &filled);
    CHECK(filled == std::vector<Outcome>{Outcome::kStored, Outcome::kStored});

    // Another SharedTier (another process's view) reads them back.
    auto other = MakeTier(*url);
    other->LookupMany({k2, k1}, 60s, &out);
    REQUIRE(out[0].outcome == Outcome::kHit);
    REQUIRE(out[1].outcome == Outcome::kHit);
    CHECK(out[0].value.version == (uint64_t{1} << 53) - 1);
    CHECK(out[0].value.updated_us == 1700000000000000);
    CHECK(out[0].value.body == small);
    CHECK(out[1].value.version == 7);
    CHECK(out[1].value.updated_us == -5);
    CHECK(out[1].value.body.size() == big.size());
    CHECK(out[1].value.body == big);
    CHECK(out[1].lease.empty());

    // The entry expires within the fill's ttl.
    RawRedis raw(*url);
    const long pttl = std::stol(raw.Run({"PTTL", k1}));
    CHECK(pttl > 0);
    CHECK(pttl <= 60000);
    CHECK(tier->last_error().empty());
  }

  TEST_CASE("an invalidation between lookup and fill makes the fill stale") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto reader = MakeTier(*url);
    auto writer = MakeTier(*url);
    const std::string k = Key("race");
    LookupResult r = LookupOne(*reader, k);
    REQUIRE(r.outcome == Outcome::kMiss);
    // The reader has read version 1 from the shard; a writer commits 2 and
    // invalidates before the reader's fill arrives.
    CHECK(writer->Invalidate({k}));
    CHECK(FillOne(*reader, k, r.lease, 1, "old") == Outcome::kStale);
    CHECK(LookupOne(*reader, k).outcome == Outcome::kMiss);
  }

  TEST_CASE("a lease taken after an invalidation does not let an older lease fill") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto a = MakeTier(*url);
    auto b = MakeTier(*url);
    const std::string k = Key("relookup");
    LookupResult ra = LookupOne(*a, k);
    REQUIRE(ra.outcome == Outcome::kMiss);
    REQUIRE(b->Invalidate({k}));
    LookupResult rb = LookupOne(*b, k);
    REQUIRE(rb.outcome == Outcome::kMiss);
    CHECK(ra.lease != rb.lease);
    CHECK(FillOne(*a, k, ra.lease, 1, "old") == Outcome::kStale);
    CHECK(FillOne(*b, k, rb.lease, 2, "new") == Outcome::kStored);
    LookupResult hit = LookupOne(*a, k);
    REQUIRE(hit.outcome == Outcome::kHit);
    CHECK(hit.value.version == 2);
    CHECK(hit.value.body == "new");
    // A lease is used once.
    CHECK(FillOne(*b, k, rb.lease, 3, "again") == Outcome::kStale);
  }

  TEST_CASE("a lease is handed back when the record was not found; a key holds at most 64") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto tier = MakeTier(*url);
    RawRedis raw(*url);
    const std::string k = Key("absent");
    LookupResult r = LookupOne(*tier, k);
    REQUIRE(r.outcome == Outcome::kMiss);
    REQUIRE_FALSE(r.lease.empty());
    CHECK(raw.Run({"HLEN", k}) == "1");
    CHECK(FillOne(*tier, k, r.lease, 0, "") == Outcome::kKept);  // version 0: hand back
    CHECK(raw.Run({"EXISTS", k}) == "0");  // the hash emptied and went away
    // Readers that never fill (they died) leave their leases until the key
    // expires, but never more than 64 of them.
    std::vector<LookupResult> leases;
    for (int i = 0; i < 70; ++i) leases.push_back(LookupOne(*tier, k));
    CHECK(raw.Run({"HLEN", k}) == "64");
    for (int i = 0; i < 70; ++i) {
      CAPTURE(i);
      CHECK(leases[i].outcome == Outcome::kMiss);
      CHECK(leases[i].lease.empty() == (i >= 64));
    }
    CHECK(FillOne(*tier, k, leases[0].lease, 4, "v4") == Outcome::kStored);
    LookupResult hit = LookupOne(*tier, k);
    REQUIRE(hit.outcome == Outcome::kHit);
    CHECK(hit.value.version == 4);
  }

  TEST_CASE("an eviction between lookup and fill makes the fill stale") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto tier = MakeTier(*url);
    RawRedis raw(*url);
    const std::string k = Key("evicted");
    LookupResult r = LookupOne(*tier, k);
    REQUIRE(r.outcome == Outcome::kMiss);
    CHECK(raw.Run({"EXISTS", k}) == "1");
    raw.Run({"DEL", k});  // what allkeys-lru does
    CHECK(FillOne(*tier, k, r.lease, 1, "v1") == Outcome::kStale);
    CHECK(raw.Run({"EXISTS", k}) == "0");
  }

  TEST_CASE("a fill of an older or equal version keeps the cached one") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto tier = MakeTier(*url);
    const std::string k = Key("versions");
    std::vector<LookupResult> leases;
    for (int i = 0; i < 4; ++i) {
      leases.push_back(LookupOne(*tier, k));
      REQUIRE(leases.back().outcome == Outcome::kMiss);
    }
    CHECK(FillOne(*tier, k, leases[0].lease, 5, "five") == Outcome::kStored);
    CHECK(FillOne(*tier, k, leases[1].lease, 3, "three") == Outcome::kKept);
    CHECK(FillOne(*tier, k, leases[2].lease, 5, "five again") == Outcome::kKept);
    // Versions compare as numbers, not as strings ("10" < "5").
    CHECK(FillOne(*tier, k, leases[3].lease, 10, "ten") == Outcome::kStored);
    LookupResult hit = LookupOne(*tier, k);
    REQUIRE(hit.outcome == Outcome::kHit);
    CHECK(hit.value.version == 10);
    CHECK(hit.value.body == "ten");
  }

  TEST_CASE("a lease older than the ttl cannot fill, and a fill without a lease is stale") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto tier = MakeTier(*url);
    RawRedis raw(*url);
    const std::string k = Key("old lease");
    // The key lives 60 s, so only the lease's age refuses the fill.
    LookupResult r = LookupOne(*tier, k, 60s);
    REQUIRE(r.outcome == Outcome::kMiss);
    std::this_thread::sleep_for(400ms);
    CHECK(FillOne(*tier, k, r.lease, 1, "late", 300ms) == Outcome::kStale);
    CHECK(raw.Run({"EXISTS", k}) == "0");  // the lease was consumed with it
    CHECK(FillOne(*tier, k, "", 1, "no lease") == Outcome::kStale);
  }

  TEST_CASE("lookups load the scripts again after SCRIPT FLUSH") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto tier = MakeTier(*url);
    const std::string k = Key("noscript");
    LookupResult r = LookupOne(*tier, k);
    REQUIRE(r.outcome == Outcome::kMiss);
    RawRedis raw(*url);
    CHECK(raw.Run({"SCRIPT", "FLUSH"}) == "+OK");
    CHECK(FillOne(*tier, k, r.lease, 1, "one") == Outcome::kStored);
    CHECK(raw.Run({"SCRIPT", "FLUSH"}) == "+OK");
    CHECK(LookupOne(*tier, k).outcome == Outcome::kHit);
    // An invalidation after COMMIT (the keep-floor script) and a put's early
    // one (its fallback deletes after the COMMIT) load theirs again too.
    CHECK(raw.Run({"SCRIPT", "FLUSH"}) == "+OK");
    CHECK(tier->Invalidate({k}));
    CHECK(raw.Run({"EXISTS", k}) == "0");
    CHECK(tier->pending() == 0);
    r = LookupOne(*tier, k);
    REQUIRE(r.outcome == Outcome::kMiss);
    CHECK(FillOne(*tier, k, r.lease, 1, "one") == Outcome::kStored);
    CHECK(raw.Run({"SCRIPT", "FLUSH"}) == "+OK");
    CHECK(tier->FinishInvalidate(tier->BeginInvalidate({k}, {2}, 60s)));
    CHECK(raw.Run({"HEXISTS", k, "v"}) == "0");
    CHECK(tier->pending() == 0);
  }

  TEST_CASE("a wrong password is an error that does not quote it") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    auto ep = ParseRedisUrl(*url);
    REQUIRE(ep.ok());
    const std::string wrong = "WrongPassw0rdXyz";
    auto tier = MakeTier("redis://:" + wrong + "@" + ep->host + ":" + std::to_string(ep->port));
    CHECK(LookupOne(*tier, Key("auth")).outcome == Outcome::kError);
    const std::string err = tier->last_error();
    CHECK(err.find("AUTH") != std::string::npos);
    CHECK(err.find("'test'") != std::string::npos);
    CHECK_MESSAGE(err.find(wrong) == std::string::npos, err);
    if (!ep->password.empty()) CHECK(err.find(ep->password) == std::string::npos);
    // A refused login is a connection failure: the breaker opens.
    CHECK(tier->breaker_open());
  }

  TEST_CASE("the fault hook fails one operation and leaves the breaker closed") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    std::atomic<bool> fail_lookup{false}, fail_fill{false};
    SharedTierOptions o;
    o.fault = [&](std::string_view op) {
      return (op == "lookup" && fail_lookup.load()) || (op == "fill" && fail_fill.load());
    };
    auto tier = MakeTier(*url, o);
    const std::string k = Key("fault");
    fail_lookup = true;
    CHECK(LookupOne(*tier, k).outcome == Outcome::kError);
    CHECK(!tier->breaker_open());
    CHECK(tier->last_error().find("injected") != std::string::npos);
    fail_lookup = false;
    LookupResult r = LookupOne(*tier, k);
    REQUIRE(r.outcome == Outcome::kMiss);
    fail_fill = true;
    CHECK(FillOne(*tier, k, r.lease, 1, "x") == Outcome::kError);
    fail_fill = false;
    CHECK(FillOne(*tier, k, r.lease, 1, "x") == Outcome::kStored);
  }

  TEST_CASE("queue overflow suspends reads for max_ttl") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    std::atomic<bool> fail_invalidate{true};
    SharedTierOptions o;
    o.max_pending = 3;
    o.max_ttl = 300ms;
    o.fault = [&](std::string_view op) { return op == "invalidate" && fail_invalidate.load(); };
    auto tier = MakeTier(*url, o);
    RawRedis raw(*url);
    const std::string k = Key("overflow");
    CHECK(!tier->Invalidate({Key("q1"), Key("q2")}));
    CHECK(tier->pending() == 2);
    CHECK(LookupOne(*tier, k).outcome == Outcome::kMiss);  // 2 queued: reads go on
    // The queue replayed before that lookup.
    CHECK(tier->pending() == 0);
    CHECK(!tier->Invalidate({Key("q1"), Key("q2"), Key("q2"), Key("q3"), Key("q4")}));
    CHECK(tier->pending() == 3);
    fail_invalidate = false;
    CHECK(LookupOne(*tier, k).outcome == Outcome::kBypassed);
    std::vector<LookupResult> out;
    tier->LookupMany({k, Key("other")}, 60s, &out);
    CHECK(out[0].outcome == Outcome::kBypassed);
    CHECK(out[1].outcome == Outcome::kBypassed);
    // Invalidations still work while reads are suspended.
    raw.Run({"SET", Key("q4"), "stale"});
    CHECK(tier->Invalidate({Key("q4")}));
    CHECK(raw.Run({"EXISTS", Key("q4")}) == "0");
    CHECK(tier->pending() == 0);  // replayed before that DEL
    // After max_ttl every entry an overflowed key could have left is gone.
    std::this_thread::sleep_for(400ms);
    CHECK(LookupOne(*tier, k).outcome != Outcome::kBypassed);
  }

  TEST_CASE("a stopped server: kError, then kBypassed without network, then recovery") {
    auto binary = testing::RedisServerBinary();
    if (!binary) return;
    RedisServer server(*binary, "pw-for-tests");
    SharedTierOptions o;
    o.breaker = 60s;  // the whole test runs inside one window
    o.timeout = 1s;
    auto tier = MakeTier(server.url(), o);
    const std::string k = Key("down");
    LookupResult r = LookupOne(*tier, k);
    REQUIRE(r.outcome == Outcome::kMiss);

    server.Stop();
    // The pooled link is dead: writing 1 MiB to it raises SIGPIPE, which
    // (left at its default, as here) would end the process unless the tier
    // blocks it.
    struct sigaction pipe_action {};
    REQUIRE(sigaction(SIGPIPE, nullptr, &pipe_action) == 0);
    const bool pipe_default = pipe_action.sa_handler == SIG_DFL;
    CHECK(pipe_default);
    CHECK(FillOne(*tier, k, r.lease, 1, BinaryBody(1 << 20, 3)) == Outcome::kError);
    CHECK(tier->breaker_open());
    CHECK(tier->last_error().find("pw-for-tests") == std::string::npos);
    CHECK(LookupOne(*tier, k).outcome == Outcome::kBypassed);
    CHECK(FillOne(*tier, k, r.lease, 1, "x") == Outcome::kBypassed);
    CHECK(!tier->Invalidate({k}));
    CHECK(tier->pending() == 1);

    // Back up, but the window runs: still no call reaches it.
    server.Start();
    RawRedis raw(server.url());
    const std::string before = raw.Run({"INFO", "stats"});
    auto connections = [](const std::string& info) {
      size_t p = info.find("total_connections_received:");
      REQUIRE(p != std::string::npos);
      return std::stol(info.substr(p + 27));
    };
    for (int i = 0; i < 20; ++i) CHECK(LookupOne(*tier, k).outcome == Outcome::kBypassed);
    CHECK(!tier->Invalidate({Key("down2")}));
    CHECK(connections(raw.Run({"INFO", "stats"})) == connections(before));
    CHECK(tier->pending() == 2);
  }

  TEST_CASE("after the breaker window one call reconnects and replays queued invalidations") {
    auto binary = testing::RedisServerBinary();
    if (!binary) return;
    RedisServer server(*binary, "pw-for-tests");
    SharedTierOptions o;
    o.breaker = 200ms;
    o.timeout = 1s;
    auto tier = MakeTier(server.url(), o);
    const std::string k = Key("replayed");
    REQUIRE(LookupOne(*tier, Key("warm")).outcome == Outcome::kMiss);

    server.Stop();
    CHECK(!tier->Invalidate({k}));
    CHECK(tier->pending() == 1);
    server.Start();
    // The restarted server holds a value the lost DEL was meant for.
    RawRedis raw(server.url());
    raw.Run({"SET", k, "stale"});
    std::this_thread::sleep_for(300ms);
    CHECK(LookupOne(*tier, Key("other")).outcome == Outcome::kMiss);
    CHECK(raw.Run({"EXISTS", k}) == "0");
    CHECK(tier->pending() == 0);
    CHECK(!tier->breaker_open());
  }

  TEST_CASE("an error reply fails the call without opening the breaker") {
    auto binary = testing::RedisServerBinary();
    if (!binary) return;
    RedisServer server(*binary, "");
    auto tier = MakeTier(server.url());
    const std::string k = Key("oom");
    REQUIRE(LookupOne(*tier, Key("warm")).outcome == Outcome::kMiss);
    RawRedis raw(server.url());
    CHECK(raw.Run({"CONFIG", "SET", "maxmemory-policy", "noeviction"}) == "+OK");
    CHECK(raw.Run({"CONFIG", "SET", "maxmemory", "1"}) == "+OK");
    // The lookup script's first write (the lease) is refused: OOM.
    CHECK(LookupOne(*tier, k).outcome == Outcome::kError);
    CHECK(tier->last_error().find("OOM") != std::string::npos);
    CHECK(!tier->breaker_open());
    CHECK(raw.Run({"CONFIG", "SET", "maxmemory", "0"}) == "+OK");
    CHECK(LookupOne(*tier, k).outcome == Outcome::kMiss);
    CHECK(raw.Run({"INFO", "stats"}).find("total_connections_received:3") != std::string::npos);
  }

  TEST_CASE("threads: a hit is never older than an acknowledged invalidation") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    CheckNoRegressionAcrossThreads(*url, 0);
  }

  TEST_CASE("threads: queued invalidations are replayed before any read of this process") {
    auto url = testing::CacheUrlFromEnv();
    if (!url) return;
    CheckNoRegressionAcrossThreads(*url, 3);
  }
}

}  // namespace
}  // namespace libshard::cache
