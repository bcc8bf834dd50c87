// Statement timeouts that hold even when the server is frozen.
//
// A server-side timeout (PostgreSQL statement_timeout) needs a server that
// still runs; a stopped VM, a SIGSTOPped server or a black-holed link never
// answers, and libpq and the MariaDB client then block in recv() for as long
// as the kernel keeps the TCP connection (hours). So every operation of a
// networked session arms a deadline with one process-wide watchdog thread;
// when a deadline passes first, the watchdog shuts the session's socket
// down (shutdown(2), not close: the descriptor stays owned by the client
// library), the blocked call returns with a connection error, and the hooks
// replace that error with one that says "statement timeout" (classified as
// a connection error: kUnavailable, or kOutcomeUnknown for a COMMIT). The
// connection is then discarded by the pool. SQLite sessions have no socket;
// their waits are bounded by the busy handler.
#pragma once

#include <chrono>
#include <memory>

#include "backend/session.h"

namespace soci {
class soci_error;
}

namespace libshard::backend {

// Hooks for one session; `timeout` > 0.
std::shared_ptr<SessionHooks> MakeStatementTimeoutHooks(std::chrono::milliseconds timeout);

// Whether `e` is a statement timeout raised by these hooks (the server did
// not answer in time: a retry would wait again, so callers do not retry).
bool IsStatementTimeout(const soci::soci_error& e);

}  // namespace libshard::backend
