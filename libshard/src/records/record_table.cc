#include "records/record_table.h"

#include <soci/mysql/soci-mysql.h>

#include <algorithm>

#include "libshard/config.h"
#include "records/bucket_owner.h"

namespace libshard::records {
namespace {

// Fetched bytes arrive hex-encoded on PostgreSQL.
void DecodeInto(const backend::Dialect& d, const std::string& fetched, std::string* out) {
  if (!d.DecodeBytes(fetched, out)) {
    throw soci::soci_error("stored bytes are not valid hex");
  }
}

// ER_MAX_PREPARED_STMT_COUNT_REACHED.
constexpr int kMaxPreparedStatementsReached = 1461;

// A native statement's row "id, version, updated, body" (columns 0–3).
template <class Native>
void ReadRecordRow(const Native& st, RawRecord* rec) {
  rec->id.assign(st.Bytes(0));
  rec->version = static_cast<uint64_t>(st.Int(1));
  rec->updated_us = st.Int(2);
  rec->body.assign(st.Bytes(3));
}

// A multi-get's rows "id, version, updated, body, state": the owned ones
// to `out`, the others' ids to `not_owned`.
template <class Native>
void ReadMultiGetRows(Native& st, std::vector<RawRecord>* out,
                      std::vector<std::string>* not_owned) {
  for (bool row = st.Execute(); row; row = st.Fetch()) {
    if (st.Int(4) != cluster::BucketOwner::kOwned) {
      not_owned->emplace_back(st.Bytes(0));
      continue;
    }
    ReadRecordRow(st, &out->emplace_back());
  }
}

std::string SelectColumns(const backend::Dialect& d) {
  return d.BytesColumn("r.id") + ", r.version, r.updated, " + d.BytesColumn("r.body");
}

// Joins each record row to its bucket's ownership row on this shard
// (binds the cluster id).
std::string OwnedJoin() { return " JOIN ls_owner o ON o.cluster_id = :c AND o.bucket = r.bucket"; }

// The same join for a read that selects records by id (an IN list, a
// keyset range): the records must be the outer loop. Without statistics
// SQLite's planner otherwise walks every ownership row and every record of
// each bucket through the bucket index — a full table scan per statement —
// as soon as an IN list has 16 ids or a scan has a LIMIT (shard-bench:
// GetMany(100) ~150k instructions per record; a keyset scan re-reading the
// whole shard per chunk). SQLite's CROSS JOIN keeps the written order;
// MariaDB's optimizer (index dives, no ANALYZE needed) plans the plain join
// well.
std::string OwnedJoinRecordsFirst(const backend::Dialect& d) {
  return d.backend() == Backend::kSqlite ? " CROSS" + OwnedJoin() : OwnedJoin();
}

// PostgreSQL: the bucket's state as a scalar subquery per record row —
// never flattened into a join, so the plan is the records by primary key,
// then one ownership row each, whatever the statistics say.
// With the join, PostgreSQL before its first ANALYZE of ls_owner (the
// first minute after Init, when autovacuum has not run) estimated one
// ownership row per cluster, put ls_owner outside the records and ran a
// bitmap scan of the records per bucket: 4.7 ms instead of ~0.05 ms for
// a 4-id read, and GetMany(100) 14k records/s instead of 160k in a
// shard-bench run on fresh servers. (On MariaDB the subquery measured
// slower than the join: GetMany(100) 135k against 169k records/s.)
std::string OwnerStateOf() {
  return "(SELECT o.state FROM ls_owner o WHERE o.cluster_id = :c AND o.bucket = r.bucket)";
}

}  // namespace

std::string TableName(std::string_view entity) {
  return "ls_rec_" + std::string(entity);
}

void CreateTable(soci::session& sql, const backend::Dialect& d, std::string_view entity) {
  const std::string table = TableName(entity);
  sql << "CREATE TABLE IF NOT EXISTS " + table + " (id " + d.KeyBytesType() +
             " NOT NULL PRIMARY KEY, bucket INTEGER NOT NULL, version BIGINT NOT NULL, "
             "updated BIGINT NOT NULL, body " + d.BodyBytesType() + " NOT NULL)" +
             d.TableOptions();
  sql << std::string(d.CreateIndexIfNotExists()) + " " + table + "_bucket ON " + table +
             " (bucket)";
}

GetStatement::GetStatement(soci::session& sql, const backend::Dialect& d,
                           std::string_view entity, const std::string& cluster_id)
    : dialect_(d), cluster_id_(cluster_id), state_(d), version_(d), updated_(d), st_(sql) {
  // From the ownership row (by primary key) to the record (by primary key).
  if (d.backend() == Backend::kSqlite) {
    native_ = std::make_unique<backend::SqliteStatement>(
        sql, "SELECT o.state, o.peer, r.version, r.updated, r.body FROM ls_owner o LEFT JOIN " +
                 TableName(entity) + " r ON r.id = ?1 WHERE o.cluster_id = ?2 AND o.bucket = ?3");
    return;
  }
  if (d.backend() == Backend::kMysql) {
    try {
      mysql_ = std::make_unique<backend::MysqlStatement>(
          sql, "SELECT o.state, o.peer, r.version, r.updated, r.body FROM ls_owner o LEFT JOIN " +
                   TableName(entity) + " r ON r.id = ? WHERE o.cluster_id = ? AND o.bucket = ?");
      return;
    } catch (const soci::mysql_soci_error& e) {
      // The server holds at most max_prepared_stmt_count (16 382 by
      // default) prepared statements for all its clients; one per entity
      // per pooled connection is this statement's share. When they run
      // out, the text statement below does the same read.
      if (e.err_num_ != kMaxPreparedStatementsReached) throw;
    }
  }
  if (d.backend() == Backend::kPostgres) {
    pg_ = std::make_unique<backend::PgStatement>(
        sql, "SELECT o.state, o.peer, r.version, r.updated, r.body FROM ls_owner o LEFT JOIN " +
                 TableName(entity) + " r ON r.id = $1 WHERE o.cluster_id = $2 AND o.bucket = $3");
    return;
  }
  soci::details::prepare_temp_type prep =
      (sql.prepare << "SELECT o.state, o.peer, r.version, r.updated, " +
                          d.BytesColumn("r.body") + " FROM ls_owner o LEFT JOIN " +
                          TableName(entity) + " r ON r.id = " + d.BytesParam("id") +
                          " WHERE o.cluster_id = :c AND o.bucket = :b");
  state_.BindInto(prep);
  prep, soci::into(peer_);
  version_.BindInto(prep);
  updated_.BindInto(prep);
  prep, soci::into(body_, body_ind_), soci::use(id_), soci::use(cluster_id_), soci::use(bucket_);
  st_ = prep;
}

namespace {

// The point get on a statement of the native API (SqliteStatement,
// MysqlStatement, PgStatement): the same columns, read the same way.
template <class Native>
GetStatement::Found RunNative(Native& st, std::string_view id, const std::string& cluster_id,
                              uint32_t bucket, RawRecord* out, cluster::BucketOwner* owner) {
  typename Native::Reader reader(st);
  st.BindBytes(1, id);
  st.BindText(2, cluster_id);
  st.BindInt(3, bucket);
  if (!st.Execute()) {  // no ownership row: not this shard's bucket
    *owner = cluster::BucketOwner{};
    return GetStatement::Found::kNotOwned;
  }
  const int state = static_cast<int>(st.Int(0));
  if (state != cluster::BucketOwner::kOwned) {
    *owner = cluster::BucketOwner{state, std::string(st.Bytes(1))};
    return GetStatement::Found::kNotOwned;
  }
  if (st.IsNull(2)) return GetStatement::Found::kNo;
  out->version = static_cast<uint64_t>(st.Int(2));
  out->updated_us = st.Int(3);
  out->body.assign(st.Bytes(4));
  return GetStatement::Found::kYes;
}

}  // namespace

GetStatement::Found GetStatement::Run(std::string_view id, uint32_t bucket, RawRecord* out,
                                      cluster::BucketOwner* owner) {
  if (native_) return RunNative(*native_, id, cluster_id_, bucket, out, owner);
  if (mysql_) return RunNative(*mysql_, id, cluster_id_, bucket, out, owner);
  if (pg_) return RunNative(*pg_, id, cluster_id_, bucket, out, owner);
  id_ = dialect_.EncodeBytes(id);
  bucket_ = static_cast<int>(bucket);
  bool row = st_.execute(true);
  backend::Drain(st_);
  if (!row) {  // no ownership row: not this shard's bucket
    *owner = cluster::BucketOwner{};
    return Found::kNotOwned;
  }
  const int state = static_cast<int>(state_.value());
  if (state != cluster::BucketOwner::kOwned) {
    *owner = cluster::BucketOwner{state, peer_};
    return Found::kNotOwned;
  }
  if (version_.null()) return Found::kNo;
  out->version = static_cast<uint64_t>(version_.value());
  out->updated_us = updated_.value();
  DecodeInto(dialect_, body_, &out->body);
  return Found::kYes;
}

LockVersionStatement::LockVersionStatement(soci::session& sql, const backend::Dialect& d,
                                           std::string_view entity)
    : dialect_(d), version_(d), updated_(d), st_(sql) {
  if (d.backend() == Backend::kSqlite) {
    native_ = std::make_unique<backend::SqliteStatement>(
        sql, "SELECT version, updated FROM " + TableName(entity) + " WHERE id = ?1");
    return;
  }
  soci::details::prepare_temp_type prep =
      (sql.prepare << "SELECT version, updated FROM " + TableName(entity) + " WHERE id = " +
                          d.BytesParam("id") + d.ForUpdate());
  version_.BindInto(prep);
  updated_.BindInto(prep);
  prep, soci::use(id_);
  st_ = prep;
}

LockVersionStatement::Current LockVersionStatement::Run(std::string_view id) {
  if (native_) {
    backend::SqliteStatement::Reader reader(*native_);
    native_->BindBytes(1, id);
    if (!native_->Execute()) return Current{};
    return Current{static_cast<uint64_t>(native_->Int(0)), native_->Int(1)};
  }
  id_ = dialect_.EncodeBytes(id);
  bool found = st_.execute(true);
  backend::Drain(st_);
  if (!found) return Current{};
  return Current{static_cast<uint64_t>(version_.value()), updated_.value()};
}

LockRowStatement::LockRowStatement(soci::session& sql, const backend::Dialect& d,
                                   std::string_view entity)
    : dialect_(d), version_(d), updated_(d), st_(sql) {
  soci::details::prepare_temp_type prep =
      (sql.prepare << "SELECT version, updated, " + d.BytesColumn("body") + " FROM " +
                          TableName(entity) + " WHERE id = " + d.BytesParam("id") + d.ForUpdate());
  version_.BindInto(prep);
  updated_.BindInto(prep);
  prep, soci::into(body_), soci::use(id_);
  st_ = prep;
}

bool LockRowStatement::Run(std::string_view id, RawRecord* out) {
  id_ = dialect_.EncodeBytes(id);
  bool found = st_.execute(true);
  backend::Drain(st_);
  if (!found) return false;
  out->version = static_cast<uint64_t>(version_.value());
  out->updated_us = updated_.value();
  DecodeInto(dialect_, body_, &out->body);
  return true;
}

GetStatement::Found LockOwnedRow(backend::Connection& c, const backend::Dialect& d,
                                 const std::string& cluster_id, const std::string& entity,
                                 std::string_view id, uint32_t bucket, RawRecord* out,
                                 cluster::BucketOwner* owner) {
  *owner = ReadOwner(c, d, cluster_id, bucket, OwnerStatement::Lock::kShare);
  if (!owner->owned()) return GetStatement::Found::kNotOwned;
  auto& lock = c.Cached<LockRowStatement>(LockRowStatement::Key(entity), [&] {
    return std::make_unique<LockRowStatement>(c.sql(), d, entity);
  });
  return lock.Run(id, out) ? GetStatement::Found::kYes : GetStatement::Found::kNo;
}

WriteStatements::WriteStatements(soci::session& sql, const backend::Dialect& d,
                                 std::string_view entity)
    : dialect_(d), insert_(sql), update_(sql), delete_(sql) {
  const std::string table = TableName(entity);
  if (d.backend() == Backend::kSqlite) {
    native_insert_ = std::make_unique<backend::SqliteStatement>(
        sql, "INSERT INTO " + table + " (id, bucket, version, updated, body) VALUES (?1, ?2, ?3, "
             "?4, ?5)");
    native_update_ = std::make_unique<backend::SqliteStatement>(
        sql, "UPDATE " + table + " SET version = ?1, updated = ?2, body = ?3 WHERE id = ?4");
    native_delete_ =
        std::make_unique<backend::SqliteStatement>(sql, "DELETE FROM " + table + " WHERE id = ?1");
    return;
  }
  insert_ = (sql.prepare << "INSERT INTO " + table +
                                " (id, bucket, version, updated, body) VALUES (" +
                                d.BytesParam("id") + ", :bucket, :version, :updated, " +
                                d.BytesParam("body") + ")",
             soci::use(id_), soci::use(bucket_), soci::use(version_), soci::use(updated_),
             soci::use(body_));
  update_ = (sql.prepare << "UPDATE " + table + " SET version = :version, updated = :updated, "
                                "body = " + d.BytesParam("body") + " WHERE id = " +
                                d.BytesParam("id"),
             soci::use(version_), soci::use(updated_), soci::use(body_), soci::use(id_));
  delete_ = (sql.prepare << "DELETE FROM " + table + " WHERE id = " + d.BytesParam("id"),
             soci::use(id_));
}

void WriteStatements::Insert(std::string_view id, uint32_t bucket, uint64_t version,
                             int64_t updated_us, std::string_view body) {
  if (native_insert_) {
    backend::SqliteStatement& st = *native_insert_;
    backend::SqliteStatement::Reader reader(st);
    st.BindBytes(1, id);
    st.BindInt(2, bucket);
    st.BindInt(3, static_cast<int64_t>(version));
    st.BindInt(4, updated_us);
    st.BindBytes(5, body);
    st.Execute();
    return;
  }
  id_ = dialect_.EncodeBytes(id);
  bucket_ = static_cast<int>(bucket);
  version_ = static_cast<long long>(version);
  updated_ = updated_us;
  body_ = dialect_.EncodeBytes(body);
  insert_.execute(true);
}

void WriteStatements::Update(std::string_view id, uint64_t version, int64_t updated_us,
                             std::string_view body) {
  if (native_update_) {
    backend::SqliteStatement& st = *native_update_;
    backend::SqliteStatement::Reader reader(st);
    st.BindInt(1, static_cast<int64_t>(version));
    st.BindInt(2, updated_us);
    st.BindBytes(3, body);
    st.BindBytes(4, id);
    st.Execute();
    return;
  }
  id_ = dialect_.EncodeBytes(id);
  version_ = static_cast<long long>(version);
  updated_ = updated_us;
  body_ = dialect_.EncodeBytes(body);
  update_.execute(true);
}

long long WriteStatements::Delete(std::string_view id) {
  if (native_delete_) {
    backend::SqliteStatement::Reader reader(*native_delete_);
    native_delete_->BindBytes(1, id);
    native_delete_->Execute();
    return native_delete_->Changes();
  }
  id_ = dialect_.EncodeBytes(id);
  delete_.execute(true);
  return delete_.get_affected_rows();
}

namespace {
// ":<prefix><i>" as a bytes parameter or a plain one.
std::string Param(const std::string& prefix, size_t i) {
  std::string name = prefix;  // not prefix + to_string(i): GCC 12 -Wrestrict false positive
  name += std::to_string(i);
  return name;
}
}  // namespace

LockManyStatement::LockManyStatement(soci::session& sql, const backend::Dialect& d,
                                     std::string_view entity, size_t size, bool with_body)
    : dialect_(d), with_body_(with_body), ids_(size), version_(d), updated_(d), st_(sql) {
  std::string in;
  for (size_t i = 0; i < size; ++i) {
    if (i) in += ", ";
    in += d.BytesParam(Param("i", i));
  }
  soci::details::prepare_temp_type prep =
      (sql.prepare << "SELECT " + d.BytesColumn("id") + ", version, updated" +
                          (with_body ? ", " + d.BytesColumn("body") : std::string()) + " FROM " +
                          TableName(entity) + " WHERE id IN (" + in + ") ORDER BY id" +
                          d.ForUpdate());
  prep, soci::into(id_out_);
  version_.BindInto(prep);
  updated_.BindInto(prep);
  if (with_body) prep, soci::into(body_);
  for (std::string& id : ids_) prep, soci::use(id);
  st_ = prep;
}

void LockManyStatement::Run(const std::vector<std::string_view>& ids,
                            std::vector<RawRecord>* out) {
  for (size_t i = 0; i < ids_.size(); ++i) {
    ids_[i] = dialect_.EncodeBytes(ids[std::min(i, ids.size() - 1)]);
  }
  if (!st_.execute(true)) return;
  do {
    RawRecord rec;
    DecodeInto(dialect_, id_out_, &rec.id);
    rec.version = static_cast<uint64_t>(version_.value());
    rec.updated_us = updated_.value();
    if (with_body_) DecodeInto(dialect_, body_, &rec.body);
    out->push_back(std::move(rec));
  } while (st_.fetch());
}

InsertManyStatement::InsertManyStatement(soci::session& sql, const backend::Dialect& d,
                                         std::string_view entity, size_t rows, bool update)
    : dialect_(d), ids_(rows), bodies_(rows), buckets_(rows), versions_(rows), updated_(rows),
      st_(sql) {
  std::string values;
  for (size_t i = 0; i < rows; ++i) {
    if (i) values += ", ";
    // Appended piece by piece: "…" + std::string chains trip GCC 12's
    // -Wrestrict false positive.
    values += '(';
    values += d.BytesParam(Param("i", i));
    for (const char* p : {"b", "v", "u"}) {
      values += ", :";
      values += Param(p, i);
    }
    values += ", ";
    values += d.BytesParam(Param("d", i));
    values += ')';
  }
  std::string sql_text = "INSERT INTO " + TableName(entity) +
                         " (id, bucket, version, updated, body) VALUES " + values;
  if (update) {
    // Only rows this transaction holds locked come here: the conflict
    // branch is always taken, and it writes what UPDATE would.
    sql_text += d.backend() == Backend::kPostgres
                    ? " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, "
                      "updated = EXCLUDED.updated, body = EXCLUDED.body"
                    : " ON DUPLICATE KEY UPDATE version = VALUES(version), "
                      "updated = VALUES(updated), body = VALUES(body)";
  }
  soci::details::prepare_temp_type prep = (sql.prepare << sql_text);
  for (size_t i = 0; i < rows; ++i) {
    prep, soci::use(ids_[i]), soci::use(buckets_[i]), soci::use(versions_[i]),
        soci::use(updated_[i]), soci::use(bodies_[i]);
  }
  st_ = prep;
}

void InsertManyStatement::Run(const RowWrite* rows, size_t n) {
  if (n != ids_.size()) throw soci::soci_error("InsertManyStatement: wrong row count");
  for (size_t i = 0; i < n; ++i) {
    ids_[i] = dialect_.EncodeBytes(rows[i].id);
    buckets_[i] = static_cast<int>(rows[i].bucket);
    versions_[i] = static_cast<long long>(rows[i].version);
    updated_[i] = rows[i].updated_us;
    bodies_[i] = dialect_.EncodeBytes(rows[i].body);
  }
  st_.execute(true);
  // The bound copies of bodies may be large (up to 64 of them): free them.
  for (std::string& b : bodies_) std::string().swap(b);
}

DeleteManyStatement::DeleteManyStatement(soci::session& sql, const backend::Dialect& d,
                                         std::string_view entity, size_t size)
    : dialect_(d), ids_(size), st_(sql) {
  std::string in;
  for (size_t i = 0; i < size; ++i) {
    if (i) in += ", ";
    in += d.BytesParam(Param("i", i));
  }
  soci::details::prepare_temp_type prep =
      (sql.prepare << "DELETE FROM " + TableName(entity) + " WHERE id IN (" + in + ")");
  for (std::string& id : ids_) prep, soci::use(id);
  st_ = prep;
}

long long DeleteManyStatement::Run(const std::string_view* ids, size_t n) {
  if (n != ids_.size()) throw soci::soci_error("DeleteManyStatement: wrong id count");
  for (size_t i = 0; i < n; ++i) ids_[i] = dialect_.EncodeBytes(ids[i]);
  st_.execute(true);
  return st_.get_affected_rows();
}

MultiGetStatement::MultiGetStatement(soci::session& sql, const backend::Dialect& d,
                                     std::string_view entity, size_t size,
                                     const std::string& cluster_id)
    : dialect_(d), size_(size), cluster_id_(cluster_id), version_(d), updated_(d), state_(d),
      st_(sql) {
  if (d.backend() == Backend::kSqlite) {
    // Straight on the sqlite3 handle (backend/sqlite_statement.h): per
    // record SOCI's into/fetch layers cost about as much as SQLite's own
    // step (callgrind, shard-bench get_many_in / query_eq).
    // The ids as a VALUES list joined to the records rather than an IN
    // list: SQLite builds an ephemeral B-tree for every execution of an
    // IN list (~17k instructions, most of it clearing a page), where
    // VALUES is a co-routine feeding one primary-key seek per id. Unused
    // slots are bound to NULL, which matches no row; a repeated id yields
    // its row twice, which ReadFromShards tolerates (it keeps one).
    std::string values;
    for (size_t i = 0; i < size; ++i) {
      values += i ? ", (?" : "(?";
      values += std::to_string(i + 2) + ")";
    }
    native_ = std::make_unique<backend::SqliteStatement>(
        sql, "WITH k(id) AS (VALUES " + values + ") SELECT r.id, r.version, r.updated, r.body, "
                 "o.state FROM k CROSS JOIN " + TableName(entity) + " r ON r.id = k.id"
                 " CROSS JOIN ls_owner o ON o.cluster_id = ?1 AND o.bucket = r.bucket");
    return;
  }
  if (d.backend() == Backend::kPostgres) {
    // On libpq with binary results (backend/pg_statement.h): the bodies
    // travel as their bytes, not hex. Unused slots repeat the last id.
    std::string in;
    for (size_t i = 0; i < size; ++i) {
      in += i ? ", $" : "$";
      in += std::to_string(i + 2);
    }
    pg_ = std::make_unique<backend::PgStatement>(
        sql, "SELECT r.id, r.version, r.updated, r.body, COALESCE((SELECT o.state FROM ls_owner o"
             " WHERE o.cluster_id = $1 AND o.bucket = r.bucket), " +
                 std::to_string(cluster::BucketOwner::kNotOwned) + ") FROM " + TableName(entity) +
                 " r WHERE r.id IN (" + in + ")");
    return;
  }
  ids_.resize(size);
  std::string in;
  for (size_t i = 0; i < size; ++i) {
    if (i) in += ", ";
    std::string name = "i";  // not "i" + to_string(i): GCC 12 -Wrestrict false positive
    name += std::to_string(i);
    in += d.BytesParam(name);
  }
  soci::details::prepare_temp_type prep =
      (sql.prepare << (d.backend() != Backend::kPostgres
                           ? "SELECT " + SelectColumns(d) + ", o.state FROM " +
                                 TableName(entity) + " r" + OwnedJoinRecordsFirst(d)
                           // A missing ownership row reads as not owned, as
                           // everywhere (the join dropped the record).
                           : "SELECT " + SelectColumns(d) + ", COALESCE(" + OwnerStateOf() +
                                 ", " + std::to_string(cluster::BucketOwner::kNotOwned) +
                                 ") FROM " + TableName(entity) + " r") +
                          " WHERE r.id IN (" + in + ")");
  prep, soci::into(id_out_);
  version_.BindInto(prep);
  updated_.BindInto(prep);
  prep, soci::into(body_);
  state_.BindInto(prep);
  prep, soci::use(cluster_id_);
  for (std::string& id : ids_) prep, soci::use(id);
  st_ = prep;
}

void MultiGetStatement::Run(const std::vector<std::string_view>& ids,
                            std::vector<RawRecord>* out, std::vector<std::string>* not_owned) {
  if (native_) {
    backend::SqliteStatement& st = *native_;
    backend::SqliteStatement::Reader reader(st);
    st.BindText(1, cluster_id_);
    for (size_t i = 0; i < size_; ++i) {
      if (i < ids.size()) {
        st.BindBytes(static_cast<int>(i) + 2, ids[i]);
      } else {
        st.BindNull(static_cast<int>(i) + 2);
      }
    }
    ReadMultiGetRows(st, out, not_owned);
    return;
  }
  if (pg_) {
    backend::PgStatement& st = *pg_;
    backend::PgStatement::Reader reader(st);
    st.BindText(1, cluster_id_);
    for (size_t i = 0; i < size_; ++i) {
      st.BindBytes(static_cast<int>(i) + 2, ids[std::min(i, ids.size() - 1)]);
    }
    ReadMultiGetRows(st, out, not_owned);
    return;
  }
  for (size_t i = 0; i < ids_.size(); ++i) {
    ids_[i] = dialect_.EncodeBytes(ids[std::min(i, ids.size() - 1)]);
  }
  if (!st_.execute(true)) return;
  do {
    RawRecord rec;
    DecodeInto(dialect_, id_out_, &rec.id);
    if (state_.value() != cluster::BucketOwner::kOwned) {
      not_owned->push_back(std::move(rec.id));
      continue;
    }
    rec.version = static_cast<uint64_t>(version_.value());
    rec.updated_us = updated_.value();
    DecodeInto(dialect_, body_, &rec.body);
    out->push_back(std::move(rec));
  } while (st_.fetch());
}

ScanStatement::ScanStatement(soci::session& sql, const backend::Dialect& d,
                             std::string_view entity, int limit, const std::string& cluster_id,
                             bool lock)
    : dialect_(d), cluster_id_(cluster_id), version_(d), updated_(d), st_(sql), lock_(lock) {
  // The limit comes from Options (an int), never from user input.
  const std::string owned = std::to_string(cluster::BucketOwner::kOwned);
  if (d.backend() == Backend::kSqlite) {  // straight on the handle, as MultiGetStatement
    native_ = std::make_unique<backend::SqliteStatement>(
        sql, "SELECT r.id, r.version, r.updated, r.body FROM " + TableName(entity) +
                 (lock ? " r WHERE r.id > ?2"
                       : " r CROSS JOIN ls_owner o ON o.cluster_id = ?1 AND o.bucket = "
                         "r.bucket AND o.state = " + owned + " WHERE r.id > ?2") +
                 " ORDER BY r.id LIMIT " + std::to_string(limit));
    return;
  }
  std::string from = " r WHERE ";
  if (!lock && d.backend() != Backend::kPostgres) {
    from = " r" + OwnedJoinRecordsFirst(d) + " AND o.state = " + owned + " WHERE ";
  } else if (!lock) {
    from = " r WHERE " + OwnerStateOf() + " = " + owned + " AND ";
  }
  soci::details::prepare_temp_type prep =
      (sql.prepare << "SELECT " + SelectColumns(d) + " FROM " + TableName(entity) + from +
                          "r.id > " + d.BytesParam("after") + " ORDER BY r.id LIMIT " +
                          std::to_string(limit) + (lock ? d.ForUpdate() : ""));
  prep, soci::into(id_out_);
  version_.BindInto(prep);
  updated_.BindInto(prep);
  prep, soci::into(body_);
  if (!lock) prep, soci::use(cluster_id_);  // the ownership check's placeholder comes first
  prep, soci::use(after_);
  st_ = prep;
}

size_t ScanStatement::Run(std::string_view after, std::vector<RawRecord>* out) {
  if (native_) {
    backend::SqliteStatement& st = *native_;
    backend::SqliteStatement::Reader reader(st);
    if (!lock_) st.BindText(1, cluster_id_);
    st.BindBytes(2, after);
    size_t n = 0;
    for (bool row = st.Execute(); row; row = st.Fetch()) {
      ReadRecordRow(st, &out->emplace_back());
      ++n;
    }
    return n;
  }
  after_ = dialect_.EncodeBytes(after);
  size_t n = 0;
  if (!st_.execute(true)) return 0;
  do {
    RawRecord rec;
    DecodeInto(dialect_, id_out_, &rec.id);
    rec.version = static_cast<uint64_t>(version_.value());
    rec.updated_us = updated_.value();
    DecodeInto(dialect_, body_, &rec.body);
    out->push_back(std::move(rec));
    ++n;
  } while (st_.fetch());
  return n;
}

uint64_t CountRows(soci::session& sql, std::string_view entity, const std::string& cluster_id) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM " + TableName(entity) + " r" + OwnedJoin() +
             " AND o.state = " + std::to_string(cluster::BucketOwner::kOwned),
      soci::use(cluster_id), soci::into(n);
  return static_cast<uint64_t>(n);
}

}  // namespace libshard::records
