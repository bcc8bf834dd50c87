#include "backend/pg_statement.h"

#include <libpq-fe.h>
#include <soci/postgresql/soci-postgresql.h>

#include <atomic>
#include <cstring>

#include "backend/session.h"

namespace libshard::backend {
namespace {

PGresult* AsResult(void* r) { return static_cast<PGresult*>(r); }

// Names unique in the process, so never one SOCI or another PgStatement
// uses on the same connection.
std::string NextName() {
  static std::atomic<uint64_t> counter{0};
  return "libshard_native_" + std::to_string(++counter);
}

uint64_t BigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

PgStatement::PgStatement(soci::session& sql, std::string text)
    : conn_(NativePgHandle(sql)), hooks_(HooksOf(sql)), text_(std::move(text)), name_(NextName()) {
  try {
    if (hooks_) hooks_->Before(SqlOp::kPrepare, text_);
    PGresult* r = PQprepare(static_cast<PGconn*>(conn_), name_.c_str(), text_.c_str(), 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) Throw(r, "prepare");
    PQclear(r);
    if (hooks_) hooks_->After(SqlOp::kPrepare, text_);
  } catch (...) {
    if (hooks_) hooks_->Failed(SqlOp::kPrepare, text_);
    name_.clear();  // nothing to deallocate
    throw;
  }
}

PgStatement::~PgStatement() {
  Reset();
  auto* conn = static_cast<PGconn*>(conn_);
  // Only on an idle, healthy connection: inside a failed transaction the
  // server would refuse it, and a broken link is closing anyway. (After an
  // error the pool drops the connection's statements and prepares them
  // again; without this each such error would leave one on the server.)
  if (name_.empty() || PQstatus(conn) != CONNECTION_OK ||
      PQtransactionStatus(conn) != PQTRANS_IDLE) {
    return;
  }
  PQclear(PQexec(conn, ("DEALLOCATE " + name_).c_str()));
}

void PgStatement::BindBytes(int i, std::string_view bytes) {
  const size_t k = static_cast<size_t>(i - 1);
  if (values_.size() <= k) {
    values_.resize(k + 1, nullptr);
    lengths_.resize(k + 1, 0);
    formats_.resize(k + 1, 0);
    texts_.resize(k + 1);
  }
  values_[k] = bytes.data() != nullptr ? bytes.data() : "";
  lengths_[k] = static_cast<int>(bytes.size());
  formats_[k] = 1;
}

void PgStatement::BindText(int i, std::string_view text) {
  // libpq reads a text parameter up to its NUL: keep a terminated copy.
  // Its pointer is taken at Execute: binding a later parameter may grow
  // texts_ and move the copy (a short string lives inside the object).
  const size_t k = static_cast<size_t>(i - 1);
  BindBytes(i, {});
  texts_[k].assign(text);
  formats_[k] = 0;
}

void PgStatement::BindInt(int i, int64_t v) { BindText(i, std::to_string(v)); }

bool PgStatement::Execute() {
  constexpr SqlOp kOp = SqlOp::kExecute;
  Reset();
  for (size_t k = 0; k < values_.size(); ++k) {
    if (formats_[k] == 0) values_[k] = texts_[k].c_str();
  }
  try {
    if (hooks_) hooks_->Before(kOp, text_);
    PGresult* r = PQexecPrepared(static_cast<PGconn*>(conn_), name_.c_str(),
                                 static_cast<int>(values_.size()), values_.data(),
                                 lengths_.data(), formats_.data(), /*resultFormat=*/1);
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) Throw(r, "execute");
    result_ = r;
    rows_ = PQntuples(r);
    row_ = 0;
    if (hooks_) hooks_->After(kOp, text_);
  } catch (...) {
    Reset();
    if (hooks_) hooks_->Failed(kOp, text_);  // may throw a replacement (a timeout)
    throw;
  }
  return rows_ > 0;
}

bool PgStatement::Fetch() {
  constexpr SqlOp kOp = SqlOp::kFetch;
  try {
    if (hooks_) hooks_->Before(kOp, text_);
    ++row_;
    if (hooks_) hooks_->After(kOp, text_);
  } catch (...) {
    if (hooks_) hooks_->Failed(kOp, text_);
    throw;
  }
  return row_ < rows_;
}

void PgStatement::Reset() {
  PQclear(AsResult(result_));  // a no-op on null
  result_ = nullptr;
  rows_ = row_ = 0;
}

bool PgStatement::IsNull(int col) const {
  return PQgetisnull(AsResult(result_), row_, col) != 0;
}

int64_t PgStatement::Int(int col) const {
  const char* p = PQgetvalue(AsResult(result_), row_, col);
  const int n = PQgetlength(AsResult(result_), row_, col);
  // Sign-extend from the column's width (int2, int4 or int8).
  switch (n) {
    case 2: return static_cast<int16_t>(BigEndian(p, 2));
    case 4: return static_cast<int32_t>(BigEndian(p, 4));
    case 8: return static_cast<int64_t>(BigEndian(p, 8));
    default:
      throw soci::postgresql_soci_error(
          "postgresql statement: column " + std::to_string(col) + " is not an integer", "XX000");
  }
}

std::string_view PgStatement::Bytes(int col) const {
  const char* p = PQgetvalue(AsResult(result_), row_, col);
  return {p, static_cast<size_t>(PQgetlength(AsResult(result_), row_, col))};
}

void PgStatement::Throw(const void* result, const char* where) {
  auto* r = static_cast<PGresult*>(const_cast<void*>(result));
  auto* conn = static_cast<PGconn*>(conn_);
  std::string msg = std::string("postgresql ") + where + ": ";
  const char* detail = r != nullptr ? PQresultErrorMessage(r) : "";
  msg += (detail != nullptr && *detail != '\0') ? detail : PQerrorMessage(conn);
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr && std::strlen(state) == 5 ? state : "";
  // No SQLSTATE: the link is gone (08006, connection_failure), or a
  // client-side failure, blank as SOCI reports it.
  if (sqlstate.empty()) sqlstate = PQstatus(conn) == CONNECTION_BAD ? "08006" : "     ";
  PQclear(r);
  throw soci::postgresql_soci_error(msg, sqlstate.c_str());
}

}  // namespace libshard::backend
