// Translation of SOCI exceptions into Status values. This is one of the few
// places that look inside backend-specific error classes (MySQL error
// numbers, PostgreSQL SQLSTATEs, SQLite extended result codes); the table
// of what maps where is pinned by tests/unit/errors_test.cc.
#pragma once

#include <string>
#include <string_view>

#include "libshard/status.h"

namespace soci {
class soci_error;
}

namespace libshard::backend {

enum class ErrorKind {
  kConnection,       // the database is unreachable or the link broke
  kUniqueViolation,  // a primary key or unique index refused a row
  kRetryable,        // deadlock / serialization failure / busy database
  kLockTimeout,      // a lock wait hit the statement's lock timeout
  kTooLarge,         // a value or packet exceeds what the database accepts
  kCorruption,       // the database file is damaged or not a database
  kOther,
};

const char* ErrorKindName(ErrorKind kind);

// Part of every message ToStatus makes for ErrorKind::kLockTimeout (a
// Status has no sub-code; callers that must tell a lock timeout from other
// kUnavailable errors look for this).
inline constexpr const char* kLockTimeoutText = "(lock timeout)";

ErrorKind Classify(const soci::soci_error& e);

// The error's own message, safe to show: the first line only, without the
// context SOCI appends ("while executing … with :body=…" quotes bound
// values) and with anything that looks like a password cut off.
std::string SafeDetail(const soci::soci_error& e);
std::string SafeDetail(std::string_view message);

// Status for a failed operation on database `db` ("s1"). Connection errors
// become kUnavailable, unique violations kUniqueViolation, too-large values
// kInvalidArgument, damaged files kCorruption, the rest kInternal. The
// message names the operation and the database, never a bound value or a
// connection string.
Status ToStatus(const soci::soci_error& e, std::string_view db, std::string_view what);

}  // namespace libshard::backend
