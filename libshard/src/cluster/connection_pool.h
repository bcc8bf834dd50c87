// ConnectionPool: a bounded set of SOCI sessions to one database, each with
// its own cache of prepared statements.
//
// Connections are opened lazily, so a database that is down costs nothing
// until a call routes to it; then the call fails with kUnavailable within
// Options::connect_timeout_seconds, and further calls fail fast for
// Options::down_backoff_ms instead of queueing behind the same timeout.
//
// Thread-safety: Acquire() may be called from any thread; a Lease (and the
// Connection it holds) belongs to one thread until it is released.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/dialect.h"
#include "libshard/config.h"
#include "libshard/options.h"
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
};

class Connection {
 public:
  explicit Connection(std::unique_ptr<soci::session> session);
  ~Connection();
  soci::session& sql() { return *session_; }

  // The prepared statement cached under `key`, created by `make` on first
  // use. Keys name the statement and its table, e.g. "rec.get:users".
  template <typename T>
  T& Cached(const std::string& key, const std::function<std::unique_ptr<T>()>& make) {
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, make()).first;
    return static_cast<T&>(*it->second);
  }
  // Drops every cached statement (after an error left one in doubt).
  void ForgetStatements() { cache_.clear(); }
  size_t cached_count() const { return cache_.size(); }

  // State of the SQLite busy handler (see connection_pool.cc): how long a
  // statement may wait for a lock and when the current wait began.
  struct BusyWait {
    int timeout_ms = 0;
    std::chrono::steady_clock::time_point began{};
  };
  BusyWait& busy_wait() { return busy_; }

 private:
  BusyWait busy_;  // declared first: outlives the session that points at it
  std::unique_ptr<soci::session> session_;
  std::unordered_map<std::string, std::unique_ptr<Prepared>> cache_;
};

class ConnectionPool {
 public:
  ConnectionPool(DatabaseConfig db, const Options& options);
  ~ConnectionPool();

  class Lease {
   public:
    Lease() = default;
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> c)
        : pool_(pool), conn_(std::move(c)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&& other);
    ~Lease();
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }
    // Closes the connection instead of returning it to the pool (after a
    // connection error, or when its state is in doubt).
    void Discard();

   private:
    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<Connection> conn_;
  };

  // A connection, waiting up to connect_timeout for one to come free.
  Result<Lease> Acquire();

  const DatabaseConfig& db() const { return db_; }
  const Dialect& dialect() const { return dialect_; }
  const std::string& name() const { return db_.name; }

 private:
  Result<std::unique_ptr<Connection>> Connect();
  void Release(std::unique_ptr<Connection> c, bool discard);
  std::string SociConnectString() const;

  DatabaseConfig db_;
  Dialect dialect_;
  Options options_;

  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections handed out or idle
  std::chrono::steady_clock::time_point down_until_{};
  Status last_connect_error_;
};

// Runs `fn` in a write transaction on the leased connection; rolls back if
// `fn` returns an error or throws. SQLite uses BEGIN IMMEDIATE: it takes the
// write lock up front, so two writers never deadlock upgrading a read lock.
// Exceptions from SOCI are rethrown for the caller to classify.
Status InWriteTransaction(Connection& conn, const Dialect& dialect,
                          const std::function<Status()>& fn);

// Finishes a statement after its last fetch. SOCI leaves a SQLite statement
// un-reset after a single-row execute(true); an un-reset statement keeps
// its read snapshot open, so later reads on the same connection go stale
// and BEGIN IMMEDIATE fails with "database is locked". Always drain.
void Drain(soci::statement& st);

}  // namespace libshard::backend
