// Store::Metrics: operations, errors by code, the latency histogram and
// the pools are counted per database; index rows per index; the
// Prometheus text carries the same numbers.
#include <string>
#include <vector>

#include "conformance/conformance.h"

using namespace conformance;  // NOLINT

namespace {

const DatabaseMetrics* FindDb(const MetricsSnapshot& m, const std::string& name) {
  for (const DatabaseMetrics& d : m.databases) {
    if (d.database == name) return &d;
  }
  return nullptr;
}

uint64_t TotalOps(const MetricsSnapshot& m) {
  uint64_t n = 0;
  for (const DatabaseMetrics& d : m.databases) n += d.operations;
  return n;
}

uint64_t Errors(const MetricsSnapshot& m, const std::string& code) {
  uint64_t n = 0;
  for (const DatabaseMetrics& d : m.databases) {
    auto it = d.errors_by_code.find(code);
    if (it != d.errors_by_code.end()) n += it->second;
  }
  return n;
}

}  // namespace

TEST_SUITE("metrics") {

TEST_CASE("metrics: puts and gets are counted per database, with a consistent histogram") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  const MetricsSnapshot before = env->Metrics();
  REQUIRE(before.databases.size() == env.cluster.config.databases.size());

  constexpr int kN = 40;
  for (int i = 0; i < kN; ++i) {
    REQUIRE_OK(env->Put(e, "k" + std::to_string(i), Document::MakeObject({{"n", i}})));
  }
  for (int i = 0; i < kN; ++i) REQUIRE_OK(env->Get(e, "k" + std::to_string(i)));
  // An absent record is an answer, not a database error.
  CHECK_CODE(env->Get(e, "absent"), Code::kNotFound);
  // A version conflict is an error code the operation returned.
  WriteOptions stale;
  stale.if_version = 7;
  CHECK_CODE(env->Put(e, "k0", Document::MakeObject({{"n", 0}}), stale), Code::kVersionConflict);

  const MetricsSnapshot after = env->Metrics();
  // Every put and get is at least one operation on its shard.
  uint64_t shard_ops_before = 0, shard_ops_after = 0;
  for (const std::string& shard : env.cluster.config.shards) {
    const DatabaseMetrics* b = FindDb(before, shard);
    const DatabaseMetrics* a = FindDb(after, shard);
    REQUIRE(b != nullptr);
    REQUIRE(a != nullptr);
    shard_ops_before += b->operations;
    shard_ops_after += a->operations;
  }
  CHECK(shard_ops_after - shard_ops_before >= 2 * kN + 2);
  CHECK(TotalOps(after) > TotalOps(before));
  CHECK(Errors(after, "version_conflict") - Errors(before, "version_conflict") == 1);
  CHECK(Errors(after, "not_found") == Errors(before, "not_found"));

  for (const DatabaseMetrics& d : after.databases) {
    CAPTURE(d.database);
    REQUIRE(d.latency_buckets.size() == d.latency_bounds_us.size() + 1);
    CHECK(d.latency_buckets.back() == d.operations);  // le="+Inf" is the count
    for (size_t i = 1; i < d.latency_buckets.size(); ++i) {
      CHECK(d.latency_buckets[i - 1] <= d.latency_buckets[i]);  // cumulative
    }
    if (d.operations > 0) CHECK(d.latency_sum_us > 0);
    CHECK(d.pool_size == Options{}.pool_size);
    CHECK(d.pool_open >= 0);
    CHECK(d.pool_open <= d.pool_size);
    CHECK(d.pool_in_use <= d.pool_open);
    // Nothing runs now, except perhaps the index registry's background
    // refresh on the catalog.
    if (d.database != env.cluster.config.catalog) CHECK(d.pool_in_use == 0);
    CHECK(!d.backend.empty());
  }

  const std::string text = env->PrometheusText();
  const std::string shard0 = env.cluster.config.shards[0];
  CHECK(text.find("libshard_db_operations_total{database=\"" + shard0 + "\"} ") !=
        std::string::npos);
  CHECK(text.find("libshard_db_errors_total{database=") != std::string::npos);
  CHECK(text.find("code=\"version_conflict\"} 1") != std::string::npos);
  CHECK(text.find("libshard_db_latency_seconds_bucket{database=\"" + shard0 +
                  "\",le=\"+Inf\"}") != std::string::npos);
  CHECK(text.find("libshard_pool_connections{database=\"" + shard0 + "\",state=\"open\"}") !=
        std::string::npos);
}

TEST_CASE("metrics: index rows written and index states") {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes.push_back(Idx("by_tag", {Col("tag", ColumnType::kString, "tags[]")}));
  Env env = OpenCluster(spec);
  const std::string e = env.Entity("posts");
  REQUIRE_OK(env->BuildIndex(e, "by_tag"));
  for (int i = 0; i < 10; ++i) {
    Document tags = Document::MakeArray({Document("a"), Document("b" + std::to_string(i))});
    REQUIRE_OK(env->Put(e, "p" + std::to_string(i), Document::MakeObject({{"tags", tags}})));
  }
  const MetricsSnapshot m = env->Metrics();
  CHECK(m.index_states_ok);
  const IndexMetrics* ix = nullptr;
  for (const IndexMetrics& i : m.indexes) {
    if (i.entity == e && i.index == "by_tag") ix = &i;
  }
  REQUIRE(ix != nullptr);
  CHECK(ix->state == "ready");
  CHECK(ix->shards_done == ix->shards_total);
  CHECK(ix->rows_written == 20);  // two tags per record
  const std::string text = RenderPrometheus(m);
  CHECK(text.find("libshard_index_state{entity=\"" + e + "\",index=\"by_tag\",state=\"ready\"} 1") !=
        std::string::npos);
  CHECK(text.find("libshard_index_rows_written_total{entity=\"" + e + "\",index=\"by_tag\"} 20") !=
        std::string::npos);
}

}  // TEST_SUITE
