// The hand-written baseline at libshard's parallelism: one thread per
// shard, as libshard's fan-out runs (Options::parallelism 0 = one thread
// per shard). What a competent engineer writes when they parallelise by
// hand: a fixed set of worker threads, each owning its shard's connection
// and prepared statements (SOCI sessions are not shared between threads),
// handed one task per call and joined on a barrier.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/baseline.h"

namespace bench {

class ShardWorkers {
 public:
  // Starts one thread per shard of `config`; each opens its own connection
  // to its shard and prepares `entity`'s record statements.
  ShardWorkers(const libshard::ClusterConfig& config, const std::string& entity);
  ~ShardWorkers();
  ShardWorkers(const ShardWorkers&) = delete;
  ShardWorkers& operator=(const ShardWorkers&) = delete;

  size_t size() const { return workers_.size(); }
  // Runs task(shard, its statements) on every shard's thread at once and
  // waits for all; rethrows the first failure as BenchError.
  void Run(const std::function<void(size_t shard, RecordStatements&)>& task);

 private:
  struct Worker;
  void Stop();  // stops and joins every worker
  void Loop(Worker* w, const libshard::DatabaseConfig* db, const std::string& entity);

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(size_t, RecordStatements&)>* task_ = nullptr;
  uint64_t generation_ = 0;  // bumped per Run; workers run each generation once
  size_t pending_ = 0;       // workers still running the current generation
  bool stop_ = false;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace bench
