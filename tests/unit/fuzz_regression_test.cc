// Inputs the fuzz targets (fuzz/, scripts/fuzz.sh) found to crash, hang or
// break a property, kept as plain unit tests so they never come back.

#include <doctest/doctest.h>

#include <string>

#include "libshard/config.h"
#include "libshard/document.h"

namespace libshard {
namespace {

Result<ClusterConfig> ParseYaml(const std::string& yaml) {
  return ClusterConfig::Parse(yaml, "fuzz.yaml", "/base");
}

// fuzz_config: yaml-cpp 0.7 never consumes a ',' outside brackets between
// documents, so YAML::LoadAll returned empty documents until memory ran out.
TEST_CASE("config: a stray ',' is a syntax error, not an endless parse") {
  struct Case {
    const char* yaml;
    const char* where;
  };
  for (const Case& c : {Case{",", "fuzz.yaml:1:1:"}, Case{"[1],", "fuzz.yaml:1:4:"},
                        Case{"# comment\n,\ncluster: {buckets: 8}\n", "fuzz.yaml:2:1:"},
                        Case{"a: 1\n...\n,", "fuzz.yaml:3:1:"}}) {
    CAPTURE(c.yaml);
    Result<ClusterConfig> config = ParseYaml(c.yaml);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == Code::kInvalidConfig);
    CHECK(config.status().message().find(c.where) == 0);
    CHECK(config.status().message().find("unexpected ','") != std::string::npos);
  }
  // Commas where YAML allows them still parse.
  CHECK(ParseYaml("databases: {a: 'sqlite3://db=a.db', b: 'sqlite3://db=b.db'}\n"
                  "catalog: a\nshards: [b]\nentities: [{name: users}]\n")
            .ok());
}

// msgpack_document property "ToJson output parses back": bytes are written
// to JSON as {"$bytes": …}, one level deeper than the document itself, so a
// record at the deepest level MessagePack accepts (512 containers) printed
// JSON that FromJson refused as too deep (shardctl get, then put, failed).
TEST_CASE("document: bytes at the deepest level round-trip through JSON") {
  Document doc = Document::FromBytes("x");
  for (int i = 0; i < 512; ++i) doc = Document(Document::Array{doc});
  Result<Document> stored = Document::FromMsgpack(doc.ToMsgpack());
  REQUIRE(stored.ok());
  Result<Document> again = Document::FromJson(stored->ToJson());
  REQUIRE(again.ok());
  CHECK(*again == doc);

  // The extra level is for {"$bytes": …} only: any other object or an
  // array there is still too deep, as is anything inside it.
  const std::string open(512, '[');
  const std::string close(512, ']');
  for (const char* inner : {"{}", "{\"a\":1}", "[]", "{\"$bytes\":[]}", "{\"$bytes\":\"!\"}"}) {
    CAPTURE(inner);
    Result<Document> deep = Document::FromJson(open + inner + close);
    REQUIRE_FALSE(deep.ok());
    CHECK(deep.status().message().find("nesting deeper than 512 levels") != std::string::npos);
  }
  CHECK(Document::FromJson(open + "{\"$bytes\":\"eA==\"}" + close).ok());
}

}  // namespace
}  // namespace libshard
