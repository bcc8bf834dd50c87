#include "indexer/index_def.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

#include "router/hash.h"

namespace libshard::indexer {
namespace {

// Values at a document path; "[]" on a segment fans out over an array.
void Collect(const Document& doc, std::string_view path, std::vector<const Document*>* out) {
  size_t dot = path.find('.');
  std::string_view segment = path.substr(0, dot);
  std::string_view rest = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  bool fan_out = segment.size() >= 2 && segment.substr(segment.size() - 2) == "[]";
  if (fan_out) segment.remove_suffix(2);
  const Document* child = doc.is_object() ? doc.Find(segment) : nullptr;
  if (child == nullptr) return;
  auto descend = [&](const Document& d) {
    if (rest.empty()) {
      out->push_back(&d);
    } else {
      Collect(d, rest, out);
    }
  };
  if (fan_out) {
    if (!child->is_array()) return;
    for (const Document& item : child->as_array()) descend(item);
  } else {
    descend(*child);
  }
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Converts to the column type; nullopt when the value does not fit it.
std::optional<Document> Convert(const IndexColumnConfig& column, const Document& v) {
  switch (column.type) {
    case ColumnType::kInt:
      if (v.type() == Document::Type::kInt) return v;
      if (v.type() == Document::Type::kUint) return std::nullopt;  // > INT64_MAX
      if (v.type() == Document::Type::kDouble) {
        double d = v.as_double();
        if (std::trunc(d) == d && std::abs(d) < 9.2e18) return Document(static_cast<int64_t>(d));
      }
      return std::nullopt;
    case ColumnType::kFloat:
      // NaN has no place in an order and ±inf no portable SQL form.
      if (v.is_number() && std::isfinite(v.as_double())) return Document(v.as_double());
      return std::nullopt;
    case ColumnType::kString:
      if (!v.is_string()) return std::nullopt;
      return column.lower ? Document(AsciiLower(v.as_string())) : v;
    case ColumnType::kBool:
      if (v.is_bool()) return v;
      return std::nullopt;
    case ColumnType::kBytes:
      if (v.is_bytes()) return v;
      if (v.is_string()) return Document::FromBytes(v.as_string());
      return std::nullopt;
  }
  return std::nullopt;
}

bool TooLong(const Document& v) {
  return (v.is_string() || v.is_bytes()) && v.as_string().size() > kMaxValueBytes;
}

// Total order on normalized values of one column type (for sorting rows).
bool ValueLess(const Document& a, const Document& b) {
  switch (a.type()) {
    case Document::Type::kInt: return a.as_int() < b.as_int();
    case Document::Type::kDouble: return a.as_double() < b.as_double();
    case Document::Type::kBool: return a.as_bool() < b.as_bool();
    default: return a.as_string() < b.as_string();
  }
}

bool RowLess(const IndexRow& a, const IndexRow& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (ValueLess(a[i], b[i])) return true;
    if (ValueLess(b[i], a[i])) return false;
  }
  return false;
}

ColumnType ParseType(const std::string& s) {
  if (s == "int") return ColumnType::kInt;
  if (s == "float") return ColumnType::kFloat;
  if (s == "bool") return ColumnType::kBool;
  if (s == "bytes") return ColumnType::kBytes;
  return ColumnType::kString;
}

}  // namespace

Status IndexDef::Rows(const Document& doc, std::vector<IndexRow>* rows) const {
  rows->clear();
  if (!problem.ok()) return problem;
  if (code) {
    if (!map) {
      return Status::InvalidConfig("index " + FullName() +
                                   " is defined in C++ but this process has no map "
                                   "function for it; deploy the code that registers it first");
    }
    std::vector<IndexRow> produced;
    map(doc, &produced);
    for (IndexRow& row : produced) {
      if (row.size() != columns.size()) {
        return Status::InvalidArgument("index " + FullName() + ": map function produced a row of " +
                                       std::to_string(row.size()) + " values for " +
                                       std::to_string(columns.size()) + " columns");
      }
      IndexRow converted;
      for (size_t c = 0; c < columns.size(); ++c) {
        std::optional<Document> v = Convert(columns[c], row[c]);
        if (!v) break;
        converted.push_back(std::move(*v));
      }
      if (converted.size() == columns.size()) rows->push_back(std::move(converted));
    }
  } else {
    // Cartesian product of each column's values.
    rows->push_back({});
    for (const IndexColumnConfig& column : columns) {
      std::vector<const Document*> found;
      Collect(doc, column.field, &found);
      std::vector<Document> values;
      for (const Document* f : found) {
        if (std::optional<Document> v = Convert(column, *f)) values.push_back(std::move(*v));
      }
      // Repeated array elements give one row, not many (and do not count
      // against the row limit).
      std::sort(values.begin(), values.end(), ValueLess);
      values.erase(std::unique(values.begin(), values.end()), values.end());
      std::vector<IndexRow> next;
      for (const IndexRow& prefix : *rows) {
        for (const Document& v : values) {
          IndexRow row = prefix;
          row.push_back(v);
          next.push_back(std::move(row));
          if (next.size() > kMaxRowsPerRecord) break;
        }
        if (next.size() > kMaxRowsPerRecord) break;  // reported below
      }
      rows->swap(next);
      if (rows->empty()) return Status::OK();
    }
  }
  if (rows->size() > kMaxRowsPerRecord) {
    return Status::InvalidArgument("index " + FullName() + ": a document may produce at most " +
                                   std::to_string(kMaxRowsPerRecord) + " rows");
  }
  for (const IndexRow& row : *rows) {
    for (const Document& v : row) {
      if (TooLong(v)) {
        return Status::InvalidArgument("index " + FullName() + ": value of " +
                                       std::to_string(v.as_string().size()) +
                                       " bytes is longer than the " +
                                       std::to_string(kMaxValueBytes) + " an index holds");
      }
    }
  }
  std::sort(rows->begin(), rows->end(), RowLess);
  rows->erase(std::unique(rows->begin(), rows->end()), rows->end());
  return Status::OK();
}

Result<bool> IndexDef::Produces(const Document& doc, const IndexRow& row) const {
  if (problem.ok() && !code && row.size() == columns.size()) {
    // One value per column: Rows would give at most one row — the converted
    // values, if every one converts (else no row) and none is too long (else
    // an error: no row). Array fan-out (or a "[]" path) takes Rows below.
    bool single = true;
    bool equal = true;
    std::vector<const Document*> found;
    for (size_t c = 0; c < columns.size() && single; ++c) {
      found.clear();
      Collect(doc, columns[c].field, &found);
      if (found.size() != 1) {
        single = found.empty();  // a missing field: no row, like Rows
        if (single) return false;
        break;
      }
      std::optional<Document> v = Convert(columns[c], *found[0]);
      if (!v) return false;  // Rows stops at a column without values
      if (TooLong(*v)) {
        // Rows reports it only if every later column has a value; let it.
        single = false;
        break;
      }
      if (!(*v == row[c])) equal = false;
    }
    if (single) return equal;
  }
  std::vector<IndexRow> rows;
  Status s = Rows(doc, &rows);
  if (s.code() == Code::kInvalidConfig) return s;
  if (!s.ok()) return false;
  return std::find(rows.begin(), rows.end(), row) != rows.end();
}

size_t IndexDef::DatabaseFor(const Document& first) const {
  if (databases.size() <= 1) return 0;
  return router::HashId(first.ToMsgpack(), 0) % databases.size();
}

Result<Document> IndexDef::Normalize(size_t column, const Document& value) const {
  std::optional<Document> v = Convert(columns[column], value);
  if (!v) {
    return Status::InvalidArgument("index " + FullName() + ": value " + value.ToJson() +
                                   " does not fit column '" + columns[column].name + "' of type " +
                                   ColumnTypeName(columns[column].type));
  }
  if (TooLong(*v)) {
    return Status::InvalidArgument("index " + FullName() + ": value too long for column '" +
                                   columns[column].name + "'");
  }
  return *v;
}

int IndexDef::ColumnIndex(std::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column) return static_cast<int>(i);
  }
  return -1;
}

std::string IndexDef::ToJson() const {
  nlohmann::json j;
  j["unique"] = unique;
  j["code"] = code;
  j["databases"] = databases;
  j["columns"] = nlohmann::json::array();
  for (const IndexColumnConfig& c : columns) {
    j["columns"].push_back({{"name", c.name},
                            {"type", ColumnTypeName(c.type)},
                            {"field", c.field},
                            {"lower", c.lower}});
  }
  return j.dump();
}

Result<IndexDef> IndexDef::FromJson(std::string_view entity, std::string_view name,
                                    std::string_view json) {
  try {
    nlohmann::json j = nlohmann::json::parse(json);
    IndexDef def;
    def.entity = std::string(entity);
    def.name = std::string(name);
    def.unique = j.at("unique").get<bool>();
    def.code = j.at("code").get<bool>();
    def.databases = j.at("databases").get<std::vector<std::string>>();
    for (const auto& c : j.at("columns")) {
      IndexColumnConfig col;
      col.name = c.at("name").get<std::string>();
      col.type = ParseType(c.at("type").get<std::string>());
      col.field = c.at("field").get<std::string>();
      col.lower = c.at("lower").get<bool>();
      def.columns.push_back(std::move(col));
    }
    def.cache_key = def.Table() + ":" + std::to_string(std::hash<std::string>{}(def.ToJson()));
    return def;
  } catch (const std::exception& e) {
    return Status::Corruption("catalog definition of index " + std::string(entity) + "." +
                              std::string(name) + " is unreadable: " + e.what());
  }
}

bool IndexDef::SameShape(const IndexDef& other) const {
  return ToJson() == other.ToJson();
}

IndexDef FromConfig(const EntityConfig& entity, const IndexConfig& index) {
  IndexDef def;
  def.entity = entity.name;
  def.name = index.name;
  def.unique = index.unique;
  def.columns = index.columns;
  def.databases = index.databases;
  def.code = static_cast<bool>(index.map);
  def.map = index.map;
  for (IndexColumnConfig& c : def.columns) {
    c.mark = {};
    if (def.code) c.field.clear();
  }
  def.cache_key = def.Table() + ":" + std::to_string(std::hash<std::string>{}(def.ToJson()));
  return def;
}

int CompareValues(const Document& a, const Document& b) {
  switch (a.type()) {
    case Document::Type::kInt: {
      int64_t x = a.as_int(), y = b.as_int();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case Document::Type::kDouble: {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case Document::Type::kBool: {
      int x = a.as_bool() ? 1 : 0, y = b.as_bool() ? 1 : 0;
      return x - y;
    }
    default: {
      int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  }
}

std::string EncodeRow(const IndexRow& row) { return Document(Document::Array(row)).ToMsgpack(); }

std::string EncodeHit(const IndexRow& row, std::string_view id) {
  Document::Array a(row);
  a.push_back(Document::FromBytes(std::string(id)));
  return Document(std::move(a)).ToMsgpack();
}

Status CheckDatabasesKnown(const IndexDef& def, const ClusterConfig& config) {
  for (const std::string& db : def.databases) {
    if (config.FindDatabase(db) == nullptr) {
      return Status::InvalidConfig("index " + def.FullName() + " lives on database '" + db +
                                   "', which this process's config does not name; add that "
                                   "database to the config of every process using the cluster");
    }
  }
  return Status::OK();
}

}  // namespace libshard::indexer
