// Options for opening a Store, and per-call write options.
#pragma once

#include <cstdint>
#include <optional>

namespace libshard {

// What an acknowledged write survives. A write is acknowledged after the
// COMMIT of its shard transaction; what that COMMIT waited for depends on
// this and on the database server's own settings (README "Durability").
enum class Durability {
  // SQLite: WAL with synchronous=NORMAL — a commit survives a crash of the
  // process; an OS crash or power loss may roll back the last commits
  // (never corrupts). PostgreSQL and MariaDB: the server's settings as they
  // are (PostgreSQL's default synchronous_commit=on with fsync=on and
  // MariaDB's innodb_flush_log_at_trx_commit=1 are power-safe).
  kProcessCrash,
  // SQLite: synchronous=FULL — the WAL is synced at every commit.
  // PostgreSQL: synchronous_commit=on for the session (or the write),
  // whatever the server's default. MariaDB: left to the server
  // (innodb_flush_log_at_trx_commit=1 is a global setting). Power-safe
  // only when the server really syncs (PostgreSQL fsync=on).
  kPowerLoss,
};

struct Options {
  // Open() runs Init() first when the catalog has no bucket map yet.
  // Default: false (an uninitialized cluster is an InvalidConfig error).
  bool create_if_missing = false;
  // Most connections kept open per database. Default: 8.
  int pool_size = 8;
  // Bound on establishing a connection (PostgreSQL and MariaDB
  // connect_timeout). An unreachable database fails with Code::kUnavailable
  // after about this long. Default: 5 s.
  int connect_timeout_seconds = 5;
  // Bound on every statement, COMMIT and fetch on PostgreSQL and MariaDB,
  // enforced by the client even when the server is frozen (the connection
  // is closed; backend/statement_timeout.h): the call fails with
  // kUnavailable (kOutcomeUnknown for a COMMIT). SQLite statements are
  // bounded by sqlite_busy_timeout_ms instead. 0 = no bound.
  // Default: 30 s.
  int statement_timeout_ms = 30000;
  // After a failed connect, calls to the same database fail fast with
  // kUnavailable for this long instead of waiting again. Default: 1000 ms.
  int down_backoff_ms = 1000;
  // SQLite busy timeout (waiting for another writer's lock). Default: 30 s.
  int sqlite_busy_timeout_ms = 30000;
  // How long a write waits for a lock on *another* shard while it holds its
  // own (checking the holder of a unique value). Two writes doing this
  // crosswise wait on each other across two databases, a deadlock no
  // database can see; so the wait is bounded on every backend (SQLite busy
  // handler, PostgreSQL lock_timeout, MariaDB innodb_lock_wait_timeout,
  // whole seconds) and never retried. The write whose id sorts higher waits
  // twice as long, so of two writes waiting on each other the lower one
  // gives up (kUnavailable, "lock timeout") and the other proceeds.
  // Default: 1000 ms.
  int cross_shard_lock_timeout_ms = 1000;
  // How long an operation on a bucket that is being moved between shards
  // keeps following it (redirects, and waiting out the switch, which takes
  // milliseconds) before failing with kUnavailable ("being moved"). A move
  // interrupted in the middle of its switch holds its bucket until the
  // move is resumed (`shardctl rebalance`). Default: 5000 ms.
  int move_wait_ms = 5000;
  // Threads used to query shards in parallel (get_many, scan). 0 = one per
  // shard, at most 16. Default: 0.
  int parallelism = 0;
  // Records fetched per round trip by scans. Default: 1000.
  int scan_chunk = 1000;
  // Default durability of every write of this Store (see Durability).
  // Default: kProcessCrash.
  Durability durability = Durability::kProcessCrash;
  // Record caches (EntityCacheConfig, README "Caching"). false = this
  // process neither reads nor fills any cache tier. It still invalidates
  // the shared tier after its writes, so other processes never read a
  // version it replaced. Default: true.
  bool cache = true;
  // Bound on connecting to a shared cache server and on each call to it.
  // Default: 200 ms.
  int cache_timeout_ms = 200;
  // After a shared cache server failed to answer, this process skips it
  // for this long (reads go to the shards) before trying again.
  // Default: 2000 ms.
  int cache_breaker_ms = 2000;
};

struct WriteOptions {
  // Compare-and-set: the write happens only if the stored version equals
  // this; 0 means "must not exist". Otherwise Code::kVersionConflict.
  std::optional<uint64_t> if_version;
  // kPowerLoss makes this write power-safe on a Store whose default is
  // kProcessCrash (SQLite: synchronous=FULL around it; PostgreSQL:
  // SET LOCAL synchronous_commit TO on; MariaDB: the server decides). A
  // batch is as durable as its most durable item. kProcessCrash never
  // weakens a power-safe Store. Unset: Options::durability.
  std::optional<Durability> durability;
};

}  // namespace libshard
