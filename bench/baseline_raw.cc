// The raw sqlite3 C API baseline (the floor): see baseline_raw.h.
#include "bench/baseline_raw.h"

#include <sqlite3.h>

#include <algorithm>

#include "bench/bench.h"

namespace bench {

using libshard::Document;

namespace {

[[noreturn]] void Throw(sqlite3* db, const std::string& what) {
  throw BenchError("raw sqlite3: " + what + ": " + sqlite3_errmsg(db));
}

// The file of a "sqlite3://db=<path>[ key=value…]" connection string.
std::string FileOf(const std::string& url) {
  const size_t p = url.find("db=");
  if (p == std::string::npos) throw BenchError("raw sqlite3: no db= in the connection string");
  const size_t start = p + 3;
  return url.substr(start, url.find(' ', start) - start);
}

}  // namespace

// --- statement ----------------------------------------------------------------

RawStatement::RawStatement(sqlite3* db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()) + 1,
                         SQLITE_PREPARE_PERSISTENT, &st_, nullptr) != SQLITE_OK) {
    Throw(db, "prepare " + sql);
  }
}

RawStatement::~RawStatement() { sqlite3_finalize(st_); }

void RawStatement::Blob(int i, std::string_view bytes) {
  if (sqlite3_bind_blob(st_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC) !=
      SQLITE_OK) {
    Throw(db_, "bind");
  }
}

void RawStatement::Int(int i, int64_t v) {
  if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) Throw(db_, "bind");
}

void RawStatement::Text(int i, std::string_view text) {
  if (sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC) !=
      SQLITE_OK) {
    Throw(db_, "bind");
  }
}

bool RawStatement::IsNull(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }

bool RawStatement::Step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(st_);
  Throw(db_, "step");
}

void RawStatement::Reset() { sqlite3_reset(st_); }

int64_t RawStatement::ColInt(int i) const { return sqlite3_column_int64(st_, i); }

std::string_view RawStatement::ColBytes(int i) const {
  const void* p = sqlite3_column_blob(st_, i);
  return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, i))};
}

// --- one shard ----------------------------------------------------------------

RawShard::RawShard(const libshard::DatabaseConfig& db, const std::string& entity, bool fenced)
    : table_("ls_rec_" + entity), fenced_(fenced) {
  if (db.backend != libshard::Backend::kSqlite) throw Skip("the raw sqlite3 rows run on SQLite");
  // Default flags, as SOCI opens: the comparison is of code, not settings.
  if (sqlite3_open_v2(FileOf(db.url).c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw BenchError("raw sqlite3: open: " + msg);
  }
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                             "PRAGMA wal_autocheckpoint=10000", "PRAGMA busy_timeout=30000"}) {
    if (sqlite3_exec(db_, pragma, nullptr, nullptr, nullptr) != SQLITE_OK) Throw(db_, pragma);
  }
  begin_ = std::make_unique<RawStatement>(db_, "BEGIN IMMEDIATE");
  commit_ = std::make_unique<RawStatement>(db_, "COMMIT");
  rollback_ = std::make_unique<RawStatement>(db_, "ROLLBACK");
  if (fenced_) {
    RawStatement marker(db_, "SELECT cluster_id FROM ls_shard");
    if (!marker.Step()) throw BenchError("raw sqlite3: no ls_shard marker");
    cluster_id_ = std::string(marker.ColBytes(0));
    marker.Reset();
    // libshard's fenced reads: the ownership row (by primary key) LEFT
    // JOINed to the record (by primary key); "owned" is state 1.
    const std::string from = " FROM ls_owner o LEFT JOIN " + table_ +
                             " r ON r.id = ?1 WHERE o.cluster_id = ?2 AND o.bucket = ?3";
    get_ = std::make_unique<RawStatement>(db_, "SELECT r.version, r.updated, r.body, o.state" + from);
    lock_ = std::make_unique<RawStatement>(db_, "SELECT r.version, r.updated, o.state" + from);
  } else {
    get_ = std::make_unique<RawStatement>(
        db_, "SELECT version, updated, body FROM " + table_ + " WHERE id = ?1");
    lock_ = std::make_unique<RawStatement>(
        db_, "SELECT version, updated FROM " + table_ + " WHERE id = ?1");
  }
  insert_ = std::make_unique<RawStatement>(
      db_, "INSERT INTO " + table_ + " (id, bucket, version, updated, body) VALUES (?1, ?2, ?3, "
           "?4, ?5)");
  update_ = std::make_unique<RawStatement>(
      db_, "UPDATE " + table_ + " SET version = ?1, updated = ?2, body = ?3 WHERE id = ?4");
}

RawShard::~RawShard() {
  begin_.reset();
  commit_.reset();
  rollback_.reset();
  get_.reset();
  lock_.reset();
  insert_.reset();
  update_.reset();
  scan_.reset();
  sqlite3_close(db_);
}

void RawShard::Begin() {
  begin_->Step();
  begin_->Reset();
}

void RawShard::Commit() {
  commit_->Step();
  commit_->Reset();
}

void RawShard::Rollback() {
  rollback_->Step();
  rollback_->Reset();
}

bool RawShard::Get(std::string_view id, uint32_t bucket, BRecord* out) {
  RawStatement& st = *get_;
  st.Blob(1, id);
  if (fenced_) {
    st.Text(2, cluster_id_);
    st.Int(3, bucket);
  }
  if (!st.Step() || (fenced_ && (st.ColInt(3) != 1 || st.IsNull(0)))) {
    st.Reset();
    return false;
  }
  out->id = std::string(id);
  out->version = static_cast<uint64_t>(st.ColInt(0));
  out->updated_us = st.ColInt(1);
  auto doc = Document::FromMsgpack(st.ColBytes(2));
  st.Reset();  // ends the read: no snapshot stays open
  if (!doc.ok()) throw BenchError("raw baseline: undecodable body");
  out->doc = std::move(doc).value();
  return true;
}

uint64_t RawShard::Write(std::string_view id, uint32_t bucket, std::string_view body,
                         int64_t now) {
  RawStatement& lock = *lock_;
  lock.Blob(1, id);
  if (fenced_) {
    lock.Text(2, cluster_id_);
    lock.Int(3, bucket);
  }
  int64_t version = 0, updated = 0;
  if (lock.Step()) {
    if (fenced_ && lock.ColInt(2) != 1) {
      lock.Reset();
      throw BenchError("raw sqlite3: bucket not owned");
    }
    version = lock.ColInt(0);
    updated = lock.ColInt(1);
  } else if (fenced_) {
    lock.Reset();
    throw BenchError("raw sqlite3: no ownership row");
  }
  lock.Reset();
  if (version == 0) {
    RawStatement& st = *insert_;
    st.Blob(1, id);
    st.Int(2, bucket);
    st.Int(3, 1);
    st.Int(4, now);
    st.Blob(5, body);
    st.Step();
    st.Reset();
    return 1;
  }
  RawStatement& st = *update_;
  st.Int(1, version + 1);
  st.Int(2, std::max(now, updated));
  st.Blob(3, body);
  st.Blob(4, id);
  st.Step();
  st.Reset();
  return static_cast<uint64_t>(version + 1);
}

size_t RawShard::Scan(int chunk, const std::function<void(BRecord&&)>& visit) {
  if (!scan_ || scan_chunk_ != chunk) {
    scan_ = std::make_unique<RawStatement>(
        db_, "SELECT id, version, updated, body FROM " + table_ +
                 " WHERE id > ?1 ORDER BY id LIMIT " + std::to_string(chunk));
    scan_chunk_ = chunk;
  }
  RawStatement& st = *scan_;
  std::string after, last;  // "" sorts before every id
  size_t total = 0;
  for (;;) {
    st.Blob(1, after);  // not changed while the statement runs
    size_t n = 0;
    try {
      while (st.Step()) {
        BRecord r;
        r.id = std::string(st.ColBytes(0));
        r.version = static_cast<uint64_t>(st.ColInt(1));
        r.updated_us = st.ColInt(2);
        auto doc = Document::FromMsgpack(st.ColBytes(3));
        if (!doc.ok()) throw BenchError("raw baseline: undecodable body");
        r.doc = std::move(doc).value();
        ++n;
        if (n == static_cast<size_t>(chunk)) last = r.id;  // the next chunk's key
        visit(std::move(r));
      }
    } catch (...) {
      st.Reset();
      throw;
    }
    st.Reset();
    total += n;
    if (n < static_cast<size_t>(chunk)) break;
    after.swap(last);
  }
  return total;
}

// --- table --------------------------------------------------------------------

RawBaselineTable::RawBaselineTable(const libshard::ClusterConfig& config, Baseline& b,
                                   const std::string& entity, bool fenced)
    : b_(b) {
  for (const std::string& name : config.shards) {
    shards_.push_back(std::make_unique<RawShard>(*config.FindDatabase(name), entity, fenced));
  }
}

bool RawBaselineTable::Get(std::string_view id, BRecord* out) {
  libshard::router::Route route = b_.Route(id);
  return shards_[route.shard]->Get(id, route.bucket, out);
}

uint64_t RawBaselineTable::Put(std::string_view id, const Document& doc) {
  const std::string body = doc.ToMsgpack();
  libshard::router::Route route = b_.Route(id);
  RawShard& s = *shards_[route.shard];
  s.Begin();
  try {
    uint64_t v = s.Write(id, route.bucket, body, NowMicros());
    s.Commit();
    return v;
  } catch (...) {
    s.Rollback();
    throw;
  }
}

void RawBaselineTable::PutBatch(const std::vector<std::string>& ids,
                                const std::vector<const Document*>& docs) {
  std::vector<std::string> bodies(ids.size());
  std::vector<std::vector<size_t>> per_shard(shards_.size());
  std::vector<uint32_t> buckets(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    bodies[i] = docs[i]->ToMsgpack();
    libshard::router::Route r = b_.Route(ids[i]);
    buckets[i] = r.bucket;
    per_shard[r.shard].push_back(i);
  }
  const int64_t now = NowMicros();
  for (size_t shard = 0; shard < shards_.size(); ++shard) {
    if (per_shard[shard].empty()) continue;
    RawShard& s = *shards_[shard];
    s.Begin();
    try {
      for (size_t i : per_shard[shard]) s.Write(ids[i], buckets[i], bodies[i], now);
      s.Commit();
    } catch (...) {
      s.Rollback();
      throw;
    }
  }
}

size_t RawBaselineTable::Scan(int chunk, const std::function<void(BRecord&&)>& visit) {
  size_t total = 0;
  for (auto& s : shards_) total += s->Scan(chunk, visit);
  return total;
}

}  // namespace bench
