// Bucket moves and rebalancing: the properties of online resharding, each
// named by a test, on every backend of the suite (the mixed backend moves
// buckets between SQLite, PostgreSQL and MariaDB shards). Clusters get
// their own server databases (moves change the catalog map and what a
// shard holds), and interruptions are made deterministic with the FaultEnv.
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <soci/soci.h>

#include "cluster/cluster.h"
#include "cluster/fault_env.h"
#include "conformance/conformance.h"
#include "records/record_table.h"
#include "store_impl.h"

using namespace conformance;  // NOLINT
using libshard::backend::ErrorKind;
using libshard::backend::SqlOp;
using libshard::cluster::Fault;
using libshard::cluster::FaultEnv;

namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// A cluster with its own databases, and Stores sharing one FaultEnv (each
// Store is what one process would hold: its own bucket map).
struct MoveCluster {
  std::shared_ptr<FaultEnv> env = std::make_shared<FaultEnv>();
  TestCluster cluster;
  Options options;
  std::unique_ptr<Store> store;

  explicit MoveCluster(ClusterSpec spec, Options opts = {}) : options(opts) {
    AnnounceBackend();
    // The production lease (a batch of thousands of records in a Debug
    // build outlasts the FaultEnv's short one).
    env->SetLease(libshard::cluster::LeaseTimings{});
    spec.fresh_databases = true;
    cluster = MakeCluster(BackendFromEnv(), spec);
    REQUIRE_OK(Store::Impl::Init(cluster.config, options, env));
    store = Open();
  }
  std::unique_ptr<Store> Open() {
    Result<std::unique_ptr<Store>> s = Store::Impl::Open(cluster.config, options, env);
    REQUIRE_MESSAGE(s.ok(), "Open: " << s.status().ToString());
    return std::move(s).value();
  }
  std::string Entity(const std::string& name) const { return cluster.Entity(name); }

  // Lists the spare shards in `shards:` (the YAML too) and runs Init, as an
  // operator adding shards would.
  void AddSpareShards(int n) {
    const size_t have = cluster.config.shards.size();
    for (int k = 0; k < n; ++k) cluster.config.shards.push_back("s" + std::to_string(have + k));
    RewriteYaml(cluster);
    REQUIRE_OK(Store::Impl::Init(cluster.config, options, env));
  }

  // Rows of `entity` in `bucket` on shard database `shard`, counted
  // directly (whatever the ownership rows say).
  uint64_t RawCount(const std::string& shard, const std::string& entity, uint32_t bucket) {
    libshard::cluster::Cluster raw(cluster.config, options, env);
    long long n = -1;
    int b = static_cast<int>(bucket);
    Status s = raw.WithConnection(raw.Pool(shard), "count", Store::Impl::Retry::kReadOnly,
                                  [&](libshard::backend::Connection& c) {
                                    c.sql() << "SELECT COUNT(*) FROM " +
                                                   libshard::records::TableName(entity) +
                                                   " WHERE bucket = :b",
                                        soci::into(n), soci::use(b);
                                    return Status::OK();
                                  });
    REQUIRE_OK(s);
    return static_cast<uint64_t>(n);
  }
};

// `n` distinct ids that all hash to `bucket` (found by search).
std::vector<Id> IdsInBucket(const Store& store, uint32_t bucket, size_t n,
                            const std::string& prefix = "k") {
  std::vector<Id> out;
  for (int i = 0; out.size() < n && i < 50000000; ++i) {
    Id id = prefix + std::to_string(i);
    if (store.Locate(id).bucket == bucket) out.push_back(id);
  }
  REQUIRE(out.size() == n);
  return out;
}

// The shard after `shard` in the config's list (a move target).
std::string OtherShard(const Store& store, const std::string& shard, int step = 1) {
  const auto& shards = store.config().shards;
  size_t i = std::find(shards.begin(), shards.end(), shard) - shards.begin();
  return shards[(i + step) % shards.size()];
}

Document Json(const std::string& text) {
  Result<Document> d = Document::FromJson(text);
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  return std::move(d).value();
}

// A MessagePack map {"b": <bin bytes>} (raw bodies keep NUL bytes exact).
std::string BinBody(const std::string& bytes) {
  std::string out = "\x81\xa1" "b";
  out.push_back(static_cast<char>(0xc5));  // bin16
  out.push_back(static_cast<char>((bytes.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(bytes.size() & 0xff));
  return out + bytes;
}

Fault On(std::string database, SqlOp op, Fault::Action action, std::string sql_contains = "",
         int skip = 0, int times = 1, ErrorKind error = ErrorKind::kOther) {
  Fault f;
  f.database = std::move(database);
  f.op = op;
  f.action = action;
  f.sql_contains = std::move(sql_contains);
  f.skip = skip;
  f.times = times;
  f.error = error;
  return f;
}

bool ServerBackend() { return BackendFromEnv() != TestBackend::kSqlite; }

}  // namespace

TEST_CASE("move: a bucket's records arrive byte-exact with their versions and update times, "
          "and nothing is left on the source") {
  MoveCluster m(Spec({"items"}));
  const std::string items = m.Entity("items");
  const uint32_t bucket = 7;
  std::vector<Id> ids = IdsInBucket(*m.store, bucket, 40);
  // Binary ids with NUL bytes that land in the same bucket.
  for (int i = 0, found = 0; found < 5; ++i) {
    Id id = std::string("\0bin\0", 5) + std::to_string(i);
    if (m.store->Locate(id).bucket == bucket) {
      ids.push_back(id);
      ++found;
    }
  }
  std::map<Id, RawRecord> before;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string bytes(1 + i * 37 % 900, '\0');
    for (size_t k = 0; k < bytes.size(); k += 3) bytes[k] = static_cast<char>(k * 7 + i);
    for (size_t w = 0; w <= i % 3; ++w) REQUIRE_OK(m.store->PutRaw(items, ids[i], BinBody(bytes)));
    Result<RawRecord> r = m.store->GetRaw(items, ids[i]);
    REQUIRE_OK(r);
    before[ids[i]] = *r;
  }
  const std::string source = m.store->Locate(ids[0]).shard;
  const std::string target = OtherShard(*m.store, source);
  REQUIRE(m.RawCount(source, items, bucket) == ids.size());

  REQUIRE_OK(m.store->MoveBucket(bucket, target));

  CHECK(m.store->Locate(ids[0]).shard == target);
  CHECK(m.RawCount(source, items, bucket) == 0);
  CHECK(m.RawCount(target, items, bucket) == ids.size());
  for (const Id& id : ids) {
    Result<RawRecord> r = m.store->GetRaw(items, id);
    REQUIRE_OK(r);
    CHECK(r->version == before[id].version);
    CHECK(r->updated_us == before[id].updated_us);
    CHECK(r->body == before[id].body);
  }
  Result<std::vector<MoveState>> states = m.store->MoveStates();
  REQUIRE_OK(states);
  CHECK(states->empty());
  // A new process reads the new map from the catalog.
  std::unique_ptr<Store> fresh = m.Open();
  CHECK(fresh->Locate(ids[0]).shard == target);
  CHECK(fresh->GetRaw(items, ids[3]).value().body == before[ids[3]].body);
  // Moving it again where it is changes nothing.
  CHECK_OK(m.store->MoveBucket(bucket, target));
}

TEST_CASE("move: a process holding the old map is refused by the old shard and redirected, "
          "and still finds every record") {
  MoveCluster m(Spec({"items"}));
  const std::string items = m.Entity("items");
  const uint32_t bucket = 11;
  std::vector<Id> ids = IdsInBucket(*m.store, bucket, 6);
  for (const Id& id : ids) REQUIRE_OK(m.store->Put(items, id, Json(R"({"n":1})")));
  std::unique_ptr<Store> stale = m.Open();  // another process, map read now
  const std::string source = stale->Locate(ids[0]).shard;
  const std::string target = OtherShard(*m.store, source);

  REQUIRE_OK(m.store->MoveBucket(bucket, target));
  CHECK(stale->Locate(ids[0]).shard == source);  // still the old map

  // A read first: the old shard no longer owns the bucket (and, cleaned
  // up, has no copy): never "not found".
  Result<Record> got = stale->Get(items, ids[0]);
  REQUIRE_OK(got);
  CHECK(got->version == 1);
  CHECK(stale->Locate(ids[0]).shard == target);  // learned from the refusal

  std::unique_ptr<Store> stale2 = m.Open();
  REQUIRE_OK(m.store->MoveBucket(bucket, source));  // and back: stale2 now points at target
  // A write through the stale map: refused by the shard that does not own
  // the bucket, applied on the owner, exactly once.
  CHECK(stale2->Locate(ids[1]).shard == target);
  Result<uint64_t> put = stale2->Put(items, ids[1], Json(R"({"n":2})"), IfVersion(1));
  REQUIRE_OK(put);
  CHECK(*put == 2);
  CHECK(m.RawCount(target, items, bucket) == 0);
  CHECK(m.store->Get(items, ids[1]).value().version == 2);
  // A batch through a stale map: refused whole by the shard that no longer
  // owns the bucket (also the one-statement batch on PostgreSQL, whose
  // fence is inside its statement), applied on the owner once.
  std::unique_ptr<Store> stale_batch = m.Open();
  REQUIRE_OK(m.store->MoveBucket(bucket, target));
  Result<std::vector<uint64_t>> batch = stale_batch->PutMany(
      items, {{ids[3], Json(R"({"n":2})"), {}}, {ids[4], Json(R"({"n":2})"), {}}});
  REQUIRE_OK(batch);
  CHECK(*batch == std::vector<uint64_t>{2, 2});
  CHECK(m.RawCount(source, items, bucket) == 0);
  CHECK(stale_batch->Locate(ids[3]).shard == target);
  REQUIRE_OK(m.store->MoveBucket(bucket, source));
  // GetMany and Delete through a stale map too.
  std::unique_ptr<Store> stale3 = m.Open();
  REQUIRE_OK(m.store->MoveBucket(bucket, target));
  Result<std::vector<Record>> many = stale3->GetMany(items, ids);
  REQUIRE_OK(many);
  CHECK(many->size() == ids.size());
  std::unique_ptr<Store> stale4 = m.Open();
  REQUIRE_OK(m.store->MoveBucket(bucket, OtherShard(*m.store, target)));
  CHECK(stale4->Delete(items, ids[2]).value() == true);
  CHECK_CODE(m.store->Get(items, ids[2]), Code::kNotFound);
  Result<std::vector<Record>> all = m.store->ScanAll(items);
  REQUIRE_OK(all);
  CHECK(all->size() == ids.size() - 1);
}

TEST_CASE("move: compare-and-set increments from two processes across moves count exactly "
          "the acknowledged successes") {
  MoveCluster m(Spec({"counters"}));
  const std::string counters = m.Entity("counters");
  const uint32_t bucket = 23;
  std::vector<Id> ids = IdsInBucket(*m.store, bucket, 3);
  for (const Id& id : ids) REQUIRE_OK(m.store->Put(counters, id, Json(R"({"n":0})")));
  std::unique_ptr<Store> other = m.Open();  // the second process
  const std::string home = m.store->Locate(ids[0]).shard;

  std::atomic<bool> stop{false};
  std::atomic<int64_t> successes{0};
  std::atomic<int64_t> failures{0};
  std::string first_failure;
  std::mutex mu;
  auto incrementer = [&](Store* store, int seed) {
    std::mt19937 rng(seed);
    while (!stop.load()) {
      const Id& id = ids[rng() % ids.size()];
      Result<Record> r = store->Get(counters, id);
      if (!r.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_failure.empty()) first_failure = r.status().ToString();
        ++failures;
        continue;
      }
      Document d = r->doc;
      d["n"] = Document(r->doc["n"].as_int() + 1);
      Result<uint64_t> put = store->Put(counters, id, d, IfVersion(r->version));
      if (put.ok()) {
        ++successes;
      } else if (put.status().code() != Code::kVersionConflict) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_failure.empty()) first_failure = put.status().ToString();
        ++failures;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) threads.emplace_back(incrementer, m.store.get(), t);
  for (int t = 0; t < 2; ++t) threads.emplace_back(incrementer, other.get(), 100 + t);
  // The mover: away and back, four times, while they increment.
  Status moved;
  for (int round = 0; round < 4 && moved.ok(); ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    moved = m.store->MoveBucket(bucket, OtherShard(*m.store, home, 1 + round % 3));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  for (std::thread& t : threads) t.join();
  REQUIRE_OK(moved);
  CHECK_MESSAGE(failures.load() == 0, first_failure);
  int64_t total = 0;
  for (const Id& id : ids) total += m.store->Get(counters, id).value().doc["n"].as_int();
  CHECK(successes.load() > 0);
  CHECK(total == successes.load());
}

TEST_CASE("move: secondary indexes stay exact and a query during moves returns each record "
          "once") {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes.push_back(Idx("by_topic", {Col("topic", ColumnType::kString, "topic")}));
  spec.entities[0].indexes.push_back(
      Idx("by_slug", {Col("slug", ColumnType::kString, "slug")}, /*unique=*/true));
  MoveCluster m(spec);
  const std::string posts = m.Entity("posts");
  std::vector<PutItem> items;
  for (int i = 0; i < 300; ++i) {
    items.push_back({"p" + std::to_string(i),
                     Json(R"({"topic":"t","slug":"s)" + std::to_string(i) + R"("})"), {}});
  }
  REQUIRE_OK(m.store->PutMany(posts, items));
  std::atomic<bool> stop{false};
  std::atomic<int> queries{0};
  std::atomic<bool> reader_done{false};
  std::string problem;
  std::thread reader([&] {
    std::unique_ptr<Store> r = m.Open();
    while (!stop.load() && problem.empty()) {
      Query q;
      q.index = "by_topic";
      q.where.push_back({"topic", Op::kEq, {Document("t")}});
      q.limit = 1000;
      Result<QueryPage> page = r->Query(posts, q);
      if (!page.ok()) {
        problem = page.status().ToString();
        break;
      }
      std::set<std::string> seen;
      for (const Record& rec : page->records) seen.insert(rec.id);
      if (seen.size() != page->records.size() || seen.size() != 300) {
        problem = "query returned " + std::to_string(page->records.size()) + " records, " +
                  std::to_string(seen.size()) + " distinct (want 300)";
      }
      ++queries;
    }
    reader_done = true;
  });
  // The moves start once the reader is querying, so queries overlap them
  // (opening the reader's Store can take longer than all the moves).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (queries.load() == 0 && !reader_done.load() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Move the buckets of the first 20 posts one shard on.
  std::set<uint32_t> buckets;
  for (int i = 0; i < 20; ++i) buckets.insert(m.store->Locate("p" + std::to_string(i)).bucket);
  for (uint32_t b : buckets) {
    std::string from = m.store->Locate(IdsInBucket(*m.store, b, 1, "p")[0]).shard;
    Status s = m.store->MoveBucket(b, OtherShard(*m.store, from));
    CHECK_OK(s);
    // Writers keep the unique index honest across the move.
    CHECK_CODE(m.store->Put(posts, "dup" + std::to_string(b), Json(R"({"slug":"s1"})")),
               Code::kUniqueViolation);
  }
  stop = true;
  reader.join();
  CHECK_MESSAGE(problem.empty(), problem);
  CHECK(queries.load() > 0);
  for (const char* index : {"by_topic", "by_slug"}) {
    Result<VerifyReport> v = m.store->VerifyIndex(posts, index);
    REQUIRE_OK(v);
    CHECK(v->missing == 0);
    CHECK(v->dangling == 0);
  }
}

TEST_CASE("move: writes to the moving bucket wait for the switch, writes to other buckets do "
          "not, and reads never fail") {
  MoveCluster m(Spec({"items"}));
  const std::string items = m.Entity("items");
  const uint32_t bucket = 31;
  std::vector<Id> moving = IdsInBucket(*m.store, bucket, 2);
  const std::string source = m.store->Locate(moving[0]).shard;
  const std::string target = OtherShard(*m.store, source);
  // On SQLite the switch holds the source file's write lock, so "other
  // buckets" means other shards there; on servers, the same shard too.
  Id other_same_shard;
  Id other_shard;
  for (int i = 0; other_same_shard.empty() || other_shard.empty(); ++i) {
    Id id = "o" + std::to_string(i);
    Location l = m.store->Locate(id);
    if (l.bucket == bucket) continue;
    if (l.shard == source && other_same_shard.empty()) other_same_shard = id;
    if (l.shard != source && l.shard != target && other_shard.empty()) other_shard = id;
  }
  for (const Id& id : {moving[0], moving[1], other_same_shard, other_shard}) {
    REQUIRE_OK(m.store->Put(items, id, Json(R"({"n":1})")));
  }
  std::unique_ptr<Store> writer = m.Open();
  // The switch's flip of the source's ownership row hangs 1.5 s while the
  // move holds the row (and, on SQLite, the file) exclusively.
  Fault slow = On(source, SqlOp::kExecute, Fault::Action::kHang, "UPDATE ls_owner SET state");
  slow.hang = std::chrono::milliseconds(1500);
  const int hang = m.env->Inject(slow);
  Status moved;
  std::thread mover([&] { moved = m.store->MoveBucket(bucket, target); });
  while (m.env->Hits(hang) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto t0 = Clock::now();
  CHECK_OK(writer->Put(items, other_shard, Json(R"({"n":2})")));
  CHECK(MsSince(t0) < 1000);
  if (ServerBackend() && m.store->config().FindDatabase(source)->backend != Backend::kSqlite) {
    t0 = Clock::now();
    CHECK_OK(writer->Put(items, other_same_shard, Json(R"({"n":2})")));
    CHECK(MsSince(t0) < 1000);
  }
  t0 = Clock::now();
  Result<uint64_t> put = writer->Put(items, moving[0], Json(R"({"n":2})"));
  const int64_t waited = MsSince(t0);
  mover.join();
  REQUIRE_OK(moved);
  REQUIRE_OK(put);  // waited, did not fail
  CHECK(*put == 2);
  CHECK(waited >= 500);  // it could only commit after the switch
  CHECK(writer->Locate(moving[0]).shard == target);
  CHECK(m.store->Get(items, moving[0]).value().version == 2);
  CHECK(m.RawCount(source, items, bucket) == 0);
}

TEST_CASE("move: a write that cannot proceed within move_wait_ms fails as unavailable, "
          "saying a move is in progress") {
  Options opts;
  opts.move_wait_ms = 300;
  MoveCluster m(Spec({"items"}), opts);
  const std::string items = m.Entity("items");
  const uint32_t bucket = 40;
  std::vector<Id> ids = IdsInBucket(*m.store, bucket, 1);
  REQUIRE_OK(m.store->Put(items, ids[0], Json(R"({"n":1})")));
  const std::string source = m.store->Locate(ids[0]).shard;
  const std::string target = OtherShard(*m.store, source);
  // Interrupted after the switch: the source handed the bucket over, the
  // target never took it (its ownership update fails: skip the "incoming"
  // mark, fail the take-over).
  m.env->Inject(On(target, SqlOp::kExecute, Fault::Action::kFail, "UPDATE ls_owner SET state",
                   /*skip=*/1, /*times=*/-1, ErrorKind::kConnection));
  Status moved = m.store->MoveBucket(bucket, target);
  CHECK_FALSE(moved.ok());
  Result<std::vector<MoveState>> states = m.store->MoveStates();
  REQUIRE_OK(states);
  REQUIRE(states->size() == 1);
  CHECK((*states)[0].bucket == bucket);
  CHECK((*states)[0].state == "switched");
  CHECK_FALSE((*states)[0].error.empty());
  std::unique_ptr<Store> writer = m.Open();
  auto t0 = Clock::now();
  Result<uint64_t> put = writer->Put(items, ids[0], Json(R"({"n":2})"));
  CHECK_CODE(put, Code::kUnavailable);
  CHECK(put.status().message().find("being moved") != std::string::npos);
  CHECK(MsSince(t0) >= 250);
  // Resumed, the move finishes and the bucket is writable again.
  m.env->ClearFaults();
  REQUIRE_OK(m.store->MoveBucket(bucket, target));
  Result<uint64_t> again = writer->Put(items, ids[0], Json(R"({"n":2})"));
  REQUIRE_OK(again);
  CHECK(*again == 2);
  CHECK(m.store->MoveStates().value().empty());
  CHECK(m.RawCount(source, items, bucket) == 0);
}

TEST_CASE("move: interrupted before its switch commits, the source keeps the bucket and "
          "its writes; run again, the move finishes with them") {
  MoveCluster m(Spec({"items"}));
  const std::string items = m.Entity("items");
  const uint32_t bucket = 52;
  std::vector<Id> ids = IdsInBucket(*m.store, bucket, 10);
  for (const Id& id : ids) REQUIRE_OK(m.store->Put(items, id, Json(R"({"n":1})")));
  const std::string source = m.store->Locate(ids[0]).shard;
  const std::string target = OtherShard(*m.store, source);
  // The source's first COMMIT is the switch's (copying only reads it).
  int fault = m.env->Inject(On(source, SqlOp::kCommit, Fault::Action::kBreakBefore));
  CHECK_FALSE(m.store->MoveBucket(bucket, target).ok());
  CHECK(m.env->Hits(fault) == 1);
  m.env->ClearFaults();
  // The bucket still lives on the source and takes writes.
  CHECK(m.store->Put(items, ids[0], Json(R"({"n":2})")).value() == 2);
  REQUIRE_OK(m.store->Delete(items, ids[1]));
  REQUIRE_OK(m.store->Put(items, "new-in-bucket-" + ids[2], Json(R"({"n":1})")));
  CHECK(m.store->MoveStates().value().size() == 1);
  REQUIRE_OK(m.store->MoveBucket(bucket, target));
  CHECK(m.store->Get(items, ids[0]).value().version == 2);
  CHECK_CODE(m.store->Get(items, ids[1]), Code::kNotFound);
  CHECK(m.store->Locate(ids[0]).shard == target);
  CHECK(m.RawCount(source, items, bucket) == 0);
  CHECK(m.store->MoveStates().value().empty());
}

TEST_CASE("rebalance: from 4 to 6 shards every shard ends with an even share, every record "
          "readable, counts and indexes exact") {
  ClusterSpec spec = Spec({"users"});
  spec.spare_shards = 2;
  spec.entities[0].indexes.push_back(
      Idx("by_email", {Col("email", ColumnType::kString, "email")}, /*unique=*/true));
  MoveCluster m(spec);
  const std::string users = m.Entity("users");
  std::vector<PutItem> items;
  for (int i = 0; i < 2000; ++i) {
    items.push_back({"u" + std::to_string(i),
                     Json(R"({"email":"e)" + std::to_string(i) + R"(@x"})"), {}});
  }
  REQUIRE_OK(m.store->PutMany(users, items));
  m.AddSpareShards(2);
  std::unique_ptr<Store> six = m.Open();
  Result<std::vector<BucketMove>> plan = six->PlanRebalance();
  REQUIRE_OK(plan);
  // 1024 = 6 × 170 + 4: the old shards keep 171 (fewest moves), the new
  // ones get 170 each.
  CHECK(plan->size() == 340);
  RebalanceOptions ro;
  std::atomic<int> done{0};
  ro.progress = [&](const MoveProgress& p) {
    if (p.step == "done") ++done;
  };
  Result<RebalanceReport> report = six->Rebalance(ro);
  REQUIRE_OK(report);
  CHECK_MESSAGE(report->failed.empty(), (report->failed.empty() ? "" : report->failed[0].error));
  CHECK(report->moved == plan->size());
  CHECK(done.load() == static_cast<int>(plan->size()));
  Result<std::vector<ShardShare>> shares = six->BucketShares();
  REQUIRE_OK(shares);
  REQUIRE(shares->size() == 6);
  for (const ShardShare& s : *shares) CHECK((s.buckets == 170 || s.buckets == 171));
  CHECK(six->PlanRebalance().value().empty());
  // The old 4-shard Store (its process never restarted) reads everything.
  Result<std::vector<Record>> all = m.store->GetMany(users, [&] {
    std::vector<Id> ids;
    for (const PutItem& it : items) ids.push_back(it.id);
    return ids;
  }());
  REQUIRE_OK(all);
  CHECK(all->size() == items.size());
  std::map<std::string, uint64_t> counts = CountsByShard(*six, users);
  CHECK(counts.size() == 6);
  CHECK(Sum(counts) == items.size());
  for (const auto& [shard, n] : counts) CHECK_MESSAGE(n > 0, shard);
  CHECK(m.store->ScanAll(users).value().size() == items.size());
  Result<VerifyReport> v = six->VerifyIndex(users, "by_email");
  REQUIRE_OK(v);
  CHECK(v->missing == 0);
  CHECK(v->dangling == 0);
  CHECK_CODE(m.store->Put(users, "dup", Json(R"({"email":"e5@x"})")), Code::kUniqueViolation);
}

TEST_CASE("rebalance: a shard that is down fails only the moves that touch it; run again, "
          "they finish") {
  MoveCluster m(Spec({"items"}));
  const std::string items = m.Entity("items");
  std::vector<PutItem> batch;
  for (int i = 0; i < 500; ++i) batch.push_back({"i" + std::to_string(i), Json(R"({"n":1})"), {}});
  REQUIRE_OK(m.store->PutMany(items, batch));
  // s3 is drained while s1 is down.
  for (SqlOp op : {SqlOp::kConnect, SqlOp::kExecute, SqlOp::kBegin}) {
    m.env->Inject(On("s1", op, Fault::Action::kFail, "", 0, -1, ErrorKind::kConnection));
  }
  RebalanceOptions ro;
  ro.drain = {"s3"};
  Result<RebalanceReport> report = m.store->Rebalance(ro);
  REQUIRE_OK(report);
  REQUIRE_FALSE(report->failed.empty());
  for (const MoveState& f : report->failed) {
    CHECK(f.to == "s1");
    CHECK(f.error.find("s1") != std::string::npos);
  }
  CHECK(report->moved + report->failed.size() == report->plan.size());
  CHECK(report->moved > 0);
  Result<std::vector<MoveState>> states = m.store->MoveStates();
  REQUIRE_OK(states);
  CHECK(states->size() == report->failed.size());
  m.env->ClearFaults();
  std::this_thread::sleep_for(std::chrono::milliseconds(m.options.down_backoff_ms + 100));
  Result<RebalanceReport> again = m.store->Rebalance(ro);
  REQUIRE_OK(again);
  REQUIRE_MESSAGE(again->failed.empty(), (again->failed.empty() ? "" : again->failed[0].error));
  Result<std::vector<ShardShare>> shares = m.store->BucketShares();
  REQUIRE_OK(shares);
  for (const ShardShare& s : *shares) {
    if (s.shard == "s3") {
      CHECK(s.buckets == 0);
    } else {
      CHECK((s.buckets == 341 || s.buckets == 342));
    }
  }
  CHECK(m.store->ScanAll(items).value().size() == batch.size());
}

TEST_CASE("rebalance: removing a shard that owns buckets is refused, naming how many; drained "
          "first, it can go") {
  MoveCluster m(Spec({"items"}, 3));
  const std::string items = m.Entity("items");
  std::vector<PutItem> batch;
  for (int i = 0; i < 300; ++i) batch.push_back({"i" + std::to_string(i), Json(R"({"n":1})"), {}});
  REQUIRE_OK(m.store->PutMany(items, batch));
  ClusterConfig without = m.cluster.config;
  without.shards = {"s0", "s1"};
  Result<std::unique_ptr<Store>> refused = Store::Impl::Open(without, m.options, m.env);
  CHECK_CODE(refused, Code::kInvalidConfig);
  CHECK(refused.status().message().find("'s2' owns 341 buckets") != std::string::npos);
  CHECK(refused.status().message().find("--drain s2") != std::string::npos);
  CHECK_CODE(Store::Impl::Init(without, m.options, m.env), Code::kInvalidConfig);
  RebalanceOptions ro;
  ro.drain = {"s2"};
  Result<RebalanceReport> report = m.store->Rebalance(ro);
  REQUIRE_OK(report);
  CHECK(report->failed.empty());
  Result<std::unique_ptr<Store>> two = Store::Impl::Open(without, m.options, m.env);
  REQUIRE_OK(two);
  CHECK((*two)->ScanAll(items).value().size() == batch.size());
  CHECK(CountsByShard(**two, items).size() == 2);
  CHECK_CODE(m.store->MoveBucket(1, "nope"), Code::kInvalidArgument);
  ro.drain = {"nope"};
  CHECK_CODE(m.store->PlanRebalance(ro), Code::kInvalidArgument);
}

TEST_CASE("rebalance: index builds and bucket moves refuse each other; a recorded move still "
          "finishes, then the build goes ahead") {
  MoveCluster m(Spec({"items"}));
  const std::string items = m.Entity("items");
  std::vector<PutItem> batch;
  for (int i = 0; i < 200; ++i) {
    batch.push_back({"i" + std::to_string(i), Json(R"({"k":")" + std::to_string(i % 7) + R"("})"),
                     {}});
  }
  REQUIRE_OK(m.store->PutMany(items, batch));
  // A move interrupted before its switch: recorded, the source still owns.
  const uint32_t bucket = m.store->Locate("i0").bucket;
  const std::string source = m.store->Locate("i0").shard;
  m.env->Inject(On(source, SqlOp::kCommit, Fault::Action::kBreakBefore));
  CHECK_FALSE(m.store->MoveBucket(bucket, OtherShard(*m.store, source)).ok());
  m.env->ClearFaults();
  // A new index on the live cluster: registered write_only by Init.
  m.cluster.config.entities[0].indexes.push_back(
      Idx("by_k", {Col("k", ColumnType::kString, "k")}));
  REQUIRE_OK(Store::Impl::Init(m.cluster.config, m.options, m.env));
  std::unique_ptr<Store> store = m.Open();
  Status build = store->BuildIndex(items, "by_k");
  CHECK_CODE(build, Code::kUnavailable);
  CHECK(build.message().find("bucket move") != std::string::npos);
  // New moves are refused while the index is write_only …
  RebalanceOptions drain;
  drain.drain = {"s3"};
  Result<RebalanceReport> refused = store->Rebalance(drain);
  CHECK_CODE(refused, Code::kUnavailable);
  CHECK(refused.status().message().find("being built") != std::string::npos);
  CHECK_CODE(store->MoveBucket(bucket + 1, "s0"), Code::kUnavailable);
  // … but the recorded one was finished first.
  CHECK(store->MoveStates().value().empty());
  CHECK(store->Locate("i0").shard != source);
  REQUIRE_OK(store->BuildIndex(items, "by_k"));
  Result<RebalanceReport> drained = store->Rebalance(drain);
  REQUIRE_OK(drained);
  CHECK(drained->failed.empty());
  Result<VerifyReport> v = store->VerifyIndex(items, "by_k");
  REQUIRE_OK(v);
  CHECK(v->missing == 0);
  CHECK(v->dangling == 0);
}
