// Crash loop with an acknowledged-write log (tests/support/crash_loop.h):
// writer processes (ack_writer: seeded puts and put_many batches, one log
// line per acknowledged write) are SIGKILLed 100 times at random moments
// while `shardctl index drop` and `index build` of one index run and are
// killed at random points too; then every acknowledged write must be in the
// export with at least its version, and no index may miss a row.
//
// The seed is printed (`seed=…`); LIBSHARD_TEST_SEED=… repeats a run.
// Runs on the backend named by LIBSHARD_TEST_BACKEND (SQLite by default);
// CTest runs it as cli.crash_loop.sqlite and cli.crash_loop.postgres.
// scripts/crash_loop.sh runs the same loop longer, on any cluster.

#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "support/crash_loop.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace {

libshard::IndexConfig StringIndex(const std::string& name, const std::string& field) {
  libshard::IndexColumnConfig c;
  c.name = field;
  c.type = libshard::ColumnType::kString;
  c.field = field;
  libshard::IndexConfig idx;
  idx.name = name;
  idx.databases = {"idx0"};
  idx.columns = {c};
  return idx;
}

}  // namespace

TEST_CASE("crash loop: acknowledged writes survive 100 SIGKILLs of writers, index builds and drops") {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("LIBSHARD_TEST_SEED"); s != nullptr && *s != '\0') {
    seed = std::stoull(s);
  }
  std::cout << "seed=" << seed << " (LIBSHARD_TEST_SEED=" << seed << " repeats this run)" << std::endl;
  MESSAGE("seed=" << seed);

  const libshard::testing::TestBackend backend = libshard::testing::BackendFromEnv();
  libshard::testing::ClusterSpec spec;
  libshard::EntityConfig items;
  items.name = "items";
  // by_grp stays ready throughout; by_tag is dropped and rebuilt.
  items.indexes = {StringIndex("by_grp", "grp"), StringIndex("by_tag", "tag")};
  spec.entities = {items};
  libshard::testing::TestCluster tc = libshard::testing::MakeCluster(backend, spec);

  const std::string work = libshard::testing::MakeTempDir("crash-loop");
  auto shardctl = [&](const std::string& name, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"-c", tc.yaml_path};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t pid = libshard::testing::Spawn(SHARDCTL_PATH, argv, work + "/" + name + ".out",
                                               work + "/" + name + ".err");
    REQUIRE_MESSAGE(libshard::testing::Wait(pid, std::chrono::minutes(2)) == 0,
                    name << ": " << libshard::testing::ReadFile(work + "/" + name + ".err"));
  };
  // On a server backend the catalog is shared with other test clusters, so
  // init finds a live cluster and registers the indexes write_only; the loop
  // builds every index to ready before it starts.
  shardctl("init", {"init"});

  libshard::testing::CrashLoopOptions o;
  o.shardctl = SHARDCTL_PATH;
  o.writer = ACK_WRITER_PATH;
  o.config = tc.yaml_path;
  o.entity = tc.Entity("items");
  o.index = "by_tag";
  o.stable_indexes = {"by_grp"};
  o.work_dir = work;
  o.seed = seed;
  o.kills = 100;
  // One drop/build cycle on a server backend (each run waits out the 3.5 s
  // lease and the processes start slower); two on SQLite.
  o.index_cycles = backend == libshard::testing::TestBackend::kSqlite ? 2 : 1;
  o.progress = [](const std::string& line) { std::cout << "crash loop: " << line << std::endl; };
  const libshard::testing::CrashLoopReport r = libshard::testing::RunCrashLoop(o);
  MESSAGE(libshard::testing::Summary(r));

  for (const std::string& p : r.problems) FAIL_CHECK(p);
  CHECK(r.problems.empty());
  CHECK(r.writers_killed >= 100);
  // Kills are timed from the writers' observed start-up, so many land while
  // a writer is writing (between commits), not only before its first write
  // (a third at least even on an overloaded machine; usually most).
  CHECK(r.killed_after_acks >= r.writers_killed / 3);
  for (const std::string& f : r.failed_samples) MESSAGE(f);
  CHECK(r.failed_writes == 0);
  CHECK(r.acked_writes > 1000);
  // Every phase ran, except a drop left nothing to do by the killed drop
  // before it (which then finished first).
  CHECK(r.index_runs + r.index_skipped == 4 * o.index_cycles);
  CHECK(r.index_skipped <= o.index_cycles);
  CHECK(r.index_kills >= 1);
  CHECK(r.verify.size() == 2);
  for (const auto& [index, counts] : r.verify) {
    CAPTURE(index);
    CHECK(counts.first == 0);
  }
}
