// Online index build (SQLite): backfill rate, and foreground put throughput
// while Store::BuildIndex runs as a fraction of put throughput without a
// build.
//
// Per round, two fresh entities of `build_records` records each (their
// index by_city is in the store's config but unknown to the catalog until
// BuildIndex registers it):
//  1. bld<r>: BuildIndex alone. Backfill rate = records scanned between the
//     first and the last progress callback / the time between them (this
//     leaves out the lease wait of ~3.5 s that precedes the backfill, and
//     the first chunk).
//     backfill_cpu_us_per_record: the builder thread's CPU time (user +
//     system, getrusage RUSAGE_THREAD) over the same window, per record —
//     unlike the rate, robust to other processes taking the cores.
//  2. bldw<r>: a writer thread puts new records continuously: for
//     build_phase_seconds before the build, during it, and for
//     build_phase_seconds after it. "During" counts the puts completed in
//     the backfill window (first..last progress callback); "without" is the
//     rate after the build, when every put maintains the (now ready) index
//     exactly as during the build — so the ratio isolates the build's cost.
//     The rate before the build (no index at all) is reported as
//     puts_before_rps for context.
#include <sys/resource.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "bench/data.h"
#include "bench/stats.h"
#include "bench/workloads.h"

namespace bench {
namespace {

using libshard::Document;
using libshard::Id;

// CPU time of the calling thread (the backfill runs on it), in seconds.
double ThreadCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct BuildRun {
  double backfill_rps = 0;
  double cpu_us_per_record = 0;  // the builder thread's CPU (user + system)
  Clock::time_point first, last;  // first and last progress callback
  uint64_t scanned = 0;
};

BuildRun Build(Context& ctx, const std::string& entity, int chunk, double duty) {
  struct Tick {
    Clock::time_point t;
    uint64_t scanned;
    double cpu;
  };
  std::vector<Tick> ticks;
  libshard::BuildOptions options;
  options.chunk = chunk;
  options.duty = duty;
  options.progress = [&](const libshard::IndexStatus& st) {
    ticks.push_back({Clock::now(), st.records_scanned, ThreadCpuSeconds()});
  };
  libshard::Status s = ctx.store().BuildIndex(entity, "by_city", options);
  if (!s.ok()) throw Skip("skipped: Store::BuildIndex failed: " + s.ToString());
  if (ticks.size() < 2) Fail("BuildIndex reported fewer than 2 progress callbacks");
  BuildRun run;
  run.first = ticks.front().t;
  run.last = ticks.back().t;
  run.scanned = ticks.back().scanned;
  double secs = Seconds(run.first, run.last);
  run.backfill_rps =
      secs > 0 ? static_cast<double>(ticks.back().scanned - ticks.front().scanned) / secs : 0;
  const uint64_t records = ticks.back().scanned - ticks.front().scanned;
  run.cpu_us_per_record =
      records > 0 ? (ticks.back().cpu - ticks.front().cpu) * 1e6 / static_cast<double>(records) : 0;
  return run;
}

// Checks the freshly built index answers a query (10 records per city).
void CheckBuilt(Context& ctx, const std::string& entity, size_t expect) {
  libshard::Query q;
  q.index = "by_city";
  q.where = {libshard::Condition{"city", libshard::Op::kEq, {Document(CityName(3))}}};
  auto page = ctx.store().Query(entity, q);
  if (!page.ok()) throw Skip("skipped: Store::Query after BuildIndex failed: " +
                             page.status().ToString());
  if (page->records.size() != expect) {
    Fail("index built on " + entity + " finds " + std::to_string(page->records.size()) +
         " records for one city, expected " + std::to_string(expect));
  }
}

}  // namespace

WorkloadResult RunIndexBuild(Context& ctx) {
  WorkloadResult r;
  r.compares = compares::kSelf;
  r.unit = "puts/s";
  r.a_label = "puts during build";
  r.b_label = "puts without build";
  r.targets = {{"backfill_rps", 100000, "backfill ≥ 100,000 records/s"},
               {"ratio", 0.60, "puts during a build ≥ 0.6 × without"}};
  r.note = std::to_string(ctx.scale.build_records) + " records, chunk " +
           std::to_string(ctx.scale.build_chunk) +
           "; backfill_rps: the build alone at --duty 1 (flat out, as in a maintenance "
           "window); puts during the build: default pacing (duty " +
           std::to_string(libshard::BuildOptions{}.duty).substr(0, 4) +
           "); 'without' = puts after the build (index maintained, no backfill)";
  const size_t n = ctx.scale.build_records;
  const size_t cities = std::max<size_t>(1, n / 10);
  const int rounds = ctx.scale.build_rounds;
  const auto phase = std::chrono::duration<double>(ctx.scale.build_phase_seconds);

  std::vector<Document> pool;
  for (size_t i = 0; i < 1000; ++i) pool.push_back(MakeDoc(n + i, cities));

  for (int round = 0; round < rounds; ++round) {
    // 1. The build alone.
    const std::string plain = ctx.cluster.E("bld" + std::to_string(round));
    Preload(ctx, plain, 50 + static_cast<uint64_t>(round), n, cities);
    BuildRun alone = Build(ctx, plain, ctx.scale.build_chunk, 1.0);
    r.metrics["backfill_rps"].push_back(alone.backfill_rps);
    r.metrics["backfill_cpu_us_per_record"].push_back(alone.cpu_us_per_record);
    CheckBuilt(ctx, plain, n / cities);

    // 2. The build with a writer.
    const std::string busy = ctx.cluster.E("bldw" + std::to_string(round));
    Preload(ctx, busy, 60 + static_cast<uint64_t>(round), n, cities);
    struct Put {
      Clock::time_point done;
      double lat_us;
    };
    std::vector<Put> puts;
    puts.reserve(1 << 20);
    std::atomic<bool> stop{false};
    std::string error;
    const Clock::time_point t0 = Clock::now();
    std::thread writer([&] {
      try {
        Clock::time_point prev = Clock::now();
        for (uint64_t i = 0; !stop.load(); ++i) {
          auto v = ctx.store().Put(busy, MakeId(900 + static_cast<uint64_t>(round), i),
                                   pool[i % pool.size()]);
          if (!v.ok()) Fail("Put during build: " + v.status().ToString());
          Clock::time_point now = Clock::now();
          puts.push_back({now, std::chrono::duration<double, std::micro>(now - prev).count()});
          prev = now;
        }
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    std::this_thread::sleep_for(phase);
    const Clock::time_point build_start = Clock::now();
    BuildRun during;
    try {
      during = Build(ctx, busy, ctx.scale.build_chunk, libshard::BuildOptions{}.duty);
    } catch (...) {
      stop.store(true);
      writer.join();
      throw;
    }
    const Clock::time_point build_end = Clock::now();
    std::this_thread::sleep_for(phase);
    stop.store(true);
    writer.join();
    const Clock::time_point t_end = Clock::now();
    if (!error.empty()) Fail(error);

    Measure in_build, after;
    size_t before = 0;
    for (const Put& p : puts) {
      if (p.done < build_start) {
        ++before;
      } else if (p.done >= during.first && p.done <= during.last) {
        in_build.lat_us.push_back(p.lat_us);
      } else if (p.done > build_end) {
        after.lat_us.push_back(p.lat_us);
      }
    }
    in_build.ops = static_cast<double>(in_build.lat_us.size());
    in_build.seconds = Seconds(during.first, during.last);
    after.ops = static_cast<double>(after.lat_us.size());
    after.seconds = Seconds(build_end, t_end);
    r.Add(round, in_build, after);
    r.metrics["backfill_rps_with_writer"].push_back(during.backfill_rps);
    const double before_rps = static_cast<double>(before) / Seconds(t0, build_start);
    r.metrics["puts_before_rps"].push_back(before_rps);
    r.metrics["build_window_s"].push_back(in_build.seconds);
  }
  return r;
}

}  // namespace bench
