// Env: everything the library takes from its surroundings — the clocks,
// sleeping, the lease timings and the opening of database sessions — behind
// one interface, so tests can replace it (LevelDB's Env, for the same
// reason). Env::Default() is the real thing; cluster/fault_env.h is the
// test one: it moves the clocks, shortens the lease and makes chosen
// database operations fail, hang or lose their link.
//
// Every part of the library reads time and opens sessions only through the
// Env of its Cluster (libshard/src/cluster/cluster.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "backend/session.h"
#include "libshard/config.h"

namespace libshard::cluster {

using SteadyTime = std::chrono::steady_clock::time_point;

// The timings of the index-state lease (indexer/index_registry.h).
struct LeaseTimings {
  std::chrono::milliseconds refresh{500};  // background catalog re-read
  std::chrono::milliseconds lease{3000};   // a view older than this may not commit
  // How long a builder or dropper waits after changing an index state: a
  // view read before the change has expired by then.
  std::chrono::milliseconds state_change_wait() const { return lease + refresh; }
};

class Env {
 public:
  virtual ~Env() = default;

  // Wall clock, microseconds since the Unix epoch (record `updated`).
  virtual int64_t WallMicros() const;
  // Monotonic clock (leases, deadlines).
  virtual SteadyTime SteadyNow() const;
  virtual void SleepFor(std::chrono::microseconds d) const;
  virtual LeaseTimings lease() const { return {}; }

  // Opens a session to `db` with connect string `url` (the canonical form
  // plus the library's defaults), with `hooks` (may be null: the library's
  // own, e.g. the statement timeout). Throws soci::soci_error.
  virtual backend::Session OpenSession(const DatabaseConfig& db, const std::string& url,
                                       std::shared_ptr<backend::SessionHooks> hooks);

  // Record cache seams (cache/record_cache.h). Called by a reader after
  // its shard read and before it fills the cache (a test pauses it there
  // to stage the read/fill race). Asked before each call to the shared
  // cache server `server` ("lookup", "fill", "invalidate"): true makes the
  // call fail as if the server could not be reached.
  virtual void BeforeCacheFill(std::string_view entity) const { (void)entity; }
  virtual bool FailCacheCall(std::string_view server, std::string_view op) const {
    (void)server;
    (void)op;
    return false;
  }

  // The process-wide real environment.
  static std::shared_ptr<Env> Default();
};

}  // namespace libshard::cluster
