// The floor rows (issue 9): libshard (A) against the raw sqlite3 C API (B,
// baseline_raw.h) on the same SQLite files — point get, single put, batched
// put and scan; and get_raw_fenced / put_raw_fenced, where the raw side also
// reads libshard's fence (the ownership row) the way libshard does. SQLite
// only. The target of get and put is CPU time within
// 1.15× of raw: cpu_ratio (raw CPU per op / libshard CPU per op) ≥ 1/1.15,
// judged on the worst round.
#include <algorithm>

#include "bench/baseline_raw.h"
#include "bench/data.h"
#include "bench/workloads.h"

namespace bench {
namespace {

using libshard::Document;
using libshard::Id;

// The read data set of workloads_core.cc (same stream, size and entity, so
// it is preloaded once for both).
const std::vector<Id>& ReadSet(Context& ctx) {
  static std::map<std::string, std::vector<Id>> ids;  // by backend
  const std::string e = ctx.cluster.E("get");
  Preload(ctx, e, 1, ctx.scale.read_records, ctx.scale.read_records / 10);
  auto& v = ids[ctx.cluster.backend()];
  if (v.empty()) v = MakeIds(1, ctx.scale.read_records);
  return v;
}

std::vector<size_t> Picks(int round, size_t n, size_t range) {
  Rng rng(0xabc + static_cast<uint64_t>(round + 1) * 7777);
  std::vector<size_t> p(n);
  for (size_t& x : p) x = rng.Below(range);
  return p;
}

struct WriteSet {
  std::vector<Id> ids;
  std::vector<Document> docs;
  WriteSet(uint64_t stream, size_t n, size_t cities) : ids(MakeIds(stream, n)) {
    docs.reserve(n);
    for (size_t i = 0; i < n; ++i) docs.push_back(MakeDoc(i, cities));
  }
};

uint64_t g_sink = 0;

WorkloadResult RawResult(const std::string& note) {
  WorkloadResult r;
  r.b_label = "raw sqlite3";
  r.compares = compares::kRawSqlite;
  r.note = note;
  return r;
}

void Floor(WorkloadResult* r) {
  Target t;
  t.metric = "cpu_ratio";
  t.threshold = 1 / 1.15;
  t.text = "CPU ≤ 1.15 × raw (cpu_ratio ≥ 0.87, worst round)";
  t.worst_round = true;
  r->targets = {t};
}

}  // namespace

static WorkloadResult GetRaw(Context& ctx, bool fenced) {
  if (ctx.cluster.backend() != "sqlite") throw Skip("SQLite only");
  WorkloadResult r =
      RawResult(fenced ? "prepared point SELECT with libshard's fence (ownership row LEFT JOIN "
                         "record), decode from the column"
                       : "prepared point SELECT (no ownership join), decode from the column");
  Floor(&r);
  const std::string e = ctx.cluster.E("get");
  const std::vector<Id>& ids = ReadSet(ctx);
  RawBaselineTable raw(ctx.cluster.config(), ctx.baseline, e, fenced);
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    std::vector<size_t> picks = Picks(round, Count(round, ctx.scale.get_ops), ids.size());
    if (a) {
      return TimeOps(picks.size(), [&](size_t i) {
        auto rec = ctx.store().Get(e, ids[picks[i]]);
        if (!rec.ok()) Fail("Get: " + rec.status().ToString());
        g_sink += rec->version;
      });
    }
    return TimeOps(picks.size(), [&](size_t i) {
      BRecord rec;
      if (!raw.Get(ids[picks[i]], &rec)) Fail("raw get: missing record");
      g_sink += rec.version;
    });
  });
  return r;
}

static WorkloadResult PutRaw(Context& ctx, bool fenced) {
  if (ctx.cluster.backend() != "sqlite") throw Skip("SQLite only");
  WorkloadResult r = RawResult(
      fenced ? "new records: BEGIN IMMEDIATE; SELECT ownership row LEFT JOIN version "
               "(libshard's fence); INSERT; COMMIT per put"
             : "new records: BEGIN IMMEDIATE; SELECT version; INSERT; COMMIT per put");
  Floor(&r);
  const std::string e = ctx.cluster.E("put");
  RawBaselineTable raw(ctx.cluster.config(), ctx.baseline, e, fenced);
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t n = Count(round, ctx.scale.put_ops);
    WriteSet data(1000 + static_cast<uint64_t>(round + 1), n, n / 10 + 1);
    ctx.cluster.Clear(e);
    if (a) {
      return TimeOps(n, [&](size_t i) {
        auto v = ctx.store().Put(e, data.ids[i], data.docs[i]);
        if (!v.ok()) Fail("Put: " + v.status().ToString());
      });
    }
    return TimeOps(n, [&](size_t i) { raw.Put(data.ids[i], data.docs[i]); });
  });
  return r;
}

WorkloadResult RunGetRaw(Context& ctx) { return GetRaw(ctx, false); }
WorkloadResult RunGetRawFenced(Context& ctx) { return GetRaw(ctx, true); }
WorkloadResult RunPutRaw(Context& ctx) { return PutRaw(ctx, false); }
WorkloadResult RunPutRawFenced(Context& ctx) { return PutRaw(ctx, true); }

WorkloadResult RunPutBatchRaw(Context& ctx) {
  if (ctx.cluster.backend() != "sqlite") throw Skip("SQLite only");
  WorkloadResult r = RawResult(
      "per shard one transaction (lock + insert each), shards one after another; libshard "
      "runs shards in parallel");
  const std::string e = ctx.cluster.E("put");
  RawBaselineTable raw(ctx.cluster.config(), ctx.baseline, e);
  PutBatchRounds(ctx, &r, e, [&](const auto& ids, const auto& docs) { raw.PutBatch(ids, docs); });
  return r;
}

WorkloadResult RunScanRaw(Context& ctx) {
  if (ctx.cluster.backend() != "sqlite") throw Skip("SQLite only");
  WorkloadResult r = RawResult(
      "keyset chunks of 1000 per shard, rows decoded as stepped, shards one after another; "
      "libshard runs shards in parallel");
  r.unit = "records/s";
  r.lat_unit = "full scan";
  const std::string e = ctx.cluster.E("get");
  const std::vector<Id>& ids = ReadSet(ctx);
  RawBaselineTable raw(ctx.cluster.config(), ctx.baseline, e);
  const int chunk = 1000;  // libshard's Options::scan_chunk default
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t scans = round < 0 ? 1 : ctx.scale.scans;
    if (a) {
      return TimeOps(
          scans,
          [&](size_t) {
            size_t n = 0;
            Check(ctx.store().Scan(e, nullptr,
                                   [&](libshard::Record&& rec) {
                                     g_sink += rec.version;
                                     ++n;
                                     return true;
                                   }),
                  "Scan");
            if (n != ids.size()) Fail("Scan: wrong record count");
          },
          static_cast<double>(ids.size()));
    }
    return TimeOps(
        scans,
        [&](size_t) {
          size_t n = raw.Scan(chunk, [&](BRecord&& rec) { g_sink += rec.version; });
          if (n != ids.size()) Fail("raw scan: wrong record count");
        },
        static_cast<double>(ids.size()));
  });
  return r;
}

}  // namespace bench
