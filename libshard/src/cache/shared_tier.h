// SharedTier: the shared cache tier on one Redis server (a `caches:` entry
// of the config), used by every entity that names it. It stores, per key,
// the committed MessagePack body of a record with its version and update
// time, and makes the classic read/fill race impossible with fill leases:
//
//   reader:  LookupMany ── miss: the key gets this reader's lease token
//            read the shard (committed data only)
//            FillMany(token) ── stored only if the token is still on the key
//   writer:  COMMIT, then Invalidate ── deletes the key, and with it every
//            lease token, so a fill of a row read before the commit is refused
//   or:      BeginInvalidate(new versions) just before COMMIT, COMMIT,
//            FinishInvalidate ── the same, with the round trip overlapped
//            with the COMMIT's: the key also keeps a version floor, so a
//            reader that misses between the two and reads the replaced row
//            cannot fill it (shared_tier_scripts.h, kInvalidateScript)
//
// An eviction deletes the tokens too, so it cannot let a stale fill in
// either. A fill also expires at (its lease's creation + ttl), by the
// server's clock, so an entry filled from a read that began before a write
// which could not invalidate (a partition, a crash after COMMIT) is gone at
// most ttl after that write. Scripts run atomically on the server (Lua).
//
// Never the source of truth: every failure is reported as kError and the
// caller reads the shard. A connection error opens a circuit breaker: for
// breaker_ms every call fails at once without touching the network
// (kBypassed), then one call tries to connect again. Invalidations that
// fail are queued (up to max_pending keys) and replayed before anything
// else once the server answers again; when the queue overflows, this
// process stops reading from the tier for max_ttl (every entry that could
// be stale has expired by then).
//
// Thread-safe: calls take a connection from a small pool (hiredis contexts
// are not thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libshard/status.h"

namespace libshard::cache {

struct SharedTierOptions {
  std::string name;  // the caches: entry, for messages
  // redis://[:password@]host[:port][/db] (after ${VAR} substitution).
  // Never printed: messages use RedactUrl.
  std::string url;
  std::chrono::milliseconds timeout{200};      // connect and each command
  std::chrono::milliseconds breaker{2000};     // fail fast after a connection error
  std::chrono::milliseconds max_ttl{60000};    // the longest ttl of the entities using it
  size_t max_pending = 100000;                 // queued invalidations (keys)
  int pool_size = 8;                           // connections kept
  // Test seam (FaultEnv): returns true to make operation `op` ("lookup",
  // "fill", "invalidate") fail as if the server could not be reached. It is
  // asked first, before any network use: a faulted call returns kError
  // (Invalidate: false, its keys queued) and leaves the breaker and the
  // pooled connections alone, so only that one call fails.
  std::function<bool(std::string_view op)> fault;
};

enum class Outcome : uint8_t {
  kHit,       // lookup: value returned
  kMiss,      // lookup: not cached; `lease` set when this reader may fill
  kStored,    // fill: stored
  kKept,      // fill: an equal or newer version is already cached
  kStale,     // fill: refused (invalidated, evicted, or lease older than ttl)
  kError,     // the server failed or could not be reached
  kBypassed,  // not tried: breaker open, or reads suspended after an overflow
};

struct SharedValue {
  uint64_t version = 0;
  int64_t updated_us = 0;
  std::string body;  // byte-exact
};

struct LookupResult {
  Outcome outcome = Outcome::kError;
  SharedValue value;   // kHit
  std::string lease;   // kMiss: the token to fill with ("" = may not fill)
};

struct FillItem {
  std::string_view key;
  std::string_view lease;
  uint64_t version = 0;
  int64_t updated_us = 0;
  std::string_view body;
  std::chrono::milliseconds ttl{0};
};

class SharedTier {
 public:
  // Parses the URL (kInvalidConfig naming `name`, never the password);
  // does not connect (connections are opened on first use).
  static Result<std::unique_ptr<SharedTier>> Create(SharedTierOptions options);
  ~SharedTier();
  SharedTier(const SharedTier&) = delete;
  SharedTier& operator=(const SharedTier&) = delete;

  // One round trip for all keys (keys are binary: NUL bytes allowed).
  // Each miss takes a fill lease (ttl as the key's expiry when the key is
  // new). `out` gets one result per key, in order; on failure every result
  // is kError (or kBypassed).
  void LookupMany(const std::vector<std::string>& keys, std::chrono::milliseconds ttl,
                  std::vector<LookupResult>* out);
  // One round trip for all items; `out` gets one outcome per item. An
  // item with version 0 only hands its lease back (the shard had no such
  // record): kKept.
  void FillMany(const std::vector<FillItem>& items, std::vector<Outcome>* out);
  // Deletes the keys (one round trip). False when they could not be
  // deleted now (then queued for replay; see above). Floors::kKeep (puts,
  // and every replay) leaves a key's version floor in place, which may be
  // a later writer's (shared_tier_scripts.h, kDropKeepFloorScript);
  // Floors::kDrop is a plain DEL, for deleted records.
  enum class Floors { kKeep, kDrop };
  bool Invalidate(const std::vector<std::string>& keys, Floors floors = Floors::kKeep);

  // A write's invalidation in two halves, around its COMMIT, so that its
  // round trip overlaps the COMMIT's. BeginInvalidate, once the write knows
  // it will commit, sends the early invalidation of `keys` with each key's
  // new version (`versions[i]`) as its floor and returns without waiting.
  // Then exactly one of:
  //  - FinishInvalidate, after the COMMIT (or an outcome unknown): waits for
  //    the answer; true when the keys are invalidated. False when the send
  //    or the answer failed: the keys are then queued for replay, as a failed
  //    Invalidate's are (only now, after the COMMIT: a DEL replayed before it
  //    would let a reader fill the replaced row). When the COMMIT took more
  //    than half the ttl (the floor may have expired before it), or the
  //    server refused the script, the keys are deleted again first.
  //  - AbandonInvalidate, after a rollback: reads the answer and gives the
  //    connection back. The entries stay dropped (a miss each) and so do the
  //    floors: the next writer of the same id may commit the same version,
  //    and its own floor must not be removed. Such a key is not filled with
  //    the rolled-back write's old version until a write commits or ttl
  //    passes.
  // Deletes use Invalidate after COMMIT: a re-created record starts again at
  // version 1, below a floor a delete would leave.
  struct InFlight;
  struct InFlightDelete {
    void operator()(InFlight* f) const;
  };
  using InFlightPtr = std::unique_ptr<InFlight, InFlightDelete>;
  InFlightPtr BeginInvalidate(std::vector<std::string> keys, const std::vector<uint64_t>& versions,
                              std::chrono::milliseconds ttl);
  bool FinishInvalidate(InFlightPtr in_flight);
  void AbandonInvalidate(InFlightPtr in_flight);

  // For metrics: invalidations waiting for the server, and whether the
  // breaker is open now.
  size_t pending() const;
  bool breaker_open() const;
  const std::string& name() const;
  // The last failure, for logs: names the server as host:port/db, never
  // the password ("" before any failure).
  std::string last_error() const;

  class Impl;

 private:
  explicit SharedTier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace libshard::cache
