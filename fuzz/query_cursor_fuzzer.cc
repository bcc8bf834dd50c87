// The query cursor decoder (QueryPage::next comes back from clients, so it
// is untrusted input) against a few fixed index definitions and orders.
// Properties: no crash or undefined behaviour; a cursor that decodes
// re-encodes to one that decodes to the same position, and base64url
// decoding is canonical.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "indexer/index_def.h"
#include "indexer/query_cursor.h"

using libshard::ColumnType;
using libshard::indexer::CursorPosition;
using libshard::indexer::CursorQuery;
using libshard::indexer::IndexDef;

namespace {

IndexDef MakeDef(std::string name, std::vector<libshard::IndexColumnConfig> columns) {
  IndexDef def;
  def.entity = "posts";
  def.name = std::move(name);
  def.columns = std::move(columns);
  def.databases = {"idx"};
  return def;
}

// One index of every column type, one single-column index.
const std::vector<IndexDef>& Defs() {
  static const std::vector<IndexDef> defs = {
      MakeDef("by_all", {{"n", ColumnType::kInt, "n", false, {}},
                         {"f", ColumnType::kFloat, "f", false, {}},
                         {"s", ColumnType::kString, "s", true, {}},
                         {"b", ColumnType::kBool, "b", false, {}},
                         {"raw", ColumnType::kBytes, "raw", false, {}}}),
      MakeDef("by_author", {{"author", ColumnType::kString, "author", false, {}}}),
  };
  return defs;
}

const std::string kIndexOrder;
const std::string kOrderByN = "n";
const std::string kOrderByAuthor = "author";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (std::optional<std::string> raw = libshard::indexer::FromBase64Url(text)) {
    FUZZ_CHECK(libshard::indexer::ToBase64Url(*raw) == text);
  }

  const std::vector<IndexDef>& defs = Defs();
  const CursorQuery queries[] = {
      {defs[0], kIndexOrder, false}, {defs[0], kOrderByN, true},
      {defs[1], kIndexOrder, false}, {defs[1], kOrderByAuthor, true},
  };
  for (const CursorQuery& q : queries) {
    libshard::Result<CursorPosition> pos = libshard::indexer::DecodeCursor(q, text);
    if (!pos.ok()) continue;
    FUZZ_CHECK(pos->row.size() == q.def.columns.size());
    const std::string cursor = libshard::indexer::EncodeCursor(q, pos->row, pos->id);
    libshard::Result<CursorPosition> again = libshard::indexer::DecodeCursor(q, cursor);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->id == pos->id);
    FUZZ_CHECK(again->row == pos->row);  // normalized floats are finite
    FUZZ_CHECK(libshard::indexer::EncodeCursor(q, again->row, again->id) == cursor);
  }
  return 0;
}
