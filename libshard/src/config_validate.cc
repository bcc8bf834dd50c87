// The rules a ClusterConfig must satisfy, whether it came from YAML or was
// built in code: names are SQL-safe, every reference resolves, nothing is
// defined twice, limits hold. The first broken rule wins, checked in file
// order of the sections (cluster, databases, catalog, shards, entities).

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "config_internal.h"
#include "libshard/config.h"

namespace libshard {
namespace {

using config_internal::ReferenceMarks;

constexpr size_t kMaxIdentifierLength = 48;

// Keywords reserved by at least one of SQLite, PostgreSQL and MySQL/MariaDB
// that someone might pick as a column name. Index column names become SQL
// column names, so refusing them here beats a syntax error at `init` on one
// backend only. Entity and index names are always prefixed (ls_rec_users),
// so they need no such check.
// clang-format off
constexpr std::string_view kReservedWords[] = {
    "all", "and", "any", "as", "asc", "between", "both", "by", "case", "cast", "check",
    "collate", "column", "constraint", "create", "cross", "current_date", "current_time",
    "current_timestamp", "current_user", "default", "delete", "desc", "distinct", "do",
    "drop", "else", "end", "except", "exists", "false", "fetch", "for", "foreign", "from",
    "grant", "group", "having", "in", "index", "inner", "insert", "interval", "into",
    "is", "join", "key", "keys", "leading", "left", "like", "limit", "natural", "not",
    "null", "offset", "on", "only", "or", "order", "outer", "primary", "range",
    "references", "right", "row", "rows", "select", "session_user", "set", "some",
    "table", "then", "to", "trailing", "true", "union", "unique", "update", "user",
    "using", "values", "when", "where", "window", "with",
};
// clang-format on

bool IsReservedWord(std::string_view name) {
  return std::find(std::begin(kReservedWords), std::end(kReservedWords), name) !=
         std::end(kReservedWords);
}

Status ErrorAt(const SourceMark& mark, const std::string& message) {
  return Status::InvalidConfig(mark.ToString() + ": " + message);
}

std::string BadIdentifier(std::string_view kind, std::string_view name) {
  return std::string(kind) + " name '" + std::string(name) +
         "' is not a valid identifier (lowercase letters, digits and '_', "
         "not starting with a digit, at most 48 characters)";
}

// "line:col" of where something was first defined, for "defined twice".
std::string Where(const SourceMark& mark) {
  if (mark.line == 0) return "elsewhere";
  return "at " + std::to_string(mark.line) + ":" + std::to_string(mark.column);
}

class Validator {
 public:
  Validator(const ClusterConfig& config, const ReferenceMarks* marks)
      : config_(config), marks_(marks) {
    fallback_.file = config.source;
  }

  Status Run() {
    if (Status s = CheckCluster(); !s.ok()) return s;
    if (Status s = CheckDatabases(); !s.ok()) return s;
    if (Status s = CheckCatalog(); !s.ok()) return s;
    if (Status s = CheckShards(); !s.ok()) return s;
    if (Status s = CheckEntities(); !s.ok()) return s;
    return config_internal::ValidateCaches(
        config_, [](const SourceMark& mark, const std::string& message) {
          return ErrorAt(mark, message);
        });
  }

 private:
  Status CheckCluster() const {
    if (config_.buckets < 1 || config_.buckets > config_internal::kMaxBuckets) {
      return ErrorAt(config_.buckets_mark, "cluster.buckets must be an integer from 1 to 65536");
    }
    return Status::OK();
  }

  Status CheckDatabases() {
    if (config_.databases.empty()) {
      return ErrorAt(fallback_, "no databases are defined");
    }
    for (const DatabaseConfig& db : config_.databases) {
      if (!IsValidIdentifier(db.name)) {
        return ErrorAt(db.mark, BadIdentifier("database", db.name));
      }
      auto [it, inserted] = databases_.emplace(db.name, &db);
      if (!inserted) {
        return ErrorAt(db.mark, "database '" + db.name + "' is defined twice (first " +
                                    Where(it->second->mark) + ")");
      }
      std::string scheme = std::string(BackendName(db.backend)) + "://";
      if (db.url.compare(0, scheme.size(), scheme) != 0) {
        return ErrorAt(db.mark, "database '" + db.name + "': connection string \"" +
                                    db.RedactedUrl() + "\" does not start with " + scheme);
      }
      // The loader checked strings it read; a config built in code gets the
      // same check here.
      if (Status s = config_internal::CheckSettings(
              db.backend, std::string_view(db.url).substr(scheme.size()));
          !s.ok()) {
        return ErrorAt(db.mark, "database '" + db.name + "' (\"" + db.RedactedUrl() +
                                    "\"): " + s.message());
      }
      targets_[db.name] = config_internal::TargetOf(db.backend, db.url);
    }
    return Status::OK();
  }

  // Where database `name` is defined, for messages about two of them.
  std::string DefinedAt(const std::string& name) const {
    auto it = databases_.find(name);
    return it == databases_.end() ? "elsewhere" : Where(it->second->mark);
  }

  // Non-empty when databases `a` and `b` are two names for the same
  // database: " are the same database (SQLite file /x/s0.db; 'a' defined
  // at 4:3, 'b' at 5:3)", to follow the names.
  std::string SameDatabase(const std::string& a, const std::string& b) const {
    auto ta = targets_.find(a);
    auto tb = targets_.find(b);
    if (ta == targets_.end() || tb == targets_.end() || ta->second.key.empty() ||
        ta->second.key != tb->second.key) {
      return "";
    }
    return " are the same database (" + ta->second.description + "; '" + a + "' defined " +
           DefinedAt(a) + ", '" + b + "' " + DefinedAt(b) + ")";
  }

  Status CheckCatalog() const {
    SourceMark mark = marks_ != nullptr ? marks_->catalog : fallback_;
    if (config_.catalog.empty()) {
      return ErrorAt(mark, "catalog must name the database that holds the bucket map");
    }
    if (!databases_.count(config_.catalog)) {
      return ErrorAt(mark,
                     "catalog '" + config_.catalog + "' is not a database defined under databases");
    }
    return Status::OK();
  }

  Status CheckShards() const {
    SourceMark list_mark = marks_ != nullptr ? marks_->shards : fallback_;
    if (config_.shards.empty()) {
      return ErrorAt(list_mark, "shards is empty: list at least one record database");
    }
    // Empty = every weight 1 (configs built in code); otherwise one each.
    if (!config_.shard_weights.empty() &&
        config_.shard_weights.size() != config_.shards.size()) {
      return ErrorAt(list_mark, "shard_weights has " +
                                    std::to_string(config_.shard_weights.size()) +
                                    " entries but shards has " +
                                    std::to_string(config_.shards.size()) +
                                    "; give one weight per shard, or none");
    }
    std::set<std::string_view> seen;
    for (size_t i = 0; i < config_.shards.size(); ++i) {
      const std::string& shard = config_.shards[i];
      SourceMark mark =
          marks_ != nullptr && i < marks_->shard.size() ? marks_->shard[i] : list_mark;
      if (!databases_.count(shard)) {
        return ErrorAt(mark, "shard '" + shard + "' is not a database defined under databases");
      }
      if (shard == config_.catalog) {
        return ErrorAt(mark, "shard '" + shard +
                                 "' is the catalog database; the catalog must "
                                 "not also hold records");
      }
      if (!seen.insert(shard).second) {
        return ErrorAt(mark, "shard '" + shard + "' is listed twice");
      }
      if (i < config_.shard_weights.size() &&
          (config_.shard_weights[i] < 1 ||
           config_.shard_weights[i] > config_internal::kMaxShardWeight)) {
        return ErrorAt(mark, "shard '" + shard + "': weight " +
                                 std::to_string(config_.shard_weights[i]) +
                                 " is out of range; it must be an integer from 1 to " +
                                 std::to_string(config_internal::kMaxShardWeight));
      }
      // Two names for one database would store (and export, and count)
      // its records twice, and hold the catalog's tables next to records.
      if (std::string same = SameDatabase(config_.catalog, shard); !same.empty()) {
        return ErrorAt(mark, "shard '" + shard + "' and the catalog '" + config_.catalog + "'" +
                                 same + ": the catalog must not also hold records");
      }
      for (size_t j = 0; j < i; ++j) {
        if (std::string same = SameDatabase(config_.shards[j], shard); !same.empty()) {
          return ErrorAt(mark, "shards '" + config_.shards[j] + "' and '" + shard + "'" + same +
                                   ": records would be stored and exported twice");
        }
      }
    }
    // A shard that owns no bucket would never receive a record.
    if (config_.shards.size() > config_.buckets) {
      return ErrorAt(list_mark, std::to_string(config_.shards.size()) + " shards but only " +
                                    std::to_string(config_.buckets) +
                                    " buckets: each shard needs a bucket");
    }
    return Status::OK();
  }

  Status CheckEntities() const {
    std::map<std::string_view, const EntityConfig*> seen;
    for (size_t e = 0; e < config_.entities.size(); ++e) {
      const EntityConfig& entity = config_.entities[e];
      if (!IsValidIdentifier(entity.name)) {
        return ErrorAt(entity.mark, BadIdentifier("entity", entity.name));
      }
      auto [it, inserted] = seen.emplace(entity.name, &entity);
      if (!inserted) {
        return ErrorAt(entity.mark, "entity '" + entity.name + "' is defined twice (first " +
                                        Where(it->second->mark) + ")");
      }
      std::map<std::string_view, const IndexConfig*> indexes;
      for (size_t i = 0; i < entity.indexes.size(); ++i) {
        const IndexConfig& index = entity.indexes[i];
        if (!IsValidIdentifier(index.name)) {
          return ErrorAt(index.mark, BadIdentifier("index", index.name));
        }
        auto [prev, fresh] = indexes.emplace(index.name, &index);
        if (!fresh) {
          return ErrorAt(index.mark, "index '" + entity.name + "." + index.name +
                                         "' is defined twice (first " + Where(prev->second->mark) +
                                         ")");
        }
        if (Status s = CheckIndex(entity, e, i); !s.ok()) return s;
      }
    }
    return Status::OK();
  }

  Status CheckIndex(const EntityConfig& entity, size_t e, size_t i) const {
    const IndexConfig& index = entity.indexes[i];
    const std::string what = "index '" + entity.name + "." + index.name + "'";
    const std::vector<SourceMark>* db_marks = nullptr;
    if (marks_ != nullptr) {
      auto it = marks_->index_databases.find({e, i});
      if (it != marks_->index_databases.end()) db_marks = &it->second;
    }
    if (index.databases.empty()) {
      return ErrorAt(index.mark, what + " lists no databases");
    }
    std::set<std::string_view> seen;
    for (size_t k = 0; k < index.databases.size(); ++k) {
      const std::string& db = index.databases[k];
      SourceMark mark = db_marks != nullptr && k < db_marks->size() ? (*db_marks)[k] : index.mark;
      if (!databases_.count(db)) {
        return ErrorAt(mark, what + ": database '" + db + "' is not defined under databases");
      }
      if (!seen.insert(db).second) {
        return ErrorAt(mark, what + ": database '" + db + "' is listed twice");
      }
      // A writer holds its shard's write transaction while it writes index
      // rows; on SQLite an index in the same file would wait on itself.
      if (std::find(config_.shards.begin(), config_.shards.end(), db) != config_.shards.end()) {
        return ErrorAt(mark, what + ": database '" + db +
                                 "' is a record shard; indexes live in their own databases");
      }
      // The same rules for two names of one database.
      for (const std::string& shard : config_.shards) {
        if (std::string same = SameDatabase(shard, db); !same.empty()) {
          return ErrorAt(mark, what + ": database '" + db + "' and record shard '" + shard + "'" +
                                   same + ": indexes live in their own databases");
        }
      }
      for (size_t j = 0; j < k; ++j) {
        if (std::string same = SameDatabase(index.databases[j], db); !same.empty()) {
          return ErrorAt(mark, what + ": databases '" + index.databases[j] + "' and '" + db +
                                   "'" + same +
                                   ": each database of an index must be a different one");
        }
      }
    }
    if (index.columns.empty()) {
      return ErrorAt(index.mark, what + " has no columns");
    }
    // Index tables are named ls_idx_<entity>_<index>, plus short suffixes
    // for their SQL indexes; PostgreSQL cuts identifiers at 63 bytes.
    if (entity.name.size() + index.name.size() > config_internal::kMaxEntityPlusIndexName) {
      return ErrorAt(index.mark, what + ": entity and index names together may have at most " +
                                     std::to_string(config_internal::kMaxEntityPlusIndexName) +
                                     " characters (they name the index table)");
    }
    if (index.columns.size() > config_internal::kMaxIndexColumns) {
      return ErrorAt(index.columns[config_internal::kMaxIndexColumns].mark,
                     what + " has " + std::to_string(index.columns.size()) + " columns; at most " +
                         std::to_string(config_internal::kMaxIndexColumns) + " are allowed");
    }
    std::map<std::string_view, const IndexColumnConfig*> columns;
    for (const IndexColumnConfig& column : index.columns) {
      if (Status s = CheckColumn(what, column, static_cast<bool>(index.map)); !s.ok()) return s;
      auto [prev, fresh] = columns.emplace(column.name, &column);
      if (!fresh) {
        return ErrorAt(column.mark, what + ": column '" + column.name +
                                        "' is defined twice (first " + Where(prev->second->mark) +
                                        ")");
      }
    }
    return Status::OK();
  }

  static Status CheckColumn(const std::string& index, const IndexColumnConfig& column,
                            bool code_index) {
    if (!IsValidIdentifier(column.name)) {
      return ErrorAt(column.mark, index + ": " + BadIdentifier("column", column.name));
    }
    if (IsReservedWord(column.name)) {
      return ErrorAt(column.mark, index + ": column name '" + column.name +
                                      "' is a reserved SQL word; pick another");
    }
    if (!code_index && !config_internal::IsValidFieldPath(column.field)) {
      return ErrorAt(column.mark, index + ": column '" + column.name + "': bad field path '" +
                                      column.field +
                                      "' (expected names of [A-Za-z0-9_-] joined by '.', "
                                      "at most one ending in [])");
    }
    if (column.lower && column.type != ColumnType::kString) {
      return ErrorAt(column.mark, index + ": column '" + column.name +
                                      "': transform lower needs type string, not " +
                                      ColumnTypeName(column.type));
    }
    return Status::OK();
  }

  const ClusterConfig& config_;
  const ReferenceMarks* marks_;
  SourceMark fallback_;  // the file, without a position
  std::map<std::string_view, const DatabaseConfig*> databases_;
  std::map<std::string, config_internal::DatabaseTarget> targets_;  // by database name
};

}  // namespace

namespace config_internal {

Status ValidateConfig(const ClusterConfig& config, const ReferenceMarks* marks) {
  return Validator(config, marks).Run();
}

bool IsValidFieldPath(std::string_view path) {
  bool seen_array = false;
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string_view segment = path.substr(pos, dot == std::string_view::npos ? dot : dot - pos);
    if (segment.size() >= 2 && segment.substr(segment.size() - 2) == "[]") {
      if (seen_array) return false;
      seen_array = true;
      segment.remove_suffix(2);
    }
    if (segment.empty()) return false;
    for (char c : segment) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    pos = dot + 1;
  }
}

}  // namespace config_internal

bool IsValidIdentifier(std::string_view name) {
  if (name.empty() || name.size() > kMaxIdentifierLength) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

Status ClusterConfig::Validate() const { return config_internal::ValidateConfig(*this, nullptr); }

}  // namespace libshard
