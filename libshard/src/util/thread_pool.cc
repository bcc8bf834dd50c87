#include "util/thread_pool.h"

#include <atomic>
#include <memory>

namespace libshard::util {

ThreadPool::ThreadPool(int threads) {
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void ThreadPool::RunAll(std::vector<std::function<void()>> tasks) {
  if (tasks.empty()) return;
  if (tasks.size() == 1 || workers_.empty()) {
    for (auto& t : tasks) t();
    return;
  }
  // Shared completion state: each task is claimed once, by a worker or by
  // the caller, whichever gets to it first.
  struct Batch {
    std::vector<std::function<void()>> tasks;
    std::vector<std::atomic<bool>> claimed;
    std::atomic<size_t> remaining;
    std::mutex mu;
    std::condition_variable done;
    explicit Batch(std::vector<std::function<void()>> t)
        : tasks(std::move(t)), claimed(tasks.size()), remaining(tasks.size()) {}
    void RunOne(size_t i) {
      if (claimed[i].exchange(true)) return;
      tasks[i]();
      if (remaining.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mu);
        done.notify_all();
      }
    }
  };
  auto batch = std::make_shared<Batch>(std::move(tasks));
  const size_t n = batch->tasks.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 1; i < n; ++i) queue_.push_back([batch, i] { batch->RunOne(i); });
  }
  // Wake as many workers as there are queued tasks, not every idle one: a
  // worker woken for nothing still costs a futex wake and two context
  // switches.
  if (n - 1 >= workers_.size()) {
    work_.notify_all();
  } else {
    for (size_t i = 1; i < n; ++i) work_.notify_one();
  }
  for (size_t i = 0; i < n; ++i) batch->RunOne(i);
  std::unique_lock<std::mutex> lock(batch->mu);
  batch->done.wait(lock, [&] { return batch->remaining.load() == 0; });
}

}  // namespace libshard::util
