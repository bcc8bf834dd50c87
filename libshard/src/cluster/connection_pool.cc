#include "backend/connection_pool.h"

#include <soci/soci.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <thread>

#include "backend/errors.h"

namespace libshard::backend {
namespace {

// Registering links the backends in: a missing backend fails at link time,
// not at run time through dlopen.
void RegisterBackendsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Debian's SQLite keeps memory statistics behind one process-wide
    // mutex taken on every malloc/free; shards queried in parallel fight
    // over it (shard-bench: batched puts 0.72 -> 1.2x of the sequential
    // baseline without it). Must precede the first connection; if the host
    // application initialized SQLite already, the call fails harmlessly.
    (void)sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    soci::register_factory_sqlite3();
    soci::register_factory_postgresql();
    soci::register_factory_mysql();
  });
}

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

// SQLite's own busy timeout sleeps 1, 2, 5, 10 … 100 ms between attempts,
// so a writer sleeps through the short gaps between another writer's
// transactions (an index backfill's chunks starved foreground puts to 4/s
// in shard-bench). This handler polls in steps of at most 200 µs, for the
// same total time.
int PollWhileBusy(void* arg, int attempt) {
  auto* wait = static_cast<Connection::BusyWait*>(arg);
  const auto now = std::chrono::steady_clock::now();
  if (attempt == 0) wait->began = now;
  if (now - wait->began >= std::chrono::milliseconds(wait->timeout_ms)) return 0;  // give up
  if (attempt < 8) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(attempt < 64 ? 50 : 200));
  }
  return 1;
}

void InstallBusyHandler(soci::session& sql, Connection::BusyWait* wait) {
  auto* backend = static_cast<soci::sqlite3_session_backend*>(sql.get_backend());
  sqlite_api::sqlite3_busy_handler(backend->conn_, PollWhileBusy, wait);
}

}  // namespace

Connection::Connection(std::unique_ptr<soci::session> session)
    : session_(std::move(session)) {}

// Statements must go before the session they were prepared on.
Connection::~Connection() { cache_.clear(); }

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

ConnectionPool::ConnectionPool(DatabaseConfig db, const Options& options)
    : db_(std::move(db)), dialect_(db_.backend), options_(options) {
  RegisterBackendsOnce();
}

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
    auto session = std::make_unique<soci::session>(SociConnectString());
    soci::session& sql = *session;
    switch (db_.backend) {
      case Backend::kSqlite:
        sql << "PRAGMA journal_mode=WAL";
        sql << "PRAGMA synchronous=NORMAL";
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
        break;
      case Backend::kPostgres:
        // libpq prints NOTICEs (e.g. "relation already exists, skipping")
        // to stderr by default; a library must not write to its host's
        // stderr, and warnings and errors still reach us as exceptions.
        sql << "SET client_min_messages TO WARNING";
        break;
    }
    auto conn = std::make_unique<Connection>(std::move(session));
    if (db_.backend == Backend::kSqlite) {
      conn->busy_wait().timeout_ms = options_.sqlite_busy_timeout_ms;
      InstallBusyHandler(conn->sql(), &conn->busy_wait());
    }
    return conn;
  } catch (const soci::soci_error& e) {
    Status s = ToStatus(e, db_.name, "connect");
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
  for (;;) {
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    if (Clock::now() < down_until_) return last_connect_error_;
    if (open_ < options_.pool_size) break;
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

void ConnectionPool::Release(std::unique_ptr<Connection> c, bool discard) {
  std::lock_guard<std::mutex> lock(mu_);
  if (discard) {
    --open_;
    c.reset();
  } else {
    idle_.push_back(std::move(c));
  }
  freed_.notify_one();
}

namespace {

// BEGIN IMMEDIATE / COMMIT / ROLLBACK prepared once per SQLite connection:
// a one-shot `sql << "COMMIT"` is parsed again on every write.
class SqliteTransactionStatements : public Prepared {
 public:
  explicit SqliteTransactionStatements(soci::session& sql)
      : begin_(sql.prepare << "BEGIN IMMEDIATE"),
        commit_(sql.prepare << "COMMIT"),
        rollback_(sql.prepare << "ROLLBACK") {}
  void Begin() { begin_.execute(true); }
  void Commit() { commit_.execute(true); }
  void Rollback() { rollback_.execute(true); }

 private:
  soci::statement begin_, commit_, rollback_;
};

}  // namespace

Status InWriteTransaction(Connection& conn, const Dialect& dialect,
                          const std::function<Status()>& fn) {
  soci::session& sql = conn.sql();
  SqliteTransactionStatements* sqlite = nullptr;
  if (dialect.backend() == Backend::kSqlite) {
    sqlite = &conn.Cached<SqliteTransactionStatements>(
        "tx", [&] { return std::make_unique<SqliteTransactionStatements>(sql); });
  }
  auto begin = [&] { sqlite ? sqlite->Begin() : sql.begin(); };
  auto commit = [&] { sqlite ? sqlite->Commit() : sql.commit(); };
  auto rollback = [&] { sqlite ? sqlite->Rollback() : sql.rollback(); };
  begin();
  Status result;
  try {
    result = fn();
  } catch (...) {
    try {
      rollback();
    } catch (...) {
      // The original error matters more; the caller discards the connection.
    }
    throw;
  }
  if (result.ok()) {
    commit();
  } else {
    rollback();
  }
  return result;
}

void Drain(soci::statement& st) {
  while (st.fetch()) {
  }
}

}  // namespace libshard::backend
