// Test clusters on each backend: see test_cluster.h for the contract.
#include "support/test_cluster.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace libshard::testing {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxIdentifier = 48;  // IsValidIdentifier: [a-z_][a-z0-9_]{0,47}

// Temp directories made by MakeTempDir, removed at process exit unless
// LIBSHARD_KEEP_TMP is set.
class TempDirRegistry {
 public:
  static TempDirRegistry& Get() {
    static TempDirRegistry registry;
    return registry;
  }
  void Add(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.push_back(dir);
  }
  ~TempDirRegistry() {
    const char* keep = std::getenv("LIBSHARD_KEEP_TMP");
    if (keep != nullptr && *keep != '\0') return;
    for (const std::string& d : dirs_) {
      std::error_code ec;
      fs::remove_all(d, ec);  // best effort
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::string> dirs_;
};

// A short tag, random per process run, so entity names differ between runs
// that share server databases (and between concurrently running binaries).
const std::string& RunTag() {
  static const std::string tag = [] {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device rd;
    std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                        static_cast<uint64_t>(::getpid()));
    std::uniform_int_distribution<int> pick(0, 35);
    std::string t;
    t.push_back(kChars[pick(rng) % 26]);  // keep the tag itself identifier-like
    for (int i = 0; i < 4; ++i) t.push_back(kChars[pick(rng)]);
    return t;
  }();
  return tag;
}

std::string UniqueEntityName(const std::string& name) {
  static std::atomic<uint64_t> counter{0};
  std::string base;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 'A' && u <= 'Z') {
      base.push_back(static_cast<char>(u - 'A' + 'a'));
    } else if ((u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '_') {
      base.push_back(c);
    } else {
      base.push_back('_');
    }
  }
  if (base.empty() || (base[0] >= '0' && base[0] <= '9')) base.insert(0, "e");
  std::string suffix = "_" + RunTag() + "_" + std::to_string(++counter);
  if (base.size() + suffix.size() > kMaxIdentifier) {
    base.resize(kMaxIdentifier - suffix.size());
  }
  return base + suffix;
}

std::string RequireEnv(const char* name, TestBackend backend) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(
        std::string("LIBSHARD_TEST_BACKEND=") + TestBackendName(backend) + " needs " +
        name + " in the environment: run `scripts/servers.sh start` first and "
        "`source /tmp/libshard-servers/env.sh` (or $LIBSHARD_RUN_DIR/env.sh)");
  }
  return v;
}

// Server catalogs are shared per cluster shape (see test_cluster.h).
std::string ServerCatalogDatabase(int shards, TestBackend backend) {
  switch (shards) {
    case 4: return "ls_catalog";
    case 2: return "ls_catalog2";
    case 10: return "ls_catalog10";
    default:
      throw std::runtime_error(
          "MakeCluster: " + std::to_string(shards) + " shards is not available on the " +
          TestBackendName(backend) +
          " backend: scripts/servers.sh creates catalogs for 2, 4 and 10 shards only "
          "(ls_catalog2, ls_catalog, ls_catalog10); use sqlite for other shapes");
  }
}

enum class Kind { kSqlite, kPostgres, kMysql };

struct Db {
  std::string name;
  Kind kind;
  std::string target;  // file path (sqlite) or database name (servers)
};

// The connection string, as libshard sees it (`yaml` = false) or as written
// to the YAML file (`yaml` = true: the MariaDB password stays a ${VAR}).
std::string Url(const Db& db, bool yaml, TestBackend backend) {
  switch (db.kind) {
    case Kind::kSqlite:
      return "sqlite3://db=" + db.target;
    case Kind::kPostgres:
      return "postgresql://host=127.0.0.1 port=" +
             RequireEnv("LIBSHARD_PG_PORT", backend) + " dbname=" +
             db.target + " user=postgres connect_timeout=5";
    case Kind::kMysql:
      return "mysql://host=127.0.0.1 port=" +
             RequireEnv("LIBSHARD_MYSQL_PORT", backend) + " db=" + db.target +
             " user=" + RequireEnv("LIBSHARD_MYSQL_USER", backend) +
             " password=" +
             (yaml ? std::string("${LIBSHARD_MYSQL_PASSWORD}")
                   : RequireEnv("LIBSHARD_MYSQL_PASSWORD", backend));
  }
  return "";
}

Backend ToBackend(Kind k) {
  switch (k) {
    case Kind::kSqlite: return Backend::kSqlite;
    case Kind::kPostgres: return Backend::kPostgres;
    case Kind::kMysql: return Backend::kMysql;
  }
  return Backend::kSqlite;
}

void WriteYaml(const ClusterConfig& config,
               const std::vector<std::pair<std::string, std::string>>& urls,
               const std::string& path) {
  YAML::Emitter out;
  out << YAML::Comment("Written by tests/support/test_cluster.cc (MakeCluster)");
  out << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "buckets" << YAML::Value << config.buckets;
  out << YAML::Key << "hash_seed" << YAML::Value << config.hash_seed;
  out << YAML::EndMap;
  out << YAML::Key << "catalog" << YAML::Value << config.catalog;
  out << YAML::Key << "databases" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, url] : urls) {
    out << YAML::Key << name << YAML::Value << YAML::DoubleQuoted << url;
  }
  out << YAML::EndMap;
  out << YAML::Key << "shards" << YAML::Value << YAML::Flow << config.shards;
  if (!config.caches.empty()) {
    out << YAML::Key << "caches" << YAML::Value << YAML::BeginMap;
    for (const CacheServerConfig& c : config.caches) {
      out << YAML::Key << c.name << YAML::Value << YAML::DoubleQuoted << c.url;
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "entities" << YAML::Value << YAML::BeginSeq;
  for (const EntityConfig& e : config.entities) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << e.name;
    if (e.cache.enabled()) {
      out << YAML::Key << "cache" << YAML::Value << YAML::Flow << YAML::BeginMap;
      if (e.cache.memory_bytes > 0) {
        out << YAML::Key << "memory" << YAML::Value << std::to_string(e.cache.memory_bytes);
      }
      if (!e.cache.shared.empty()) out << YAML::Key << "shared" << YAML::Value << e.cache.shared;
      out << YAML::Key << "ttl" << YAML::Value << std::to_string(e.cache.ttl.count()) + "ms";
      if (e.cache.memory_ttl.count() > 0) {
        out << YAML::Key << "memory_ttl" << YAML::Value
            << std::to_string(e.cache.memory_ttl.count()) + "ms";
      }
      out << YAML::EndMap;
    }
    if (!e.indexes.empty()) {
      out << YAML::Key << "indexes" << YAML::Value << YAML::BeginSeq;
      for (const IndexConfig& ix : e.indexes) {
        out << YAML::BeginMap;
        out << YAML::Key << "name" << YAML::Value << ix.name;
        out << YAML::Key << "databases" << YAML::Value << YAML::Flow << ix.databases;
        if (ix.unique) out << YAML::Key << "unique" << YAML::Value << true;
        out << YAML::Key << "columns" << YAML::Value << YAML::BeginSeq;
        for (const IndexColumnConfig& c : ix.columns) {
          out << YAML::Flow << YAML::BeginMap;
          out << YAML::Key << "name" << YAML::Value << c.name;
          out << YAML::Key << "type" << YAML::Value << ColumnTypeName(c.type);
          out << YAML::Key << "field" << YAML::Value << YAML::DoubleQuoted << c.field;
          if (c.lower) out << YAML::Key << "transform" << YAML::Value << "lower";
          out << YAML::EndMap;
        }
        out << YAML::EndSeq << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  if (!out.good()) {
    throw std::runtime_error("MakeCluster: YAML emitter failed: " + out.GetLastError());
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << out.c_str() << "\n";
  f.close();
  if (!f) throw std::runtime_error("MakeCluster: cannot write " + path);
}

}  // namespace

TestBackend BackendFromEnv() {
  const char* v = std::getenv("LIBSHARD_TEST_BACKEND");
  if (v == nullptr || *v == '\0') return TestBackend::kSqlite;
  std::string s(v);
  if (s == "sqlite") return TestBackend::kSqlite;
  if (s == "postgres" || s == "postgresql") return TestBackend::kPostgres;
  if (s == "mariadb" || s == "mysql") return TestBackend::kMariadb;
  if (s == "mixed") return TestBackend::kMixed;
  throw std::runtime_error("LIBSHARD_TEST_BACKEND='" + s +
                           "' is not one of sqlite, postgres, mariadb, mixed");
}

const char* TestBackendName(TestBackend b) {
  switch (b) {
    case TestBackend::kSqlite: return "sqlite";
    case TestBackend::kPostgres: return "postgres";
    case TestBackend::kMariadb: return "mariadb";
    case TestBackend::kMixed: return "mixed";
  }
  return "?";
}

std::string TestCluster::Entity(const std::string& name) const {
  for (const auto& [original, unique] : entity_names) {
    if (original == name) return unique;
  }
  throw std::out_of_range("TestCluster::Entity: no entity '" + name +
                          "' was declared in the ClusterSpec");
}

std::string MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string clean;
  for (char c : prefix) {
    clean.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
                        ? c
                        : '_');
  }
  if (clean.empty()) clean = "libshard";
  std::string templ = base + "/" + clean + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("MakeTempDir: mkdtemp(" + templ + ") failed: " +
                             std::strerror(errno));
  }
  std::string dir = fs::absolute(fs::path(buf.data())).string();
  TempDirRegistry::Get().Add(dir);
  return dir;
}

// Creates a database on a test server with the command-line client (the
// servers are throwaway, so the databases are never dropped).
void CreateServerDatabase(Kind kind, const std::string& name, TestBackend backend) {
  std::string cmd;
  if (kind == Kind::kPostgres) {
    cmd = "psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + RequireEnv("LIBSHARD_PG_PORT", backend) +
          " -U postgres -d postgres -c 'CREATE DATABASE " + name + "' >/dev/null";
  } else {
    cmd = "mariadb --no-defaults -h 127.0.0.1 -P " + RequireEnv("LIBSHARD_MYSQL_PORT", backend) +
          " -u " + RequireEnv("LIBSHARD_MYSQL_USER", backend) + " -p" +
          RequireEnv("LIBSHARD_MYSQL_PASSWORD", backend) + " -e 'CREATE DATABASE " + name +
          " CHARACTER SET utf8mb4'";
  }
  if (std::system(cmd.c_str()) != 0) {
    throw std::runtime_error("MakeCluster: could not create database " + name);
  }
}

TestCluster MakeCluster(TestBackend backend, const ClusterSpec& spec) {
  if (spec.spare_shards < 0 || (spec.fresh_databases ? spec.shards + spec.spare_shards > 64
                                                      : spec.shards + spec.spare_shards > 10)) {
    throw std::runtime_error("MakeCluster: too many shards");
  }
  if (spec.shards < 1 || (!spec.fresh_databases && spec.shards > 10)) {
    throw std::runtime_error("MakeCluster: shards must be 1..10, got " +
                             std::to_string(spec.shards));
  }
  TestCluster tc;
  tc.dir = MakeTempDir(std::string("libshard-") + TestBackendName(backend));
  tc.yaml_path = tc.dir + "/libshard.yaml";

  auto sqlite = [&](const std::string& name) {
    return Db{name, Kind::kSqlite, tc.dir + "/" + name + ".db"};
  };
  static std::atomic<int> fresh_counter{0};
  const std::string fresh_prefix =
      "ls_f_" + RunTag() + "_" + std::to_string(::getpid()) + "_" + std::to_string(++fresh_counter);
  auto server = [&](const std::string& name, Kind kind, const std::string& database) {
    if (!spec.fresh_databases) return Db{name, kind, database};
    std::string fresh = fresh_prefix + "_" + name;
    CreateServerDatabase(kind, fresh, backend);
    return Db{name, kind, fresh};
  };
  const int all_shards = spec.shards + spec.spare_shards;
  if (spec.spare_shards > 0 && !spec.fresh_databases && backend != TestBackend::kSqlite) {
    throw std::runtime_error("MakeCluster: spare_shards needs fresh_databases on servers");
  }

  // Index databases: those the spec lists plus any an index refers to.
  std::vector<std::string> index_dbs = spec.index_databases;
  for (const EntityConfig& e : spec.entities) {
    for (const IndexConfig& ix : e.indexes) {
      for (const std::string& d : ix.databases) {
        if (std::find(index_dbs.begin(), index_dbs.end(), d) == index_dbs.end()) {
          index_dbs.push_back(d);
        }
      }
    }
  }
  for (const std::string& d : index_dbs) {
    if (d != "idx0" && d != "idx1") {
      throw std::runtime_error("MakeCluster: index database '" + d +
                               "' is not one of idx0, idx1");
    }
  }

  std::vector<Db> dbs;
  switch (backend) {
    case TestBackend::kSqlite:
      dbs.push_back(sqlite("catalog"));
      for (int k = 0; k < all_shards; ++k) dbs.push_back(sqlite("s" + std::to_string(k)));
      for (const std::string& d : index_dbs) dbs.push_back(sqlite(d));
      break;
    case TestBackend::kPostgres:
    case TestBackend::kMariadb: {
      Kind kind = backend == TestBackend::kPostgres ? Kind::kPostgres : Kind::kMysql;
      dbs.push_back(server("catalog", kind,
                           spec.fresh_databases ? "" : ServerCatalogDatabase(spec.shards, backend)));
      for (int k = 0; k < all_shards; ++k) {
        dbs.push_back(server("s" + std::to_string(k), kind, "ls_s" + std::to_string(k)));
      }
      for (const std::string& d : index_dbs) dbs.push_back(server(d, kind, "ls_" + d));
      break;
    }
    case TestBackend::kMixed:
      dbs.push_back(sqlite("catalog"));
      for (int k = 0; k < all_shards; ++k) {
        std::string name = "s" + std::to_string(k);
        switch (k % 3) {
          case 0: dbs.push_back(sqlite(name)); break;
          case 1: dbs.push_back(server(name, Kind::kPostgres, "ls_" + name)); break;
          case 2: dbs.push_back(server(name, Kind::kMysql, "ls_" + name)); break;
        }
      }
      for (const std::string& d : index_dbs) {
        dbs.push_back(d == "idx0" ? sqlite(d) : server(d, Kind::kPostgres, "ls_" + d));
      }
      break;
  }

  ClusterConfig& cfg = tc.config;
  cfg.source = tc.yaml_path;
  cfg.buckets = 1024;
  cfg.hash_seed = 0;
  cfg.catalog = "catalog";
  for (const Db& db : dbs) {
    DatabaseConfig d;
    d.name = db.name;
    d.backend = ToBackend(db.kind);
    d.url = Url(db, false, backend);
    cfg.databases.push_back(std::move(d));
  }
  for (int k = 0; k < spec.shards; ++k) cfg.shards.push_back("s" + std::to_string(k));
  for (const EntityConfig& e : spec.entities) {
    EntityConfig copy = e;
    copy.name = UniqueEntityName(e.name);
    tc.entity_names.emplace_back(e.name, copy.name);
    cfg.entities.push_back(std::move(copy));
  }

  if (Status s = cfg.Validate(); !s.ok()) {
    throw std::runtime_error("MakeCluster: the generated config is invalid: " +
                             s.ToString());
  }
  std::vector<std::pair<std::string, std::string>> urls;
  for (const Db& db : dbs) urls.emplace_back(db.name, Url(db, true, backend));
  WriteYaml(cfg, urls, tc.yaml_path);
  return tc;
}

void RewriteYaml(const TestCluster& tc) {
  std::vector<std::pair<std::string, std::string>> urls;
  for (const DatabaseConfig& db : tc.config.databases) urls.emplace_back(db.name, db.url);
  WriteYaml(tc.config, urls, tc.yaml_path);
}

}  // namespace libshard::testing
