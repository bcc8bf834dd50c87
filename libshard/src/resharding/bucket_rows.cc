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

// The rows of one bucket without their bodies, in id order.
class ListStatement : public backend::Prepared {
 public:
  ListStatement(soci::session& sql, const backend::Dialect& d, const std::string& entity)
      : d_(d), st_(sql) {
    st_ = (sql.prepare << "SELECT " + d.BytesColumn("id") + ", version, updated, " +
                              LengthOf(d, "body") + " FROM " + records::TableName(entity) +
                              " WHERE bucket = :b ORDER BY id",
           soci::into(id_), soci::into(version_), soci::into(updated_), soci::into(size_),
           soci::use(bucket_));
  }
  void Run(uint32_t bucket, std::vector<RowStamp>* out) {
    bucket_ = static_cast<int>(bucket);
    if (!st_.execute(true)) return;
    do {
      RowStamp r;
      Decode(d_, id_, &r.id);
      r.version = static_cast<uint64_t>(version_);
      r.updated_us = updated_;
      r.size = static_cast<uint64_t>(size_);
      out->push_back(std::move(r));
    } while (st_.fetch());
  }
  static std::string Key(const std::string& entity) { return "move.list:" + entity; }

 private:
  const backend::Dialect& d_;
  int bucket_ = 0;
  std::string id_;
  long long version_ = 0, updated_ = 0, size_ = 0;
  soci::statement st_;
};

// Full rows of one bucket after an id, in id order (keyset pages).
class ScanStatement : public backend::Prepared {
 public:
  ScanStatement(soci::session& sql, const backend::Dialect& d, const std::string& entity,
                int limit)
      : d_(d), st_(sql) {
    // The limit comes from MoveOptions (an int), never from user text.
    st_ = (sql.prepare << "SELECT " + d.BytesColumn("id") + ", version, updated, " +
                              d.BytesColumn("body") + " FROM " + records::TableName(entity) +
                              " WHERE bucket = :b AND id > " + d.BytesParam("after") +
                              " ORDER BY id LIMIT " + std::to_string(limit),
           soci::into(id_), soci::into(version_), soci::into(updated_), soci::into(body_),
           soci::use(bucket_), soci::use(after_));
  }
  size_t Run(uint32_t bucket, std::string_view after, std::vector<RawRecord>* out) {
    bucket_ = static_cast<int>(bucket);
    after_ = d_.EncodeBytes(after);
    size_t n = 0;
    if (!st_.execute(true)) return 0;
    do {
      RawRecord r;
      Decode(d_, id_, &r.id);
      r.version = static_cast<uint64_t>(version_);
      r.updated_us = updated_;
      Decode(d_, body_, &r.body);
      out->push_back(std::move(r));
      ++n;
    } while (st_.fetch());
    return n;
  }
  static std::string Key(const std::string& entity, int limit) {
    return "move.scan" + std::to_string(limit) + ":" + entity;
  }

 private:
  const backend::Dialect& d_;
  int bucket_ = 0;
  std::string after_, id_, body_;
  long long version_ = 0, updated_ = 0;
  soci::statement st_;
};

// Deletes up to `limit` rows of one bucket.
class DeleteChunkStatement : public backend::Prepared {
 public:
  DeleteChunkStatement(soci::session& sql, const backend::Dialect& d, const std::string& entity,
                       int limit)
      : st_(sql) {
    const std::string table = records::TableName(entity);
    const std::string n = std::to_string(limit);  // an int from options, never user text
    // MariaDB has DELETE … LIMIT but no LIMIT in an IN subquery; the others
    // the other way round.
    const std::string text =
        d.backend() == Backend::kMysql
            ? "DELETE FROM " + table + " WHERE bucket = :b LIMIT " + n
            : "DELETE FROM " + table + " WHERE id IN (SELECT id FROM " + table +
                  " WHERE bucket = :b LIMIT " + n + ")";
    st_ = (sql.prepare << text, soci::use(bucket_));
  }
  long long Run(uint32_t bucket) {
    bucket_ = static_cast<int>(bucket);
    st_.execute(true);
    return st_.get_affected_rows();
  }
  static std::string Key(const std::string& entity, int limit) {
    return "move.delete" + std::to_string(limit) + ":" + entity;
  }

 private:
  int bucket_ = 0;
  soci::statement st_;
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
  auto& list = c.Cached<ListStatement>(ListStatement::Key(entity), [&] {
    return std::make_unique<ListStatement>(c.sql(), d, entity);
  });
  list.Run(bucket, &out);
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
  auto& scan = c.Cached<ScanStatement>(ScanStatement::Key(entity, limit), [&] {
    return std::make_unique<ScanStatement>(c.sql(), d, entity, limit);
  });
  return scan.Run(bucket, after, out);
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
  auto& del = c.Cached<DeleteChunkStatement>(DeleteChunkStatement::Key(entity, limit), [&] {
    return std::make_unique<DeleteChunkStatement>(c.sql(), d, entity, limit);
  });
  return del.Run(bucket);
}

}  // namespace libshard::resharding
