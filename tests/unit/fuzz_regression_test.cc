// Inputs the fuzz targets (fuzz/, scripts/fuzz.sh) found to crash, hang or
// break a property, kept as plain unit tests so they never come back.

#include <doctest/doctest.h>

#include <string>

#include "libshard/config.h"

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

}  // namespace
}  // namespace libshard
