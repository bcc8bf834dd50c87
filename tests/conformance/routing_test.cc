// Routing: Locate is stable across Store instances and agrees with where the
// records really are; a shard that cannot be reached fails only its own
// records, with kUnavailable, in bounded time.
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "conformance/conformance.h"

using namespace conformance;  // NOLINT

namespace {

std::vector<Id> FixedIds() {
  std::vector<Id> out = {
      "alpha",
      "user:42",
      ids::FromU64(0),
      ids::FromU64(1),
      ids::FromU64(UINT64_MAX),
      std::string("\0\xff\x01", 3),
      "\xc3\x9cn\xc3\xaf" "code \xe2\x9c\x93",
  };
  Result<Id> uuid = ids::ParseUuid("0190a0c2-7b1e-7c3d-8e4f-0123456789ab");
  REQUIRE_OK(uuid);
  out.push_back(*uuid);
  return out;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_SUITE("routing") {

TEST_CASE("Locate is the same across separately opened Stores and records are on the located shard") {
  const std::vector<Id> fixed = FixedIds();
  std::vector<std::string> names;
  for (size_t i = 0; i < fixed.size(); ++i) names.push_back("route" + std::to_string(i));
  Env env = OpenCluster(Spec(names));

  std::vector<Location> first;
  for (const Id& id : fixed) first.push_back(env->Locate(id));

  // A second Store on the same config, and a third from the YAML file.
  Result<std::unique_ptr<Store>> second = Store::Open(env.cluster.config);
  REQUIRE_OK(second);
  Result<ClusterConfig> loaded = ClusterConfig::Load(env.cluster.yaml_path);
  REQUIRE_OK(loaded);
  Result<std::unique_ptr<Store>> third = Store::Open(*loaded);
  REQUIRE_OK(third);
  for (size_t i = 0; i < fixed.size(); ++i) {
    for (Store* s : {second->get(), third->get()}) {
      Location again = s->Locate(fixed[i]);
      CHECK_MESSAGE(again.bucket == first[i].bucket, Show(fixed[i]));
      CHECK_MESSAGE(again.shard == first[i].shard, Show(fixed[i]));
    }
    CHECK(first[i].bucket < env->config().buckets);
    // Locate is a pure function of the id.
    CHECK(env->Locate(fixed[i]).bucket == first[i].bucket);
  }

  // One record per fresh entity: Stats shows exactly where it went.
  for (size_t i = 0; i < fixed.size(); ++i) {
    const std::string e = env.Entity(names[i]);
    REQUIRE_OK((*second)->Put(e, fixed[i], Document::MakeObject({{"i", static_cast<int>(i)}})));
    std::map<std::string, uint64_t> counts = CountsByShard(*env, e);
    CHECK_MESSAGE(Sum(counts) == 1, Show(fixed[i]));
    CHECK_MESSAGE(counts[first[i].shard] == 1,
                  Show(fixed[i]) << " located on " << first[i].shard);
    // Readable through every Store.
    for (Store* s : {env.store.get(), third->get()}) {
      Result<Record> rec = s->Get(e, fixed[i]);
      REQUIRE_OK(rec);
      CHECK(rec->id == fixed[i]);
    }
  }
}

TEST_CASE("ids spread evenly over buckets and shards") {
  Env env = OpenCluster(Spec({"items"}));
  constexpr int kN = 4000;
  std::map<std::string, int> per_shard;
  std::set<uint32_t> buckets;
  for (int i = 0; i < kN; ++i) {
    Location loc = env->Locate("dist-" + std::to_string(i));
    per_shard[loc.shard]++;
    buckets.insert(loc.bucket);
  }
  CHECK(per_shard.size() == 4);
  for (const auto& [shard, n] : per_shard) {
    CHECK_MESSAGE(n > 800, shard << " got " << n << " of " << kN);
    CHECK_MESSAGE(n < 1200, shard << " got " << n << " of " << kN);
  }
  // 4000 random draws from 1024 buckets hit ~1003 distinct ones.
  CHECK(buckets.size() > 950);
  // u64 ids are hashed too: consecutive numbers do not share a bucket run.
  std::set<std::string> shards_of_small_numbers;
  for (uint64_t n = 0; n < 16; ++n) shards_of_small_numbers.insert(env->Locate(ids::FromU64(n)).shard);
  CHECK(shards_of_small_numbers.size() >= 3);
}

TEST_CASE("the hash seed from the config changes the placement") {
  // SQLite on purpose: server catalogs are shared and fixed to seed 0.
  ClusterSpec spec = Spec({"items"});
  TestCluster seeded = MakeCluster(TestBackend::kSqlite, spec);
  seeded.config.hash_seed = 12345;
  REQUIRE_OK(seeded.config.Validate());
  REQUIRE_OK(Store::Init(seeded.config));
  Result<std::unique_ptr<Store>> a = Store::Open(seeded.config);
  REQUIRE_OK(a);
  Env plain = OpenCluster(spec, {}, TestBackend::kSqlite);
  int same_bucket = 0;
  for (int i = 0; i < 200; ++i) {
    Id id = "seed-" + std::to_string(i);
    if ((*a)->Locate(id).bucket == plain->Locate(id).bucket) ++same_bucket;
  }
  CHECK(same_bucket < 20);  // ~0.2 expected by chance
}

TEST_CASE("an unreachable shard: its records fail with kUnavailable within 10 s, other shards keep working; GetMany spanning it fails as a whole with kUnavailable") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  std::vector<std::vector<Id>> per_shard = IdsPerShard(*env, "down-", 3);
  for (const auto& list : per_shard) {
    for (const Id& id : list) REQUIRE_OK(env->Put(e, id, Document::MakeObject({{"id", id}})));
  }

  // The same cluster, with shard s1 pointing at a port where nothing listens.
  ClusterConfig broken = env.cluster.config;
  const size_t down = 1;
  REQUIRE(broken.shards[down] == "s1");
  bool replaced = false;
  for (DatabaseConfig& db : broken.databases) {
    if (db.name == broken.shards[down]) {
      db.backend = Backend::kPostgres;
      db.url = "postgresql://host=127.0.0.1 port=1 dbname=x connect_timeout=2";
      replaced = true;
    }
  }
  REQUIRE(replaced);
  REQUIRE_OK(broken.Validate());
  auto opened_at = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Store>> opened = Store::Open(broken);
  REQUIRE_MESSAGE(opened.ok(), "Open must not connect to record shards eagerly: "
                                   << opened.status().ToString());
  CHECK(SecondsSince(opened_at) < 10.0);
  Store& store = **opened;
  const Id& on_down = per_shard[down][0];
  REQUIRE(store.Locate(on_down).shard == "s1");

  auto start = std::chrono::steady_clock::now();
  CHECK_CODE(store.Get(e, on_down), Code::kUnavailable);
  CHECK(SecondsSince(start) < 10.0);

  // The healthy shards answer, with the right records.
  for (size_t s = 0; s < per_shard.size(); ++s) {
    if (s == down) continue;
    for (const Id& id : per_shard[s]) {
      Result<Record> rec = store.Get(e, id);
      REQUIRE_OK(rec);
      CHECK(rec->doc == Document::MakeObject({{"id", id}}));
    }
  }

  // Again, and for writes: still unavailable, still bounded.
  start = std::chrono::steady_clock::now();
  CHECK_CODE(store.Get(e, per_shard[down][1]), Code::kUnavailable);
  CHECK_CODE(store.Put(e, per_shard[down][2], Document::MakeObject({{"x", 1}})),
             Code::kUnavailable);
  CHECK_CODE(store.Delete(e, per_shard[down][0]), Code::kUnavailable);
  CHECK(SecondsSince(start) < 10.0);
  // Writes to healthy shards succeed.
  Result<uint64_t> v = store.Put(e, per_shard[0][0], Document::MakeObject({{"id", "new"}}));
  REQUIRE_OK(v);
  CHECK(*v == 2);

  // GetMany: only healthy shards → fine; spanning the down shard → the
  // whole call is kUnavailable (a partial answer would look like "missing").
  std::vector<Id> healthy = {per_shard[0][1], per_shard[2][0], per_shard[3][2]};
  Result<std::vector<Record>> got = store.GetMany(e, healthy);
  REQUIRE_OK(got);
  CHECK(got->size() == healthy.size());
  std::vector<Id> spanning = {per_shard[0][1], per_shard[down][0], per_shard[2][0]};
  start = std::chrono::steady_clock::now();
  CHECK_CODE(store.GetMany(e, spanning), Code::kUnavailable);
  // PutMany touching the down shard reports it too.
  CHECK_CODE(store.PutMany(e, {PutItem{per_shard[down][1], Document::MakeObject(), {}}}),
             Code::kUnavailable);
  // A scan cannot be complete without the shard.
  CHECK_CODE(store.ScanAll(e), Code::kUnavailable);
  CHECK(SecondsSince(start) < 10.0);

  // The healthy cluster's own Store is unaffected.
  Result<Record> rec = env->Get(e, per_shard[down][0]);
  REQUIRE_OK(rec);
}

}  // TEST_SUITE
