// PostgreSQL array literals for binding a column of many rows as one text
// parameter ("{"hex","hex",…}" / "{1,2,…}", unnest()ed by the server):
// the batch statements of pg_many.h and pg_put_many.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace libshard::records::pg_array {

// Starts a literal in `a` (cleared, `reserve` bytes reserved); Close ends it.
inline void Open(std::string* a, size_t reserve) {
  a->clear();
  a->reserve(reserve);
  a->push_back('{');
}
inline void Close(std::string* a) { a->push_back('}'); }

inline void AppendHex(std::string_view bytes, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const size_t at = out->size();
  out->resize(at + 2 * bytes.size());
  char* p = out->data() + at;
  for (unsigned char c : bytes) {
    *p++ = kDigits[c >> 4];
    *p++ = kDigits[c & 15];
  }
}

// Elements are double-quoted (an empty element would be malformed
// unquoted); hex and decimal digits need no escaping inside.
inline void AddHex(std::string* a, std::string_view bytes) {
  if (a->size() > 1) a->push_back(',');
  a->push_back('"');
  AppendHex(bytes, a);
  a->push_back('"');
}

inline void AddInt(std::string* a, long long v) {
  if (a->size() > 1) a->push_back(',');
  *a += std::to_string(v);
}

inline void AddNull(std::string* a) {
  if (a->size() > 1) a->push_back(',');
  *a += "NULL";
}

}  // namespace libshard::records::pg_array
