// ConnectionPool: a bounded set of connections (backend/connection.h) to
// one database, opened through the cluster's Env.
//
// Connections are opened lazily, so a database that is down costs nothing
// until a call routes to it; then the call fails with kUnavailable within
// Options::connect_timeout_seconds, and further calls fail fast for
// Options::down_backoff_ms instead of queueing behind the same timeout.
// A connection whose state is in doubt (Connection::MarkBroken, or a
// caller's Lease::Discard) is closed, never handed out again.
//
// Thread-safety: Acquire() may be called from any thread; a Lease (and the
// Connection it holds) belongs to one thread until it is released.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/connection.h"
#include "backend/dialect.h"
#include "cluster/db_metrics.h"
#include "libshard/config.h"
#include "libshard/options.h"
#include "libshard/status.h"

namespace libshard::cluster {

class Env;
using backend::Connection;

class ConnectionPool {
 public:
  // `env` null: Env::Default().
  ConnectionPool(DatabaseConfig db, const Options& options, std::shared_ptr<Env> env = nullptr);
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
  const backend::Dialect& dialect() const { return dialect_; }
  const std::string& name() const { return db_.name; }

  // Counters of this database (fed by Cluster::WithConnection and Acquire).
  DbMetrics& metrics() { return metrics_; }
  // Counters plus pool_size/open/in_use now (takes the pool's mutex).
  DatabaseMetrics Snapshot();

 private:
  Result<std::unique_ptr<Connection>> Connect();
  void Release(std::unique_ptr<Connection> c, bool discard);
  std::string SociConnectString() const;

  DatabaseConfig db_;
  backend::Dialect dialect_;
  Options options_;
  std::shared_ptr<Env> env_;

  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections handed out or idle
  std::chrono::steady_clock::time_point down_until_{};
  Status last_connect_error_;
  DbMetrics metrics_;
};

}  // namespace libshard::cluster
