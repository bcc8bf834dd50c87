// ThreadPool: a fixed set of worker threads for fanning a call out to
// several shards. RunAll() blocks until every task has run; the calling
// thread runs tasks too, so a pool of N threads serves N+1 shards at once
// and a nested RunAll can never deadlock waiting for a free worker.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace libshard::util {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs every task, in parallel where workers are free. Tasks must not
  // throw (wrap bodies and report through captured state).
  void RunAll(std::vector<std::function<void()>> tasks);

 private:
  void WorkerLoop();

  std::mutex mu_;
  std::condition_variable work_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace libshard::util
