// The move crash loop: is the bucket mover crash-safe and resumable?
//
// On an initialized cluster (one entity with an index) the loop
//   1. loads records k0…k{ids-1} (which the writers then rewrite);
//   2. starts `writers` ack_writer processes (tests/support/ack_writer.cc:
//      puts and put_many batches, each acknowledged write logged), each
//      running `writer_ops` operations and then replaced by a fresh one, and
//      a writer thread in this process that puts with and without
//      if_version and deletes records d0…d{model_ids-1}, keeping an exact
//      model of each (it is never killed, so it knows every outcome);
//   3. calls `add_shards` (the test lists the spare shards in `shards:`,
//      rewrites the YAML file and runs Store::Init; the writers learn the
//      shards by re-reading the file);
//   4. `kills` times: gives the buckets of the first `heavy_moves` moves
//      of the coming run's plan `heavy_per_bucket` filler records "h…" (so
//      that those moves copy more than the mover's small-difference
//      threshold, 64 rows, in their first pass and report a "catch-up"
//      pass; the plan is deterministic but changes as moves get done),
//      starts the rebalancer (tests/support/rebalancer.cc:
//      Store::Rebalance with a small chunk, printing each step) and SIGKILLs
//      it either after a random delay or when it prints a chosen step
//      ("copy", "catch-up", "switch", "cleanup"; the n-th such line, n
//      random) — each step `kills_per_step` times, the rest after a random
//      delay — in a seeded random order.
//      After each kill, with no mover running: no bucket is owned by two
//      shards (read directly from each shard's ownership rows), a bucket
//      owned by none or incoming somewhere has a recorded move, and a full
//      scan returns no id twice and misses no loaded record outside the
//      buckets whose move is recorded;
//   5. runs `rebalancer --finish`, which must finish every move;
//   6. lets the writers finish their current run and stops the thread;
//   7. checks:
//      a. every acknowledged write is there (by key through Store::GetMany,
//         and in a full scan) with at least its version, and the body of
//         that write when the version is the acknowledged one; every model
//         record is exactly as the model says (deleted ones absent); the
//         model saw gapless versions and no version conflicts;
//      b. no move is recorded (Store::MoveStates) and every shard owns its
//         share (Store::BucketShares: 170 or 171 of 1024 over 6 shards);
//      c. on every shard database, read directly: no row of the entity in a
//         bucket the shard does not own (the source's leftovers were cleaned
//         up), no bucket left "incoming", each bucket owned by exactly one
//         shard, the one the catalog's map names;
//      d. a full scan returns no id twice, and its count, the total of
//         Store::Stats and the rows counted directly all equal the number of
//         live records known from the logs and the model;
//      e. Store::VerifyIndex reports 0 missing and 0 dangling rows.
//
// No test framework inside: failed checks are returned as `problems`.
// tests/cli/move_crash_test.cc runs it (CTest cli.move_crash.<backend>).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace libshard::testing {

struct MoveCrashOptions {
  std::string rebalancer;  // path of the rebalancer binary
  std::string writer;      // path of the ack_writer binary
  std::string config;      // cluster YAML, initialized, without the spares in `shards:`
  std::string entity;      // the entity written and moved
  std::string index;       // a string index of `entity` on field "grp"
  // The shards `add_shards` adds (used to plan where the filler goes).
  std::vector<std::string> spare_shards;
  // Lists `spare_shards` in the YAML file at `config` and runs Store::Init.
  std::function<void()> add_shards;
  std::string work_dir = ".";  // logs and outputs (must exist)
  uint64_t seed = 1;
  int kills = 20;            // rebalancer processes to SIGKILL
  int kills_per_step = 4;    // of those, at each of the four steps
  int max_step_repeat = 6;   // killed at the n-th line of its step, n in 1..this
  // The others are killed at a random moment within the time they take
  // (as measured on the earlier runs) to make this many moves after their
  // start-up: random, yet leaving work for the runs after them.
  int delay_moves = 8;
  int chunk = 50;            // rebalancer --chunk
  int parallel = 2;          // rebalancer --parallel
  int ids = 5000;            // k0…k{ids-1}: loaded, then rewritten by the writers
  int heavy_moves = 12;      // before each run, this many planned buckets…
  int heavy_per_bucket = 72; // …get this many filler records
  int writers = 2;           // ack_writer processes at once
  int writer_ops = 400;      // operations per ack_writer run
  int model_ids = 300;       // d0…: the in-process writer's records
  // Progress lines; may be empty.
  std::function<void(const std::string&)> progress;
};

struct MoveCrashReport {
  uint64_t seed = 0;
  size_t planned_moves = 0;        // the first plan (after adding the shards)
  size_t loaded = 0;               // records loaded before the loop
  size_t filler = 0;               // filler records written before the runs
  int rebalancers_killed = 0;
  int rebalancers_finished = 0;    // ended before their kill (no work left)
  int between_checks = 0;          // checks made after a kill (step 4 above)
  int between_ms = 0;              // the longest (buckets whose move was cut
                                   // after its switch wait that long, and more)
  std::map<std::string, int> killed_at;  // "copy", …, "delay" -> kills
  std::map<std::string, int> steps_seen; // progress lines seen, by step
  int finish_ms = 0;               // the --finish run
  std::string finish_report;       // its "report …" and "after …" lines
  int writer_runs = 0;             // ack_writer processes started
  long long acked_writes = 0;      // log lines (load + writers)
  long long cut_lines = 0;         // partial last lines (none expected)
  long long model_ops = 0;         // the in-process writer's operations
  long long model_deletes = 0;     // of those, deletes that deleted
  // Writes that failed (ack_writer "failed:" lines and model writes): not a
  // broken guarantee by themselves, but a move should not fail writes.
  long long failed_writes = 0;
  std::vector<std::string> failed_samples;
  uint64_t live_expected = 0;      // live records per the logs and the model
  uint64_t scanned = 0, stats_total = 0, raw_total = 0;
  long long leftover_rows = 0;     // rows in buckets their shard does not own
  long long verify_missing = -1, verify_dangling = -1;
  std::map<std::string, uint32_t> buckets;  // shard -> buckets owned at the end
  double seconds = 0;
  std::vector<std::string> problems;  // failed checks, one line each
};

MoveCrashReport RunMoveCrashLoop(const MoveCrashOptions& options);

// One line summing up a report.
std::string Summary(const MoveCrashReport& report);

}  // namespace libshard::testing
