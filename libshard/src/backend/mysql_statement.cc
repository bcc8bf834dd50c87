#include "backend/mysql_statement.h"

#include <mysql.h>
#include <soci/mysql/soci-mysql.h>

#include <cstring>
#include <vector>

#include "backend/session.h"

namespace libshard::backend {
namespace {

// A bytes column's buffer starts at this size, and goes back to it after
// an execution that grew it past kKeepBytes (one huge body must not stay
// allocated for the pooled connection's life).
constexpr size_t kStartBytes = 256;
constexpr size_t kKeepBytes = 64 * 1024;

// CR_STMT_CLOSED: what a statement the client library closed reports.
constexpr int kStatementClosed = 2056;

bool IsIntegerType(enum_field_types t) {
  switch (t) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG: case MYSQL_TYPE_LONGLONG:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct MysqlStatement::State {
  MYSQL* conn = nullptr;
  MYSQL_STMT* stmt = nullptr;
  std::vector<MYSQL_BIND> params;
  std::vector<unsigned long> param_lengths;
  std::vector<long long> param_ints;  // a bound integer's storage, read at execution
  // One result slot per column: an integer, or bytes in a buffer that
  // grows to the longest value seen (a longer one is read again whole).
  struct Column {
    bool integer = false;
    long long value = 0;
    std::string bytes;
    unsigned long length = 0;
    my_bool null = 0;
    my_bool truncated = 0;
  };
  std::vector<Column> columns;
  std::vector<MYSQL_BIND> results;
  bool pending = false;  // rows of the last execution not yet read

  [[noreturn]] void Throw() const {
    throw soci::mysql_soci_error(std::string("mysql statement: ") + mysql_stmt_error(stmt),
                                 static_cast<int>(mysql_stmt_errno(stmt)));
  }

  // Points the result binds at the columns' buffers; false when the
  // client library refused (it never has: the types are the ones it took
  // at prepare).
  bool SetResultBinds() {
    for (size_t i = 0; i < columns.size(); ++i) {
      Column& c = columns[i];
      MYSQL_BIND& b = results[i];
      std::memset(&b, 0, sizeof b);
      b.is_null = &c.null;
      b.error = &c.truncated;
      b.length = &c.length;
      if (c.integer) {
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = &c.value;
      } else {
        b.buffer_type = MYSQL_TYPE_BLOB;
        b.buffer = c.bytes.data();
        b.buffer_length = c.bytes.size();
      }
    }
    return mysql_stmt_bind_result(stmt, results.data()) == 0;
  }

  void BindResults() {
    if (!SetResultBinds()) Throw();
  }

  // Gives back buffers one execution grew past kKeepBytes. Never throws
  // (it runs on the way out of a read): if the binds cannot be renewed the
  // statement is closed, and its next execution fails as a closed
  // statement does, which drops the connection.
  void ShrinkBuffers() {
    if (stmt == nullptr) return;
    bool shrunk = false;
    for (Column& c : columns) {
      if (c.integer || c.bytes.size() <= kKeepBytes) continue;
      std::string(kStartBytes, '\0').swap(c.bytes);
      shrunk = true;
    }
    if (shrunk && !SetResultBinds()) {
      mysql_stmt_close(stmt);
      stmt = nullptr;
    }
  }

  // After MYSQL_DATA_TRUNCATED: reads each cut value again into a buffer
  // of its full length, and keeps the larger buffers for later rows.
  void ReadTruncated() {
    for (size_t i = 0; i < columns.size(); ++i) {
      Column& c = columns[i];
      if (c.integer || !c.truncated) continue;
      c.bytes.resize(c.length);
      MYSQL_BIND& b = results[i];
      b.buffer = c.bytes.data();
      b.buffer_length = c.bytes.size();
      if (mysql_stmt_fetch_column(stmt, &b, static_cast<unsigned>(i), 0)) Throw();
    }
    BindResults();
  }

  // One row: true when there is one.
  bool FetchRow() {
    const int rc = mysql_stmt_fetch(stmt);
    if (rc == 0) return true;
    if (rc == MYSQL_DATA_TRUNCATED) {
      ReadTruncated();
      return true;
    }
    pending = false;
    if (rc == MYSQL_NO_DATA) return false;
    Throw();
  }
};

MysqlStatement::MysqlStatement(soci::session& sql, std::string text)
    : s_(std::make_unique<State>()), hooks_(HooksOf(sql)), text_(std::move(text)) {
  s_->conn = static_cast<MYSQL*>(NativeMysqlHandle(sql));
  auto prepare = [&] {
    s_->stmt = mysql_stmt_init(s_->conn);
    if (s_->stmt == nullptr) {
      throw soci::mysql_soci_error(mysql_error(s_->conn), static_cast<int>(mysql_errno(s_->conn)));
    }
    if (mysql_stmt_prepare(s_->stmt, text_.data(), text_.size())) s_->Throw();
    s_->params.assign(mysql_stmt_param_count(s_->stmt), MYSQL_BIND{});
    s_->param_lengths.assign(s_->params.size(), 0);
    s_->param_ints.assign(s_->params.size(), 0);
    MYSQL_RES* meta = mysql_stmt_result_metadata(s_->stmt);
    if (meta != nullptr) {
      const unsigned n = mysql_num_fields(meta);
      const MYSQL_FIELD* fields = mysql_fetch_fields(meta);
      s_->columns.resize(n);
      for (unsigned i = 0; i < n; ++i) {
        s_->columns[i].integer = IsIntegerType(fields[i].type);
        if (!s_->columns[i].integer) s_->columns[i].bytes.resize(kStartBytes);
      }
      mysql_free_result(meta);
      s_->results.resize(n);
      s_->BindResults();
    }
  };
  try {
    if (hooks_) hooks_->Before(SqlOp::kPrepare, text_);
    prepare();
    if (hooks_) hooks_->After(SqlOp::kPrepare, text_);
  } catch (...) {
    if (s_->stmt != nullptr) mysql_stmt_close(s_->stmt);
    s_->stmt = nullptr;
    if (hooks_) hooks_->Failed(SqlOp::kPrepare, text_);
    throw;
  }
}

MysqlStatement::~MysqlStatement() {
  // Closing sends COM_STMT_CLOSE (no answer is awaited). After the session
  // closed, the client library already detached the statement and this only
  // frees it.
  if (s_->stmt != nullptr) mysql_stmt_close(s_->stmt);
}

void MysqlStatement::BindBytes(int i, std::string_view bytes) {
  MYSQL_BIND& b = s_->params.at(static_cast<size_t>(i - 1));
  std::memset(&b, 0, sizeof b);
  b.buffer_type = MYSQL_TYPE_BLOB;
  b.buffer = const_cast<char*>(bytes.data() != nullptr ? bytes.data() : "");
  s_->param_lengths[static_cast<size_t>(i - 1)] = bytes.size();
  b.buffer_length = bytes.size();
  b.length = &s_->param_lengths[static_cast<size_t>(i - 1)];
}

void MysqlStatement::BindText(int i, std::string_view text) {
  BindBytes(i, text);
  s_->params[static_cast<size_t>(i - 1)].buffer_type = MYSQL_TYPE_STRING;
}

void MysqlStatement::BindInt(int i, int64_t v) {
  MYSQL_BIND& b = s_->params.at(static_cast<size_t>(i - 1));
  std::memset(&b, 0, sizeof b);
  long long& slot = s_->param_ints[static_cast<size_t>(i - 1)];
  slot = v;
  b.buffer_type = MYSQL_TYPE_LONGLONG;
  b.buffer = &slot;
}

bool MysqlStatement::Execute() { return Step(true); }

bool MysqlStatement::Fetch() { return Step(false); }

bool MysqlStatement::Step(bool first) {
  const SqlOp op = first ? SqlOp::kExecute : SqlOp::kFetch;
  try {
    if (hooks_) hooks_->Before(op, text_);
    if (first) {
      if (s_->pending) Reset();
      if (s_->stmt == nullptr) {
        throw soci::mysql_soci_error("mysql statement: closed (its result buffers could not be "
                                     "renewed)", kStatementClosed);
      }
      if (!s_->params.empty() && mysql_stmt_bind_param(s_->stmt, s_->params.data())) s_->Throw();
      if (mysql_stmt_execute(s_->stmt)) s_->Throw();
      s_->pending = !s_->columns.empty();
    }
    const bool row = s_->pending && s_->FetchRow();
    if (hooks_) hooks_->After(op, text_);
    return row;
  } catch (...) {
    Reset();
    if (hooks_) hooks_->Failed(op, text_);  // may throw a replacement (a timeout)
    throw;
  }
}

void MysqlStatement::Reset() {
  if (s_->pending) {
    // The rest of the result is already on its way: read it to the end
    // (no round trip). An error here means the link is gone; the next
    // command reports it.
    for (;;) {
      const int rc = mysql_stmt_fetch(s_->stmt);
      if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) break;
    }
    s_->pending = false;
    mysql_stmt_free_result(s_->stmt);
  }
  s_->ShrinkBuffers();
}

size_t MysqlStatement::buffer_bytes() const {
  size_t n = 0;
  for (const State::Column& c : s_->columns) n += c.bytes.size();
  return n;
}

bool MysqlStatement::IsNull(int col) const { return s_->columns[static_cast<size_t>(col)].null; }

int64_t MysqlStatement::Int(int col) const { return s_->columns[static_cast<size_t>(col)].value; }

std::string_view MysqlStatement::Bytes(int col) const {
  const State::Column& c = s_->columns[static_cast<size_t>(col)];
  if (c.null) return {};
  return {c.bytes.data(), c.length};
}

}  // namespace libshard::backend
