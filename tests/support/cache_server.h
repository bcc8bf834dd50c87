// The shared cache server for tests: LIBSHARD_CACHE_URL (scripts/servers.sh
// starts a throwaway Redis and exports it), and a private redis-server a
// test can stop and restart (LIBSHARD_REDIS_SERVER, or /usr/bin/redis-server).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <string>

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

// The URL, or "" when the environment has none. When the tests were built
// to require servers (LIBSHARD_SERVER_TESTS) an unset URL fails the test.
std::string SharedCacheUrl();

// A redis-server of its own on a free 127.0.0.1 port, without persistence
// (a restart starts empty, as the README asks of a cache server).
class PrivateRedis {
 public:
  PrivateRedis();   // starts it and waits until it answers
  ~PrivateRedis();  // stops it
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;

  std::string url() const;
  void Stop();     // SIGKILL-free: SIGTERM, waits for exit
  void Start();    // again, on the same port
  bool running() const { return pid_ > 0; }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
};

}  // namespace libshard::testing
