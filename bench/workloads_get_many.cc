// get_many_in (SQLite and PostgreSQL): Store::GetMany against the
// hand-written multi-get — per shard one prepared SELECT … WHERE id IN (…)
// of exactly the ids routed there, decoded and put back in request order
// (what GetMany returns). The get_many row (workloads_core.cc) compares
// GetMany with libshard's own sequential gets instead.
#include "bench/data.h"
#include "bench/workloads.h"

#include <unordered_map>

namespace bench {
namespace {

using libshard::Id;

constexpr uint64_t kReadStream = 1;  // the read data set of get / get_many / scan
uint64_t g_sink = 0;

}  // namespace

WorkloadResult RunGetManyIn(Context& ctx) {
  WorkloadResult r;
  r.unit = "records/s";
  r.a_label = "get_many(100)";
  r.b_label = "IN per shard";
  r.lat_unit = "call of " + std::to_string(ctx.scale.get_many_size) + " ids";
  // The target is CPU per record: on 4 shards GetMany's thread-pool
  // fan-out wins wall time the one-thread baseline cannot.
  r.targets = {{"cpu_ratio", 1.0, "CPU per record ≤ the hand-written IN's", false, true}};
  r.compares = compares::kSoci;
  r.note = "baseline: per shard one SELECT … WHERE id "
           "IN (exactly its ids), shards one after another, decode, request order (no ownership "
           "join: the baseline has no bucket moves)";
  const std::string e = ctx.cluster.E("get");
  Preload(ctx, e, kReadStream, ctx.scale.read_records, ctx.scale.read_records / 10);
  const std::vector<Id> ids = MakeIds(kReadStream, ctx.scale.read_records);
  const size_t k = ctx.scale.get_many_size;
  BaselineTable base(ctx.baseline, e);
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t calls = Count(round, ctx.scale.get_many_calls);
    Rng rng(0x61e + static_cast<uint64_t>(round + 1) * 7777);
    std::vector<std::vector<Id>> sets(calls);
    for (std::vector<Id>& set : sets) {
      for (size_t j = 0; j < k; ++j) set.push_back(ids[rng.Below(ids.size())]);
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
    std::vector<BRecord> rows, out;
    std::vector<BRecord*> pick;
    return TimeOps(
        calls,
        [&](size_t c) {
          const std::vector<Id>& set = sets[c];
          rows.clear();
          rows.reserve(set.size());
          base.FetchMany(set, &rows);
          // Back into request order: all lookups first (the keys point into
          // `rows`), then each record moved out, copied for a repeated id.
          std::unordered_map<std::string_view, BRecord*> by_id;
          for (BRecord& rec : rows) by_id.emplace(rec.id, &rec);
          pick.assign(set.size(), nullptr);
          for (size_t i = 0; i < set.size(); ++i) {
            auto f = by_id.find(set[i]);
            if (f != by_id.end()) pick[i] = f->second;
          }
          out.clear();
          out.reserve(set.size());
          std::unordered_map<const BRecord*, size_t> placed;
          for (BRecord* p : pick) {
            if (p == nullptr) continue;
            auto [at, first] = placed.emplace(p, out.size());
            if (first) {
              out.push_back(std::move(*p));
            } else {
              out.push_back(out[at->second]);
            }
          }
          if (out.size() != k) Fail("baseline FetchMany: missing records");
          g_sink += out.size();
        },
        static_cast<double>(k));
  });
  return r;
}

}  // namespace bench
