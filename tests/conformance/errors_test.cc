// Bad input is kInvalidArgument and stores nothing; a cluster that is not
// initialized or disagrees with its catalog is kInvalidConfig.
#include <string>
#include <vector>

#include "conformance/conformance.h"

using namespace conformance;  // NOLINT

TEST_SUITE("errors") {

TEST_CASE("unknown entity is kInvalidArgument for every operation") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  REQUIRE_OK(env->Put(e, "x", Document::MakeObject({{"a", 1}})));
  // The unique name's base is not an entity, nor is another test's name.
  for (const std::string& bad : {std::string("items"), std::string("no_such_entity"), e + "x",
                                std::string("")}) {
    CAPTURE(bad);
    const Document d = Document::MakeObject({{"a", 1}});
    CHECK_CODE(env->Put(bad, "x", d), Code::kInvalidArgument);
    CHECK_CODE(env->PutRaw(bad, "x", d.ToMsgpack()), Code::kInvalidArgument);
    CHECK_CODE(env->Get(bad, "x"), Code::kInvalidArgument);
    CHECK_CODE(env->GetRaw(bad, "x"), Code::kInvalidArgument);
    CHECK_CODE(env->Delete(bad, "x"), Code::kInvalidArgument);
    CHECK_CODE(env->GetMany(bad, {"x"}), Code::kInvalidArgument);
    CHECK_CODE(env->PutMany(bad, {PutItem{"x", d, {}}}), Code::kInvalidArgument);
    CHECK_CODE(env->ScanAll(bad), Code::kInvalidArgument);
    int calls = 0;
    CHECK_CODE(env->Scan(bad, nullptr, [&](Record&&) { return ++calls > 0; }),
               Code::kInvalidArgument);
    CHECK(calls == 0);
  }
  // The real entity is untouched.
  Result<Record> rec = env->Get(e, "x");
  REQUIRE_OK(rec);
  CHECK(rec->version == 1);
}

TEST_CASE("empty id and ids longer than kMaxIdBytes are kInvalidArgument; kMaxIdBytes itself is fine") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  const Document d = Document::MakeObject({{"a", 1}});
  const std::string too_long(kMaxIdBytes + 1, 'L');
  const std::string much_too_long(4096, 'L');
  for (const std::string& bad : {std::string(), too_long, much_too_long}) {
    CAPTURE(bad.size());
    CHECK_CODE(env->Put(e, bad, d), Code::kInvalidArgument);
    CHECK_CODE(env->PutRaw(e, bad, d.ToMsgpack()), Code::kInvalidArgument);
    CHECK_CODE(env->Get(e, bad), Code::kInvalidArgument);
    CHECK_CODE(env->GetRaw(e, bad), Code::kInvalidArgument);
    CHECK_CODE(env->Delete(e, bad), Code::kInvalidArgument);
    CHECK_CODE(env->GetMany(e, {"fine", bad}), Code::kInvalidArgument);
    CHECK_CODE(env->PutMany(e, {PutItem{"fine", d, {}}, PutItem{bad, d, {}}}),
               Code::kInvalidArgument);
  }
  // The longest id allowed works, and the valid item of the refused batch
  // was not written.
  const std::string longest(kMaxIdBytes, 'L');
  Result<uint64_t> v = env->Put(e, longest, d);
  REQUIRE_OK(v);
  CHECK(*v == 1);
  Result<Record> rec = env->Get(e, longest);
  REQUIRE_OK(rec);
  CHECK(rec->id == longest);
  CHECK_CODE(env->Get(e, "fine"), Code::kNotFound);
  // Only `longest` exists.
  Result<std::vector<Record>> all = env->ScanAll(e);
  REQUIRE_OK(all);
  CHECK(all->size() == 1);
}

TEST_CASE("a body that is not an object is kInvalidArgument and nothing is stored") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  const std::vector<Document> not_objects = {
      Document(),
      Document(42),
      Document("text"),
      Document(true),
      Document(1.5),
      Document::FromBytes("\x81\xa1k\x01"),  // the bytes of a map, as a bin value
      Document::MakeArray({Document::MakeObject({{"a", 1}})}),
  };
  for (size_t i = 0; i < not_objects.size(); ++i) {
    CAPTURE(i);
    CHECK_CODE(env->Put(e, "nobj", not_objects[i]), Code::kInvalidArgument);
    CHECK_CODE(env->Get(e, "nobj"), Code::kNotFound);
  }
  // A present record is not replaced by a bad body.
  const Document good = Document::MakeObject({{"good", true}});
  REQUIRE_OK(env->Put(e, "present", good));
  CHECK_CODE(env->Put(e, "present", Document::MakeArray({1})), Code::kInvalidArgument);
  Result<Record> rec = env->Get(e, "present");
  REQUIRE_OK(rec);
  CHECK(rec->version == 1);
  CHECK(rec->doc == good);

  // PutRaw: valid MessagePack that is not a map, truncated and garbage bytes.
  std::vector<std::string> bad_raw = {
      std::string(),
      Document(7).ToMsgpack(),
      Document::MakeArray({1, 2}).ToMsgpack(),
      Document("s").ToMsgpack(),
      std::string("\x82\xa1k", 3),  // map of 2 entries, cut short
      std::string("\xc1", 1),       // never-used byte
      good.ToMsgpack() + good.ToMsgpack(),  // trailing bytes after the map
  };
  for (size_t i = 0; i < bad_raw.size(); ++i) {
    CAPTURE(i);
    CHECK_CODE(env->PutRaw(e, "raw", bad_raw[i]), Code::kInvalidArgument);
    CHECK_CODE(env->Get(e, "raw"), Code::kNotFound);
  }

  // PutMany with one bad body, all items on one shard: nothing stored.
  std::vector<std::vector<Id>> per_shard = IdsPerShard(*env, "bad-batch-", 4);
  std::vector<PutItem> items;
  for (const Id& id : per_shard[2]) items.push_back(PutItem{id, good, {}});
  items[2].doc = Document(5);
  CHECK_CODE(env->PutMany(e, items), Code::kInvalidArgument);
  for (const Id& id : per_shard[2]) CHECK_CODE(env->Get(e, id), Code::kNotFound);
}

TEST_CASE("Open before Init is kInvalidConfig; create_if_missing initializes; Init is idempotent") {
  // SQLite on purpose: a fresh catalog (server catalogs are shared).
  ClusterSpec spec = Spec({"items"});
  TestCluster tc = MakeCluster(TestBackend::kSqlite, spec);
  CHECK_CODE(Store::Open(tc.config), Code::kInvalidConfig);
  Options create;
  create.create_if_missing = true;
  Result<std::unique_ptr<Store>> store = Store::Open(tc.config, create);
  REQUIRE_OK(store);
  const std::string e = tc.Entity("items");
  REQUIRE_OK((*store)->Put(e, "a", Document::MakeObject({{"n", 1}})));
  Location before = (*store)->Locate("a");
  // Init again (twice) keeps the data and the placement.
  REQUIRE_OK(Store::Init(tc.config));
  REQUIRE_OK(Store::Init(tc.config));
  Result<std::unique_ptr<Store>> reopened = Store::Open(tc.config);
  REQUIRE_OK(reopened);
  Result<Record> rec = (*reopened)->Get(e, "a");
  REQUIRE_OK(rec);
  CHECK(rec->doc == Document::MakeObject({{"n", 1}}));
  CHECK((*reopened)->Locate("a").bucket == before.bucket);
  CHECK((*reopened)->Locate("a").shard == before.shard);
}

TEST_CASE("a config that disagrees with the catalog is kInvalidConfig") {
  ClusterSpec spec = Spec({"items"});
  TestCluster tc = MakeCluster(TestBackend::kSqlite, spec);
  REQUIRE_OK(Store::Init(tc.config));

  SUBCASE("a different bucket count") {
    ClusterConfig changed = tc.config;
    changed.buckets = 512;
    REQUIRE_OK(changed.Validate());
    CHECK_CODE(Store::Init(changed), Code::kInvalidConfig);
    CHECK_CODE(Store::Open(changed), Code::kInvalidConfig);
  }
  SUBCASE("a different hash seed") {
    ClusterConfig changed = tc.config;
    changed.hash_seed = 99;
    REQUIRE_OK(changed.Validate());
    CHECK_CODE(Store::Init(changed), Code::kInvalidConfig);
    CHECK_CODE(Store::Open(changed), Code::kInvalidConfig);
  }
  SUBCASE("a shard the bucket map uses was removed from the shard list") {
    ClusterConfig changed = tc.config;
    changed.shards.pop_back();
    REQUIRE_OK(changed.Validate());
    CHECK_CODE(Store::Open(changed), Code::kInvalidConfig);
  }
  // The original config still opens after the refused attempts.
  Result<std::unique_ptr<Store>> store = Store::Open(tc.config);
  REQUIRE_OK(store);
}

TEST_CASE("Validate refuses configs built in code with bad names or references") {
  ClusterSpec spec = Spec({"items"});
  TestCluster tc = MakeCluster(TestBackend::kSqlite, spec);
  REQUIRE_OK(tc.config.Validate());

  SUBCASE("an entity name that is not an identifier") {
    ClusterConfig c = tc.config;
    c.entities[0].name = "Bad-Name";
    CHECK_CODE(c.Validate(), Code::kInvalidConfig);
    CHECK_CODE(Store::Init(c), Code::kInvalidConfig);
    CHECK_CODE(Store::Open(c), Code::kInvalidConfig);
  }
  SUBCASE("a shard naming an unknown database") {
    ClusterConfig c = tc.config;
    c.shards.push_back("nowhere");
    CHECK_CODE(c.Validate(), Code::kInvalidConfig);
  }
  SUBCASE("an unknown catalog database") {
    ClusterConfig c = tc.config;
    c.catalog = "nowhere";
    CHECK_CODE(c.Validate(), Code::kInvalidConfig);
  }
  SUBCASE("an empty shard list") {
    ClusterConfig c = tc.config;
    c.shards.clear();
    CHECK_CODE(c.Validate(), Code::kInvalidConfig);
  }
  SUBCASE("a duplicate entity") {
    ClusterConfig c = tc.config;
    c.entities.push_back(c.entities[0]);
    CHECK_CODE(c.Validate(), Code::kInvalidConfig);
  }
  SUBCASE("a shard listed twice") {
    ClusterConfig c = tc.config;
    c.shards.push_back(c.shards[0]);
    CHECK_CODE(c.Validate(), Code::kInvalidConfig);
  }
}

}  // TEST_SUITE

TEST_CASE("a body larger than its database accepts is invalid input, never echoed, and the "
          "database stays reachable") {
  Env env = OpenCluster(Spec({"docs"}));
  const std::string docs = env.Entity("docs");
  // 20 MiB: above MariaDB's default max_allowed_packet (16 MiB), well within
  // PostgreSQL's and SQLite's limits.
  const std::string marker = "TOPSECRETDOC";
  std::string big = marker;
  big.resize(20 << 20, 'x');
  Document doc = Document::MakeObject({{"blob", Document(big)}});
  Result<uint64_t> put = env->Put(docs, "big", doc);
  if (put.ok()) {
    Result<Record> back = env->Get(docs, "big");
    REQUIRE_OK(back);
    CHECK(back->doc["blob"].as_string() == big);
  } else {
    CHECK_CODE(put, Code::kInvalidArgument);
    CHECK(put.status().message().size() < 1000);
    CHECK(put.status().message().find(marker) == std::string::npos);
  }
  if (BackendFromEnv() == TestBackend::kMariadb) CHECK_CODE(put, Code::kInvalidArgument);
  CHECK_OK(env->Put(docs, "small", Document::FromJson(R"({"ok":true})").value()));
}
