// IndexDef::Rows: the rows a document gives an index (no database needed).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "indexer/index_def.h"

using namespace libshard;  // NOLINT: test code

namespace {

indexer::IndexDef Def(std::vector<IndexColumnConfig> columns) {
  EntityConfig entity;
  entity.name = "posts";
  IndexConfig index;
  index.name = "ix";
  index.databases = {"idx0"};
  index.columns = std::move(columns);
  return indexer::FromConfig(entity, index);
}

IndexColumnConfig Col(std::string name, ColumnType type, std::string field) {
  IndexColumnConfig c;
  c.name = std::move(name);
  c.type = type;
  c.field = std::move(field);
  return c;
}

std::vector<IndexRow> RowsOf(const indexer::IndexDef& def, const Document& doc) {
  std::vector<IndexRow> rows;
  Status s = def.Rows(doc, &rows);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return rows;
}

}  // namespace

TEST_SUITE("index rows") {

TEST_CASE("repeated array elements give one row each and do not count against the limit") {
  indexer::IndexDef def = Def({Col("tag", ColumnType::kString, "tags[]")});
  Document doc = Document::MakeObject({{"tags", Document::MakeArray()}});
  for (int i = 0; i < 5000; ++i) doc["tags"].push_back(i % 2 == 0 ? "a" : "b");
  std::vector<IndexRow> rows = RowsOf(def, doc);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0].as_string() == "a");
  CHECK(rows[1][0].as_string() == "b");
}

TEST_CASE("more distinct rows than the limit is an error, also across columns") {
  indexer::IndexDef one = Def({Col("tag", ColumnType::kString, "tags[]")});
  Document doc = Document::MakeObject({{"tags", Document::MakeArray()}});
  for (size_t i = 0; i <= indexer::kMaxRowsPerRecord; ++i) {
    doc["tags"].push_back("t" + std::to_string(i));
  }
  std::vector<IndexRow> rows;
  CHECK(one.Rows(doc, &rows).code() == Code::kInvalidArgument);

  // 40 × 40 = 1600 combinations of two array columns.
  indexer::IndexDef two = Def({Col("a", ColumnType::kInt, "xs[]"), Col("b", ColumnType::kInt, "ys[]")});
  Document grid = Document::MakeObject({{"xs", Document::MakeArray()}, {"ys", Document::MakeArray()}});
  for (int i = 0; i < 40; ++i) {
    grid["xs"].push_back(i);
    grid["ys"].push_back(i);
  }
  CHECK(two.Rows(grid, &rows).code() == Code::kInvalidArgument);
  grid["ys"] = Document::MakeArray({1, 2});
  CHECK(RowsOf(two, grid).size() == 80);
}

TEST_CASE("NaN and infinities give no row; finite floats do") {
  indexer::IndexDef def = Def({Col("score", ColumnType::kFloat, "score")});
  for (double bad : {std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    CHECK(RowsOf(def, Document::MakeObject({{"score", bad}})).empty());
  }
  std::vector<IndexRow> rows = RowsOf(def, Document::MakeObject({{"score", 2.5}}));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][0].as_double() == 2.5);
}

TEST_CASE("a definition with a problem refuses every document") {
  indexer::IndexDef def = Def({Col("tag", ColumnType::kString, "tag")});
  def.problem = Status::InvalidConfig("index posts.ix lives on database 'idx9'");
  std::vector<IndexRow> rows;
  Status s = def.Rows(Document::MakeObject({{"tag", "x"}}), &rows);
  CHECK(s.code() == Code::kInvalidConfig);
  CHECK(rows.empty());
}

}  // TEST_SUITE

// IndexDef::Produces (the query re-check of a hit) must answer exactly what
// looking the row up in Rows answers, on every kind of definition and
// document, including the ones its fast path does not take.
TEST_SUITE("index produces") {

namespace {

// What Produces must say: Rows' InvalidConfig is the error; any other
// failure of Rows produces no row.
Result<bool> ByRows(const indexer::IndexDef& def, const Document& doc, const IndexRow& row) {
  std::vector<IndexRow> rows;
  Status s = def.Rows(doc, &rows);
  if (s.code() == Code::kInvalidConfig) return s;
  if (!s.ok()) return false;
  return std::find(rows.begin(), rows.end(), row) != rows.end();
}

// Candidate values for one column: what the documents hold, converted and
// not, and strangers of every type.
std::vector<Document> Candidates() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<Document> v = {Document("paris"), Document("Paris"), Document("oslo"),
                             Document(""), Document(std::string(300, 'x')),
                             Document(std::string(255, 'x')), Document::FromBytes("paris"),
                             Document::FromBytes(std::string("a\0b", 3)), Document(int64_t{7}),
                             Document(int64_t{8}), Document(int64_t{-1}), Document(7.0),
                             Document(2.5), Document(nan), Document(true), Document(false),
                             Document()};
  return v;
}

std::vector<Document> Docs() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Document> docs;
  docs.push_back(Document::MakeObject({}));
  docs.push_back(Document::MakeObject({{"city", "paris"}, {"n", 7}, {"s", 2.5}, {"b", true}}));
  docs.push_back(Document::MakeObject({{"city", "Paris"}, {"n", 7.0}, {"s", 7}, {"b", false}}));
  docs.push_back(Document::MakeObject({{"city", 7}, {"n", "7"}, {"s", nan}, {"b", 1}}));
  docs.push_back(Document::MakeObject({{"city", std::string(300, 'x')}, {"n", 2.5}, {"s", inf}}));
  docs.push_back(Document::MakeObject({{"city", std::string(255, 'x')}, {"n", -1}, {"s", -inf}}));
  docs.push_back(Document::MakeObject({{"city", Document::FromBytes("paris")},
                                       {"n", Document(uint64_t{1} << 63)}}));
  docs.push_back(Document::MakeObject({{"city", Document::FromBytes(std::string("a\0b", 3))}}));
  docs.push_back(Document::MakeObject({{"city", Document()}, {"n", Document()}}));
  // Arrays: one element, repeats, mixed types, empty, and not an array.
  docs.push_back(Document::MakeObject({{"tags", Document::MakeArray({"paris"})},
                                       {"ns", Document::MakeArray({7})}}));
  docs.push_back(Document::MakeObject({{"tags", Document::MakeArray({"paris", "oslo", "paris"})},
                                       {"ns", Document::MakeArray({7, 8, 7.0, "x", nan})}}));
  docs.push_back(Document::MakeObject({{"tags", Document::MakeArray()},
                                       {"ns", Document::MakeArray({-1})}}));
  docs.push_back(Document::MakeObject({{"tags", "paris"}, {"ns", 7}}));
  docs.push_back(Document::MakeObject(
      {{"tags", Document::MakeArray({std::string(300, 'x'), "paris"})}, {"ns", 8}}));
  // Nested paths.
  docs.push_back(Document::MakeObject(
      {{"addr", Document::MakeObject({{"city", "paris"}, {"zip", 7}})}, {"city", "oslo"}}));
  docs.push_back(Document::MakeObject({{"addr", "paris"}}));
  docs.push_back(Document::MakeObject(
      {{"addrs", Document::MakeArray({Document::MakeObject({{"city", "paris"}}),
                                      Document::MakeObject({{"city", "Oslo"}}), "x"})}}));
  docs.push_back(Document("not an object"));
  return docs;
}

IndexColumnConfig Lower(IndexColumnConfig c) {
  c.lower = true;
  return c;
}

std::vector<indexer::IndexDef> Defs() {
  std::vector<indexer::IndexDef> defs;
  defs.push_back(Def({Col("city", ColumnType::kString, "city")}));
  defs.push_back(Def({Lower(Col("city", ColumnType::kString, "city"))}));
  defs.push_back(Def({Col("city", ColumnType::kBytes, "city")}));
  defs.push_back(Def({Col("n", ColumnType::kInt, "n")}));
  defs.push_back(Def({Col("s", ColumnType::kFloat, "s")}));
  defs.push_back(Def({Col("b", ColumnType::kBool, "b")}));
  defs.push_back(Def({Col("tag", ColumnType::kString, "tags[]")}));
  defs.push_back(Def({Col("n", ColumnType::kInt, "ns[]")}));
  defs.push_back(Def({Col("city", ColumnType::kString, "addr.city")}));
  defs.push_back(Def({Col("city", ColumnType::kString, "addrs[].city")}));
  defs.push_back(Def({Col("city", ColumnType::kString, "city"), Col("n", ColumnType::kInt, "n")}));
  defs.push_back(Def({Col("tag", ColumnType::kString, "tags[]"), Col("n", ColumnType::kInt, "ns[]")}));
  defs.push_back(Def({Col("city", ColumnType::kString, "city"), Col("s", ColumnType::kFloat, "s")}));
  // A code index with its map function, one without (InvalidConfig), and
  // a definition with a problem.
  EntityConfig entity;
  entity.name = "posts";
  IndexConfig code;
  code.name = "ix";
  code.databases = {"idx0"};
  code.columns = {Col("city", ColumnType::kString, "")};
  code.map = [](const Document& doc, std::vector<IndexRow>* rows) {
    if (const Document* c = doc.Find("city")) rows->push_back({*c});
    rows->push_back({Document("oslo")});
  };
  defs.push_back(indexer::FromConfig(entity, code));
  defs.push_back(indexer::FromConfig(entity, code));
  defs.back().map = nullptr;
  defs.push_back(Def({Col("city", ColumnType::kString, "city")}));
  defs.back().problem = Status::InvalidConfig("index posts.ix lives on database 'idx9'");
  return defs;
}

}  // namespace

TEST_CASE("Produces answers as Rows does on string, int, float, bool, bytes, array, nested and code indexes") {
  const std::vector<Document> cands = Candidates();
  size_t checked = 0, produced = 0;
  for (const indexer::IndexDef& def : Defs()) {
    for (const Document& doc : Docs()) {
      // Rows of the document itself, then every candidate row.
      std::vector<IndexRow> rows;
      std::vector<IndexRow> tries;
      if (def.Rows(doc, &rows).ok()) tries = rows;
      if (def.columns.size() == 1) {
        for (const Document& c : cands) tries.push_back({c});
      } else {
        for (const Document& a : cands) {
          for (const Document& b : cands) tries.push_back({a, b});
        }
      }
      tries.push_back({});  // a row of the wrong width
      for (const IndexRow& row : tries) {
        CAPTURE(def.ToJson());
        CAPTURE(doc.ToJson());
        CAPTURE(Document(Document::Array(row)).ToJson());
        Result<bool> want = ByRows(def, doc, row);
        Result<bool> got = def.Produces(doc, row);
        REQUIRE(got.ok() == want.ok());
        if (want.ok()) {
          CHECK(*got == *want);
          produced += *want ? 1 : 0;
        } else {
          CHECK(got.status().code() == want.status().code());
        }
        ++checked;
      }
    }
  }
  // The cases must include hits, not only misses.
  CHECK(produced > 30);
  CHECK(checked > 2000);
}

}  // TEST_SUITE
