// ResetOnExit: resets a native statement (SqliteStatement, MysqlStatement,
// PgStatement) when it goes out of scope — on every path out of a Run,
// exceptions included — so no read snapshot, unread result or result
// buffer outlives the call. Each statement class names it its Reader.
#pragma once

namespace libshard::backend {

template <class Statement>
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& st) : st_(st) {}
  ~ResetOnExit() { st_.Reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& st_;
};

}  // namespace libshard::backend
