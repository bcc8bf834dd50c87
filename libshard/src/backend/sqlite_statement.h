// SqliteStatement: a statement prepared straight on the sqlite3 handle of a
// SOCI SQLite session, for the few hottest statements (point get; a put's
// fence, lock read, INSERT/UPDATE; BEGIN IMMEDIATE/COMMIT/ROLLBACK).
//
// Why: per point get, SOCI's layers (into/use conversions through
// std::string, its statement state machine, the Drain fetch) cost about as
// much as the rest of libshard together (shard-bench, callgrind; see
// bench/README.md "raw sqlite3 floor"). SOCI stays the connection layer:
// the session opens, configures (busy handler, extended result codes),
// pools and closes the connection, and every other statement goes through
// SOCI.
//
// What it keeps from the SOCI path:
// - the hooks (backend/session.h) of a hooked session see the prepare,
//   every execution (BEGIN/COMMIT/ROLLBACK text counts as kBegin/kCommit/
//   kRollback, as HookedStatement does) and every further fetch, with the
//   same SQL text, so FaultEnv injects faults here too;
// - errors are soci::sqlite3_soci_error carrying the (extended) result
//   code, which backend::Classify reads as it does SOCI's;
// - bytes are bound as BLOBs, byte-exact (NUL bytes included) — the same
//   storage class CAST(:x AS BLOB) gives the SOCI statements;
// - a statement is reset as soon as its caller is done with the row
//   (Reader), so no read snapshot stays open (backend::Drain's job on the
//   SOCI path).
//
// Thread-safety: as the session (one thread at a time).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backend/reset_on_exit.h"
#include "backend/session.h"

namespace soci {
class session;
}  // namespace soci
namespace sqlite_api {
struct sqlite3;
struct sqlite3_stmt;
}  // namespace sqlite_api

namespace libshard::backend {

class SqliteStatement {
 public:
  // Prepares `text` (SQLITE_PREPARE_PERSISTENT) on the session's handle.
  // Throws soci::sqlite3_soci_error.
  SqliteStatement(soci::session& sql, std::string text);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Parameters are 1-based. Bytes are bound without a copy: they must stay
  // valid until the statement is reset.
  void BindBytes(int i, std::string_view bytes);
  void BindText(int i, std::string_view text);
  void BindInt(int i, int64_t v);
  void BindDouble(int i, double v);
  void BindNull(int i);

  // Runs the statement to its first row: true when there is one. Throws
  // soci::sqlite3_soci_error (the statement is reset first).
  bool Execute();
  // The next row (a kFetch for the hooks).
  bool Fetch();
  // Ends the execution: releases the read snapshot and the bound values.
  void Reset();

  // Columns of the current row (0-based).
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  double Double(int col) const;
  // Valid until the next Fetch or Reset.
  std::string_view Bytes(int col) const;
  long long Changes() const;

  // Resets the statement on every path out of a Run (reset_on_exit.h).
  using Reader = ResetOnExit<SqliteStatement>;

 private:
  bool Step(SqlOp op);
  [[noreturn]] void Throw(int rc, const char* where);

  sqlite_api::sqlite3* db_;
  sqlite_api::sqlite3_stmt* st_ = nullptr;
  SessionHooks* hooks_;  // null when the session is not hooked
  std::string text_;
  SqlOp op_;  // what an execution counts as for the hooks
};

}  // namespace libshard::backend
