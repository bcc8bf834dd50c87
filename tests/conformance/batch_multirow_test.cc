// PutMany on one shard: the semantics of writing the batch's items one at a
// time, whatever the path. On PostgreSQL and MariaDB a shard batch is one
// multi-id lock read and multi-row writes (store_write.cc, ApplyMany); on
// SQLite the single-row statements. Every test runs on every backend.
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include "cluster/fault_env.h"
#include "conformance/conformance.h"
#include "store_impl.h"

using namespace conformance;  // NOLINT
using libshard::backend::SqlOp;
using libshard::cluster::FaultEnv;

namespace {

Document Doc(const std::string& key, int64_t value) {
  return Document::MakeObject({{key, value}});
}

Backend BackendOfShard(const Store& store, const std::string& shard) {
  for (const DatabaseConfig& db : store.config().databases) {
    if (db.name == shard) return db.backend;
  }
  FAIL("no database named " << shard);
  return Backend::kSqlite;
}

}  // namespace

TEST_SUITE("batch_multirow") {

TEST_CASE("multirow: a repeated id in one batch gets its versions in item order") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  std::vector<Id> ids = IdsPerShard(*env, "rep-", 4)[1];
  // ids[0] new, ids[1] existing at version 2, ids[2] deleted before.
  REQUIRE_OK(env->Put(e, ids[1], Doc("n", 0)));
  REQUIRE_OK(env->Put(e, ids[1], Doc("n", 1)));
  REQUIRE_OK(env->Put(e, ids[2], Doc("n", 0)));
  REQUIRE(*env->Delete(e, ids[2]));
  std::vector<PutItem> items = {
      {ids[0], Doc("n", 10), {}},          {ids[1], Doc("n", 20), {}},
      {ids[0], Doc("n", 11), {}},          {ids[2], Doc("n", 30), {}},
      {ids[1], Doc("n", 21), IfVersion(3)},  // sees the previous item's version
      {ids[0], Doc("n", 12), IfVersion(2)},  {ids[3], Doc("n", 40), IfVersion(0)},
      {ids[2], Doc("n", 31), {}},
  };
  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  REQUIRE_OK(v);
  CHECK(*v == std::vector<uint64_t>{1, 3, 2, 1, 4, 3, 1, 2});
  const std::map<Id, std::pair<uint64_t, int64_t>> want = {
      {ids[0], {3, 12}}, {ids[1], {4, 21}}, {ids[2], {2, 31}}, {ids[3], {1, 40}}};
  for (const auto& [id, vn] : want) {
    Result<Record> r = env->Get(e, id);
    REQUIRE_OK(r);
    CHECK(r->version == vn.first);
    CHECK(r->doc["n"].as_int() == vn.second);
  }
  // Deleted and written again in later batches: versions go on from 1.
  REQUIRE(*env->Delete(e, ids[0]));
  v = env->PutMany(e, {{ids[0], Doc("n", 1), IfVersion(0)}, {ids[0], Doc("n", 2), {}},
                       {ids[1], Doc("n", 3), {}}});
  REQUIRE_OK(v);
  CHECK(*v == std::vector<uint64_t>{1, 2, 5});
  // `updated` never decreases for a record, even with several writes in a batch.
  Result<Record> before = env->Get(e, ids[1]);
  REQUIRE_OK(before);
  REQUIRE_OK(env->PutMany(e, {{ids[1], Doc("n", 4), {}}, {ids[1], Doc("n", 5), {}}}));
  Result<Record> after = env->Get(e, ids[1]);
  REQUIRE_OK(after);
  CHECK(after->version == 7);
  CHECK(after->updated_us >= before->updated_us);
}

TEST_CASE("multirow: an if_version conflict on one item leaves the whole shard batch unapplied") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  std::vector<Id> ids = IdsPerShard(*env, "cf-", 100)[2];
  for (size_t i = 0; i < 10; ++i) REQUIRE_OK(env->Put(e, ids[i], Doc("n", 0)));
  std::vector<PutItem> items;
  for (size_t i = 0; i < ids.size(); ++i) items.push_back({ids[i], Doc("n", 1), {}});
  // The 70th item expects a record that does not exist; then a repeated id
  // whose expectation is right only if earlier items were applied.
  items[70].options = IfVersion(1);
  items.push_back({ids[3], Doc("n", 2), IfVersion(2)});
  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  CHECK_CODE(v, Code::kVersionConflict);
  CHECK(v.status().message().find(ids[70]) != std::string::npos);
  CHECK(v.status().message().find("found no record") != std::string::npos);
  for (size_t i = 0; i < ids.size(); ++i) {
    Result<Record> r = env->Get(e, ids[i]);
    if (i < 10) {
      REQUIRE_OK(r);
      CHECK(r->version == 1);
      CHECK(r->doc["n"].as_int() == 0);
    } else {
      CHECK_CODE(r, Code::kNotFound);
    }
  }
  // A conflict on a repeated id's second item (expects what the first left + 1).
  v = env->PutMany(e, {{ids[0], Doc("n", 5), {}}, {ids[11], Doc("n", 5), {}},
                       {ids[0], Doc("n", 6), IfVersion(1)}});
  CHECK_CODE(v, Code::kVersionConflict);
  CHECK(v.status().message().find("found 2") != std::string::npos);
  CHECK(env->Get(e, ids[0])->version == 1);
  CHECK_CODE(env->Get(e, ids[11]), Code::kNotFound);
}

TEST_CASE("multirow: binary ids with NUL bytes and 1 MiB bodies in one batch, byte-exact") {
  Env env = OpenCluster(Spec({"blobs"}));
  const std::string e = env.Entity("blobs");
  std::vector<PutItem> items;
  std::vector<std::string> blobs;
  for (int i = 0; i < 12; ++i) {
    Id id("\0bin\0", 5);
    id += static_cast<char>(i);
    id += std::string(1, '\0') + "\xff\x01'\"\\" + std::string(1, '\0');
    std::string blob(i % 3 == 0 ? (1 << 20) : 1000 + i, '\0');
    for (size_t k = 0; k < blob.size(); ++k) blob[k] = static_cast<char>((k * 31 + i) % 256);
    blobs.push_back(blob);
    items.push_back({id, Document::MakeObject({{"b", Document::FromBytes(blob)}, {"i", i}}), {}});
  }
  // A repeated binary id in the same batch.
  items.push_back({items[1].id, Document::MakeObject({{"b", Document::FromBytes(blobs[0])}}), {}});
  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  REQUIRE_OK(v);
  CHECK((*v)[1] == 1);
  CHECK(v->back() == 2);
  std::vector<Id> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(items[i].id);
  Result<std::vector<Record>> got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == 12);
  for (int i = 0; i < 12; ++i) {
    CHECK((*got)[i].id == ids[i]);
    const std::string& want = i == 1 ? blobs[0] : blobs[i];
    CHECK((*got)[i].doc["b"].as_string() == want);
  }
  // Updated in one batch (upserts of existing rows).
  for (auto& item : items) item.doc = Document::MakeObject({{"b", Document::FromBytes(blobs[2])}});
  v = env->PutMany(e, items);
  REQUIRE_OK(v);
  CHECK((*v)[1] == 3);
  CHECK((*v)[0] == 2);
  got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == 12);
  for (const Record& r : *got) CHECK(r.doc.Find("b")->as_string() == blobs[2]);
}

TEST_CASE("multirow: a batch larger than a statement may carry is split, byte-exact") {
  // 8 bodies of 3 MiB on one shard: 24 MiB (48 MiB as PostgreSQL hex),
  // above MariaDB's 16 MiB max_allowed_packet of the test server and the
  // 32 MiB statement budget on PostgreSQL: several statements.
  // A long index-state lease: the property here is the split, and a
  // 24 MiB batch in a sanitizer build outlasts the 3 s production lease
  // (the write would be rolled back, correctly, as any transaction that
  // outlives its view of the index states).
  AnnounceBackend();
  auto fault_env = std::make_shared<FaultEnv>();
  libshard::cluster::LeaseTimings long_lease;
  long_lease.lease = std::chrono::milliseconds(120000);
  fault_env->SetLease(long_lease);
  Env env;
  env.cluster = MakeCluster(BackendFromEnv(), Spec({"blobs"}));
  REQUIRE_OK(Store::Impl::Init(env.cluster.config, {}, fault_env));
  Result<std::unique_ptr<Store>> opened = Store::Impl::Open(env.cluster.config, {}, fault_env);
  REQUIRE_OK(opened);
  env.store = std::move(opened).value();
  const std::string e = env.Entity("blobs");
  std::vector<Id> ids = IdsPerShard(*env, "huge-", 8)[0];
  std::vector<PutItem> items;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string blob(3 << 20, '\0');
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u + 1;
    for (char& ch : blob) {
      x = x * 1664525u + 1013904223u;
      ch = static_cast<char>(x >> 24);
    }
    items.push_back({ids[i], Document::MakeObject({{"b", Document::FromBytes(blob)}}), {}});
  }
  REQUIRE_OK(env->PutMany(e, items));
  REQUIRE_OK(env->PutMany(e, items));  // and as updates
  Result<std::vector<Record>> got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK((*got)[i].version == 2);
    CHECK((*got)[i].doc == items[i].doc);
  }
}

TEST_CASE("multirow: maintained indexes, unique included, with a repeated id changing its value") {
  ClusterSpec spec = Spec({"users"});
  spec.entities[0].indexes.push_back(
      Idx("by_email", {Col("email", ColumnType::kString, "email")}, /*unique=*/true));
  spec.entities[0].indexes.push_back(Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}));
  Env env = OpenCluster(spec);
  const std::string e = env.Entity("users");
  auto user = [](const std::string& email, std::vector<std::string> tags) {
    Document t = Document::MakeArray();
    for (auto& s : tags) t.push_back(Document(s));
    return Document::MakeObject({{"email", email}, {"tags", t}});
  };
  std::vector<Id> ids = IdsPerShard(*env, "u-", 150)[0];
  REQUIRE_OK(env->Put(e, ids[0], user("zero@x", {"old"})));
  std::vector<PutItem> items;
  for (size_t i = 0; i < ids.size(); ++i) {
    items.push_back({ids[i], user("e" + std::to_string(i) + "@x", {"t1", "all"}), {}});
  }
  // The same id twice: its unique value changes within the batch; the
  // first value is free again once the batch committed.
  items.push_back({ids[5], user("five-b@x", {"t2"}), {}});
  items.push_back({ids[0], user("zero-b@x", {"all"}), {}});
  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  REQUIRE_OK(v);
  CHECK((*v)[0] == 2);
  CHECK((*v)[5] == 1);
  CHECK((*v)[ids.size()] == 2);
  CHECK((*v)[ids.size() + 1] == 3);
  for (const char* index : {"by_email", "by_tag"}) {
    Result<VerifyReport> r = env->VerifyIndex(e, index);
    REQUIRE_OK(r);
    CHECK(r->missing == 0);
    CHECK(r->dangling == 0);
  }
  // The values the repeated ids left are free; the ones they hold are not.
  REQUIRE_OK(env->Put(e, "other-1", user("e5@x", {})));
  REQUIRE_OK(env->Put(e, "other-2", user("zero@x", {})));
  REQUIRE_OK(env->Put(e, "other-3", user("e0@x", {})));
  CHECK_CODE(env->Put(e, "other-4", user("five-b@x", {})), Code::kUniqueViolation);
  CHECK_CODE(env->Put(e, "other-5", user("e7@x", {})), Code::kUniqueViolation);

  // Two ids of one shard batch claiming one value: a unique violation,
  // nothing of that batch written.
  std::vector<Id> more = IdsPerShard(*env, "w-", 3)[1];
  v = env->PutMany(e, {{more[0], user("dup@x", {"d"}), {}}, {more[1], user("solo@x", {}), {}},
                       {more[2], user("dup@x", {"d"}), {}}});
  CHECK_CODE(v, Code::kUniqueViolation);
  for (const Id& id : more) CHECK_CODE(env->Get(e, id), Code::kNotFound);
  REQUIRE_OK(env->Put(e, "other-6", user("solo@x", {})));
  for (const char* index : {"by_email", "by_tag"}) {
    Result<VerifyReport> r = env->VerifyIndex(e, index);
    REQUIRE_OK(r);
    CHECK(r->missing == 0);
    // The failed batch's transaction rolled back after inserting index
    // rows: at most dangling rows, which repair removes.
    REQUIRE_OK(env->RepairIndex(e, index));
    r = env->VerifyIndex(e, index);
    REQUIRE_OK(r);
    CHECK(r->missing == 0);
    CHECK(r->dangling == 0);
  }
}

TEST_CASE("multirow: 500 records on one shard in one batch, then updated") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  std::vector<Id> ids = IdsPerShard(*env, "big-", 500)[3];
  std::vector<PutItem> items;
  for (size_t i = 0; i < ids.size(); ++i) {
    items.push_back({ids[i], Doc("n", static_cast<int64_t>(i)), {}});
  }
  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  REQUIRE_OK(v);
  CHECK(std::all_of(v->begin(), v->end(), [](uint64_t x) { return x == 1; }));
  // Half updated, half new (a mix of upserts and inserts), if_version on each.
  std::vector<Id> fresh = IdsPerShard(*env, "big2-", 250)[3];
  items.clear();
  for (size_t i = 0; i < 250; ++i) {
    items.push_back({ids[2 * i], Doc("n", 1000 + static_cast<int64_t>(i)), IfVersion(1)});
    items.push_back({fresh[i], Doc("n", 2000 + static_cast<int64_t>(i)), IfVersion(0)});
  }
  v = env->PutMany(e, items);
  REQUIRE_OK(v);
  for (size_t i = 0; i < items.size(); ++i) CHECK((*v)[i] == (i % 2 == 0 ? 2u : 1u));
  std::vector<Id> all = ids;
  all.insert(all.end(), fresh.begin(), fresh.end());
  Result<std::vector<Record>> got = env->GetMany(e, all);
  REQUIRE_OK(got);
  REQUIRE(got->size() == 750);
  int bad = 0;
  for (size_t i = 0; i < 750; ++i) {
    const Record& r = (*got)[i];
    int64_t want_n = i < 500 ? (i % 2 == 0 ? 1000 + static_cast<int64_t>(i / 2)
                                           : static_cast<int64_t>(i))
                             : 2000 + static_cast<int64_t>(i - 500);
    uint64_t want_v = i < 500 && i % 2 == 0 ? 2 : 1;
    if (r.doc.Find("n")->as_int() != want_n || r.version != want_v) ++bad;
  }
  CHECK(bad == 0);
  CHECK(Sum(CountsByShard(*env, e)) == 750);
}

TEST_CASE("multirow: 4100 records on one shard, more ids than one lock read takes, then updated") {
  // PostgreSQL binds a shard batch as arrays, ≤ 4096 ids a lock read and
  // rows a write statement: 4100 distinct ids need two of each; the
  // updates repeat every id once more (a repeated id is locked once).
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  std::vector<Id> ids = IdsPerShard(*env, "huge-batch-", 4100)[2];
  std::vector<PutItem> items;
  for (size_t i = 0; i < ids.size(); ++i) {
    items.push_back({ids[i], Doc("n", static_cast<int64_t>(i)), {}});
  }
  Result<std::vector<uint64_t>> v = env->PutMany(e, items);
  REQUIRE_OK(v);
  CHECK(std::count(v->begin(), v->end(), 1u) == 4100);
  std::vector<PutItem> updates;
  for (size_t i = 0; i < ids.size(); ++i) {
    updates.push_back({ids[i], Doc("n", -static_cast<int64_t>(i)), IfVersion(1)});
  }
  updates.push_back({ids[7], Doc("n", 7777), IfVersion(2)});
  v = env->PutMany(e, updates);
  REQUIRE_OK(v);
  REQUIRE(v->size() == 4101);
  CHECK(std::count(v->begin(), v->end() - 1, 2u) == 4100);
  CHECK(v->back() == 3u);
  Result<std::vector<Record>> got = env->GetMany(e, ids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == 4100);
  int bad = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const Record& r = (*got)[i];
    const int64_t want_n = i == 7 ? 7777 : -static_cast<int64_t>(i);
    if (r.id != ids[i] || r.doc.Find("n")->as_int() != want_n || r.version != (i == 7 ? 3u : 2u)) {
      ++bad;
    }
  }
  CHECK(bad == 0);
  CHECK(Sum(CountsByShard(*env, e)) == 4100);
}

TEST_CASE("multirow: concurrent batches over the same ids lose no write and keep versions gapless") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  // 80 ids of one shard, none existing: the first batches race to insert
  // them (a lost insert race is retried, never overwritten); each thread
  // writes them in its own shuffled order (the lock read takes them in id
  // order, so no deadlock needs to be broken).
  const std::vector<Id> ids = IdsPerShard(*env, "cc-", 80)[1];
  constexpr int kThreads = 3, kRounds = 8;
  std::mutex mu;
  std::map<Id, std::vector<uint64_t>> returned;
  std::vector<std::string> problems;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int r = 0; r < kRounds; ++r) {
        std::vector<Id> order = ids;
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<PutItem> items;
        for (const Id& id : order) items.push_back({id, Doc("t", t), {}});
        items.push_back({order[0], Doc("t", t), {}});  // and one id twice
        Result<std::vector<uint64_t>> v = env->PutMany(e, items);
        std::lock_guard<std::mutex> lock(mu);
        if (!v.ok()) {
          problems.push_back(v.status().ToString());
          continue;
        }
        for (size_t i = 0; i < items.size(); ++i) returned[items[i].id].push_back((*v)[i]);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const std::string& p : problems) FAIL_CHECK(p);
  REQUIRE(problems.empty());
  int bad = 0;
  for (const Id& id : ids) {
    std::vector<uint64_t> got = returned[id];
    std::sort(got.begin(), got.end());
    std::vector<uint64_t> want(got.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = i + 1;
    Result<Record> rec = env->Get(e, id);
    REQUIRE_OK(rec);
    if (got != want || rec->version != got.size()) ++bad;
  }
  CHECK(bad == 0);
}

TEST_CASE("multirow: a batch of 200 on one server shard takes a constant number of statements") {
  auto fault = std::make_shared<FaultEnv>();
  AnnounceBackend();
  TestCluster cluster = MakeCluster(BackendFromEnv(), Spec({"items"}));
  REQUIRE_OK(Store::Impl::Init(cluster.config, {}, fault));
  Result<std::unique_ptr<Store>> opened = Store::Impl::Open(cluster.config, {}, fault);
  REQUIRE_OK(opened);
  Store& store = **opened;
  const std::string e = cluster.Entity("items");
  // A server shard when there is one (the mixed cluster has both kinds).
  const std::vector<std::string>& shards = store.config().shards;
  size_t pick = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (BackendOfShard(store, shards[i]) != Backend::kSqlite) {
      pick = i;
      break;
    }
  }
  std::vector<Id> ids = IdsPerShard(store, "cnt-", 600)[pick];
  const std::string shard = store.Locate(ids[0]).shard;
  REQUIRE(shard == shards[pick]);
  auto batch = [&](size_t from, size_t n) {
    std::vector<PutItem> items;
    for (size_t i = from; i < from + n; ++i) {
      items.push_back({ids[i], Doc("n", static_cast<int64_t>(i)), {}});
    }
    return items;
  };
  // Warm-up of the same shape: statements prepared, connection open.
  REQUIRE_OK(store.PutMany(e, batch(0, 200)));
  std::map<SqlOp, int> ops;
  std::vector<std::string> seen;
  std::mutex mu;
  fault->SetObserver([&](const std::string& database, SqlOp op, std::string_view sql) {
    if (database != shard) return;
    std::lock_guard<std::mutex> lock(mu);
    ++ops[op];
    if (op == SqlOp::kExecute || op == SqlOp::kBegin || op == SqlOp::kCommit) {
      seen.emplace_back(sql.substr(0, 60));
    }
  });
  Result<std::vector<uint64_t>> v = store.PutMany(e, batch(200, 200));
  fault->SetObserver(nullptr);
  REQUIRE_OK(v);
  CHECK(std::all_of(v->begin(), v->end(), [](uint64_t x) { return x == 1; }));
  // And 200 updates of existing records.
  std::vector<PutItem> updates = batch(0, 200);
  for (auto& item : updates) item.options = IfVersion(1);
  const int statements = ops[SqlOp::kExecute] + ops[SqlOp::kBegin] + ops[SqlOp::kCommit];
  ops.clear();
  fault->SetObserver([&](const std::string& database, SqlOp op, std::string_view) {
    if (database != shard) return;
    std::lock_guard<std::mutex> lock(mu);
    ++ops[op];
  });
  v = store.PutMany(e, updates);
  fault->SetObserver(nullptr);
  REQUIRE_OK(v);
  CHECK(std::all_of(v->begin(), v->end(), [](uint64_t x) { return x == 2; }));
  const int update_statements = ops[SqlOp::kExecute] + ops[SqlOp::kBegin] + ops[SqlOp::kCommit];
  std::string trace;
  if (seen.size() <= 20) {
    for (const std::string& s : seen) trace += "\n  " + s;
  }
  MESSAGE("shard " << shard << ": " << statements << " statements for 200 inserts, "
                   << update_statements << " for 200 updates" << trace);
  if (BackendOfShard(store, shard) != Backend::kSqlite) {
    // BEGIN, fence, one lock read (≤ 256 ids), 4 inserts (64, 64, 64, 8), COMMIT.
    CHECK(statements <= 8);
    CHECK(update_statements <= 8);
    if (BackendOfShard(store, shard) == Backend::kPostgres) {
      // An unindexed entity's batch of puts: one statement, no BEGIN or
      // COMMIT (records/pg_put_many.h).
      CHECK(statements == 1);
      CHECK(update_statements == 1);
    }
  } else {
    CHECK(statements > 200);  // SQLite keeps its single-row path
  }
}

}  // TEST_SUITE
