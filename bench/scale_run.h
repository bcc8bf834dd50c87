// shard-scale (issue 9 item 7): how the cost of a point get and a single
// put grows with the number of records, and how process memory grows with
// the number of shards open. Types shared by the runner and its report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/stats.h"

namespace bench {

// One measuring point of the growing 4-shard SQLite cluster.
struct SizePoint {
  size_t records = 0;        // records in the cluster when measured
  double load_s = 0;         // wall time of the PutMany load up to here
  double load_rps = 0;       // records/s of that load step
  Percentiles get, put;      // µs per operation
  double get_cpu_us = 0;     // process CPU per get / per put (user + system)
  double put_cpu_us = 0;
  uint64_t db_bytes = 0;     // sum of the shard .db files (after checkpoint)
  uint64_t wal_bytes = 0;    // sum of the -wal files before the checkpoint
  int table_depth = 0;       // B-tree depth on shard s0 (dbstat), 0 = not measured
  int id_index_depth = 0;    // the primary key index on id
};

// One process that opened a Store on `shards` SQLite shard files.
struct RssPoint {
  int shards = 0;
  uint64_t rss_start_kb = 0;  // VmRSS before Store::Open (libraries loaded)
  uint64_t rss_open_kb = 0;   // after Open
  uint64_t rss_kb = 0;        // after gets and puts touching every shard
  uint64_t hwm_kb = 0;        // VmHWM at the end
  int threads = 0;            // Threads: at the end
  int shards_touched = 0;     // shards that served at least one get and one put
};

struct ScaleInfo {
  std::string command, date, cpu, load_start, load_end;
  int nproc = 0;
  double elapsed_s = 0;
  size_t get_ops = 0, put_ops = 0, batch = 0;
  int load_retries = 0;
  std::string reused;    // --reuse: the cluster the largest sizes were measured on  // PutMany batches rolled back (lease) and run again
};

std::string ScaleMarkdown(const std::vector<SizePoint>& sizes, const std::vector<RssPoint>& rss,
                          const ScaleInfo& info);
// Two panels: latency (p50, p99 of get and put) against records on a log
// axis; RSS against shards open.
void WriteScaleSvg(const std::string& path, const std::vector<SizePoint>& sizes,
                   const std::vector<RssPoint>& rss);

}  // namespace bench
