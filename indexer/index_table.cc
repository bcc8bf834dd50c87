#include "indexer/index_table.h"

#include "backend/sqlite_statement.h"

namespace libshard::indexer {

std::string ColumnName(const IndexColumnConfig& c) { return "c_" + c.name; }

const char* SqlType(const backend::Dialect& d, ColumnType t) {
  switch (t) {
    case ColumnType::kInt: return "BIGINT";
    case ColumnType::kFloat: return d.backend() == Backend::kPostgres ? "DOUBLE PRECISION"
                                   : d.backend() == Backend::kMysql ? "DOUBLE" : "REAL";
    case ColumnType::kBool: return "SMALLINT";
    case ColumnType::kString:
    case ColumnType::kBytes: return d.KeyBytesType();
  }
  return "BLOB";
}

void CreateIndexTable(soci::session& sql, const backend::Dialect& d, const IndexDef& def) {
  const std::string table = def.Table();
  std::string columns, key;
  for (const IndexColumnConfig& c : def.columns) {
    columns += ColumnName(c) + " " + SqlType(d, c.type) + " NOT NULL, ";
    key += (key.empty() ? "" : ", ") + ColumnName(c);
  }
  if (!def.unique) key += ", id";
  sql << "CREATE TABLE IF NOT EXISTS " + table + " (" + columns + "id " + d.KeyBytesType() +
             " NOT NULL, PRIMARY KEY (" + key + "))" +
             // On SQLite the primary key then *is* the table: one B-tree
             // less to write per row (backfill ~20% faster in shard-bench).
             (d.backend() == Backend::kSqlite ? " WITHOUT ROWID" : "") +
             d.TableOptions();
  sql << std::string(d.CreateIndexIfNotExists()) + " " + table + "_id ON " + table + " (id)";
}

void DropIndexTable(soci::session& sql, const IndexDef& def) {
  sql << "DROP TABLE IF EXISTS " + def.Table();
}

RowSlots::RowSlots(const backend::Dialect& d, const IndexDef& def, std::string prefix)
    : dialect_(d), prefix_(std::move(prefix)) {
  slots_.reserve(def.columns.size());
  for (const IndexColumnConfig& c : def.columns) {
    names_.push_back(ColumnName(c));
    Slot slot;
    slot.type = c.type;
    slots_.push_back(slot);
  }
}

std::string RowSlots::Param(size_t k) const {
  std::string name = prefix_ + std::to_string(k);
  switch (slots_[k].type) {
    case ColumnType::kString:
    case ColumnType::kBytes: return dialect_.BytesParam(name);
    default: return ":" + name;
  }
}

std::string RowSlots::Select(size_t k) const {
  const std::string& col = names_[k];
  switch (slots_[k].type) {
    case ColumnType::kString:
    case ColumnType::kBytes: return dialect_.BytesColumn(col);
    default: return col;
  }
}

void RowSlots::Bind(soci::details::prepare_temp_type& prep) {
  for (Slot& s : slots_) {
    switch (s.type) {
      case ColumnType::kInt: prep, soci::use(s.i); break;
      case ColumnType::kFloat: prep, soci::use(s.d); break;
      case ColumnType::kBool: prep, soci::use(s.b); break;
      default: prep, soci::use(s.s); break;
    }
  }
}

void RowSlots::BindInto(soci::details::prepare_temp_type& prep) {
  for (Slot& s : slots_) {
    switch (s.type) {
      case ColumnType::kInt: prep, soci::into(s.i); break;
      case ColumnType::kFloat: prep, soci::into(s.d); break;
      case ColumnType::kBool: prep, soci::into(s.b); break;
      default: prep, soci::into(s.s); break;
    }
  }
}

void RowSlots::Set(const IndexRow& row) {
  for (size_t k = 0; k < slots_.size(); ++k) {
    Slot& s = slots_[k];
    switch (s.type) {
      case ColumnType::kInt: s.i = row[k].as_int(); break;
      case ColumnType::kFloat: s.d = row[k].as_double(); break;
      case ColumnType::kBool: s.b = row[k].as_bool() ? 1 : 0; break;
      default: s.s = dialect_.EncodeBytes(row[k].as_string()); break;
    }
  }
}

IndexRow RowSlots::Get() const {
  IndexRow row;
  row.reserve(slots_.size());
  for (const Slot& s : slots_) {
    switch (s.type) {
      case ColumnType::kInt: row.emplace_back(static_cast<int64_t>(s.i)); break;
      case ColumnType::kFloat: row.emplace_back(s.d); break;
      case ColumnType::kBool: row.emplace_back(s.b != 0); break;
      default: {
        std::string raw;
        if (!dialect_.DecodeBytes(s.s, &raw)) throw soci::soci_error("index value is not valid hex");
        if (s.type == ColumnType::kString) {
          row.emplace_back(std::move(raw));
        } else {
          row.push_back(Document::FromBytes(std::move(raw)));
        }
      }
    }
  }
  return row;
}

IndexRow RowSlots::Get(const backend::SqliteStatement& st) const {
  IndexRow row;
  row.reserve(slots_.size());
  for (size_t k = 0; k < slots_.size(); ++k) {
    const int col = static_cast<int>(k);
    switch (slots_[k].type) {
      case ColumnType::kInt: row.emplace_back(st.Int(col)); break;
      case ColumnType::kFloat: row.emplace_back(st.Double(col)); break;
      case ColumnType::kBool: row.emplace_back(st.Int(col) != 0); break;
      case ColumnType::kString: row.emplace_back(std::string(st.Bytes(col))); break;
      case ColumnType::kBytes:
        row.push_back(Document::FromBytes(std::string(st.Bytes(col))));
        break;
    }
  }
  return row;
}

std::string RowSlots::EqualsAll() const {
  std::string sql;
  for (size_t k = 0; k < slots_.size(); ++k) {
    sql += (k ? " AND " : "") + names_[k] + " = " + Param(k);
  }
  return sql;
}

namespace {
// Placeholder prefix of row r of the batch statement ("r3").
std::string RowPrefix(size_t r) {
  std::string p(1, 'r');
  p += std::to_string(r);
  return p;
}
}  // namespace

IndexWriter::IndexWriter(soci::session& sql, const backend::Dialect& d, const IndexDef& def)
    : sql_(sql), dialect_(d), unique_(def.unique), slots_(d, def), insert_(sql), delete_(sql),
      holder_st_(sql) {
  const std::string table = def.Table();
  std::string cols, params;
  for (size_t k = 0; k < def.columns.size(); ++k) {
    cols += ColumnName(def.columns[k]) + ", ";
    params += slots_.Param(k) + ", ";
  }
  std::string insert = "INSERT INTO ";
  if (!def.unique) {
    switch (d.backend()) {
      case Backend::kSqlite: insert = "INSERT OR IGNORE INTO "; break;
      case Backend::kMysql: insert = "INSERT IGNORE INTO "; break;
      case Backend::kPostgres: insert_suffix_ = " ON CONFLICT DO NOTHING"; break;
    }
  }
  insert_head_ = insert + table + " (" + cols + "id) VALUES ";
  {
    soci::details::prepare_temp_type prep =
        (sql.prepare << insert_head_ + "(" + params + d.BytesParam("id") + ")" + insert_suffix_);
    slots_.Bind(prep);
    prep, soci::use(id_);
    insert_ = prep;
  }
  {
    soci::details::prepare_temp_type prep =
        (sql.prepare << "DELETE FROM " + table + " WHERE " + slots_.EqualsAll() +
                            " AND id = " + d.BytesParam("id"));
    slots_.Bind(prep);
    prep, soci::use(id_);
    delete_ = prep;
  }
  {
    soci::details::prepare_temp_type prep =
        (sql.prepare << "SELECT " + d.BytesColumn("id") + " FROM " + table + " WHERE " +
                            slots_.EqualsAll());
    prep, soci::into(holder_);
    slots_.Bind(prep);
    holder_st_ = prep;
  }
  if (!def.unique) {
    batch_ids_.resize(kBatchRows);
    for (size_t r = 0; r < kBatchRows; ++r) {
      std::string prefix = RowPrefix(r);
      prefix += 'v';
      batch_slots_.push_back(std::make_unique<RowSlots>(d, def, std::move(prefix)));
    }
  }
}

void IndexWriter::PrepareBatch() {
  std::string values;
  for (size_t r = 0; r < kBatchRows; ++r) {
    values += r ? ", (" : "(";
    for (size_t k = 0; k < batch_slots_[r]->size(); ++k) values += batch_slots_[r]->Param(k) + ", ";
    std::string id = RowPrefix(r);
    id += "id";
    values += dialect_.BytesParam(id);
    values += ')';
  }
  soci::details::prepare_temp_type prep = (sql_.prepare << insert_head_ + values + insert_suffix_);
  for (size_t r = 0; r < kBatchRows; ++r) {
    batch_slots_[r]->Bind(prep);
    prep, soci::use(batch_ids_[r]);
  }
  batch_insert_ = std::make_unique<soci::statement>(prep);
}

void IndexWriter::InsertMany(const std::vector<std::pair<const IndexRow*, std::string_view>>& rows) {
  size_t done = 0;
  if (!unique_) {
    for (; rows.size() - done >= kBatchRows; done += kBatchRows) {
      if (!batch_insert_) PrepareBatch();
      for (size_t r = 0; r < kBatchRows; ++r) {
        batch_slots_[r]->Set(*rows[done + r].first);
        batch_ids_[r] = dialect_.EncodeBytes(rows[done + r].second);
      }
      batch_insert_->execute(true);
    }
  }
  for (; done < rows.size(); ++done) Insert(*rows[done].first, rows[done].second);
}

void IndexWriter::Insert(const IndexRow& row, std::string_view id) {
  slots_.Set(row);
  id_ = dialect_.EncodeBytes(id);
  insert_.execute(true);
}

void IndexWriter::Delete(const IndexRow& row, std::string_view id) {
  slots_.Set(row);
  id_ = dialect_.EncodeBytes(id);
  delete_.execute(true);
}

bool IndexWriter::Holder(const IndexRow& row, std::string* id) {
  slots_.Set(row);
  bool found = holder_st_.execute(true);
  backend::Drain(holder_st_);
  if (!found) return false;
  if (!dialect_.DecodeBytes(holder_, id)) throw soci::soci_error("index id is not valid hex");
  return true;
}

}  // namespace libshard::indexer
