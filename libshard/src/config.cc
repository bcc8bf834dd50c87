// ClusterConfig from YAML: one function per section of the file. The parser
// checks shape (types, known keys, connection strings, ${VAR}s) where it
// still holds the YAML node to point at; the rules on names and references
// live in config_validate.cc and run on the result, so a config built in
// code is held to the same rules.

#include "libshard/config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "config_internal.h"

namespace libshard {
namespace {

using config_internal::ReferenceMarks;

// A mapping entry. The key is kept because an empty value ("databases:")
// has no useful mark of its own: yaml-cpp places it on the next token.
struct Entry {
  YAML::Node key;
  YAML::Node value;
  const YAML::Node& where() const { return value.IsNull() ? key : value; }
};
using Fields = std::map<std::string, Entry>;

bool ParseU64(std::string_view text, int base, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// strerror() is not thread-safe; the generic category gives the same text.
Status ReadError(const std::string& path, int error) {
  return Status::InvalidConfig("cannot read config file " + path + ": " +
                               std::generic_category().message(error));
}

bool ParseColumnType(std::string_view name, ColumnType* type) {
  for (ColumnType t : {ColumnType::kInt, ColumnType::kFloat, ColumnType::kString, ColumnType::kBool,
                       ColumnType::kBytes}) {
    if (name == ColumnTypeName(t)) {
      *type = t;
      return true;
    }
  }
  return false;
}

// yaml-cpp 0.7 never consumes a ',' outside brackets between documents
// (",", "[1],", "a: 1\n...\n,"): its parser reports an empty document at
// the same place again and again, so YAML::LoadAll grows its result until
// memory runs out (found by fuzz/config_fuzzer.cc). This pass walks only the
// document boundaries and returns where the parser stops making progress.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> last;
  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

std::optional<YAML::Mark> FindStuckDocument(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentStarts starts;
  std::optional<int> previous;
  while (parser.HandleNextDocument(starts)) {
    if (!starts.last) break;
    if (previous && starts.last->pos == *previous) return starts.last;
    previous = starts.last->pos;
  }
  return std::nullopt;
}

class Parser {
 public:
  Parser(std::string source, std::string base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {
    config_.source = source_;
    config_.buckets_mark.file = source_;
    config_.hash_seed_mark.file = source_;
  }

  Result<ClusterConfig> Run(std::string_view yaml) {
    std::vector<YAML::Node> docs;
    try {
      const std::string text(yaml);
      if (std::optional<YAML::Mark> stuck = FindStuckDocument(text)) {
        const size_t at = static_cast<size_t>(stuck->pos);
        return ErrorAt(*stuck, "YAML syntax error: unexpected " +
                                   (at < text.size() ? "'" + text.substr(at, 1) + "'"
                                                     : std::string("end of input")));
      }
      docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
      return ErrorAt(e.mark, "YAML syntax error: " + e.msg);
    }
    if (docs.empty()) {
      return ErrorAt(YAML::Mark(), "the config is empty");
    }
    if (docs.size() > 1) {
      return ErrorAt(docs[1], "only one YAML document is allowed");
    }
    try {
      if (Status s = ParseDocument(docs[0]); !s.ok()) return s;
    } catch (const YAML::Exception& e) {
      // Not expected (the parser checks node types before reading), but
      // yaml-cpp throws rather than returns, so keep its position.
      return ErrorAt(e.mark, e.msg);
    }
    if (Status s = config_internal::ValidateConfig(config_, &marks_); !s.ok()) {
      return s;
    }
    return std::move(config_);
  }

 private:
  // yaml-cpp marks are 0-based; null_mark (-1) means "no position".
  SourceMark Mark(const YAML::Mark& m) const {
    SourceMark mark;
    mark.file = source_;
    mark.line = m.line >= 0 ? m.line + 1 : 1;
    mark.column = m.column >= 0 ? m.column + 1 : 1;
    return mark;
  }
  SourceMark Mark(const YAML::Node& node) const { return Mark(node.Mark()); }

  Status ErrorAt(const YAML::Mark& m, const std::string& message) const {
    return Status::InvalidConfig(Mark(m).ToString() + ": " + message);
  }
  Status ErrorAt(const YAML::Node& node, const std::string& message) const {
    return ErrorAt(node.Mark(), message);
  }

  // The entries of a mapping, refusing unknown and repeated keys: a typo
  // ("uniqe: true") must not silently fall back to a default.
  Result<Fields> ReadFields(const YAML::Node& map, const YAML::Node& where, const std::string& kind,
                            const std::string& what,
                            std::initializer_list<std::string_view> allowed) const {
    if (!map.IsMap()) return ErrorAt(where, what + " must be a mapping");
    Fields fields;
    for (const auto& pair : map) {
      // By value: yaml-cpp's iterators hand out short-lived proxies.
      Entry entry{pair.first, pair.second};
      if (!entry.key.IsScalar()) {
        return ErrorAt(entry.key, "keys in " + what + " must be plain names");
      }
      const std::string key = entry.key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return ErrorAt(entry.key, "unknown " + kind + " key '" + key + "'");
      }
      if (!fields.emplace(key, entry).second) {
        return ErrorAt(entry.key, "'" + key + "' is set twice in " + what);
      }
    }
    return fields;
  }

  // A required key's entry, or an error at the mapping that lacks it.
  Result<Entry> Require(const Fields& fields, const std::string& key, const YAML::Node& map,
                        const std::string& what) const {
    auto it = fields.find(key);
    if (it == fields.end()) {
      return ErrorAt(map, what + " needs '" + key + "'");
    }
    return it->second;
  }

  Result<std::string> ReadScalar(const YAML::Node& node, const YAML::Node& where,
                                 const std::string& what) const {
    if (!node.IsScalar()) return ErrorAt(where, what + " must be a single value");
    return node.Scalar();
  }

  // A list of names; each element's mark goes to `marks`.
  Status ReadNameList(const Entry& entry, const std::string& what, std::vector<std::string>* names,
                      std::vector<SourceMark>* marks) const {
    if (entry.value.IsNull()) return Status::OK();  // empty; Validate says so
    if (!entry.value.IsSequence()) {
      return ErrorAt(entry.where(), what + " must be a list of database names, e.g. [s0, s1]");
    }
    for (const YAML::Node& item : entry.value) {
      Result<std::string> name = ReadScalar(item, item, "each entry of " + what);
      if (!name.ok()) return name.status();
      names->push_back(*name);
      marks->push_back(Mark(item));
    }
    return Status::OK();
  }

  Status ParseDocument(const YAML::Node& root) {
    if (root.IsNull()) return ErrorAt(YAML::Mark(), "the config is empty");
    Result<Fields> fields = ReadFields(root, root, "top-level", "the config",
                                       {"cluster", "catalog", "databases", "shards", "entities", "caches"});
    if (!fields.ok()) return fields.status();
    // Databases first: the other sections refer to them.
    for (const char* key : {"databases", "catalog", "shards"}) {
      if (!fields->count(key)) {
        return ErrorAt(root, std::string("missing required key '") + key + "'");
      }
    }
    if (auto it = fields->find("cluster"); it != fields->end()) {
      if (Status s = ParseCluster(it->second); !s.ok()) return s;
    }
    if (Status s = ParseDatabases(fields->at("databases")); !s.ok()) return s;
    if (Status s = ParseCatalog(fields->at("catalog")); !s.ok()) return s;
    if (Status s = ParseShards(fields->at("shards")); !s.ok()) return s;
    if (auto it = fields->find("caches"); it != fields->end()) {
      if (Status s = ParseCaches(it->second); !s.ok()) return s;
    }
    if (auto it = fields->find("entities"); it != fields->end()) {
      if (Status s = ParseEntities(it->second); !s.ok()) return s;
    }
    return Status::OK();
  }

  // `caches: {hot: "redis://127.0.0.1:6379"}`: names → connection strings.
  Status ParseCaches(const Entry& entry) {
    if (entry.value.IsNull()) return Status::OK();
    if (!entry.value.IsMap()) {
      return ErrorAt(entry.where(), "caches must map names to connection strings, e.g. "
                                    "hot: \"redis://127.0.0.1:6379\"");
    }
    for (const auto& pair : entry.value) {
      const YAML::Node key = pair.first;
      const YAML::Node value = pair.second;
      Result<std::string> name = ReadScalar(key, key, "a cache server name");
      if (!name.ok()) return name.status();
      CacheServerConfig cache;
      cache.name = *name;
      cache.mark = Mark(key);
      const std::string what = "cache server '" + cache.name + "'";
      if (!value.IsScalar()) {
        return ErrorAt(value.IsNull() ? key : value,
                       what + ": the connection string must be a string");
      }
      Result<std::string> url = config_internal::SubstituteEnv(value.Scalar());
      if (!url.ok()) return ErrorAt(value, what + ": " + url.status().message());
      cache.url = *url;
      config_.caches.push_back(std::move(cache));
    }
    return Status::OK();
  }

  // An entity's `cache: {memory: 64MiB, shared: hot, ttl: 60s, memory_ttl: 5s}`.
  Status ParseEntityCache(const Entry& entry, const std::string& entity,
                          EntityCacheConfig* cache) {
    const std::string what = "cache of entity '" + entity + "'";
    Result<Fields> fields = ReadFields(entry.value, entry.where(), "cache", what,
                                       {"memory", "shared", "ttl", "memory_ttl"});
    if (!fields.ok()) return fields.status();
    cache->mark = Mark(entry.where());
    if (!fields->count("memory") && !fields->count("shared")) {
      return ErrorAt(entry.where(), what + " needs 'memory', 'shared' or both");
    }
    if (auto it = fields->find("memory"); it != fields->end()) {
      const YAML::Node& node = it->second.value;
      if (!node.IsScalar() || !config_internal::ParseByteSize(node.Scalar(), &cache->memory_bytes) ||
          cache->memory_bytes == 0) {
        return ErrorAt(it->second.where(),
                       what + ": memory must be a size such as 64MiB (B, KiB, MiB, GiB)");
      }
    }
    if (auto it = fields->find("shared"); it != fields->end()) {
      Result<std::string> name = ReadScalar(it->second.value, it->second.where(), what + ": shared");
      if (!name.ok()) return name.status();
      cache->shared = *name;
    }
    for (const char* key : {"ttl", "memory_ttl"}) {
      auto it = fields->find(key);
      if (it == fields->end()) continue;
      const YAML::Node& node = it->second.value;
      std::chrono::milliseconds* out = std::string_view(key) == "ttl" ? &cache->ttl
                                                                       : &cache->memory_ttl;
      if (!node.IsScalar() || !config_internal::ParseDurationMs(node.Scalar(), out) ||
          out->count() == 0) {
        return ErrorAt(it->second.where(), what + ": " + key +
                                               " must be a duration such as 60s (ms, s, m, h)");
      }
    }
    return Status::OK();
  }

  Status ParseCluster(const Entry& entry) {
    if (entry.value.IsNull()) return Status::OK();  // all defaults
    Result<Fields> fields =
        ReadFields(entry.value, entry.where(), "cluster", "cluster", {"buckets", "hash_seed"});
    if (!fields.ok()) return fields.status();
    if (auto it = fields->find("buckets"); it != fields->end()) {
      const YAML::Node& node = it->second.value;
      uint64_t buckets = 0;
      if (!node.IsScalar() || !ParseU64(node.Scalar(), 10, &buckets) || buckets < 1 ||
          buckets > config_internal::kMaxBuckets) {
        return ErrorAt(it->second.where(), "cluster.buckets must be an integer from 1 to 65536");
      }
      config_.buckets = static_cast<uint32_t>(buckets);
      config_.buckets_mark = Mark(node);
    }
    if (auto it = fields->find("hash_seed"); it != fields->end()) {
      const YAML::Node& node = it->second.value;
      const std::string scalar = node.IsScalar() ? node.Scalar() : std::string();
      std::string_view text = scalar;
      bool hex = text.size() > 2 && (text.substr(0, 2) == "0x" || text.substr(0, 2) == "0X");
      if (!ParseU64(hex ? text.substr(2) : text, hex ? 16 : 10, &config_.hash_seed)) {
        return ErrorAt(it->second.where(), "cluster.hash_seed must be an unsigned 64-bit integer");
      }
      config_.hash_seed_mark = Mark(node);
    }
    return Status::OK();
  }

  Status ParseDatabases(const Entry& entry) {
    if (!entry.value.IsMap() || entry.value.size() == 0) {
      return ErrorAt(entry.where(),
                     "databases must map names to connection strings, e.g. "
                     "s0: \"sqlite3://db=data/s0.db\"");
    }
    // Not ReadFields: names are free-form here, and a name given twice must
    // reach Validate as two entries so it can say "defined twice".
    for (const auto& pair : entry.value) {
      const YAML::Node key = pair.first;
      const YAML::Node value = pair.second;
      DatabaseConfig db;
      Result<std::string> name = ReadScalar(key, key, "a database name");
      if (!name.ok()) return name.status();
      db.name = *name;
      db.mark = Mark(key);
      const std::string what = "database '" + db.name + "'";
      if (!value.IsScalar()) {
        return ErrorAt(value.IsNull() ? key : value,
                       what + ": the connection string must be a string");
      }
      Result<std::string> url = config_internal::SubstituteEnv(value.Scalar());
      if (!url.ok()) return ErrorAt(value, what + ": " + url.status().message());
      Result<config_internal::ParsedUrl> parsed =
          config_internal::NormalizeDatabaseUrl(*url, base_dir_);
      if (!parsed.ok()) {
        // Quote the text as written (with ${VAR}, not its value), redacted.
        return ErrorAt(
            value, what + " (\"" + RedactUrl(value.Scalar()) + "\"): " + parsed.status().message());
      }
      db.backend = parsed->backend;
      db.url = std::move(parsed->url);
      config_.databases.push_back(std::move(db));
    }
    return Status::OK();
  }

  Status ParseCatalog(const Entry& entry) {
    Result<std::string> name = ReadScalar(entry.value, entry.where(), "catalog");
    if (!name.ok()) return name.status();
    config_.catalog = *name;
    marks_.catalog = Mark(entry.where());
    return Status::OK();
  }

  // `shards: [s0, {name: s1, weight: 2}]`: each entry a database name
  // (weight 1) or a mapping with `name` and an optional `weight`.
  Status ParseShards(const Entry& entry) {
    marks_.shards = Mark(entry.where());
    if (entry.value.IsNull()) return Status::OK();  // empty; Validate says so
    if (!entry.value.IsSequence()) {
      return ErrorAt(entry.where(),
                     "shards must be a list of database names, e.g. [s0, s1] or "
                     "[s0, {name: s1, weight: 2}]");
    }
    for (const YAML::Node& item : entry.value) {
      if (!item.IsMap()) {
        Result<std::string> name = ReadScalar(item, item, "each entry of shards");
        if (!name.ok()) return name.status();
        config_.shards.push_back(*name);
        config_.shard_weights.push_back(1);
        marks_.shard.push_back(Mark(item));
        continue;
      }
      Result<Fields> fields = ReadFields(item, item, "shard", "a shard entry", {"name", "weight"});
      if (!fields.ok()) return fields.status();
      Result<Entry> name_entry = Require(*fields, "name", item, "a shard entry");
      if (!name_entry.ok()) return name_entry.status();
      Result<std::string> name = ReadScalar(name_entry->value, name_entry->where(), "shard name");
      if (!name.ok()) return name.status();
      uint32_t weight = 1;
      if (auto it = fields->find("weight"); it != fields->end()) {
        const YAML::Node& node = it->second.value;
        uint64_t value = 0;
        if (!node.IsScalar() || !ParseU64(node.Scalar(), 10, &value) || value < 1 ||
            value > config_internal::kMaxShardWeight) {
          return ErrorAt(it->second.where(),
                         "shard '" + *name + "': weight must be an integer from 1 to " +
                             std::to_string(config_internal::kMaxShardWeight));
        }
        weight = static_cast<uint32_t>(value);
      }
      config_.shards.push_back(*name);
      config_.shard_weights.push_back(weight);
      marks_.shard.push_back(Mark(name_entry->where()));
    }
    return Status::OK();
  }

  Status ParseEntities(const Entry& entry) {
    if (entry.value.IsNull()) return Status::OK();
    if (!entry.value.IsSequence()) {
      return ErrorAt(entry.where(), "entities must be a list of {name, indexes}");
    }
    for (const YAML::Node& node : entry.value) {
      if (Status s = ParseEntity(node); !s.ok()) return s;
    }
    return Status::OK();
  }

  Status ParseEntity(const YAML::Node& node) {
    Result<Fields> fields = ReadFields(node, node, "entity", "an entity", {"name", "indexes", "cache"});
    if (!fields.ok()) return fields.status();
    Result<Entry> name_entry = Require(*fields, "name", node, "an entity");
    if (!name_entry.ok()) return name_entry.status();
    EntityConfig entity;
    Result<std::string> name = ReadScalar(name_entry->value, name_entry->where(), "name");
    if (!name.ok()) return name.status();
    entity.name = *name;
    entity.mark = Mark(name_entry->where());

    const size_t e = config_.entities.size();
    if (auto it = fields->find("indexes"); it != fields->end() && !it->second.value.IsNull()) {
      const Entry& indexes = it->second;
      if (!indexes.value.IsSequence()) {
        return ErrorAt(indexes.where(), "indexes of entity '" + entity.name + "' must be a list");
      }
      for (const YAML::Node& index_node : indexes.value) {
        IndexConfig index;
        if (Status s = ParseIndex(index_node, entity.name, {e, entity.indexes.size()}, &index);
            !s.ok()) {
          return s;
        }
        entity.indexes.push_back(std::move(index));
      }
    }
    if (auto it = fields->find("cache"); it != fields->end() && !it->second.value.IsNull()) {
      if (Status st = ParseEntityCache(it->second, entity.name, &entity.cache); !st.ok()) {
        return st;
      }
    }
    config_.entities.push_back(std::move(entity));
    return Status::OK();
  }

  Status ParseIndex(const YAML::Node& node, const std::string& entity,
                    std::pair<size_t, size_t> position, IndexConfig* index) {
    Result<Fields> fields =
        ReadFields(node, node, "index", "an index", {"name", "databases", "unique", "columns"});
    if (!fields.ok()) return fields.status();
    Result<Entry> name_entry = Require(*fields, "name", node, "an index");
    if (!name_entry.ok()) return name_entry.status();
    Result<std::string> name = ReadScalar(name_entry->value, name_entry->where(), "name");
    if (!name.ok()) return name.status();
    index->name = *name;
    index->mark = Mark(name_entry->where());
    const std::string what = "index '" + entity + "." + index->name + "'";

    Result<Entry> databases = Require(*fields, "databases", node, what);
    if (!databases.ok()) return databases.status();
    if (Status s = ReadNameList(*databases, what + " databases", &index->databases,
                                &marks_.index_databases[position]);
        !s.ok()) {
      return s;
    }

    if (auto it = fields->find("unique"); it != fields->end()) {
      if (!YAML::convert<bool>::decode(it->second.value, index->unique)) {
        return ErrorAt(it->second.where(), what + ": unique must be true or false");
      }
    }

    Result<Entry> columns = Require(*fields, "columns", node, what);
    if (!columns.ok()) return columns.status();
    if (columns->value.IsNull()) return Status::OK();  // Validate: no columns
    if (!columns->value.IsSequence()) {
      return ErrorAt(columns->where(), what + ": columns must be a list");
    }
    for (const YAML::Node& column_node : columns->value) {
      IndexColumnConfig column;
      if (Status s = ParseColumn(column_node, what, &column); !s.ok()) return s;
      index->columns.push_back(std::move(column));
    }
    return Status::OK();
  }

  Status ParseColumn(const YAML::Node& node, const std::string& index, IndexColumnConfig* column) {
    const std::string what = "a column of " + index;
    Result<Fields> fields =
        ReadFields(node, node, "column", what, {"name", "type", "field", "transform"});
    if (!fields.ok()) return fields.status();
    Result<Entry> name_entry = Require(*fields, "name", node, what);
    if (!name_entry.ok()) return name_entry.status();
    Result<std::string> name = ReadScalar(name_entry->value, name_entry->where(), "name");
    if (!name.ok()) return name.status();
    column->name = *name;
    column->mark = Mark(name_entry->where());
    const std::string prefix = index + ": column '" + column->name + "': ";

    Result<Entry> type_entry = Require(*fields, "type", node, prefix.substr(0, prefix.size() - 2));
    if (!type_entry.ok()) return type_entry.status();
    if (!type_entry->value.IsScalar() ||
        !ParseColumnType(type_entry->value.Scalar(), &column->type)) {
      return ErrorAt(type_entry->where(),
                     prefix + "type must be int, float, string, bool or bytes");
    }

    // The field defaults to the column's name: {name: email, type: string}.
    column->field = column->name;
    if (auto it = fields->find("field"); it != fields->end()) {
      Result<std::string> field =
          ReadScalar(it->second.value, it->second.where(), prefix + "field");
      if (!field.ok()) return field.status();
      if (!config_internal::IsValidFieldPath(*field)) {
        return ErrorAt(it->second.where(), prefix + "bad field path '" + *field +
                                               "' (expected names of [A-Za-z0-9_-] joined by '.', "
                                               "at most one ending in [])");
      }
      column->field = *field;
    }

    if (auto it = fields->find("transform"); it != fields->end()) {
      const YAML::Node& value = it->second.value;
      if (!value.IsScalar() || value.Scalar() != "lower") {
        return ErrorAt(it->second.where(), prefix + "the only transform is lower");
      }
      if (column->type != ColumnType::kString) {
        return ErrorAt(it->second.where(), prefix + "transform lower needs type string, not " +
                                               ColumnTypeName(column->type));
      }
      column->lower = true;
    }
    return Status::OK();
  }

  std::string source_;
  std::string base_dir_;  // absolute
  ClusterConfig config_;
  ReferenceMarks marks_;
};

}  // namespace

std::string SourceMark::ToString() const {
  std::string out = file.empty() ? "<config>" : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

const char* ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kInt:
      return "int";
    case ColumnType::kFloat:
      return "float";
    case ColumnType::kString:
      return "string";
    case ColumnType::kBool:
      return "bool";
    case ColumnType::kBytes:
      return "bytes";
  }
  return "unknown";  // an out-of-range value cast to ColumnType
}

const char* BackendName(Backend b) {
  // SOCI's backend names, so BackendName(b) + "://" is the URL scheme.
  switch (b) {
    case Backend::kSqlite:
      return "sqlite3";
    case Backend::kPostgres:
      return "postgresql";
    case Backend::kMysql:
      return "mysql";
  }
  return "unknown";
}

const IndexConfig* EntityConfig::FindIndex(std::string_view index_name) const {
  for (const IndexConfig& index : indexes) {
    if (index.name == index_name) return &index;
  }
  return nullptr;
}

const DatabaseConfig* ClusterConfig::FindDatabase(std::string_view name) const {
  for (const DatabaseConfig& db : databases) {
    if (db.name == name) return &db;
  }
  return nullptr;
}

uint32_t ClusterConfig::ShardWeight(size_t i) const {
  return i < shard_weights.size() ? shard_weights[i] : 1;
}

const EntityConfig* ClusterConfig::FindEntity(std::string_view name) const {
  for (const EntityConfig& entity : entities) {
    if (entity.name == name) return &entity;
  }
  return nullptr;
}

Result<ClusterConfig> ClusterConfig::Load(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return ReadError(path, errno);
  }
  std::string text;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  // fopen succeeds on a directory; the read is what fails (EISDIR).
  int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) return ReadError(path, error);
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  return Parse(text, path, dir.string());
}

Result<ClusterConfig> ClusterConfig::Parse(std::string_view yaml, const std::string& source,
                                           const std::string& base_dir) {
  std::error_code ec;
  std::filesystem::path base = base_dir.empty() ? std::filesystem::current_path(ec)
                                                : std::filesystem::absolute(base_dir, ec);
  if (ec) {
    return Status::InvalidConfig("cannot resolve the directory of " +
                                 (source.empty() ? std::string("<config>") : source) + ": " +
                                 ec.message());
  }
  return Parser(source, base.lexically_normal().string()).Run(yaml);
}

}  // namespace libshard
