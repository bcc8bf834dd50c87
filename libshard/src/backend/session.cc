#include "backend/session.h"

#include <soci/soci.h>
#include <soci/soci-backend.h>
#include <soci/connection-parameters.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <poll.h>

#include <mutex>
#include <type_traits>

namespace libshard::backend {
namespace {

using soci::details::statement_backend;
using soci::details::session_backend;

// Runs `run` between the hooks' Before and After (Failed when it throws).
template <typename F>
auto Around(SessionHooks& hooks, SqlOp op, std::string_view sql, F&& run) -> decltype(run()) {
  try {
    hooks.Before(op, sql);
    if constexpr (std::is_void_v<decltype(run())>) {
      run();
      hooks.After(op, sql);
    } else {
      auto r = run();
      hooks.After(op, sql);
      return r;
    }
  } catch (...) {
    hooks.Failed(op, sql);
    throw;
  }
}

// A statement whose execute and fetch pass through the hooks. Binding
// (into/use backends) is done by the real statement, which the bound
// buffers keep pointing at.
class HookedStatement : public statement_backend {
 public:
  HookedStatement(statement_backend* inner, SessionHooks& hooks) : inner_(inner), hooks_(hooks) {}

  void alloc() override { inner_->alloc(); }
  void clean_up() override { inner_->clean_up(); }
  void prepare(std::string const& query, soci::details::statement_type type) override {
    query_ = query;
    op_ = OpOf(query);
    Around(hooks_, SqlOp::kPrepare, query_, [&] { inner_->prepare(query, type); });
  }
  exec_fetch_result execute(int number) override {
    return Around(hooks_, op_, query_, [&] { return inner_->execute(number); });
  }
  exec_fetch_result fetch(int number) override {
    return Around(hooks_, SqlOp::kFetch, query_, [&] { return inner_->fetch(number); });
  }
  long long get_affected_rows() override { return inner_->get_affected_rows(); }
  int get_number_of_rows() override { return inner_->get_number_of_rows(); }
  std::string get_parameter_name(int index) const override {
    return inner_->get_parameter_name(index);
  }
  std::string rewrite_for_procedure_call(std::string const& query) override {
    return inner_->rewrite_for_procedure_call(query);
  }
  int prepare_for_describe() override { return inner_->prepare_for_describe(); }
  void describe_column(int col, soci::data_type& type, std::string& name) override {
    inner_->describe_column(col, type, name);
  }
  soci::details::standard_into_type_backend* make_into_type_backend() override {
    return inner_->make_into_type_backend();
  }
  soci::details::standard_use_type_backend* make_use_type_backend() override {
    return inner_->make_use_type_backend();
  }
  soci::details::vector_into_type_backend* make_vector_into_type_backend() override {
    return inner_->make_vector_into_type_backend();
  }
  soci::details::vector_use_type_backend* make_vector_use_type_backend() override {
    return inner_->make_vector_use_type_backend();
  }

 private:
  std::unique_ptr<statement_backend> inner_;
  // Transaction control prepared as statements (SQLite's BEGIN IMMEDIATE,
  // COMMIT, ROLLBACK; backend/connection.cc) counts as what it is, so "the
  // Nth commit" means the same on every backend.
  static SqlOp OpOf(std::string_view query) {
    if (query.rfind("BEGIN", 0) == 0) return SqlOp::kBegin;
    if (query == "COMMIT") return SqlOp::kCommit;
    if (query == "ROLLBACK") return SqlOp::kRollback;
    return SqlOp::kExecute;
  }

  SessionHooks& hooks_;
  std::string query_;
  SqlOp op_ = SqlOp::kExecute;
};

class HookedSession : public session_backend {
 public:
  HookedSession(session_backend* inner, std::shared_ptr<SessionHooks> hooks)
      : inner_(inner), hooks_(std::move(hooks)) {}

  session_backend& inner() { return *inner_; }
  SessionHooks* hooks() const { return hooks_.get(); }

  bool is_connected() override { return inner_->is_connected(); }
  void begin() override { Around(*hooks_, SqlOp::kBegin, "BEGIN", [&] { inner_->begin(); }); }
  void commit() override { Around(*hooks_, SqlOp::kCommit, "COMMIT", [&] { inner_->commit(); }); }
  void rollback() override {
    Around(*hooks_, SqlOp::kRollback, "ROLLBACK", [&] { inner_->rollback(); });
  }
  bool get_next_sequence_value(soci::session& s, std::string const& seq, long long& v) override {
    return inner_->get_next_sequence_value(s, seq, v);
  }
  bool get_last_insert_id(soci::session& s, std::string const& table, long long& v) override {
    return inner_->get_last_insert_id(s, table, v);
  }
  std::string get_table_names_query() const override { return inner_->get_table_names_query(); }
  std::string get_column_descriptions_query() const override {
    return inner_->get_column_descriptions_query();
  }
  std::string create_column_type(soci::data_type dt, int precision, int scale) override {
    return inner_->create_column_type(dt, precision, scale);
  }
  std::string empty_blob() override { return inner_->empty_blob(); }
  std::string nvl() override { return inner_->nvl(); }
  std::string get_dummy_from_table() const override { return inner_->get_dummy_from_table(); }
  std::string get_backend_name() const override { return inner_->get_backend_name(); }
  statement_backend* make_statement_backend() override {
    return new HookedStatement(inner_->make_statement_backend(), *hooks_);
  }
  soci::details::rowid_backend* make_rowid_backend() override {
    return inner_->make_rowid_backend();
  }
  soci::details::blob_backend* make_blob_backend() override { return inner_->make_blob_backend(); }

 private:
  std::unique_ptr<session_backend> inner_;
  std::shared_ptr<SessionHooks> hooks_;
};

// The network socket under a session (for the statement-timeout watchdog
// and LinkLooksClosed).
// (By backend name: Debian's SOCI exports no typeinfo for its backend
// classes, so dynamic_cast to them does not link.)
int SocketOf(session_backend& s) {
  const std::string name = s.get_backend_name();
  if (name == "postgresql") {
    return PQsocket(static_cast<soci::postgresql_session_backend&>(s).conn_);
  }
  if (name == "mysql") {
    return static_cast<int>(mysql_get_socket(static_cast<soci::mysql_session_backend&>(s).conn_));
  }
  return -1;
}

class HookedFactory : public soci::backend_factory {
 public:
  HookedFactory(const soci::backend_factory& inner, std::shared_ptr<SessionHooks> hooks)
      : inner_(inner), hooks_(std::move(hooks)) {}
  session_backend* make_session(soci::connection_parameters const& params) const override {
    std::unique_ptr<session_backend> real;
    Around(*hooks_, SqlOp::kConnect, "", [&] { real.reset(inner_.make_session(params)); });
    hooks_->Connected(SocketOf(*real));
    return new HookedSession(real.release(), hooks_);
  }

 private:
  const soci::backend_factory& inner_;
  std::shared_ptr<SessionHooks> hooks_;
};

const soci::backend_factory& RealFactory(Backend backend) {
  switch (backend) {
    case Backend::kSqlite: return soci::sqlite3;
    case Backend::kPostgres: return soci::postgresql;
    case Backend::kMysql: return soci::mysql;
  }
  return soci::sqlite3;
}

class HookChain : public SessionHooks {
 public:
  explicit HookChain(std::vector<std::shared_ptr<SessionHooks>> hooks) : hooks_(std::move(hooks)) {}
  void Before(SqlOp op, std::string_view sql) override {
    for (auto& h : hooks_) h->Before(op, sql);
  }
  void After(SqlOp op, std::string_view sql) override {
    for (auto it = hooks_.rbegin(); it != hooks_.rend(); ++it) (*it)->After(op, sql);
  }
  void Failed(SqlOp op, std::string_view sql) override {
    for (auto it = hooks_.rbegin(); it != hooks_.rend(); ++it) (*it)->Failed(op, sql);
  }
  void Connected(int socket) override {
    for (auto& h : hooks_) h->Connected(socket);
  }

 private:
  std::vector<std::shared_ptr<SessionHooks>> hooks_;
};

}  // namespace

std::shared_ptr<SessionHooks> ChainHooks(std::vector<std::shared_ptr<SessionHooks>> hooks) {
  std::erase(hooks, nullptr);
  if (hooks.empty()) return nullptr;
  if (hooks.size() == 1) return hooks.front();
  return std::make_shared<HookChain>(std::move(hooks));
}

Session::Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() { sql.reset(); }

const char* SqlOpName(SqlOp op) {
  switch (op) {
    case SqlOp::kConnect: return "connect";
    case SqlOp::kPrepare: return "prepare";
    case SqlOp::kExecute: return "execute";
    case SqlOp::kFetch: return "fetch";
    case SqlOp::kBegin: return "begin";
    case SqlOp::kCommit: return "commit";
    case SqlOp::kRollback: return "rollback";
  }
  return "?";
}

void RegisterBackendsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Debian's SQLite keeps memory statistics behind one process-wide
    // mutex taken on every malloc/free; shards queried in parallel fight
    // over it (shard-bench: batched puts 0.72 -> 1.2x of the sequential
    // baseline without it). Must precede the first connection; if the host
    // application initialized SQLite already, the call fails harmlessly.
    (void)sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    soci::register_factory_sqlite3();
    soci::register_factory_postgresql();
    soci::register_factory_mysql();
  });
}

Session OpenSession(Backend backend, const std::string& url,
                    std::shared_ptr<SessionHooks> hooks) {
  RegisterBackendsOnce();
  Session s;
  if (!hooks) {
    s.sql = std::make_unique<soci::session>(url);
    return s;
  }
  // A factory takes the connect string without its "backend://" prefix.
  std::string settings = url;
  if (auto p = settings.find("://"); p != std::string::npos) settings.erase(0, p + 3);
  s.factory = std::make_unique<HookedFactory>(RealFactory(backend), std::move(hooks));
  s.sql = std::make_unique<soci::session>(*s.factory, settings);
  return s;
}

void* NativeSqliteHandle(soci::session& sql) {
  session_backend* b = sql.get_backend();
  if (auto* hooked = dynamic_cast<HookedSession*>(b)) b = &hooked->inner();
  return static_cast<soci::sqlite3_session_backend*>(b)->conn_;
}

void* NativeMysqlHandle(soci::session& sql) {
  session_backend* b = sql.get_backend();
  if (auto* hooked = dynamic_cast<HookedSession*>(b)) b = &hooked->inner();
  return static_cast<soci::mysql_session_backend*>(b)->conn_;
}

void* NativePgHandle(soci::session& sql) {
  session_backend* b = sql.get_backend();
  if (auto* hooked = dynamic_cast<HookedSession*>(b)) b = &hooked->inner();
  return static_cast<soci::postgresql_session_backend*>(b)->conn_;
}

bool LinkLooksClosed(soci::session& sql) {
  session_backend* b = sql.get_backend();
  if (auto* hooked = dynamic_cast<HookedSession*>(b)) b = &hooked->inner();
  const int socket = SocketOf(*b);
  if (socket < 0) return false;
  // An idle connection has nothing to read: anything readable (the
  // server's "terminating connection" message, EOF) or a hang-up means the
  // next statement would fail, and poll's own failure says nothing good.
  pollfd p{socket, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

SessionHooks* HooksOf(soci::session& sql) {
  auto* hooked = dynamic_cast<HookedSession*>(sql.get_backend());
  return hooked ? hooked->hooks() : nullptr;
}

}  // namespace libshard::backend
