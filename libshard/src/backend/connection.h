// Connection: one open SOCI session with its cache of prepared statements,
// plus the transaction helpers every write uses.
//
// Thread-safety: a Connection belongs to one thread at a time (the pool
// hands it out under a lease; cluster/connection_pool.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "backend/dialect.h"
#include "backend/session.h"
#include "backend/write_signal.h"
#include "libshard/status.h"

namespace soci {
class session;
class statement;
}  // namespace soci

namespace libshard::backend {

// Base of cached prepared statements (each subclass owns its bound buffers).
class Prepared {
 public:
  virtual ~Prepared() = default;
  // The connection is closing: server-side state the statement would
  // release on destruction goes with the session instead (no round trip
  // to a server that may not answer).
  virtual void ConnectionClosing() {}
};

class Connection {
 public:
  explicit Connection(Session session);
  ~Connection();
  soci::session& sql() { return *session_.sql; }

  // The prepared statement cached under `key`, created by `make` (a
  // callable returning std::unique_ptr<T>) on first use. Keys name the
  // statement and its table, e.g. "rec.get:users". (A template rather than
  // a std::function: a point get or put would build one per call.)
  template <typename T, typename Make>
  T& Cached(const std::string& key, Make&& make) {
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, make()).first;
    return static_cast<T&>(*it->second);
  }
  // Drops every cached statement (after an error left one in doubt).
  void ForgetStatements() { cache_.clear(); }
  size_t cached_count() const { return cache_.size(); }

  // State of the SQLite busy handler (see connection.cc): how long a
  // statement may wait for a lock and when the current wait began.
  // `signal`: the file's WriteSignal (write_signal.h), null for an
  // in-memory database; `seen`: its generation when the current write
  // transaction began.
  struct BusyWait {
    int timeout_ms = 0;
    std::chrono::steady_clock::time_point began{};
    std::shared_ptr<WriteSignal> signal;
    uint64_t seen = 0;
  };
  BusyWait& busy_wait() { return busy_; }
  // SQLite only: replaces SQLite's sleeping busy timeout with a handler
  // that waits for this process's next release of the file's write lock
  // (WriteSignal) or polls, and turns on extended result codes (so a UNIQUE failure is
  // told apart from NOT NULL or CHECK; backend/errors.cc).
  void ConfigureSqlite(int busy_timeout_ms);

  // Bounds this connection's lock waits to `timeout_ms` (SQLite: its busy
  // handler; PostgreSQL: lock_timeout; MariaDB: innodb_lock_wait_timeout,
  // rounded up to whole seconds); 0 restores the connection's default.
  void SetLockTimeout(Backend backend, int timeout_ms);

  // MariaDB: the server's max_allowed_packet (read at connect); a
  // statement larger than this is refused by the server, which then drops
  // the connection ("server has gone away"), so oversized values are
  // refused before they are sent. 0 = no such limit.
  size_t max_packet_bytes() const { return max_packet_bytes_; }
  void set_max_packet_bytes(size_t n) { max_packet_bytes_ = n; }

  // Set when the connection's state is in doubt (a ROLLBACK failed, a
  // COMMIT's outcome is unknown): the pool closes it instead of reusing it.
  void MarkBroken() { broken_ = true; }
  bool broken() const { return broken_; }

 private:
  BusyWait busy_;  // declared first: outlives the session that points at it
  int busy_default_ms_ = 0;
  Session session_;
  std::unordered_map<std::string, std::unique_ptr<Prepared>> cache_;
  bool broken_ = false;
  size_t max_packet_bytes_ = 0;
};

// Bytes `value` takes inside a MariaDB statement: SOCI's MySQL backend
// escapes bound strings into the statement text (mysql_real_escape_string
// doubles NUL, quotes, backslash, CR, LF and ^Z).
size_t MysqlEscapedSize(std::string_view value);

// Thrown by InWriteTransaction when COMMIT failed in a way that does not
// tell whether the database applied it (the link broke during COMMIT).
// The caller must neither retry the write nor report it as failed-clean.
struct CommitOutcomeUnknown {
  std::string detail;
};

// Runs `fn` in a write transaction on the leased connection; rolls back if
// `fn` returns an error or throws. SQLite uses BEGIN IMMEDIATE: it takes the
// write lock up front, so two writers never deadlock upgrading a read lock.
// Exceptions from SOCI are rethrown for the caller to classify; a failed
// ROLLBACK marks the connection broken; a COMMIT that failed with a
// connection error throws CommitOutcomeUnknown.
Status InWriteTransaction(Connection& conn, const Dialect& dialect,
                          const std::function<Status()>& fn);

// Finishes a statement after its last fetch. SOCI leaves a SQLite statement
// un-reset after a single-row execute(true); an un-reset statement keeps
// its read snapshot open, so later reads on the same connection go stale
// and BEGIN IMMEDIATE fails with "database is locked". Always drain.
void Drain(soci::statement& st);

}  // namespace libshard::backend
