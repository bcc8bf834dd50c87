// Move crash loop (tests/support/move_crash_loop.h): is the bucket mover
// crash-safe and resumable? A 4-shard cluster with 5,000 records (and
// filler records in the buckets each run moves first) and an index gets 2
// spare shards while writers run; the rebalancer
// (tests/support/rebalancer.cc) is SIGKILLed 20 times — at the copy,
// catch-up, switch and cleanup steps (4 times each) and after random delays
// — then run to the end; every acknowledged write must be there with its
// latest version, no record on two shards, no leftover rows on the sources,
// every shard at its share, no move recorded, and the index 0/0.
//
// The seed is printed (`seed=…`); LIBSHARD_TEST_SEED=… repeats a run (the
// kill moments, not the timing of the processes).
// Runs on the backend named by LIBSHARD_TEST_BACKEND (SQLite by default);
// CTest runs it as cli.move_crash.sqlite and cli.move_crash.postgres.

#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "libshard/store.h"
#include "support/move_crash_loop.h"
#include "support/test_cluster.h"

TEST_CASE("move crash: rebalances SIGKILLed at every step resume; no write lost, nothing left behind") {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("LIBSHARD_TEST_SEED"); s != nullptr && *s != '\0') {
    seed = std::stoull(s);
  }
  std::cout << "seed=" << seed << " (LIBSHARD_TEST_SEED=" << seed << " repeats this run)" << std::endl;
  MESSAGE("seed=" << seed);

  const libshard::testing::TestBackend backend = libshard::testing::BackendFromEnv();
  libshard::testing::ClusterSpec spec;
  spec.shards = 4;
  spec.spare_shards = 2;
  spec.fresh_databases = true;  // the bucket map changes: own databases
  libshard::EntityConfig items;
  items.name = "items";
  libshard::IndexColumnConfig grp;
  grp.name = "grp";
  grp.type = libshard::ColumnType::kString;
  grp.field = "grp";
  libshard::IndexConfig by_grp;
  by_grp.name = "by_grp";
  by_grp.databases = {"idx0"};
  by_grp.columns = {grp};
  items.indexes = {by_grp};
  spec.entities = {items};
  libshard::testing::TestCluster tc = libshard::testing::MakeCluster(backend, spec);
  // A brand-new cluster: init registers the index ready.
  REQUIRE(libshard::Store::Init(tc.config).ok());

  libshard::testing::MoveCrashOptions o;
  o.rebalancer = REBALANCER_PATH;
  o.writer = ACK_WRITER_PATH;
  o.config = tc.yaml_path;
  o.entity = tc.Entity("items");
  o.index = "by_grp";
  o.spare_shards = {"s4", "s5"};
  o.add_shards = [&] {
    for (const std::string& s : o.spare_shards) {
      tc.config.shards.push_back(s);
      if (!tc.config.shard_weights.empty()) tc.config.shard_weights.push_back(1);
    }
    libshard::testing::RewriteYaml(tc);
    const libshard::Status s = libshard::Store::Init(tc.config);
    if (!s.ok()) throw std::runtime_error("Init with the spare shards: " + s.ToString());
  };
  o.work_dir = libshard::testing::MakeTempDir("move-crash");
  o.seed = seed;
  o.progress = [](const std::string& line) { std::cout << "move crash: " << line << std::endl; };
  const libshard::testing::MoveCrashReport r = libshard::testing::RunMoveCrashLoop(o);
  MESSAGE(libshard::testing::Summary(r));
  MESSAGE("work dir: " << o.work_dir << " (kept with LIBSHARD_KEEP_TMP=1)");

  for (const std::string& p : r.problems) FAIL_CHECK(p);
  CHECK(r.problems.empty());
  CHECK(r.rebalancers_killed == o.kills);
  CHECK(r.between_checks == o.kills);
  for (const char* step : {"copy", "catch-up", "switch", "cleanup"}) {
    CAPTURE(step);
    CHECK(r.killed_at.count(step) == 1);
    if (r.killed_at.count(step) == 1) CHECK(r.killed_at.at(step) >= 3);
  }
  // Writes wait for a bucket whose move was interrupted until a rebalancer
  // resumes it (moments later here): none should fail.
  for (const std::string& f : r.failed_samples) MESSAGE(f);
  CHECK(r.failed_writes == 0);
  CHECK(r.cut_lines == 0);
  CHECK(r.model_ops > 100);
  CHECK(r.leftover_rows == 0);
  CHECK(r.verify_missing == 0);
  CHECK(r.verify_dangling == 0);
}
