// Opening SOCI sessions, optionally behind hooks that see every operation.
//
// The hooks are the library's seam below SQL: a hooked session wraps the
// real backend's session (SOCI's `session(backend_factory const&, …)` takes
// any factory, and its backends are virtual), so every statement execute,
// fetch, BEGIN, COMMIT and ROLLBACK passes through SessionHooks::Before and
// ::After on its way to the real database. Tests use it to make a chosen
// operation fail, hang or "lose the link" after it ran (cluster/fault_env.h);
// nothing above this file knows whether a session is hooked.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libshard/config.h"

namespace soci {
class session;
class backend_factory;
}  // namespace soci

namespace libshard::backend {

// kPrepare is a round trip on PostgreSQL (a named server-side statement),
// local on SQLite and MariaDB (SOCI's MySQL backend prepares client-side).
enum class SqlOp { kConnect, kPrepare, kExecute, kFetch, kBegin, kCommit, kRollback };
const char* SqlOpName(SqlOp op);

// Sees every operation of the sessions it was given to. Both calls may throw
// a soci::soci_error: from Before the operation fails without reaching the
// database; from After the database did the work but the caller sees a
// failure (a link that broke after COMMIT). Called from the thread that
// uses the session; one hooks object may serve many sessions at once.
class SessionHooks {
 public:
  virtual ~SessionHooks() = default;
  virtual void Before(SqlOp op, std::string_view sql) = 0;
  virtual void After(SqlOp op, std::string_view sql) = 0;
  // The operation threw (from the database or from Before). May throw a
  // replacement error; otherwise the original is rethrown.
  virtual void Failed(SqlOp /*op*/, std::string_view /*sql*/) {}
  // The session is open; `socket` is its network socket, -1 for SQLite.
  virtual void Connected(int /*socket*/) {}
};

// Runs several hooks in order (Before in order, After/Failed in reverse).
std::shared_ptr<SessionHooks> ChainHooks(std::vector<std::shared_ptr<SessionHooks>> hooks);

// An open session and the factory it was made by (SOCI keeps a pointer to
// the factory for reconnects, so the factory must outlive the session).
struct Session {
  Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();  // the session first, then its factory

  std::unique_ptr<soci::backend_factory> factory;  // null when not hooked
  std::unique_ptr<soci::session> sql;
};

// Opens a session to `url` (the canonical "sqlite3://…", "postgresql://…",
// "mysql://…" form). With `hooks`, the session is hooked. Throws
// soci::soci_error like soci::session's constructor.
Session OpenSession(Backend backend, const std::string& url,
                    std::shared_ptr<SessionHooks> hooks);

// The sqlite3* of a SQLite session, hooked or not.
void* NativeSqliteHandle(soci::session& sql);
// The MYSQL* of a MariaDB session, hooked or not.
void* NativeMysqlHandle(soci::session& sql);
// The PGconn* of a PostgreSQL session, hooked or not.
void* NativePgHandle(soci::session& sql);

// Whether an idle networked session's link has visibly ended (the server
// closed it or sent it something unasked, such as a shutdown notice);
// false for SQLite. A cheap check (poll(2), no round trip) for a caller
// about to send a statement whose failure could not be told apart from
// one that committed. A false answer proves nothing.
bool LinkLooksClosed(soci::session& sql);

// The hooks of a hooked session; null for a plain one.
SessionHooks* HooksOf(soci::session& sql);

// Registers SOCI's backends once per process (links them in statically).
void RegisterBackendsOnce();

}  // namespace libshard::backend
