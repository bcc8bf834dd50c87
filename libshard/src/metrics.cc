// RenderPrometheus: the text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
// Each metric family once, with its HELP and TYPE lines, then its samples;
// label values escaped (\\, \", \n); histograms as cumulative _bucket
// series ending in le="+Inf", then _sum and _count.

#include "libshard/metrics.h"

#include <functional>
#include <string_view>
#include <utility>

namespace libshard {
namespace {

std::string EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Microseconds as decimal seconds, exactly ("0.00025", "10"): no
// floating-point rounding in bucket bounds.
std::string Seconds(uint64_t us) {
  std::string out = std::to_string(us / 1000000);
  uint64_t frac = us % 1000000;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class Writer {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    // HELP text escapes only \\ and \n; ours has neither.
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void Sample(std::string_view name, const Labels& labels, std::string_view value) {
    out_.append(name);
    if (!labels.empty()) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_.append(k).append("=\"").append(EscapeLabel(v)).append("\"");
      }
      out_ += '}';
    }
    out_.append(" ").append(value).append("\n");
  }
  void Sample(std::string_view name, const Labels& labels, uint64_t value) {
    Sample(name, labels, std::to_string(value));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string RenderPrometheus(const MetricsSnapshot& m) {
  Writer w;
  using DB = DatabaseMetrics;
  auto per_db = [&](std::string_view name, std::string_view type, std::string_view help,
                    const std::function<uint64_t(const DB&)>& value) {
    w.Family(name, type, help);
    for (const DB& d : m.databases) w.Sample(name, {{"database", d.database}}, value(d));
  };

  w.Family("libshard_db_info", "gauge", "Databases of the config, with their backend (always 1).");
  for (const DB& d : m.databases) {
    w.Sample("libshard_db_info", {{"database", d.database}, {"backend", d.backend}}, 1);
  }
  per_db("libshard_db_operations_total", "counter",
         "Database operations finished by this process (one connection lease, retries included).",
         [](const DB& d) { return d.operations; });
  w.Family("libshard_db_errors_total", "counter",
           "Database operations that failed, by status code.");
  for (const DB& d : m.databases) {
    for (const auto& [code, n] : d.errors_by_code) {
      w.Sample("libshard_db_errors_total", {{"database", d.database}, {"code", code}}, n);
    }
  }
  per_db("libshard_db_retries_total", "counter",
         "Extra attempts after transient errors (deadlocks, busy locks, a dropped idle connection).",
         [](const DB& d) { return d.retries; });

  const std::string_view hist = "libshard_db_latency_seconds";
  w.Family(hist, "histogram", "Wall time of database operations, retries and backoff included.");
  for (const DB& d : m.databases) {
    for (size_t i = 0; i < d.latency_buckets.size(); ++i) {
      std::string le = i < d.latency_bounds_us.size() ? Seconds(d.latency_bounds_us[i]) : "+Inf";
      w.Sample("libshard_db_latency_seconds_bucket", {{"database", d.database}, {"le", le}},
               d.latency_buckets[i]);
    }
    if (d.latency_buckets.size() == d.latency_bounds_us.size()) {
      // The +Inf bucket is mandatory even if the snapshot lacks it.
      w.Sample("libshard_db_latency_seconds_bucket", {{"database", d.database}, {"le", "+Inf"}},
               d.operations);
    }
    w.Sample("libshard_db_latency_seconds_sum", {{"database", d.database}},
             Seconds(d.latency_sum_us));
    w.Sample("libshard_db_latency_seconds_count", {{"database", d.database}}, d.operations);
  }

  per_db("libshard_pool_size", "gauge", "Most connections the pool may open (Options::pool_size).",
         [](const DB& d) { return static_cast<uint64_t>(d.pool_size); });
  w.Family("libshard_pool_connections", "gauge",
           "Connections of the pool: open (idle or leased) and in_use (leased now).");
  for (const DB& d : m.databases) {
    w.Sample("libshard_pool_connections", {{"database", d.database}, {"state", "open"}},
             static_cast<uint64_t>(d.pool_open));
    w.Sample("libshard_pool_connections", {{"database", d.database}, {"state", "in_use"}},
             static_cast<uint64_t>(d.pool_in_use));
  }
  per_db("libshard_pool_waits_total", "counter",
         "Connection requests that found the pool full and waited.",
         [](const DB& d) { return d.pool_waits; });

  w.Family("libshard_index_states_up", "gauge",
           "1 if index states could be read from the catalog for this snapshot, else 0.");
  w.Sample("libshard_index_states_up", {}, m.index_states_ok ? 1 : 0);

  // The enum-as-gauge pattern: one series per possible state, 1 for the
  // current one, so a state change never leaves a stale series behind.
  static constexpr std::string_view kStates[] = {"write_only", "ready", "dropping"};
  w.Family("libshard_index_state", "gauge", "State of each index (1 for the current state).");
  for (const IndexMetrics& ix : m.indexes) {
    if (ix.state.empty()) continue;  // known only from this process's counters
    for (std::string_view st : kStates) {
      w.Sample("libshard_index_state", {{"entity", ix.entity}, {"index", ix.index}, {"state", st}},
               ix.state == st ? 1 : 0);
    }
  }
  auto per_index = [&](std::string_view name, std::string_view type, std::string_view help,
                       bool needs_state, const std::function<uint64_t(const IndexMetrics&)>& v) {
    w.Family(name, type, help);
    for (const IndexMetrics& ix : m.indexes) {
      if (needs_state && ix.state.empty()) continue;
      w.Sample(name, {{"entity", ix.entity}, {"index", ix.index}}, v(ix));
    }
  };
  per_index("libshard_index_backfill_shards_done", "gauge",
            "Record shards whose backfill is complete.", true,
            [](const IndexMetrics& ix) { return ix.shards_done; });
  per_index("libshard_index_backfill_shards_total", "gauge", "Record shards to backfill.", true,
            [](const IndexMetrics& ix) { return ix.shards_total; });
  per_index("libshard_index_backfill_records_scanned", "gauge",
            "Records read by the backfill so far (from the catalog's checkpoints).", true,
            [](const IndexMetrics& ix) { return ix.records_scanned; });
  per_index("libshard_index_rows_written_total", "counter",
            "Index rows inserted by this process's writes.", false,
            [](const IndexMetrics& ix) { return ix.rows_written; });

  // Record caches: one series per entity and tier (and server, for shared).
  auto per_cache = [&](std::string_view name, std::string_view type, std::string_view help,
                       const std::function<uint64_t(const CacheMetrics&)>& v) {
    if (m.caches.empty()) return;
    w.Family(name, type, help);
    for (const CacheMetrics& c : m.caches) {
      w.Sample(name, {{"entity", c.entity}, {"tier", c.tier}, {"server", c.server}}, v(c));
    }
  };
  per_cache("libshard_cache_hits_total", "counter", "Reads answered by the cache tier.",
            [](const CacheMetrics& c) { return c.hits; });
  per_cache("libshard_cache_misses_total", "counter", "Reads the cache tier could not answer.",
            [](const CacheMetrics& c) { return c.misses; });
  per_cache("libshard_cache_fills_total", "counter", "Entries stored after a shard read.",
            [](const CacheMetrics& c) { return c.fills; });
  per_cache("libshard_cache_stale_fills_total", "counter",
            "Fills refused because a write or an eviction came between the read and the fill.",
            [](const CacheMetrics& c) { return c.stale_fills; });
  per_cache("libshard_cache_invalidations_total", "counter",
            "Entries dropped after this process's commits.",
            [](const CacheMetrics& c) { return c.invalidations; });
  per_cache("libshard_cache_errors_total", "counter",
            "Calls to the cache server that failed (the shard answered instead).",
            [](const CacheMetrics& c) { return c.errors; });
  per_cache("libshard_cache_bypassed_total", "counter",
            "Calls skipped while the cache server's circuit breaker was open.",
            [](const CacheMetrics& c) { return c.bypassed; });
  per_cache("libshard_cache_entries", "gauge", "Entries held by the memory tier.",
            [](const CacheMetrics& c) { return c.entries; });
  per_cache("libshard_cache_bytes", "gauge", "Bytes held by the memory tier.",
            [](const CacheMetrics& c) { return c.bytes; });
  per_cache("libshard_cache_pending_invalidations", "gauge",
            "Invalidations waiting for the cache server to answer again.",
            [](const CacheMetrics& c) { return c.pending_invalidations; });
  per_cache("libshard_cache_breaker_open", "gauge",
            "1 while the cache server's circuit breaker is open.",
            [](const CacheMetrics& c) { return c.breaker_open ? 1 : 0; });
  return w.Take();
}

}  // namespace libshard
