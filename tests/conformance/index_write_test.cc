// Index maintenance on the write path: put, update, delete and put_many keep
// every index row a committed record needs, unique indexes refuse a second
// live holder, and values left dangling can be taken again. Rows are
// counted straight from the index tables, so these tests do not depend on
// the query engine.
#include <soci/soci.h>

#include "cluster/connection_pool.h"
#include "conformance/conformance.h"
#include "indexer/index_def.h"
#include "indexer/index_table.h"

using namespace conformance;  // NOLINT

namespace {

ClusterSpec IndexedSpec() {
  ClusterSpec spec;
  spec.index_databases = {"idx0", "idx1"};
  EntityConfig posts;
  posts.name = "posts";
  posts.indexes.push_back(Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}));
  posts.indexes.push_back(Idx("by_author", {Col("author", ColumnType::kString, "author"),
                                              Col("created", ColumnType::kInt, "created")},
                                false, {"idx0", "idx1"}));
  EntityConfig users;
  users.name = "users";
  users.indexes.push_back(
      Idx("by_email", {Col("email", ColumnType::kString, "email", true)}, true));
  spec.entities = {posts, users};
  return spec;
}

// Rows of an index table for `id` (across all its databases).
long long CountRows(Env& env, const std::string& entity, const std::string& index,
                    const std::string& id = "") {
  const IndexConfig* cfg = env->config().FindEntity(entity)->FindIndex(index);
  REQUIRE(cfg != nullptr);
  long long total = 0;
  for (const std::string& db_name : cfg->databases) {
    const DatabaseConfig* db = env->config().FindDatabase(db_name);
    cluster::ConnectionPool pool(*db, Options{});
    auto lease = pool.Acquire();
    REQUIRE(lease.ok());
    const backend::Dialect& d = pool.dialect();
    long long n = 0;
    std::string table = "ls_idx_" + entity + "_" + index;
    if (id.empty()) {
      (*lease)->sql() << "SELECT COUNT(*) FROM " + table, soci::into(n);
    } else {
      std::string bound = d.EncodeBytes(id);
      (*lease)->sql() << "SELECT COUNT(*) FROM " + table + " WHERE id = " + d.BytesParam("id"),
          soci::into(n), soci::use(bound);
    }
    total += n;
  }
  return total;
}

Document Post(std::string author, int64_t created, std::vector<std::string> tags) {
  Document d = Document::MakeObject({{"author", author}, {"created", created}});
  d["tags"] = Document::MakeArray();
  for (auto& t : tags) d["tags"].push_back(t);
  return d;
}

}  // namespace

TEST_SUITE("index maintenance") {

TEST_CASE("put, update and delete keep index rows exact") {
  Env env = OpenCluster(IndexedSpec());
  const std::string posts = env.Entity("posts");
  REQUIRE_OK(env->Put(posts, "p1", Post("ada", 100, {"c++", "db", "db"})));
  CHECK(CountRows(env, posts, "by_tag", "p1") == 2);  // duplicates collapse
  CHECK(CountRows(env, posts, "by_author", "p1") == 1);

  REQUIRE_OK(env->Put(posts, "p1", Post("bob", 100, {"db", "sql", "ops"})));
  CHECK(CountRows(env, posts, "by_tag", "p1") == 3);  // c++ gone, sql+ops added
  CHECK(CountRows(env, posts, "by_author", "p1") == 1);

  Document no_author = Post("x", 1, {});
  no_author.Erase("author");
  REQUIRE_OK(env->Put(posts, "p1", no_author));  // missing field: no row
  CHECK(CountRows(env, posts, "by_tag", "p1") == 0);
  CHECK(CountRows(env, posts, "by_author", "p1") == 0);

  REQUIRE_OK(env->Put(posts, "p1", Post("cy", 5, {"a"})));
  Result<bool> deleted = env->Delete(posts, "p1");
  REQUIRE_OK(deleted);
  CHECK(*deleted);
  CHECK(CountRows(env, posts, "by_tag", "p1") == 0);
  CHECK(CountRows(env, posts, "by_author", "p1") == 0);
}

TEST_CASE("put_many maintains indexes for every item") {
  Env env = OpenCluster(IndexedSpec());
  const std::string posts = env.Entity("posts");
  std::vector<PutItem> items;
  for (int i = 0; i < 300; ++i) {
    items.push_back({"p" + std::to_string(i), Post("a" + std::to_string(i % 7), i, {"t1", "t2"}), {}});
  }
  REQUIRE_OK(env->PutMany(posts, items));
  CHECK(CountRows(env, posts, "by_tag") == 600);
  CHECK(CountRows(env, posts, "by_author") == 300);
}

TEST_CASE("unique index: a second live holder is refused and nothing is stored") {
  Env env = OpenCluster(IndexedSpec());
  const std::string users = env.Entity("users");
  REQUIRE_OK(env->Put(users, "ada", Document::MakeObject({{"email", "Ada@Example.com"}})));
  CHECK_CODE(env->Put(users, "eve", Document::MakeObject({{"email", "ada@example.COM"}})),
             Code::kUniqueViolation);
  CHECK_CODE(env->Get(users, "eve"), Code::kNotFound);
  CHECK(CountRows(env, users, "by_email", "eve") == 0);

  // The holder may rewrite its own value.
  REQUIRE_OK(env->Put(users, "ada", Document::MakeObject({{"email", "ada@example.com"}, {"n", 2}})));
  // A value given up by an update can be taken.
  REQUIRE_OK(env->Put(users, "ada", Document::MakeObject({{"email", "ada@new.example"}})));
  REQUIRE_OK(env->Put(users, "eve", Document::MakeObject({{"email", "ADA@example.com"}})));
  // A value given up by a delete can be taken.
  REQUIRE_OK(env->Delete(users, "ada"));
  REQUIRE_OK(env->Put(users, "bob", Document::MakeObject({{"email", "ada@new.example"}})));
  CHECK(CountRows(env, users, "by_email") == 2);
}

TEST_CASE("unique index: a dangling row does not block its value") {
  Env env = OpenCluster(IndexedSpec());
  const std::string users = env.Entity("users");
  // A row left by a writer that crashed before its record committed.
  const DatabaseConfig* db = env->config().FindDatabase("idx0");
  cluster::ConnectionPool pool(*db, Options{});
  auto lease = pool.Acquire();
  REQUIRE(lease.ok());
  const backend::Dialect& d = pool.dialect();
  std::string value = d.EncodeBytes("ghost@example.com"), id = d.EncodeBytes("ghost");
  (*lease)->sql() << "INSERT INTO ls_idx_" + users + "_by_email (c_email, id) VALUES (" +
                         d.BytesParam("v") + ", " + d.BytesParam("i") + ")",
      soci::use(value), soci::use(id);
  REQUIRE_OK(env->Put(users, "real", Document::MakeObject({{"email", "ghost@example.com"}})));
  CHECK(CountRows(env, users, "by_email", "ghost") == 0);
  CHECK(CountRows(env, users, "by_email", "real") == 1);
}

TEST_CASE("a unique violation in put_many rolls back that shard's batch") {
  Env env = OpenCluster(IndexedSpec());
  const std::string users = env.Entity("users");
  REQUIRE_OK(env->Put(users, "holder", Document::MakeObject({{"email", "taken@example.com"}})));
  // Two new users that share one shard, so the batch is one transaction.
  std::vector<std::string> same;
  for (int i = 0; same.size() < 2; ++i) {
    std::string id = "u" + std::to_string(i);
    if (env->Locate(id).shard == env->Locate("x0").shard) same.push_back(id);
  }
  std::vector<PutItem> items = {
      {same[0], Document::MakeObject({{"email", "fresh@example.com"}}), {}},
      {same[1], Document::MakeObject({{"email", "TAKEN@example.com"}}), {}},
  };
  CHECK_CODE(env->PutMany(users, items), Code::kUniqueViolation);
  CHECK_CODE(env->Get(users, same[0]), Code::kNotFound);
  CHECK_CODE(env->Get(users, same[1]), Code::kNotFound);
  // The value the rolled-back item claimed was released.
  REQUIRE_OK(env->Put(users, "later", Document::MakeObject({{"email", "fresh@example.com"}})));
}

}  // TEST_SUITE
