// Translation of SOCI exceptions into Status values. This is one of the few
// places that look inside backend-specific error classes (MySQL error
// numbers, PostgreSQL SQLSTATEs, SQLite result codes).
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
  kRetryable,        // deadlock / serialization failure / lock timeout
  kOther,
};

ErrorKind Classify(const soci::soci_error& e);

// Status for a failed operation on database `db` ("s1"). Connection errors
// become kUnavailable; the message never contains a connection string.
Status ToStatus(const soci::soci_error& e, std::string_view db,
                std::string_view what);

}  // namespace libshard::backend
