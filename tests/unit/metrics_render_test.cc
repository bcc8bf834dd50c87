// RenderPrometheus: the text exposition format exactly — HELP and TYPE
// before each family's samples, escaped label values, cumulative
// histogram buckets ending in le="+Inf", then _sum and _count.
#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "libshard/metrics.h"

using libshard::DatabaseMetrics;
using libshard::IndexMetrics;
using libshard::MetricsSnapshot;
using libshard::RenderPrometheus;

namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

MetricsSnapshot Sample() {
  MetricsSnapshot m;
  DatabaseMetrics d;
  d.database = "s\"1\\x\ny";  // every character that must be escaped
  d.backend = "sqlite";
  d.retries = 2;
  d.errors_by_code = {{"unavailable", 3}, {"version_conflict", 1}};
  d.latency_bounds_us = {100, 250000, 1000000};
  d.latency_buckets = {1, 4, 5, 6};
  d.operations = 6;
  d.latency_sum_us = 1500250;
  d.pool_size = 8;
  d.pool_open = 3;
  d.pool_in_use = 1;
  d.pool_waits = 4;
  m.databases.push_back(d);
  IndexMetrics ix;
  ix.entity = "users";
  ix.index = "by_email";
  ix.state = "write_only";
  ix.shards_done = 1;
  ix.shards_total = 4;
  ix.records_scanned = 1000;
  ix.rows_written = 12;
  m.indexes.push_back(ix);
  return m;
}

}  // namespace

TEST_CASE("RenderPrometheus: every line is a comment or a valid sample, families declared once") {
  const std::string text = RenderPrometheus(Sample());
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  // name{label="value",...} value — values may hold escaped \" \\ \n only.
  const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")"
      R"((,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")*\})? (\+Inf|-?[0-9]+(\.[0-9]+)?)$)");
  const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::string current;  // the family whose samples may follow
  for (const std::string& line : Lines(text)) {
    CAPTURE(line);
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      CHECK(helped.insert(m[1]).second);
      continue;
    }
    if (std::regex_match(line, m, type)) {
      CHECK(helped.count(m[1]) == 1);  // HELP first
      CHECK(types.emplace(m[1], m[2]).second);
      current = m[1];
      continue;
    }
    REQUIRE(std::regex_match(line, m, sample));
    std::string name = m[1];
    if (types[current] == "histogram") {
      CHECK((name == current + "_bucket" || name == current + "_sum" || name == current + "_count"));
    } else {
      CHECK(name == current);
    }
  }
  for (const char* family :
       {"libshard_db_operations_total", "libshard_db_errors_total", "libshard_db_retries_total",
        "libshard_db_latency_seconds", "libshard_pool_connections", "libshard_pool_size",
        "libshard_pool_waits_total", "libshard_index_state", "libshard_index_rows_written_total",
        "libshard_index_backfill_shards_done", "libshard_index_backfill_shards_total"}) {
    CAPTURE(family);
    CHECK(types.count(family) == 1);
  }
  CHECK(types["libshard_db_latency_seconds"] == "histogram");
  CHECK(types["libshard_db_operations_total"] == "counter");
  CHECK(types["libshard_pool_connections"] == "gauge");
}

TEST_CASE("RenderPrometheus: values, escaping, histogram series") {
  const std::string text = RenderPrometheus(Sample());
  const std::string db = R"(database="s\"1\\x\ny")";
  auto has = [&](const std::string& line) {
    CAPTURE(line);
    CHECK(text.find("\n" + line + "\n") != std::string::npos);
  };
  has("libshard_db_operations_total{" + db + "} 6");
  has("libshard_db_retries_total{" + db + "} 2");
  has("libshard_db_errors_total{" + db + ",code=\"unavailable\"} 3");
  has("libshard_db_errors_total{" + db + ",code=\"version_conflict\"} 1");
  has("libshard_db_latency_seconds_bucket{" + db + ",le=\"0.0001\"} 1");
  has("libshard_db_latency_seconds_bucket{" + db + ",le=\"0.25\"} 4");
  has("libshard_db_latency_seconds_bucket{" + db + ",le=\"1\"} 5");
  has("libshard_db_latency_seconds_bucket{" + db + ",le=\"+Inf\"} 6");
  has("libshard_db_latency_seconds_sum{" + db + "} 1.50025");
  has("libshard_db_latency_seconds_count{" + db + "} 6");
  has("libshard_pool_size{" + db + "} 8");
  has("libshard_pool_connections{" + db + ",state=\"open\"} 3");
  has("libshard_pool_connections{" + db + ",state=\"in_use\"} 1");
  has("libshard_pool_waits_total{" + db + "} 4");
  has("libshard_index_states_up 1");
  has(R"(libshard_index_state{entity="users",index="by_email",state="write_only"} 1)");
  has(R"(libshard_index_state{entity="users",index="by_email",state="ready"} 0)");
  has(R"(libshard_index_backfill_shards_done{entity="users",index="by_email"} 1)");
  has(R"(libshard_index_backfill_shards_total{entity="users",index="by_email"} 4)");
  has(R"(libshard_index_rows_written_total{entity="users",index="by_email"} 12)");
  // A raw newline never appears inside a sample.
  for (const std::string& line : Lines(text)) CHECK(line.find("s\"1") == std::string::npos);
}

TEST_CASE("RenderPrometheus: an empty snapshot still declares its families") {
  MetricsSnapshot m;
  m.index_states_ok = false;
  const std::string text = RenderPrometheus(m);
  CHECK(text.find("# TYPE libshard_db_operations_total counter\n") != std::string::npos);
  CHECK(text.find("\nlibshard_index_states_up 0\n") != std::string::npos);
}
