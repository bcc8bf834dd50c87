#include "bench/baseline_parallel.h"

#include "bench/bench.h"

namespace bench {

struct ShardWorkers::Worker {
  size_t shard = 0;
  uint64_t seen = 0;   // the last generation this worker ran
  std::string error;   // of the current generation
  std::thread thread;
};

ShardWorkers::ShardWorkers(const libshard::ClusterConfig& config, const std::string& entity) {
  for (size_t i = 0; i < config.shards.size(); ++i) {
    auto w = std::make_unique<Worker>();
    w->shard = i;
    workers_.push_back(std::move(w));
  }
  // Each worker connects on its own thread; generation 0 is the setup.
  pending_ = workers_.size();
  for (auto& w : workers_) {
    w->thread = std::thread(&ShardWorkers::Loop, this, w.get(),
                            config.FindDatabase(config.shards[w->shard]), entity);
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return pending_ == 0; });
  for (auto& w : workers_) {
    if (!w->error.empty()) {
      lock.unlock();
      Stop();  // join before throwing out of the constructor
      throw BenchError("shard worker: " + w->error);
    }
  }
}

ShardWorkers::~ShardWorkers() { Stop(); }

void ShardWorkers::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void ShardWorkers::Loop(Worker* w, const libshard::DatabaseConfig* db, const std::string& entity) {
  std::unique_ptr<BDb> conn;
  std::unique_ptr<RecordStatements> st;
  try {
    conn = std::make_unique<BDb>(*db);
    st = std::make_unique<RecordStatements>(*conn, entity);
  } catch (const std::exception& e) {
    w->error = e.what();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (--pending_ == 0) cv_.notify_all();
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || generation_ != w->seen; });
    if (stop_) break;
    w->seen = generation_;
    const auto* task = task_;
    lock.unlock();
    std::string error;
    try {
      if (!st) throw BenchError("no connection");
      (*task)(w->shard, *st);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    w->error = std::move(error);
    if (--pending_ == 0) cv_.notify_all();
  }
  lock.unlock();
  st.reset();  // statements before their session
}

void ShardWorkers::Run(const std::function<void(size_t, RecordStatements&)>& task) {
  std::unique_lock<std::mutex> lock(mu_);
  task_ = &task;
  pending_ = workers_.size();
  ++generation_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return pending_ == 0; });
  task_ = nullptr;
  for (auto& w : workers_) {
    if (!w->error.empty()) throw BenchError("shard worker: " + w->error);
  }
}

}  // namespace bench
