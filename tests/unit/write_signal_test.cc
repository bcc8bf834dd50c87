// WriteSignal (backend/write_signal.h): the SQLite busy handler of a writer
// waiting for a file's write lock is woken when another connection of the
// process ends its write transaction, instead of sleeping past it.
#include <doctest/doctest.h>
#include <soci/soci.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "backend/connection.h"
#include "backend/write_signal.h"
#include "cluster/connection_pool.h"
#include "support/test_cluster.h"

using libshard::backend::WriteSignal;

TEST_CASE("write signal: one per file, shared, and gone with its last user") {
  auto a = WriteSignal::For("/tmp/ls-write-signal-a.db");
  auto a2 = WriteSignal::For("/tmp/ls-write-signal-a.db");
  auto b = WriteSignal::For("/tmp/ls-write-signal-b.db");
  CHECK(a.get() == a2.get());
  CHECK(a.get() != b.get());
  a->Released();
  CHECK(a2->generation() == 1);
  CHECK(b->generation() == 0);
  a.reset();
  a2.reset();
  CHECK(WriteSignal::For("/tmp/ls-write-signal-a.db")->generation() == 0);  // a new one
}

TEST_CASE("write signal: a release since the waiter's transaction began is not missed") {
  auto s = WriteSignal::For("/tmp/ls-write-signal-c.db");
  const uint64_t seen = s->generation();
  CHECK_FALSE(s->WaitFor(seen, std::chrono::microseconds(100)));  // nothing released: times out
  s->Released();
  CHECK(s->WaitFor(seen, std::chrono::hours(1)));  // returns at once, not after an hour
}

TEST_CASE("write signal: a waiting thread is woken by the release") {
  auto s = WriteSignal::For("/tmp/ls-write-signal-d.db");
  const uint64_t seen = s->generation();
  std::atomic<bool> woken{false};
  // An hour: if Released() did not wake it, the test would hang, not pass.
  std::thread waiter([&] { woken = s->WaitFor(seen, std::chrono::hours(1)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it block (not required)
  s->Released();
  waiter.join();
  CHECK(woken.load());
}

// Two connections of one pool to one SQLite file: they share the signal,
// every write transaction's end (COMMIT or ROLLBACK) bumps it, and a writer
// that found the lock taken gets it after the holder commits.
TEST_CASE("write signal: SQLite write transactions signal their end to the file's waiters") {
  const std::string dir = libshard::testing::MakeTempDir("write-signal");
  libshard::DatabaseConfig db;
  db.name = "scratch";
  db.backend = libshard::Backend::kSqlite;
  db.url = "sqlite3://db=" + dir + "/scratch.db";
  libshard::cluster::ConnectionPool pool(db, libshard::Options{});
  auto first = pool.Acquire();
  auto second = pool.Acquire();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  auto signal = (*first)->busy_wait().signal;
  REQUIRE(signal != nullptr);
  CHECK(signal.get() == (*second)->busy_wait().signal.get());
  (*first)->sql() << "CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT NOT NULL)";

  const uint64_t g0 = signal->generation();
  libshard::Status ok = libshard::backend::InWriteTransaction(**first, pool.dialect(), [&] {
    (*first)->sql() << "INSERT INTO t VALUES (1, 'first')";
    return libshard::Status::OK();
  });
  REQUIRE(ok.ok());
  CHECK(signal->generation() == g0 + 1);  // COMMIT
  libshard::Status refused = libshard::backend::InWriteTransaction(**first, pool.dialect(), [&] {
    (*first)->sql() << "INSERT INTO t VALUES (2, 'rolled back')";
    return libshard::Status::InvalidArgument("no");
  });
  CHECK_FALSE(refused.ok());
  CHECK(signal->generation() == g0 + 2);  // ROLLBACK

  // The first connection holds the write lock while the second tries to
  // write; the second waits in the busy handler and writes after the commit.
  std::atomic<bool> holding{false}, second_done{false};
  libshard::Status second_status;
  std::thread other;
  libshard::Status held = libshard::backend::InWriteTransaction(**first, pool.dialect(), [&] {
    (*first)->sql() << "INSERT INTO t VALUES (3, 'first')";
    holding = true;
    other = std::thread([&] {
      second_status = libshard::backend::InWriteTransaction(**second, pool.dialect(), [&] {
        (*second)->sql() << "INSERT INTO t VALUES (4, 'second')";
        return libshard::Status::OK();
      });
      second_done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK_FALSE(second_done.load());  // it cannot have written: the lock is held
    return libshard::Status::OK();
  });
  other.join();
  CHECK(held.ok());
  CHECK(second_status.ok());
  int rows = 0;
  (*first)->sql() << "SELECT count(*) FROM t", soci::into(rows);
  CHECK(rows == 3);
}
