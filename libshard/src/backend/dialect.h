// Dialect: the few places where SQLite, PostgreSQL and MariaDB differ.
//
// The important one is binary data. SQLite binds std::string as TEXT, so
// every bytes parameter goes through CAST(:x AS BLOB) to compare and store
// as a BLOB. PostgreSQL silently cuts a std::string bound to BYTEA at the
// first NUL byte, so bytes travel as hex: decode(:x,'hex') in,
// encode(col,'hex') out. MariaDB round-trips std::string into VARBINARY /
// LONGBLOB byte-exact.
#pragma once

#include <string>
#include <string_view>

#include "libshard/config.h"

namespace libshard::backend {

class Dialect {
 public:
  explicit Dialect(Backend backend) : backend_(backend) {}
  Backend backend() const { return backend_; }

  // SQL for a bytes-valued bind parameter named `name` (without colon).
  std::string BytesParam(std::string_view name) const;
  // SQL selecting bytes-valued column `column`.
  std::string BytesColumn(std::string_view column) const;
  // Converts bytes to the bound form / a fetched value back to bytes.
  // Identity except on PostgreSQL (hex).
  std::string EncodeBytes(std::string_view bytes) const;
  bool DecodeBytes(std::string_view fetched, std::string* out) const;
  bool hex_bytes() const { return backend_ == Backend::kPostgres; }

  // Column types.
  const char* KeyBytesType() const;   // IDs and index keys (indexable)
  const char* BodyBytesType() const;  // record bodies (up to many MiB)
  const char* BigIntType() const { return "BIGINT"; }
  const char* TextType() const;       // short indexed text
  const char* LongTextType() const;   // unbounded text

  // Suffix locking selected rows until commit ("" on SQLite, whose write
  // transaction already excludes other writers).
  const char* ForUpdate() const;
  // Suffix taking a shared lock on selected rows until commit (writers of
  // a bucket share its ownership row; a move takes it exclusively).
  const char* ForShare() const;
  // Appended to a locking suffix: fail at once instead of waiting for the
  // lock (PostgreSQL 55P03, MariaDB 1205: both classify as kLockTimeout).
  const char* NoWait() const { return backend_ == Backend::kSqlite ? "" : " NOWAIT"; }
  // "<InsertIgnore()> t (…) VALUES (…)<OnConflictIgnore()>": an insert
  // that leaves an existing row with the same key alone.
  const char* InsertIgnore() const;
  const char* OnConflictIgnore() const;
  // Suffix for CREATE TABLE (MariaDB: InnoDB, binary-safe charset).
  const char* TableOptions() const;
  // True when CREATE INDEX IF NOT EXISTS is supported (all three are).
  const char* CreateIndexIfNotExists() const { return "CREATE INDEX IF NOT EXISTS"; }

 private:
  Backend backend_;
};

}  // namespace libshard::backend
