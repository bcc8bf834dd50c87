// Catalog layout versions (catalog/catalog.h): Init upgrades a layout-1
// cluster in place and refuses a newer one; Open refuses both until Init
// ran; a lost SQLite shard is refused, not recreated empty.
//
// The version tests give each cluster a private SQLite catalog (record
// shards stay on the backend under test): server catalogs are shared by
// every test cluster of one shape, so rewriting their layout here would
// break concurrent runs.
#include <soci/soci.h>

#include <filesystem>
#include <map>

#include "catalog/catalog.h"
#include "cluster/connection_pool.h"
#include "conformance.h"
#include "router/hash.h"

namespace conformance {
namespace {

// A direct session on one database of the cluster, bypassing libshard.
class Db {
 public:
  Db(const ClusterConfig& config, const std::string& database)
      : pool_(*config.FindDatabase(database), Options{}) {
    Result<cluster::ConnectionPool::Lease> lease = pool_.Acquire();
    REQUIRE_OK(lease);
    lease_ = std::move(lease).value();
  }
  soci::session& sql() { return lease_->sql(); }
  const backend::Dialect& dialect() const { return pool_.dialect(); }
  Backend backend() const { return pool_.db().backend; }

 private:
  cluster::ConnectionPool pool_;
  cluster::ConnectionPool::Lease lease_;
};

std::string SqliteFile(const DatabaseConfig& db) {
  REQUIRE(db.backend == Backend::kSqlite);
  REQUIRE(db.url.rfind("sqlite3://db=", 0) == 0);
  return db.url.substr(std::string("sqlite3://db=").size());
}

// MakeCluster on the backend under test, with the catalog moved to a fresh
// SQLite file of its own.
TestCluster WithPrivateCatalog(const ClusterSpec& spec) {
  AnnounceBackend();
  TestCluster c = MakeCluster(BackendFromEnv(), spec);
  for (DatabaseConfig& db : c.config.databases) {
    if (db.name != c.config.catalog) continue;
    db.backend = Backend::kSqlite;
    db.url = "sqlite3://db=" + c.dir + "/private_catalog.db";
  }
  return c;
}

// The layout-1 DDL exactly as libshard 1 wrote it (catalog/catalog.cc and
// records/record_table.cc before layout 2), with its initial round-robin
// bucket map and meta rows.
void CreateLayout1(const ClusterConfig& config, const std::vector<std::string>& entities) {
  Db cat(config, config.catalog);
  cat.sql() << "CREATE TABLE ls_meta (name VARCHAR(64) NOT NULL PRIMARY KEY, "
               "value VARCHAR(255) NOT NULL)";
  cat.sql() << "CREATE TABLE ls_buckets (bucket INTEGER NOT NULL PRIMARY KEY, "
               "shard VARCHAR(64) NOT NULL, epoch BIGINT NOT NULL)";
  std::string name, value;
  for (auto [n, v] : std::map<std::string, std::string>{
           {"schema_version", "1"},
           {"buckets", std::to_string(config.buckets)},
           {"hash_seed", std::to_string(config.hash_seed)},
           {"epoch", "1"}}) {
    name = n;
    value = v;
    cat.sql() << "INSERT INTO ls_meta (name, value) VALUES (:n, :v)", soci::use(name),
        soci::use(value);
  }
  for (uint32_t b = 0; b < config.buckets; ++b) {
    int bucket = static_cast<int>(b);
    std::string shard = config.shards[b % config.shards.size()];
    cat.sql() << "INSERT INTO ls_buckets (bucket, shard, epoch) VALUES (:b, :s, 1)",
        soci::use(bucket), soci::use(shard);
  }
  for (const std::string& shard : config.shards) {
    Db db(config, shard);
    std::string key, body, options;
    switch (db.backend()) {
      case Backend::kSqlite: key = "BLOB", body = "BLOB"; break;
      case Backend::kPostgres: key = "BYTEA", body = "BYTEA"; break;
      case Backend::kMysql:
        key = "VARBINARY(255)", body = "LONGBLOB";
        options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
        break;
    }
    for (const std::string& e : entities) {
      std::string t = "ls_rec_" + e;
      db.sql() << "CREATE TABLE " + t + " (id " + key +
                      " NOT NULL PRIMARY KEY, bucket INTEGER NOT NULL, version BIGINT NOT "
                      "NULL, updated BIGINT NOT NULL, body " + body + " NOT NULL)" + options;
      db.sql() << "CREATE INDEX " + t + "_bucket ON " + t + " (bucket)";
    }
  }
}

// Writes a record the way layout 1 stored it, on the shard the round-robin
// map routes it to.
void PutLayout1(const ClusterConfig& config, const std::string& entity, const std::string& id,
                const Document& doc) {
  uint32_t bucket = router::BucketOf(id, config.hash_seed, config.buckets);
  Db db(config, config.shards[bucket % config.shards.size()]);
  const backend::Dialect& d = db.dialect();
  std::string id_enc = d.EncodeBytes(id);
  std::string body_enc = d.EncodeBytes(doc.ToMsgpack());
  int b = static_cast<int>(bucket);
  long long updated = NowMicros();
  db.sql() << "INSERT INTO ls_rec_" + entity + " (id, bucket, version, updated, body) VALUES (" +
                  d.BytesParam("id") + ", :b, 1, :u, " + d.BytesParam("body") + ")",
      soci::use(id_enc, "id"), soci::use(b, "b"), soci::use(updated, "u"),
      soci::use(body_enc, "body");
}

std::string Meta(const ClusterConfig& config, const std::string& name) {
  Db cat(config, config.catalog);
  std::string value;
  soci::indicator ind = soci::i_null;
  std::string n = name;
  cat.sql() << "SELECT value FROM ls_meta WHERE name = :n", soci::into(value, ind),
      soci::use(n);
  return ind == soci::i_ok ? value : "";
}

Document Doc(int n) {
  Result<Document> d = Document::FromJson("{\"n\": " + std::to_string(n) + ", \"s\": \"x\"}");
  REQUIRE_OK(d);
  return *d;
}

TEST_CASE("schema: init upgrades a layout-1 cluster in place; Open wants the upgrade first") {
  TestCluster c = WithPrivateCatalog(Spec({"items", "notes"}));
  std::string items = c.Entity("items"), notes = c.Entity("notes");
  CreateLayout1(c.config, {items, notes});
  for (int n = 0; n < 40; ++n) PutLayout1(c.config, items, "r" + std::to_string(n), Doc(n));

  Result<std::unique_ptr<Store>> early = Store::Open(c.config, Options{});
  CHECK_CODE(early, Code::kInvalidConfig);
  CHECK_MESSAGE(Describe(early).find("layout version 1") != std::string::npos, Describe(early));
  CHECK_MESSAGE(Describe(early).find("shardctl init") != std::string::npos, Describe(early));

  REQUIRE_OK(Store::Init(c.config, Options{}));
  CHECK(Meta(c.config, "schema_version") == std::to_string(catalog::kSchemaVersion));
  std::string cluster_id = Meta(c.config, "cluster_id");
  CHECK(cluster_id.size() == 32);
  for (const std::string& shard : c.config.shards) {
    Db db(c.config, shard);
    std::string marked;
    soci::indicator ind = soci::i_null;
    db.sql() << "SELECT shard FROM ls_shard WHERE cluster_id = :c", soci::into(marked, ind),
        soci::use(cluster_id);
    CHECK_MESSAGE(ind == soci::i_ok, "no marker on " << shard);
    CHECK(marked == shard);
  }
  // A second Init is a no-op on an upgraded cluster.
  REQUIRE_OK(Store::Init(c.config, Options{}));
  CHECK(Meta(c.config, "cluster_id") == cluster_id);

  Result<std::unique_ptr<Store>> store = Store::Open(c.config, Options{});
  REQUIRE_OK(store);
  for (int n = 0; n < 40; ++n) {
    Result<Record> r = (*store)->Get(items, "r" + std::to_string(n));
    REQUIRE_OK(r);
    CHECK(r->version == 1);
    CHECK(r->doc == Doc(n));
  }
  CHECK(Sum(CountsByShard(**store, items)) == 40);
  Result<uint64_t> v = (*store)->Put(items, "r0", Doc(100));
  REQUIRE_OK(v);
  CHECK(*v == 2);
  REQUIRE_OK((*store)->Put(notes, "new", Doc(1)));
}

TEST_CASE("schema: a catalog newer than this libshard is refused by Init and Open") {
  TestCluster c = WithPrivateCatalog(Spec({"items"}));
  REQUIRE_OK(Store::Init(c.config, Options{}));
  {
    Db cat(c.config, c.config.catalog);
    std::string newer = std::to_string(catalog::kSchemaVersion + 1);
    std::string name = "schema_version";
    cat.sql() << "UPDATE ls_meta SET value = :v WHERE name = :n", soci::use(newer),
        soci::use(name);
  }
  const std::string want = "'" + c.config.catalog + "'";
  const std::string found = "layout version " + std::to_string(catalog::kSchemaVersion + 1);
  const std::string supported = "supports layout " + std::to_string(catalog::kSchemaVersion);
  Status init = Store::Init(c.config, Options{});
  CHECK_CODE(init, Code::kInvalidConfig);
  for (const std::string& part : {want, found, supported, std::string("upgrade libshard")}) {
    CHECK_MESSAGE(init.message().find(part) != std::string::npos, init.ToString());
  }
  Result<std::unique_ptr<Store>> open = Store::Open(c.config, Options{});
  CHECK_CODE(open, Code::kInvalidConfig);
  for (const std::string& part : {want, found, supported}) {
    CHECK_MESSAGE(Describe(open).find(part) != std::string::npos, Describe(open));
  }
  // Refused before touching anything: the version is still the newer one.
  CHECK(Meta(c.config, "schema_version") == std::to_string(catalog::kSchemaVersion + 1));
}

TEST_CASE("schema: a deleted SQLite shard file is refused, not recreated empty") {
  AnnounceBackend();
  ClusterSpec spec = Spec({"items"});
  TestCluster c = MakeCluster(TestBackend::kSqlite, spec);
  std::string items = c.Entity("items");
  REQUIRE_OK(Store::Init(c.config, Options{}));
  {
    Result<std::unique_ptr<Store>> store = Store::Open(c.config, Options{});
    REQUIRE_OK(store);
    for (int n = 0; n < 20; ++n) REQUIRE_OK((*store)->Put(items, "r" + std::to_string(n), Doc(n)));
  }

  // Declaring a new entity later is legal: Init creates its tables.
  EntityConfig later;
  later.name = items + "_later";
  c.config.entities.push_back(later);
  REQUIRE_OK(Store::Init(c.config, Options{}));
  {
    Result<std::unique_ptr<Store>> store = Store::Open(c.config, Options{});
    REQUIRE_OK(store);
    REQUIRE_OK((*store)->Put(later.name, "a", Doc(1)));
  }

  const DatabaseConfig& s1 = *c.config.FindDatabase("s1");
  const std::string file = SqliteFile(s1);
  REQUIRE(std::filesystem::remove(file));

  Result<std::unique_ptr<Store>> open = Store::Open(c.config, Options{});
  CHECK_CODE(open, Code::kCorruption);
  CHECK_MESSAGE(Describe(open).find(file) != std::string::npos, Describe(open));
  CHECK_MESSAGE(!std::filesystem::exists(file), "Open recreated " << file);

  Status init = Store::Init(c.config, Options{});
  CHECK_CODE(init, Code::kCorruption);
  CHECK_MESSAGE(init.message().find(file) != std::string::npos, init.ToString());
  // Still refused on a second try, and no record table was created.
  CHECK_CODE(Store::Init(c.config, Options{}), Code::kCorruption);
  CHECK_MESSAGE(!std::filesystem::exists(file), "Init recreated " << file);
  CHECK_CODE(Store::Open(c.config, Options{}), Code::kCorruption);

  // The file comes back empty (e.g. restored from the wrong place, or
  // created by another tool): the stat passes, the marker check refuses.
  { Db db(c.config, "s1"); }
  REQUIRE(std::filesystem::exists(file));
  init = Store::Init(c.config, Options{});
  CHECK_CODE(init, Code::kCorruption);
  CHECK_MESSAGE(init.message().find(file) != std::string::npos, init.ToString());
  CHECK_MESSAGE(init.message().find("marker") != std::string::npos, init.ToString());
  {
    Db db(c.config, "s1");
    long long tables = -1;
    db.sql() << "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'ls_rec_%'",
        soci::into(tables);
    CHECK(tables == 0);
  }
}


// ARCHITECTURE.md ("What a move costs"): on SQLite, ls_owner is created
// WITHOUT ROWID; a shard whose ls_owner predates that keeps its rowid
// table and gives the same answers.
std::string OwnerDdl(const ClusterConfig& config, const std::string& shard) {
  Db db(config, shard);
  std::string ddl;
  db.sql() << "SELECT sql FROM sqlite_master WHERE name = 'ls_owner'", soci::into(ddl);
  return ddl;
}

TEST_CASE("schema: a SQLite shard whose ls_owner has a rowid (before WITHOUT ROWID) keeps it "
          "and answers the same") {
  AnnounceBackend();
  TestCluster c = MakeCluster(TestBackend::kSqlite, Spec({"items"}));
  const std::string items = c.Entity("items");
  const std::string old_shard = c.config.shards[0];
  {
    Db db(c.config, old_shard);  // the DDL as libshard wrote it before
    db.sql() << "CREATE TABLE ls_owner (cluster_id VARCHAR(64) NOT NULL, bucket INTEGER NOT "
                "NULL, state INTEGER NOT NULL, peer VARCHAR(64) NOT NULL, PRIMARY KEY "
                "(cluster_id, bucket))";
  }
  REQUIRE_OK(Store::Init(c.config, Options{}));
  CHECK(OwnerDdl(c.config, old_shard).find("WITHOUT ROWID") == std::string::npos);
  for (size_t i = 1; i < c.config.shards.size(); ++i) {
    CHECK(OwnerDdl(c.config, c.config.shards[i]).find("WITHOUT ROWID") != std::string::npos);
  }
  Result<std::unique_ptr<Store>> store = Store::Open(c.config, Options{});
  REQUIRE_OK(store);
  std::vector<Id> ids;
  for (int n = 0; n < 60; ++n) {
    ids.push_back("r" + std::to_string(n));
    REQUIRE_OK((*store)->Put(items, ids.back(), Doc(n)));
  }
  std::map<std::string, uint64_t> counts = CountsByShard(**store, items);
  CHECK(counts[old_shard] > 0);  // some records live on the old-layout shard
  CHECK(Sum(counts) == 60);
  Result<std::vector<Record>> many = (*store)->GetMany(items, ids);
  REQUIRE_OK(many);
  REQUIRE(many->size() == 60);
  for (int n = 0; n < 60; ++n) {
    CHECK((*many)[n].doc == Doc(n));
    Result<Record> one = (*store)->Get(items, ids[n]);
    REQUIRE_OK(one);
    CHECK(one->version == 1);
  }
}

}  // namespace
}  // namespace conformance
