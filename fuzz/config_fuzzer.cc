// ClusterConfig::Parse on arbitrary YAML text. Properties: no crash, leak,
// hang or undefined behaviour (yaml-cpp and our walk over its nodes); a
// config that parses validates again; redaction never fails.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "libshard/config.h"

using libshard::ClusterConfig;
using libshard::Result;

// ${VAR} in database urls reads the environment. A fixed environment keeps
// a run reproducible on any machine: the same input gives the same result
// in CI and when a saved crash is replayed.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  clearenv();
  setenv("LIBSHARD_FUZZ_DB", "/tmp/libshard-fuzz.db", 1);
  setenv("LIBSHARD_FUZZ_PASSWORD", "fuzz-secret", 1);
  setenv("LIBSHARD_FUZZ_EMPTY", "", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  // An absolute base directory: Parse then never asks the file system.
  Result<ClusterConfig> config = ClusterConfig::Parse(yaml, "fuzz.yaml", "/fuzz");
  if (!config.ok()) return 0;
  FUZZ_CHECK(config->Validate().ok());
  for (const libshard::DatabaseConfig& db : config->databases) {
    FUZZ_CHECK(config->FindDatabase(db.name) != nullptr);
    (void)db.RedactedUrl();
  }
  for (const libshard::EntityConfig& entity : config->entities) {
    FUZZ_CHECK(config->FindEntity(entity.name) != nullptr);
  }
  return 0;
}
