// WriteSignal: wakes this process's SQLite writers waiting for a database
// file's write lock when another connection of this process releases it.
//
// Why: SQLite has one write lock per database file and no wait queue; a
// writer that finds it taken is called back (the busy handler) and must
// retry later. Sleeping between retries, as SQLite's own handler does,
// overshoots: a put holds the lock ~25 µs, a sleep lasts 50 µs plus the
// kernel's timer slack, and 2 writer threads on 4 shards collide on ~1 put
// in 4, on one shard (an index database) on every put (bench/WRITERS.md). Most
// collisions are between threads of one process, so the releasing thread
// can say when: each write transaction ends with Released(), and a busy
// handler waits on the signal instead of sleeping. The lock is still
// SQLite's; a holder in another process (no signal) is polled as before,
// by the wait's timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace libshard::backend {

class WriteSignal {
 public:
  // The signal of one database file (by its path), shared by every
  // connection of this process to that file.
  static std::shared_ptr<WriteSignal> For(const std::string& path);

  // Counts releases; a waiter compares it with the value it saw when its
  // transaction began, so a release in between is not missed.
  uint64_t generation() const { return generation_.load(); }

  // A write transaction on the file ended (COMMIT or ROLLBACK).
  void Released();

  // Waits until generation() != seen or `max` has passed. True if a
  // release happened (the caller should retry the lock at once).
  bool WaitFor(uint64_t seen, std::chrono::microseconds max);

 private:
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace libshard::backend
