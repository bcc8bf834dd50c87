// Test clusters on each backend, for the conformance suite and other tests.
//
// The backend comes from the environment so one test binary runs against
// all of them (tests/CMakeLists.txt registers one CTest entry per backend):
//   LIBSHARD_TEST_BACKEND = sqlite | postgres | mariadb | mixed
// PostgreSQL and MariaDB servers are started by scripts/servers.sh, which
// writes their coordinates to the environment:
//   LIBSHARD_PG_PORT (user postgres, trust auth, host 127.0.0.1)
//   LIBSHARD_MYSQL_PORT, LIBSHARD_MYSQL_USER, LIBSHARD_MYSQL_PASSWORD
// and creates the databases ls_catalog, ls_catalog10, ls_catalog2,
// ls_s0 … ls_s9, ls_idx0, ls_idx1 on both servers.
//
// Isolation: each MakeCluster() call declares entities with names unique to
// the process run (e.g. "items" becomes "items_k3f9_7"), so test cases never
// see each other's records even on shared server databases. Catalogs are
// shared per cluster shape (shard count), which is safe because the bucket
// map depends only on the shape.
#pragma once

#include <string>
#include <vector>

#include "libshard/config.h"

namespace libshard::testing {

enum class TestBackend { kSqlite, kPostgres, kMariadb, kMixed };

// From LIBSHARD_TEST_BACKEND; sqlite when unset.
TestBackend BackendFromEnv();
const char* TestBackendName(TestBackend b);

struct ClusterSpec {
  int shards = 4;                     // 1..10
  std::vector<EntityConfig> entities; // names are made unique by MakeCluster
  std::vector<std::string> index_databases = {"idx0"};  // idx0, idx1
  // Server databases created for this cluster alone (named after the run
  // tag), instead of the shared ls_* ones: for tests that change the
  // bucket map or what a shard holds (bucket moves). Also lifts the
  // 2/4/10-shard limit on server backends.
  bool fresh_databases = false;
  // Extra record databases s<shards>… declared under `databases:` but not
  // in `shards:` (a test adds them to the config later, as an operator
  // would). Needs fresh_databases on server backends.
  int spare_shards = 0;
};

struct TestCluster {
  ClusterConfig config;
  // original entity name -> unique name in config, e.g. "items" -> "items_k3f9_7"
  std::string Entity(const std::string& name) const;
  std::vector<std::pair<std::string, std::string>> entity_names;
  std::string dir;  // temp directory holding SQLite files (and a YAML copy)
  std::string yaml_path;  // the config written out as YAML (for shardctl)
};

// Builds a cluster config for `backend` (SQLite files go into a fresh temp
// directory) and writes it as YAML to `yaml_path`. Does not Init.
TestCluster MakeCluster(TestBackend backend, const ClusterSpec& spec);

// Writes tc.config (as edited by the test, e.g. a spare shard added to
// `shards:`) to tc.yaml_path, the file a running Store reads again when it
// meets a shard it does not know.
void RewriteYaml(const TestCluster& tc);

// A fresh temporary directory under $TMPDIR (removed at process exit only
// when LIBSHARD_KEEP_TMP is unset).
std::string MakeTempDir(const std::string& prefix);

}  // namespace libshard::testing
