// MysqlStatement: a server-side prepared statement on the MYSQL* of a SOCI
// MariaDB session, for the hottest read (the fenced point get).
//
// Why: SOCI 4.0.3's MySQL backend prepares client-side: it escapes every
// value into the SQL text, and the server parses and plans the whole
// statement on every execution. For the point get (the ownership row
// joined to the record) that parse was ~7 µs of a ~70 µs round trip on the
// test server, ~8.5 µs more than the hand-written unfenced read
// (bench/RESULTS.md). A prepared statement is parsed once per connection;
// each execution sends the values in the binary protocol and gets the row
// back the same way (no text integers to parse). SOCI stays the connection
// layer: it opens, configures, pools and closes the session; every other
// statement goes through SOCI.
//
// What it keeps from the SOCI path (as SqliteStatement does):
// - the hooks (backend/session.h) of a hooked session see the prepare (a
//   round trip here), every execution and every further fetch with the
//   statement's text, so FaultEnv injects faults and the statement timeout
//   applies here too;
// - errors are soci::mysql_soci_error carrying the client or server error
//   number, which backend::Classify reads as it does SOCI's; a statement the
//   server or the client library no longer knows (after a reconnect) is a
//   connection error, so the connection is dropped and the read retried;
// - bytes are bound and read as binary, byte-exact (NUL bytes included);
// - every execution's result is read to its end before the connection is
//   used again (Reader), as the protocol requires.
// Result buffers start at 256 bytes per bytes column and grow to a longer
// value (which is then read again whole); a buffer grown past 64 KiB is
// given back when the read ends, so one huge record does not stay
// allocated for the pooled connection's life.
//
// Thread-safety: as the session (one thread at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "backend/reset_on_exit.h"

namespace soci {
class session;
}  // namespace soci

namespace libshard::backend {

class SessionHooks;

class MysqlStatement {
 public:
  // Prepares `text` (with `?` placeholders) on the server. Throws
  // soci::mysql_soci_error.
  MysqlStatement(soci::session& sql, std::string text);
  ~MysqlStatement();
  MysqlStatement(const MysqlStatement&) = delete;
  MysqlStatement& operator=(const MysqlStatement&) = delete;

  // Parameters are 1-based. Values are not copied: they must stay valid
  // until Execute returns.
  void BindBytes(int i, std::string_view bytes);
  void BindText(int i, std::string_view text);
  void BindInt(int i, int64_t v);

  // Runs the statement and reads its first row: true when there is one.
  bool Execute();
  // The next row (a kFetch for the hooks).
  bool Fetch();
  // Reads what is left of the result, so the connection can take the next
  // command.
  void Reset();

  // Columns of the current row (0-based). Integer columns are read as
  // integers, every other column as bytes.
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  // Valid until the next Fetch, Execute or Reset.
  std::string_view Bytes(int col) const;

  // Bytes held by the result buffers (for tests of their give-back).
  size_t buffer_bytes() const;

  // Resets the statement on every path out of a Run (reset_on_exit.h).
  using Reader = ResetOnExit<MysqlStatement>;

 private:
  struct State;  // the MYSQL_STMT and its bound buffers (mysql.h stays out of this header)
  bool Step(bool first);

  std::unique_ptr<State> s_;
  SessionHooks* hooks_;  // null when the session is not hooked
  std::string text_;
};

}  // namespace libshard::backend
