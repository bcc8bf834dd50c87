#include "records/pg_many.h"

#include "libshard/id.h"
#include "records/pg_array.h"

namespace libshard::records {
namespace {

using pg_array::AddHex;
using pg_array::AddInt;
using pg_array::Open;

// Fetched bytes arrive hex-encoded.
void Decode(const std::string& hex, std::string* out) {
  Result<std::string> raw = ids::FromHex(hex);
  if (!raw.ok()) throw soci::soci_error("stored bytes are not valid hex");
  *out = std::move(raw).value();
}

}  // namespace

PgLockManyStatement::PgLockManyStatement(soci::session& sql, std::string_view entity,
                                         bool with_body)
    : with_body_(with_body), st_(sql) {
  soci::details::prepare_temp_type prep =
      (sql.prepare << "SELECT encode(id, 'hex'), version, updated" +
                          std::string(with_body ? ", encode(body, 'hex')" : "") + " FROM " +
                          TableName(entity) +
                          " WHERE id = ANY(ARRAY(SELECT decode(x, 'hex') FROM "
                          "unnest(CAST(:ids AS text[])) AS x)) ORDER BY id FOR UPDATE");
  prep, soci::into(id_out_), soci::into(version_), soci::into(updated_);
  if (with_body) prep, soci::into(body_);
  prep, soci::use(ids_);
  st_ = prep;
}

void PgLockManyStatement::Run(const std::string_view* ids, size_t n,
                              std::vector<RawRecord>* out) {
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += ids[i].size();
  Open(&ids_, 2 + 2 * bytes + 3 * n);
  for (size_t i = 0; i < n; ++i) AddHex(&ids_, ids[i]);
  ids_.push_back('}');
  if (!st_.execute(true)) return;
  do {
    RawRecord rec;
    Decode(id_out_, &rec.id);
    rec.version = static_cast<uint64_t>(version_);
    rec.updated_us = updated_;
    if (with_body_) Decode(body_, &rec.body);
    out->push_back(std::move(rec));
  } while (st_.fetch());
}

PgWriteManyStatement::PgWriteManyStatement(soci::session& sql, std::string_view entity,
                                           bool update)
    : st_(sql) {
  std::string text = "INSERT INTO " + TableName(entity) +
                     " (id, bucket, version, updated, body)"
                     " SELECT decode(x.i, 'hex'), x.b, x.v, x.u, decode(x.d, 'hex') FROM"
                     " unnest(CAST(:i AS text[]), CAST(:b AS integer[]), CAST(:v AS bigint[]),"
                     " CAST(:u AS bigint[]), CAST(:d AS text[])) AS x(i, b, v, u, d)";
  if (update) {
    // Only rows this transaction holds locked come here: the conflict
    // branch is always taken, and it writes what UPDATE would.
    text += " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,"
            " updated = EXCLUDED.updated, body = EXCLUDED.body";
  }
  st_ = (sql.prepare << text, soci::use(ids_), soci::use(buckets_), soci::use(versions_),
         soci::use(updated_), soci::use(bodies_));
}

void PgWriteManyStatement::Run(const RowWrite* rows, size_t n) {
  size_t id_bytes = 0, body_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    id_bytes += rows[i].id.size();
    body_bytes += rows[i].body.size();
  }
  Open(&ids_, 2 + 2 * id_bytes + 3 * n);
  Open(&bodies_, 2 + 2 * body_bytes + 3 * n);
  Open(&buckets_, 2 + 6 * n);
  Open(&versions_, 2 + 4 * n);
  Open(&updated_, 2 + 18 * n);
  for (size_t i = 0; i < n; ++i) {
    AddHex(&ids_, rows[i].id);
    AddInt(&buckets_, static_cast<long long>(rows[i].bucket));
    AddInt(&versions_, static_cast<long long>(rows[i].version));
    AddInt(&updated_, rows[i].updated_us);
    AddHex(&bodies_, rows[i].body);
  }
  for (std::string* a : {&ids_, &buckets_, &versions_, &updated_, &bodies_}) a->push_back('}');
  st_.execute(true);
  // The bodies may be large (up to the statement budget): free them.
  std::string().swap(bodies_);
}

}  // namespace libshard::records
