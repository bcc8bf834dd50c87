// Fault tests: the failure branches of the write path, reached on purpose
// through the Env seam (cluster/fault_env.h) around the real backend — not
// by luck or by sleeping. Each test is named after the invariant it checks
// and runs on every backend of the conformance suite.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <string>

#include "cluster/connection_pool.h"
#include "cluster/fault_env.h"
#include "indexer/index_catalog.h"
#include "conformance/conformance.h"
#include "store_impl.h"

using namespace conformance;  // NOLINT
using libshard::backend::ErrorKind;
using libshard::backend::SqlOp;
using libshard::cluster::Fault;
using libshard::cluster::FaultEnv;

namespace {

// A cluster whose every Store shares one FaultEnv.
struct FaultCluster {
  std::shared_ptr<FaultEnv> env = std::make_shared<FaultEnv>();
  TestCluster cluster;
  std::unique_ptr<Store> store;

  explicit FaultCluster(const ClusterSpec& spec, Options options = {},
                        std::optional<libshard::cluster::LeaseTimings> lease = std::nullopt) {
    AnnounceBackend();
    if (lease) env->SetLease(*lease);
    cluster = MakeCluster(BackendFromEnv(), spec);
    REQUIRE_OK(Store::Impl::Init(cluster.config, options, env));
    Result<std::unique_ptr<Store>> s = Store::Impl::Open(cluster.config, options, env);
    REQUIRE_MESSAGE(s.ok(), "Open: " << s.status().ToString());
    store = std::move(s).value();
  }
  std::string Entity(const std::string& name) const { return cluster.Entity(name); }
  std::string ShardOf(const std::string& id) const { return store->Locate(id).shard; }
};

// Retries `fn` while a database comes back (the pool fails fast for
// Options::down_backoff_ms after a failed connect).
template <typename F>
Status WhenBack(F&& fn) {
  Status s;
  for (int attempt = 0; attempt < 100; ++attempt) {
    s = fn();
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return s;
}

Document Json(const std::string& text) {
  Result<Document> d = Document::FromJson(text);
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  return std::move(d).value();
}

// A fault on `database`'s operation `op` (positional, so -Wextra has no
// missing designated initializers to warn about).
Fault On(std::string database, SqlOp op, Fault::Action action = Fault::Action::kFail,
         ErrorKind error = ErrorKind::kOther, int times = 1, std::string sql_contains = "") {
  Fault f;
  f.database = std::move(database);
  f.op = op;
  f.action = action;
  f.error = error;
  f.times = times;
  f.sql_contains = std::move(sql_contains);
  return f;
}
constexpr auto kFail = Fault::Action::kFail;

ClusterSpec TaggedSpec() {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes.push_back(Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}));
  return spec;
}

}  // namespace

TEST_CASE("fault: a COMMIT whose link breaks after it ran is reported as outcome unknown and "
          "applied exactly once; the acknowledged write before it survives") {
  FaultCluster f(Spec({"items"}));
  const std::string items = f.Entity("items");
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":1})")));
  int fault = f.env->Inject(On(f.ShardOf("a"), SqlOp::kCommit, Fault::Action::kBreakAfter));
  Result<uint64_t> put = f.store->Put(items, "a", Json(R"({"n":2})"));
  CHECK(f.env->Hits(fault) == 1);
  CHECK_CODE(put, Code::kOutcomeUnknown);
  CHECK(put.status().message().find("may or may not") != std::string::npos);
  Result<Record> rec = f.store->Get(items, "a");
  REQUIRE_OK(rec);
  CHECK(rec->version == 2);  // the library did not retry the write
  CHECK(rec->doc["n"].as_int() == 2);
  // A caller retrying with compare-and-set learns it was applied.
  WriteOptions cas;
  cas.if_version = 1;
  CHECK_CODE(f.store->Put(items, "a", Json(R"({"n":2})"), cas), Code::kVersionConflict);
}

TEST_CASE("fault: a COMMIT whose link breaks before it ran is reported as outcome unknown and "
          "the write is not applied") {
  FaultCluster f(Spec({"items"}));
  const std::string items = f.Entity("items");
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":1})")));
  f.env->Inject(On(f.ShardOf("a"), SqlOp::kCommit, Fault::Action::kBreakBefore));
  CHECK_CODE(f.store->Put(items, "a", Json(R"({"n":2})")), Code::kOutcomeUnknown);
  Result<Record> rec = f.store->Get(items, "a");
  REQUIRE_OK(rec);
  CHECK(rec->version == 1);
  CHECK(rec->doc["n"].as_int() == 1);
  CHECK(f.store->Put(items, "a", Json(R"({"n":3})")).value() == 2);  // the row lock went with the link
}

// Between the record's INSERT and the lease check before COMMIT, time
// passes beyond the lease (a paused process, a long transaction); `also`
// runs at that moment too.
static void PauseBeyondLeaseAtInsert(FaultCluster& f, std::function<void()> also = {}) {
  f.env->SetObserver([&f, also](const std::string&, SqlOp op, std::string_view sql) {
    if (op == SqlOp::kExecute && sql.find("INSERT INTO ls_rec_") != std::string_view::npos) {
      // The change comes before the step: the background refresh runs on
      // its own thread, and a refresh between a step and a change would
      // read the old catalog with a fresh time, a view the write may use.
      if (also) also();
      f.env->StepSteadyClock(std::chrono::seconds(1));
    }
  });
}

TEST_CASE("fault: a write outlasting the lease commits when a fresh catalog read agrees on the "
          "entity's indexes") {
  FaultCluster f(TaggedSpec());
  const std::string posts = f.Entity("posts");
  PauseBeyondLeaseAtInsert(f);
  Result<uint64_t> put = f.store->Put(posts, "p1", Json(R"({"tags":["x"]})"));
  f.env->SetObserver(nullptr);
  REQUIRE_OK(put);
  CHECK(*put == 1);
  Result<Record> rec = f.store->Get(posts, "p1");
  REQUIRE_OK(rec);
  CHECK(rec->doc["tags"][0].as_string() == "x");
  Result<VerifyReport> report = f.store->VerifyIndex(posts, "by_tag");
  REQUIRE_OK(report);
  CHECK(report->missing == 0);
  CHECK(report->dangling == 0);
}

TEST_CASE("fault: a write outlasting the lease rolls back when the catalog cannot be read") {
  FaultCluster f(TaggedSpec());
  const std::string posts = f.Entity("posts");
  int down = -1;
  PauseBeyondLeaseAtInsert(f, [&] {
    if (down >= 0) return;
    down = f.env->Inject(On("catalog", SqlOp::kExecute, kFail, ErrorKind::kConnection, -1));
    f.env->Inject(On("catalog", SqlOp::kConnect, kFail, ErrorKind::kConnection, -1));
  });
  Result<uint64_t> put = f.store->Put(posts, "p1", Json(R"({"tags":["x"]})"));
  f.env->SetObserver(nullptr);
  CHECK_CODE(put, Code::kUnavailable);
  CHECK(put.status().message().find("rolled back") != std::string::npos);
  CHECK(f.env->Hits(down) > 0);
  f.env->ClearFaults();
  CHECK_CODE(f.store->Get(posts, "p1"), Code::kNotFound);
  // The catalog's pool fails fast for a moment after the failed connects.
  std::optional<VerifyReport> report;
  REQUIRE_OK(WhenBack([&] {
    Result<VerifyReport> r = f.store->VerifyIndex(posts, "by_tag");
    if (r.ok()) report = *r;
    return r.status();
  }));
  CHECK(report->missing == 0);
  // A fresh view lets the same write through.
  CHECK_OK(WhenBack([&] { return f.store->Put(posts, "p1", Json(R"({"tags":["x"]})")).status(); }));
}

TEST_CASE("fault: a write outlasting the lease rolls back when the entity's indexes changed "
          "meanwhile") {
  FaultCluster f(TaggedSpec());
  const std::string posts = f.Entity("posts");
  // Another process marks the index as dropping while the write runs: the
  // write's view (by_tag maintained) no longer matches the catalog.
  libshard::cluster::ConnectionPool catalog(*f.cluster.config.FindDatabase(f.cluster.config.catalog),
                                            Options{});
  Result<libshard::cluster::ConnectionPool::Lease> admin = catalog.Acquire();
  REQUIRE_OK(admin);
  bool changed = false;
  PauseBeyondLeaseAtInsert(f, [&] {
    if (changed) return;
    changed = true;
    libshard::indexer::SetIndexState((*admin)->sql(), posts, "by_tag",
                                     libshard::IndexState::kDropping);
  });
  Result<uint64_t> put = f.store->Put(posts, "p1", Json(R"({"tags":["x"]})"));
  f.env->SetObserver(nullptr);
  REQUIRE(changed);
  CHECK_CODE(put, Code::kUnavailable);
  CHECK(put.status().message().find("changed while the write ran") != std::string::npos);
  CHECK_CODE(f.store->Get(posts, "p1"), Code::kNotFound);
}

TEST_CASE("fault: a down catalog blocks writes after the lease, not before") {
  FaultCluster f(TaggedSpec(), {},
                 libshard::cluster::LeaseTimings{std::chrono::milliseconds(20),
                                                 std::chrono::seconds(30)});
  REQUIRE_OK(f.store->Put(f.Entity("posts"), "warm", Json(R"({"tags":["w"]})")));
  const std::string posts = f.Entity("posts");
  int down = f.env->Inject(On("catalog", SqlOp::kExecute, kFail, ErrorKind::kConnection, -1));
  f.env->Inject(On("catalog", SqlOp::kConnect, kFail, ErrorKind::kConnection, -1));
  // Within the lease: writes go on (the catalog's state is still known).
  CHECK_OK(f.store->Put(posts, "p1", Json(R"({"tags":["x"]})")));
  // Past the lease: refused before touching the shard, and nothing written.
  f.env->StepSteadyClock(std::chrono::seconds(31));
  Result<uint64_t> late = f.store->Put(posts, "p2", Json(R"({"tags":["y"]})"));
  CHECK_CODE(late, Code::kUnavailable);
  CHECK(late.status().message().find("index states") != std::string::npos);
  CHECK_CODE(f.store->Get(posts, "p2"), Code::kNotFound);
  CHECK(f.env->Hits(down) > 0);
  // Reads never needed the catalog.
  CHECK_OK(f.store->Get(posts, "p1"));
  f.env->ClearFaults();
  CHECK_OK(WhenBack([&] { return f.store->Put(posts, "p2", Json(R"({"tags":["y"]})")).status(); }));
}

TEST_CASE("fault: a failed post-commit cleanup leaves only dangling rows, which verify counts "
          "and repair removes") {
  FaultCluster f(TaggedSpec());
  const std::string posts = f.Entity("posts");
  REQUIRE_OK(f.store->Put(posts, "p1", Json(R"({"tags":["x"]})")));
  int cleanup = f.env->Inject(On("idx0", SqlOp::kExecute, kFail, ErrorKind::kConnection, -1,
                                  "DELETE FROM ls_idx_"));
  // The write is acknowledged although its old row could not be removed.
  Result<uint64_t> put = f.store->Put(posts, "p1", Json(R"({"tags":["y"]})"));
  CHECK(f.env->Hits(cleanup) >= 1);
  REQUIRE_OK(put);
  CHECK(*put == 2);
  f.env->ClearFaults();
  Result<VerifyReport> before = f.store->VerifyIndex(posts, "by_tag");
  REQUIRE_OK(before);
  CHECK(before->missing == 0);
  CHECK(before->dangling == 1);
  REQUIRE_OK(f.store->RepairIndex(posts, "by_tag"));
  Result<VerifyReport> after = f.store->VerifyIndex(posts, "by_tag");
  REQUIRE_OK(after);
  CHECK(after->missing == 0);
  CHECK(after->dangling == 0);
}

TEST_CASE("fault: a connection whose ROLLBACK failed is discarded, not reused") {
  Options one;
  one.pool_size = 1;
  FaultCluster f(Spec({"items"}), one);
  const std::string items = f.Entity("items");
  const std::string shard = f.ShardOf("a");
  REQUIRE_OK(f.store->Put(items, "warm-a", Json("{}")));  // some connection exists
  f.env->Inject(On(shard, SqlOp::kExecute, kFail, ErrorKind::kOther, 1, "INSERT INTO ls_rec_"));
  int rollback = f.env->Inject(On(shard, SqlOp::kRollback));
  const int connects_before = f.env->Count(shard, SqlOp::kConnect);
  CHECK_CODE(f.store->Put(items, "a", Json(R"({"n":1})")), Code::kInternal);
  CHECK(f.env->Hits(rollback) == 1);
  // The next write on that shard needs a new connection.
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":1})")));
  CHECK(f.env->Count(shard, SqlOp::kConnect) == connects_before + 1);
}

TEST_CASE("fault: the clock stepping back never makes updated decrease") {
  FaultCluster f(Spec({"items"}));
  const std::string items = f.Entity("items");
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":1})")));
  Result<Record> first = f.store->Get(items, "a");
  REQUIRE_OK(first);
  f.env->StepWallClock(-std::chrono::hours(1));
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":2})")));
  Result<Record> second = f.store->Get(items, "a");
  REQUIRE_OK(second);
  CHECK(second->version == 2);
  CHECK(second->updated_us >= first->updated_us);
  // A new record takes the (stepped) clock as it is.
  REQUIRE_OK(f.store->Put(items, "b", Json("{}")));
  CHECK(f.store->Get(items, "b")->updated_us < first->updated_us);
}

TEST_CASE("fault: a shard that fails every statement affects only its own records") {
  FaultCluster f(Spec({"items"}));
  const std::string items = f.Entity("items");
  const std::string bad = f.ShardOf("a");
  for (SqlOp op : {SqlOp::kConnect, SqlOp::kExecute, SqlOp::kBegin}) {
    f.env->Inject(On(bad, op, kFail, ErrorKind::kConnection, -1));
  }
  int on_bad = 0, elsewhere = 0;
  std::vector<Id> all;
  for (int i = 0; i < 60; ++i) {
    const std::string id = "id" + std::to_string(i);
    all.push_back(id);
    Result<uint64_t> put = f.store->Put(items, id, Json(R"({"n":1})"));
    if (f.ShardOf(id) == bad) {
      ++on_bad;
      CHECK_CODE(put, Code::kUnavailable);
      CHECK_CODE(f.store->Get(items, id), Code::kUnavailable);
    } else {
      ++elsewhere;
      CHECK_OK(put);
      CHECK_OK(f.store->Get(items, id));
    }
  }
  REQUIRE(on_bad > 0);
  REQUIRE(elsewhere > 0);
  CHECK_CODE(f.store->GetMany(items, all), Code::kUnavailable);  // it needs the bad shard
  f.env->ClearFaults();
  // Once the shard is back (after the pool's fail-fast backoff), all works.
  CHECK_OK(WhenBack([&] { return f.store->Put(items, "a", Json("{}")).status(); }));
}

TEST_CASE("fault: two writes waiting on each other across shards end within seconds with "
          "clear errors, and the shards stay usable") {
  ClusterSpec spec = Spec({"users"});
  spec.entities[0].indexes.push_back(
      Idx("by_email", {Col("email", ColumnType::kString, "email", true)}, true));
  FaultCluster f(spec);
  const std::string users = f.Entity("users");
  // Two ids on different shards.
  std::string a = "user-0", b;
  for (int i = 1; b.empty(); ++i) {
    std::string id = "user-" + std::to_string(i);
    if (f.ShardOf(id) != f.ShardOf(a)) b = id;
  }
  REQUIRE_OK(f.store->Put(users, a, Json(R"({"email":"x@example.com"})")));
  REQUIRE_OK(f.store->Put(users, b, Json(R"({"email":"y@example.com"})")));
  // Both writers lock their own record, then meet here before claiming the
  // other's email, so each waits for the other's lock: a cross-database
  // deadlock, made certain rather than likely.
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  f.env->SetObserver([&](const std::string&, SqlOp op, std::string_view sql) {
    if (op != SqlOp::kExecute || sql.find("INSERT INTO ls_idx_") == std::string_view::npos) return;
    std::unique_lock<std::mutex> lock(mu);
    if (arrived >= 2) return;
    ++arrived;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return arrived >= 2; });
  });
  Status sa, sb;
  const auto start = std::chrono::steady_clock::now();
  std::thread ta([&] { sa = f.store->Put(users, a, Json(R"({"email":"y@example.com"})")).status(); });
  std::thread tb([&] { sb = f.store->Put(users, b, Json(R"({"email":"x@example.com"})")).status(); });
  ta.join();
  tb.join();
  f.env->SetObserver(nullptr);
  const auto took = std::chrono::steady_clock::now() - start;
  MESSAGE("a: " << sa.ToString() << " | b: " << sb.ToString());
  CHECK(arrived == 2);
  // Bounded by the cross-shard lock timeout (1 s, 2 s for the higher id),
  // not by 8 retries of a 30 s busy timeout.
  CHECK(took < std::chrono::seconds(10));
  // The lower id gave up on the lock; the other then saw a live holder.
  CHECK_CODE(sa, Code::kUnavailable);
  CHECK(sa.message().find("gave up") != std::string::npos);
  CHECK_CODE(sb, Code::kUniqueViolation);
  // Nothing half-applied; both shards take writes at once.
  CHECK(f.store->Get(users, a)->doc["email"].as_string() == "x@example.com");
  CHECK(f.store->Get(users, b)->doc["email"].as_string() == "y@example.com");
  CHECK_OK(f.store->Put(users, a, Json(R"({"email":"z@example.com"})")));
  CHECK_OK(f.store->Put(users, b, Json(R"({"email":"x@example.com"})")));
  Result<VerifyReport> report = f.store->VerifyIndex(users, "by_email");
  REQUIRE_OK(report);
  CHECK(report->missing == 0);
}

TEST_CASE("fault: the point get's and the single put's statements pass through the fault seam; "
          "a failed one reaches the caller and writes nothing") {
  // On SQLite these statements run on the native sqlite3 handle
  // (backend/sqlite_statement.h), not through SOCI: the seam must see them
  // all the same.
  FaultCluster f(Spec({"items"}));
  const std::string items = f.Entity("items");
  const std::string shard = f.ShardOf("a");
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":1})")));

  // A put is BEGIN … COMMIT as the seam sees it.
  const int begins = f.env->Count(shard, SqlOp::kBegin);
  const int commits = f.env->Count(shard, SqlOp::kCommit);
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":2})")));
  CHECK(f.env->Count(shard, SqlOp::kBegin) == begins + 1);
  CHECK(f.env->Count(shard, SqlOp::kCommit) == commits + 1);

  // The get's fenced read (ownership row and record in one statement).
  int get_fault = f.env->Inject(On(shard, SqlOp::kExecute, kFail, ErrorKind::kOther, 1,
                                   "FROM ls_owner"));
  CHECK_CODE(f.store->Get(items, "a"), Code::kInternal);
  CHECK(f.env->Hits(get_fault) == 1);
  REQUIRE(f.store->Get(items, "a").value().version == 2);

  // The put's fence read, its INSERT and its UPDATE: each failure rolls the
  // write back. A new record on the same shard as "a":
  std::string fresh;
  for (int i = 0; fresh.empty(); ++i) {
    if (f.ShardOf("new" + std::to_string(i)) == shard) fresh = "new" + std::to_string(i);
  }
  for (std::string sql : {"FROM ls_owner", "INSERT INTO ls_rec_", "UPDATE ls_rec_"}) {
    CAPTURE(sql);
    const int rollbacks = f.env->Count(shard, SqlOp::kRollback);
    int fault = f.env->Inject(On(shard, SqlOp::kExecute, kFail, ErrorKind::kOther, 1, sql));
    const std::string id = sql.find("INSERT") == 0 ? fresh : "a";
    CHECK_CODE(f.store->Put(items, id, Json(R"({"n":3})")), Code::kInternal);
    CHECK(f.env->Hits(fault) == 1);
    CHECK(f.env->Count(shard, SqlOp::kRollback) == rollbacks + 1);
  }
  f.env->ClearFaults();
  CHECK_CODE(f.store->Get(items, fresh), Code::kNotFound);
  Result<Record> a = f.store->Get(items, "a");
  REQUIRE_OK(a);
  CHECK(a->version == 2);
  CHECK(a->doc["n"].as_int() == 2);
  // A fault on a later statement of the same kind (skip) leaves the first
  // through: the seam counts native statements like SOCI's.
  Fault second = On(shard, SqlOp::kExecute, kFail, ErrorKind::kOther, 1, "UPDATE ls_rec_");
  second.skip = 1;
  int later = f.env->Inject(second);
  REQUIRE_OK(f.store->Put(items, "a", Json(R"({"n":4})")));
  CHECK_CODE(f.store->Put(items, "a", Json(R"({"n":5})")), Code::kInternal);
  CHECK(f.env->Hits(later) == 1);
  CHECK(f.store->Get(items, "a").value().version == 3);
}
