// 1 vs 2 writer threads on the 4 SQLite shards (libshard vs libshard); the
// baseline's own 1 vs 2 thread scaling is measured alongside for context.
#include <atomic>
#include <thread>

#include "bench/data.h"
#include "bench/workloads.h"

namespace bench {
namespace {

using libshard::Document;
using libshard::Id;

// Runs ops 0..n-1 on `threads` threads (thread t takes i ≡ t mod threads).
// make_worker(t) runs on thread t before the start signal (connections,
// statements) and returns the per-op function.
Measure RunThreads(int threads, size_t n,
                   const std::function<std::function<void(size_t)>(int)>& make_worker) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::vector<double>> lat(static_cast<size_t>(threads));
  std::vector<std::string> errors(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::function<void(size_t)> op;
      try {
        op = make_worker(t);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(t)] = e.what();
      }
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      if (!op) return;
      auto& l = lat[static_cast<size_t>(t)];
      l.reserve(n / static_cast<size_t>(threads) + 1);
      try {
        Clock::time_point prev = Clock::now();
        for (size_t i = static_cast<size_t>(t); i < n; i += static_cast<size_t>(threads)) {
          op(i);
          Clock::time_point now = Clock::now();
          l.push_back(std::chrono::duration<double, std::micro>(now - prev).count());
          prev = now;
        }
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(t)] = e.what();
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const double cpu0 = ProcessCpuSeconds();
  Clock::time_point start = Clock::now();
  go.store(true);
  for (std::thread& th : pool) th.join();
  Measure m;
  m.seconds = Seconds(start, Clock::now());
  m.cpu_seconds = ProcessCpuSeconds() - cpu0;
  m.ops = static_cast<double>(n);
  for (auto& l : lat) m.lat_us.insert(m.lat_us.end(), l.begin(), l.end());
  for (const std::string& e : errors) {
    if (!e.empty()) Fail("writer thread: " + e);
  }
  return m;
}

struct WriteSet {
  std::vector<Id> ids;
  std::vector<Document> docs;
  WriteSet(uint64_t stream, size_t n) : ids(MakeIds(stream, n)) {
    docs.reserve(n);
    for (size_t i = 0; i < n; ++i) docs.push_back(MakeDoc(i, n / 10 + 1));
  }
};

}  // namespace

WorkloadResult RunWriters(Context& ctx) {
  WorkloadResult r;
  r.unit = "puts/s";
  r.a_label = "2 threads";
  r.b_label = "1 thread";
  r.targets = {{"ratio", 1.5, "2 threads ≥ 1.5 × 1 thread"}};
  r.note = "libshard Put of new records; baseline_2v1 = the hand-written code's own scaling";
  const std::string e = ctx.cluster.E("wt");
  const libshard::ClusterConfig& config = ctx.cluster.config();
  RunPaired(&r, ctx.scale.rounds, [&](bool a, int round) {
    const size_t n = Count(round, ctx.scale.writer_ops);
    WriteSet data(5000 + static_cast<uint64_t>(round + 1), n);
    ctx.cluster.Clear(e);
    Measure m = RunThreads(a ? 2 : 1, n, [&](int) -> std::function<void(size_t)> {
      return [&](size_t i) {
        auto v = ctx.store().Put(e, data.ids[i], data.docs[i]);
        if (!v.ok()) Fail("Put: " + v.status().ToString());
      };
    });
    // Cores the process actually got: tells "cannot scale" (other load,
    // waiting on locks/fsync) from "does not scale".
    if (round >= 0) {
      r.metrics[a ? "cores_used_2t" : "cores_used_1t"].push_back(m.cpu_seconds / m.seconds);
    }
    return m;
  });
  // The same measurement for the baseline (one Baseline per thread).
  for (int round = 0; round < ctx.scale.rounds; ++round) {
    double tput[2] = {0, 0};
    for (int threads : {1, 2}) {
      const size_t n = ctx.scale.writer_ops;
      WriteSet data(6000 + static_cast<uint64_t>(round + 1), n);
      ctx.cluster.Clear(e);
      std::vector<std::unique_ptr<Baseline>> conns(2);
      std::vector<std::unique_ptr<BaselineTable>> tables(2);
      Measure m = RunThreads(threads, n, [&](int t) -> std::function<void(size_t)> {
        conns[static_cast<size_t>(t)] = std::make_unique<Baseline>(config);
        tables[static_cast<size_t>(t)] =
            std::make_unique<BaselineTable>(*conns[static_cast<size_t>(t)], e);
        BaselineTable* table = tables[static_cast<size_t>(t)].get();
        return [&data, table](size_t i) { table->Put(data.ids[i], data.docs[i]); };
      });
      tput[threads - 1] = m.Throughput();
      r.metrics[threads == 2 ? "baseline_cores_used_2t" : "baseline_cores_used_1t"].push_back(
          m.cpu_seconds / m.seconds);
      tables.clear();  // statements before their sessions
    }
    r.metrics["baseline_2v1"].push_back(tput[0] > 0 ? tput[1] / tput[0] : 0);
  }
  return r;
}

}  // namespace bench
