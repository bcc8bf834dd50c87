#include "cluster/connection_pool.h"

#include <soci/soci.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <thread>

#include "backend/errors.h"
#include "backend/statement_timeout.h"
#include "cluster/env.h"

namespace libshard::cluster {
namespace {

bool HasKey(const std::string& conn, const char* key) {
  std::string k = std::string(key) + "=";
  size_t pos = 0;
  while ((pos = conn.find(k, pos)) != std::string::npos) {
    if (pos == 0 || conn[pos - 1] == ' ' || conn[pos - 1] == '/') return true;
    ++pos;
  }
  return false;
}

void AddDefault(std::string* conn, const char* key, const std::string& value) {
  if (!HasKey(*conn, key)) *conn += std::string(" ") + key + "=" + value;
}

}  // namespace

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) {
  if (this != &other) {
    if (conn_) pool_->Release(std::move(conn_), false);
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
  }
  return *this;
}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_), false);
}

void ConnectionPool::Lease::Discard() {
  if (conn_) pool_->Release(std::move(conn_), true);
}

ConnectionPool::ConnectionPool(DatabaseConfig db, const Options& options, std::shared_ptr<Env> env)
    : db_(std::move(db)), dialect_(db_.backend), options_(options),
      env_(env ? std::move(env) : Env::Default()) {}

ConnectionPool::~ConnectionPool() = default;

std::string ConnectionPool::SociConnectString() const {
  std::string conn = db_.url;
  std::string timeout = std::to_string(options_.connect_timeout_seconds);
  switch (db_.backend) {
    case Backend::kSqlite:
      // SOCI's "timeout" is SQLite's busy timeout, in seconds.
      AddDefault(&conn, "timeout",
                 std::to_string((options_.sqlite_busy_timeout_ms + 999) / 1000));
      break;
    case Backend::kPostgres:
      AddDefault(&conn, "connect_timeout", timeout);
      break;
    case Backend::kMysql:
      AddDefault(&conn, "connect_timeout", timeout);
      AddDefault(&conn, "charset", "utf8mb4");
      break;
  }
  return conn;
}

Result<std::unique_ptr<Connection>> ConnectionPool::Connect() {
  try {
    std::shared_ptr<backend::SessionHooks> hooks;
    if (options_.statement_timeout_ms > 0 && db_.backend != Backend::kSqlite) {
      hooks = backend::MakeStatementTimeoutHooks(
          std::chrono::milliseconds(options_.statement_timeout_ms));
    }
    auto conn = std::make_unique<Connection>(env_->OpenSession(db_, SociConnectString(), hooks));
    soci::session& sql = conn->sql();
    switch (db_.backend) {
      case Backend::kSqlite:
        sql << "PRAGMA journal_mode=WAL";
        // Durability (options.h): NORMAL survives a process crash; FULL
        // syncs the WAL at every commit.
        sql << (options_.durability == Durability::kPowerLoss ? "PRAGMA synchronous=FULL"
                                                              : "PRAGMA synchronous=NORMAL");
        // Checkpoint (and fsync) every ~40 MB of WAL instead of every 4 MB:
        // the committing writer runs the checkpoint, so frequent ones stall
        // writes and backfills (shard-bench index_build and writers).
        sql << "PRAGMA wal_autocheckpoint=10000";
        break;
      case Backend::kMysql:
        // Under REPEATABLE READ, SELECT … FOR UPDATE of an absent key takes
        // a gap lock and two concurrent inserts deadlock; READ COMMITTED
        // turns that into a clean duplicate-key error we retry.
        sql << "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
        {
          long long max_packet = 0;
          sql << "SELECT @@max_allowed_packet", soci::into(max_packet);
          conn->set_max_packet_bytes(static_cast<size_t>(std::max(0LL, max_packet)));
        }
        break;
      case Backend::kPostgres:
        // libpq prints NOTICEs (e.g. "relation already exists, skipping")
        // to stderr by default; a library must not write to its host's
        // stderr, and warnings and errors still reach us as exceptions.
        sql << "SET client_min_messages TO WARNING";
        // Power-safe commits whatever the server's default (the test
        // servers run synchronous_commit=off).
        if (options_.durability == Durability::kPowerLoss) sql << "SET synchronous_commit TO on";
        break;
    }
    if (db_.backend == Backend::kSqlite) conn->ConfigureSqlite(options_.sqlite_busy_timeout_ms);
    return conn;
  } catch (const soci::soci_error& e) {
    Status s = backend::ToStatus(e, db_.name, "connect");
    // Any failure to open a session means the database is not usable.
    if (s.code() != Code::kUnavailable) s = Status::Unavailable(s.message());
    return s;
  } catch (const std::exception& e) {
    return Status::Unavailable("connect on database '" + db_.name + "': " + e.what());
  }
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = Clock::now() + std::chrono::seconds(options_.connect_timeout_seconds + 25);
  bool waited = false;  // counted once per Acquire, however often woken
  for (;;) {
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    if (Clock::now() < down_until_) return last_connect_error_;
    if (open_ < options_.pool_size) break;
    if (!waited) metrics_.RecordWait();
    waited = true;
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return Status::Unavailable("database '" + db_.name +
                                 "': no free connection (pool_size " +
                                 std::to_string(options_.pool_size) + ")");
    }
  }
  ++open_;
  lock.unlock();
  Result<std::unique_ptr<Connection>> c = Connect();
  lock.lock();
  if (!c.ok()) {
    --open_;
    last_connect_error_ = c.status();
    down_until_ = Clock::now() + std::chrono::milliseconds(options_.down_backoff_ms);
    freed_.notify_all();
    return c.status();
  }
  down_until_ = {};
  return Lease(this, std::move(c).value());
}

DatabaseMetrics ConnectionPool::Snapshot() {
  DatabaseMetrics out;
  out.database = db_.name;
  out.backend = BackendName(db_.backend);
  metrics_.Fill(&out);
  std::lock_guard<std::mutex> lock(mu_);
  out.pool_size = options_.pool_size;
  out.pool_open = open_;
  out.pool_in_use = open_ - static_cast<int>(idle_.size());
  return out;
}

void ConnectionPool::Release(std::unique_ptr<Connection> c, bool discard) {
  std::lock_guard<std::mutex> lock(mu_);
  if (discard || c->broken()) {
    --open_;
    c.reset();
  } else {
    idle_.push_back(std::move(c));
  }
  freed_.notify_one();
}

}  // namespace libshard::cluster
