#include "backend/errors.h"

#include <soci/soci.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <cstring>

namespace libshard::backend {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

ErrorKind ClassifyMysql(const soci::mysql_soci_error& e) {
  switch (e.err_num_) {
    case 1062: case 1586: case 1169:  // ER_DUP_ENTRY, …WITH_KEY_NAME, DUP_UNIQUE
      return ErrorKind::kUniqueViolation;
    case 1213: return ErrorKind::kRetryable;    // ER_LOCK_DEADLOCK
    case 1205: return ErrorKind::kLockTimeout;  // ER_LOCK_WAIT_TIMEOUT (also NOWAIT)
    case 3572: return ErrorKind::kLockTimeout;  // ER_LOCK_NOWAIT (MySQL 8)
    case 1153: case 1301: case 1406:            // packet too large, result too large, data too long
      return ErrorKind::kTooLarge;
    case 2002: case 2003: case 2005: case 2006: case 2013: case 2055:
    case 1040: case 1045: case 1049: case 1927:  // too many conns, access denied, no db, killed
    // A prepared statement (backend/mysql_statement.h) the client library
    // closed when it reconnected (CR_STMT_CLOSED), or one the server does
    // not know (ER_UNKNOWN_STMT_HANDLER): only a new connection, which
    // prepares it again, can run it.
    case 2056: case 1243:
      return ErrorKind::kConnection;
    default: return ErrorKind::kOther;
  }
}

ErrorKind ClassifyPostgres(const soci::postgresql_soci_error& e) {
  std::string state = e.sqlstate();
  if (state == "23505") return ErrorKind::kUniqueViolation;
  if (state == "40001" || state == "40P01") return ErrorKind::kRetryable;
  if (state == "55P03") return ErrorKind::kLockTimeout;  // lock_not_available
  if (state == "54000" || state == "22001") return ErrorKind::kTooLarge;
  if (state == "57014") return ErrorKind::kConnection;  // statement timeout: the server is stuck
  if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" ||
      state == "3D000" || state == "28000" || state == "28P01" || state == "53300") {
    return ErrorKind::kConnection;
  }
  if (state == "XX001" || state == "XX002") return ErrorKind::kCorruption;
  return ErrorKind::kOther;
}

// SQLite: extended result codes are on for every connection
// (Connection::ConfigureSqlite), so a constraint failure says which one.
ErrorKind ClassifySqlite(int result) {
  switch (result) {
    case 2067: /* SQLITE_CONSTRAINT_UNIQUE */
    case 1555: /* SQLITE_CONSTRAINT_PRIMARYKEY */
      return ErrorKind::kUniqueViolation;
    default: break;
  }
  switch (result) {
    // BUSY after the busy handler gave up: a lock wait timed out. Its
    // extended forms (BUSY_RECOVERY, BUSY_SNAPSHOT) return at once and are
    // worth retrying.
    case 5: return ErrorKind::kLockTimeout;
    case 261: case 517: return ErrorKind::kRetryable;
    default: break;
  }
  switch (result & 0xff) {
    case 5: case 6: return ErrorKind::kRetryable;  // other BUSY forms, LOCKED
    case 14: return ErrorKind::kConnection;         // CANTOPEN
    case 18: return ErrorKind::kTooLarge;           // TOOBIG
    case 11: case 26: return ErrorKind::kCorruption;  // CORRUPT, NOTADB
    default: return ErrorKind::kOther;  // incl. NOT NULL, CHECK, FOREIGN KEY (19 + extended)
  }
}

}  // namespace

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnection: return "connection";
    case ErrorKind::kUniqueViolation: return "unique violation";
    case ErrorKind::kRetryable: return "retryable";
    case ErrorKind::kLockTimeout: return "lock timeout";
    case ErrorKind::kTooLarge: return "too large";
    case ErrorKind::kCorruption: return "corruption";
    case ErrorKind::kOther: return "other";
  }
  return "?";
}

ErrorKind Classify(const soci::soci_error& e) {
  // A backend's own code is authoritative; SOCI's generic category is not
  // (it files every SQLSTATE class 23 — NOT NULL, CHECK… — as a
  // "constraint violation"). Errors without a code fall through.
  bool coded = false;
  if (auto* m = dynamic_cast<const soci::mysql_soci_error*>(&e)) {
    ErrorKind k = ClassifyMysql(*m);
    if (k != ErrorKind::kOther) return k;
    coded = m->err_num_ != 0;
  }
  if (auto* p = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    ErrorKind k = ClassifyPostgres(*p);
    if (k != ErrorKind::kOther) return k;
    coded = !p->sqlstate().empty();
  }
  if (auto* s = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    // A result code is authoritative; 0 means the error came from SOCI
    // itself (e.g. opening the file) and only the message can tell.
    if (s->result() != 0) return ClassifySqlite(s->result());
  }
  switch (e.get_error_category()) {
    case soci::soci_error::connection_error: return ErrorKind::kConnection;
    case soci::soci_error::constraint_violation:
      if (!coded) return ErrorKind::kUniqueViolation;
      break;
    default: break;
  }
  // Messages are the last resort: some paths (e.g. a PostgreSQL session
  // that failed to open, a SQLite file that cannot be opened) carry no code.
  std::string_view msg = e.what();
  for (const char* m : {"Cannot establish connection", "could not connect", "Connection refused",
                        "server closed the connection", "no connection to the server",
                        "Can't connect", "gone away", "Lost connection",
                        "unable to open database"}) {
    if (Contains(msg, m)) return ErrorKind::kConnection;
  }
  if (coded) return ErrorKind::kOther;  // the code said what it is not
  for (const char* m : {"UNIQUE constraint failed", "Duplicate entry", "duplicate key value"}) {
    if (Contains(msg, m)) return ErrorKind::kUniqueViolation;
  }
  for (const char* m : {"database is locked", "Deadlock found", "deadlock detected"}) {
    if (Contains(msg, m)) return ErrorKind::kRetryable;
  }
  return ErrorKind::kOther;
}

std::string SafeDetail(std::string_view message) {
  // Lines joined: libpq's reason for a failed connect is on the second.
  std::string detail;
  for (size_t start = 0; start < message.size();) {
    size_t nl = message.find('\n', start);
    std::string_view line = message.substr(start, nl == std::string_view::npos ? nl : nl - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    // PostgreSQL's DETAIL quotes the row ("Key (email)=(ada@…) already
    // exists"); CONTEXT and QUERY may quote statement text.
    const bool quotes_values = line.rfind("DETAIL:", 0) == 0 || line.rfind("CONTEXT:", 0) == 0 ||
                               line.rfind("QUERY:", 0) == 0;
    if (!line.empty() && !quotes_values) detail += (detail.empty() ? "" : " ") + std::string(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  // MariaDB quotes the value in some errors: "Duplicate entry 'ada@…' for
  // key 'k'", "Incorrect string value: '\xF0…' for column 'c'".
  for (const auto& [open, close] : {std::pair{"entry '", "' for key"},
                                    std::pair{"value: '", "' for column"}}) {
    size_t a = detail.find(open);
    size_t b = a == std::string::npos ? a : detail.find(close, a + std::strlen(open));
    if (b != std::string::npos) {
      const size_t from = a + std::strlen(open);
      detail.replace(from, b - from, "…");
    }
  }
  // SOCI's context quotes the statement and its bound values.
  for (const char* context : {" while executing \"", " while preparing \"", " while fetching",
                              " with :"}) {
    if (auto p = detail.find(context); p != std::string::npos) detail.resize(p);
  }
  for (const char* marker : {"password=", "pass=", "pwd="}) {
    if (auto p = detail.find(marker); p != std::string::npos) {
      detail = detail.substr(0, p) + "<redacted>";
    }
  }
  constexpr size_t kMaxDetail = 400;  // a server may quote the value it refused
  if (detail.size() > kMaxDetail) detail = detail.substr(0, kMaxDetail) + "…";
  return detail;
}

std::string SafeDetail(const soci::soci_error& e) { return SafeDetail(e.get_error_message()); }

Status ToStatus(const soci::soci_error& e, std::string_view db, std::string_view what) {
  std::string msg = std::string(what) + " on database '" + std::string(db) + "': ";
  ErrorKind kind = Classify(e);
  switch (kind) {
    case ErrorKind::kConnection: return Status::Unavailable(msg + SafeDetail(e));
    case ErrorKind::kUniqueViolation: return Status::UniqueViolation(msg + SafeDetail(e));
    case ErrorKind::kLockTimeout:
      return Status::Unavailable(msg + "gave up waiting for a lock held by another write " +
                                 kLockTimeoutText + ": " + SafeDetail(e));
    case ErrorKind::kTooLarge:
      return Status::InvalidArgument(msg + "a value is larger than the database accepts: " +
                                     SafeDetail(e));
    case ErrorKind::kCorruption: return Status::Corruption(msg + SafeDetail(e));
    case ErrorKind::kRetryable:
    case ErrorKind::kOther: break;
  }
  return Status::Internal(msg + SafeDetail(e));
}

}  // namespace libshard::backend
