// FaultEnv: an Env for tests that makes the world misbehave on purpose,
// deterministically — the seam LevelDB's fault-injection Env gives its
// tests, here for SQL databases reached through SOCI.
//
// - Clocks: the wall clock and the monotonic clock can be stepped forward
//   or back (StepWallClock, StepSteadyClock).
// - Lease: short timings by default (refresh 20 ms, lease 150 ms), so index
//   builds and drops in tests wait milliseconds, not seconds. Every Store
//   taking part in a test must share the same Env, or the lease argument
//   does not hold between them.
// - Faults: a Fault names a database, an operation (connect, execute,
//   fetch, begin, commit, rollback), optionally a piece of SQL text, and
//   which matching operations it hits (skip the first N, then `times`
//   of them). It can fail the operation with a chosen kind of error (the
//   backend's own exception type and code), hang it, or break the link
//   before or after the operation ran; a broken session fails every later
//   operation with a connection error, as a dead TCP link would.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "backend/errors.h"
#include "cluster/env.h"

namespace libshard::cluster {

struct Fault {
  enum class Action {
    kFail,         // throw an error of `error` kind instead of running the operation
    kHang,         // sleep `hang`, then run the operation
    kBreakBefore,  // the link breaks before the operation reaches the database
    kBreakAfter,   // the operation runs, then the link breaks before the reply
  };
  std::string database;     // "" = every database
  backend::SqlOp op = backend::SqlOp::kExecute;
  std::string sql_contains;  // "" = any statement
  int skip = 0;              // matching operations let through first
  int times = 1;             // then hit this many; -1 = every later one
  Action action = Action::kFail;
  backend::ErrorKind error = backend::ErrorKind::kOther;  // for kFail
  std::chrono::milliseconds hang{0};                      // for kHang
};

class FaultEnv : public Env {
 public:
  FaultEnv();

  int64_t WallMicros() const override;
  SteadyTime SteadyNow() const override;
  LeaseTimings lease() const override;
  backend::Session OpenSession(const DatabaseConfig& db, const std::string& url,
                               std::shared_ptr<backend::SessionHooks> hooks) override;

  void StepWallClock(std::chrono::microseconds delta);
  void StepSteadyClock(std::chrono::microseconds delta);
  // Applies to Stores opened afterwards (a registry reads it once).
  void SetLease(LeaseTimings timings);

  // Adds a fault; returns its id for Hits().
  int Inject(Fault fault);
  // How many operations fault `id` has hit so far.
  int Hits(int id) const;
  void ClearFaults();

  // Called before every operation on every hooked session (after faults
  // are matched, before one fires), e.g. to step a clock at an exact point.
  using Observer = std::function<void(const std::string& database, backend::SqlOp op,
                                      std::string_view sql)>;
  void SetObserver(Observer observer);

  // The record cache seams (Env::BeforeCacheFill, Env::FailCacheCall).
  using CacheFillHook = std::function<void(std::string_view entity)>;
  using CacheFault = std::function<bool(std::string_view server, std::string_view op)>;
  void SetBeforeCacheFill(CacheFillHook hook);
  void SetCacheFault(CacheFault fault);
  void BeforeCacheFill(std::string_view entity) const override;
  bool FailCacheCall(std::string_view server, std::string_view op) const override;

  // Operations seen so far on `database` of kind `op`.
  int Count(const std::string& database, backend::SqlOp op) const;
  // Of those, how many failed (the database's error, a fault, a timeout).
  int Failures(const std::string& database, backend::SqlOp op) const;
  void RecordFailure(const std::string& database, backend::SqlOp op);

  // Decides what happens to one operation; used by the session hooks.
  struct Decision {
    bool fire = false;
    Fault fault;
  };
  Decision Match(const std::string& database, backend::SqlOp op, std::string_view sql);

 private:
  struct Rule {
    Fault fault;
    int seen = 0;
    int hits = 0;
  };
  std::atomic<int64_t> wall_offset_us_{0};
  std::atomic<int64_t> steady_offset_us_{0};
  mutable std::mutex mu_;
  LeaseTimings lease_;
  std::vector<Rule> rules_;
  Observer observer_;
  CacheFillHook before_cache_fill_;
  CacheFault cache_fault_;
  std::map<std::pair<std::string, int>, int> counts_;  // (database, op) -> seen
  std::map<std::pair<std::string, int>, int> failures_;  // (database, op) -> failed
};

}  // namespace libshard::cluster
