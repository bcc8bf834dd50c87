// Core workloads (SQLite and PostgreSQL): point get, put, batched put,
// get_many vs sequential gets; and scan (SQLite).
#include <algorithm>

#include "bench/data.h"
#include "bench/workloads.h"

namespace bench {
namespace {

using libshard::Document;
using libshard::Id;

constexpr uint64_t kReadStream = 1;

// The read data set shared by get, get_many and scan.
const std::vector<Id>& ReadSet(Context& ctx) {
  static std::map<std::string, std::vector<Id>> ids;  // by backend
  const std::string e = ctx.cluster.E("get");
  Preload(ctx, e, kReadStream, ctx.scale.read_records, ctx.scale.read_records / 10);
  auto& v = ids[ctx.cluster.backend()];
  if (v.empty()) v = MakeIds(kReadStream, ctx.scale.read_records);
  return v;
}

// The same pseudo-random picks for both sides of a round.
std::vector<size_t> Picks(int round, size_t n, size_t range) {
  Rng rng(0xabc + static_cast<uint64_t>(round + 1) * 7777);
  std::vector<size_t> p(n);
  for (size_t& x : p) x = rng.Below(range);
  return p;
}

// Fresh records for a write round: ids of stream `stream`, docs 0..n-1.
struct WriteSet {
  std::vector<Id> ids;
  std::vector<Document> docs;
  WriteSet(uint64_t stream, size_t n, size_t cities) : ids(MakeIds(stream, n)) {
    docs.reserve(n);
    for (size_t i = 0; i < n; ++i) docs.push_back(MakeDoc(i, cities));
  }
};

uint64_t g_sink = 0;  // keeps results observable

}  // namespace

WorkloadResult RunGet(Context& ctx) {
  WorkloadResult r;
  r.targets = {{"ratio", 0.90, "≥ 0.90 × baseline"}};
  const std::string e = ctx.cluster.E("get");
  const std::vector<Id>& ids = ReadSet(ctx);
  BaselineTable base(ctx.baseline, e);
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
      if (!base.Get(ids[picks[i]], &rec)) Fail("baseline get: missing record");
      g_sink += rec.version;
    });
  });
  return r;
}

WorkloadResult RunPut(Context& ctx) {
  WorkloadResult r;
  r.note = "new records: lock (SELECT version) + INSERT + COMMIT per put";
  const std::string e = ctx.cluster.E("put");
  BaselineTable base(ctx.baseline, e);
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
    return TimeOps(n, [&](size_t i) { base.Put(data.ids[i], data.docs[i]); });
  });
  return r;
}

WorkloadResult RunPutBatch(Context& ctx) {
  WorkloadResult r;
  r.unit = "records/s";
  r.lat_unit = "batch of " + std::to_string(ctx.scale.batch_size);
  r.targets = {{"ratio", 0.85, "≥ 0.85 × baseline"}};
  r.note = "baseline: one transaction per shard, shards one after another";
  const std::string e = ctx.cluster.E("put");
  const size_t bs = ctx.scale.batch_size;
  BaselineTable base(ctx.baseline, e);
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t batches = round < 0 ? 2 : ctx.scale.batches;
    const size_t n = batches * bs;
    WriteSet data(2000 + static_cast<uint64_t>(round + 1), n, n / 10 + 1);
    std::vector<std::vector<libshard::PutItem>> items(batches);
    std::vector<std::vector<std::string>> base_ids(batches);
    std::vector<std::vector<const Document*>> base_docs(batches);
    for (size_t i = 0; i < n; ++i) {
      if (a) {
        items[i / bs].push_back({data.ids[i], data.docs[i], {}});
      } else {
        base_ids[i / bs].push_back(data.ids[i]);
        base_docs[i / bs].push_back(&data.docs[i]);
      }
    }
    ctx.cluster.Clear(e);
    if (a) {
      return TimeOps(
          batches,
          [&](size_t b) {
            auto v = ctx.store().PutMany(e, items[b]);
            if (!v.ok()) Fail("PutMany: " + v.status().ToString());
          },
          static_cast<double>(bs));
    }
    return TimeOps(
        batches, [&](size_t b) { base.PutBatch(base_ids[b], base_docs[b]); },
        static_cast<double>(bs));
  });
  return r;
}

WorkloadResult RunGetMany(Context& ctx) {
  WorkloadResult r;
  r.unit = "records/s";
  r.a_label = "get_many(100)";
  r.b_label = "100 × get";
  r.lat_unit = "call of " + std::to_string(ctx.scale.get_many_size) + " ids";
  r.targets = {{"ratio", 2.0, "≥ 2 × sequential gets"}};
  r.note = "libshard vs libshard";
  const std::string e = ctx.cluster.E("get");
  const std::vector<Id>& ids = ReadSet(ctx);
  const size_t k = ctx.scale.get_many_size;
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t calls = Count(round, ctx.scale.get_many_calls);
    std::vector<size_t> picks = Picks(round, calls * k, ids.size());
    std::vector<std::vector<Id>> sets(calls);
    for (size_t c = 0; c < calls; ++c) {
      for (size_t j = 0; j < k; ++j) sets[c].push_back(ids[picks[c * k + j]]);
    }
    if (a) {
      return TimeOps(
          calls,
          [&](size_t c) {
            auto recs = ctx.store().GetMany(e, sets[c]);
            if (!recs.ok()) Fail("GetMany: " + recs.status().ToString());
            if (recs->size() != k) Fail("GetMany: missing records");
            g_sink += recs->size();
          },
          static_cast<double>(k));
    }
    return TimeOps(
        calls,
        [&](size_t c) {
          for (const Id& id : sets[c]) {
            auto rec = ctx.store().Get(e, id);
            if (!rec.ok()) Fail("Get: " + rec.status().ToString());
            g_sink += rec->version;
          }
        },
        static_cast<double>(k));
  });
  return r;
}

WorkloadResult RunScan(Context& ctx) {
  WorkloadResult r;
  r.unit = "records/s";
  r.lat_unit = "full scan";
  r.note = "baseline: keyset chunks of 1000 per shard, shards one after another";
  const std::string e = ctx.cluster.E("get");
  const std::vector<Id>& ids = ReadSet(ctx);
  BaselineTable base(ctx.baseline, e);
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
          size_t n = base.Scan(chunk, [&](BRecord&& rec) { g_sink += rec.version; });
          if (n != ids.size()) Fail("baseline scan: wrong record count");
        },
        static_cast<double>(ids.size()));
  });
  return r;
}

}  // namespace bench
