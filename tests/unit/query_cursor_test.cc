// The query cursor (indexer/query_cursor.h): round trip, and each reason a
// cursor is refused. No database: decoding needs only the index definition.

#include "indexer/query_cursor.h"

#include <doctest/doctest.h>

#include <string>

namespace libshard::indexer {
namespace {

IndexDef ByAll() {
  IndexDef def;
  def.entity = "posts";
  def.name = "by_all";
  def.databases = {"idx"};
  def.columns = {{"n", ColumnType::kInt, "n", false, {}},
                 {"f", ColumnType::kFloat, "f", false, {}},
                 {"s", ColumnType::kString, "s", true, {}},
                 {"b", ColumnType::kBool, "b", false, {}},
                 {"raw", ColumnType::kBytes, "raw", false, {}}};
  return def;
}

const IndexRow kRow = {Document(42), Document(1.5), Document("ada"), Document(true),
                       Document::FromBytes(std::string("\0\xff", 2))};

TEST_CASE("query cursor: what EncodeCursor makes decodes to the same position") {
  const IndexDef def = ByAll();
  const std::string order = "n";
  const CursorQuery q{def, order, true};
  const std::string cursor = EncodeCursor(q, kRow, std::string("id\0x", 4));
  CHECK(cursor.find_first_of("+/=") == std::string::npos);  // base64url, unpadded
  Result<CursorPosition> pos = DecodeCursor(q, cursor);
  REQUIRE(pos.ok());
  CHECK(pos->row == kRow);
  CHECK(pos->id == std::string("id\0x", 4));
}

TEST_CASE("query cursor: refused for another index, order or shape, with the reason") {
  const IndexDef def = ByAll();
  const std::string none, n = "n";
  const std::string cursor = EncodeCursor({def, none, false}, kRow, "p1");
  auto why = [&](const CursorQuery& q, const std::string& text) {
    Result<CursorPosition> pos = DecodeCursor(q, text);
    REQUIRE_FALSE(pos.ok());
    CHECK(pos.status().code() == Code::kInvalidArgument);
    return pos.status().message();
  };
  CHECK(why({def, n, false}, cursor).find("made for index order ascending, this query asks "
                                          "for order by 'n' ascending") != std::string::npos);
  CHECK(why({def, none, true}, cursor).find("descending") != std::string::npos);
  IndexDef other = ByAll();
  other.name = "by_other";
  CHECK(why({other, none, false}, cursor).find("made by a query on index 'by_all'") !=
        std::string::npos);
  IndexDef fewer = ByAll();
  fewer.columns.pop_back();
  CHECK(why({fewer, none, false}, cursor).find("holds 5 values for 4 columns") !=
        std::string::npos);
  CHECK(why({def, none, false}, "not a cursor!").find("does not decode") != std::string::npos);
  CHECK(why({def, none, false}, cursor + "=").find("does not decode") != std::string::npos);
  CHECK(why({def, none, false}, cursor.substr(0, cursor.size() - 3)).find("does not decode") !=
        std::string::npos);
}

TEST_CASE("query cursor: base64url is canonical") {
  CHECK(FromBase64Url("") == std::string());
  CHECK(FromBase64Url("AP8") == std::string("\0\xff", 2));
  CHECK(ToBase64Url(std::string("\0\xff", 2)) == "AP8");
  CHECK_FALSE(FromBase64Url("AP9"));   // non-zero pad bits: not what ToBase64Url writes
  CHECK_FALSE(FromBase64Url("AP8="));  // padding is never written
  CHECK_FALSE(FromBase64Url("A"));
  CHECK_FALSE(FromBase64Url("+/8"));   // base64, not base64url
}

}  // namespace
}  // namespace libshard::indexer
