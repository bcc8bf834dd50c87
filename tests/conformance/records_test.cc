// Single-record operations: get/put/delete, versions, updated time,
// compare-and-set, scans.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "conformance/conformance.h"

using namespace conformance;  // NOLINT

namespace {

Document ItemDoc(int i, int round) {
  Document d = Document::MakeObject({{"n", i},
                                     {"round", round},
                                     {"name", "item-" + std::to_string(i)},
                                     {"tags", Document::MakeArray({"a", i % 7})}});
  d["nested"]["even"] = i % 2 == 0;
  d["nested"]["ratio"] = i / 8.0;
  return d;
}

}  // namespace

TEST_SUITE("records") {

TEST_CASE("get of a missing id is kNotFound (Get and GetRaw)") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  CHECK_CODE(env->Get(e, "missing"), Code::kNotFound);
  CHECK_CODE(env->GetRaw(e, "missing"), Code::kNotFound);
  // A record in the same entity does not make other ids appear.
  REQUIRE_OK(env->Put(e, "present", Document::MakeObject({{"x", 1}})));
  CHECK_CODE(env->Get(e, "missing"), Code::kNotFound);
  CHECK_CODE(env->Get(e, "presen"), Code::kNotFound);
  CHECK_CODE(env->Get(e, "present2"), Code::kNotFound);
  CHECK_OK(env->Get(e, "present"));
}

TEST_CASE("delete of a missing id returns false and is not an error") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  Result<bool> del = env->Delete(e, "never-written");
  REQUIRE_OK(del);
  CHECK(*del == false);

  REQUIRE_OK(env->Put(e, "k", Document::MakeObject({{"x", 1}})));
  del = env->Delete(e, "k");
  REQUIRE_OK(del);
  CHECK(*del == true);
  CHECK_CODE(env->Get(e, "k"), Code::kNotFound);
  // Deleting again: a no-op, still not an error.
  del = env->Delete(e, "k");
  REQUIRE_OK(del);
  CHECK(*del == false);
}

TEST_CASE("1000 single Puts: every record read back, updated to version 2, deleted") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  constexpr int kN = 1000;
  auto id_of = [](int i) { return "single-" + std::to_string(i); };

  for (int i = 0; i < kN; ++i) {
    Result<uint64_t> v = env->Put(e, id_of(i), ItemDoc(i, 1));
    REQUIRE_OK(v);
    REQUIRE(*v == 1);
  }
  int mismatches = 0;
  for (int i = 0; i < kN; ++i) {
    Result<Record> rec = env->Get(e, id_of(i));
    REQUIRE_OK(rec);
    if (rec->id != id_of(i) || rec->version != 1 || !(rec->doc == ItemDoc(i, 1))) {
      ++mismatches;
      CHECK(rec->id == id_of(i));
      CHECK(rec->version == 1);
      CHECK(rec->doc == ItemDoc(i, 1));
    }
  }
  CHECK(mismatches == 0);

  for (int i = 0; i < kN; ++i) {
    Result<uint64_t> v = env->Put(e, id_of(i), ItemDoc(i, 2));
    REQUIRE_OK(v);
    REQUIRE(*v == 2);
  }
  for (int i = 0; i < kN; ++i) {
    Result<Record> rec = env->Get(e, id_of(i));
    REQUIRE_OK(rec);
    if (rec->version != 2 || !(rec->doc == ItemDoc(i, 2))) {
      ++mismatches;
      CHECK(rec->version == 2);
      CHECK(rec->doc == ItemDoc(i, 2));
    }
  }
  CHECK(mismatches == 0);
  CHECK(Sum(CountsByShard(*env, e)) == kN);

  for (int i = 0; i < kN; ++i) {
    Result<bool> del = env->Delete(e, id_of(i));
    REQUIRE_OK(del);
    REQUIRE(*del == true);
  }
  for (int i = 0; i < kN; ++i) {
    Result<Record> rec = env->Get(e, id_of(i));
    REQUIRE_MESSAGE(rec.status().code() == Code::kNotFound,
                    id_of(i) << " after delete: " << rec.status().ToString());
  }
  Result<std::vector<Record>> all = env->ScanAll(e);
  REQUIRE_OK(all);
  CHECK(all->empty());
  CHECK(Sum(CountsByShard(*env, e)) == 0);
}

TEST_CASE("version starts at 1 and grows by 1 per write; updated_us is now-ish and non-decreasing") {
  Env env = OpenCluster(Spec({"items"}, 2));
  const std::string e = env.Entity("items");
  int64_t previous_updated = 0;
  for (uint64_t want = 1; want <= 5; ++want) {
    int64_t before = NowMicros();
    Result<uint64_t> v = env->Put(e, "v", Document::MakeObject({{"w", static_cast<int>(want)}}));
    REQUIRE_OK(v);
    CHECK(*v == want);
    Result<Record> rec = env->Get(e, "v");
    REQUIRE_OK(rec);
    CHECK(rec->version == want);
    CHECK(rec->doc == Document::MakeObject({{"w", static_cast<int>(want)}}));
    // Plausible: within a minute of the wall clock around the write.
    CHECK(rec->updated_us > before - 60'000'000);
    CHECK(rec->updated_us < NowMicros() + 60'000'000);
    CHECK(rec->updated_us >= previous_updated);
    previous_updated = rec->updated_us;
    // GetRaw reports the same metadata.
    Result<RawRecord> raw = env->GetRaw(e, "v");
    REQUIRE_OK(raw);
    CHECK(raw->version == want);
    CHECK(raw->updated_us == rec->updated_us);
    CHECK(raw->id == "v");
  }
  // Versions are per record.
  Result<uint64_t> other = env->Put(e, "w", Document::MakeObject());
  REQUIRE_OK(other);
  CHECK(*other == 1);
  // An empty object is a valid body.
  Result<Record> empty = env->Get(e, "w");
  REQUIRE_OK(empty);
  CHECK(empty->doc == Document::MakeObject());

  // After a delete the record is gone; writing it again creates it anew.
  Result<bool> del = env->Delete(e, "v");
  REQUIRE_OK(del);
  CHECK(*del);
  Result<uint64_t> again = env->Put(e, "v", Document::MakeObject({{"w", 0}}));
  REQUIRE_OK(again);
  CHECK(*again == 1);
}

TEST_CASE("compare-and-set on Put: matching if_version succeeds, mismatch is kVersionConflict and changes nothing") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  const Document d1 = Document::MakeObject({{"state", "one"}});
  const Document d2 = Document::MakeObject({{"state", "two"}});
  const Document bad = Document::MakeObject({{"state", "lost"}});

  // if_version 0 on an absent record: create.
  Result<uint64_t> v = env->Put(e, "cas", d1, IfVersion(0));
  REQUIRE_OK(v);
  CHECK(*v == 1);
  // if_version 0 on a present record: conflict.
  CHECK_CODE(env->Put(e, "cas", bad, IfVersion(0)), Code::kVersionConflict);
  // Matching version.
  v = env->Put(e, "cas", d2, IfVersion(1));
  REQUIRE_OK(v);
  CHECK(*v == 2);
  // Stale and future versions.
  CHECK_CODE(env->Put(e, "cas", bad, IfVersion(1)), Code::kVersionConflict);
  CHECK_CODE(env->Put(e, "cas", bad, IfVersion(3)), Code::kVersionConflict);
  CHECK_CODE(env->Put(e, "cas", bad, IfVersion(0)), Code::kVersionConflict);
  Result<Record> rec = env->Get(e, "cas");
  REQUIRE_OK(rec);
  CHECK(rec->version == 2);
  CHECK(rec->doc == d2);
  // The conflict is distinct from other errors, and IsConflict() says so.
  Status st = env->Put(e, "cas", bad, IfVersion(7)).status();
  CHECK(st.code() == Code::kVersionConflict);
  CHECK(st.IsConflict());

  // if_version N on an absent record: conflict, nothing created.
  CHECK_CODE(env->Put(e, "absent", bad, IfVersion(1)), Code::kVersionConflict);
  CHECK_CODE(env->Get(e, "absent"), Code::kNotFound);

  // PutRaw honours if_version too.
  CHECK_CODE(env->PutRaw(e, "cas", bad.ToMsgpack(), IfVersion(1)), Code::kVersionConflict);
  v = env->PutRaw(e, "cas", d1.ToMsgpack(), IfVersion(2));
  REQUIRE_OK(v);
  CHECK(*v == 3);
  rec = env->Get(e, "cas");
  REQUIRE_OK(rec);
  CHECK(rec->version == 3);
  CHECK(rec->doc == d1);
}

TEST_CASE("compare-and-set on Delete: wrong version is kVersionConflict and the record stays") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  const Document d = Document::MakeObject({{"keep", true}});
  REQUIRE_OK(env->Put(e, "d", d));
  REQUIRE_OK(env->Put(e, "d", d));  // version 2

  CHECK_CODE(env->Delete(e, "d", IfVersion(1)), Code::kVersionConflict);
  CHECK_CODE(env->Delete(e, "d", IfVersion(3)), Code::kVersionConflict);
  CHECK_CODE(env->Delete(e, "d", IfVersion(0)), Code::kVersionConflict);
  Result<Record> rec = env->Get(e, "d");
  REQUIRE_OK(rec);
  CHECK(rec->version == 2);
  CHECK(rec->doc == d);

  Result<bool> del = env->Delete(e, "d", IfVersion(2));
  REQUIRE_OK(del);
  CHECK(*del == true);
  CHECK_CODE(env->Get(e, "d"), Code::kNotFound);

  // if_version 0 matches only an absent record: deleting nothing is fine.
  del = env->Delete(e, "d", IfVersion(0));
  REQUIRE_OK(del);
  CHECK(*del == false);
  // A positive expected version on an absent record cannot match.
  CHECK_CODE(env->Delete(e, "d", IfVersion(2)), Code::kVersionConflict);
}

TEST_CASE("Scan with a predicate returns exactly the matching records; ScanAll returns all") {
  // A small scan chunk so that every shard needs several round trips.
  Options options;
  options.scan_chunk = 7;
  Env env = OpenCluster(Spec({"items", "other"}), options);
  const std::string e = env.Entity("items");
  const std::string other = env.Entity("other");
  constexpr int kN = 300;
  std::map<Id, Document> written;
  std::vector<PutItem> items;
  for (int i = 0; i < kN; ++i) {
    Id id = "scan-" + std::to_string(i);
    Document d = Document::MakeObject({{"n", i}, {"color", i % 3 == 0 ? "red" : "blue"}});
    written[id] = d;
    items.push_back(PutItem{id, d, {}});
  }
  REQUIRE_OK(env->PutMany(e, items));
  // Records of another entity must not show up.
  REQUIRE_OK(env->Put(other, "scan-0", Document::MakeObject({{"color", "red"}, {"n", -1}})));
  REQUIRE_OK(env->Put(other, "elsewhere", Document::MakeObject({{"color", "red"}})));

  SUBCASE("ScanAll without predicate returns every record once, byte-equal") {
    Result<std::vector<Record>> all = env->ScanAll(e);
    REQUIRE_OK(all);
    CHECK(all->size() == written.size());
    std::map<Id, Document> seen;
    for (const Record& r : *all) {
      CHECK_MESSAGE(seen.count(r.id) == 0, "duplicate " << Show(r.id));
      seen[r.id] = r.doc;
      CHECK(r.version == 1);
      CHECK(r.updated_us > 0);
    }
    CHECK(seen == written);
  }
  SUBCASE("ScanAll with a predicate returns exactly the matching records") {
    Result<std::vector<Record>> red = env->ScanAll(e, [](const Record& r) {
      const Document* c = r.doc.Find("color");
      return c != nullptr && c->is_string() && c->as_string() == "red";
    });
    REQUIRE_OK(red);
    std::map<Id, Document> expected;
    for (const auto& [id, d] : written) {
      if (d.Find("color")->as_string() == "red") expected[id] = d;
    }
    std::map<Id, Document> got;
    for (const Record& r : *red) got[r.id] = r.doc;
    CHECK(red->size() == expected.size());
    CHECK(got == expected);
    CHECK(expected.size() == 100);
  }
  SUBCASE("Scan with a predicate visits exactly the matching records") {
    std::set<Id> visited;
    int calls = 0;
    Status st = env->Scan(
        e, [](const Record& r) { return r.doc.Find("n")->as_int() >= 250; },
        [&](Record&& r) {
          ++calls;
          visited.insert(r.id);
          return true;
        });
    REQUIRE_OK(st);
    std::set<Id> expected;
    for (int i = 250; i < kN; ++i) expected.insert("scan-" + std::to_string(i));
    CHECK(calls == 50);
    CHECK(visited == expected);
  }
  SUBCASE("Scan stops when the visitor returns false") {
    for (int stop_after : {1, 5, 40}) {
      int calls = 0;
      Status st = env->Scan(e, nullptr, [&](Record&&) { return ++calls < stop_after; });
      CHECK_OK(st);
      CHECK_MESSAGE(calls == stop_after, "stop_after " << stop_after);
    }
  }
  SUBCASE("Scan of an entity without records visits nothing") {
    REQUIRE_OK(env->Delete(other, "scan-0"));
    REQUIRE_OK(env->Delete(other, "elsewhere"));
    int calls = 0;
    CHECK_OK(env->Scan(other, nullptr, [&](Record&&) { return ++calls > 0; }));
    CHECK(calls == 0);
  }
}

}  // TEST_SUITE
