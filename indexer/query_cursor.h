// The query cursor (QueryPage::next): unpadded base64url of the MessagePack
// array
//   [format, index name, order_by, descending, [row values…], id bytes]
// Kept apart from the query engine so it can be tested and fuzzed without a
// database: decoding needs only the index definition and the order asked for.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "indexer/index_def.h"
#include "libshard/status.h"

namespace libshard::indexer {

// What a cursor must match: the index and the order of the query it is
// passed to (a cursor made for another order would skip or repeat rows).
struct CursorQuery {
  const IndexDef& def;
  const std::string& order_by;  // "" = index order
  bool desc = false;
};

// The last index row a page consumed.
struct CursorPosition {
  IndexRow row;
  std::string id;
};

std::string ToBase64Url(std::string_view bytes);
// nullopt unless `text` is unpadded base64url of some bytes.
std::optional<std::string> FromBase64Url(std::string_view text);

std::string EncodeCursor(const CursorQuery& q, const IndexRow& row, std::string_view id);

// InvalidArgument (saying why) unless `cursor` was made by EncodeCursor for
// the same index and order; the row values come back normalized to the
// column types. The record id is returned unchecked: checking it needs the
// store's id rules (the caller does it).
Result<CursorPosition> DecodeCursor(const CursorQuery& q, std::string_view cursor);

// The InvalidArgument DecodeCursor returns, for the caller's own checks.
Status BadCursor(const IndexDef& def, const std::string& why);

}  // namespace libshard::indexer
