// The record cache's guarantees (issue 10, README "Caching", ARCHITECTURE.md
// "Record cache"), on every backend: the memory tier always; the shared tier
// on the Redis of LIBSHARD_CACHE_URL, two Stores standing for two processes
// (tests/cli/cache_cli_test.cc runs real separate processes).
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "cluster/fault_env.h"
#include "conformance/conformance.h"
#include "store_impl.h"
#include "support/fill_gate.h"
#include "support/redis_server.h"

using namespace conformance;  // NOLINT
using libshard::cluster::FaultEnv;
using libshard::testing::CacheUrlFromEnv;
using libshard::testing::FillGate;
using libshard::testing::RedisServer;
using libshard::testing::RedisServerBinary;

namespace {

using std::chrono::milliseconds;

EntityCacheConfig MemoryCache(milliseconds ttl = milliseconds(60000)) {
  EntityCacheConfig c;
  c.memory_bytes = 64 << 20;  // entries up to 4 MiB (1/16: memory_tier.h)
  c.ttl = ttl;
  return c;
}

EntityCacheConfig SharedCache(milliseconds ttl = milliseconds(60000)) {
  EntityCacheConfig c;
  c.shared = "hot";
  c.ttl = ttl;
  return c;
}

struct CacheEnv {
  TestCluster cluster;
  std::shared_ptr<FaultEnv> fault = std::make_shared<FaultEnv>();
  std::unique_ptr<Store> store;
  std::string entity;
  Store* operator->() { return store.get(); }
  Store& operator*() { return *store; }
  // Another "process": its own Store (own memory tier, own connections).
  std::unique_ptr<Store> Another(const Options& options = {},
                                 std::shared_ptr<FaultEnv> env = nullptr) const {
    if (!env) env = std::make_shared<FaultEnv>();
    Result<std::unique_ptr<Store>> s = Store::Impl::Open(cluster.config, options, env);
    REQUIRE_OK(s);
    return std::move(s).value();
  }
};

// A cluster whose entity "items" has `cache`; `url` names the shared server.
// `fresh`: databases of its own on servers (a test that moves buckets).
CacheEnv OpenCached(const EntityCacheConfig& cache, const Options& options = {},
                    const std::string& url = "", std::vector<IndexConfig> indexes = {},
                    bool fresh = false) {
  AnnounceBackend();
  ClusterSpec spec = Spec({"items"});
  spec.entities[0].indexes = std::move(indexes);
  spec.fresh_databases = fresh;
  CacheEnv env;
  env.cluster = MakeCluster(BackendFromEnv(), spec);
  // The cache after MakeCluster, which validates a config without caches.
  env.cluster.config.entities[0].cache = cache;
  if (!cache.shared.empty()) {
    env.cluster.config.caches.push_back(CacheServerConfig{"hot", url, {}});
  }
  REQUIRE_OK(env.cluster.config.Validate());
  libshard::testing::RewriteYaml(env.cluster);
  env.entity = env.cluster.Entity("items");
  env.fault->SetLease({milliseconds(50), milliseconds(150)});  // quick index builds
  REQUIRE_OK(Store::Init(env.cluster.config, options));
  Result<std::unique_ptr<Store>> s = Store::Impl::Open(env.cluster.config, options, env.fault);
  REQUIRE_OK(s);
  env.store = std::move(s).value();
  return env;
}

CacheMetrics Tier(Store& store, const std::string& entity, const std::string& tier) {
  MetricsSnapshot m = store.Metrics();
  for (const CacheMetrics& c : m.caches) {
    if (c.entity == entity && c.tier == tier) return c;
  }
  FAIL("no " << tier << " cache metrics for " << entity);
  return {};
}

Document Doc(int n) { return Document::MakeObject({{"n", n}}); }

// A shared-tier cluster whose record "k" is at version 1 and cached.
CacheEnv OpenSharedWithK(const std::string& url, milliseconds ttl = milliseconds(60000)) {
  CacheEnv env = OpenCached(SharedCache(ttl), {}, url);
  REQUIRE_OK(env->Put(env.entity, "k", Doc(1)));
  REQUIRE_OK(env->Get(env.entity, "k"));  // filled: version 1 is cached
  return env;
}

// Every one of `stores` reads "k" at `version`.
void CheckAllRead(std::initializer_list<Store*> stores, const std::string& e, uint64_t version) {
  for (Store* s : stores) {
    Result<Record> r = s->Get(e, "k");
    REQUIRE_OK(r);
    CHECK(r->version == version);
  }
}

// The race of a reader that misses, reads version 1 from the shard, and
// fills after a write of version 2 was acknowledged: the fill is refused
// and every later read sees version 2. `writer` makes the write.
void CheckReadFillRace(CacheEnv& env, const std::string& tier, Store& writer,
                       bool delete_instead) {
  const std::string e = env.entity;
  REQUIRE_OK(writer.Put(e, "raced", Doc(1)));
  FillGate gate(*env.fault);
  Result<Record> paused_read = Status::Internal("not run");
  std::thread reader([&] { paused_read = env->Get(e, "raced"); });
  gate.WaitUntilPaused();
  const uint64_t stale_before = Tier(*env, e, tier).stale_fills;
  if (delete_instead) {
    Result<bool> d = writer.Delete(e, "raced");
    REQUIRE_OK(d);
    CHECK(*d);
  } else {
    Result<uint64_t> v = writer.Put(e, "raced", Doc(2));
    REQUIRE_OK(v);
    CHECK(*v == 2);
  }
  gate.Release();
  reader.join();
  REQUIRE_OK(paused_read);
  CHECK(paused_read->version == 1);  // it read before the write: fine
  CHECK(Tier(*env, e, tier).stale_fills == stale_before + 1);
  for (int i = 0; i < 3; ++i) {
    Result<Record> again = env->Get(e, "raced");
    if (delete_instead) {
      CHECK_CODE(again, Code::kNotFound);
    } else {
      REQUIRE_OK(again);
      CHECK(again->version == 2);
    }
  }
}

// Threads write (through `writer`) and read (through `reader`) a few ids
// at random; a read must never return a version older than one whose
// write was acknowledged before the read began. `writers` of the 4 threads
// write; a writer thread writes a third of the time when `mixed`, always
// otherwise. Prints its seed.
void CheckNoReadBackwards(Store& writer, Store& reader, const std::string& e, int writers,
                          bool mixed) {
  const unsigned seed = std::random_device{}();
  MESSAGE("seed " << seed);
  constexpr int kIds = 4;
  std::array<std::atomic<uint64_t>, kIds> acked{};
  for (int i = 0; i < kIds; ++i) {
    Result<uint64_t> v = writer.Put(e, "r" + std::to_string(i), Doc(0));
    REQUIRE_OK(v);
    acked[i] = *v;
  }
  std::atomic<int> violations{0}, failures{0};
  auto work = [&](unsigned s, bool writes) {
    std::mt19937 rng(s);
    for (int n = 0; n < 150; ++n) {
      const int i = static_cast<int>(rng() % kIds);
      const std::string id = "r" + std::to_string(i);
      if (writes && (!mixed || rng() % 3 == 0)) {
        Result<uint64_t> v = writer.Put(e, id, Doc(n));
        if (!v.ok()) {
          ++failures;
          continue;
        }
        uint64_t cur = acked[i].load();
        while (cur < *v && !acked[i].compare_exchange_weak(cur, *v)) {
        }
      } else {
        const uint64_t floor = acked[i].load();
        Result<Record> r = reader.Get(e, id);
        if (!r.ok()) {
          ++failures;
          continue;
        }
        if (r->version < floor) ++violations;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(work, seed + t, t < writers);
  for (std::thread& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(violations.load() == 0);
}

}  // namespace

TEST_CASE("cache: an entity without cache: has no tiers and reads the shards") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  REQUIRE_OK(env->Put(e, "a", Doc(1)));
  REQUIRE_OK(env->Get(e, "a"));
  CHECK(env->Metrics().caches.empty());
  CHECK(env->PrometheusText().find("libshard_cache_") == std::string::npos);
}

TEST_CASE("cache memory: a read fills, the next is a hit, byte-exact (NUL ids, 1 MiB bodies)") {
  CacheEnv env = OpenCached(MemoryCache());
  const std::string e = env.entity;
  const std::string nul_id("k\0ey\xff", 5);
  std::string blob(1 << 20, '\0');
  for (size_t i = 0; i < blob.size(); i += 7) blob[i] = static_cast<char>(i % 251);
  Document big = Document::MakeObject({{"blob", Document::FromBytes(blob)}, {"n", 1}});
  REQUIRE_OK(env->Put(e, nul_id, big));
  Result<RawRecord> first = env->GetRaw(e, nul_id);
  REQUIRE_OK(first);
  CacheMetrics m = Tier(*env, e, "memory");
  CHECK(m.misses == 1);
  CHECK(m.fills == 1);
  CHECK(m.hits == 0);
  Result<RawRecord> second = env->GetRaw(e, nul_id);
  REQUIRE_OK(second);
  CHECK(Tier(*env, e, "memory").hits == 1);
  CHECK(second->id == nul_id);
  CHECK(second->version == first->version);
  CHECK(second->updated_us == first->updated_us);
  CHECK(second->body == first->body);  // byte-exact
  Result<Record> decoded = env->Get(e, nul_id);
  REQUIRE_OK(decoded);
  CHECK(decoded->doc == big);
  CHECK(Tier(*env, e, "memory").bytes > blob.size());
  CHECK(env->PrometheusText().find("libshard_cache_hits_total{entity=\"" + e +
                                   "\",tier=\"memory\",server=\"\"} 2") != std::string::npos);
}

TEST_CASE("cache memory: only committed data enters; a write that rolls back leaves the cache "
          "as it was, a committed one invalidates before it is acknowledged") {
  IndexConfig unique_email = Idx("by_email", {Col("email", ColumnType::kString, "email")}, true);
  CacheEnv env = OpenCached(MemoryCache(), {}, "", {unique_email});
  const std::string e = env.entity;
  REQUIRE_OK(env->Put(e, "taken", Document::MakeObject({{"email", "a@x"}})));
  REQUIRE_OK(env->Put(e, "k", Document::MakeObject({{"email", "k@x"}})));
  REQUIRE_OK(env->Get(e, "k"));  // filled
  const CacheMetrics before = Tier(*env, e, "memory");
  // A version conflict and a unique violation roll back: no invalidation.
  CHECK_CODE(env->Put(e, "k", Document::MakeObject({{"email", "k2@x"}}), IfVersion(7)),
             Code::kVersionConflict);
  CHECK_CODE(env->Put(e, "k", Document::MakeObject({{"email", "a@x"}})), Code::kUniqueViolation);
  CHECK(Tier(*env, e, "memory").invalidations == before.invalidations);
  Result<Record> hit = env->Get(e, "k");
  REQUIRE_OK(hit);
  CHECK(hit->version == 1);
  CHECK(Tier(*env, e, "memory").hits == before.hits + 1);
  // A committed write: the next read misses and sees it.
  REQUIRE_OK(env->Put(e, "k", Document::MakeObject({{"email", "k3@x"}})));
  CHECK(Tier(*env, e, "memory").invalidations == before.invalidations + 1);
  Result<Record> after = env->Get(e, "k");
  REQUIRE_OK(after);
  CHECK(after->version == 2);
  CHECK(after->doc["email"] == Document("k3@x"));
  // PutMany invalidates each item.
  REQUIRE_OK(env->Get(e, "taken"));
  std::vector<PutItem> items{{"k", Document::MakeObject({{"email", "k4@x"}}), {}},
                             {"taken", Document::MakeObject({{"email", "t@x"}}), {}}};
  REQUIRE_OK(env->PutMany(e, items));
  Result<std::vector<Record>> both = env->GetMany(e, {"k", "taken"});
  REQUIRE_OK(both);
  REQUIRE(both->size() == 2);
  CHECK((*both)[0].version == 3);
  CHECK((*both)[1].version == 2);
}

TEST_CASE("cache memory: the read/fill race — a fill after an acknowledged write is refused") {
  CacheEnv env = OpenCached(MemoryCache());
  CheckReadFillRace(env, "memory", *env, /*delete_instead=*/false);
}

TEST_CASE("cache memory: a deleted record is never served, and a fill of it is refused") {
  CacheEnv env = OpenCached(MemoryCache());
  const std::string e = env.entity;
  REQUIRE_OK(env->Put(e, "gone", Doc(1)));
  REQUIRE_OK(env->Get(e, "gone"));
  REQUIRE_OK(env->Delete(e, "gone"));
  CHECK_CODE(env->Get(e, "gone"), Code::kNotFound);
  Result<std::vector<Record>> many = env->GetMany(e, {"gone"});
  REQUIRE_OK(many);
  CHECK(many->empty());
  CheckReadFillRace(env, "memory", *env, /*delete_instead=*/true);
}

TEST_CASE("cache memory: GetMany and a query's record fetch read through, in request order") {
  IndexConfig by_n = Idx("by_n", {Col("n", ColumnType::kInt, "n")});
  CacheEnv env = OpenCached(MemoryCache(), {}, "", {by_n});
  const std::string e = env.entity;
  // On server backends the index databases are shared, so Init registers
  // the index write_only; build it (a no-op when it is ready).
  REQUIRE_OK(env->BuildIndex(e, "by_n"));
  for (int i = 0; i < 20; ++i) REQUIRE_OK(env->Put(e, "id" + std::to_string(i), Doc(i % 3)));
  REQUIRE_OK(env->Get(e, "id4"));
  const std::vector<Id> ids{"id4", "id9", "nope", "id4", "id1"};
  Result<std::vector<Record>> many = env->GetMany(e, ids);
  REQUIRE_OK(many);
  REQUIRE(many->size() == 4);
  CHECK((*many)[0].id == "id4");
  CHECK((*many)[1].id == "id9");
  CHECK((*many)[2].id == "id4");
  CHECK((*many)[3].id == "id1");
  CacheMetrics m = Tier(*env, e, "memory");
  CHECK(m.hits == 1);      // id4 once (distinct ids are looked up once)
  CHECK(m.fills == 1 + 2);  // id4 by Get; id9, id1 by GetMany
  Result<std::vector<Record>> again = env->GetMany(e, ids);
  REQUIRE_OK(again);
  CHECK(again->size() == 4);
  CHECK(Tier(*env, e, "memory").hits == 1 + 3);
  Query q;
  q.index = "by_n";
  q.where = {Condition{"n", Op::kEq, {Document(1)}}};
  Result<QueryPage> page = env->Query(e, q);
  REQUIRE_OK(page);
  CHECK(page->records.size() == 7);  // i % 3 == 1 for i < 20
  const uint64_t hits_after_first = Tier(*env, e, "memory").hits;
  page = env->Query(e, q);
  REQUIRE_OK(page);
  CHECK(page->records.size() == 7);
  CHECK(Tier(*env, e, "memory").hits == hits_after_first + 7);
  // A query never returns a record whose cached version went stale in
  // this process: the write invalidates, the re-check sees the new value.
  REQUIRE_OK(env->Put(e, "id1", Doc(2)));
  page = env->Query(e, q);
  REQUIRE_OK(page);
  CHECK(page->records.size() == 6);
}

TEST_CASE("cache memory: another process's write is seen at most ttl later (the memory "
          "tier's window)") {
  CacheEnv env = OpenCached(MemoryCache(milliseconds(5000)));
  const std::string e = env.entity;
  std::unique_ptr<Store> other = env.Another();
  REQUIRE_OK(env->Put(e, "w", Doc(1)));
  REQUIRE_OK(env->Get(e, "w"));  // cached here
  REQUIRE_OK(other->Put(e, "w", Doc(2)));
  Result<Record> within = env->Get(e, "w");
  REQUIRE_OK(within);
  CHECK(within->version == 1);  // the documented window: the other process cannot tell us
  env.fault->StepSteadyClock(std::chrono::milliseconds(5001));
  Result<Record> after = env->Get(e, "w");
  REQUIRE_OK(after);
  CHECK(after->version == 2);
}

TEST_CASE("cache memory: the budget bounds the bytes held") {
  EntityCacheConfig c = MemoryCache();
  c.memory_bytes = 256 << 10;  // 256 KiB
  CacheEnv env = OpenCached(c);
  const std::string e = env.entity;
  std::string body(4000, 'x');
  for (int i = 0; i < 200; ++i) {
    REQUIRE_OK(env->Put(e, "b" + std::to_string(i), Document::MakeObject({{"s", body}})));
  }
  for (int i = 0; i < 200; ++i) REQUIRE_OK(env->Get(e, "b" + std::to_string(i)));
  CacheMetrics m = Tier(*env, e, "memory");
  CHECK(m.bytes <= c.memory_bytes);
  CHECK(m.entries < 200);
  CHECK(m.entries > 20);
}

TEST_CASE("cache: entries are keyed by entity and id, not shard — a bucket move leaves them "
          "right, and a write on the new shard invalidates them") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  EntityCacheConfig c = MemoryCache();
  if (url) c.shared = "hot";
  CacheEnv env = OpenCached(c, {}, url.value_or(""), {}, /*fresh=*/true);
  const std::string e = env.entity;
  REQUIRE_OK(env->Put(e, "mover", Doc(1)));
  REQUIRE_OK(env->Get(e, "mover"));  // cached in every tier
  const Location before = env->Locate("mover");
  const std::string target = before.shard == env.cluster.config.shards[0]
                                 ? env.cluster.config.shards[1]
                                 : env.cluster.config.shards[0];
  REQUIRE_OK(env->MoveBucket(before.bucket, target));
  CHECK(env->Locate("mover").shard == target);
  const uint64_t hits = Tier(*env, e, "memory").hits;
  Result<Record> moved = env->Get(e, "mover");
  REQUIRE_OK(moved);
  CHECK(moved->version == 1);
  CHECK(moved->doc == Doc(1));
  CHECK(Tier(*env, e, "memory").hits == hits + 1);
  if (url) {
    std::unique_ptr<Store> other = env.Another();  // a process that reads the shared tier
    Result<Record> shared = other->Get(e, "mover");
    REQUIRE_OK(shared);
    CHECK(shared->version == 1);
    const CacheMetrics m = Tier(*other, e, "shared");
    CHECK_MESSAGE(m.hits == 1, "misses " << m.misses << " errors " << m.errors << " bypassed "
                                         << m.bypassed << " fills(env) "
                                         << Tier(*env, e, "shared").fills);
  }
  REQUIRE_OK(env->Put(e, "mover", Doc(2)));  // written on the target shard
  Result<Record> after = env->Get(e, "mover");
  REQUIRE_OK(after);
  CHECK(after->version == 2);
  if (url) {
    std::unique_ptr<Store> third = env.Another();
    Result<Record> r = third->Get(e, "mover");
    REQUIRE_OK(r);
    CHECK(r->version == 2);
  }
}

TEST_CASE("cache: Options::cache = false reads every time from the shards") {
  Options off;
  off.cache = false;
  CacheEnv env = OpenCached(MemoryCache(), off);
  const std::string e = env.entity;
  REQUIRE_OK(env->Put(e, "a", Doc(1)));
  REQUIRE_OK(env->Get(e, "a"));
  REQUIRE_OK(env->Get(e, "a"));
  CHECK(env->Metrics().caches.empty());
}

TEST_CASE("cache memory: no thread ever reads a version older than one acknowledged before "
          "its read began (random workload)") {
  CacheEnv env = OpenCached(MemoryCache());
  CheckNoReadBackwards(*env, *env, env.entity, /*writers=*/2, /*mixed=*/true);
}

// --- the shared tier --------------------------------------------------------

TEST_CASE("cache shared: a fill by one process is a hit for another, byte-exact") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;  // skipped, or failed when servers are required
  CacheEnv env = OpenCached(SharedCache(), {}, *url);
  const std::string e = env.entity;
  const std::string nul_id("s\0id", 4);
  std::string blob(1 << 20, '\0');
  for (size_t i = 0; i < blob.size(); i += 5) blob[i] = static_cast<char>(i % 253);
  REQUIRE_OK(env->Put(e, nul_id, Document::MakeObject({{"blob", Document::FromBytes(blob)}})));
  Result<RawRecord> first = env->GetRaw(e, nul_id);
  REQUIRE_OK(first);
  CHECK(Tier(*env, e, "shared").fills == 1);
  std::unique_ptr<Store> other = env.Another();
  Result<RawRecord> hit = other->GetRaw(e, nul_id);
  REQUIRE_OK(hit);
  CacheMetrics m = Tier(*other, e, "shared");
  CHECK(m.hits == 1);
  CHECK(m.misses == 0);
  CHECK(hit->id == nul_id);
  CHECK(hit->version == first->version);
  CHECK(hit->updated_us == first->updated_us);
  CHECK(hit->body == first->body);
  CHECK(m.server == "hot");
}

TEST_CASE("cache shared: the read/fill race across processes — no process reads the replaced "
          "version once the write is acknowledged") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  CacheEnv env = OpenCached(SharedCache(), {}, *url);
  std::unique_ptr<Store> writer = env.Another();
  CheckReadFillRace(env, "shared", *writer, /*delete_instead=*/false);
  std::unique_ptr<Store> third = env.Another();
  Result<Record> r = third->Get(env.entity, "raced");
  REQUIRE_OK(r);
  CHECK(r->version == 2);
}

TEST_CASE("cache shared: a process does not read backwards when its shard read could not be "
          "filled and an older fill lands before the writer's invalidation") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  CacheEnv env = OpenCached(SharedCache(), {}, *url);  // this process: P
  const std::string e = env.entity;
  REQUIRE_OK(env->Put(e, "k", Doc(1)));
  auto reader_env = std::make_shared<FaultEnv>();
  std::unique_ptr<Store> reader = env.Another({}, reader_env);  // R
  auto writer_env = std::make_shared<FaultEnv>();
  // W stands between its COMMIT and its DEL for the whole test.
  writer_env->SetCacheFault([](std::string_view, std::string_view op) { return op == "invalidate"; });
  std::unique_ptr<Store> writer = env.Another({}, writer_env);  // W

  FillGate gate(*reader_env);
  Result<Record> r_read = Status::Internal("not run");
  std::thread r_thread([&] { r_read = reader->Get(e, "k"); });
  gate.WaitUntilPaused();  // R holds a lease and has read version 1
  REQUIRE_OK(writer->Put(e, "k", Doc(2)));
  // P reads without a lease (its lookup fails): version 2 from the shard.
  env.fault->SetCacheFault([](std::string_view, std::string_view op) { return op == "lookup"; });
  Result<Record> p_first = env->Get(e, "k");
  REQUIRE_OK(p_first);
  CHECK(p_first->version == 2);
  env.fault->SetCacheFault(nullptr);
  gate.Release();  // R's fill of version 1 lands: its lease is still on the key
  r_thread.join();
  REQUIRE_OK(r_read);
  CHECK(r_read->version == 1);
  CHECK(Tier(*reader, e, "shared").fills == 1);
  // P must not go back to version 1.
  const uint64_t refused = Tier(*env, e, "shared").stale_fills;
  Result<Record> p_again = env->Get(e, "k");
  REQUIRE_OK(p_again);
  CHECK(p_again->version == 2);
  CHECK(Tier(*env, e, "shared").stale_fills == refused + 1);
}

TEST_CASE("cache shared: a delete by another process — never served, its fill refused") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  CacheEnv env = OpenCached(SharedCache(), {}, *url);
  std::unique_ptr<Store> writer = env.Another();
  CheckReadFillRace(env, "shared", *writer, /*delete_instead=*/true);
}

TEST_CASE("cache shared: a write that rolls back leaves the shared entry as it was") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  CacheEnv env = OpenSharedWithK(*url);
  const std::string e = env.entity;
  std::unique_ptr<Store> other = env.Another();
  CHECK_CODE(other->Put(e, "k", Doc(2), IfVersion(5)), Code::kVersionConflict);
  CHECK(Tier(*other, e, "shared").invalidations == 0);
  Result<Record> r = env->Get(e, "k");
  REQUIRE_OK(r);
  CHECK(r->version == 1);
  CHECK(Tier(*env, e, "shared").hits == 1);
}

namespace {

// Runs `fn` on a thread of its own and holds the first COMMIT that thread
// sends through `env`'s sessions until Release() (the destructor releases
// and joins): a writer held between its early invalidation and its COMMIT.
class CommitHold {
 public:
  CommitHold(FaultEnv& env, std::function<void()> fn) : env_(env) {
    env_.SetObserver([this](const std::string&, libshard::backend::SqlOp op, std::string_view) {
      if (op != libshard::backend::SqlOp::kCommit) return;
      std::unique_lock lock(mu_);
      if (std::this_thread::get_id() != held_ || paused_) return;
      paused_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    });
    std::unique_lock lock(mu_);
    thread_ = std::thread([this, fn = std::move(fn)] {
      {
        std::lock_guard l(mu_);
        held_ = std::this_thread::get_id();
      }
      fn();
    });
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return paused_; }));
  }
  ~CommitHold() { Release(); }
  CommitHold(const CommitHold&) = delete;
  CommitHold& operator=(const CommitHold&) = delete;
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    env_.SetObserver(nullptr);
  }

 private:
  FaultEnv& env_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false, released_ = false;
  std::thread::id held_;
  std::thread thread_;
};

// Reads `k` through `store` until one of its fills is refused (at most
// 10 s): the held writer's early invalidation has then run on the server.
// Every read meanwhile gets `committed`, the version before the held put.
void WaitForFloor(Store& store, const std::string& e, uint64_t committed) {
  const uint64_t stale_before = Tier(store, e, "shared").stale_fills;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int reads = 0;
  while (Tier(store, e, "shared").stale_fills == stale_before &&
         std::chrono::steady_clock::now() < deadline) {
    Result<Record> r = store.Get(e, "k");
    REQUIRE_OK(r);
    CHECK(r->version == committed);  // the held put is not committed yet
    ++reads;
    std::this_thread::sleep_for(milliseconds(1));
  }
  REQUIRE(Tier(store, e, "shared").stale_fills == stale_before + 1);
  MESSAGE(reads << " reads until a fill was refused");
}

}  // namespace

// A put's shared-tier invalidation goes out just before its COMMIT and is
// confirmed after it (cache/shared_tier.h, BeginInvalidate). The writer is
// held at its COMMIT: readers that miss meanwhile read version 1 from the
// shard, and the key's version floor refuses their fills, so once the put
// is acknowledged nobody is served version 1.
TEST_CASE("cache shared: a reader between a put's early invalidation and its COMMIT cannot fill "
          "the replaced version") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  CacheEnv env = OpenSharedWithK(*url);
  const std::string e = env.entity;
  auto writer_env = std::make_shared<FaultEnv>();
  std::unique_ptr<Store> writer = env.Another({}, writer_env);
  Result<uint64_t> put = Status::Internal("not run");
  {
    CommitHold hold(*writer_env, [&] { put = writer->Put(e, "k", Doc(2)); });
    WaitForFloor(*env, e, 1);
  }
  REQUIRE_OK(put);
  CHECK(*put == 2);
  std::unique_ptr<Store> third = env.Another();
  CheckAllRead({env.store.get(), third.get(), env.store.get()}, e, 2);
  CHECK(Tier(*env, e, "shared").hits >= 1);  // version 2 was filled and served
}

// An invalidation that reaches the server after a later writer's early
// invalidation must leave that writer's version floor (cache/shared_tier.h,
// kDropKeepFloorScript). Process A's put cannot invalidate (queued);
// process B's put of the same id is held at its COMMIT, its early
// invalidation done; then A replays its queued invalidation. A reader that
// misses now reads A's version 2 from the shard, and its fill must be
// refused: once B's put is acknowledged, nobody may be served version 2.
TEST_CASE("cache shared: an invalidation replayed after a later put's early invalidation keeps "
          "that put's version floor") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  CacheEnv env = OpenSharedWithK(*url);
  const std::string e = env.entity;
  auto a_env = std::make_shared<FaultEnv>();
  std::atomic<int> invalidations_failed{0};
  a_env->SetCacheFault([&](std::string_view, std::string_view op) {
    return op == "invalidate" && invalidations_failed.fetch_add(1) == 0;
  });
  std::unique_ptr<Store> a = env.Another({}, a_env);
  Result<uint64_t> v2 = a->Put(e, "k", Doc(2));
  REQUIRE_OK(v2);
  REQUIRE(*v2 == 2);
  REQUIRE(Tier(*a, e, "shared").pending_invalidations == 1);

  auto b_env = std::make_shared<FaultEnv>();
  std::unique_ptr<Store> b = env.Another({}, b_env);
  Result<uint64_t> v3 = Status::Internal("not run");
  std::unique_ptr<Store> c = env.Another();
  {
    CommitHold hold(*b_env, [&] { v3 = b->Put(e, "k", Doc(3)); });
    WaitForFloor(*env, e, 2);
    // A's next call replays its queued invalidation first.
    CHECK_CODE(a->Get(e, "absent"), Code::kNotFound);
    CHECK(Tier(*a, e, "shared").pending_invalidations == 0);
    // A reader in a third process misses, reads version 2, and may not fill it.
    Result<Record> during = c->Get(e, "k");
    REQUIRE_OK(during);
    CHECK(during->version == 2);
    CHECK(Tier(*c, e, "shared").stale_fills == 1);
  }
  REQUIRE_OK(v3);
  CHECK(*v3 == 3);
  CheckAllRead({c.get(), env.store.get(), c.get()}, e, 3);
}

// The window ARCHITECTURE.md states: an eviction of the key between a
// put's early invalidation and its COMMIT takes the floor with it, and a
// reader that misses then can fill the replaced version. Its bound: that
// entry expires ttl after the reader's miss, and then every process reads
// the put's version. (The eviction is a DEL of the key from outside.)
TEST_CASE("cache shared: an eviction during a put's COMMIT — the stale fill it allows is gone "
          "within ttl") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  constexpr milliseconds kTtl{600};
  CacheEnv env = OpenSharedWithK(*url, kTtl);
  const std::string e = env.entity;
  auto writer_env = std::make_shared<FaultEnv>();
  std::unique_ptr<Store> writer = env.Another({}, writer_env);
  std::unique_ptr<Store> reader = env.Another();
  Result<uint64_t> put = Status::Internal("not run");
  std::chrono::steady_clock::time_point missed;
  {
    CommitHold hold(*writer_env, [&] { put = writer->Put(e, "k", Doc(2)); });
    WaitForFloor(*env, e, 1);
    libshard::testing::RawRedis raw(*url);
    const std::string evict =
        "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1";
    REQUIRE(raw.Run({"EVAL", evict, "0", "ls:*:" + e + ":k"}) == "1");
    missed = std::chrono::steady_clock::now();
    Result<Record> r = reader->Get(e, "k");
    REQUIRE_OK(r);
    CHECK(r->version == 1);
    CHECK(Tier(*reader, e, "shared").fills == 1);  // the replaced version is cached: the window
  }
  REQUIRE_OK(put);
  CHECK(*put == 2);
  std::this_thread::sleep_until(missed + kTtl + milliseconds(100));
  std::unique_ptr<Store> third = env.Another();
  CheckAllRead({reader.get(), third.get(), env.store.get()}, e, 2);
}

// A COMMIT that fails after the early invalidation was sent rolls the put
// back: the connection that carried it is drained (no reply is left for
// the next call to misread), version 1 stays the answer, and the next
// committed put is cached again.
TEST_CASE("cache shared: a put whose COMMIT fails after its early invalidation — version 1 "
          "stays the answer, and the next put is cached") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  CacheEnv env = OpenSharedWithK(*url);
  const std::string e = env.entity;
  libshard::cluster::Fault f;
  f.op = libshard::backend::SqlOp::kCommit;
  f.action = libshard::cluster::Fault::Action::kFail;
  const int id = env.fault->Inject(f);
  Result<uint64_t> failed = env->Put(e, "k", Doc(2));
  CHECK(env.fault->Hits(id) == 1);
  CHECK_FALSE(failed.ok());
  CHECK(failed.status().code() != Code::kOutcomeUnknown);
  env.fault->ClearFaults();
  const CacheMetrics before = Tier(*env, e, "shared");
  for (int i = 0; i < 3; ++i) {
    Result<Record> r = env->Get(e, "k");
    REQUIRE_OK(r);
    CHECK(r->version == 1);
  }
  CHECK(Tier(*env, e, "shared").errors == before.errors);  // the pool is in step
  Result<uint64_t> next = env->Put(e, "k", Doc(3));
  REQUIRE_OK(next);
  CHECK(*next == 2);
  for (int i = 0; i < 2; ++i) {
    Result<Record> r = env->Get(e, "k");
    REQUIRE_OK(r);
    CHECK(r->version == 2);
    CHECK(r->doc["n"].as_int() == 3);
  }
  CHECK(Tier(*env, e, "shared").hits == before.hits + 1);
}

TEST_CASE("cache shared: two processes, writers and readers — nobody reads a version older "
          "than one acknowledged before its read began (random workload)") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  EntityCacheConfig both = SharedCache();
  both.memory_bytes = 8 << 20;
  CacheEnv env = OpenCached(both, {}, *url);
  // Writers write through `env`'s Store (both tiers); readers read through
  // another Store with the shared tier only (a memory tier of another
  // process may lag by its ttl: see the memory ttl test).
  ClusterConfig shared_only = env.cluster.config;
  shared_only.entities[0].cache.memory_bytes = 0;
  Result<std::unique_ptr<Store>> reader =
      Store::Impl::Open(shared_only, {}, std::make_shared<FaultEnv>());
  REQUIRE_OK(reader);
  CheckNoReadBackwards(*env, **reader, env.entity, /*writers=*/1, /*mixed=*/false);
  CHECK(Tier(**reader, env.entity, "shared").hits > 0);
}

TEST_CASE("cache shared: the server stopped mid-workload — every operation succeeds, errors "
          "are counted, the breaker limits attempts, caching resumes after a restart") {
  const std::optional<std::string> binary = RedisServerBinary();
  if (!binary) return;
  RedisServer redis(*binary, "");
  Options options;
  options.cache_breaker_ms = 300;
  CacheEnv env = OpenCached(SharedCache(), options, redis.url());
  const std::string e = env.entity;
  std::unique_ptr<Store> other = env.Another(options);
  for (int i = 0; i < 10; ++i) REQUIRE_OK(env->Put(e, "d" + std::to_string(i), Doc(0)));
  for (int i = 0; i < 10; ++i) REQUIRE_OK(env->Get(e, "d" + std::to_string(i)));
  CHECK(Tier(*env, e, "shared").fills == 10);
  redis.Stop();
  // Down: reads and writes go on against the shards.
  std::map<std::string, uint64_t> acked;
  for (int round = 0; round < 20; ++round) {
    const std::string id = "d" + std::to_string(round % 10);
    Result<uint64_t> v = other->Put(e, id, Doc(round));
    REQUIRE_OK(v);
    acked[id] = *v;
    Result<Record> r = env->Get(e, id);
    REQUIRE_OK(r);
    CHECK(r->version == *v);
  }
  CacheMetrics down = Tier(*env, e, "shared");
  CHECK(down.errors >= 1);
  CHECK(down.bypassed >= 1);  // the breaker answered without the network
  // At most one failed attempt per breaker window (the loop took far less
  // than 20 windows, so most calls were bypassed).
  CHECK(down.errors < down.bypassed);
  CHECK(Tier(*other, e, "shared").pending_invalidations > 0);
  redis.Start();  // empty: no persistence
  std::this_thread::sleep_for(std::chrono::milliseconds(options.cache_breaker_ms + 50));
  // Caching resumes without reopening the Store; nothing stale in between.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [id, v] : acked) {
      Result<Record> r = env->Get(e, id);
      REQUIRE_OK(r);
      CHECK(r->version == v);
    }
  }
  CHECK(Tier(*env, e, "shared").hits >= acked.size());
  // The writer's queued invalidations were replayed at its next call.
  REQUIRE_OK(other->Get(e, "d0"));
  CHECK(Tier(*other, e, "shared").pending_invalidations == 0);
}

TEST_CASE("cache shared: a writer that cannot reach the server (a partition) cannot "
          "invalidate; readers see its write at most ttl later") {
  const std::optional<std::string> url = CacheUrlFromEnv();
  if (!url) return;
  const milliseconds ttl(1500);
  CacheEnv env = OpenCached(SharedCache(ttl), {}, *url);
  const std::string e = env.entity;
  auto cut_off = std::make_shared<FaultEnv>();
  cut_off->SetCacheFault([](std::string_view, std::string_view) { return true; });
  std::unique_ptr<Store> writer = env.Another({}, cut_off);
  REQUIRE_OK(env->Put(e, "p", Doc(1)));
  REQUIRE_OK(env->Get(e, "p"));
  // The entry expires ttl after its lease was taken, which was before now.
  const auto filled = std::chrono::steady_clock::now();
  REQUIRE_OK(writer->Put(e, "p", Doc(2)));
  const auto acked = std::chrono::steady_clock::now();
  CHECK(Tier(*writer, e, "shared").errors >= 1);
  bool saw_stale = false;
  std::chrono::steady_clock::time_point last_stale{};
  for (;;) {
    // A stale answer was looked up after `started`, before the expiry.
    const auto started = std::chrono::steady_clock::now();
    Result<Record> r = env->Get(e, "p");
    REQUIRE_OK(r);
    const auto now = std::chrono::steady_clock::now();
    if (r->version == 1) {
      saw_stale = true;
      last_stale = started;
    } else {
      CHECK(r->version == 2);
      break;
    }
    REQUIRE_MESSAGE(now - acked < 10 * ttl, "the replaced version was still served");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(saw_stale);  // the window exists (the test would prove nothing otherwise)
  // Bounded by the ttl from the read that filled it (the server keeps time
  // in whole milliseconds: allow 5).
  CHECK(last_stale - filled < ttl + milliseconds(5));
}
