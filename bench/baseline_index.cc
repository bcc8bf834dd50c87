// The hand-written SOCI baseline: a put that maintains one index on a
// separate database, and index queries.
#include <optional>
#include <unordered_map>

#include "bench/baseline.h"
#include "bench/bench.h"

namespace bench {

using libshard::Backend;
using libshard::Document;

namespace {

std::optional<std::string> StringField(const Document& doc, const std::string& field) {
  const Document* v = doc.Find(field);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->as_string();
}

}  // namespace

BaselineIndexedTable::BaselineIndexedTable(Baseline& b, const std::string& entity,
                                           const std::string& index, const std::string& column,
                                           const std::string& field, const std::string& index_db)
    : BaselineTable(b, entity), idx_(b.db(index_db)), field_(field), insert_(idx_.sql()),
      delete_(idx_.sql()) {
  const auto& x = idx_.dialect();
  const std::string table = "ls_idx_" + entity + "_" + index;
  const std::string col = "c_" + column;
  const bool pg = x.backend() == Backend::kPostgres;
  insert_ = (idx_.sql().prepare << std::string(pg ? "INSERT INTO " : "INSERT OR IGNORE INTO ") +
                                       table + " (" + col + ", id) VALUES (" +
                                       x.BytesParam("v") + ", " + x.BytesParam("id") + ")" +
                                       (pg ? " ON CONFLICT DO NOTHING" : ""),
             soci::use(value_), soci::use(id_));
  delete_ = (idx_.sql().prepare << "DELETE FROM " + table + " WHERE " + col + " = " +
                                       x.BytesParam("v") + " AND id = " + x.BytesParam("id"),
             soci::use(value_), soci::use(id_));
}

uint64_t BaselineIndexedTable::Put(std::string_view id, const Document& doc) {
  const std::string body = doc.ToMsgpack();
  const std::optional<std::string> new_value = StringField(doc, field_);
  std::optional<std::string> old_value;
  libshard::router::Route route = b_.Route(id);
  RecordStatements& s = *shards_[route.shard];
  s.db.Begin();
  try {
    if (s.Lock(id, /*with_body=*/true)) {
      auto old = Document::FromMsgpack(s.db.Dec(s.body_out));
      if (old.ok()) old_value = StringField(*old, field_);
    }
    // The index row goes in before the record commits (autocommit on the
    // index database), so a committed record never lacks its row.
    if (new_value && new_value != old_value) {
      value_ = idx_.Enc(*new_value);
      id_ = idx_.Enc(id);
      insert_.execute(true);
    }
    s.Write(id, route.bucket, body, NowMicros());
    s.db.Commit();
  } catch (...) {
    s.db.Rollback();
    throw;
  }
  if (old_value && old_value != new_value) {
    value_ = idx_.Enc(*old_value);
    id_ = idx_.Enc(id);
    delete_.execute(true);
  }
  return static_cast<uint64_t>(s.new_version);
}

BaselineQuery::BaselineQuery(Baseline& b, BaselineTable& table, const std::string& index_db)
    : idx_(b.db(index_db)), table_(table) {}

void BaselineQuery::Equal(const std::string& table, const std::string& column,
                          const std::string& field, const std::string& value, int limit,
                          std::vector<BRecord>* out) {
  const std::string key = table + "/" + column + "/" + std::to_string(limit);
  auto it = eq_.find(key);
  if (it == eq_.end()) {
    const auto& x = idx_.dialect();
    const std::string col = "c_" + column;
    auto st = std::make_unique<soci::statement>(
        (idx_.sql().prepare << "SELECT " + x.BytesColumn("id") + " FROM " + table + " WHERE " +
                                   col + " = " + x.BytesParam("v") + " ORDER BY " + col +
                                   ", id LIMIT " + std::to_string(limit),
         soci::into(id_out_), soci::use(s_value_)));
    it = eq_.emplace(key, std::move(st)).first;
  }
  soci::statement& st = *it->second;
  s_value_ = idx_.Enc(value);
  ids_.clear();
  if (st.execute(true)) {
    do {
      ids_.push_back(idx_.Dec(id_out_));
    } while (st.fetch());
  }
  Fetch(out);
  std::erase_if(*out, [&](const BRecord& r) {
    const Document* v = r.doc.Find(field);
    return v == nullptr || !v->is_string() || v->as_string() != value;
  });
}

void BaselineQuery::Range(const std::string& table, const std::string& column,
                          const std::string& field, int64_t lo, int64_t hi, int limit,
                          std::vector<BRecord>* out) {
  const std::string key = table + "/" + column + "/" + std::to_string(limit);
  auto it = range_.find(key);
  if (it == range_.end()) {
    const auto& x = idx_.dialect();
    const std::string col = "c_" + column;
    auto st = std::make_unique<soci::statement>(
        (idx_.sql().prepare << "SELECT " + x.BytesColumn("id") + " FROM " + table + " WHERE " +
                                   col + " >= :lo AND " + col + " < :hi ORDER BY " + col +
                                   ", id LIMIT " + std::to_string(limit),
         soci::into(id_out_), soci::use(lo_), soci::use(hi_)));
    it = range_.emplace(key, std::move(st)).first;
  }
  soci::statement& st = *it->second;
  lo_ = lo;
  hi_ = hi;
  ids_.clear();
  if (st.execute(true)) {
    do {
      ids_.push_back(idx_.Dec(id_out_));
    } while (st.fetch());
  }
  Fetch(out);
  std::erase_if(*out, [&](const BRecord& r) {
    const Document* v = r.doc.Find(field);
    return v == nullptr || v->type() != Document::Type::kInt || v->as_int() < lo ||
           v->as_int() >= hi;
  });
}

void BaselineQuery::Fetch(std::vector<BRecord>* out) {
  out->clear();
  if (ids_.empty()) return;
  std::vector<BRecord> rows;
  rows.reserve(ids_.size());
  table_.FetchMany(ids_, &rows);
  // Back into index order.
  std::unordered_map<std::string_view, BRecord*> by_id;
  for (BRecord& r : rows) by_id.emplace(r.id, &r);
  out->reserve(ids_.size());
  for (const std::string& id : ids_) {
    auto f = by_id.find(id);
    if (f != by_id.end()) out->push_back(std::move(*f->second));
  }
}

}  // namespace bench
