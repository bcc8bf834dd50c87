// The hand-written SOCI baseline: connections, record reads and writes.
#include "bench/baseline.h"

#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "bench/bench.h"
#include "libshard/id.h"

namespace bench {

using libshard::Backend;
using libshard::Document;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- connections --------------------------------------------------------------

namespace {

// The busy handler libshard installs (backend/connection.cc), written out
// again: SQLite's default busy timeout sleeps 1, 2, 5 … 100 ms between
// attempts, so a writer sleeps through another writer's short
// transactions. Polling in steps of at most 200 µs for the same total time
// is what a competent engineer tuning concurrent writers ends up with, and
// comparing against the default handler would flatter libshard.
int PollWhileBusy(void* arg, int attempt) {
  auto* wait = static_cast<BDb::BusyWait*>(arg);
  const auto now = std::chrono::steady_clock::now();
  if (attempt == 0) wait->began = now;
  if (now - wait->began >= std::chrono::milliseconds(wait->timeout_ms)) return 0;  // give up
  if (attempt < 8) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(attempt < 64 ? 50 : 200));
  }
  return 1;
}

}  // namespace

void RegisterSociBackends() {
  // Linked in, not dlopen'ed. SOCI refuses to re-register a backend that a
  // session is using, so this runs once at startup, before any session.
  soci::register_factory_sqlite3();
  soci::register_factory_postgresql();
  soci::register_factory_mysql();
}

BDb::BDb(const libshard::DatabaseConfig& db) : dialect_(db.backend) {
  if (db.backend == Backend::kSqlite) {
    sql_ = std::make_unique<soci::session>(db.url + " timeout=30");
    // The same settings libshard uses (and any SQLite service should).
    *sql_ << "PRAGMA journal_mode=WAL";
    *sql_ << "PRAGMA synchronous=NORMAL";
    *sql_ << "PRAGMA wal_autocheckpoint=10000";
    auto* backend = static_cast<soci::sqlite3_session_backend*>(sql_->get_backend());
    sqlite_api::sqlite3_busy_handler(backend->conn_, PollWhileBusy, &busy_);
    begin_ = std::make_unique<soci::statement>(sql_->prepare << "BEGIN IMMEDIATE");
    commit_ = std::make_unique<soci::statement>(sql_->prepare << "COMMIT");
    rollback_ = std::make_unique<soci::statement>(sql_->prepare << "ROLLBACK");
  } else {
    // PostgreSQL, MariaDB: the server's defaults (MariaDB: InnoDB,
    // REPEATABLE READ, autocommit outside begin()/commit()).
    sql_ = std::make_unique<soci::session>(db.url);
  }
}

BDb::~BDb() {
  begin_.reset();
  commit_.reset();
  rollback_.reset();
}

void BDb::Begin() { begin_ ? (void)begin_->execute(true) : sql_->begin(); }
void BDb::Commit() { commit_ ? (void)commit_->execute(true) : sql_->commit(); }
void BDb::Rollback() { rollback_ ? (void)rollback_->execute(true) : sql_->rollback(); }

std::string BDb::Enc(std::string_view bytes) const {
  return pg() ? libshard::ids::ToHex(bytes) : std::string(bytes);
}

std::string BDb::Dec(const std::string& fetched) const {
  if (!pg()) return fetched;
  auto raw = libshard::ids::FromHex(fetched);
  if (!raw.ok()) throw BenchError("bad hex from the database");
  return std::move(raw).value();
}

Baseline::Baseline(const libshard::ClusterConfig& config) : config_(config) {
  for (const std::string& name : config.shards) {
    shards_.push_back(std::make_unique<BDb>(*config.FindDatabase(name)));
  }
  // The bucket map, read from the catalog by hand.
  BDb catalog(*config.FindDatabase(config.catalog));
  std::map<std::string, uint16_t> shard_index;
  for (size_t i = 0; i < config.shards.size(); ++i) {
    shard_index[config.shards[i]] = static_cast<uint16_t>(i);
  }
  std::vector<uint16_t> map(config.buckets, 0);
  int bucket = 0;
  std::string shard;
  soci::statement st = (catalog.sql().prepare << "SELECT bucket, shard FROM ls_buckets",
                        soci::into(bucket), soci::into(shard));
  st.execute(false);
  size_t rows = 0;
  while (st.fetch()) {
    if (bucket < 0 || static_cast<uint32_t>(bucket) >= config.buckets ||
        !shard_index.count(shard)) {
      throw BenchError("unexpected bucket map row");
    }
    map[static_cast<size_t>(bucket)] = shard_index[shard];
    ++rows;
  }
  if (rows != config.buckets) throw BenchError("incomplete bucket map");
  router_ = libshard::router::Router(config.hash_seed,
                                     libshard::router::BucketMap(std::move(map), 0));
}

BDb& Baseline::db(const std::string& name) {
  auto it = others_.find(name);
  if (it == others_.end()) {
    it = others_.emplace(name, std::make_unique<BDb>(*config_.FindDatabase(name))).first;
  }
  return *it->second;
}

// --- record statements --------------------------------------------------------

RecordStatements::RecordStatements(BDb& d, const std::string& entity)
    : db(d), get(d.sql()), lock(d.sql()), lock_row(d.sql()), insert(d.sql()), update(d.sql()),
      table("ls_rec_" + entity) {
  const auto& x = d.dialect();
  soci::session& sql = d.sql();
  const std::string where_id = " WHERE id = " + x.BytesParam("id");
  get = (sql.prepare << "SELECT version, updated, " + x.BytesColumn("body") + " FROM " + table +
                            where_id,
         soci::into(version), soci::into(updated), soci::into(body_out), soci::use(id));
  lock = (sql.prepare << "SELECT version, updated FROM " + table + where_id + x.ForUpdate(),
          soci::into(version), soci::into(updated), soci::use(id));
  lock_row = (sql.prepare << "SELECT version, updated, " + x.BytesColumn("body") + " FROM " +
                                 table + where_id + x.ForUpdate(),
              soci::into(version), soci::into(updated), soci::into(body_out), soci::use(id));
  insert = (sql.prepare << "INSERT INTO " + table +
                               " (id, bucket, version, updated, body) VALUES (" +
                               x.BytesParam("id") + ", :bucket, :version, :updated, " +
                               x.BytesParam("body") + ")",
            soci::use(id), soci::use(bucket), soci::use(new_version), soci::use(new_updated),
            soci::use(body_in));
  update = (sql.prepare << "UPDATE " + table + " SET version = :version, updated = :updated, body = " +
                               x.BytesParam("body") + where_id,
            soci::use(new_version), soci::use(new_updated), soci::use(body_in), soci::use(id));
}

void RecordStatements::Finish(soci::statement& st) {
  while (st.fetch()) {
  }
}

bool RecordStatements::Lock(std::string_view record_id, bool with_body) {
  id = db.Enc(record_id);
  soci::statement& st = with_body ? lock_row : lock;
  bool found = st.execute(true);
  Finish(st);
  if (!found) {
    version = 0;
    updated = 0;
  }
  return found;
}

void RecordStatements::Write(std::string_view record_id, uint32_t record_bucket,
                             std::string_view body, int64_t now) {
  // Lock() ran just before with the same id: `version`/`updated` are current.
  id = db.Enc(record_id);
  body_in = db.Enc(body);
  if (version == 0) {
    bucket = static_cast<int>(record_bucket);
    new_version = 1;
    new_updated = now;
    insert.execute(true);
  } else {
    new_version = version + 1;
    new_updated = std::max<long long>(now, updated);
    update.execute(true);
  }
}

RecordStatements::Multi& RecordStatements::MultiGet(size_t n) {
  auto it = multi.find(n);
  if (it != multi.end()) return *it->second;
  auto m = std::make_unique<Multi>(db.sql());
  m->ids.resize(n);
  std::string in;
  for (size_t i = 0; i < n; ++i) {
    if (i) in += ", ";
    std::string name = std::to_string(i);
    name.insert(0, 1, 'i');  // ("i" + to_string trips GCC 12's -Wrestrict false positive)
    in += db.dialect().BytesParam(name);
  }
  const auto& x = db.dialect();
  soci::details::prepare_temp_type prep =
      (db.sql().prepare << "SELECT " + x.BytesColumn("id") + ", version, updated, " +
                               x.BytesColumn("body") + " FROM " + table + " WHERE id IN (" + in +
                               ")");
  prep, soci::into(id_out), soci::into(version), soci::into(updated), soci::into(body_out);
  for (std::string& s : m->ids) prep, soci::use(s);
  m->st = prep;
  return *multi.emplace(n, std::move(m)).first->second;
}

BRecord RecordStatements::Row() {
  BRecord r;
  r.id = db.Dec(id_out);
  r.version = static_cast<uint64_t>(version);
  r.updated_us = updated;
  auto doc = Document::FromMsgpack(db.Dec(body_out));
  if (!doc.ok()) throw BenchError("baseline: undecodable body");
  r.doc = std::move(doc).value();
  return r;
}

void RecordStatements::FetchRows(soci::statement& st, bool got, std::vector<BRecord>* out) {
  if (!got) return;
  do {
    out->push_back(Row());
  } while (st.fetch());
}

void RecordStatements::PutBatch(const std::vector<ShardItem>& items, int64_t now) {
  if (items.empty()) return;
  std::vector<std::string> bodies(items.size());
  for (size_t i = 0; i < items.size(); ++i) bodies[i] = items[i].doc->ToMsgpack();
  db.Begin();
  try {
    for (size_t i = 0; i < items.size(); ++i) {
      Lock(items[i].id, false);
      Write(items[i].id, items[i].bucket, bodies[i], now);
    }
    db.Commit();
  } catch (...) {
    db.Rollback();
    throw;
  }
}

size_t RecordStatements::Scan(int chunk, const std::function<void(BRecord&&)>& visit) {
  auto it = scans.find(chunk);
  if (it == scans.end()) {
    const auto& x = db.dialect();
    auto st = std::make_unique<soci::statement>(
        (db.sql().prepare << "SELECT " + x.BytesColumn("id") + ", version, updated, " +
                                 x.BytesColumn("body") + " FROM " + table + " WHERE id > " +
                                 x.BytesParam("after") + " ORDER BY id LIMIT " +
                                 std::to_string(chunk),
         soci::into(id_out), soci::into(version), soci::into(updated), soci::into(body_out),
         soci::use(after)));
    it = scans.emplace(chunk, std::move(st)).first;
  }
  soci::statement& st = *it->second;
  size_t total = 0;
  after = db.Enc("");  // "" sorts before every id
  for (;;) {
    size_t n = 0;
    std::string last;  // the fetched form of the chunk's last id is the bound form
    if (st.execute(true)) {
      do {
        last = id_out;
        visit(Row());
        ++n;
      } while (st.fetch());
    }
    total += n;
    if (n < static_cast<size_t>(chunk)) break;
    after = std::move(last);
  }
  return total;
}

// --- table --------------------------------------------------------------------

BaselineTable::BaselineTable(Baseline& b, const std::string& entity) : b_(b), entity_(entity) {
  for (size_t i = 0; i < b.shard_count(); ++i) {
    shards_.push_back(std::make_unique<RecordStatements>(b.shard(i), entity));
  }
}

bool BaselineTable::Get(std::string_view id, BRecord* out) {
  RecordStatements& s = *shards_[b_.Route(id).shard];
  s.id = s.db.Enc(id);
  bool found = s.get.execute(true);
  RecordStatements::Finish(s.get);
  if (!found) return false;
  out->id = std::string(id);
  out->version = static_cast<uint64_t>(s.version);
  out->updated_us = s.updated;
  auto doc = Document::FromMsgpack(s.db.Dec(s.body_out));
  if (!doc.ok()) throw BenchError("baseline: undecodable body");
  out->doc = std::move(doc).value();
  return true;
}

uint64_t BaselineTable::Put(std::string_view id, const Document& doc) {
  const std::string body = doc.ToMsgpack();
  libshard::router::Route route = b_.Route(id);
  RecordStatements& s = *shards_[route.shard];
  s.db.Begin();
  try {
    s.Lock(id, false);
    s.Write(id, route.bucket, body, NowMicros());
    s.db.Commit();
  } catch (...) {
    s.db.Rollback();
    throw;
  }
  return static_cast<uint64_t>(s.new_version);
}

std::vector<std::vector<ShardItem>> BaselineTable::Split(const std::vector<std::string>& ids,
                                                         const std::vector<const Document*>& docs) {
  std::vector<std::vector<ShardItem>> parts(shards_.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    libshard::router::Route r = b_.Route(ids[i]);
    parts[r.shard].push_back({ids[i], docs[i], r.bucket});
  }
  return parts;
}

void BaselineTable::PutBatch(const std::vector<std::string>& ids,
                             const std::vector<const Document*>& docs) {
  std::vector<std::vector<ShardItem>> parts = Split(ids, docs);
  const int64_t now = NowMicros();
  for (size_t shard = 0; shard < shards_.size(); ++shard) shards_[shard]->PutBatch(parts[shard], now);
}

void BaselineTable::FetchMany(const std::vector<std::string>& ids, std::vector<BRecord>* out) {
  std::vector<std::vector<const std::string*>> per_shard(shards_.size());
  for (const std::string& id : ids) per_shard[b_.Route(id).shard].push_back(&id);
  for (size_t shard = 0; shard < shards_.size(); ++shard) {
    if (per_shard[shard].empty()) continue;
    RecordStatements& s = *shards_[shard];
    RecordStatements::Multi& m = s.MultiGet(per_shard[shard].size());
    for (size_t i = 0; i < m.ids.size(); ++i) m.ids[i] = s.db.Enc(*per_shard[shard][i]);
    s.FetchRows(m.st, m.st.execute(true), out);
  }
}

size_t BaselineTable::Scan(int chunk, const std::function<void(BRecord&&)>& visit) {
  size_t total = 0;
  for (auto& s : shards_) total += s->Scan(chunk, visit);
  return total;
}

}  // namespace bench
