// Online index lifecycle on every backend: an index added to a live
// cluster is built while another Store (whose config does not name it)
// keeps writing; a build interrupted mid-way resumes from its checkpoint;
// unique violations stop a build and leave the index write_only; verify
// counts dangling, missing and misplaced rows exactly and repair fixes
// them; drop is online.
//
// BuildIndex and DropIndex wait for the lease (kStateChangeWaitMs, a few
// seconds) by design, so each test case here takes a few seconds.
#include <soci/soci.h>

#include <atomic>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/connection_pool.h"
#include "conformance/conformance.h"
#include "indexer/index_catalog.h"
#include "indexer/index_def.h"
#include "indexer/index_table.h"

using namespace conformance;  // NOLINT

namespace {

// The cluster, as the process that predates the index sees it.
ClusterConfig WithoutIndexes(ClusterConfig config) {
  for (EntityConfig& e : config.entities) e.indexes.clear();
  return config;
}

std::unique_ptr<Store> OpenStore(const ClusterConfig& config) {
  Result<std::unique_ptr<Store>> s = Store::Open(config);
  REQUIRE_MESSAGE(s.ok(), "Store::Open: " << s.status().ToString());
  return std::move(s).value();
}

std::optional<IndexStatus> StatusOf(Store& store, const std::string& entity,
                                    const std::string& index) {
  Result<std::vector<IndexStatus>> all = store.IndexStatuses();
  REQUIRE_OK(all);
  for (const IndexStatus& s : *all) {
    if (s.entity == entity && s.index == index) return s;
  }
  return std::nullopt;
}

void CheckVerify(Store& store, const std::string& entity, const std::string& index,
                 uint64_t missing, uint64_t dangling) {
  Result<VerifyReport> r = store.VerifyIndex(entity, index);
  REQUIRE_OK(r);
  CHECK_MESSAGE(r->missing == missing, "missing " << r->missing << ", expected " << missing);
  CHECK_MESSAGE(r->dangling == dangling, "dangling " << r->dangling << ", expected " << dangling);
}

indexer::IndexDef DefOf(const ClusterConfig& config, const std::string& entity,
                        const std::string& index) {
  const EntityConfig* e = config.FindEntity(entity);
  REQUIRE(e != nullptr);
  const IndexConfig* ix = e->FindIndex(index);
  REQUIRE(ix != nullptr);
  return indexer::FromConfig(*e, *ix);
}

// Direct access to an index database, bypassing libshard's maintenance.
class IndexDb {
 public:
  IndexDb(const ClusterConfig& config, const std::string& database)
      : pool_(*config.FindDatabase(database), Options{}) {
    Result<cluster::ConnectionPool::Lease> lease = pool_.Acquire();
    REQUIRE_OK(lease);
    lease_ = std::move(lease).value();
  }
  soci::session& sql() { return lease_->sql(); }
  void Insert(const indexer::IndexDef& def, const IndexRow& row, const std::string& id) {
    indexer::IndexWriter(sql(), pool_.dialect(), def).Insert(row, id);
  }
  void InsertMany(const indexer::IndexDef& def,
                  const std::vector<std::pair<IndexRow, std::string>>& rows) {
    std::vector<std::pair<const IndexRow*, std::string_view>> refs;
    for (const auto& [row, id] : rows) refs.emplace_back(&row, id);
    indexer::IndexWriter(sql(), pool_.dialect(), def).InsertMany(refs);
  }
  void Delete(const indexer::IndexDef& def, const IndexRow& row, const std::string& id) {
    indexer::IndexWriter(sql(), pool_.dialect(), def).Delete(row, id);
  }
  long long Count(const indexer::IndexDef& def) {
    long long n = 0;
    sql() << "SELECT COUNT(*) FROM " + def.Table(), soci::into(n);
    return n;
  }
  bool Has(const indexer::IndexDef& def, const IndexRow& row, const std::string& id) {
    indexer::RowSlots slots(pool_.dialect(), def);
    slots.Set(row);
    std::string enc = pool_.dialect().EncodeBytes(id);
    long long n = 0;
    soci::details::prepare_temp_type prep =
        (sql().prepare << "SELECT COUNT(*) FROM " + def.Table() + " WHERE " + slots.EqualsAll() +
                              " AND id = " + pool_.dialect().BytesParam("id"));
    prep, soci::into(n);
    slots.Bind(prep);
    prep, soci::use(enc);
    soci::statement st = prep;
    st.execute(true);
    backend::Drain(st);
    return n > 0;
  }

 private:
  cluster::ConnectionPool pool_;
  cluster::ConnectionPool::Lease lease_;
};

Document TagDoc(int i, int round) {
  if (i % 10 == 0) return Document::MakeObject({{"n", i}});  // no tags: no rows
  return Document::MakeObject(
      {{"n", i},
       {"tags", Document::MakeArray({"t" + std::to_string((i + round) % 7),
                                     "u" + std::to_string((i * (round + 1)) % 5)})}});
}

std::vector<PutItem> Items(int from, int to, int round) {
  std::vector<PutItem> items;
  for (int i = from; i < to; ++i) items.push_back({"r" + std::to_string(i), TagDoc(i, round), {}});
  return items;
}

struct Interrupted {};

}  // namespace

TEST_SUITE("index build") {

TEST_CASE("an index added to a live cluster is built while a process that predates it writes") {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes = {Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")})};
  TestCluster tc = MakeCluster(BackendFromEnv(), spec);
  const std::string e = tc.Entity("posts");
  const ClusterConfig without = WithoutIndexes(tc.config);
  REQUIRE_OK(Store::Init(without));
  std::unique_ptr<Store> old_store = OpenStore(without);  // does not know the index
  REQUIRE_OK(old_store->PutMany(e, Items(0, 2000, 0)));

  std::unique_ptr<Store> builder = OpenStore(tc.config);
  CHECK_FALSE(StatusOf(*builder, e, "by_tag").has_value());

  std::atomic<bool> stop{false};
  std::atomic<long> writes{0}, failures{0};
  std::mutex errors_mu;
  std::vector<std::string> errors;
  std::thread writer([&] {
    std::mt19937 rng(42);
    int round = 1;
    while (!stop.load()) {
      int i = static_cast<int>(rng() % 3000);  // updates, and creates above 2000
      std::string id = "r" + std::to_string(i);
      Status s;
      if (rng() % 5 == 0) {
        s = old_store->Delete(e, id).status();
      } else {
        s = old_store->Put(e, id, TagDoc(i, ++round)).status();
      }
      ++writes;
      if (!s.ok()) {
        ++failures;
        std::lock_guard<std::mutex> lock(errors_mu);
        if (errors.size() < 5) errors.push_back(s.ToString());
      }
    }
  });

  BuildOptions options;
  options.chunk = 50;
  int chunks = 0;
  uint64_t last_scanned = 0;
  options.progress = [&](const IndexStatus& s) {
    ++chunks;
    CHECK(s.records_scanned >= last_scanned);
    last_scanned = s.records_scanned;
    CHECK(s.state == IndexState::kWriteOnly);
    CHECK(s.shards_total == 4);
  };
  const long writes_before = writes.load();
  Status built = builder->BuildIndex(e, "by_tag", options);
  const long writes_during = writes.load() - writes_before;
  // Keep writing a little after the index became ready.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop.store(true);
  writer.join();
  REQUIRE_OK(built);
  for (const std::string& err : errors) MESSAGE("write failed: " << err);
  CHECK(failures.load() == 0);
  MESSAGE(writes_during << " writes during the build, " << chunks << " backfill chunks");
  CHECK(writes_during > 50);
  CHECK(chunks >= 2000 / 50 / 2);

  std::optional<IndexStatus> st = StatusOf(*builder, e, "by_tag");
  REQUIRE(st.has_value());
  CHECK(st->state == IndexState::kReady);
  CHECK(st->shards_done == 4);
  CHECK(st->shards_total == 4);
  CHECK(st->records_scanned >= 1000);

  CheckVerify(*builder, e, "by_tag", 0, 0);

  // The old process learned the index from the catalog: its later writes
  // keep the ready index exact (updates, deletes, creates).
  for (int i = 0; i < 300; ++i) {
    std::string id = "r" + std::to_string(i * 7 % 3100);
    if (i % 4 == 0) {
      REQUIRE_OK(old_store->Delete(e, id));
    } else {
      REQUIRE_OK(old_store->Put(e, id, TagDoc(i, 1000 + i)));
    }
  }
  CheckVerify(*old_store, e, "by_tag", 0, 0);

  // A query through the new index equals a brute-force filter.
  Result<std::vector<Record>> all = builder->ScanAll(e);
  REQUIRE_OK(all);
  std::multiset<std::string> expected;
  for (const Record& r : *all) {
    const Document* tags = r.doc.Find("tags");
    if (tags == nullptr) continue;
    for (const Document& t : tags->as_array()) {
      if (t.as_string() == "t3") {
        expected.insert(r.id);
        break;
      }
    }
  }
  std::multiset<std::string> found;
  Query q;
  q.index = "by_tag";
  q.where = {Condition{"tag", Op::kEq, {Document("t3")}}};
  q.limit = 97;
  for (int page = 0; page < 1000; ++page) {
    Result<QueryPage> p = builder->Query(e, q);
    REQUIRE_OK(p);
    for (const Record& r : p->records) found.insert(r.id);
    if (p->next.empty()) break;
    q.after = p->next;
  }
  CHECK(expected.size() > 100);
  CHECK(found == expected);
}

TEST_CASE("a build interrupted after two chunks resumes from its checkpoint") {
  ClusterSpec spec = Spec({"items"});
  spec.entities[0].indexes = {Idx("by_n", {Col("n", ColumnType::kInt, "n")})};
  TestCluster tc = MakeCluster(BackendFromEnv(), spec);
  const std::string e = tc.Entity("items");
  const ClusterConfig without = WithoutIndexes(tc.config);
  REQUIRE_OK(Store::Init(without));
  {
    std::unique_ptr<Store> old_store = OpenStore(without);
    REQUIRE_OK(old_store->PutMany(e, Items(0, 2000, 0)));
  }
  std::unique_ptr<Store> store = OpenStore(tc.config);
  // Every shard holds more than two chunks, so the interruption is mid-shard.
  for (const auto& [shard, n] : CountsByShard(*store, e)) REQUIRE(n > 200);

  BuildOptions first;
  first.chunk = 100;
  int calls = 0;
  first.progress = [&](const IndexStatus&) {
    if (++calls == 2) throw Interrupted{};
  };
  CHECK_THROWS_AS((void)store->BuildIndex(e, "by_n", first), Interrupted);
  CHECK(calls == 2);

  std::optional<IndexStatus> st = StatusOf(*store, e, "by_n");
  REQUIRE(st.has_value());
  CHECK(st->state == IndexState::kWriteOnly);
  CHECK(st->records_scanned == 200);
  CHECK(st->shards_done == 0);
  // Exactly the 200 backfilled records have their row so far.
  CheckVerify(*store, e, "by_n", 1800, 0);
  Query q;
  q.index = "by_n";
  q.where = {Condition{"n", Op::kEq, {Document(5)}}};
  CHECK_CODE(store->Query(e, q), Code::kInvalidArgument);  // write_only

  BuildOptions second;
  second.chunk = 100;
  std::vector<uint64_t> scanned;
  second.progress = [&](const IndexStatus& s) { scanned.push_back(s.records_scanned); };
  REQUIRE_OK(store->BuildIndex(e, "by_n", second));
  REQUIRE_FALSE(scanned.empty());
  CHECK(scanned.front() == 300);  // continued after the two saved chunks
  CHECK(scanned.back() == 2000);

  st = StatusOf(*store, e, "by_n");
  REQUIRE(st.has_value());
  CHECK(st->state == IndexState::kReady);
  CHECK(st->shards_done == 4);
  CheckVerify(*store, e, "by_n", 0, 0);
  Result<QueryPage> page = store->Query(e, q);
  REQUIRE_OK(page);
  REQUIRE(page->records.size() == 1);
  CHECK(page->records[0].id == "r5");

  // Building a ready index again is a no-op.
  int more = 0;
  second.progress = [&](const IndexStatus&) { ++more; };
  REQUIRE_OK(store->BuildIndex(e, "by_n", second));
  CHECK(more == 0);
}

TEST_CASE("existing duplicates of a unique value stop the build; the index stays write_only") {
  ClusterSpec spec = Spec({"users"});
  spec.entities[0].indexes = {
      Idx("by_email", {Col("email", ColumnType::kString, "email", /*lower=*/true)}, true)};
  TestCluster tc = MakeCluster(BackendFromEnv(), spec);
  const std::string e = tc.Entity("users");
  const ClusterConfig without = WithoutIndexes(tc.config);
  REQUIRE_OK(Store::Init(without));
  std::unique_ptr<Store> old_store = OpenStore(without);
  std::vector<PutItem> items;
  for (int i = 0; i < 300; ++i) {
    items.push_back({"user" + std::to_string(i),
                     Document::MakeObject({{"email", "u" + std::to_string(i) + "@example.com"}}),
                     {}});
  }
  items.push_back({"ada", Document::MakeObject({{"email", "Ada@Example.com"}}), {}});
  items.push_back({"ada2", Document::MakeObject({{"email", "ada@example.COM"}}), {}});
  REQUIRE_OK(old_store->PutMany(e, items));

  std::unique_ptr<Store> store = OpenStore(tc.config);
  BuildOptions options;
  options.chunk = 64;
  Status built = store->BuildIndex(e, "by_email", options);
  CHECK_CODE(built, Code::kUniqueViolation);
  CHECK_MESSAGE(built.message().find(e + "/ada ") != std::string::npos, built.message());
  CHECK_MESSAGE(built.message().find(e + "/ada2") != std::string::npos, built.message());

  std::optional<IndexStatus> st = StatusOf(*store, e, "by_email");
  REQUIRE(st.has_value());
  CHECK(st->state == IndexState::kWriteOnly);
  Query q;
  q.index = "by_email";
  q.where = {Condition{"email", Op::kEq, {Document("u1@example.com")}}};
  CHECK_CODE(store->Query(e, q), Code::kInvalidArgument);

  // write_only: maintained and enforced by every process, also the one
  // whose config does not name it.
  REQUIRE_OK(old_store->Put(e, "grace", Document::MakeObject({{"email", "grace@example.com"}})));
  CHECK_CODE(old_store->Put(e, "grace2", Document::MakeObject({{"email", "GRACE@example.com"}})),
             Code::kUniqueViolation);
  CHECK_CODE(store->Get(e, "grace2"), Code::kNotFound);

  // Resolve the duplicate; the build then completes.
  REQUIRE_OK(old_store->Put(e, "ada2", Document::MakeObject({{"email", "ada2@example.com"}})));
  REQUIRE_OK(store->BuildIndex(e, "by_email", options));
  st = StatusOf(*store, e, "by_email");
  REQUIRE(st.has_value());
  CHECK(st->state == IndexState::kReady);
  CheckVerify(*store, e, "by_email", 0, 0);
  Result<QueryPage> page = store->Query(e, q);
  REQUIRE_OK(page);
  REQUIRE(page->records.size() == 1);
  CHECK(page->records[0].id == "user1");
}

TEST_CASE("verify counts dangling and missing rows exactly; repair fixes them") {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes = {Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")})};
  Env env = OpenCluster(spec);
  const std::string e = env.Entity("posts");
  REQUIRE_OK(env->PutMany(e, Items(0, 300, 0)));
  REQUIRE_OK(env->BuildIndex(e, "by_tag"));
  CheckVerify(*env, e, "by_tag", 0, 0);

  const indexer::IndexDef def = DefOf(env.cluster.config, e, "by_tag");
  IndexDb idx(env.cluster.config, "idx0");
  const long long rows = idx.Count(def);
  CHECK(rows > 400);

  SUBCASE("dangling") {
    idx.Insert(def, {Document("t1")}, "ghost1");          // no such record
    idx.Insert(def, {Document("zz")}, "ghost2");
    idx.Insert(def, {Document("t1")}, std::string("\x00\xff", 2));  // binary id
    idx.Insert(def, {Document("nope")}, "r1");            // record without that tag
    idx.Insert(def, {Document("t0")}, "r10");             // r10 has no tags at all
    CHECK(idx.Count(def) == rows + 5);
    CheckVerify(*env, e, "by_tag", 0, 5);
    Result<VerifyReport> fixed = env->RepairIndex(e, "by_tag");
    REQUIRE_OK(fixed);
    CHECK(fixed->missing == 0);
    CHECK(fixed->dangling == 5);
    CheckVerify(*env, e, "by_tag", 0, 0);
    CHECK(idx.Count(def) == rows);
  }
  SUBCASE("missing") {
    // One row each of seven records (they have two tags each).
    int removed = 0;
    for (int i : {1, 2, 3, 4, 5, 6, 7}) {
      const std::string id = "r" + std::to_string(i);
      Result<Record> rec = env->Get(e, id);
      REQUIRE_OK(rec);
      std::vector<IndexRow> own;
      REQUIRE_OK(def.Rows(rec->doc, &own));
      REQUIRE(own.size() == 2);
      REQUIRE(idx.Has(def, own[0], id));
      idx.Delete(def, own[0], id);
      CHECK_FALSE(idx.Has(def, own[0], id));
      ++removed;
    }
    CHECK(idx.Count(def) == rows - removed);
    CheckVerify(*env, e, "by_tag", 7, 0);
    Result<VerifyReport> fixed = env->RepairIndex(e, "by_tag");
    REQUIRE_OK(fixed);
    CHECK(fixed->missing == 7);
    CHECK(fixed->dangling == 0);
    CheckVerify(*env, e, "by_tag", 0, 0);
    CHECK(idx.Count(def) == rows);
  }
  SUBCASE("both at once, and a record deleted behind the index's back") {
    Result<Record> rec = env->Get(e, "r21");
    REQUIRE_OK(rec);
    std::vector<IndexRow> own;
    REQUIRE_OK(def.Rows(rec->doc, &own));
    REQUIRE(own.size() == 2);
    idx.Delete(def, own[0], "r21");   // missing 1
    idx.Delete(def, own[1], "r21");   // missing 2
    idx.Insert(def, {Document("x")}, "r22");  // dangling 1
    idx.Insert(def, {Document("y")}, "ghost");  // dangling 2
    CheckVerify(*env, e, "by_tag", 2, 2);
    Result<VerifyReport> fixed = env->RepairIndex(e, "by_tag");
    REQUIRE_OK(fixed);
    CHECK(fixed->missing == 2);
    CHECK(fixed->dangling == 2);
    CheckVerify(*env, e, "by_tag", 0, 0);
    CHECK(idx.Has(def, own[0], "r21"));
    CHECK(idx.Has(def, own[1], "r21"));
  }
}

TEST_CASE("sharded index: a row on the wrong database counts as dangling (and missing)") {
  ClusterSpec spec = Spec({"posts"});
  spec.index_databases = {"idx0", "idx1"};
  spec.entities[0].indexes = {
      Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}, false, {"idx0", "idx1"})};
  Env env = OpenCluster(spec);
  const std::string e = env.Entity("posts");
  REQUIRE_OK(env->PutMany(e, Items(0, 200, 0)));
  REQUIRE_OK(env->BuildIndex(e, "by_tag"));
  CheckVerify(*env, e, "by_tag", 0, 0);

  const indexer::IndexDef def = DefOf(env.cluster.config, e, "by_tag");
  IndexDb db0(env.cluster.config, "idx0"), db1(env.cluster.config, "idx1");
  CHECK(db0.Count(def) > 0);  // both databases hold rows
  CHECK(db1.Count(def) > 0);
  Result<Record> rec = env->Get(e, "r3");
  REQUIRE_OK(rec);
  std::vector<IndexRow> own;
  REQUIRE_OK(def.Rows(rec->doc, &own));
  REQUIRE_FALSE(own.empty());
  const IndexRow& row = own[0];
  const size_t right = def.DatabaseFor(row[0]);
  IndexDb& good = right == 0 ? db0 : db1;
  IndexDb& wrong = right == 0 ? db1 : db0;
  REQUIRE(good.Has(def, row, "r3"));

  wrong.Insert(def, row, "r3");  // a copy on the wrong database
  CheckVerify(*env, e, "by_tag", 0, 1);
  good.Delete(def, row, "r3");   // and now only there
  CheckVerify(*env, e, "by_tag", 1, 1);

  Result<VerifyReport> fixed = env->RepairIndex(e, "by_tag");
  REQUIRE_OK(fixed);
  CHECK(fixed->missing == 1);
  CHECK(fixed->dangling == 1);
  CheckVerify(*env, e, "by_tag", 0, 0);
  CHECK(good.Has(def, row, "r3"));
  CHECK_FALSE(wrong.Has(def, row, "r3"));
}

TEST_CASE("multi-row index inserts add each row once, skipping rows already there") {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes = {Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")})};
  Env env = OpenCluster(spec);
  const indexer::IndexDef def = DefOf(env.cluster.config, env.Entity("posts"), "by_tag");
  IndexDb db(env.cluster.config, def.databases[0]);
  auto row = [](int i) { return IndexRow{Document("t" + std::to_string(i))}; };
  auto id = [](int i) { return "p" + std::to_string(i); };
  db.Insert(def, row(5), id(5));  // already there before the batch
  // Two full multi-row statements and a remainder of single inserts; the
  // first statement holds (t3, p3) twice and the row inserted above.
  const int distinct = 2 * static_cast<int>(indexer::IndexWriter::kBatchRows) + 4;
  std::vector<std::pair<IndexRow, std::string>> rows;
  for (int i = 0; i < 8; ++i) rows.emplace_back(row(i), id(i));
  rows.emplace_back(row(3), id(3));
  for (int i = 8; i < distinct; ++i) rows.emplace_back(row(i), id(i));
  db.InsertMany(def, rows);
  CHECK(db.Count(def) == distinct);
  for (int i = 0; i < distinct; ++i) CHECK_MESSAGE(db.Has(def, row(i), id(i)), "row " << i);
  db.InsertMany(def, rows);  // all present: nothing changes, nothing fails
  CHECK(db.Count(def) == distinct);
}

TEST_CASE("drop is online; an interrupted drop is finished by dropping again") {
  ClusterSpec spec = Spec({"items"});
  spec.entities[0].indexes = {Idx("by_n", {Col("n", ColumnType::kInt, "n")}),
                              Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")})};
  Env env = OpenCluster(spec);
  const std::string e = env.Entity("items");
  REQUIRE_OK(env->PutMany(e, Items(0, 100, 0)));
  REQUIRE_OK(env->BuildIndex(e, "by_n"));
  REQUIRE_OK(env->BuildIndex(e, "by_tag"));
  const indexer::IndexDef by_n = DefOf(env.cluster.config, e, "by_n");
  const indexer::IndexDef by_tag = DefOf(env.cluster.config, e, "by_tag");
  IndexDb idx(env.cluster.config, "idx0");
  CHECK(idx.Count(by_n) == 100);

  // Writes continue while the drop waits.
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0}, writes{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      if (!env->Put(e, "w" + std::to_string(i % 50), TagDoc(i, i)).ok()) ++failures;
      ++writes;
    }
  });
  Status dropped = env->DropIndex(e, "by_n");
  stop.store(true);
  writer.join();
  REQUIRE_OK(dropped);
  CHECK(failures.load() == 0);
  CHECK(writes.load() > 10);

  CHECK_FALSE(StatusOf(*env, e, "by_n").has_value());
  CHECK(StatusOf(*env, e, "by_tag").has_value());
  CHECK_THROWS_AS(idx.Count(by_n), soci::soci_error);  // the table is gone
  CHECK_CODE(env->DropIndex(e, "by_n"), Code::kInvalidArgument);
  CHECK_CODE(env->VerifyIndex(e, "by_n"), Code::kInvalidArgument);
  Query q;
  q.index = "by_n";
  q.where = {Condition{"n", Op::kEq, {Document(5)}}};
  CHECK_CODE(env->Query(e, q), Code::kInvalidArgument);
  REQUIRE_OK(env->Put(e, "after", Document::MakeObject({{"n", 1}})));
  CheckVerify(*env, e, "by_tag", 0, 0);  // the other index is untouched

  // A drop that stopped after marking the index `dropping`.
  {
    cluster::ConnectionPool catalog(*env.cluster.config.FindDatabase("catalog"), Options{});
    Result<cluster::ConnectionPool::Lease> lease = catalog.Acquire();
    REQUIRE_OK(lease);
    indexer::SetIndexState((*lease)->sql(), e, "by_tag", IndexState::kDropping);
  }
  std::optional<IndexStatus> st = StatusOf(*env, e, "by_tag");
  REQUIRE(st.has_value());
  CHECK(st->state == IndexState::kDropping);
  CHECK_CODE(env->BuildIndex(e, "by_tag"), Code::kInvalidArgument);  // never resurrected
  REQUIRE_OK(env->DropIndex(e, "by_tag"));
  CHECK_FALSE(StatusOf(*env, e, "by_tag").has_value());
  CHECK_THROWS_AS(idx.Count(by_tag), soci::soci_error);
}

TEST_CASE("unknown indexes are refused") {
  Env env = OpenCluster(Spec({"things"}));
  const std::string e = env.Entity("things");
  CHECK_CODE(env->BuildIndex(e, "nope"), Code::kInvalidArgument);
  CHECK_CODE(env->VerifyIndex(e, "nope"), Code::kInvalidArgument);
  CHECK_CODE(env->RepairIndex(e, "nope"), Code::kInvalidArgument);
  CHECK_CODE(env->DropIndex(e, "nope"), Code::kInvalidArgument);
  CHECK_CODE(env->BuildIndex("no_such_entity", "nope"), Code::kInvalidArgument);
  Result<std::vector<IndexStatus>> all = env->IndexStatuses();
  REQUIRE_OK(all);
  for (const IndexStatus& s : *all) CHECK(s.entity != e);
}

TEST_CASE("a process whose config lacks an index's database refuses writes to that entity only") {
  ClusterSpec spec = Spec({"posts", "notes"});
  spec.index_databases = {"idx0", "idx1"};
  spec.entities[0].indexes = {Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}, false,
                                  {"idx1"})};
  TestCluster tc = MakeCluster(BackendFromEnv(), spec);
  const std::string posts = tc.Entity("posts"), notes = tc.Entity("notes");
  REQUIRE_OK(Store::Init(tc.config));

  // An older deploy: no index in its config, and no idx1 database either.
  ClusterConfig partial = WithoutIndexes(tc.config);
  partial.databases.erase(std::remove_if(partial.databases.begin(), partial.databases.end(),
                                         [](const DatabaseConfig& d) { return d.name == "idx1"; }),
                          partial.databases.end());
  REQUIRE_OK(partial.Validate());
  std::unique_ptr<Store> old_store = OpenStore(partial);

  // It cannot maintain posts.by_tag, so it must not write posts at all
  // (a stored record without its index row would be missed by queries)…
  Result<uint64_t> put = old_store->Put(posts, "p1", TagDoc(1, 0));
  CHECK_CODE(put, Code::kInvalidConfig);
  if (!put.ok()) CHECK(put.status().message().find("idx1") != std::string::npos);
  CHECK_CODE(old_store->Get(posts, "p1"), Code::kNotFound);
  Query q;
  q.index = "by_tag";
  CHECK_CODE(old_store->Query(posts, q), Code::kInvalidConfig);
  // …while every other entity keeps working.
  CHECK_OK(old_store->Put(notes, "n1", Document::MakeObject({{"x", 1}})));
  CHECK_OK(old_store->Get(notes, "n1"));

  // A process with the full config writes posts and keeps the index exact.
  std::unique_ptr<Store> full = OpenStore(tc.config);
  REQUIRE_OK(full->Put(posts, "p1", TagDoc(1, 0)));
  CheckVerify(*full, posts, "by_tag", 0, 0);
}

}  // TEST_SUITE
