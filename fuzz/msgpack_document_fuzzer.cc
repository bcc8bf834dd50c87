// Document::FromMsgpack on arbitrary bytes (records read from a database
// are untrusted). Properties: no crash, leak or undefined behaviour; a
// decoded document re-encodes to bytes that decode to an equal document and
// encode identically again; ToJson of it is valid JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "libshard/document.h"

using libshard::Document;
using libshard::Result;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Result<Document> doc = Document::FromMsgpack(bytes);
  if (!doc.ok()) return 0;

  const std::string packed = doc->ToMsgpack();
  Result<Document> again = Document::FromMsgpack(packed);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->ToMsgpack() == packed);
  if (!libshard_fuzz::HasNaN(*doc)) FUZZ_CHECK(*again == *doc);

  // JSON cannot hold everything MessagePack can (bytes keys, NaN, invalid
  // UTF-8), so only its validity is checked, not equality.
  const std::string json = doc->ToJson();
  FUZZ_CHECK(Document::FromJson(json).ok());
  return 0;
}
