// Config checks found by adversarial testing (issue 7, item 10):
//   - two database names for one database (the same SQLite file, the same
//     PostgreSQL/MySQL server and database) in roles that must differ;
//   - malformed connection strings, refused at load time with
//     kInvalidConfig instead of failing as "unreachable" at the first query.

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/scoped_env.h"
#include "libshard/config.h"

namespace libshard {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSource = "t.yaml";

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

using libshard::testing::ScopedEnv;

// libpq fills defaults from these; the tests must not depend on the
// caller's environment (scripts/servers.sh exports some of them).
struct NoLibpqEnv {
  ScopedEnv host{"PGHOST", std::nullopt};
  ScopedEnv hostaddr{"PGHOSTADDR", std::nullopt};
  ScopedEnv port{"PGPORT", std::nullopt};
  ScopedEnv database{"PGDATABASE", std::nullopt};
  ScopedEnv user{"PGUSER", std::nullopt};
  ScopedEnv service{"PGSERVICE", std::nullopt};
};

// A config: databases catalog, s0, s1, idx0, idx1 (each URL given), shards
// [s0, s1], an entity whose index lives on `index_dbs`.
struct Urls {
  std::string catalog = "sqlite3://db=catalog.db";
  std::string s0 = "sqlite3://db=s0.db";
  std::string s1 = "sqlite3://db=s1.db";
  std::string idx0 = "sqlite3://db=idx0.db";
  std::string idx1 = "sqlite3://db=idx1.db";
  std::string index_dbs = "[idx0]";
};

// YAML single quotes: a ' is written ''.
std::string Quote(const std::string& url) {
  std::string out = "'";
  for (char c : url) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string Yaml(const Urls& u) {
  return "catalog: catalog\n"                        // line 1
         "databases:\n"                              // line 2
         "  catalog: " + Quote(u.catalog) + "\n"     // line 3
         "  s0: " + Quote(u.s0) + "\n"               // line 4
         "  s1: " + Quote(u.s1) + "\n"               // line 5
         "  idx0: " + Quote(u.idx0) + "\n"           // line 6
         "  idx1: " + Quote(u.idx1) + "\n"           // line 7
         "shards: [s0, s1]\n"                        // line 8
         "entities:\n"                               // line 9
         "  - name: users\n"                         // line 10
         "    indexes:\n"                            // line 11
         "      - name: by_email\n"                  // line 12
         "        databases: " + u.index_dbs + "\n"  // line 13
         "        columns: [{name: email, type: string, field: email}]\n";
}

Result<ClusterConfig> Parse(const Urls& u, const std::string& base = "/base") {
  return ClusterConfig::Parse(Yaml(u), kSource, base);
}

// Parsing fails with kInvalidConfig whose message is exactly `message`.
void ExpectError(const Urls& u, const std::string& message) {
  Result<ClusterConfig> config = Parse(u);
  INFO(Yaml(u));
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == Code::kInvalidConfig);
  CHECK(config.status().message() == message);
}

void ExpectOk(const Urls& u) {
  Result<ClusterConfig> config = Parse(u);
  INFO(Yaml(u));
  CHECK_MESSAGE(config.ok(), config.status().ToString());
}

// --- two names for one database ------------------------------------------

TEST_CASE("two record shards on one SQLite file are refused, naming both and where") {
  Urls u;
  u.s1 = "sqlite3://db=./sub/../s0.db";
  ExpectError(u,
              "t.yaml:8:14: shards 's0' and 's1' are the same database (SQLite file "
              "/base/s0.db; 's0' defined at 4:3, 's1' at 5:3): records would be stored and "
              "exported twice");
  u.s1 = "sqlite3://dbname=/base/s0.db timeout=5";  // absolute, other key, settings
  ExpectError(u,
              "t.yaml:8:14: shards 's0' and 's1' are the same database (SQLite file "
              "/base/s0.db; 's0' defined at 4:3, 's1' at 5:3): records would be stored and "
              "exported twice");
  u.s1 = "sqlite3:///base/s0.db";  // SOCI's bare-path form
  CHECK_FALSE(Parse(u).ok());
  u.s1 = "sqlite3://db=file:/base/s0.db?cache=shared";  // a SQLite URI
  CHECK_FALSE(Parse(u).ok());
  // Different files, or in-memory databases (one per connection), are fine.
  u.s1 = "sqlite3://db=s0.db.bak";
  ExpectOk(u);
  u.s0 = "sqlite3://db=:memory:";
  u.s1 = "sqlite3://db=:memory:";
  ExpectOk(u);
}

TEST_CASE("a symbolic link to another shard's file is the same database") {
  const fs::path dir =
      fs::temp_directory_path() / ("libshard_targets_" + std::to_string(::getpid()));
  fs::create_directories(dir / "real");
  std::ofstream(dir / "real" / "s0.db").put('\0');
  fs::create_directory_symlink(dir / "real", dir / "link");
  Urls u;
  u.s0 = "sqlite3://db=real/s0.db";
  u.s1 = "sqlite3://db=link/s0.db";
  Result<ClusterConfig> config = Parse(u, dir.string());
  REQUIRE_FALSE(config.ok());
  CHECK(Contains(config.status().message(), "shards 's0' and 's1' are the same database"));
  // Even before the file exists (a new cluster), through the linked folder.
  u.s0 = "sqlite3://db=real/new.db";
  u.s1 = "sqlite3://db=link/new.db";
  CHECK_FALSE(Parse(u, dir.string()).ok());
  fs::remove_all(dir);
}

TEST_CASE("the catalog, record shards and index databases must be distinct databases") {
  SUBCASE("a shard on the catalog's file") {
    Urls u;
    u.s0 = u.catalog;
    ExpectError(u,
                "t.yaml:8:10: shard 's0' and the catalog 'catalog' are the same database "
                "(SQLite file /base/catalog.db; 'catalog' defined at 3:3, 's0' at 4:3): the "
                "catalog must not also hold records");
  }
  SUBCASE("an index database on a shard's file") {
    Urls u;
    u.idx0 = "sqlite3://db=/base/s1.db";
    ExpectError(u,
                "t.yaml:13:21: index 'users.by_email': database 'idx0' and record shard 's1' "
                "are the same database (SQLite file /base/s1.db; 's1' defined at 5:3, 'idx0' "
                "at 6:3): indexes live in their own databases");
  }
  SUBCASE("two databases of one index on one file") {
    Urls u;
    u.idx1 = "sqlite3://db=idx0.db";
    u.index_dbs = "[idx0, idx1]";
    ExpectError(u,
                "t.yaml:13:27: index 'users.by_email': databases 'idx0' and 'idx1' are the "
                "same database (SQLite file /base/idx0.db; 'idx0' defined at 6:3, 'idx1' at "
                "7:3): each database of an index must be a different one");
  }
  SUBCASE("the existing rule by name is kept") {
    Urls u;
    u.index_dbs = "[s0]";
    ExpectError(u,
                "t.yaml:13:21: index 'users.by_email': database 's0' is a record shard; "
                "indexes live in their own databases");
  }
  SUBCASE("allowed: index tables next to the catalog, and an unused alias") {
    Urls u;
    u.idx0 = u.catalog;
    u.idx1 = u.s0;  // defined, never used
    ExpectOk(u);
  }
}

TEST_CASE("PostgreSQL: the same server and database after libpq defaults") {
  NoLibpqEnv clean;
  Urls u;
  u.s0 = "postgresql://host=db.example port=5432 dbname=ls user=a password=sekrit";
  u.s1 = "postgresql://host=DB.Example dbname=ls user=b";  // default port 5432
  ExpectError(u,
              "t.yaml:8:14: shards 's0' and 's1' are the same database (PostgreSQL database "
              "'ls' on db.example port 5432; 's0' defined at 4:3, 's1' at 5:3): records would "
              "be stored and exported twice");
  // No dbname: libpq uses the user name.
  u.s1 = "postgresql://host=db.example user=ls";
  CHECK_FALSE(Parse(u).ok());
  // The environment's defaults count as libpq's do.
  {
    ScopedEnv port("PGPORT", "5432");
    u.s1 = "postgresql://host=db.example dbname=ls";
    CHECK_FALSE(Parse(u).ok());
  }
  // Different port, database or host: different databases.
  u.s1 = "postgresql://host=db.example port=5433 dbname=ls";
  ExpectOk(u);
  u.s1 = "postgresql://host=db.example dbname=ls2";
  ExpectOk(u);
  u.s1 = "postgresql://host=other.example dbname=ls";
  ExpectOk(u);
  // Not decidable from the string (a service file): accepted.
  u.s1 = "postgresql://service=prod";
  ExpectOk(u);
  // The message never shows the password.
  u.s1 = u.s0;
  Result<ClusterConfig> config = Parse(u);
  REQUIRE_FALSE(config.ok());
  CHECK_FALSE(Contains(config.status().message(), "sekrit"));
}

TEST_CASE("MySQL: the same server and database after defaults and aliases") {
  Urls u;
  u.s0 = "mysql://host=db.example port=3306 db=ls user=a password=sekrit";
  u.s1 = "mysql://host=db.example dbname=ls";  // default port, dbname alias
  ExpectError(u,
              "t.yaml:8:14: shards 's0' and 's1' are the same database (MySQL database 'ls' "
              "on db.example port 3306; 's0' defined at 4:3, 's1' at 5:3): records would be "
              "stored and exported twice");
  // "localhost" is the Unix socket: the port does not matter then.
  u.s0 = "mysql://host=localhost port=1 db=ls";
  u.s1 = "mysql://port=2 service=ls";
  CHECK_FALSE(Parse(u).ok());
  u.s1 = "mysql://host=localhost db=ls unix_socket=/other/mysqld.sock";
  ExpectOk(u);
  u.s0 = "mysql://host=db.example port=3306 db=ls";
  u.s1 = "mysql://host=db.example port=3307 db=ls";
  ExpectOk(u);
}

TEST_CASE("a config built in code gets the same checks") {
  ClusterConfig config;
  config.catalog = "catalog";
  config.databases = {{"catalog", Backend::kSqlite, "sqlite3://db=/x/c.db", {}},
                      {"a", Backend::kSqlite, "sqlite3://db=/x/a.db", {}},
                      {"b", Backend::kSqlite, "sqlite3://db=/x/./a.db", {}}};
  config.shards = {"a", "b"};
  Status s = config.Validate();
  CHECK(s.code() == Code::kInvalidConfig);
  CHECK(Contains(s.message(), "shards 'a' and 'b' are the same database"));

  config.databases[2].url = "sqlite3://db=/x/b.db tiemout=5";
  s = config.Validate();
  CHECK(s.code() == Code::kInvalidConfig);
  CHECK(Contains(s.message(), "unknown sqlite3 setting 'tiemout'"));

  config.databases[2].url = "sqlite3://db=/x/b.db";
  CHECK_MESSAGE(config.Validate().ok(), config.Validate().ToString());
}

// --- malformed connection strings -------------------------------------------

TEST_CASE("malformed connection strings are config errors at load time") {
  NoLibpqEnv clean;
  struct Case {
    std::string url;
    std::string error;  // the message after `database 's1' ("<redacted url>"): `
  };
  const std::vector<Case> cases = {
      {"postgresql://host=h port=abc dbname=x",
       "PostgreSQL setting 'port' must be a number from 1 to 65535"},
      {"postgresql://host=h port=99999 dbname=x",
       "PostgreSQL setting 'port' must be a number from 1 to 65535"},
      {"postgresql://host=h dbname=x connect_timeout=soon",
       "PostgreSQL setting 'connect_timeout' must be a number of seconds"},
      {"postgresql://host=h bogus=1",
       "unknown PostgreSQL (libpq) setting 2 ('bogus'); e.g. host, port, dbname, user, "
       "password, connect_timeout, sslmode"},
      {"postgresql://host=h dbname", "setting 2 ('dbname') is not key=value (quote values "
                                     "that contain spaces)"},
      {"postgresql://host='h dbname=x", "setting 1 ('host') has a quote that is never closed"},
      {"mysql://host=h port=70000 db=x", "MySQL setting 'port' must be a number from 0 to 65535"},
      {"mysql://host=h port=x db=x", "MySQL setting 'port' must be a number from 0 to 65535"},
      {"mysql://host=h db=x db=y",
       "MySQL setting 3 ('db') sets 'db' a second time (pass/password and db/dbname/service "
       "are the same setting)"},
      {"mysql://host=h db=x service=y",
       "MySQL setting 3 ('service') sets 'db' a second time (pass/password and "
       "db/dbname/service are the same setting)"},
      {"mysql://host=h db=x bogus=1",
       "unknown MySQL setting 3 ('bogus') (known: host, port, user, password, db, "
       "unix_socket, charset, sslca, sslcert, sslkey, local_infile, reconnect, "
       "connect_timeout, read_timeout, write_timeout)"},
      {"mysql://host=h db=x reconnect=0", "MySQL setting 'reconnect' may only be 1"},
      {"mysql://host=h db=x local_infile=yes", "MySQL setting 'local_infile' must be 0 or 1"},
      {"mysql://host=h db=x read_timeout=-1",
       "MySQL setting 'read_timeout' must be a number of seconds"},
      {"mysql://host=h db='x", "setting 2 ('db') has a quote that is never closed"},
      {"mysql://host=h db=\"x", "setting 2 ('db') has a quote that is never closed"},
      {"sqlite3://db=s1.db timeout=abc",
       "sqlite3 setting 'timeout' must be a number of seconds from 0 to 86400"},
      {"sqlite3://db=s1.db synchronous=sometimes",
       "sqlite3 setting 'synchronous' must be off, normal, full or extra"},
      {"sqlite3://db=s1.db timout=5",
       "unknown sqlite3 setting 'timout' (known: db, timeout, synchronous, readonly, "
       "shared_cache, vfs)"},
  };
  for (const Case& c : cases) {
    Urls u;
    u.s1 = c.url;
    Result<ClusterConfig> config = Parse(u);
    CAPTURE(c.url);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == Code::kInvalidConfig);
    CHECK(config.status().message() ==
          "t.yaml:5:7: database 's1' (\"" + RedactUrl(c.url) + "\"): " + c.error);
  }
}

TEST_CASE("a malformed string never shows a password, even a badly quoted one") {
  NoLibpqEnv clean;
  for (const std::string url : {
           "postgresql://host=h password=hunter 2 dbname=x",
           "mysql://host=h password=hunter 2=x db=x",
           "mysql://host=h pass=hunter2 bogus=1",
           "postgresql://host=h password='hunter2",
       }) {
    Urls u;
    u.s1 = url;
    Result<ClusterConfig> config = Parse(u);
    CAPTURE(url);
    REQUIRE_FALSE(config.ok());
    CAPTURE(config.status().message());
    CHECK_FALSE(Contains(config.status().message(), "hunter"));
  }
}

TEST_CASE("well-formed connection strings still load") {
  NoLibpqEnv clean;
  for (const std::string url : {
           "postgresql://host=h port=5432,5433 dbname=x sslmode=require "
           "application_name='my app' password='a b' connect_timeout=3",
           "postgresql://host = h dbname = x",
           "postgresql://",
           "mysql://host=h port=3306 db=x user=u password='p w' charset=utf8mb4 "
           "connect_timeout=5 read_timeout=5 write_timeout=5 reconnect=1 local_infile=0 "
           "unix_socket=/tmp/s sslca=/a sslcert=/b sslkey=/c",
           "mysql://host=h pass=\"p w\" dbname=x",
           "sqlite3://db=s1.db timeout=5 synchronous=NORMAL shared_cache=true readonly=0",
           "sqlite3://db=s1.db synchronous=2",
       }) {
    Urls u;
    u.s1 = url;
    CAPTURE(url);
    ExpectOk(u);
  }
}

}  // namespace
}  // namespace libshard
