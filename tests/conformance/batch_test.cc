// Batches: PutMany (one transaction per shard), GetMany (request order,
// missing ids left out), and a 10-shard round trip.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "conformance/conformance.h"

using namespace conformance;  // NOLINT

namespace {

Document BatchDoc(int i, int round) {
  return Document::MakeObject({{"i", i},
                               {"round", round},
                               {"label", "batch " + std::to_string(i)},
                               {"sq", static_cast<int64_t>(i) * i}});
}

std::set<std::string> ShardsOf(const Store& store, const std::vector<Id>& ids) {
  std::set<std::string> out;
  for (const Id& id : ids) out.insert(store.Locate(id).shard);
  return out;
}

}  // namespace

TEST_SUITE("batch") {

TEST_CASE("1000 records via PutMany: every one read back, updated to version 2, deleted") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  constexpr int kN = 1000;
  std::vector<Id> ids;
  std::vector<PutItem> items;
  for (int i = 0; i < kN; ++i) {
    ids.push_back("many-" + std::to_string(i));
    items.push_back(PutItem{ids.back(), BatchDoc(i, 1), {}});
  }
  REQUIRE(ShardsOf(*env, ids).size() == 4);

  Result<std::vector<uint64_t>> versions = env->PutMany(e, items);
  REQUIRE_OK(versions);
  REQUIRE(versions->size() == kN);
  CHECK(std::all_of(versions->begin(), versions->end(), [](uint64_t v) { return v == 1; }));

  // Point reads.
  int bad = 0;
  for (int i = 0; i < kN; ++i) {
    Result<Record> rec = env->Get(e, ids[i]);
    REQUIRE_OK(rec);
    if (rec->version != 1 || !(rec->doc == BatchDoc(i, 1)) || rec->id != ids[i]) {
      ++bad;
      CHECK(rec->id == ids[i]);
      CHECK(rec->version == 1);
      CHECK(rec->doc == BatchDoc(i, 1));
    }
  }
  CHECK(bad == 0);
  // One GetMany for all of them, in request order.
  Result<std::vector<Record>> got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == kN);
  for (int i = 0; i < kN; ++i) {
    if ((*got)[i].id != ids[i] || !((*got)[i].doc == BatchDoc(i, 1))) {
      ++bad;
      CHECK((*got)[i].id == ids[i]);
      CHECK((*got)[i].doc == BatchDoc(i, 1));
    }
  }
  CHECK(bad == 0);

  // Update all of them in one batch.
  for (int i = 0; i < kN; ++i) items[i].doc = BatchDoc(i, 2);
  versions = env->PutMany(e, items);
  REQUIRE_OK(versions);
  REQUIRE(versions->size() == kN);
  CHECK(std::all_of(versions->begin(), versions->end(), [](uint64_t v) { return v == 2; }));
  got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == kN);
  for (int i = 0; i < kN; ++i) {
    if ((*got)[i].version != 2 || !((*got)[i].doc == BatchDoc(i, 2))) {
      ++bad;
      CHECK((*got)[i].version == 2);
      CHECK((*got)[i].doc == BatchDoc(i, 2));
    }
  }
  CHECK(bad == 0);
  CHECK(Sum(CountsByShard(*env, e)) == kN);

  for (const Id& id : ids) {
    Result<bool> del = env->Delete(e, id);
    REQUIRE_OK(del);
    REQUIRE(*del);
  }
  got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  CHECK(got->empty());
  for (const Id& id : {ids.front(), ids[kN / 2], ids.back()}) {
    CHECK_CODE(env->Get(e, id), Code::kNotFound);
  }
  CHECK(Sum(CountsByShard(*env, e)) == 0);
}

TEST_CASE("GetMany leaves missing ids out and keeps request order, duplicates and shards included") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  // Five ids on each shard, so the request spans all four shards.
  std::vector<std::vector<Id>> per_shard = IdsPerShard(*env, "gm-", 5);
  std::vector<Id> present;
  for (const auto& v : per_shard) present.insert(present.end(), v.begin(), v.end());
  std::map<Id, Document> docs;
  for (size_t i = 0; i < present.size(); ++i) {
    docs[present[i]] = Document::MakeObject({{"id", present[i]}, {"k", static_cast<int>(i)}});
    REQUIRE_OK(env->Put(e, present[i], docs[present[i]]));
  }
  // A second write to some, so versions differ between records.
  for (size_t i = 0; i < present.size(); i += 3) {
    REQUIRE_OK(env->Put(e, present[i], docs[present[i]]));
  }

  // Request: present ids shuffled, missing ids in between, duplicates.
  std::vector<Id> request = present;
  std::mt19937 rng(42);
  std::shuffle(request.begin(), request.end(), rng);
  std::vector<Id> missing = {"gm-missing-a", "gm-missing-b", "gm-missing-c",
                             "gm-missing-d"};
  REQUIRE(ShardsOf(*env, missing).size() >= 2);
  request.insert(request.begin(), missing[0]);
  request.insert(request.begin() + 5, missing[1]);
  const Id dup1 = request[3], dup2 = request[1];
  request.insert(request.begin() + 11, dup1);  // duplicate of a present id
  request.push_back(missing[2]);
  request.push_back(dup2);                     // duplicate again
  request.push_back(missing[3]);
  request.push_back(missing[0]);                      // duplicate missing id

  std::vector<Id> expected;
  for (const Id& id : request) {
    if (docs.count(id)) expected.push_back(id);
  }
  Result<std::vector<Record>> got = env->GetMany(e, request);
  REQUIRE_OK(got);
  std::vector<Id> got_ids;
  for (const Record& r : *got) got_ids.push_back(r.id);
  CHECK(got_ids == expected);
  REQUIRE(got->size() == expected.size());
  for (const Record& r : *got) {
    CHECK(r.doc == docs[r.id]);
    Result<Record> single = env->Get(e, r.id);
    REQUIRE_OK(single);
    CHECK(r.version == single->version);
    CHECK(r.updated_us == single->updated_us);
  }

  SUBCASE("an empty request returns an empty result") {
    Result<std::vector<Record>> none = env->GetMany(e, {});
    REQUIRE_OK(none);
    CHECK(none->empty());
  }
  SUBCASE("only missing ids: empty result, not an error") {
    Result<std::vector<Record>> none = env->GetMany(e, missing);
    REQUIRE_OK(none);
    CHECK(none->empty());
  }
  SUBCASE("a request larger than any single statement, with every id repeated") {
    std::vector<Id> big;
    for (int round = 0; round < 20; ++round) {
      for (const Id& id : present) big.push_back(id);
      big.push_back("gm-missing-" + std::to_string(round));
    }
    Result<std::vector<Record>> all = env->GetMany(e, big);
    REQUIRE_OK(all);
    REQUIRE(all->size() == 20 * present.size());
    for (size_t i = 0; i < all->size(); ++i) {
      CHECK((*all)[i].id == present[i % present.size()]);
    }
  }
}

TEST_CASE("PutMany where one item conflicts fails, and nothing of that shard's batch is stored") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  // Twelve ids that all live on the same shard.
  std::vector<std::vector<Id>> per_shard = IdsPerShard(*env, "pm-", 12);
  const std::vector<Id>& same = per_shard[1];
  REQUIRE(ShardsOf(*env, same).size() == 1);

  const Document original = Document::MakeObject({{"v", "original"}});
  REQUIRE_OK(env->Put(e, same[0], original));  // updated without CAS in the batch
  REQUIRE_OK(env->Put(e, same[1], original));  // conflicting item (version 1)

  auto batch_with = [&](WriteOptions conflicting) {
    std::vector<PutItem> items;
    for (size_t i = 0; i < same.size(); ++i) {
      PutItem item{same[i], Document::MakeObject({{"v", "batch"}, {"i", static_cast<int>(i)}}),
                   {}};
      if (i == 1) item.options = conflicting;
      items.push_back(item);
    }
    return items;
  };
  auto check_untouched = [&] {
    for (size_t i = 0; i < same.size(); ++i) {
      Result<Record> rec = env->Get(e, same[i]);
      if (i < 2) {
        REQUIRE_OK(rec);
        CHECK_MESSAGE(rec->version == 1, Show(same[i]));
        CHECK_MESSAGE(rec->doc == original, Show(same[i]));
      } else {
        CHECK_MESSAGE(rec.status().code() == Code::kNotFound,
                      Show(same[i]) << " was stored by a failed batch: "
                                    << rec.status().ToString());
      }
    }
  };

  SUBCASE("wrong expected version") {
    CHECK_CODE(env->PutMany(e, batch_with(IfVersion(5))), Code::kVersionConflict);
    check_untouched();
  }
  SUBCASE("must-not-exist on a present record") {
    CHECK_CODE(env->PutMany(e, batch_with(IfVersion(0))), Code::kVersionConflict);
    check_untouched();
  }
  SUBCASE("the same batch with a matching version succeeds") {
    Result<std::vector<uint64_t>> v = env->PutMany(e, batch_with(IfVersion(1)));
    REQUIRE_OK(v);
    REQUIRE(v->size() == same.size());
    CHECK((*v)[0] == 2);
    CHECK((*v)[1] == 2);
    for (size_t i = 2; i < same.size(); ++i) CHECK((*v)[i] == 1);
    Result<std::vector<Record>> got = env->GetMany(e, same);
    REQUIRE_OK(got);
    REQUIRE(got->size() == same.size());
    for (size_t i = 0; i < same.size(); ++i) {
      CHECK((*got)[i].doc ==
            Document::MakeObject({{"v", "batch"}, {"i", static_cast<int>(i)}}));
    }
  }
}

TEST_CASE("PutMany returns versions in item order across shards, honouring if_version per item") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  std::vector<std::vector<Id>> per_shard = IdsPerShard(*env, "order-", 3);
  // Items interleaved across shards; some exist already with various versions.
  std::vector<PutItem> items;
  std::vector<uint64_t> expected;
  uint64_t bump = 0;
  for (size_t k = 0; k < 3; ++k) {
    for (size_t s = 0; s < per_shard.size(); ++s) {
      const Id& id = per_shard[s][k];
      uint64_t existing = (bump++) % 3;  // 0, 1 or 2 earlier writes
      for (uint64_t w = 0; w < existing; ++w) {
        REQUIRE_OK(env->Put(e, id, Document::MakeObject({{"w", static_cast<int>(w)}})));
      }
      PutItem item{id, Document::MakeObject({{"id", id}}), IfVersion(existing)};
      items.push_back(item);
      expected.push_back(existing + 1);
    }
  }
  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  REQUIRE_OK(v);
  CHECK(*v == expected);
  for (size_t i = 0; i < items.size(); ++i) {
    Result<Record> rec = env->Get(e, items[i].id);
    REQUIRE_OK(rec);
    CHECK(rec->version == expected[i]);
    CHECK(rec->doc == items[i].doc);
  }
  Result<std::vector<uint64_t>> none = env->PutMany(e, {});
  REQUIRE_OK(none);
  CHECK(none->empty());
}

TEST_CASE("10-shard round trip: 500 records spread over all shards, Stats agrees with Locate") {
  Env env = OpenCluster(Spec({"items"}, 10));
  const std::string e = env.Entity("items");
  REQUIRE(env->config().shards.size() == 10);
  constexpr int kN = 500;
  std::vector<PutItem> items;
  std::vector<Id> ids;
  std::map<std::string, uint64_t> located;
  for (int i = 0; i < kN; ++i) {
    Id id = i % 2 == 0 ? ids::FromU64(static_cast<uint64_t>(i) * 7919u)
                       : "ten-" + std::to_string(i);
    ids.push_back(id);
    items.push_back(PutItem{id, BatchDoc(i, 1), {}});
    Location loc = env->Locate(id);
    CHECK(loc.bucket < env->config().buckets);
    located[loc.shard]++;
  }
  CHECK(located.size() == 10);  // every shard got records

  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  REQUIRE_OK(v);
  REQUIRE(v->size() == kN);

  std::map<std::string, uint64_t> counted = CountsByShard(*env, e);
  CHECK(Sum(counted) == kN);
  for (const std::string& shard : env->config().shards) {
    CHECK_MESSAGE(counted[shard] == located[shard], "shard " << shard);
    CHECK(located[shard] > 0);
  }

  Result<std::vector<Record>> got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == kN);
  for (int i = 0; i < kN; ++i) {
    CHECK((*got)[i].id == ids[i]);
    CHECK((*got)[i].doc == BatchDoc(i, 1));
  }
  Result<std::vector<Record>> all = env->ScanAll(e);
  REQUIRE_OK(all);
  CHECK(all->size() == kN);

  // Delete half, one by one, and check the counts follow.
  std::map<std::string, uint64_t> remaining = located;
  for (int i = 0; i < kN; i += 2) {
    Result<bool> del = env->Delete(e, ids[i]);
    REQUIRE_OK(del);
    CHECK(*del);
    remaining[env->Locate(ids[i]).shard]--;
  }
  counted = CountsByShard(*env, e);
  CHECK(Sum(counted) == kN / 2);
  for (const std::string& shard : env->config().shards) {
    CHECK_MESSAGE(counted[shard] == remaining[shard], "shard " << shard);
  }
}

}  // TEST_SUITE
