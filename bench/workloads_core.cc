// Core workloads (SQLite and PostgreSQL): point get, put, batched put,
// get_many vs sequential gets, scan. put_batch and scan report two rows:
// against the sequential hand-written code and against the same code with
// one thread per shard (libshard's own parallelism).
#include <algorithm>
#include <mutex>

#include "bench/baseline_parallel.h"

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
  r.compares = compares::kSoci;
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
  r.compares = compares::kSoci;
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

void PutBatchRounds(Context& ctx, WorkloadResult* r, const std::string& e,
                    const BaseBatch& base_batch) {
  const size_t bs = ctx.scale.batch_size;
  r->unit = "records/s";
  r->lat_unit = "batch of " + std::to_string(bs);
  RunPaired(r, ctx.scale.rounds, [&](bool a, int round) {
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
        batches, [&](size_t b) { base_batch(base_ids[b], base_docs[b]); },
        static_cast<double>(bs));
  });
}

WorkloadResult RunPutBatch(Context& ctx) {
  const std::string e = ctx.cluster.E("put");
  WorkloadResult r;
  r.compares = compares::kSoci;
  r.targets = {{"ratio", 0.85, "≥ 0.85 × baseline"}};
  r.note = "baseline: per shard one transaction (lock + insert each), shards one after "
           "another";
  BaselineTable base(ctx.baseline, e);
  PutBatchRounds(ctx, &r, e, [&](const auto& ids, const auto& docs) { base.PutBatch(ids, docs); });

  WorkloadResult par;
  par.id = "put_batch_par";
  par.compares = compares::kSociParallel;
  par.b_label = "baseline, thread per shard";
  par.targets = {{"ratio", 0.85, "≥ 0.85 × same-parallelism baseline"}};
  par.note = "baseline: the same per-shard transactions, one thread per shard at once (each "
             "with its own connection; bodies encoded on the shard's thread)";
  ShardWorkers workers(ctx.cluster.config(), e);
  PutBatchRounds(ctx, &par, e, [&](const auto& ids, const auto& docs) {
    std::vector<std::vector<ShardItem>> parts = base.Split(ids, docs);
    const int64_t now = NowMicros();
    workers.Run([&](size_t shard, RecordStatements& st) { st.PutBatch(parts[shard], now); });
  });
  r.more.push_back(std::move(par));
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
  r.compares = compares::kSelf;
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

namespace {

// One scan comparison: Store::Scan of the read set against `base_scan`,
// which visits every record by hand and returns the count.
void ScanRounds(Context& ctx, WorkloadResult* r,
                const std::function<size_t(const std::function<void(BRecord&&)>&)>& base_scan) {
  r->unit = "records/s";
  r->lat_unit = "full scan";
  const std::string e = ctx.cluster.E("get");
  const std::vector<Id>& ids = ReadSet(ctx);
  RunPaired(r, ctx.scale.rounds, [&](bool a, int round) {
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
          size_t n = base_scan([&](BRecord&& rec) { g_sink += rec.version; });
          if (n != ids.size()) Fail("baseline scan: wrong record count");
        },
        static_cast<double>(ids.size()));
  });
}

}  // namespace

WorkloadResult RunScan(Context& ctx) {
  const std::string e = ctx.cluster.E("get");
  const int chunk = 1000;  // libshard's Options::scan_chunk default
  WorkloadResult r;
  r.compares = compares::kSoci;
  r.note = "baseline: keyset chunks of 1000 per shard, each row decoded and visited as it is "
           "fetched (streaming), shards one after another";
  BaselineTable base(ctx.baseline, e);
  ScanRounds(ctx, &r, [&](const auto& visit) { return base.Scan(chunk, visit); });

  WorkloadResult par;
  par.id = "scan_par";
  par.compares = compares::kSociParallel;
  par.b_label = "baseline, thread per shard";
  par.note = "baseline: the same streaming keyset scan, one thread per shard at once (own "
             "connections), rows decoded on the shard's thread and visited under a mutex — "
             "as Store::Scan does";
  ShardWorkers workers(ctx.cluster.config(), e);
  ScanRounds(ctx, &par, [&](const auto& visit) {
    std::mutex mu;
    std::vector<size_t> counts(workers.size());
    workers.Run([&](size_t shard, RecordStatements& st) {
      counts[shard] = st.Scan(chunk, [&](BRecord&& rec) {
        std::lock_guard<std::mutex> lock(mu);
        visit(std::move(rec));
      });
    });
    size_t total = 0;
    for (size_t c : counts) total += c;
    return total;
  });
  r.more.push_back(std::move(par));
  return r;
}

}  // namespace bench
