// Index workloads (SQLite): put with one index on a separate database,
// equality and range queries.
#include "bench/data.h"
#include "bench/workloads.h"

namespace bench {
namespace {

using libshard::Condition;
using libshard::Document;
using libshard::Id;
using libshard::Op;

constexpr uint64_t kQueryStream = 7;
uint64_t g_sink = 0;

// Records of the query data set: `eq_hits` records per city value,
// `created` strictly increasing with the record number.
size_t QueryCities(const Scale& s) { return std::max<size_t>(1, s.query_records / s.eq_hits); }

void LoadQuerySet(Context& ctx) {
  Preload(ctx, ctx.cluster.E("qry"), kQueryStream, ctx.scale.query_records,
          QueryCities(ctx.scale));
}

// Runs one libshard query; a failing call means the query engine is not
// usable (yet): the workload is skipped with the reason.
size_t LibQuery(Context& ctx, const std::string& entity, const libshard::Query& q) {
  auto page = ctx.store().Query(entity, q);
  if (!page.ok()) throw Skip("skipped: Store::Query failed: " + page.status().ToString());
  g_sink += page->records.size();
  return page->records.size();
}

}  // namespace

WorkloadResult RunPutIndex(Context& ctx) {
  WorkloadResult r;
  r.compares = compares::kSoci;
  r.targets = {{"ratio", 0.80, "≥ 0.80 × its baseline"}};
  r.note = "index by_city on idx0; baseline: lock row + INSERT index row + INSERT record + COMMIT";
  const std::string e = ctx.cluster.E("pidx");
  BaselineIndexedTable base(ctx.baseline, e, "by_city", "city", "city", "idx0");
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t n = Count(round, ctx.scale.put_index_ops);
    std::vector<Id> ids = MakeIds(3000 + static_cast<uint64_t>(round + 1), n);
    std::vector<Document> docs;
    docs.reserve(n);
    for (size_t i = 0; i < n; ++i) docs.push_back(MakeDoc(i, n / 10 + 1));
    ctx.cluster.Clear(e);
    if (a) {
      return TimeOps(n, [&](size_t i) {
        auto v = ctx.store().Put(e, ids[i], docs[i]);
        if (!v.ok()) Fail("Put (indexed): " + v.status().ToString());
      });
    }
    return TimeOps(n, [&](size_t i) { base.Put(ids[i], docs[i]); });
  });
  return r;
}

WorkloadResult RunQueryEq(Context& ctx) {
  WorkloadResult r;
  r.compares = compares::kSoci;
  r.targets = {{"ratio", 0.90, "≥ 0.90 × the re-checking baseline", false, true}};
  r.note = "WHERE city = v, limit 100, ~" +
           std::to_string(ctx.scale.eq_hits) +
           " hits; baseline: SELECT ids from the index, fetch per shard (IN), decode, re-check "
           "each hit (the record's city = v)";
  const std::string e = ctx.cluster.E("qry");
  const std::string table = "ls_idx_" + e + "_by_city";
  LoadQuerySet(ctx);
  const size_t cities = QueryCities(ctx.scale);
  BaselineTable records(ctx.baseline, e);
  BaselineQuery base(ctx.baseline, records, "idx0");
  // Both sides must find the same records.
  for (size_t c = 0; c < 3; ++c) {
    libshard::Query q;
    q.index = "by_city";
    q.where = {Condition{"city", Op::kEq, {Document(CityName(c))}}};
    size_t lib = LibQuery(ctx, e, q);
    std::vector<BRecord> out;
    base.Equal(table, "city", "city", CityName(c), 100, &out);
    if (lib != out.size() || lib != ctx.scale.eq_hits) {
      Fail("query_eq: libshard found " + std::to_string(lib) + " records, baseline " +
           std::to_string(out.size()) + ", expected " + std::to_string(ctx.scale.eq_hits));
    }
  }
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t n = Count(round, ctx.scale.eq_queries);
    Rng rng(0xe0 + static_cast<uint64_t>(round + 1));
    std::vector<std::string> values(n);
    for (std::string& v : values) v = CityName(rng.Below(cities));
    if (a) {
      std::vector<libshard::Query> qs(n);
      for (size_t i = 0; i < n; ++i) {
        qs[i].index = "by_city";
        qs[i].where = {Condition{"city", Op::kEq, {Document(values[i])}}};
      }
      return TimeOps(n, [&](size_t i) { LibQuery(ctx, e, qs[i]); });
    }
    std::vector<BRecord> out;
    return TimeOps(n, [&](size_t i) {
      base.Equal(table, "city", "city", values[i], 100, &out);
      g_sink += out.size();
    });
  });
  return r;
}

WorkloadResult RunQueryRange(Context& ctx) {
  WorkloadResult r;
  r.compares = compares::kSoci;
  const size_t hits = ctx.scale.range_hits;
  r.note = "WHERE created >= lo AND created < hi, " + std::to_string(hits) +
           " hits; baseline: SELECT ids from the index, "
           "fetch per shard (IN), decode, re-check each hit (lo <= the record's created < hi)";
  const std::string e = ctx.cluster.E("qry");
  const std::string table = "ls_idx_" + e + "_by_created";
  LoadQuerySet(ctx);
  BaselineTable records(ctx.baseline, e);
  BaselineQuery base(ctx.baseline, records, "idx0");
  auto bounds = [&](size_t start) {
    int64_t lo = kCreatedBase + static_cast<int64_t>(start) * kCreatedStep;
    return std::pair<int64_t, int64_t>(lo, lo + static_cast<int64_t>(hits) * kCreatedStep);
  };
  auto make_query = [&](size_t start) {
    auto [lo, hi] = bounds(start);
    libshard::Query q;
    q.index = "by_created";
    q.limit = static_cast<int>(hits);
    q.where = {Condition{"created", Op::kGe, {Document(lo)}},
               Condition{"created", Op::kLt, {Document(hi)}}};
    return q;
  };
  {
    size_t lib = LibQuery(ctx, e, make_query(5));
    std::vector<BRecord> out;
    auto [lo, hi] = bounds(5);
    base.Range(table, "created", "created", lo, hi, static_cast<int>(hits), &out);
    if (lib != out.size() || lib != hits) {
      Fail("query_range: libshard found " + std::to_string(lib) + " records, baseline " +
           std::to_string(out.size()) + ", expected " + std::to_string(hits));
    }
  }
  const size_t span = ctx.scale.query_records - hits;
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t n = Count(round, ctx.scale.range_queries);
    Rng rng(0xf0 + static_cast<uint64_t>(round + 1));
    std::vector<size_t> starts(n);
    for (size_t& s : starts) s = rng.Below(span);
    if (a) {
      std::vector<libshard::Query> qs;
      qs.reserve(n);
      for (size_t s : starts) qs.push_back(make_query(s));
      return TimeOps(n, [&](size_t i) { LibQuery(ctx, e, qs[i]); }, static_cast<double>(1));
    }
    std::vector<BRecord> out;
    return TimeOps(n, [&](size_t i) {
      auto [lo, hi] = bounds(starts[i]);
      base.Range(table, "created", "created", lo, hi, static_cast<int>(hits), &out);
      g_sink += out.size();
    });
  });
  return r;
}

}  // namespace bench
