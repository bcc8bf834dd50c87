// ClusterConfig: parsing, ${VAR} substitution, path resolution, every
// validation error (code and file:line:col), password redaction, and the
// example configs in schemas/.

#include "libshard/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config_internal.h"
#include "support/scoped_env.h"

namespace libshard {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSource = "test.yaml";
constexpr const char* kBase = "/base";

Result<ClusterConfig> ParseYaml(std::string_view yaml) {
  return ClusterConfig::Parse(yaml, kSource, kBase);
}

// "test.yaml:L:C: " for the nth (1-based) occurrence of `needle` in `yaml`:
// tests name the offending text instead of counting lines by hand.
std::string At(std::string_view yaml, std::string_view needle, int nth = 1) {
  size_t pos = std::string_view::npos;
  for (int i = 0; i < nth; ++i) {
    pos = yaml.find(needle, pos == std::string_view::npos ? 0 : pos + 1);
    REQUIRE_MESSAGE(pos != std::string_view::npos, "needle not in yaml: ", needle);
  }
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (yaml[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return std::string(kSource) + ":" + std::to_string(line) + ":" +
         std::to_string(pos - line_start + 1) + ": ";
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Parsing `yaml` fails with InvalidConfig, at `needle`, saying `fragment`.
void ExpectError(std::string_view yaml, std::string_view needle, std::string_view fragment,
                 int nth = 1) {
  Result<ClusterConfig> config = ParseYaml(yaml);
  INFO("expected error at '", needle, "' containing: ", fragment);
  REQUIRE_FALSE(config.ok());
  const Status s = config.status();
  INFO("got: ", s.message());
  CHECK(s.code() == Code::kInvalidConfig);
  CHECK(s.message().rfind(At(yaml, needle, nth), 0) == 0);
  CHECK(Contains(s.message(), fragment));
}

using libshard::testing::ScopedEnv;

// A valid cluster; tests append entities or replace pieces of it.
constexpr std::string_view kCluster = R"(databases:
  catalog: "sqlite3://db=cat.db"
  s0: "sqlite3://db=s0.db"
  s1: "sqlite3://db=s1.db"
  idx0: "sqlite3://db=idx0.db"
catalog: catalog
shards: [s0, s1]
)";

std::string WithEntities(std::string_view entities) {
  return std::string(kCluster) + "entities:\n" + std::string(entities);
}

// The full example from PRODUCT.md ("Config format").
constexpr std::string_view kProductExample = R"(cluster:
  buckets: 1024          # fixed at init
  hash_seed: 0
catalog: catalog         # database that holds the bucket map and index states
databases:
  catalog: "sqlite3://db=data/catalog.db"
  s0: "sqlite3://db=data/s0.db"
  s1: "postgresql://host=127.0.0.1 port=55432 dbname=s1 user=${LS_TEST_PGUSER}"
  idx0: "sqlite3://db=data/idx0.db"
shards: [s0, s1]         # record shards
entities:
  - name: users
    indexes:
      - name: by_email
        databases: [idx0]          # several = sharded by the first column
        unique: true
        columns:
          - {name: email, type: string, field: email, transform: lower}
  - name: posts
    indexes:
      - name: by_author_time
        databases: [idx0]
        columns:
          - {name: author, type: string, field: author}
          - {name: created, type: int, field: created}
      - name: by_tag
        databases: [idx0]
        columns: [{name: tag, type: string, field: "tags[]"}]
)";

TEST_SUITE_BEGIN("config");

TEST_CASE("the PRODUCT.md example parses into the expected structure") {
  ScopedEnv user("LS_TEST_PGUSER", "alice");
  Result<ClusterConfig> config = ParseYaml(kProductExample);
  REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  CHECK(config->source == "test.yaml");
  CHECK(config->buckets == 1024);
  CHECK(config->hash_seed == 0);
  CHECK(config->buckets_mark.ToString() == "test.yaml:2:12");
  CHECK(config->hash_seed_mark.ToString() == "test.yaml:3:14");
  CHECK(config->catalog == "catalog");
  CHECK(config->shards == std::vector<std::string>{"s0", "s1"});

  REQUIRE(config->databases.size() == 4);
  const DatabaseConfig* s0 = config->FindDatabase("s0");
  REQUIRE(s0 != nullptr);
  CHECK(s0->backend == Backend::kSqlite);
  CHECK(s0->url == "sqlite3://db=/base/data/s0.db");
  CHECK(s0->mark.ToString() == "test.yaml:7:3");
  const DatabaseConfig* s1 = config->FindDatabase("s1");
  REQUIRE(s1 != nullptr);
  CHECK(s1->backend == Backend::kPostgres);
  CHECK(s1->url == "postgresql://host=127.0.0.1 port=55432 dbname=s1 user=alice");
  CHECK(config->FindDatabase("nope") == nullptr);

  REQUIRE(config->entities.size() == 2);
  const EntityConfig* users = config->FindEntity("users");
  REQUIRE(users != nullptr);
  CHECK(users->mark.ToString() == "test.yaml:12:11");
  const IndexConfig* by_email = users->FindIndex("by_email");
  REQUIRE(by_email != nullptr);
  CHECK(by_email->unique);
  CHECK(by_email->databases == std::vector<std::string>{"idx0"});
  REQUIRE(by_email->columns.size() == 1);
  CHECK(by_email->columns[0].name == "email");
  CHECK(by_email->columns[0].type == ColumnType::kString);
  CHECK(by_email->columns[0].field == "email");
  CHECK(by_email->columns[0].lower);
  CHECK(users->FindIndex("by_tag") == nullptr);

  const EntityConfig* posts = config->FindEntity("posts");
  REQUIRE(posts != nullptr);
  REQUIRE(posts->indexes.size() == 2);
  const IndexConfig* by_time = posts->FindIndex("by_author_time");
  REQUIRE(by_time != nullptr);
  CHECK_FALSE(by_time->unique);
  REQUIRE(by_time->columns.size() == 2);
  CHECK(by_time->columns[1].type == ColumnType::kInt);
  CHECK_FALSE(by_time->columns[1].lower);
  const IndexConfig* by_tag = posts->FindIndex("by_tag");
  REQUIRE(by_tag != nullptr);
  CHECK(by_tag->columns[0].field == "tags[]");
  CHECK(config->FindEntity("comments") == nullptr);

  CHECK(config->Validate().ok());
}

TEST_CASE("defaults: 1024 buckets, seed 0, no entities") {
  Result<ClusterConfig> config = ParseYaml(kCluster);
  REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  CHECK(config->buckets == 1024);
  CHECK(config->hash_seed == 0);
  CHECK(config->entities.empty());
  CHECK(config->buckets_mark.ToString() == "test.yaml");
}

TEST_CASE("cluster.buckets and cluster.hash_seed") {
  auto with_cluster = [](std::string_view cluster) {
    return "cluster:\n" + std::string(cluster) + std::string(kCluster);
  };
  SUBCASE("limits are accepted") {
    Result<ClusterConfig> two = ParseYaml(with_cluster("  buckets: 2\n"));
    REQUIRE_MESSAGE(two.ok(), two.status().ToString());
    CHECK(two->buckets == 2);
    Result<ClusterConfig> max = ParseYaml(with_cluster("  buckets: 65536\n"));
    REQUIRE_MESSAGE(max.ok(), max.status().ToString());
    CHECK(max->buckets == 65536);
  }
  SUBCASE("seeds: decimal, hex, the whole uint64 range") {
    Result<ClusterConfig> dec = ParseYaml(with_cluster("  hash_seed: 18446744073709551615\n"));
    REQUIRE_MESSAGE(dec.ok(), dec.status().ToString());
    CHECK(dec->hash_seed == UINT64_MAX);
    Result<ClusterConfig> hex = ParseYaml(with_cluster("  hash_seed: 0x9E3779B97F4A7C15\n"));
    REQUIRE_MESSAGE(hex.ok(), hex.status().ToString());
    CHECK(hex->hash_seed == 0x9E3779B97F4A7C15ULL);
  }
  SUBCASE("out of range or not an integer") {
    for (const char* bad : {"0", "65537", "-1", "1.5", "abc", "1e3", "4294967296", "[1024]"}) {
      CAPTURE(bad);
      std::string yaml = with_cluster(std::string("  buckets: ") + bad + "\n");
      ExpectError(yaml, bad, "cluster.buckets must be an integer from 1 to 65536");
    }
  }
  SUBCASE("bad seeds") {
    for (const char* bad : {"-1", "18446744073709551616", "0x", "nope", "1.0"}) {
      CAPTURE(bad);
      std::string yaml = with_cluster(std::string("  hash_seed: ") + bad + "\n");
      ExpectError(yaml, bad, "cluster.hash_seed must be an unsigned 64-bit integer");
    }
  }
  SUBCASE("unknown and repeated keys") {
    ExpectError(with_cluster("  bucket: 64\n"), "bucket:", "unknown cluster key 'bucket'");
    ExpectError(with_cluster("  buckets: 64\n  buckets: 32\n"),
                "buckets:", "'buckets' is set twice", 2);
  }
  SUBCASE("more shards than buckets") {
    ExpectError(with_cluster("  buckets: 1\n"), "[s0, s1]", "2 shards but only 1 buckets");
  }
}

TEST_CASE("backends are chosen by scheme; aliases are rewritten") {
  auto db = [](std::string_view url) {
    std::string yaml = "databases:\n  catalog: \"sqlite3://db=c.db\"\n  s0: \"" + std::string(url) +
                       "\"\ncatalog: catalog\nshards: [s0]\n";
    return yaml;
  };
  struct Case {
    const char* url;
    Backend backend;
    const char* canonical;
  };
  for (const Case& c : {
           Case{"sqlite3://db=/x/s0.db", Backend::kSqlite, "sqlite3://db=/x/s0.db"},
           Case{"postgresql://host=h dbname=d", Backend::kPostgres, "postgresql://host=h dbname=d"},
           Case{"postgres://host=h dbname=d", Backend::kPostgres, "postgresql://host=h dbname=d"},
           Case{"postgresql://", Backend::kPostgres, "postgresql://"},
           Case{"mysql://host=h db=d user=u", Backend::kMysql, "mysql://host=h db=d user=u"},
           Case{"mariadb://host=h db=d", Backend::kMysql, "mysql://host=h db=d"},
           Case{"MySQL://host=h", Backend::kMysql, "mysql://host=h"},
       }) {
    CAPTURE(c.url);
    Result<ClusterConfig> config = ParseYaml(db(c.url));
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(config->FindDatabase("s0")->backend == c.backend);
    CHECK(config->FindDatabase("s0")->url == c.canonical);
  }
  ExpectError(db("oracle://host=h"), "\"oracle", "database 's0'");
  ExpectError(db("oracle://host=h"), "\"oracle", "expected sqlite3://, postgresql:// or mysql://");
  ExpectError(db("data/s0.db"), "\"data", "unknown or missing scheme");
  ExpectError(db("postgresql://u:pw@host/db"), "\"postgresql", "expected key=value settings");
  ExpectError(db("sqlite3://"), "\"sqlite3", "needs a database file", 2);
  ExpectError(db("sqlite3://timeout=5"), "\"sqlite3", "needs a database file", 2);
  ExpectError(db("sqlite3://db=a.db junk"), "\"sqlite3", "expected key=value", 2);

  CHECK(std::string(BackendName(Backend::kSqlite)) == "sqlite3");
  CHECK(std::string(BackendName(Backend::kPostgres)) == "postgresql");
  CHECK(std::string(BackendName(Backend::kMysql)) == "mysql");
  CHECK(std::string(ColumnTypeName(ColumnType::kInt)) == "int");
  CHECK(std::string(ColumnTypeName(ColumnType::kFloat)) == "float");
  CHECK(std::string(ColumnTypeName(ColumnType::kString)) == "string");
  CHECK(std::string(ColumnTypeName(ColumnType::kBool)) == "bool");
  CHECK(std::string(ColumnTypeName(ColumnType::kBytes)) == "bytes");
}

TEST_CASE("relative SQLite paths resolve against the base directory") {
  auto url_of = [](std::string_view url, const std::string& base = kBase) -> std::string {
    std::string quoted;  // YAML single quotes: '' is a literal '
    for (char c : url) quoted += c == '\'' ? "''" : std::string(1, c);
    std::string yaml = "databases:\n  catalog: \"sqlite3://db=/c.db\"\n  s0: '" + quoted +
                       "'\ncatalog: catalog\nshards: [s0]\n";
    Result<ClusterConfig> config = ClusterConfig::Parse(yaml, kSource, base);
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    return config->FindDatabase("s0")->url;
  };
  CHECK(url_of("sqlite3://db=data/s0.db") == "sqlite3://db=/base/data/s0.db");
  CHECK(url_of("sqlite3://db=./data/../s0.db") == "sqlite3://db=/base/s0.db");
  CHECK(url_of("sqlite3://db=/abs/s0.db") == "sqlite3://db=/abs/s0.db");
  CHECK(url_of("sqlite3://db=:memory:") == "sqlite3://db=:memory:");
  CHECK(url_of("sqlite3://dbname=s0.db") == "sqlite3://db=/base/s0.db");
  // A bare path is SOCI's other form; we normalize it so settings can follow.
  CHECK(url_of("sqlite3://s0.db") == "sqlite3://db=/base/s0.db");
  CHECK(url_of("sqlite3://db=s0.db timeout=5 synchronous=normal") ==
        "sqlite3://db=/base/s0.db timeout=5 synchronous=normal");
  CHECK(url_of("sqlite3://timeout=5 db=s0.db") == "sqlite3://db=/base/s0.db timeout=5");
  // Quoted values may hold spaces; SOCI reads double quotes only.
  CHECK(url_of("sqlite3://db=\"my data/s0.db\"") == "sqlite3://db=\"/base/my data/s0.db\"");
  CHECK(url_of("sqlite3://db='s0.db'") == "sqlite3://db=/base/s0.db");
  CHECK(url_of("sqlite3://db=s0.db", "/base/sub/") == "sqlite3://db=/base/sub/s0.db");

  SUBCASE("an empty base is the current directory") {
    std::string expected =
        "sqlite3://db=" + (fs::current_path() / "s0.db").lexically_normal().string();
    CHECK(url_of("sqlite3://db=s0.db", "") == expected);
  }
  SUBCASE("a relative base is made absolute") {
    std::string expected =
        "sqlite3://db=" + (fs::current_path() / "rel/s0.db").lexically_normal().string();
    CHECK(url_of("sqlite3://db=s0.db", "rel") == expected);
  }
  SUBCASE("non-SQLite strings are left alone") {
    CHECK(url_of("postgresql://host=h dbname=data/x") == "postgresql://host=h dbname=data/x");
  }
}

TEST_CASE("Load resolves paths against the config file's folder") {
  fs::path dir = fs::temp_directory_path() / ("libshard_config_test_" + std::to_string(::getpid()));
  fs::create_directories(dir / "conf");
  fs::path file = dir / "conf" / "cluster.yaml";
  {
    std::ofstream out(file);
    out << kCluster;
  }
  Result<ClusterConfig> config = ClusterConfig::Load(file.string());
  REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  CHECK(config->source == file.string());
  CHECK(config->FindDatabase("s0")->url ==
        "sqlite3://db=" + (dir / "conf" / "s0.db").lexically_normal().string());

  SUBCASE("errors name the file") {
    {
      std::ofstream out(file);
      out << kCluster << "bogus: 1\n";
    }
    Result<ClusterConfig> bad = ClusterConfig::Load(file.string());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidConfig);
    CHECK(bad.status().message().rfind(file.string() + ":8:1: ", 0) == 0);
  }
  SUBCASE("a missing file") {
    std::string missing = (dir / "nope.yaml").string();
    Result<ClusterConfig> bad = ClusterConfig::Load(missing);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidConfig);
    CHECK(bad.status().message() ==
          "cannot read config file " + missing + ": No such file or directory");
  }
  SUBCASE("a directory") {
    Result<ClusterConfig> bad = ClusterConfig::Load(dir.string());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidConfig);
    CHECK(bad.status().message() == "cannot read config file " + dir.string() + ": Is a directory");
  }
  fs::remove_all(dir);
}

TEST_CASE("${VAR} substitution in connection strings") {
  auto yaml_with = [](std::string_view url) {
    return "databases:\n  catalog: \"sqlite3://db=/c.db\"\n  s0: \"" + std::string(url) +
           "\"\ncatalog: catalog\nshards: [s0]\n";
  };
  auto url_of = [&](std::string_view url) -> std::string {
    Result<ClusterConfig> config = ParseYaml(yaml_with(url));
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    return config->FindDatabase("s0")->url;
  };
  ScopedEnv port("LS_TEST_PORT", "55432");
  ScopedEnv dir("LS_TEST_DIR", "/var/lib/ls");
  ScopedEnv empty("LS_TEST_EMPTY", "");
  ScopedEnv unset("LS_TEST_UNSET", std::nullopt);

  CHECK(url_of("postgresql://host=h port=${LS_TEST_PORT}") == "postgresql://host=h port=55432");
  CHECK(url_of("postgresql://port=${LS_TEST_PORT} connect_timeout=${LS_TEST_PORT}") ==
        "postgresql://port=55432 connect_timeout=55432");
  CHECK(url_of("sqlite3://db=${LS_TEST_DIR}/s0.db") == "sqlite3://db=/var/lib/ls/s0.db");
  CHECK(url_of("postgresql://user=${LS_TEST_EMPTY}") == "postgresql://user=");
  CHECK(url_of("postgresql://password=$${LS_TEST_PORT}") ==
        "postgresql://password=${LS_TEST_PORT}");
  CHECK(url_of("postgresql://port=${LS_TEST_UNSET:-5432}") == "postgresql://port=5432");
  CHECK(url_of("postgresql://port=${LS_TEST_EMPTY:-5432}") == "postgresql://port=5432");
  CHECK(url_of("postgresql://port=${LS_TEST_PORT:-5432}") == "postgresql://port=55432");
  CHECK(url_of("postgresql://options=$HOME") == "postgresql://options=$HOME");

  std::string yaml = yaml_with("postgresql://host=h user=${LS_TEST_UNSET}");
  ExpectError(yaml, "\"postgresql", "environment variable LS_TEST_UNSET is not set");
  ExpectError(yaml, "\"postgresql", "database 's0'");
  ExpectError(yaml_with("postgresql://user=${LS_TEST_PORT"), "\"postgresql", "unterminated \"${\"");
  ExpectError(yaml_with("postgresql://user=${1X}"), "\"postgresql",
              "is not an environment variable name");
  // Substitution is for connection strings only.
  ExpectError(std::string(kCluster).replace(kCluster.find("catalog: catalog"), 16,
                                            "catalog: ${LS_TEST_PORT}"),
              "${LS_TEST_PORT}", "catalog '${LS_TEST_PORT}' is not a database");
}

TEST_CASE("top-level structure errors") {
  ExpectError(std::string(kCluster) + "bogus: 1\n", "bogus:", "unknown top-level key 'bogus'");
  ExpectError(std::string(kCluster) + "catalog: s1\n", "catalog: s1", "'catalog' is set twice");
  ExpectError("catalog: catalog\nshards: [s0]\n", "catalog:", "missing required key 'databases'");
  ExpectError("databases:\n  c: \"sqlite3://db=c.db\"\nshards: [s0]\n",
              "databases:", "missing required key 'catalog'");
  ExpectError("databases:\n  c: \"sqlite3://db=c.db\"\ncatalog: c\n",
              "databases:", "missing required key 'shards'");
  ExpectError("", "", "the config is empty");
  ExpectError("# only a comment\n", "#", "the config is empty");
  ExpectError("- a\n- b\n", "- a", "the config must be a mapping");
  ExpectError(std::string(kCluster) + "---\nx: 1\n", "x: 1", "only one YAML document");
  ExpectError("databases: []\ncatalog: c\nshards: [s0]\n", "[]",
              "databases must map names to connection strings");
  ExpectError("databases:\ncatalog: c\nshards: [s0]\n",
              "databases:", "databases must map names to connection strings");
  ExpectError("databases:\n  c: [1]\ncatalog: c\nshards: [s0]\n", "[1]",
              "database 'c': the connection string must be a string");
  ExpectError("databases:\n  c: \"sqlite3://db=c.db\"\ncatalog: [c]\nshards: [s0]\n", "[c]",
              "catalog must be a single value");
  ExpectError("databases:\n  c: \"sqlite3://db=c.db\"\ncatalog: c\nshards: s0\n", "s0",
              "shards must be a list");
  ExpectError(std::string(kCluster) + "entities: {users: {}}\n", "{users",
              "entities must be a list");
}

TEST_CASE("YAML syntax errors carry yaml-cpp's position") {
  std::string yaml = "databases:\n  s0: [a, b\ncatalog: c\n";
  Result<ClusterConfig> config = ParseYaml(yaml);
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == Code::kInvalidConfig);
  INFO(config.status().message());
  CHECK(config.status().message().rfind("test.yaml:3:", 0) == 0);
  CHECK(Contains(config.status().message(), "YAML syntax error"));

  ExpectError("databases: x: y\n", ": y", "YAML syntax error");
}

TEST_CASE("database errors") {
  SUBCASE("duplicate name") {
    std::string yaml = R"(databases:
  catalog: "sqlite3://db=cat.db"
  s0: "sqlite3://db=s0.db"
  s0: "sqlite3://db=other.db"
catalog: catalog
shards: [s0]
)";
    ExpectError(yaml, "s0:", "database 's0' is defined twice (first at 3:3)", 2);
  }
  SUBCASE("bad names") {
    for (const char* name :
         {"S0", "0s", "s-0", "s.0", "\"\"", "a234567890123456789012345678901234567890123456789"}) {
      CAPTURE(name);
      std::string yaml = std::string("databases:\n  catalog: \"sqlite3://db=c.db\"\n  ") + name +
                         ": \"sqlite3://db=x.db\"\ncatalog: catalog\nshards: [catalog]\n";
      ExpectError(yaml, std::string(name) + ":", "is not a valid identifier");
    }
  }
  SUBCASE("a 48-character name is fine") {
    std::string name(48, 'd');
    std::string yaml = "databases:\n  catalog: \"sqlite3://db=c.db\"\n  " + name +
                       ": \"sqlite3://db=x.db\"\ncatalog: catalog\nshards: [" + name + "]\n";
    Result<ClusterConfig> config = ParseYaml(yaml);
    CHECK_MESSAGE(config.ok(), config.status().ToString());
  }
}

TEST_CASE("catalog and shard errors") {
  const std::string dbs = R"(databases:
  catalog: "sqlite3://db=cat.db"
  s0: "sqlite3://db=s0.db"
  s1: "sqlite3://db=s1.db"
)";
  ExpectError(dbs + "catalog: nope\nshards: [s0]\n", "nope",
              "catalog 'nope' is not a database defined under databases");
  ExpectError(dbs + "catalog: catalog\nshards: [s0, s9]\n", "s9",
              "shard 's9' is not a database defined under databases");
  ExpectError(dbs + "catalog: catalog\nshards: []\n", "[]", "shards is empty");
  ExpectError(dbs + "catalog: catalog\nshards:\n", "shards:", "shards is empty");
  ExpectError(dbs + "catalog: catalog\nshards: [s0, s1, s0]\n", "s0]",
              "shard 's0' is listed twice");
  ExpectError(dbs + "catalog: catalog\nshards:\n  - s0\n  - catalog\n", "catalog\n",
              "shard 'catalog' is the catalog database", 2);
  ExpectError(dbs + "catalog: catalog\nshards: [s0, [s1]]\n", "[s1]",
              "each entry of shards must be a single value");
}

TEST_CASE("shard weights: 1 unless given, plain names and mappings mixed") {
  SUBCASE("plain names get weight 1") {
    Result<ClusterConfig> config = ParseYaml(kCluster);
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(config->shards == std::vector<std::string>{"s0", "s1"});
    CHECK(config->shard_weights == std::vector<uint32_t>{1, 1});
    CHECK(config->ShardWeight(0) == 1);
    CHECK(config->ShardWeight(1) == 1);
  }
  SUBCASE("mixed list, flow and block style") {
    const std::string dbs = R"(databases:
  catalog: "sqlite3://db=cat.db"
  s0: "sqlite3://db=s0.db"
  s1: "sqlite3://db=s1.db"
  s2: "sqlite3://db=s2.db"
  s3: "sqlite3://db=s3.db"
catalog: catalog
)";
    Result<ClusterConfig> flow =
        ParseYaml(dbs + "shards: [s0, {name: s1, weight: 2}, {name: s2}, {weight: 1000, name: s3}]\n");
    REQUIRE_MESSAGE(flow.ok(), flow.status().ToString());
    CHECK(flow->shards == std::vector<std::string>{"s0", "s1", "s2", "s3"});
    CHECK(flow->shard_weights == std::vector<uint32_t>{1, 2, 1, 1000});
    CHECK(flow->ShardWeight(1) == 2);
    CHECK(flow->ShardWeight(3) == 1000);
    CHECK(flow->Validate().ok());

    Result<ClusterConfig> block = ParseYaml(dbs +
                                            "shards:\n"
                                            "  - s0\n"
                                            "  - name: s1\n"
                                            "    weight: 3\n");
    REQUIRE_MESSAGE(block.ok(), block.status().ToString());
    CHECK(block->shards == std::vector<std::string>{"s0", "s1"});
    CHECK(block->shard_weights == std::vector<uint32_t>{1, 3});
  }
  SUBCASE("references in a mapping point at the name") {
    const std::string dbs = R"(databases:
  catalog: "sqlite3://db=cat.db"
  s0: "sqlite3://db=s0.db"
catalog: catalog
)";
    ExpectError(dbs + "shards: [s0, {name: s9, weight: 2}]\n", "s9",
                "shard 's9' is not a database defined under databases");
    ExpectError(dbs + "shards: [s0, {name: s0, weight: 2}]\n", "s0,", "shard 's0' is listed twice",
                2);
  }
}

TEST_CASE("shard weight errors name the line and the problem") {
  const std::string dbs = R"(databases:
  catalog: "sqlite3://db=cat.db"
  s0: "sqlite3://db=s0.db"
  s1: "sqlite3://db=s1.db"
catalog: catalog
)";
  SUBCASE("weights out of range or not an integer") {
    for (const char* bad : {"0", "-1", "1.5", "1001", "abc", "1e2", "4294967297", "[2]", "\"\""}) {
      CAPTURE(bad);
      std::string yaml = dbs + "shards:\n  - s0\n  - name: s1\n    weight: " + bad + "\n";
      Result<ClusterConfig> config = ParseYaml(yaml);
      REQUIRE_FALSE(config.ok());
      INFO(config.status().message());
      CHECK(config.status().code() == Code::kInvalidConfig);
      // Line 9, column 13: the value after "    weight: ".
      CHECK(config.status().message() ==
            "test.yaml:9:13: shard 's1': weight must be an integer from 1 to 1000");
    }
  }
  SUBCASE("an empty weight") {
    ExpectError(dbs + "shards:\n  - name: s1\n    weight:\n", "weight:",
                "shard 's1': weight must be an integer from 1 to 1000");
  }
  SUBCASE("unknown key") {
    ExpectError(dbs + "shards: [s0, {name: s1, wieght: 2}]\n", "wieght",
                "unknown shard key 'wieght'");
  }
  SUBCASE("key set twice") {
    ExpectError(dbs + "shards: [s0, {name: s1, weight: 2, weight: 3}]\n", "weight",
                "'weight' is set twice in a shard entry", 2);
  }
  SUBCASE("missing name") {
    ExpectError(dbs + "shards: [s0, {weight: 2}]\n", "{weight", "a shard entry needs 'name'");
    ExpectError(dbs + "shards:\n  - s0\n  - weight: 2\n", "weight",
                "a shard entry needs 'name'");
  }
  SUBCASE("name that is not a single value") {
    ExpectError(dbs + "shards: [{name: [s0], weight: 2}]\n", "[s0]",
                "shard name must be a single value");
  }
}

TEST_CASE("entity and index errors") {
  SUBCASE("duplicate entity") {
    std::string yaml = WithEntities("  - name: users\n  - name: posts\n  - name: users\n");
    ExpectError(yaml, "users", "entity 'users' is defined twice (first at 9:11)", 2);
  }
  SUBCASE("bad entity names") {
    for (const char* name : {"Users", "9users", "user-s", "\"\""}) {
      CAPTURE(name);
      std::string yaml = WithEntities(std::string("  - name: ") + name + "\n");
      ExpectError(yaml, std::string(name) + "\n", "entity name");
    }
  }
  SUBCASE("entity shape") {
    ExpectError(WithEntities("  - indexes: []\n"), "indexes", "an entity needs 'name'");
    ExpectError(WithEntities("  - name: users\n    index: []\n"),
                "index:", "unknown entity key 'index'");
    ExpectError(WithEntities("  - name: users\n    indexes: {}\n"), "{}",
                "indexes of entity 'users' must be a list");
    ExpectError(WithEntities("  - users\n"), "users", "an entity must be a mapping");
  }
  SUBCASE("entities without indexes are fine") {
    Result<ClusterConfig> config =
        ParseYaml(WithEntities("  - name: users\n  - name: posts\n    indexes:\n"));
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(config->entities.size() == 2);
  }

  const std::string index_head = "  - name: users\n    indexes:\n";
  auto index = [&](std::string_view body) { return WithEntities(index_head + std::string(body)); };
  SUBCASE("duplicate index") {
    std::string yaml = index(R"(      - name: by_email
        databases: [idx0]
        columns: [{name: email, type: string}]
      - name: by_email
        databases: [idx0]
        columns: [{name: email, type: string}]
)");
    ExpectError(yaml, "by_email", "index 'users.by_email' is defined twice (first at 11:15)", 2);
  }
  SUBCASE("bad index name") {
    ExpectError(index("      - name: ByEmail\n        databases: [idx0]\n"
                      "        columns: [{name: email, type: string}]\n"),
                "ByEmail", "index name 'ByEmail' is not a valid identifier");
  }
  SUBCASE("index databases") {
    ExpectError(index("      - name: by_email\n        databases: [idx0, idx9]\n"
                      "        columns: [{name: email, type: string}]\n"),
                "idx9", "index 'users.by_email': database 'idx9' is not defined");
    ExpectError(index("      - name: by_email\n        databases: [idx0, idx0]\n"
                      "        columns: [{name: email, type: string}]\n"),
                "idx0]", "database 'idx0' is listed twice");
    ExpectError(index("      - name: by_email\n        databases: [idx0, s0]\n"
                      "        columns: [{name: email, type: string}]\n"),
                "s0]", "index 'users.by_email': database 's0' is a record shard; indexes live "
                       "in their own databases");
    ExpectError(index("      - name: by_email\n        databases: []\n"
                      "        columns: [{name: email, type: string}]\n"),
                "by_email", "index 'users.by_email' lists no databases");
    ExpectError(index("      - name: by_email\n        columns: [{name: email, type: string}]\n"),
                "name: by_email", "index 'users.by_email' needs 'databases'");
    ExpectError(index("      - name: by_email\n        databases: idx0\n"
                      "        columns: [{name: email, type: string}]\n"),
                "idx0\n", "must be a list of database names");
  }
  SUBCASE("index shape") {
    ExpectError(index("      - name: by_email\n        databases: [idx0]\n"
                      "        uniqe: true\n        columns: [{name: email, type: string}]\n"),
                "uniqe", "unknown index key 'uniqe'");
    ExpectError(index("      - name: by_email\n        databases: [idx0]\n"
                      "        unique: maybe\n        columns: [{name: email, type: string}]\n"),
                "maybe", "unique must be true or false");
    ExpectError(index("      - databases: [idx0]\n"), "databases: [idx0]", "an index needs 'name'");
    ExpectError(index("      - name: by_email\n        databases: [idx0]\n"), "name: by_email",
                "index 'users.by_email' needs 'columns'");
    ExpectError(index("      - name: by_email\n        databases: [idx0]\n        columns: []\n"),
                "by_email", "index 'users.by_email' has no columns");
    ExpectError(index("      - name: by_email\n        databases: [idx0]\n        columns:\n"),
                "by_email", "index 'users.by_email' has no columns");
  }
  SUBCASE("at most 8 columns") {
    std::string columns;
    for (int i = 0; i < 9; ++i) {
      columns += "          - {name: c" + std::to_string(i) + ", type: int}\n";
    }
    ExpectError(
        index("      - name: wide\n        databases: [idx0]\n        columns:\n" + columns), "c8",
        "index 'users.wide' has 9 columns; at most 8");
    columns.erase(columns.rfind("          - {name: c8"));
    Result<ClusterConfig> eight = ParseYaml(
        index("      - name: wide\n        databases: [idx0]\n        columns:\n" + columns));
    CHECK_MESSAGE(eight.ok(), eight.status().ToString());
  }
}

TEST_CASE("column errors") {
  auto column = [](std::string_view spec) {
    return WithEntities(
        "  - name: users\n    indexes:\n      - name: by_x\n        databases: [idx0]\n"
        "        columns:\n          - {name: a, type: string}\n          - " +
        std::string(spec) + "\n");
  };
  ExpectError(column("{name: a, type: int}"), "a, type: int",
              "index 'users.by_x': column 'a' is defined twice (first at 14:20)");
  ExpectError(column("{name: Email, type: string}"), "Email",
              "column name 'Email' is not a valid identifier");
  ExpectError(column("{name: order, type: string}"), "order",
              "column name 'order' is a reserved SQL word");
  ExpectError(column("{name: b, type: text}"), "text",
              "column 'b': type must be int, float, string, bool or bytes");
  ExpectError(column("{name: b}"), "{name: b}", "column 'b' needs 'type'");
  ExpectError(column("{type: int}"), "{type", "a column of index 'users.by_x' needs 'name'");
  ExpectError(column("{name: b, type: string, transform: upper}"), "upper",
              "the only transform is lower");
  ExpectError(column("{name: b, type: int, transform: lower}"), "lower",
              "transform lower needs type string, not int");
  ExpectError(column("{name: b, type: string, feild: b}"), "feild", "unknown column key 'feild'");
  ExpectError(column("{name: b, type: string, name: c}"), "name: c", "'name' is set twice");
  for (const char* path : {"\"\"", "a..b", ".a", "a.", "\"a[]b\"", "\"a[].b[]\"", "a b", "\"a[0]\"",
                           "\"$x\"", "\"a.[]\""}) {
    CAPTURE(path);
    ExpectError(column(std::string("{name: b, type: string, field: ") + path + "}"),
                std::string(path) + "}", "bad field path");
  }

  SUBCASE("field defaults to the column name; valid paths") {
    for (const char* path : {"b", "address.city", "tags[]", "a.b[].c", "x-y_Z.9", "items[].sku"}) {
      CAPTURE(path);
      Result<ClusterConfig> config =
          ParseYaml(column(std::string("{name: b, type: string, field: \"") + path + "\"}"));
      REQUIRE_MESSAGE(config.ok(), config.status().ToString());
      CHECK(config->entities[0].indexes[0].columns[1].field == path);
    }
    Result<ClusterConfig> config = ParseYaml(column("{name: b, type: bytes}"));
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(config->entities[0].indexes[0].columns[1].field == "b");
    CHECK(config->entities[0].indexes[0].columns[1].type == ColumnType::kBytes);
  }
}

TEST_CASE("IsValidIdentifier and IsValidFieldPath") {
  CHECK(IsValidIdentifier("users"));
  CHECK(IsValidIdentifier("_x9"));
  CHECK(IsValidIdentifier(std::string(48, 'a')));
  CHECK_FALSE(IsValidIdentifier(std::string(49, 'a')));
  CHECK_FALSE(IsValidIdentifier(""));
  CHECK_FALSE(IsValidIdentifier("9a"));
  CHECK_FALSE(IsValidIdentifier("Users"));
  CHECK_FALSE(IsValidIdentifier("a-b"));
  CHECK_FALSE(IsValidIdentifier("a;drop table x"));
  CHECK_FALSE(IsValidIdentifier(std::string_view("a\0b", 3)));

  CHECK(config_internal::IsValidFieldPath("email"));
  CHECK(config_internal::IsValidFieldPath("a.b.c"));
  CHECK(config_internal::IsValidFieldPath("tags[]"));
  CHECK(config_internal::IsValidFieldPath("a[].b"));
  CHECK_FALSE(config_internal::IsValidFieldPath(""));
  CHECK_FALSE(config_internal::IsValidFieldPath("[]"));
  CHECK_FALSE(config_internal::IsValidFieldPath("a[][]"));
  CHECK_FALSE(config_internal::IsValidFieldPath("a[].b[]"));
  CHECK_FALSE(config_internal::IsValidFieldPath("a.b."));
}

TEST_CASE("Validate on a config built in code") {
  ClusterConfig config;
  config.source = "built";
  DatabaseConfig cat{"catalog", Backend::kSqlite, "sqlite3://db=/tmp/c.db", {}};
  DatabaseConfig s0{"s0", Backend::kSqlite, "sqlite3://db=/tmp/s0.db", {}};
  DatabaseConfig idx0{"idx0", Backend::kSqlite, "sqlite3://db=/tmp/idx0.db", {}};
  config.databases = {cat, s0, idx0};
  config.catalog = "catalog";
  config.shards = {"s0"};
  EntityConfig users;
  users.name = "users";
  IndexConfig by_email;
  by_email.name = "by_email";
  by_email.databases = {"idx0"};
  by_email.columns.push_back({"email", ColumnType::kString, "email", true, {}});
  users.indexes.push_back(by_email);
  config.entities.push_back(users);
  REQUIRE_MESSAGE(config.Validate().ok(), config.Validate().ToString());

  // Without a file position, errors still start with the source name.
  SUBCASE("unknown shard") {
    config.shards.push_back("s9");
    Status s = config.Validate();
    CHECK(s.code() == Code::kInvalidConfig);
    CHECK(s.message() == "built: shard 's9' is not a database defined under databases");
  }
  SUBCASE("buckets") {
    config.buckets = 0;
    CHECK(config.Validate().code() == Code::kInvalidConfig);
    config.buckets = 70000;
    CHECK(config.Validate().code() == Code::kInvalidConfig);
  }
  SUBCASE("lower on a non-string column") {
    config.entities[0].indexes[0].columns[0].type = ColumnType::kInt;
    CHECK(Contains(config.Validate().message(), "transform lower needs type string"));
  }
  SUBCASE("bad field") {
    config.entities[0].indexes[0].columns[0].field = "a..b";
    CHECK(Contains(config.Validate().message(), "bad field path 'a..b'"));
  }
  SUBCASE("url that does not match the backend") {
    config.databases[1].backend = Backend::kPostgres;
    CHECK(Contains(config.Validate().message(), "does not start with postgresql://"));
  }
  SUBCASE("no databases, no catalog") {
    config.catalog.clear();
    CHECK(Contains(config.Validate().message(), "catalog must name"));
    config.databases.clear();
    CHECK(config.Validate().message() == "built: no databases are defined");
  }
  SUBCASE("shard weights: empty means all 1, otherwise one per shard in 1..1000") {
    CHECK(config.shard_weights.empty());
    CHECK(config.ShardWeight(0) == 1);
    config.shard_weights = {7};
    CHECK(config.Validate().ok());
    CHECK(config.ShardWeight(0) == 7);
    config.shard_weights = {0};
    CHECK(config.Validate().message() ==
          "built: shard 's0': weight 0 is out of range; it must be an integer from 1 to 1000");
    config.shard_weights = {1001};
    CHECK(Contains(config.Validate().message(), "weight 1001 is out of range"));
    config.shard_weights = {1, 1};
    CHECK(config.Validate().message() ==
          "built: shard_weights has 2 entries but shards has 1; give one weight per shard, or "
          "none");
  }
  SUBCASE("SourceMark::ToString") {
    CHECK(SourceMark{"f.yaml", 3, 7}.ToString() == "f.yaml:3:7");
    CHECK(SourceMark{"f.yaml", 3, 0}.ToString() == "f.yaml:3");
    CHECK(SourceMark{"f.yaml", 0, 0}.ToString() == "f.yaml");
    CHECK(SourceMark{"", 2, 1}.ToString() == "<config>:2:1");
  }
}

TEST_CASE("RedactUrl hides passwords and nothing else") {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : {
           Case{"mysql://host=h user=u password=secret db=d",
                "mysql://host=h user=u password=*** db=d"},
           Case{"mysql://password=secret", "mysql://password=***"},
           Case{"mysql://host=h pass=secret", "mysql://host=h pass=***"},
           Case{"postgresql://host=h pwd=secret x=1", "postgresql://host=h pwd=*** x=1"},
           Case{"postgresql://host=h passwd=secret", "postgresql://host=h passwd=***"},
           Case{"postgresql://host=h PASSWORD=secret", "postgresql://host=h PASSWORD=***"},
           Case{"postgresql://host=h password = secret user=u",
                "postgresql://host=h password=*** user=u"},
           Case{"postgresql://host=h password='my secret' user=u",
                "postgresql://host=h password=*** user=u"},
           Case{"postgresql://password='it\\'s secret' user=u", "postgresql://password=*** user=u"},
           Case{"mysql://password=\"a secret\" db=d", "mysql://password=*** db=d"},
           Case{"mysql://password='unterminated secret", "mysql://password=***"},
           Case{"postgresql://u:secret@host:5432/db", "postgresql://u:***@host:5432/db"},
           Case{"postgresql://u:sec@ret@host/db", "postgresql://u:***@host/db"},
           Case{"postgresql://postgresql://u:secret@h/db", "postgresql://postgresql://u:***@h/db"},
           Case{"postgresql://u@host/db", "postgresql://u@host/db"},
           Case{"postgresql://h/db?sslmode=require&password=secret",
                "postgresql://h/db?sslmode=require&password=***"},
           Case{"sqlite3://db=/data/s0.db", "sqlite3://db=/data/s0.db"},
           Case{"mysql://user=password passwordless=1", "mysql://user=password passwordless=1"},
           Case{"", ""},
       }) {
    CAPTURE(c.in);
    CHECK(RedactUrl(c.in) == c.out);
  }
  DatabaseConfig db{"m0", Backend::kMysql, "mysql://host=h password=secret", {}};
  CHECK(db.RedactedUrl() == "mysql://host=h password=***");
}

TEST_CASE("no error message leaks a password") {
  ScopedEnv pw("LS_TEST_PW", "secret");
  ScopedEnv unset("LS_TEST_UNSET", std::nullopt);
  auto yaml_with = [](std::string_view s0, std::string_view tail = "") {
    return "databases:\n  catalog: \"sqlite3://db=/c.db\"\n  s0: \"" + std::string(s0) +
           "\"\ncatalog: catalog\nshards: [s0]\n" + std::string(tail);
  };
  for (const std::string& yaml : {
           yaml_with("oracle://host=h password=secret"),
           yaml_with("oracle://host=h password=${LS_TEST_PW}"),
           yaml_with("mysqlx://u:secret@h/db"),
           yaml_with("postgresql://u:secret@h/db"),
           yaml_with("postgresql://u:${LS_TEST_PW}@h/db"),
           yaml_with("mysql://password=secret user=${LS_TEST_UNSET}"),
           yaml_with("mysql://password='a secret' user=${LS_TEST_UNSET}"),
           yaml_with("mysql://password=${LS_TEST_PW} user=${LS_TEST_UNSET}"),
           yaml_with("sqlite3://password=secret"),
           yaml_with("mysql://password=${LS_TEST_PW}", "bogus: 1\n"),
           yaml_with("mysql://password=secret", "entities: [{name: Bad}]\n"),
       }) {
    CAPTURE(yaml);
    Result<ClusterConfig> config = ParseYaml(yaml);
    REQUIRE_FALSE(config.ok());
    CAPTURE(config.status().message());
    CHECK_FALSE(Contains(config.status().ToString(), "secret"));
  }
  // A built config with a wrong backend quotes its url, redacted.
  ClusterConfig built;
  built.databases = {{"catalog", Backend::kPostgres, "sqlite3://db=/c.db password=secret", {}}};
  CHECK_FALSE(Contains(built.Validate().message(), "secret"));

  Result<ClusterConfig> ok = ParseYaml(yaml_with("mysql://host=h password=${LS_TEST_PW}"));
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  CHECK(ok->FindDatabase("s0")->url == "mysql://host=h password=secret");
  CHECK(ok->FindDatabase("s0")->RedactedUrl() == "mysql://host=h password=***");
}

// schemas/ next to the sources: tests/unit/config_test.cc -> ../../schemas.
std::optional<fs::path> SchemasDir() {
  fs::path dir = fs::path(__FILE__).parent_path() / ".." / ".." / "schemas";
  if (fs::is_directory(dir)) return dir.lexically_normal();
#ifdef LIBSHARD_SOURCE_DIR
  dir = fs::path(LIBSHARD_SOURCE_DIR) / "schemas";
  if (fs::is_directory(dir)) return dir;
#endif
  return std::nullopt;
}

TEST_CASE("every example config in schemas/ loads") {
  std::optional<fs::path> dir = SchemasDir();
  if (!dir) {
    MESSAGE("schemas/ not found from ", __FILE__, "; skipping");
    return;
  }
  ScopedEnv pg_port("LIBSHARD_PG_PORT", "55432");
  ScopedEnv pg_user("PGUSER", "postgres");
  ScopedEnv my_port("LIBSHARD_MYSQL_PORT", "53306");
  ScopedEnv my_user("LIBSHARD_MYSQL_USER", "ls");
  ScopedEnv my_pw("LIBSHARD_MYSQL_PASSWORD", "secret");

  int files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(*dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    CAPTURE(entry.path().string());
    Result<ClusterConfig> config = ClusterConfig::Load(entry.path().string());
    REQUIRE_MESSAGE(config.ok(), config.status().ToString());
    CHECK(config->FindEntity("users") != nullptr);
    CHECK(config->FindEntity("posts") != nullptr);
    CHECK(config->FindDatabase(config->catalog) != nullptr);
    for (const DatabaseConfig& db : config->databases) {
      CHECK_FALSE(Contains(db.RedactedUrl(), "secret"));
      CHECK_FALSE(Contains(db.url, "${"));
    }
  }
  CHECK(files >= 3);

  Result<ClusterConfig> sqlite = ClusterConfig::Load((*dir / "sqlite.yaml").string());
  REQUIRE_MESSAGE(sqlite.ok(), sqlite.status().ToString());
  CHECK(sqlite->shards == std::vector<std::string>{"s0", "s1", "s2", "s3"});
  CHECK(sqlite->FindDatabase("s0")->url ==
        "sqlite3://db=" + (fs::absolute(*dir) / "data" / "s0.db").lexically_normal().string());
  const IndexConfig* by_tag = sqlite->FindEntity("posts")->FindIndex("by_tag");
  REQUIRE(by_tag != nullptr);
  CHECK(by_tag->columns[0].field == "tags[]");
  const IndexConfig* by_email = sqlite->FindEntity("users")->FindIndex("by_email");
  REQUIRE(by_email != nullptr);
  CHECK(by_email->unique);
  CHECK(by_email->columns[0].lower);

  Result<ClusterConfig> postgres = ClusterConfig::Load((*dir / "postgres.yaml").string());
  REQUIRE_MESSAGE(postgres.ok(), postgres.status().ToString());
  for (const DatabaseConfig& db : postgres->databases) {
    CHECK(db.backend == Backend::kPostgres);
    CHECK(Contains(db.url, "port=55432"));
    CHECK(Contains(db.url, "user=postgres"));
  }
  CHECK(postgres->FindDatabase("idx0")->url ==
        "postgresql://host=127.0.0.1 port=55432 dbname=ls_idx0 user=postgres");

  Result<ClusterConfig> mixed = ClusterConfig::Load((*dir / "mixed.yaml").string());
  REQUIRE_MESSAGE(mixed.ok(), mixed.status().ToString());
  CHECK(mixed->FindDatabase("catalog")->backend == Backend::kSqlite);
  CHECK(mixed->FindDatabase("s0")->backend == Backend::kSqlite);
  CHECK(mixed->FindDatabase("s1")->backend == Backend::kPostgres);
  const DatabaseConfig* s2 = mixed->FindDatabase("s2");
  CHECK(s2->backend == Backend::kMysql);
  CHECK(s2->url.rfind("mysql://", 0) == 0);
  CHECK(Contains(s2->url, "password=secret"));
  CHECK(Contains(s2->RedactedUrl(), "password=***"));

  SUBCASE("an unset variable names itself and its line") {
    ScopedEnv gone("LIBSHARD_MYSQL_PASSWORD", std::nullopt);
    Result<ClusterConfig> bad = ClusterConfig::Load((*dir / "mixed.yaml").string());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidConfig);
    CHECK(Contains(bad.status().message(), "LIBSHARD_MYSQL_PASSWORD is not set"));
    CHECK(Contains(bad.status().message(), "mixed.yaml:"));
  }
}

TEST_SUITE_END();

}  // namespace
}  // namespace libshard
