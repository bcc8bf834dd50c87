// PgStatement: a named prepared statement on the PGconn* of a SOCI
// PostgreSQL session, executed with binary results, for the hottest read
// (the fenced point get).
//
// Why: SOCI 4.0.3's PostgreSQL backend reads every result as text, and a
// BYTEA value must travel hex-encoded (its text conversion cuts a
// std::string at the first NUL, TOOLCHAIN.md): the server encodes the body
// as hex, sends twice its size, and the client decodes it. In binary
// format the body travels as its bytes and the integers as integers; the
// ownership row and the record still come in one statement, one snapshot.
// Measured on the test server with a 200-byte body: 62.5 µs a get against
// 68 µs for the same statement in text with hex (a libpq loop, 20 000
// gets). SOCI stays the connection layer: it opens, configures, pools and
// closes the session; every other statement goes through SOCI.
//
// What it keeps from the SOCI path (as SqliteStatement and MysqlStatement
// do):
// - the hooks (backend/session.h) of a hooked session see the prepare (a
//   round trip), every execution and every further row with the
//   statement's text, so FaultEnv injects faults and the statement timeout
//   applies here too;
// - errors are soci::postgresql_soci_error carrying the SQLSTATE, which
//   backend::Classify reads as it does SOCI's; a link that is gone (no
//   SQLSTATE, the connection bad) carries 08006, connection_failure;
// - bytes are bound and read as binary, byte-exact (NUL bytes included).
//
// Thread-safety: as the session (one thread at a time).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/reset_on_exit.h"

namespace soci {
class session;
}  // namespace soci

namespace libshard::backend {

class SessionHooks;

class PgStatement {
 public:
  // Prepares `text` (with $1… placeholders) on the server under a name of
  // its own. Throws soci::postgresql_soci_error.
  PgStatement(soci::session& sql, std::string text);
  // Deallocates the statement when the connection is idle and well
  // (after ConnectionClosing, never: the session takes it along).
  ~PgStatement();
  // The session is about to close: no DEALLOCATE, which would wait for a
  // server that may be frozen.
  void ConnectionClosing() { name_.clear(); }
  PgStatement(const PgStatement&) = delete;
  PgStatement& operator=(const PgStatement&) = delete;

  // Parameters are 1-based. Values are not copied: they must stay valid
  // until Execute returns.
  void BindBytes(int i, std::string_view bytes);  // binary (BYTEA)
  void BindText(int i, std::string_view text);    // text (any type's text form)
  void BindInt(int i, int64_t v);                 // text, so any integer type takes it

  // Runs the statement: true when it returned a first row.
  bool Execute();
  // The next row (a kFetch for the hooks; the rows are already here).
  bool Fetch();
  // Frees the result.
  void Reset();

  // Columns of the current row (0-based), in binary format: integers of 2,
  // 4 or 8 bytes; every other column as its bytes.
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  // Valid until the next Execute or Reset.
  std::string_view Bytes(int col) const;

  // Resets the statement on every path out of a Run (reset_on_exit.h).
  using Reader = ResetOnExit<PgStatement>;

 private:
  [[noreturn]] void Throw(const void* result, const char* where);

  void* conn_;     // PGconn*
  void* result_ = nullptr;  // PGresult* of the last execution
  int row_ = 0, rows_ = 0;
  SessionHooks* hooks_;  // null when the session is not hooked
  std::string text_, name_;
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
  std::vector<std::string> texts_;  // text parameters, NUL-terminated copies
};

}  // namespace libshard::backend
