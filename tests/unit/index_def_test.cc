// IndexDef::Rows: the rows a document gives an index (no database needed).
#include <doctest/doctest.h>

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
