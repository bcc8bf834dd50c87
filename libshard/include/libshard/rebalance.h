// Online resharding: moving buckets between record shards while writers run.
//
// A bucket (the unit of placement; see Store::Locate) moves from one shard
// to another in steps — copy, catch-up, switch, cleanup — recorded in the
// catalog, so a move interrupted at any point is finished by running it (or
// Rebalance) again. The switch is fenced by the shards themselves: every
// write transaction checks an ownership row of its bucket on its shard, so
// a process holding an old bucket map is refused by the old shard and
// redirected, never applied there. ARCHITECTURE.md "Moving a bucket" has
// the argument and the state machine.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "libshard/status.h"

namespace libshard {

// One planned or performed move.
struct BucketMove {
  uint32_t bucket = 0;
  std::string from;
  std::string to;
};

// Reported while moves run (on the calling thread or a worker; calls are
// serialized).
struct MoveProgress {
  uint32_t bucket = 0;
  std::string from, to;
  // "copy", "catch-up", "switch", "cleanup", "done" or "failed".
  std::string step;
  uint64_t records = 0;     // records copied for this bucket so far
  size_t moves_done = 0;    // moves finished (done or failed) in this call
  size_t moves_total = 0;   // moves this call will attempt
  std::string error;        // for "failed"
};
using MoveProgressFn = std::function<void(const MoveProgress&)>;

struct MoveOptions {
  // Records per copy transaction on the target. Default: 1000.
  int chunk = 1000;
  MoveProgressFn progress;
};

struct RebalanceOptions {
  // Shards to empty (their buckets go to the others); a drained shard can
  // then be removed from `shards:`.
  std::vector<std::string> drain;
  // Moves run at once (each between its own pair of shards when the plan
  // allows). Default: 2.
  int parallel = 2;
  // Records per copy transaction. Default: 1000.
  int chunk = 1000;
  MoveProgressFn progress;
};

// A move recorded in the catalog that has not finished: in progress (maybe
// in another process, or interrupted by a crash) or failed.
struct MoveState {
  uint32_t bucket = 0;
  std::string from, to;
  std::string state;      // "copying", "switching", "switched", "cleanup"
  std::string error;      // last failure; empty when none
  int64_t updated_us = 0; // when the state last changed (wall clock)
  // The failure's code, in RebalanceReport::failed (the catalog keeps only
  // the text: kOk in MoveStates()).
  Code code = Code::kOk;
};

struct RebalanceReport {
  std::vector<BucketMove> plan;    // what this call set out to do
  size_t moved = 0;                // moves finished
  uint64_t records_copied = 0;     // records written to targets
  std::vector<MoveState> failed;   // moves that failed (resumable)
};

// Buckets per shard from the catalog, with the share a rebalance aims at.
struct ShardShare {
  std::string shard;
  uint32_t buckets = 0;   // owned now
  uint32_t weight = 1;    // from the config
  uint32_t target = 0;    // what an even (weighted) rebalance gives it
};

}  // namespace libshard
