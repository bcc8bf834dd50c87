// The query cursor: see query_cursor.h.
#include "indexer/query_cursor.h"

#include <utility>

#include "libshard/document.h"
#include "util/base64.h"

namespace libshard::indexer {
namespace {

// Version tag of the cursor encoding (first element of the array).
constexpr int64_t kCursorFormat = 1;

std::string DescribeOrder(const std::string& order_by, bool desc) {
  return (order_by.empty() ? std::string("index order") : "order by '" + order_by + "'") +
         (desc ? " descending" : " ascending");
}

}  // namespace

std::string ToBase64Url(std::string_view bytes) {
  std::string s = util::Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> FromBase64Url(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;  // not base64url
    s.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  if (s.size() % 4 == 1) return std::nullopt;
  while (s.size() % 4 != 0) s.push_back('=');
  return util::Base64Decode(s);
}

std::string EncodeCursor(const CursorQuery& q, const IndexRow& row, std::string_view id) {
  Document::Array a;
  a.emplace_back(kCursorFormat);
  a.emplace_back(q.def.name);
  a.emplace_back(q.order_by);
  a.emplace_back(q.desc);
  a.emplace_back(Document::Array(row));
  a.push_back(Document::FromBytes(std::string(id)));
  return ToBase64Url(Document(std::move(a)).ToMsgpack());
}

Status BadCursor(const IndexDef& def, const std::string& why) {
  return Status::InvalidArgument("invalid cursor for index " + def.FullName() + ": " + why +
                                 " (pass QueryPage::next / the \"next\" value of a previous "
                                 "page of the same query unchanged)");
}

Result<CursorPosition> DecodeCursor(const CursorQuery& q, std::string_view cursor) {
  const IndexDef& def = q.def;
  auto bad = [&](const std::string& why) { return BadCursor(def, why); };
  std::optional<std::string> raw = FromBase64Url(cursor);
  if (!raw) return bad("not a cursor (it does not decode)");
  Result<Document> doc = Document::FromMsgpack(*raw);
  if (!doc.ok() || !doc->is_array()) return bad("not a cursor (it does not decode)");
  const Document::Array& a = doc->as_array();
  if (a.size() != 6 || a[0].type() != Document::Type::kInt || a[0].as_int() != kCursorFormat ||
      !a[1].is_string() || !a[2].is_string() || !a[3].is_bool() || !a[4].is_array() ||
      !(a[5].is_bytes() || a[5].is_string())) {
    return bad("not a cursor (unknown layout)");
  }
  if (a[1].as_string() != def.name) {
    return bad("it was made by a query on index '" + a[1].as_string() + "'");
  }
  if (a[2].as_string() != q.order_by || a[3].as_bool() != q.desc) {
    return bad("it was made for " + DescribeOrder(a[2].as_string(), a[3].as_bool()) +
               ", this query asks for " + DescribeOrder(q.order_by, q.desc));
  }
  const Document::Array& values = a[4].as_array();
  if (values.size() != def.columns.size()) {
    return bad("it holds " + std::to_string(values.size()) + " values for " +
               std::to_string(def.columns.size()) + " columns");
  }
  CursorPosition pos;
  for (size_t k = 0; k < values.size(); ++k) {
    Result<Document> v = def.Normalize(k, values[k]);
    if (!v.ok()) return bad("its value for column '" + def.columns[k].name + "' does not fit");
    pos.row.push_back(std::move(v).value());
  }
  pos.id = a[5].as_string();
  return pos;
}

}  // namespace libshard::indexer
