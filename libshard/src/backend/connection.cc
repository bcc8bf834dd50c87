#include "backend/connection.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <string>
#include <thread>

#include "backend/errors.h"
#include "backend/sqlite_statement.h"

namespace libshard::backend {
namespace {

// SQLite's own busy timeout sleeps 1, 2, 5, 10 … 100 ms between attempts,
// so a writer sleeps through the short gaps between another writer's
// transactions (an index backfill's chunks starved foreground puts to 4/s
// in shard-bench). This handler waits at most 50 µs (200 µs after 64
// attempts) between attempts, for the same total time, and is woken at once
// when a connection of this process ends a write transaction on the same
// file (WriteSignal): a sleep of 50 µs (more with the kernel's timer
// slack) is twice a put's hold of the lock or more; with 2 threads on one
// shard the wait per put fell from 21 to 14 µs (bench/WRITERS.md).
int PollWhileBusy(void* arg, int attempt) {
  auto* wait = static_cast<Connection::BusyWait*>(arg);
  const auto now = std::chrono::steady_clock::now();
  if (attempt == 0) wait->began = now;
  if (now - wait->began >= std::chrono::milliseconds(wait->timeout_ms)) return 0;  // give up
  const auto step = std::chrono::microseconds(attempt < 64 ? 50 : 200);
  if (wait->signal) {
    wait->signal->WaitFor(wait->seen, step);
    wait->seen = wait->signal->generation();  // the next wait is for the next release
  } else if (attempt < 8) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(step);
  }
  return 1;
}

// BEGIN IMMEDIATE / COMMIT / ROLLBACK prepared once per SQLite connection
// (a one-shot `sql << "COMMIT"` is parsed again on every write), natively
// (backend/sqlite_statement.h: SOCI's statement layer costs more than the
// statement itself).
class SqliteTransactionStatements : public Prepared {
 public:
  explicit SqliteTransactionStatements(soci::session& sql)
      : begin_(sql, "BEGIN IMMEDIATE"), commit_(sql, "COMMIT"), rollback_(sql, "ROLLBACK") {}
  void Begin() { Run(begin_); }
  void Commit() { Run(commit_); }
  void Rollback() { Run(rollback_); }

 private:
  static void Run(SqliteStatement& st) {
    SqliteStatement::Reader reader(st);
    st.Execute();
  }
  SqliteStatement begin_, commit_, rollback_;
};

}  // namespace

Connection::Connection(Session session) : session_(std::move(session)) {}

// Statements must go before the session they were prepared on.
Connection::~Connection() {
  for (auto& [key, statement] : cache_) statement->ConnectionClosing();
  cache_.clear();
}

void Connection::ConfigureSqlite(int busy_timeout_ms) {
  busy_.timeout_ms = busy_default_ms_ = busy_timeout_ms;
  auto* db = static_cast<sqlite_api::sqlite3*>(NativeSqliteHandle(sql()));
  // The file's path, as SQLite resolved it: every connection of this
  // process to the file shares one signal ("" for an in-memory database).
  const char* path = sqlite_api::sqlite3_db_filename(db, "main");
  if (path != nullptr && *path != '\0') busy_.signal = WriteSignal::For(path);
  sqlite_api::sqlite3_busy_handler(db, PollWhileBusy, &busy_);
  sqlite_api::sqlite3_extended_result_codes(db, 1);
}

size_t MysqlEscapedSize(std::string_view value) {
  size_t n = value.size() + 2;  // the quotes
  for (char c : value) {
    switch (c) {
      case '\0': case '\'': case '"': case '\\': case '\n': case '\r': case '\x1a': ++n; break;
      default: break;
    }
  }
  return n;
}

void Connection::SetLockTimeout(Backend backend, int timeout_ms) {
  switch (backend) {
    case Backend::kSqlite:
      busy_.timeout_ms = timeout_ms > 0 ? timeout_ms : busy_default_ms_;
      break;
    case Backend::kPostgres:
      // An integer we made, not input: safe to splice.
      sql() << (timeout_ms > 0 ? "SET lock_timeout = " + std::to_string(timeout_ms)
                               : std::string("SET lock_timeout TO DEFAULT"));
      break;
    case Backend::kMysql:
      sql() << (timeout_ms > 0 ? "SET SESSION innodb_lock_wait_timeout = " +
                                     std::to_string((timeout_ms + 999) / 1000)
                               : std::string("SET SESSION innodb_lock_wait_timeout = DEFAULT"));
      break;
  }
}

Status InWriteTransaction(Connection& conn, const Dialect& dialect,
                          const std::function<Status()>& fn) {
  soci::session& sql = conn.sql();
  SqliteTransactionStatements* sqlite = nullptr;
  if (dialect.backend() == Backend::kSqlite) {
    sqlite = &conn.Cached<SqliteTransactionStatements>(
        "tx", [&] { return std::make_unique<SqliteTransactionStatements>(sql); });
  }
  // SQLite: whatever the outcome, the transaction's end releases the
  // file's write lock; wake this process's writers waiting for it.
  WriteSignal* signal = sqlite ? conn.busy_wait().signal.get() : nullptr;
  struct SignalAtEnd {
    WriteSignal* signal;
    ~SignalAtEnd() {
      if (signal != nullptr) signal->Released();
    }
  };
  auto begin = [&] {
    if (signal != nullptr) conn.busy_wait().seen = signal->generation();
    sqlite ? sqlite->Begin() : sql.begin();
  };
  auto commit = [&] {
    SignalAtEnd end{signal};
    sqlite ? sqlite->Commit() : sql.commit();
  };
  auto rollback = [&] {
    SignalAtEnd end{signal};
    try {
      sqlite ? sqlite->Rollback() : sql.rollback();
    } catch (...) {
      // A connection whose ROLLBACK failed may still hold the transaction
      // (and its locks): it must never serve another caller.
      conn.MarkBroken();
      throw;
    }
  };
  begin();
  Status result;
  try {
    result = fn();
  } catch (...) {
    try {
      rollback();
    } catch (...) {
      // The original error matters more; the connection is marked broken.
    }
    throw;
  }
  if (!result.ok()) {
    rollback();
    return result;
  }
  try {
    commit();
  } catch (const soci::soci_error& e) {
    if (Classify(e) != ErrorKind::kConnection) {
      // The database answered: the transaction did not commit. End it on
      // our side too (PostgreSQL and MariaDB have already rolled back).
      try {
        rollback();
      } catch (...) {
      }
      throw;
    }
    conn.MarkBroken();
    throw CommitOutcomeUnknown{SafeDetail(e)};
  }
  return result;
}

void Drain(soci::statement& st) {
  while (st.fetch()) {
  }
}

}  // namespace libshard::backend
