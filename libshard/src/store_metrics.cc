// Store::Metrics: this process's counters (cluster/db_metrics.h) plus the
// index states and backfill progress read from the catalog.

#include <map>
#include <utility>

#include "cache/cache_set.h"
#include "libshard/metrics.h"
#include "libshard/store.h"
#include "store_impl.h"

namespace libshard {

MetricsSnapshot Store::Metrics() {
  MetricsSnapshot out;
  std::map<std::pair<std::string, std::string>, IndexMetrics> indexes;
  // The catalog read comes first so that the database numbers below
  // include it: a scrape sees its own operation counted.
  Result<std::vector<IndexStatus>> statuses = IndexStatuses();
  if (statuses.ok()) {
    for (const IndexStatus& st : *statuses) {
      IndexMetrics& ix = indexes[{st.entity, st.index}];
      ix.entity = st.entity;
      ix.index = st.index;
      ix.state = IndexStateName(st.state);
      ix.shards_done = st.shards_done;
      ix.shards_total = st.shards_total;
      ix.records_scanned = st.records_scanned;
    }
  } else {
    // A scrape must still answer (pool and error numbers matter most when
    // the catalog is down); the state series are left out.
    out.index_states_ok = false;
    out.index_states_error = statuses.status().ToString();
  }
  for (auto& [key, rows] : impl_->index_rows.Snapshot()) {
    IndexMetrics& ix = indexes[key];
    ix.entity = key.first;
    ix.index = key.second;
    ix.rows_written = rows;
  }
  for (auto& [key, ix] : indexes) out.indexes.push_back(std::move(ix));
  out.databases = impl_->DatabaseSnapshots();
  if (impl_->caches) impl_->caches->AppendMetrics(impl_->config, &out.caches);
  return out;
}

std::string Store::PrometheusText() { return RenderPrometheus(Metrics()); }

}  // namespace libshard
