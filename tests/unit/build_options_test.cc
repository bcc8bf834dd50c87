// Store::BuildIndex checks its BuildOptions (issue 7, item 10): a NaN duty
// passed the builder's clamp (every comparison with NaN is false) and
// reached the pacing sleep as a NaN duration; inf, negative and > 1 were
// silently clamped. All are kInvalidArgument now, before any work.

#include <doctest/doctest.h>

#include <limits>
#include <memory>
#include <string>

#include "libshard/config.h"
#include "libshard/index.h"
#include "libshard/store.h"
#include "support/test_cluster.h"

namespace libshard {
namespace {

// (The name avoids an unbalanced bracket: CTest test discovery splits names
// with CMake lists, which do not split inside unbalanced brackets.)
TEST_CASE("BuildIndex refuses a duty that is not in the half-open range from 0 to 1 and a chunk below 1") {
  testing::ClusterSpec spec;
  spec.shards = 2;
  EntityConfig users;
  users.name = "users";
  IndexConfig by_email;
  by_email.name = "by_email";
  by_email.databases = {"idx0"};
  IndexColumnConfig email;
  email.name = "email";
  email.field = "email";
  by_email.columns = {email};
  users.indexes = {by_email};
  spec.entities = {users};
  testing::TestCluster cluster = testing::MakeCluster(testing::TestBackend::kSqlite, spec);
  REQUIRE(Store::Init(cluster.config).ok());
  Result<std::unique_ptr<Store>> store = Store::Open(cluster.config);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  const std::string entity = cluster.Entity("users");

  // The index is ready (declared before init), so a valid call has nothing
  // to do and succeeds; an invalid one must fail all the same.
  BuildOptions good;
  good.duty = 1.0;
  CHECK((*store)->BuildIndex(entity, "by_email", good).ok());

  for (double duty : {std::numeric_limits<double>::quiet_NaN(),
                      std::numeric_limits<double>::infinity(),
                      -std::numeric_limits<double>::infinity(), -0.5, 0.0, 1.0000001, 2.0}) {
    CAPTURE(duty);
    BuildOptions options;
    options.duty = duty;
    Status s = (*store)->BuildIndex(entity, "by_email", options);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.message().find("BuildOptions::duty must be a number in (0, 1]") == 0);
  }
  for (int chunk : {0, -1}) {
    CAPTURE(chunk);
    BuildOptions options;
    options.chunk = chunk;
    Status s = (*store)->BuildIndex(entity, "by_email", options);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.message() == "BuildOptions::chunk must be at least 1, got " + std::to_string(chunk));
  }
  // The smallest positive duty is valid (the builder paces it at its floor).
  BuildOptions tiny;
  tiny.duty = 0.001;
  CHECK((*store)->BuildIndex(entity, "by_email", tiny).ok());
}

}  // namespace
}  // namespace libshard
