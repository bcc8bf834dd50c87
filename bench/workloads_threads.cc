// 1 vs 2 writer threads on the 4 SQLite shards. Four runs per round —
// libshard with 1 and 2 threads, the hand-written baseline with 1 and 2
// threads — in an order that alternates per round, on the same data; three
// rows: libshard 2 vs 1 thread (the target), the baseline's own 2 vs 1,
// and libshard vs the baseline at 2 threads. The baseline has the same
// busy handling as libshard (a polling busy handler, baseline.cc), one
// connection set per thread made once and reused by every round, and an
// untimed warm-up like every side.
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
  CallgrindBegin();
  const double cpu0 = ProcessCpuSeconds();
  Clock::time_point start = Clock::now();
  go.store(true);
  for (std::thread& th : pool) th.join();
  Measure m;
  m.seconds = Seconds(start, Clock::now());
  m.cpu_seconds = ProcessCpuSeconds() - cpu0;
  m.ops = static_cast<double>(n);
  CallgrindEnd(m.ops);
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
  const std::string e = ctx.cluster.E("wt");
  const libshard::ClusterConfig& config = ctx.cluster.config();
  // The baseline's connections and statements: one set per thread, made
  // once here and reused by every round (a service does not reconnect).
  Baseline conn0(config), conn1(config);
  BaselineTable table0(conn0, e), table1(conn1, e);
  BaselineTable* tables[2] = {&table0, &table1};

  enum Side { kLib1, kLib2, kBase1, kBase2 };
  const char* kNames[] = {"libshard 1 thread", "libshard 2 threads", "baseline 1 thread",
                          "baseline 2 threads"};
  auto run = [&](Side side, int round, const WriteSet& data) {
    CallgrindSide(std::string("writers ") + kNames[side] +
                  (round < 0 ? " warm-up" : " round " + std::to_string(round)));
    ctx.cluster.Clear(e);
    const bool lib = side == kLib1 || side == kLib2;
    const int threads = side == kLib2 || side == kBase2 ? 2 : 1;
    return RunThreads(threads, data.ids.size(), [&](int t) -> std::function<void(size_t)> {
      if (lib) {
        return [&](size_t i) {
          auto v = ctx.store().Put(e, data.ids[i], data.docs[i]);
          if (!v.ok()) Fail("Put: " + v.status().ToString());
        };
      }
      BaselineTable* table = tables[t];
      return [&data, table](size_t i) { table->Put(data.ids[i], data.docs[i]); };
    });
  };

  WorkloadResult r;  // libshard 2 threads vs 1 thread
  r.compares = compares::kSelf;
  r.unit = "puts/s";
  r.a_label = "2 threads";
  r.b_label = "1 thread";
  r.targets = {{"ratio", 1.5, "2 threads ≥ 1.5 × 1 thread"}};
  r.note = "libshard Put of new records; cores_used = process CPU / wall (how many cores the "
           "run got)";
  WorkloadResult base;  // the baseline's own scaling
  base.id = "writers_baseline";
  base.compares = compares::kSoci;
  base.unit = "puts/s";
  base.a_label = "baseline, 2 threads";
  base.b_label = "baseline, 1 thread";
  base.note = "the hand-written code's own 2 vs 1 thread scaling (A is the baseline here, "
              "not libshard): what the shards and cores allow";
  WorkloadResult vs;  // libshard vs the baseline, both with 2 threads
  vs.id = "writers_2t";
  vs.compares = compares::kSoci;
  vs.unit = "puts/s";
  vs.a_label = "libshard, 2 threads";
  vs.b_label = "baseline, 2 threads";
  vs.note = "both sides 2 writer threads, same busy handling";

  {  // untimed warm-up of every side
    WriteSet warm(5000, Count(-1, ctx.scale.writer_ops));
    for (Side side : {kLib1, kLib2, kBase1, kBase2}) run(side, -1, warm);
  }
  for (int round = 0; round < ctx.scale.rounds; ++round) {
    WriteSet data(5001 + static_cast<uint64_t>(round), ctx.scale.writer_ops);
    // Even rounds 1 thread first, odd rounds 2 threads first; libshard and
    // the baseline swap places too.
    std::vector<Side> order = {kLib1, kLib2, kBase1, kBase2};
    if (round % 2) order = {kBase2, kBase1, kLib2, kLib1};
    Measure m[4];
    for (Side side : order) m[side] = run(side, round, data);
    r.Add(round, m[kLib2], m[kLib1]);
    base.Add(round, m[kBase2], m[kBase1]);
    vs.Add(round, m[kLib2], m[kBase2]);
    // Cores the process actually got: tells "cannot scale" (other load,
    // waiting on locks/fsync) from "does not scale".
    auto cores = [](const Measure& x) { return x.seconds > 0 ? x.cpu_seconds / x.seconds : 0; };
    r.metrics["cores_used_1t"].push_back(cores(m[kLib1]));
    r.metrics["cores_used_2t"].push_back(cores(m[kLib2]));
    base.metrics["cores_used_1t"].push_back(cores(m[kBase1]));
    base.metrics["cores_used_2t"].push_back(cores(m[kBase2]));
  }
  r.metrics["baseline_2v1"] = base.ratio;
  r.more.push_back(std::move(base));
  r.more.push_back(std::move(vs));
  return r;
}

}  // namespace bench
