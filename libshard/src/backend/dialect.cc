#include "backend/dialect.h"

#include "libshard/id.h"

namespace libshard::backend {

std::string Dialect::BytesParam(std::string_view name) const {
  std::string n(name);
  switch (backend_) {
    case Backend::kSqlite: return "CAST(:" + n + " AS BLOB)";
    case Backend::kPostgres: return "decode(:" + n + ", 'hex')";
    case Backend::kMysql: return ":" + n;
  }
  return ":" + n;
}

std::string Dialect::BytesColumn(std::string_view column) const {
  std::string c(column);
  if (backend_ == Backend::kPostgres) return "encode(" + c + ", 'hex')";
  return c;
}

std::string Dialect::EncodeBytes(std::string_view bytes) const {
  if (backend_ == Backend::kPostgres) return ids::ToHex(bytes);
  return std::string(bytes);
}

bool Dialect::DecodeBytes(std::string_view fetched, std::string* out) const {
  if (backend_ != Backend::kPostgres) {
    out->assign(fetched);
    return true;
  }
  Result<std::string> raw = ids::FromHex(fetched);
  if (!raw.ok()) return false;
  *out = std::move(raw).value();
  return true;
}

const char* Dialect::KeyBytesType() const {
  switch (backend_) {
    case Backend::kSqlite: return "BLOB";
    case Backend::kPostgres: return "BYTEA";
    case Backend::kMysql: return "VARBINARY(255)";
  }
  return "BLOB";
}

const char* Dialect::BodyBytesType() const {
  switch (backend_) {
    case Backend::kSqlite: return "BLOB";
    case Backend::kPostgres: return "BYTEA";
    case Backend::kMysql: return "LONGBLOB";
  }
  return "BLOB";
}

const char* Dialect::TextType() const {
  return backend_ == Backend::kMysql ? "VARCHAR(255)" : "TEXT";
}

const char* Dialect::LongTextType() const {
  return backend_ == Backend::kMysql ? "LONGTEXT" : "TEXT";
}

const char* Dialect::ForUpdate() const {
  return backend_ == Backend::kSqlite ? "" : " FOR UPDATE";
}

const char* Dialect::ForShare() const {
  switch (backend_) {
    case Backend::kPostgres:
      return " FOR SHARE";
    case Backend::kMysql:
      return " LOCK IN SHARE MODE";
    default:
      return "";
  }
}

const char* Dialect::InsertIgnore() const {
  switch (backend_) {
    case Backend::kSqlite:
      return "INSERT OR IGNORE INTO";
    case Backend::kMysql:
      return "INSERT IGNORE INTO";
    default:
      return "INSERT INTO";
  }
}

const char* Dialect::OnConflictIgnore() const {
  return backend_ == Backend::kPostgres ? " ON CONFLICT DO NOTHING" : "";
}

const char* Dialect::TableOptions() const {
  return backend_ == Backend::kMysql
             ? " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
             : "";
}

}  // namespace libshard::backend
