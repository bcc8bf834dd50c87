// Durability is a choice (options.h, Durability): what each setting makes
// the databases do, checked on the connections themselves and on the SQL a
// write sends.
#include <mutex>
#include <string>
#include <vector>

#include <soci/soci.h>

#include "cluster/cluster.h"
#include "cluster/fault_env.h"
#include "conformance/conformance.h"
#include "store_impl.h"

using namespace conformance;  // NOLINT
using libshard::backend::SqlOp;
using libshard::cluster::FaultEnv;

namespace {

// What one shard connection of a Store with `options` is set to:
// SQLite "PRAGMA synchronous" (1 NORMAL, 2 FULL), PostgreSQL
// "SHOW synchronous_commit", MariaDB "" (left to the server).
std::string SyncSetting(const ClusterConfig& config, const Options& options,
                        const std::string& shard) {
  libshard::cluster::Cluster raw(config, options, nullptr);
  libshard::cluster::ConnectionPool& pool = raw.Pool(shard);
  std::string out;
  Status s = raw.WithConnection(pool, "read setting", Store::Impl::Retry::kReadOnly,
                                [&](libshard::backend::Connection& c) {
                                  switch (pool.db().backend) {
                                    case Backend::kSqlite: {
                                      int v = -1;
                                      c.sql() << "PRAGMA synchronous", soci::into(v);
                                      out = std::to_string(v);
                                      break;
                                    }
                                    case Backend::kPostgres:
                                      c.sql() << "SHOW synchronous_commit", soci::into(out);
                                      break;
                                    case Backend::kMysql:
                                      break;
                                  }
                                  return Status::OK();
                                });
  REQUIRE_OK(s);
  return out;
}

}  // namespace

TEST_CASE("durability: a power-safe Store syncs every commit (SQLite synchronous FULL, "
          "PostgreSQL synchronous_commit on); the default survives a process crash") {
  Env env = OpenCluster(Spec({"items"}));
  Options power;
  power.durability = Durability::kPowerLoss;
  for (const std::string& shard : env.cluster.config.shards) {
    const Backend backend = env.cluster.config.FindDatabase(shard)->backend;
    CAPTURE(shard);
    if (backend == Backend::kSqlite) {
      CHECK(SyncSetting(env.cluster.config, Options{}, shard) == "1");
      CHECK(SyncSetting(env.cluster.config, power, shard) == "2");
    } else if (backend == Backend::kPostgres) {
      // The test server runs synchronous_commit=off; the option overrides it.
      CHECK(SyncSetting(env.cluster.config, power, shard) == "on");
    }
  }
  Result<std::unique_ptr<Store>> store = Store::Open(env.cluster.config, power);
  REQUIRE_OK(store);
  const std::string items = env.Entity("items");
  CHECK((*store)->Put(items, "a", Document::MakeObject({{"n", 1}})).value() == 1);
  CHECK((*store)->Get(items, "a").value().version == 1);
}

TEST_CASE("durability: one power-safe write on a default Store raises only that write") {
  AnnounceBackend();
  auto fault_env = std::make_shared<FaultEnv>();
  TestCluster cluster = MakeCluster(BackendFromEnv(), Spec({"items"}));
  REQUIRE_OK(Store::Impl::Init(cluster.config, {}, fault_env));
  Result<std::unique_ptr<Store>> opened = Store::Impl::Open(cluster.config, {}, fault_env);
  REQUIRE_OK(opened);
  Store& store = **opened;
  const std::string items = cluster.Entity("items");
  const std::string shard = store.Locate("a").shard;
  const Backend backend = cluster.config.FindDatabase(shard)->backend;
  REQUIRE_OK(store.Put(items, "a", Document::MakeObject({{"n", 1}})));  // connects

  std::mutex mu;
  std::vector<std::string> seen;  // statements on the record's shard, in order
  fault_env->SetObserver([&](const std::string& database, SqlOp op, std::string_view sql) {
    if (database != shard) return;
    std::lock_guard<std::mutex> lock(mu);
    if (op == SqlOp::kBegin) seen.push_back("BEGIN");
    if (op == SqlOp::kCommit) seen.push_back("COMMIT");
    if (op == SqlOp::kExecute &&
        (sql.find("synchronous") != std::string_view::npos)) {
      seen.emplace_back(sql);
    }
  });
  WriteOptions power;
  power.durability = Durability::kPowerLoss;
  REQUIRE_OK(store.Put(items, "a", Document::MakeObject({{"n", 2}}), power));
  std::vector<std::string> raised;
  {
    std::lock_guard<std::mutex> lock(mu);
    raised.swap(seen);
  }
  REQUIRE_OK(store.Put(items, "a", Document::MakeObject({{"n", 3}})));
  fault_env->SetObserver(nullptr);
  std::vector<std::string> plain = seen;
  CAPTURE(shard);
  // A default write touches no setting.
  for (const std::string& s : plain) CHECK(s.find("synchronous") == std::string::npos);
  auto at = [&](const std::string& what) {
    return std::find_if(raised.begin(), raised.end(), [&](const std::string& s) {
             return s.find(what) != std::string::npos;
           }) - raised.begin();
  };
  const auto n = static_cast<decltype(at(""))>(raised.size());
  switch (backend) {
    case Backend::kSqlite:
      // FULL before the transaction, NORMAL again after its COMMIT.
      REQUIRE(at("synchronous=FULL") < n);
      REQUIRE(at("synchronous=NORMAL") < n);
      CHECK(at("synchronous=FULL") < at("BEGIN"));
      CHECK(at("COMMIT") < at("synchronous=NORMAL"));
      break;
    case Backend::kPostgres:
      REQUIRE(at("SET LOCAL synchronous_commit TO on") < n);
      CHECK(at("BEGIN") < at("SET LOCAL synchronous_commit TO on"));
      CHECK(at("SET LOCAL synchronous_commit TO on") < at("COMMIT"));
      break;
    case Backend::kMysql:
      // Left to the server (a global setting): nothing is sent.
      CHECK(at("synchronous") == n);
      break;
  }
  CHECK(store.Get(items, "a").value().version == 3);
}
