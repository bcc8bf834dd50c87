// The shared cache tier across real processes: shardctl honours the
// config's caches like any service, so one `shardctl get` fills the shared
// tier for the next process, and a write made by another process beats a
// reader paused between its shard read and its fill.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/fault_env.h"
#include "libshard/libshard.h"
#include "store_impl.h"
#include "support/fill_gate.h"
#include "support/redis_server.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace {

using namespace libshard;  // NOLINT: test code

struct Run {
  int exit_code = -1;
  std::string out, err;
};

Run Shardctl(const std::vector<std::string>& args) {
  static const std::string dir = testing::MakeTempDir("shardctl_cache");
  static int counter = 0;
  const std::string base = dir + "/run" + std::to_string(++counter);
  pid_t pid = testing::Spawn(SHARDCTL_PATH, args, base + ".out", base + ".err");
  std::optional<int> status = testing::Wait(pid, std::chrono::seconds(120));
  REQUIRE_MESSAGE(status.has_value(), "shardctl timed out");
  return Run{*status, testing::ReadFile(base + ".out"), testing::ReadFile(base + ".err")};
}

CacheMetrics Shared(Store& store, const std::string& entity) {
  for (const CacheMetrics& c : store.Metrics().caches) {
    if (c.entity == entity && c.tier == "shared") return c;
  }
  FAIL("no shared cache metrics");
  return {};
}

}  // namespace

TEST_CASE("cache across processes: shardctl get fills the shared tier for the next process; "
          "a shardctl put acknowledged during a paused fill wins") {
  const std::optional<std::string> url = testing::CacheUrlFromEnv();
  if (!url) return;  // skipped, or failed when servers are required
  testing::ClusterSpec spec;
  spec.shards = 2;
  EntityConfig items;
  items.name = "items";
  spec.entities.push_back(items);
  testing::TestCluster tc = testing::MakeCluster(testing::BackendFromEnv(), spec);
  // The cache after MakeCluster, which validates a config without caches.
  tc.config.entities[0].cache.shared = "hot";
  tc.config.entities[0].cache.ttl = std::chrono::seconds(60);
  tc.config.caches.push_back(CacheServerConfig{"hot", *url, {}});
  REQUIRE(tc.config.Validate().ok());
  testing::RewriteYaml(tc);
  const std::string cfg = tc.yaml_path;
  const std::string e = tc.Entity("items");
  Run init = Shardctl({"-c", cfg, "init"});
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  for (const char* id : {"a", "b"}) {
    Run put = Shardctl({"-c", cfg, "put", e, id, R"({"n":1})"});
    REQUIRE_MESSAGE(put.exit_code == 0, put.err);
  }
  Run get = Shardctl({"-c", cfg, "get", e, "a"});
  REQUIRE_MESSAGE(get.exit_code == 0, get.err);

  // This process is "the next one": its first read of "a" is a hit.
  auto env = std::make_shared<cluster::FaultEnv>();
  Result<ClusterConfig> loaded = ClusterConfig::Load(cfg);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().ToString());
  Result<std::unique_ptr<Store>> opened = Store::Impl::Open(*loaded, {}, env);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  Store& store = **opened;
  Result<Record> a = store.Get(e, "a");
  REQUIRE(a.ok());
  CHECK(a->version == 1);
  CHECK(Shared(store, e).hits == 1);
  CHECK(Shared(store, e).misses == 0);

  // The race, with the writer in another process.
  testing::FillGate gate(*env);
  Result<Record> paused = Status::Internal("not run");
  std::thread reader([&] { paused = store.Get(e, "b"); });
  gate.WaitUntilPaused();
  Run put = Shardctl({"-c", cfg, "put", e, "b", R"({"n":2})"});
  CHECK_MESSAGE(put.exit_code == 0, put.err);
  gate.Release();
  reader.join();
  REQUIRE(paused.ok());
  CHECK(paused->version == 1);
  CHECK(Shared(store, e).stale_fills == 1);
  Run after = Shardctl({"-c", cfg, "get", "--meta", e, "b"});
  REQUIRE_MESSAGE(after.exit_code == 0, after.err);
  CHECK_MESSAGE(after.out.find("\"version\":2") != std::string::npos, after.out);
  Result<Record> b = store.Get(e, "b");
  REQUIRE(b.ok());
  CHECK(b->version == 2);
}
