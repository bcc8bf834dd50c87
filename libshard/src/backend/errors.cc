#include "backend/errors.h"

#include <soci/soci.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <cstring>

namespace libshard::backend {
namespace {

bool Contains(const char* haystack, const char* needle) {
  return std::strstr(haystack, needle) != nullptr;
}

ErrorKind ClassifyMysql(const soci::mysql_soci_error& e) {
  switch (e.err_num_) {
    case 1062: case 1586: return ErrorKind::kUniqueViolation;  // ER_DUP_ENTRY…
    case 1213: case 1205: return ErrorKind::kRetryable;  // deadlock, lock wait
    case 2002: case 2003: case 2005: case 2006: case 2013: case 2055:
    case 1040: case 1045: case 1049:  // too many conns, access denied, no db
      return ErrorKind::kConnection;
    default: return ErrorKind::kOther;
  }
}

ErrorKind ClassifyPostgres(const soci::postgresql_soci_error& e) {
  std::string state = e.sqlstate();
  if (state == "23505") return ErrorKind::kUniqueViolation;
  if (state == "40001" || state == "40P01" || state == "55P03") {
    return ErrorKind::kRetryable;
  }
  if (state.rfind("08", 0) == 0 || state == "57P01" || state == "3D000" ||
      state == "28000" || state == "28P01") {
    return ErrorKind::kConnection;
  }
  return ErrorKind::kOther;
}

}  // namespace

ErrorKind Classify(const soci::soci_error& e) {
  if (auto* m = dynamic_cast<const soci::mysql_soci_error*>(&e)) {
    ErrorKind k = ClassifyMysql(*m);
    if (k != ErrorKind::kOther) return k;
  }
  if (auto* p = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    ErrorKind k = ClassifyPostgres(*p);
    if (k != ErrorKind::kOther) return k;
  }
  if (auto* s = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    int code = s->result() & 0xff;
    if (code == 19 /* SQLITE_CONSTRAINT */) return ErrorKind::kUniqueViolation;
    if (code == 5 || code == 6 /* BUSY, LOCKED */) return ErrorKind::kRetryable;
    if (code == 14 /* CANTOPEN */) return ErrorKind::kConnection;
  }
  switch (e.get_error_category()) {
    case soci::soci_error::connection_error: return ErrorKind::kConnection;
    case soci::soci_error::constraint_violation: return ErrorKind::kUniqueViolation;
    default: break;
  }
  // Messages are the last resort: some paths (e.g. a PostgreSQL session
  // that failed to open, a SQLite file that cannot be opened) carry no code.
  const char* msg = e.what();
  if (Contains(msg, "Cannot establish connection") ||
      Contains(msg, "could not connect") || Contains(msg, "Connection refused") ||
      Contains(msg, "server closed the connection") ||
      Contains(msg, "no connection to the server") ||
      Contains(msg, "Can't connect") || Contains(msg, "gone away") ||
      Contains(msg, "Lost connection") || Contains(msg, "unable to open database")) {
    return ErrorKind::kConnection;
  }
  if (Contains(msg, "UNIQUE constraint failed") || Contains(msg, "Duplicate entry") ||
      Contains(msg, "duplicate key value")) {
    return ErrorKind::kUniqueViolation;
  }
  if (Contains(msg, "database is locked") || Contains(msg, "Deadlock found") ||
      Contains(msg, "deadlock detected")) {
    return ErrorKind::kRetryable;
  }
  return ErrorKind::kOther;
}

Status ToStatus(const soci::soci_error& e, std::string_view db,
                std::string_view what) {
  // SOCI sometimes appends the connection string to connect errors; keep
  // only the first line and strip anything after "while" that quotes it.
  std::string detail = e.what();
  if (auto nl = detail.find('\n'); nl != std::string::npos) detail.resize(nl);
  for (const char* marker : {"password=", "pass=", "pwd="}) {
    if (auto p = detail.find(marker); p != std::string::npos) {
      detail = detail.substr(0, p) + "<redacted>";
    }
  }
  std::string msg = std::string(what) + " on database '" + std::string(db) +
                    "': " + detail;
  switch (Classify(e)) {
    case ErrorKind::kConnection: return Status::Unavailable(msg);
    case ErrorKind::kUniqueViolation: return Status::UniqueViolation(msg);
    default: return Status::Internal(msg);
  }
}

}  // namespace libshard::backend
