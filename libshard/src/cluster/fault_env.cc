#include "cluster/fault_env.h"

#include <soci/soci.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <thread>

namespace libshard::cluster {
namespace {

using backend::ErrorKind;
using backend::SqlOp;

// A link failure on SQLite, which has no link: SOCI's generic error with
// the connection category, which Classify treats like a dropped socket.
class InjectedLinkError : public soci::soci_error {
 public:
  explicit InjectedLinkError(const std::string& msg) : soci::soci_error(msg) {}
  error_category get_error_category() const override { return connection_error; }
};

// The error `backend` itself would raise for `kind`.
[[noreturn]] void ThrowError(Backend backend, ErrorKind kind, const std::string& what) {
  const std::string msg = "injected fault: " + what;
  switch (backend) {
    case Backend::kPostgres: {
      const char* state = "XX000";
      switch (kind) {
        case ErrorKind::kConnection: state = "08006"; break;
        case ErrorKind::kUniqueViolation: state = "23505"; break;
        case ErrorKind::kRetryable: state = "40P01"; break;
        case ErrorKind::kLockTimeout: state = "55P03"; break;
        case ErrorKind::kTooLarge: state = "54000"; break;
        case ErrorKind::kCorruption: state = "XX001"; break;
        case ErrorKind::kOther: break;
      }
      throw soci::postgresql_soci_error(msg, state);
    }
    case Backend::kMysql: {
      int code = 1105;  // ER_UNKNOWN_ERROR
      switch (kind) {
        case ErrorKind::kConnection: code = 2013; break;
        case ErrorKind::kUniqueViolation: code = 1062; break;
        case ErrorKind::kRetryable: code = 1213; break;
        case ErrorKind::kLockTimeout: code = 1205; break;
        case ErrorKind::kTooLarge: code = 1153; break;
        case ErrorKind::kCorruption: case ErrorKind::kOther: break;
      }
      throw soci::mysql_soci_error(msg, code);
    }
    case Backend::kSqlite: {
      int code = 1;  // SQLITE_ERROR
      switch (kind) {
        case ErrorKind::kConnection: throw InjectedLinkError(msg);
        case ErrorKind::kUniqueViolation: code = 2067; break;
        case ErrorKind::kRetryable: code = 517; break;
        case ErrorKind::kLockTimeout: code = 5; break;
        case ErrorKind::kTooLarge: code = 18; break;
        case ErrorKind::kCorruption: code = 11; break;
        case ErrorKind::kOther: break;
      }
      throw soci::sqlite3_soci_error(msg, code);
    }
  }
  throw soci::soci_error(msg);
}

// The hooks of one session: its faults come from the env; a broken link
// stays broken for the life of the session.
class FaultHooks : public backend::SessionHooks {
 public:
  FaultHooks(FaultEnv& env, DatabaseConfig db) : env_(env), db_(std::move(db)) {}

  void Before(SqlOp op, std::string_view sql) override {
    if (broken_) Break("the link is down");
    FaultEnv::Decision d = env_.Match(db_.name, op, sql);
    if (!d.fire) return;
    switch (d.fault.action) {
      case Fault::Action::kFail:
        ThrowError(db_.backend, d.fault.error,
                   std::string(backend::SqlOpName(op)) + " on " + db_.name);
      case Fault::Action::kHang:
        std::this_thread::sleep_for(d.fault.hang);
        return;
      case Fault::Action::kBreakBefore:
        broken_ = true;
        Break("link broke before " + std::string(backend::SqlOpName(op)));
      case Fault::Action::kBreakAfter:
        break_after_ = true;
        return;
    }
  }

  void Failed(SqlOp op, std::string_view) override { env_.RecordFailure(db_.name, op); }

  void After(SqlOp op, std::string_view) override {
    if (!break_after_) return;
    break_after_ = false;
    broken_ = true;
    Break("link broke after " + std::string(backend::SqlOpName(op)) + " ran");
  }

 private:
  [[noreturn]] void Break(const std::string& what) {
    ThrowError(db_.backend, ErrorKind::kConnection, what + " on " + db_.name);
  }

  FaultEnv& env_;
  DatabaseConfig db_;
  bool broken_ = false;
  bool break_after_ = false;
};

}  // namespace

FaultEnv::FaultEnv() {
  lease_.refresh = std::chrono::milliseconds(20);
  lease_.lease = std::chrono::milliseconds(150);
}

int64_t FaultEnv::WallMicros() const { return Env::WallMicros() + wall_offset_us_.load(); }

SteadyTime FaultEnv::SteadyNow() const {
  return Env::SteadyNow() + std::chrono::microseconds(steady_offset_us_.load());
}

LeaseTimings FaultEnv::lease() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lease_;
}

backend::Session FaultEnv::OpenSession(const DatabaseConfig& db, const std::string& url,
                                       std::shared_ptr<backend::SessionHooks> hooks) {
  return backend::OpenSession(
      db.backend, url, backend::ChainHooks({std::make_shared<FaultHooks>(*this, db), hooks}));
}

void FaultEnv::StepWallClock(std::chrono::microseconds delta) { wall_offset_us_ += delta.count(); }

void FaultEnv::StepSteadyClock(std::chrono::microseconds delta) {
  steady_offset_us_ += delta.count();
}

void FaultEnv::SetLease(LeaseTimings timings) {
  std::lock_guard<std::mutex> lock(mu_);
  lease_ = timings;
}

int FaultEnv::Inject(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back({std::move(fault), 0, 0});
  return static_cast<int>(rules_.size()) - 1;
}

int FaultEnv::Hits(int id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_.at(static_cast<size_t>(id)).hits;
}

void FaultEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Rule& r : rules_) r.fault.times = 0;  // ids stay valid for Hits()
}

void FaultEnv::SetObserver(Observer observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(observer);
}

int FaultEnv::Count(const std::string& database, SqlOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find({database, static_cast<int>(op)});
  return it == counts_.end() ? 0 : it->second;
}

int FaultEnv::Failures(const std::string& database, SqlOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find({database, static_cast<int>(op)});
  return it == failures_.end() ? 0 : it->second;
}

void FaultEnv::RecordFailure(const std::string& database, SqlOp op) {
  std::lock_guard<std::mutex> lock(mu_);
  ++failures_[{database, static_cast<int>(op)}];
}

FaultEnv::Decision FaultEnv::Match(const std::string& database, SqlOp op, std::string_view sql) {
  Observer observer;
  Decision d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[{database, static_cast<int>(op)}];
    observer = observer_;
    for (Rule& r : rules_) {
      const Fault& f = r.fault;
      if (f.op != op || (!f.database.empty() && f.database != database)) continue;
      if (!f.sql_contains.empty() && sql.find(f.sql_contains) == std::string_view::npos) continue;
      if (f.times == 0) continue;
      if (r.seen++ < f.skip) continue;
      if (f.times > 0 && r.hits >= f.times) continue;
      ++r.hits;
      d.fire = true;
      d.fault = f;
      break;
    }
  }
  if (observer) observer(database, op, sql);
  return d;
}

void FaultEnv::SetBeforeCacheFill(CacheFillHook hook) {
  std::lock_guard<std::mutex> lock(mu_);
  before_cache_fill_ = std::move(hook);
}

void FaultEnv::SetCacheFault(CacheFault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  cache_fault_ = std::move(fault);
}

// The hooks run outside the lock: a fill hook blocks by design.
void FaultEnv::BeforeCacheFill(std::string_view entity) const {
  CacheFillHook hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hook = before_cache_fill_;
  }
  if (hook) hook(entity);
}

bool FaultEnv::FailCacheCall(std::string_view server, std::string_view op) const {
  CacheFault fault;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fault = cache_fault_;
  }
  return fault && fault(server, op);
}

}  // namespace libshard::cluster
