// shardctl stats --prometheus: the Prometheus text format on stdout, with
// the libshard_* families, one series per database of the config; the
// counters are the process's own (its catalog reads and record count).
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/test_cluster.h"

namespace {

struct MetricsRun {
  int exit_code = -1;
  std::string out, err;
};

MetricsRun RunShardctl(const std::vector<std::string>& args) {
  static const std::string dir = libshard::testing::MakeTempDir("shardctl_metrics");
  static int counter = 0;
  const std::string base = dir + "/run" + std::to_string(++counter);
  pid_t pid = libshard::testing::Spawn(SHARDCTL_PATH, args, base + ".out", base + ".err");
  std::optional<int> status = libshard::testing::Wait(pid, std::chrono::seconds(120));
  REQUIRE_MESSAGE(status.has_value(), "shardctl timed out");
  MetricsRun r;
  r.exit_code = *status;
  r.out = libshard::testing::ReadFile(base + ".out");
  r.err = libshard::testing::ReadFile(base + ".err");
  return r;
}

}  // namespace

TEST_CASE("shardctl stats --prometheus prints the metrics in the text format") {
  libshard::testing::ClusterSpec spec;
  spec.shards = 2;
  libshard::EntityConfig items;
  items.name = "items";
  spec.entities.push_back(items);
  libshard::testing::TestCluster tc =
      libshard::testing::MakeCluster(libshard::testing::BackendFromEnv(), spec);
  const std::string cfg = tc.yaml_path;
  MetricsRun init = RunShardctl({"-c", cfg, "init"});
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  MetricsRun put = RunShardctl({"-c", cfg, "put", tc.Entity("items"), "a", R"({"n":1})"});
  REQUIRE_MESSAGE(put.exit_code == 0, put.err);

  MetricsRun r = RunShardctl({"-c", cfg, "stats", "--prometheus"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.empty());
  const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (\+Inf|-?[0-9]+(\.[0-9]+)?)$)");
  std::set<std::string> typed, names;
  std::istringstream in(r.out);
  int samples = 0;
  for (std::string line; std::getline(in, line);) {
    CAPTURE(line);
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      CHECK(typed.insert(name).second);
      continue;
    }
    std::smatch m;
    REQUIRE(std::regex_match(line, m, sample));
    names.insert(m[1]);
    ++samples;
  }
  CHECK(samples > 0);
  for (const char* family :
       {"libshard_db_operations_total", "libshard_db_latency_seconds", "libshard_pool_connections",
        "libshard_pool_waits_total", "libshard_index_state", "libshard_index_rows_written_total"}) {
    CAPTURE(family);
    CHECK(typed.count(family) == 1);
  }
  // Every shard was counted (the record count reads each one), so each has
  // an operation and a latency count of at least 1.
  for (const std::string& shard : tc.config.shards) {
    CAPTURE(shard);
    std::smatch m;
    std::regex ops("\nlibshard_db_operations_total\\{database=\"" + shard + "\"\\} ([0-9]+)\n");
    REQUIRE(std::regex_search(r.out, m, ops));
    CHECK(std::stoull(m[1]) >= 1);
    CHECK(r.out.find("libshard_db_latency_seconds_bucket{database=\"" + shard + "\",le=\"+Inf\"}") !=
          std::string::npos);
    CHECK(r.out.find("libshard_pool_connections{database=\"" + shard + "\",state=\"open\"}") !=
          std::string::npos);
  }
}
