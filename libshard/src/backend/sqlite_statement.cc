#include "backend/sqlite_statement.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

namespace libshard::backend {
namespace {

using namespace sqlite_api;  // the C API, which soci-sqlite3.h wraps in a namespace

// Transaction control counts as what it is, as in HookedStatement.
SqlOp OpOf(std::string_view text) {
  if (text.rfind("BEGIN", 0) == 0) return SqlOp::kBegin;
  if (text == "COMMIT") return SqlOp::kCommit;
  if (text == "ROLLBACK") return SqlOp::kRollback;
  return SqlOp::kExecute;
}

const sqlite3_destructor_type kStatic = nullptr;  // SQLITE_STATIC: bound bytes are not copied

}  // namespace

SqliteStatement::SqliteStatement(soci::session& sql, std::string text)
    : db_(static_cast<sqlite3*>(NativeSqliteHandle(sql))),
      hooks_(HooksOf(sql)),
      text_(std::move(text)),
      op_(OpOf(text_)) {
  auto prepare = [&] {
    const int rc = sqlite3_prepare_v3(db_, text_.c_str(), static_cast<int>(text_.size()) + 1,
                                      SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
    if (rc != SQLITE_OK) Throw(rc, "prepare");
  };
  if (hooks_ == nullptr) {
    prepare();
    return;
  }
  try {
    hooks_->Before(SqlOp::kPrepare, text_);
    prepare();
    hooks_->After(SqlOp::kPrepare, text_);
  } catch (...) {
    sqlite3_finalize(st_);  // a no-op on null
    st_ = nullptr;
    hooks_->Failed(SqlOp::kPrepare, text_);
    throw;
  }
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(st_); }

void SqliteStatement::BindBytes(int i, std::string_view bytes) {
  // A null pointer would bind NULL: an empty value is a zero-length BLOB.
  const char* p = bytes.data() != nullptr ? bytes.data() : "";
  const int rc = sqlite3_bind_blob(st_, i, p, static_cast<int>(bytes.size()), kStatic);
  if (rc != SQLITE_OK) Throw(rc, "bind");
}

void SqliteStatement::BindText(int i, std::string_view text) {
  const char* p = text.data() != nullptr ? text.data() : "";
  const int rc = sqlite3_bind_text(st_, i, p, static_cast<int>(text.size()), kStatic);
  if (rc != SQLITE_OK) Throw(rc, "bind");
}

void SqliteStatement::BindInt(int i, int64_t v) {
  const int rc = sqlite3_bind_int64(st_, i, v);
  if (rc != SQLITE_OK) Throw(rc, "bind");
}

void SqliteStatement::BindDouble(int i, double v) {
  const int rc = sqlite3_bind_double(st_, i, v);
  if (rc != SQLITE_OK) Throw(rc, "bind");
}

void SqliteStatement::BindNull(int i) {
  const int rc = sqlite3_bind_null(st_, i);
  if (rc != SQLITE_OK) Throw(rc, "bind");
}

bool SqliteStatement::Execute() { return Step(op_); }

bool SqliteStatement::Fetch() { return Step(SqlOp::kFetch); }

bool SqliteStatement::Step(SqlOp op) {
  auto step = [&] {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    Throw(rc, "step");
  };
  if (hooks_ == nullptr) return step();
  try {
    hooks_->Before(op, text_);
    const bool row = step();
    hooks_->After(op, text_);
    return row;
  } catch (...) {
    sqlite3_reset(st_);
    hooks_->Failed(op, text_);
    throw;
  }
}

void SqliteStatement::Reset() {
  sqlite3_reset(st_);  // its result repeats the last step's error, already reported
}

bool SqliteStatement::IsNull(int col) const {
  return sqlite3_column_type(st_, col) == SQLITE_NULL;
}

int64_t SqliteStatement::Int(int col) const { return sqlite3_column_int64(st_, col); }

double SqliteStatement::Double(int col) const { return sqlite3_column_double(st_, col); }

std::string_view SqliteStatement::Bytes(int col) const {
  // BLOB or TEXT alike: column_blob never converts, so the bytes are exact.
  const void* p = sqlite3_column_blob(st_, col);
  if (p == nullptr) return {};
  return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, col))};
}

long long SqliteStatement::Changes() const { return sqlite3_changes(db_); }

void SqliteStatement::Throw(int rc, const char* where) {
  // The message first (a reset may clear it), then the statement is reset
  // so it holds no snapshot or lock. With extended result codes on
  // (Connection::ConfigureSqlite), rc already is the extended code.
  std::string msg = std::string("sqlite3 ") + where + ": " + sqlite3_errmsg(db_);
  if (st_ != nullptr && std::string_view(where) == "step") sqlite3_reset(st_);
  throw soci::sqlite3_soci_error(msg, rc);
}

}  // namespace libshard::backend
