// Secondary-index queries (Store::Query) on every backend: the operators,
// order and limit, lower-cased and multi-row (array) columns, a sharded
// index over two index databases, keyset pagination over 10,000 hits, the
// re-check that keeps stale and dangling rows out of results, and the
// errors.
//
// Expected results come from a brute-force oracle: every record from
// ScanAll, its rows from the index definition, filtered and sorted here.
// Dangling rows are planted straight into the index tables (IndexWriter) so
// the re-check is exercised even though the write path removes stale rows.
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cluster/connection_pool.h"
#include "conformance/conformance.h"
#include "indexer/index_catalog.h"
#include "indexer/index_def.h"
#include "indexer/index_table.h"

using namespace conformance;  // NOLINT

namespace {

// --- cluster helpers ---------------------------------------------------------

IndexConfig Ix(std::string name, std::vector<IndexColumnConfig> columns,
               std::vector<std::string> databases = {"idx0"}, bool unique = false) {
  return Idx(std::move(name), std::move(columns), unique, std::move(databases));
}

EntityConfig Ent(std::string name, std::vector<IndexConfig> indexes) {
  EntityConfig e;
  e.name = std::move(name);
  e.indexes = std::move(indexes);
  return e;
}

// posts: by_author_time (author, created), by_tag (tags[]),
//        by_pub_score (published bool, score float)
EntityConfig Posts() {
  return Ent("posts", {Ix("by_author_time", {Col("author", ColumnType::kString, "author"),
                                             Col("created", ColumnType::kInt, "created")}),
                       Ix("by_tag", {Col("tag", ColumnType::kString, "tags[]")}),
                       Ix("by_pub_score", {Col("published", ColumnType::kBool, "published"),
                                           Col("score", ColumnType::kFloat, "score")})});
}

// users: by_email, unique, lower-cased.
EntityConfig Users() {
  return Ent("users",
             {Ix("by_email", {Col("email", ColumnType::kString, "email", true)}, {"idx0"}, true)});
}

const IndexConfig& IndexOf(const Store& store, const std::string& entity, const std::string& name) {
  const EntityConfig* e = store.config().FindEntity(entity);
  REQUIRE(e != nullptr);
  const IndexConfig* ix = e->FindIndex(name);
  REQUIRE(ix != nullptr);
  return *ix;
}

indexer::IndexDef DefOf(const Store& store, const std::string& entity, const std::string& name) {
  return indexer::FromConfig(*store.config().FindEntity(entity), IndexOf(store, entity, name));
}

// Store::Init registers config indexes `ready` only on a catalog it
// initializes for the first time. The server backends share one catalog per
// cluster shape across test runs, so there the (new, empty) entities' indexes
// start write_only; with no record written yet they are complete, so mark
// them ready as a finished build would.
void MarkReadyOnSharedCatalog(const ClusterConfig& config) {
  const DatabaseConfig* catalog = config.FindDatabase(config.catalog);
  REQUIRE(catalog != nullptr);
  if (catalog->backend == Backend::kSqlite) return;  // fresh per test: Init made them ready
  cluster::ConnectionPool pool(*catalog, Options{});
  Result<cluster::ConnectionPool::Lease> lease = pool.Acquire();
  REQUIRE_OK(lease);
  for (const EntityConfig& e : config.entities) {
    for (const IndexConfig& ix : e.indexes) {
      indexer::SetIndexState((*lease)->sql(), e.name, ix.name, IndexState::kReady);
    }
  }
}

Env OpenIndexed(std::vector<EntityConfig> entities, int shards = 4) {
  AnnounceBackend();
  ClusterSpec spec;
  spec.shards = shards;
  spec.entities = std::move(entities);
  Env env;
  env.cluster = MakeCluster(BackendFromEnv(), spec);
  Status init = Store::Init(env.cluster.config);
  REQUIRE_MESSAGE(init.ok(), "Store::Init: " << init.ToString());
  MarkReadyOnSharedCatalog(env.cluster.config);
  Result<std::unique_ptr<Store>> store = Store::Open(env.cluster.config);
  REQUIRE_MESSAGE(store.ok(), "Store::Open: " << store.status().ToString());
  env.store = std::move(store).value();
  return env;
}

// Writes an index row straight into the index table (bypassing the write
// path), on the database its first value maps to unless `database` says.
void PlantRow(const Store& store, const std::string& entity, const std::string& index,
              const IndexRow& row, const std::string& id,
              std::optional<size_t> database = std::nullopt) {
  const indexer::IndexDef def = DefOf(store, entity, index);
  const size_t k = database ? *database : def.DatabaseFor(row[0]);
  const DatabaseConfig* db = store.config().FindDatabase(def.databases.at(k));
  REQUIRE(db != nullptr);
  cluster::ConnectionPool pool(*db, Options{});
  Result<cluster::ConnectionPool::Lease> lease = pool.Acquire();
  REQUIRE_OK(lease);
  indexer::IndexWriter writer((*lease)->sql(), pool.dialect(), def);
  writer.Insert(row, id);
}

// --- queries -------------------------------------------------------------------

Condition Where(std::string column, Op op, std::vector<Document> values) {
  return Condition{std::move(column), op, std::move(values)};
}

Query Q(std::string index, std::vector<Condition> where = {}, std::string order_by = "",
        bool descending = false, int limit = 100) {
  Query q;
  q.index = std::move(index);
  q.where = std::move(where);
  q.order_by = std::move(order_by);
  q.descending = descending;
  q.limit = limit;
  return q;
}

std::vector<std::string> IdsOf(const QueryPage& page) {
  std::vector<std::string> ids;
  for (const Record& r : page.records) ids.push_back(r.id);
  return ids;
}

// Every page of `q` (page size q.limit), following `next`. Checks that a
// page with a `next` is full and that the records are the current ones.
std::vector<std::string> AllPages(Store& store, const std::string& entity, Query q,
                                  int* pages = nullptr) {
  std::vector<std::string> ids;
  int n = 0;
  while (true) {
    Result<QueryPage> page = store.Query(entity, q);
    REQUIRE_OK(page);
    ++n;
    CHECK(page->records.size() <= static_cast<size_t>(q.limit));
    for (const Record& r : page->records) ids.push_back(r.id);
    if (page->next.empty()) break;
    CHECK(page->records.size() == static_cast<size_t>(q.limit));
    REQUIRE_MESSAGE(n < 100000, "pagination does not end");
    q.after = page->next;
  }
  if (pages) *pages = n;
  return ids;
}

// Typed comparison for the oracle (independent of the engine's).
int Cmp(const Document& a, const Document& b) {
  if (a.type() == Document::Type::kInt) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
  if (a.type() == Document::Type::kDouble) {
    return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double();
  }
  if (a.type() == Document::Type::kBool) return int(a.as_bool()) - int(b.as_bool());
  const std::string &x = a.as_string(), &y = b.as_string();
  return x < y ? -1 : x > y;
}

// Brute force: the ids `q` must return (all pages), from every record.
std::vector<std::string> Oracle(Store& store, const std::string& entity, const Query& q) {
  const indexer::IndexDef def = DefOf(store, entity, q.index);
  struct Cond {
    int column;
    Op op;
    std::vector<Document> values;
  };
  std::vector<Cond> conds;
  for (const Condition& c : q.where) {
    Cond cond{def.ColumnIndex(c.column), c.op, {}};
    REQUIRE(cond.column >= 0);
    for (const Document& v : c.values) {
      Result<Document> n = def.Normalize(cond.column, v);
      REQUIRE_OK(n);
      cond.values.push_back(*n);
    }
    conds.push_back(std::move(cond));
  }
  auto holds = [&](const IndexRow& row) {
    for (const Cond& c : conds) {
      const Document& v = row[c.column];
      bool ok = false;
      switch (c.op) {
        case Op::kEq: ok = Cmp(v, c.values[0]) == 0; break;
        case Op::kNe: ok = Cmp(v, c.values[0]) != 0; break;
        case Op::kLt: ok = Cmp(v, c.values[0]) < 0; break;
        case Op::kLe: ok = Cmp(v, c.values[0]) <= 0; break;
        case Op::kGt: ok = Cmp(v, c.values[0]) > 0; break;
        case Op::kGe: ok = Cmp(v, c.values[0]) >= 0; break;
        case Op::kIn:
          for (const Document& x : c.values) ok = ok || Cmp(v, x) == 0;
          break;
      }
      if (!ok) return false;
    }
    return true;
  };
  std::vector<int> key;
  if (!q.order_by.empty()) key.push_back(def.ColumnIndex(q.order_by));
  for (int k = 0; k < static_cast<int>(def.columns.size()); ++k) {
    if (key.empty() || key[0] != k) key.push_back(k);
  }
  Result<std::vector<Record>> all = store.ScanAll(entity);
  REQUIRE_OK(all);
  std::vector<std::pair<IndexRow, std::string>> hits;
  for (const Record& r : *all) {
    std::vector<IndexRow> rows;
    REQUIRE_OK(def.Rows(r.doc, &rows));
    for (IndexRow& row : rows) {
      if (holds(row)) hits.emplace_back(std::move(row), r.id);
    }
  }
  std::sort(hits.begin(), hits.end(), [&](const auto& a, const auto& b) {
    for (int k : key) {
      int c = Cmp(a.first[k], b.first[k]);
      if (c != 0) return q.descending ? c > 0 : c < 0;
    }
    return q.descending ? a.second > b.second : a.second < b.second;
  });
  std::vector<std::string> ids;
  for (auto& h : hits) ids.push_back(h.second);
  return ids;
}

Document Post(const std::string& author, int64_t created, std::vector<std::string> tags = {},
              bool published = false, double score = 0) {
  Document d = Document::MakeObject({{"author", author}, {"created", created}});
  Document t = Document::MakeArray();
  for (auto& tag : tags) t.push_back(tag);
  d["tags"] = t;
  d["published"] = published;
  d["score"] = score;
  d["title"] = "post by " + author + " at " + std::to_string(created);
  return d;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_SUITE("query") {

TEST_CASE("blog posts by author and time range: =, <, <=, >, >=, order, limit") {
  Env env = OpenIndexed({Posts()});
  const std::string posts = env.Entity("posts");
  // 30 posts: authors ada, bob, cy in turn; created 1000, 1010, …
  std::map<std::string, std::pair<std::string, int64_t>> truth;
  for (int i = 0; i < 30; ++i) {
    const std::string author = i % 3 == 0 ? "ada" : i % 3 == 1 ? "bob" : "cy";
    const int64_t created = 1000 + 10 * ((i * 7) % 30);  // not in id order
    const std::string id = "post-" + std::to_string(i);
    REQUIRE_OK(env->Put(posts, id, Post(author, created)));
    truth[id] = {author, created};
  }
  auto expect = [&](const std::string& author, int64_t lo, int64_t hi, bool desc) {
    std::vector<std::pair<int64_t, std::string>> v;
    for (auto& [id, ac] : truth) {
      if (ac.first == author && ac.second >= lo && ac.second <= hi) v.emplace_back(ac.second, id);
    }
    std::sort(v.begin(), v.end());
    if (desc) std::reverse(v.begin(), v.end());
    std::vector<std::string> ids;
    for (auto& p : v) ids.push_back(p.second);
    return ids;
  };

  SUBCASE("author = ada, in created order") {
    Result<QueryPage> page = env->Query(posts, Q("by_author_time", {Where("author", Op::kEq, {"ada"})}));
    REQUIRE_OK(page);
    CHECK(IdsOf(*page) == expect("ada", INT64_MIN, INT64_MAX, false));
    CHECK(page->records.size() == 10);
    CHECK(page->next.empty());
    for (const Record& r : page->records) {
      CHECK(r.doc == Post("ada", truth[r.id].second));  // the records themselves
      CHECK(r.version == 1);
    }
  }
  SUBCASE("ranges") {
    const std::string ix = "by_author_time";
    auto run = [&](std::vector<Condition> where, bool desc = false) {
      Result<QueryPage> page = env->Query(posts, Q(ix, std::move(where), "", desc));
      REQUIRE_OK(page);
      return IdsOf(*page);
    };
    auto ada = Where("author", Op::kEq, {"ada"});
    // Boundaries that hit existing values, so < and <= differ.
    CHECK(run({ada, Where("created", Op::kGe, {1100}), Where("created", Op::kLt, {1200})}) ==
          expect("ada", 1100, 1190, false));
    CHECK(run({ada, Where("created", Op::kGt, {1100}), Where("created", Op::kLe, {1200})}) ==
          expect("ada", 1110, 1200, false));
    CHECK(run({ada, Where("created", Op::kLt, {1050})}) == expect("ada", INT64_MIN, 1049, false));
    CHECK(run({ada, Where("created", Op::kLe, {1050})}) == expect("ada", INT64_MIN, 1050, false));
    CHECK(run({ada, Where("created", Op::kGt, {1250})}) == expect("ada", 1251, INT64_MAX, false));
    CHECK(run({ada, Where("created", Op::kGe, {1250})}) == expect("ada", 1250, INT64_MAX, false));
    CHECK(run({ada, Where("created", Op::kGe, {1100})}, true) == expect("ada", 1100, INT64_MAX, true));
    CHECK(run({Where("author", Op::kEq, {"nobody"})}).empty());
    // A float value that is integral converts to the int column.
    CHECK(run({ada, Where("created", Op::kLe, {1050.0})}) == expect("ada", INT64_MIN, 1050, false));
    // Sanity of the fixture: the range queries above are not all empty.
    CHECK(expect("ada", 1100, 1190, false).size() >= 2);
  }
  SUBCASE("order by created, descending, across authors") {
    Query q = Q("by_author_time", {Where("created", Op::kGe, {1100})}, "created", true);
    Result<QueryPage> page = env->Query(posts, q);
    REQUIRE_OK(page);
    std::vector<std::pair<int64_t, std::string>> v;
    for (auto& [id, ac] : truth) {
      if (ac.second >= 1100) v.emplace_back(ac.second, id);
    }
    std::sort(v.rbegin(), v.rend());
    std::vector<std::string> want;
    for (auto& p : v) want.push_back(p.second);
    CHECK(IdsOf(*page) == want);
    CHECK(IdsOf(*page) == Oracle(*env, posts, q));
  }
  SUBCASE("limit and cursor") {
    Query q = Q("by_author_time", {Where("author", Op::kEq, {"bob"})}, "", false, 3);
    Result<QueryPage> first = env->Query(posts, q);
    REQUIRE_OK(first);
    const std::vector<std::string> all = expect("bob", INT64_MIN, INT64_MAX, false);
    REQUIRE(all.size() == 10);
    CHECK(IdsOf(*first) == std::vector<std::string>(all.begin(), all.begin() + 3));
    CHECK(!first->next.empty());
    int pages = 0;
    CHECK(AllPages(*env, posts, q, &pages) == all);
    CHECK(pages == 4);  // 3 + 3 + 3 + 1
    q.limit = 5;        // exactly two full pages: the second has no next
    CHECK(AllPages(*env, posts, q, &pages) == all);
    CHECK(pages == 2);
    // Descending pages.
    q.descending = true;
    q.limit = 4;
    std::vector<std::string> reversed(all.rbegin(), all.rend());
    CHECK(AllPages(*env, posts, q) == reversed);
  }
}

TEST_CASE("users by lower-cased email on a unique index") {
  Env env = OpenIndexed({Users()});
  const std::string users = env.Entity("users");
  REQUIRE_OK(env->Put(users, "ada", Document::MakeObject({{"email", "Ada@Example.com"}})));
  REQUIRE_OK(env->Put(users, "bob", Document::MakeObject({{"email", "bob@example.com"}})));
  REQUIRE_OK(env->Put(users, "cy", Document::MakeObject({{"name", "no email"}})));

  auto find = [&](Document email, Op op = Op::kEq) {
    Result<QueryPage> page = env->Query(users, Q("by_email", {Where("email", op, {email})}));
    REQUIRE_OK(page);
    return IdsOf(*page);
  };
  CHECK(find("ADA@Example.com") == std::vector<std::string>{"ada"});
  CHECK(find("ada@example.com") == std::vector<std::string>{"ada"});
  CHECK(find("BOB@EXAMPLE.COM") == std::vector<std::string>{"bob"});
  CHECK(find("nobody@example.com").empty());
  // Range bounds are lower-cased too: "B" becomes "b", so ada < b <= bob.
  CHECK(find("B", Op::kGe) == std::vector<std::string>{"bob"});
  CHECK(find("B", Op::kLt) == std::vector<std::string>{"ada"});
  // The record comes back as stored (not lower-cased).
  Result<QueryPage> page = env->Query(users, Q("by_email", {Where("email", Op::kEq, {"ADA@EXAMPLE.COM"})}));
  REQUIRE_OK(page);
  REQUIRE(page->records.size() == 1);
  CHECK(page->records[0].doc == Document::MakeObject({{"email", "Ada@Example.com"}}));

  // Unique: another user may not take the same address in another case.
  CHECK_CODE(env->Put(users, "eve", Document::MakeObject({{"email", "ADA@example.COM"}})),
             Code::kUniqueViolation);
  CHECK_CODE(env->Get(users, "eve"), Code::kNotFound);
  CHECK(find("ada@example.com") == std::vector<std::string>{"ada"});
  // Once ada changes address, the old one is free and the query follows.
  REQUIRE_OK(env->Put(users, "ada", Document::MakeObject({{"email", "ada@new.example"}})));
  REQUIRE_OK(env->Put(users, "eve", Document::MakeObject({{"email", "ADA@example.COM"}})));
  CHECK(find("ada@example.com") == std::vector<std::string>{"eve"});
  CHECK(find("ADA@NEW.example") == std::vector<std::string>{"ada"});
}

TEST_CASE("tags: one row per array element, IN over tags") {
  Env env = OpenIndexed({Posts()});
  const std::string posts = env.Entity("posts");
  REQUIRE_OK(env->Put(posts, "a", Post("ada", 1, {"go", "rust"})));
  REQUIRE_OK(env->Put(posts, "b", Post("ada", 2, {"rust"})));
  REQUIRE_OK(env->Put(posts, "c", Post("bob", 3, {"go", "python", "go"})));  // duplicate tag: one row
  REQUIRE_OK(env->Put(posts, "d", Post("bob", 4, {"c++"})));
  REQUIRE_OK(env->Put(posts, "e", Post("bob", 5, {})));

  auto run = [&](Query q) {
    Result<QueryPage> page = env->Query(posts, q);
    REQUIRE_OK(page);
    return IdsOf(*page);
  };
  using V = std::vector<std::string>;
  CHECK(run(Q("by_tag", {Where("tag", Op::kEq, {"go"})})) == V{"a", "c"});
  CHECK(run(Q("by_tag", {Where("tag", Op::kEq, {"rust"})})) == V{"a", "b"});
  // IN: ordered by tag, then id; "a" matches through two rows.
  CHECK(run(Q("by_tag", {Where("tag", Op::kIn, {"rust", "go"})})) == V{"a", "c", "a", "b"});
  CHECK(run(Q("by_tag", {Where("tag", Op::kIn, {"rust", "go"})}, "", true)) ==
        V{"b", "a", "c", "a"});
  CHECK(run(Q("by_tag", {Where("tag", Op::kIn, {"nope", "c++"})})) == V{"d"});
  // No condition: every row of the index, in (tag, id) order.
  CHECK(run(Q("by_tag")) == V{"d", "a", "c", "c", "a", "b"});
  CHECK(run(Q("by_tag")) == Oracle(*env, posts, Q("by_tag")));
  // A duplicate page split between two rows of the same record.
  Query q = Q("by_tag", {Where("tag", Op::kIn, {"rust", "go"})}, "", false, 1);
  CHECK(AllPages(*env, posts, q) == V{"a", "c", "a", "b"});
  // Updating the tags moves the record between rows.
  REQUIRE_OK(env->Put(posts, "a", Post("ada", 1, {"python"})));
  CHECK(run(Q("by_tag", {Where("tag", Op::kIn, {"rust", "go"})})) == V{"c", "b"});
  CHECK(run(Q("by_tag", {Where("tag", Op::kEq, {"python"})})) == V{"a", "c"});
}

TEST_CASE("!= and AND of two columns; bool and float columns") {
  Env env = OpenIndexed({Posts()});
  const std::string posts = env.Entity("posts");
  std::mt19937 rng(7);
  const char* authors[] = {"ada", "bob", "cy", "dee"};
  for (int i = 0; i < 60; ++i) {
    REQUIRE_OK(env->Put(posts, "p" + std::to_string(i),
                        Post(authors[rng() % 4], 100 + static_cast<int64_t>(rng() % 50), {},
                             rng() % 2 == 0, static_cast<double>(rng() % 40) / 8.0)));
  }
  std::vector<Query> queries = {
      Q("by_author_time", {Where("author", Op::kNe, {"ada"})}),
      Q("by_author_time", {Where("author", Op::kNe, {"bob"}), Where("created", Op::kGt, {120})}),
      Q("by_author_time", {Where("author", Op::kIn, {"cy", "dee"}), Where("created", Op::kNe, {130})}),
      Q("by_author_time", {Where("created", Op::kLe, {110})}, "created"),
      Q("by_author_time", {Where("author", Op::kGt, {"bob"}), Where("created", Op::kLt, {140})},
        "created", true),
      Q("by_pub_score", {Where("published", Op::kEq, {true}), Where("score", Op::kGe, {2.5})}),
      Q("by_pub_score", {Where("published", Op::kNe, {true}), Where("score", Op::kLt, {1.25})},
        "score", true),
      Q("by_pub_score", {Where("score", Op::kIn, {0.5, 1.0, 4})}, "score"),
      Q("by_pub_score", {Where("score", Op::kGt, {1})}),  // an int bound on a float column
  };
  for (size_t i = 0; i < queries.size(); ++i) {
    CAPTURE(i);
    const std::vector<std::string> want = Oracle(*env, posts, queries[i]);
    CHECK(!want.empty());
    CHECK(want.size() < 60);  // every query filters something out
    Result<QueryPage> page = env->Query(posts, queries[i]);
    REQUIRE_OK(page);
    CHECK(IdsOf(*page) == want);
    Query paged = queries[i];
    paged.limit = 7;
    CHECK(AllPages(*env, posts, paged) == want);
  }
}

TEST_CASE("a sharded index over two databases") {
  EntityConfig events = Ent("events", {Ix("by_kind_time", {Col("kind", ColumnType::kString, "kind"),
                                                          Col("at", ColumnType::kInt, "at")},
                                          {"idx0", "idx1"})});
  Env env = OpenIndexed({events});
  const std::string e = env.Entity("events");
  const indexer::IndexDef def = DefOf(*env, e, "by_kind_time");
  // Ten kinds, spread over both databases.
  std::set<size_t> databases;
  for (int k = 0; k < 10; ++k) databases.insert(def.DatabaseFor(Document("k" + std::to_string(k))));
  REQUIRE(databases.size() == 2);

  std::mt19937 rng(11);
  std::vector<PutItem> items;
  for (int i = 0; i < 300; ++i) {
    items.push_back({"ev" + std::to_string(i),
                     Document::MakeObject({{"kind", "k" + std::to_string(rng() % 10)},
                                           {"at", static_cast<int64_t>(rng() % 1000)}}),
                     {}});
  }
  REQUIRE_OK(env->PutMany(e, items));

  SUBCASE("equality on the first column") {
    for (int k = 0; k < 10; ++k) {
      Query q = Q("by_kind_time", {Where("kind", Op::kEq, {"k" + std::to_string(k)})});
      const std::vector<std::string> want = Oracle(*env, e, q);
      CHECK(!want.empty());
      Result<QueryPage> page = env->Query(e, q);
      REQUIRE_OK(page);
      CHECK(IdsOf(*page) == want);
    }
    // IN over kinds on both databases: merged in (kind, at, id) order.
    Query in = Q("by_kind_time", {Where("kind", Op::kIn, {"k1", "k2", "k3", "k4"})}, "", false, 9);
    CHECK(AllPages(*env, e, in) == Oracle(*env, e, in));
  }
  SUBCASE("equality reads only the database the value maps to") {
    // A real hit of k3, planted also on the other database: a query that
    // fans out would return it twice (the record does produce that row).
    Result<Record> rec = env->Get(e, "ev0");
    REQUIRE_OK(rec);
    const Document kind = *rec->doc.Find("kind");
    const Document at = *rec->doc.Find("at");
    const size_t home = def.DatabaseFor(kind);
    PlantRow(*env, e, "by_kind_time", {kind, at}, "ev0", 1 - home);
    Query q = Q("by_kind_time", {Where("kind", Op::kEq, {kind})});
    Result<QueryPage> page = env->Query(e, q);
    REQUIRE_OK(page);
    std::vector<std::string> ids = IdsOf(*page);
    CHECK(std::count(ids.begin(), ids.end(), "ev0") == 1);
    CHECK(ids == Oracle(*env, e, q));
    // Without the equality the query fans out and meets the planted copy.
    Query all = Q("by_kind_time", {Where("at", Op::kEq, {at})});
    Result<QueryPage> fan = env->Query(e, all);
    REQUIRE_OK(fan);
    ids = IdsOf(*fan);
    CHECK(std::count(ids.begin(), ids.end(), "ev0") == 2);
  }
  SUBCASE("fan-out range query merges in order") {
    for (bool desc : {false, true}) {
      CAPTURE(desc);
      Query q = Q("by_kind_time", {Where("at", Op::kGe, {200}), Where("at", Op::kLt, {700})}, "at",
                  desc, 10000);
      const std::vector<std::string> want = Oracle(*env, e, q);
      CHECK(want.size() > 100);
      Result<QueryPage> page = env->Query(e, q);
      REQUIRE_OK(page);
      CHECK(IdsOf(*page) == want);
      CHECK(page->next.empty());
      // The merged order, checked against the records themselves.
      for (size_t i = 1; i < page->records.size(); ++i) {
        const Record& a = page->records[i - 1];
        const Record& b = page->records[i];
        const auto ka = std::make_tuple(a.doc.Find("at")->as_int(), a.doc.Find("kind")->as_string(), a.id);
        const auto kb = std::make_tuple(b.doc.Find("at")->as_int(), b.doc.Find("kind")->as_string(), b.id);
        CHECK((desc ? ka > kb : ka < kb));
      }
      q.limit = 13;
      CHECK(AllPages(*env, e, q) == want);
    }
    Query whole = Q("by_kind_time", {}, "", false, 17);
    const std::vector<std::string> want = Oracle(*env, e, whole);
    CHECK(want.size() == 300);
    CHECK(AllPages(*env, e, whole) == want);
  }
}

TEST_CASE("pagination over 10,000 hits returns every hit exactly once, in order") {
  EntityConfig bulk = Ent("bulk", {Ix("by_group", {Col("grp", ColumnType::kString, "grp"),
                                                  Col("n", ColumnType::kInt, "n")})});
  Env env = OpenIndexed({bulk});
  const std::string e = env.Entity("bulk");
  constexpr int kN = 10000;
  std::vector<int> order(kN);
  for (int i = 0; i < kN; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(3));  // ids not in n order
  for (int start = 0; start < kN; start += 1000) {
    std::vector<PutItem> items;
    for (int i = start; i < start + 1000; ++i) {
      items.push_back({"r" + std::to_string(order[i]),
                       Document::MakeObject({{"grp", "g"}, {"n", static_cast<int64_t>(i)}}), {}});
    }
    REQUIRE_OK(env->PutMany(e, items));
  }
  // Records in another group stay out.
  REQUIRE_OK(env->Put(e, "other", Document::MakeObject({{"grp", "h"}, {"n", 5}})));

  std::vector<std::string> want;
  for (int i = 0; i < kN; ++i) want.push_back("r" + std::to_string(order[i]));

  Query q = Q("by_group", {Where("grp", Op::kEq, {"g"})}, "", false, 997);
  int pages = 0;
  const std::vector<std::string> got = AllPages(*env, e, q, &pages);
  CHECK(got.size() == kN);
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == kN);
  CHECK(got == want);
  CHECK(pages == 11);

  Query one = Q("by_group", {Where("grp", Op::kEq, {"g"})}, "n", true, 10000);
  Result<QueryPage> page = env->Query(e, one);
  REQUIRE_OK(page);
  CHECK(page->next.empty());
  CHECK(IdsOf(*page) == std::vector<std::string>(want.rbegin(), want.rend()));
}

TEST_CASE("stale and dangling rows never appear") {
  Env env = OpenIndexed({Posts()});
  const std::string posts = env.Entity("posts");
  auto run = [&](Query q) {
    Result<QueryPage> page = env->Query(posts, q);
    REQUIRE_OK(page);
    return IdsOf(*page);
  };
  using V = std::vector<std::string>;
  auto by = [](const std::string& author, int limit = 100) {
    return Q("by_author_time", {Where("author", Op::kEq, {author})}, "", false, limit);
  };

  REQUIRE_OK(env->Put(posts, "s1", Post("ada", 5)));
  CHECK(run(by("ada")) == V{"s1"});
  REQUIRE_OK(env->Put(posts, "s1", Post("bob", 5)));  // author changed
  CHECK(run(by("ada")).empty());
  CHECK(run(by("bob")) == V{"s1"});

  // Rows the write path would have removed, planted back: the record no
  // longer produces them, so the re-check drops them.
  PlantRow(*env, posts, "by_author_time", {Document("ada"), Document(int64_t{5})}, "s1");
  PlantRow(*env, posts, "by_author_time", {Document("ada"), Document(int64_t{6})}, "ghost");
  CHECK(run(by("ada")).empty());

  // A record still matching through its new row appears once, not also
  // through its old row.
  REQUIRE_OK(env->Put(posts, "s2", Post("cy", 10)));
  REQUIRE_OK(env->Put(posts, "s2", Post("cy", 20)));
  PlantRow(*env, posts, "by_author_time", {Document("cy"), Document(int64_t{10})}, "s2");
  CHECK(run(by("cy")) == V{"s2"});
  CHECK(run(Q("by_author_time", {Where("author", Op::kEq, {"cy"}), Where("created", Op::kLt, {15})}))
            .empty());

  // Deleted record: its rows may dangle, it never shows.
  REQUIRE_OK(env->Put(posts, "s3", Post("dee", 1, {"x"})));
  REQUIRE_OK(env->Delete(posts, "s3"));
  PlantRow(*env, posts, "by_author_time", {Document("dee"), Document(int64_t{1})}, "s3");
  PlantRow(*env, posts, "by_tag", {Document("x")}, "s3");
  CHECK(run(by("dee")).empty());
  CHECK(run(Q("by_tag", {Where("tag", Op::kEq, {"x"})})).empty());

  // Many dangling rows ahead of the real hits: the engine reads on until
  // the page is full.
  for (int i = 0; i < 40; ++i) {
    PlantRow(*env, posts, "by_author_time", {Document("eve"), Document(int64_t{i})},
             "gone-" + std::to_string(i));
  }
  for (int i = 0; i < 5; ++i) {
    REQUIRE_OK(env->Put(posts, "e" + std::to_string(i), Post("eve", 100 + i)));
  }
  Result<QueryPage> first = env->Query(posts, by("eve", 3));
  REQUIRE_OK(first);
  CHECK(IdsOf(*first) == V{"e0", "e1", "e2"});
  REQUIRE(!first->next.empty());
  Query rest = by("eve", 3);
  rest.after = first->next;
  Result<QueryPage> second = env->Query(posts, rest);
  REQUIRE_OK(second);
  CHECK(IdsOf(*second) == V{"e3", "e4"});
  CHECK(second->next.empty());
  CHECK(AllPages(*env, posts, by("eve", 1)) == V{"e0", "e1", "e2", "e3", "e4"});
}

TEST_CASE("a write_only index is refused") {
  AnnounceBackend();
  ClusterSpec spec;
  spec.entities = {Ent("posts", {})};
  TestCluster cluster = MakeCluster(BackendFromEnv(), spec);
  REQUIRE_OK(Store::Init(cluster.config));
  // The index is added to the config of a live cluster: Init registers it
  // write_only, and it answers no query until it is built.
  ClusterConfig config = cluster.config;
  config.entities[0].indexes.push_back(Posts().indexes[0]);
  REQUIRE_OK(config.Validate());
  REQUIRE_OK(Store::Init(config));
  Result<std::unique_ptr<Store>> store = Store::Open(config);
  REQUIRE_OK(store);
  const std::string posts = cluster.Entity("posts");
  REQUIRE_OK((*store)->Put(posts, "p", Post("ada", 1)));
  Result<QueryPage> page =
      (*store)->Query(posts, Q("by_author_time", {Where("author", Op::kEq, {"ada"})}));
  CHECK_CODE(page, Code::kInvalidArgument);
  CHECK_MESSAGE(Contains(page.status().message(), "write_only"), page.status().ToString());
  CHECK_MESSAGE(Contains(page.status().message(), "index build"), page.status().ToString());
}

TEST_CASE("invalid queries and cursors are refused with InvalidArgument") {
  Env env = OpenIndexed({Posts(), Users()});
  const std::string posts = env.Entity("posts");
  for (int i = 0; i < 6; ++i) {
    REQUIRE_OK(env->Put(posts, "p" + std::to_string(i), Post("ada", i, {"t"})));
  }
  auto ada = Where("author", Op::kEq, {"ada"});

  SUBCASE("unknown index, column, entity") {
    Result<QueryPage> r = env->Query(posts, Q("no_such_index"));
    CHECK_CODE(r, Code::kInvalidArgument);
    CHECK_MESSAGE(Contains(r.status().message(), "by_author_time"), r.status().ToString());
    CHECK_CODE(env->Query(posts, Q("by_email")), Code::kInvalidArgument);  // another entity's
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("nope", Op::kEq, {"x"})})),
               Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {}, "nope")), Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {}, "tag")), Code::kInvalidArgument);
    CHECK_CODE(env->Query("no_such_entity", Q("by_author_time")), Code::kInvalidArgument);
  }
  SUBCASE("limit") {
    CHECK_CODE(env->Query(posts, Q("by_author_time", {ada}, "", false, 0)), Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {ada}, "", false, -1)), Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {ada}, "", false, 10001)),
               Code::kInvalidArgument);
    CHECK_OK(env->Query(posts, Q("by_author_time", {ada}, "", false, 1)));
    CHECK_OK(env->Query(posts, Q("by_author_time", {ada}, "", false, 10000)));
  }
  SUBCASE("values") {
    // Wrong type for the column.
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("author", Op::kEq, {42})})),
               Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("created", Op::kGt, {"5"})})),
               Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("created", Op::kGt, {1.5})})),
               Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_pub_score", {Where("published", Op::kEq, {1})})),
               Code::kInvalidArgument);
    // Value counts.
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("author", Op::kIn, {})})),
               Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("author", Op::kEq, {})})),
               Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("author", Op::kEq, {"a", "b"})})),
               Code::kInvalidArgument);
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("created", Op::kLt, {1, 2})})),
               Code::kInvalidArgument);
    // An over-long value cannot be in the index.
    CHECK_CODE(env->Query(posts, Q("by_author_time", {Where("author", Op::kEq, {std::string(300, 'a')})})),
               Code::kInvalidArgument);
  }
  SUBCASE("cursors") {
    Query q = Q("by_author_time", {ada}, "", false, 2);
    Result<QueryPage> first = env->Query(posts, q);
    REQUIRE_OK(first);
    REQUIRE(!first->next.empty());
    const std::string cursor = first->next;
    auto with = [&](Query query, std::string after) {
      query.after = std::move(after);
      return env->Query(posts, query);
    };
    CHECK_OK(with(q, cursor));
    CHECK_CODE(with(q, "not a cursor!"), Code::kInvalidArgument);
    CHECK_CODE(with(q, "AAAA"), Code::kInvalidArgument);
    CHECK_CODE(with(q, cursor.substr(0, cursor.size() - 5)), Code::kInvalidArgument);
    CHECK_CODE(with(q, cursor + "x"), Code::kInvalidArgument);
    // A cursor belongs to one order and one index.
    Query desc = q;
    desc.descending = true;
    CHECK_CODE(with(desc, cursor), Code::kInvalidArgument);
    Query by_created = q;
    by_created.order_by = "created";
    CHECK_CODE(with(by_created, cursor), Code::kInvalidArgument);
    CHECK_CODE(with(Q("by_tag", {}, "", false, 2), cursor), Code::kInvalidArgument);
    // Ordering by the first column is the index order: the cursor fits.
    Query named = q;
    named.order_by = "author";
    Result<QueryPage> a = with(q, cursor);
    Result<QueryPage> b = with(named, cursor);
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    CHECK(IdsOf(*a) == IdsOf(*b));
    CHECK(IdsOf(*a) == std::vector<std::string>{"p2", "p3"});
  }
}

}  // TEST_SUITE
