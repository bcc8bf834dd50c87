// PutMany on PostgreSQL and MariaDB: a shard batch of puts of an entity
// without maintained indexes is one statement outside a transaction of the
// caller's (records/pg_put_many.h, records/my_put_many.h,
// ShardWriter::TryOneStatement). The tests that need the statement itself
// run on the first PostgreSQL or MariaDB shard; the semantics tests run on
// every backend (the other paths must agree).
#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/connection_pool.h"
#include "cluster/fault_env.h"
#include "conformance/conformance.h"
#include "indexer/index_catalog.h"
#include "libshard/id.h"
#include "records/record_table.h"
#include "store_impl.h"

using namespace conformance;  // NOLINT
using libshard::backend::SqlOp;
using libshard::cluster::Fault;
using libshard::cluster::FaultEnv;

namespace {

Document Doc(int64_t n, const std::string& tag = "") {
  Document d = Document::MakeObject({{"n", n}});
  if (!tag.empty()) d["tags"] = Document::MakeArray({Document(tag)});
  return d;
}

// How the one statement begins on each server (for the observer and the
// faults' sql_contains).
std::string OneStatementMarker(Backend b) {
  return b == Backend::kPostgres ? "WITH own AS" : "BEGIN NOT ATOMIC";
}

struct Fixture {
  std::shared_ptr<FaultEnv> env = std::make_shared<FaultEnv>();
  TestCluster cluster;
  std::unique_ptr<Store> store;

  explicit Fixture(const ClusterSpec& spec) {
    AnnounceBackend();
    cluster = MakeCluster(BackendFromEnv(), spec);
    REQUIRE_OK(Store::Impl::Init(cluster.config, {}, env));
    Result<std::unique_ptr<Store>> s = Store::Impl::Open(cluster.config, {}, env);
    REQUIRE_MESSAGE(s.ok(), "Open: " << s.status().ToString());
    store = std::move(s).value();
  }
  // The first PostgreSQL or MariaDB shard, or "" (said in the test's
  // output) when the cluster has none: the caller's test has nothing to
  // check then. `marker` gets how its one statement begins.
  std::string ServerShard(std::string* marker = nullptr) const {
    for (size_t i = 0; i < store->config().shards.size(); ++i) {
      const DatabaseConfig* db = store->config().FindDatabase(store->config().shards[i]);
      if (db != nullptr && db->backend != Backend::kSqlite) {
        if (marker) *marker = OneStatementMarker(db->backend);
        return db->name;
      }
    }
    MESSAGE("no PostgreSQL or MariaDB shard on this backend: nothing to check");
    return "";
  }
  Backend BackendOf(const std::string& shard) const {
    return store->config().FindDatabase(shard)->backend;
  }
  // `n` ids that route to `shard`.
  std::vector<Id> IdsOn(const std::string& shard, const std::string& prefix, size_t n) const {
    const auto& shards = store->config().shards;
    size_t at = std::find(shards.begin(), shards.end(), shard) - shards.begin();
    return IdsPerShard(*store, prefix, n)[at];
  }
};

// What one shard was sent while it is installed.
struct Sent {
  int begins = 0, commits = 0, executes = 0, one_statements = 0;
  Sent(FaultEnv& env, const std::string& shard, const std::string& marker) : env_(env) {
    env.SetObserver([this, shard, marker](const std::string& db, SqlOp op, std::string_view text) {
      if (db != shard) return;
      std::lock_guard<std::mutex> lock(mu_);
      begins += op == SqlOp::kBegin;
      commits += op == SqlOp::kCommit;
      executes += op == SqlOp::kExecute;
      one_statements += op == SqlOp::kExecute && text.starts_with(marker);
    });
  }
  ~Sent() { env_.SetObserver(nullptr); }

 private:
  FaultEnv& env_;
  std::mutex mu_;
};

std::vector<PutItem> Items(const std::vector<Id>& ids, int64_t n, const std::string& tag = "") {
  std::vector<PutItem> items;
  for (const Id& id : ids) items.push_back({id, Doc(n, tag), {}});
  return items;
}

}  // namespace

TEST_SUITE("batch one statement") {

TEST_CASE("one statement: new ids, updates, if_version 0 and if_version v in one batch get the "
          "versions one-at-a-time writes would; one conflict undoes the whole shard batch") {
  Fixture f(Spec({"items"}));
  const std::string e = f.cluster.Entity("items");
  std::vector<Id> ids = IdsPerShard(*f.store, "mix-", 6)[0];  // one shard batch
  REQUIRE_OK(f.store->PutMany(e, Items({ids[1], ids[3]}, 0)));  // version 1
  REQUIRE_OK(f.store->Put(e, ids[3], Doc(1)));                   // version 2
  std::vector<PutItem> batch = Items(ids, 7);
  batch[2].options = IfVersion(0);  // must not exist: created
  batch[3].options = IfVersion(2);  // compare-and-set: matches
  Result<std::vector<uint64_t>> v = f.store->PutMany(e, batch);
  REQUIRE_OK(v);
  CHECK(*v == std::vector<uint64_t>{1, 2, 1, 3, 1, 1});
  for (size_t i = 0; i < ids.size(); ++i) {
    Result<Record> rec = f.store->Get(e, ids[i]);
    REQUIRE_OK(rec);
    CHECK(rec->version == (*v)[i]);
    CHECK(rec->doc["n"].as_int() == 7);
  }
  // One stale if_version among fresh puts: nothing of the batch is written,
  // and the error names the record and both versions.
  std::vector<PutItem> stale = Items(ids, 8);
  stale[4].options = IfVersion(5);
  Result<std::vector<uint64_t>> c = f.store->PutMany(e, stale);
  CHECK_CODE(c, Code::kVersionConflict);
  CHECK(c.status().message().find("expected version 5, found 1") != std::string::npos);
  // And an if_version 0 of an id that exists.
  std::vector<PutItem> exists = Items(ids, 9);
  exists[0].options = IfVersion(0);
  CHECK_CODE(f.store->PutMany(e, exists), Code::kVersionConflict);
  for (size_t i = 0; i < ids.size(); ++i) {
    Result<Record> rec = f.store->Get(e, ids[i]);
    REQUIRE_OK(rec);
    CHECK(rec->version == (*v)[i]);
    CHECK(rec->doc["n"].as_int() == 7);
  }
}

TEST_CASE("one statement: a server shard's batch of an unindexed entity is one statement, "
          "without BEGIN or COMMIT; an indexed entity's keeps its transaction") {
  ClusterSpec spec = Spec({"items", "posts"});
  spec.entities[1].indexes.push_back(Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}));
  Fixture f(spec);
  std::string marker;
  const std::string shard = f.ServerShard(&marker);
  if (shard.empty()) return;
  const std::string items = f.cluster.Entity("items"), posts = f.cluster.Entity("posts");
  std::vector<Id> ids = f.IdsOn(shard, "one-", 50);
  REQUIRE_OK(f.store->PutMany(items, Items(ids, 0)));  // warm: prepared, connected
  REQUIRE_OK(f.store->BuildIndex(posts, "by_tag"));
  REQUIRE_OK(f.store->PutMany(posts, Items(ids, 0, "a")));
  for (const std::string& entity : {items, posts}) {
    CAPTURE(entity);
    Sent sent(*f.env, shard, marker);
    Result<std::vector<uint64_t>> v = f.store->PutMany(entity, Items(ids, 1, "b"));
    REQUIRE_OK(v);
    CHECK(std::all_of(v->begin(), v->end(), [](uint64_t x) { return x == 2; }));
    if (entity == items) {
      CHECK(sent.executes == 1);
      CHECK(sent.one_statements == 1);
      CHECK(sent.begins == 0);
      CHECK(sent.commits == 0);
    } else {
      CHECK(sent.one_statements == 0);
      CHECK(sent.begins >= 1);  // (an index database may share the server)
      CHECK(sent.commits >= 1);
    }
  }
  Result<VerifyReport> report = f.store->VerifyIndex(posts, "by_tag");
  REQUIRE_OK(report);
  CHECK(report->missing == 0);
  CHECK(report->dangling == 0);
}

TEST_CASE("one statement: what is known before writing (a stale if_version, an id that must "
          "not exist) declines without a failed statement") {
  Fixture f(Spec({"items"}));
  std::string marker;
  const std::string shard = f.ServerShard(&marker);
  if (shard.empty()) return;
  const std::string e = f.cluster.Entity("items");
  std::vector<Id> ids = f.IdsOn(shard, "decl-", 4);
  REQUIRE_OK(f.store->PutMany(e, Items(ids, 1)));
  const int failed = f.env->Failures(shard, SqlOp::kExecute);
  {
    Sent sent(*f.env, shard, marker);
    std::vector<PutItem> stale = Items(ids, 2);
    stale[1].options = IfVersion(7);
    CHECK_CODE(f.store->PutMany(e, stale), Code::kVersionConflict);
    std::vector<PutItem> exists = Items(ids, 2);
    exists[2].options = IfVersion(0);
    CHECK_CODE(f.store->PutMany(e, exists), Code::kVersionConflict);
    CHECK(sent.one_statements == 2);  // then the general path said why
    CHECK(sent.begins == 2);
  }
  // SOCI leaks a failed execution's parameter buffers: an ordinary
  // conflict must not be one.
  CHECK(f.env->Failures(shard, SqlOp::kExecute) == failed);
  for (const Id& id : ids) CHECK(f.store->Get(e, id).value().version == 1);
  // And the same batch with the right versions goes through in one.
  std::vector<PutItem> right = Items(ids, 3);
  right[1].options = IfVersion(1);
  right[2].options = IfVersion(1);
  Sent sent(*f.env, shard, marker);
  REQUIRE_OK(f.store->PutMany(e, right));
  CHECK(sent.one_statements == 1);
  CHECK(sent.begins == 0);
}

TEST_CASE("one statement: a link lost around the statement is outcome unknown, and the batch "
          "was applied once or not at all") {
  Fixture f(Spec({"items"}));
  std::string marker;
  const std::string shard = f.ServerShard(&marker);
  if (shard.empty()) return;
  const std::string e = f.cluster.Entity("items");
  std::vector<Id> ids = f.IdsOn(shard, "lost-", 3);
  REQUIRE_OK(f.store->PutMany(e, Items(ids, 1)));
  for (Fault::Action action : {Fault::Action::kBreakBefore, Fault::Action::kBreakAfter}) {
    CAPTURE(static_cast<int>(action));
    Fault fault;
    fault.database = shard;
    fault.op = SqlOp::kExecute;
    fault.action = action;
    fault.sql_contains = marker;
    const int id = f.env->Inject(fault);
    const uint64_t before = f.store->Get(e, ids[0]).value().version;
    Result<std::vector<uint64_t>> v = f.store->PutMany(e, Items(ids, 2));
    CHECK(f.env->Hits(id) == 1);
    CHECK_CODE(v, Code::kOutcomeUnknown);
    CHECK(v.status().message().find("may or may not") != std::string::npos);
    const uint64_t want = before + (action == Fault::Action::kBreakAfter ? 1 : 0);
    for (const Id& i : ids) CHECK(f.store->Get(e, i).value().version == want);
  }
  // The shard serves the next batch.
  CHECK_OK(f.store->PutMany(e, Items(ids, 3)));
}

TEST_CASE("one statement: a batch that outlasts its view of the index states is rolled back by "
          "its own check when the indexes changed meanwhile") {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes.push_back(Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}));
  Fixture f(spec);
  std::string marker;
  const std::string shard = f.ServerShard(&marker);
  if (shard.empty()) return;
  const std::string posts = f.cluster.Entity("posts");
  // The index starts unmaintained (dropping): the batch may take one
  // statement. Another process re-adds it while the statement waits.
  libshard::cluster::ConnectionPool catalog(
      *f.cluster.config.FindDatabase(f.cluster.config.catalog), Options{});
  Result<libshard::cluster::ConnectionPool::Lease> admin = catalog.Acquire();
  REQUIRE_OK(admin);
  libshard::indexer::SetIndexState((*admin)->sql(), posts, "by_tag",
                                   libshard::IndexState::kDropping);
  // The background refresh (FaultEnv: every 20 ms) reads it.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<Id> ids = f.IdsOn(shard, "late-", 2);
  // A transaction of another client holds an uncommitted insert of ids[0]:
  // the statement's insert waits for it.
  libshard::cluster::ConnectionPool shard_pool(*f.cluster.config.FindDatabase(shard), Options{});
  Result<libshard::cluster::ConnectionPool::Lease> blocker = shard_pool.Acquire();
  REQUIRE_OK(blocker);
  soci::session& sql = (*blocker)->sql();
  sql.begin();
  const std::string hex = libshard::ids::ToHex(ids[0]);
  const std::string unhex =
      f.BackendOf(shard) == Backend::kPostgres ? "decode(:h, 'hex')" : "UNHEX(:h)";
  sql << "INSERT INTO " + libshard::records::TableName(posts) +
             " (id, bucket, version, updated, body) VALUES (" + unhex + ", 0, 1, 0, '')",
      soci::use(hex);
  std::promise<void> sent;
  bool signalled = false;
  f.env->SetObserver([&](const std::string& db, SqlOp op, std::string_view text) {
    if (db == shard && op == SqlOp::kExecute && text.starts_with(marker) &&
        !signalled) {
      signalled = true;
      sent.set_value();
    }
  });
  std::future<Result<std::vector<uint64_t>>> put = std::async(std::launch::async, [&] {
    return f.store->PutMany(posts, Items(ids, 1, "x"));
  });
  REQUIRE(sent.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  // Past the view's lease (FaultEnv: 150 ms) while the statement waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  libshard::indexer::SetIndexState((*admin)->sql(), posts, "by_tag",
                                   libshard::IndexState::kWriteOnly);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  sql.rollback();
  Result<std::vector<uint64_t>> v = put.get();
  f.env->SetObserver(nullptr);
  // The statement failed its own lease check and rolled back; the general
  // path, still holding the expired view, re-read the catalog before COMMIT,
  // found the index maintained again and rolled back too (a statement that
  // committed past its lease would have written the records without their
  // index rows).
  CHECK_CODE(v, Code::kUnavailable);
  CHECK(v.status().message().find("changed while the write ran") != std::string::npos);
  for (const Id& id : ids) CHECK_CODE(f.store->Get(posts, id), Code::kNotFound);
  // Retried with a fresh view: written with its index rows.
  REQUIRE_OK(f.store->PutMany(posts, Items(ids, 1, "x")));
  Result<VerifyReport> report = f.store->VerifyIndex(posts, "by_tag");
  REQUIRE_OK(report);
  CHECK(report->missing == 0);
  CHECK(report->dangling == 0);
}

}  // TEST_SUITE
