// FillGate: the deterministic read/fill race of the record cache — pauses
// the first reader that reaches its cache fill (after its shard read) until
// the test releases it.
#pragma once

#include <condition_variable>
#include <mutex>

#include "cluster/fault_env.h"

namespace libshard::testing {

// Pauses the first reader of `env`'s Store that reaches its cache fill
// (after its shard read) until Release(): the deterministic read/fill race.
class FillGate {
 public:
  explicit FillGate(cluster::FaultEnv& env);
  ~FillGate();  // releases a paused reader
  void WaitUntilPaused();  // fails the test after 30 s
  void Release();

 private:
  cluster::FaultEnv& env_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool used_ = false, waiting_ = false, released_ = false;
};

}  // namespace libshard::testing
