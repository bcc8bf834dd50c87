// Error classification (backend/errors.h): a table of real SOCI exception
// types and codes per backend, and real SQLite failures provoked on a
// scratch database, mapped to the kind the retry logic and the Status codes
// depend on. Only UNIQUE / PRIMARY KEY failures may become unique violations.
#include <doctest/doctest.h>
#include <soci/soci.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <string>

#include "backend/errors.h"
#include "cluster/cluster.h"
#include "cluster/connection_pool.h"
#include "support/test_cluster.h"

using libshard::Code;
using libshard::backend::Classify;
using libshard::backend::ErrorKind;
using libshard::backend::ErrorKindName;
using libshard::backend::ToStatus;

namespace doctest {
template <>
struct StringMaker<ErrorKind> {
  static String convert(ErrorKind k) { return ErrorKindName(k); }
};
}  // namespace doctest

TEST_CASE("errors: SQLite extended result codes") {
  struct Row {
    int code;
    const char* what;
    ErrorKind kind;
  };
  const Row rows[] = {
      {2067, "SQLITE_CONSTRAINT_UNIQUE", ErrorKind::kUniqueViolation},
      {1555, "SQLITE_CONSTRAINT_PRIMARYKEY", ErrorKind::kUniqueViolation},
      {1299, "SQLITE_CONSTRAINT_NOTNULL", ErrorKind::kOther},
      {275, "SQLITE_CONSTRAINT_CHECK", ErrorKind::kOther},
      {787, "SQLITE_CONSTRAINT_FOREIGNKEY", ErrorKind::kOther},
      {19, "SQLITE_CONSTRAINT (no detail)", ErrorKind::kOther},
      {5, "SQLITE_BUSY after the busy handler", ErrorKind::kLockTimeout},
      {517, "SQLITE_BUSY_SNAPSHOT", ErrorKind::kRetryable},
      {261, "SQLITE_BUSY_RECOVERY", ErrorKind::kRetryable},
      {6, "SQLITE_LOCKED", ErrorKind::kRetryable},
      {14, "SQLITE_CANTOPEN", ErrorKind::kConnection},
      {18, "SQLITE_TOOBIG", ErrorKind::kTooLarge},
      {11, "SQLITE_CORRUPT", ErrorKind::kCorruption},
      {26, "SQLITE_NOTADB", ErrorKind::kCorruption},
      {1, "SQLITE_ERROR", ErrorKind::kOther},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    CHECK(Classify(soci::sqlite3_soci_error("x", r.code)) == r.kind);
  }
}

TEST_CASE("errors: PostgreSQL SQLSTATEs") {
  struct Row {
    const char* state;
    ErrorKind kind;
  };
  const Row rows[] = {
      {"23505", ErrorKind::kUniqueViolation},  // unique_violation
      {"23502", ErrorKind::kOther},            // not_null_violation
      {"23514", ErrorKind::kOther},            // check_violation
      {"40001", ErrorKind::kRetryable},        // serialization_failure
      {"40P01", ErrorKind::kRetryable},        // deadlock_detected
      {"55P03", ErrorKind::kLockTimeout},      // lock_not_available (lock_timeout)
      {"57014", ErrorKind::kConnection},       // query_canceled (statement_timeout)
      {"08006", ErrorKind::kConnection},       // connection_failure
      {"57P01", ErrorKind::kConnection},       // admin_shutdown
      {"28P01", ErrorKind::kConnection},       // invalid_password
      {"54000", ErrorKind::kTooLarge},         // program_limit_exceeded
      {"XX001", ErrorKind::kCorruption},       // data_corrupted
      {"42P01", ErrorKind::kOther},            // undefined_table
  };
  for (const Row& r : rows) {
    const std::string state = r.state;
    CAPTURE(state);
    CHECK(Classify(soci::postgresql_soci_error("x", r.state)) == r.kind);
  }
}

TEST_CASE("errors: MariaDB error numbers") {
  struct Row {
    int code;
    ErrorKind kind;
  };
  const Row rows[] = {
      {1062, ErrorKind::kUniqueViolation},  // ER_DUP_ENTRY
      {1048, ErrorKind::kOther},            // ER_BAD_NULL_ERROR
      {1213, ErrorKind::kRetryable},        // ER_LOCK_DEADLOCK
      {1205, ErrorKind::kLockTimeout},      // ER_LOCK_WAIT_TIMEOUT
      {1153, ErrorKind::kTooLarge},         // ER_NET_PACKET_TOO_LARGE
      {2006, ErrorKind::kConnection},       // CR_SERVER_GONE_ERROR
      {2013, ErrorKind::kConnection},       // CR_SERVER_LOST
      {1146, ErrorKind::kOther},            // ER_NO_SUCH_TABLE
  };
  for (const Row& r : rows) {
    CAPTURE(r.code);
    CHECK(Classify(soci::mysql_soci_error("x", r.code)) == r.kind);
  }
}

TEST_CASE("errors: Status codes and messages") {
  CHECK(ToStatus(soci::sqlite3_soci_error("x", 2067), "s1", "put").code() ==
        Code::kUniqueViolation);
  CHECK(ToStatus(soci::mysql_soci_error("x", 1153), "s1", "put").code() ==
        Code::kInvalidArgument);
  CHECK(ToStatus(soci::postgresql_soci_error("x", "08006"), "s1", "put").code() ==
        Code::kUnavailable);
  CHECK(ToStatus(soci::postgresql_soci_error("x", "55P03"), "s1", "put").code() ==
        Code::kUnavailable);
  CHECK(ToStatus(soci::sqlite3_soci_error("x", 1299), "s1", "put").code() == Code::kInternal);
  // Server messages that quote values lose them.
  libshard::Status dup = ToStatus(
      soci::mysql_soci_error("Duplicate entry 'ada@example.com' for key 'k'", 1062), "s1", "put");
  CHECK(dup.message().find("ada@") == std::string::npos);
  CHECK(dup.message().find("for key 'k'") != std::string::npos);
  libshard::Status detail = ToStatus(
      soci::postgresql_soci_error("ERROR:  duplicate key value violates unique constraint \"u\"\n"
                                  "DETAIL:  Key (email)=(ada@example.com) already exists.\n",
                                  "23505"),
      "s1", "put");
  CHECK(detail.message().find("ada@") == std::string::npos);
  CHECK(detail.message().find("unique constraint") != std::string::npos);
  libshard::Status s = ToStatus(soci::soci_error("no route password=hunter2 host=x"), "s1", "get");
  CHECK(s.message().find("hunter2") == std::string::npos);
  CHECK(s.message().find("get on database 's1'") == 0);
}

// Real failures from SQLite itself, through a pool connection (which turns
// on extended result codes), classified and never echoing bound values.
TEST_CASE("errors: real SQLite constraint failures are told apart") {
  const std::string dir = libshard::testing::MakeTempDir("errors");
  libshard::DatabaseConfig db;
  db.name = "scratch";
  db.backend = libshard::Backend::kSqlite;
  db.url = "sqlite3://db=" + dir + "/scratch.db";
  libshard::cluster::ConnectionPool pool(db, libshard::Options{});
  auto lease = pool.Acquire();
  REQUIRE(lease.ok());
  soci::session& sql = (*lease)->sql();
  sql << "CREATE TABLE t (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL, "
         "n INTEGER CHECK (n > 0))";
  sql << "INSERT INTO t VALUES ('SECRET-ID', 'SECRET@X', 'A', 1)";
  auto kind_of = [&](const std::string& stmt, const std::string& bound) {
    try {
      std::string v = bound;
      sql << stmt, soci::use(v);
    } catch (const soci::soci_error& e) {
      libshard::Status st = ToStatus(e, "scratch", "insert");
      CHECK_MESSAGE(st.message().find(bound) == std::string::npos, st.message());
      return Classify(e);
    }
    FAIL("statement did not fail: " << stmt);
    return ErrorKind::kOther;
  };
  CHECK(kind_of("INSERT INTO t VALUES (:v, 'b@x', 'B', 1)", "SECRET-ID") == ErrorKind::kUniqueViolation);
  CHECK(kind_of("INSERT INTO t VALUES ('c', :v, 'C', 1)", "SECRET@X") == ErrorKind::kUniqueViolation);
  CHECK(kind_of("INSERT INTO t VALUES (:v, 'd@x', NULL, 1)", "TOPSECRET-1") == ErrorKind::kOther);
  CHECK(kind_of("INSERT INTO t VALUES (:v, 'e@x', 'E', 0)", "TOPSECRET-2") == ErrorKind::kOther);
}

TEST_CASE("errors: records are named by a short, escaped prefix of their id") {
  CHECK(libshard::DescribeRecord("users", "ada") == "users/ada");
  CHECK(libshard::DescribeRecord("users", std::string("\x01\x02", 2)) == "users/0x0102");
  const std::string long_id = std::string(64, 'a') + "SECRET-TAIL";
  const std::string shown = libshard::DescribeRecord("users", long_id);
  CHECK(shown.find("SECRET") == std::string::npos);
  CHECK(shown.find("(75-byte id)") != std::string::npos);
  CHECK(shown.rfind("users/" + std::string(64, 'a'), 0) == 0);
}
