#include "resharding/bucket_rows.h"

#include "records/record_table.h"

namespace libshard::resharding {
namespace {

void Decode(const backend::Dialect& d, const std::string& fetched, std::string* out) {
  if (!d.DecodeBytes(fetched, out)) throw soci::soci_error("stored bytes are not valid hex");
}

std::string LengthOf(const backend::Dialect& d, const char* column) {
  return std::string(d.backend() == Backend::kPostgres ? "octet_length(" : "length(") + column +
         ")";
}

// Point read without the ownership check: a move reads its source while it
// owns the bucket (or under its lock) and the target while it is incoming.
class RawGet : public backend::Prepared {
 public:
  RawGet(soci::session& sql, const backend::Dialect& d, const std::string& entity)
      : d_(d), st_(sql) {
    st_ = (sql.prepare << "SELECT version, updated, " + d.BytesColumn("body") + " FROM " +
                              records::TableName(entity) + " WHERE id = " + d.BytesParam("id"),
           soci::into(version_), soci::into(updated_), soci::into(body_), soci::use(id_));
  }
  bool Run(std::string_view id, RawRecord* out) {
    id_ = d_.EncodeBytes(id);
    bool found = st_.execute(true);
    backend::Drain(st_);
    if (!found) return false;
    out->id = std::string(id);
    out->version = static_cast<uint64_t>(version_);
    out->updated_us = updated_;
    Decode(d_, body_, &out->body);
    return true;
  }
  static std::string Key(const std::string& entity) { return "move.get:" + entity; }

 private:
  const backend::Dialect& d_;
  std::string id_, body_;
  long long version_ = 0, updated_ = 0;
  soci::statement st_;
};

// Writes a row with all its metadata.
class RawPut : public backend::Prepared {
 public:
  RawPut(soci::session& sql, const backend::Dialect& d, const std::string& entity)
      : d_(d), insert_(sql), update_(sql), delete_(sql) {
    const std::string table = records::TableName(entity);
    insert_ = (sql.prepare << "INSERT INTO " + table +
                                  " (id, bucket, version, updated, body) VALUES (" +
                                  d.BytesParam("id") + ", :bucket, :version, :updated, " +
                                  d.BytesParam("body") + ")",
               soci::use(id_), soci::use(bucket_), soci::use(version_), soci::use(updated_),
               soci::use(body_));
    update_ = (sql.prepare << "UPDATE " + table +
                                  " SET bucket = :bucket, version = :version, updated = :updated, "
                                  "body = " + d.BytesParam("body") + " WHERE id = " +
                                  d.BytesParam("id"),
               soci::use(bucket_), soci::use(version_), soci::use(updated_), soci::use(body_),
               soci::use(id_));
    delete_ = (sql.prepare << "DELETE FROM " + table + " WHERE id = " + d.BytesParam("id"),
               soci::use(id_));
  }
  void Put(uint32_t bucket, const RawRecord& row, bool exists) {
    id_ = d_.EncodeBytes(row.id);
    bucket_ = static_cast<int>(bucket);
    version_ = static_cast<long long>(row.version);
    updated_ = row.updated_us;
    body_ = d_.EncodeBytes(row.body);
    (exists ? update_ : insert_).execute(true);
  }
  void Delete(std::string_view id) {
    id_ = d_.EncodeBytes(id);
    delete_.execute(true);
  }
  static std::string Key(const std::string& entity) { return "move.put:" + entity; }

 private:
  const backend::Dialect& d_;
  std::string id_, body_;
  int bucket_ = 0;
  long long version_ = 0, updated_ = 0;
  soci::statement insert_, update_, delete_;
};

template <typename T>
T& Cached(backend::Connection& c, const backend::Dialect& d, const std::string& entity) {
  return c.Cached<T>(T::Key(entity),
                     [&] { return std::make_unique<T>(c.sql(), d, entity); });
}

}  // namespace

std::vector<RowStamp> ListBucket(backend::Connection& c, const backend::Dialect& d,
                                 const std::string& entity, uint32_t bucket) {
  std::vector<RowStamp> out;
  int b = static_cast<int>(bucket);
  std::string id;
  long long version = 0, updated = 0, size = 0;
  soci::statement st = (c.sql().prepare << "SELECT " + d.BytesColumn("id") +
                                               ", version, updated, " + LengthOf(d, "body") +
                                               " FROM " + records::TableName(entity) +
                                               " WHERE bucket = :b ORDER BY id",
                        soci::into(id), soci::into(version), soci::into(updated),
                        soci::into(size), soci::use(b));
  if (!st.execute(true)) return out;
  do {
    RowStamp r;
    Decode(d, id, &r.id);
    r.version = static_cast<uint64_t>(version);
    r.updated_us = updated;
    r.size = static_cast<uint64_t>(size);
    out.push_back(std::move(r));
  } while (st.fetch());
  return out;
}

void FetchRows(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
               const std::vector<std::string>& ids, std::vector<RawRecord>* out) {
  RawGet& get = Cached<RawGet>(c, d, entity);
  for (const std::string& id : ids) {
    RawRecord r;
    if (get.Run(id, &r)) out->push_back(std::move(r));
  }
}

size_t ScanBucket(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
                  uint32_t bucket, std::string_view after, int limit, std::vector<RawRecord>* out) {
  int b = static_cast<int>(bucket);
  std::string after_bound = d.EncodeBytes(after), id, body;
  long long version = 0, updated = 0;
  soci::statement st =
      (c.sql().prepare << "SELECT " + d.BytesColumn("id") + ", version, updated, " +
                              d.BytesColumn("body") + " FROM " + records::TableName(entity) +
                              " WHERE bucket = :b AND id > " + d.BytesParam("after") +
                              " ORDER BY id LIMIT " + std::to_string(limit),
       soci::into(id), soci::into(version), soci::into(updated), soci::into(body), soci::use(b),
       soci::use(after_bound));
  size_t n = 0;
  if (!st.execute(true)) return 0;
  do {
    RawRecord r;
    Decode(d, id, &r.id);
    r.version = static_cast<uint64_t>(version);
    r.updated_us = updated;
    Decode(d, body, &r.body);
    out->push_back(std::move(r));
    ++n;
  } while (st.fetch());
  return n;
}

std::vector<std::string> RecordTables(backend::Connection& c, const backend::Dialect& d) {
  std::string sql;
  switch (d.backend()) {
    case Backend::kSqlite:
      sql = "SELECT name FROM sqlite_master WHERE type = 'table'";
      break;
    case Backend::kPostgres:
      sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()";
      break;
    case Backend::kMysql:
      sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()";
      break;
  }
  std::vector<std::string> out;
  const std::string prefix = records::TableName("");
  soci::rowset<std::string> rows = (c.sql().prepare << sql);
  for (const std::string& t : rows) {
    if (t.size() > prefix.size() && t.compare(0, prefix.size(), prefix) == 0) {
      out.push_back(t.substr(prefix.size()));
    }
  }
  return out;
}

void PutRow(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
            uint32_t bucket, const RawRecord& row, bool exists) {
  Cached<RawPut>(c, d, entity).Put(bucket, row, exists);
}

void DeleteRow(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
               std::string_view id) {
  Cached<RawPut>(c, d, entity).Delete(id);
}

long long DeleteBucketChunk(backend::Connection& c, const backend::Dialect& d,
                            const std::string& entity, uint32_t bucket, int limit) {
  const std::string table = records::TableName(entity);
  const std::string n = std::to_string(limit);  // an int from options, never user text
  int b = static_cast<int>(bucket);
  // MariaDB has DELETE … LIMIT but no LIMIT in an IN subquery; the others
  // the other way round.
  const std::string sql =
      d.backend() == Backend::kMysql
          ? "DELETE FROM " + table + " WHERE bucket = :b LIMIT " + n
          : "DELETE FROM " + table + " WHERE id IN (SELECT id FROM " + table +
                " WHERE bucket = :b LIMIT " + n + ")";
  soci::statement st = (c.sql().prepare << sql, soci::use(b));
  st.execute(true);
  return st.get_affected_rows();
}

}  // namespace libshard::resharding
