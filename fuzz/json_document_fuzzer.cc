// Document::FromJson on arbitrary text. Properties: no crash, leak or
// undefined behaviour; whatever parses re-encodes (ToJson, ToMsgpack) and
// parses back to an equal document.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "libshard/document.h"

using libshard::Document;
using libshard::Result;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Document> doc = Document::FromJson(text);
  if (!doc.ok()) return 0;

  // JSON text has no NaN (nor infinities, which it writes as null), so a
  // parsed document compares equal to its round trips.
  const std::string json = doc->ToJson();
  Result<Document> again = Document::FromJson(json);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *doc);
  FUZZ_CHECK(again->ToJson() == json);

  const std::string packed = doc->ToMsgpack();
  Result<Document> unpacked = Document::FromMsgpack(packed);
  FUZZ_CHECK(unpacked.ok());
  FUZZ_CHECK(*unpacked == *doc);
  return 0;
}
