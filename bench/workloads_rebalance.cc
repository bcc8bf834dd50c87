// Online resharding under load: Store::Rebalance from 4 to 6 record shards
// while one foreground writer thread keeps putting at a steady, paced rate
// into random existing records. libshard against itself: the same writer,
// same Store, same cluster, without a rebalance (the phase just before it).
//
// Per round, on a fresh cluster of its own (SQLite: a new temp directory;
// PostgreSQL: 7 new databases, dropped again at the end, since moves would
// disturb the shared ls_* databases other workloads and tests use):
//  1. The config declares 6 shard databases; `shards:` lists s0..s3. Init,
//     then `rebalance_records` records are loaded (PutMany of 1000).
//  2. Init with `shards:` s0..s5 (the new shards get tables, own nothing).
//     Two Stores are opened with the 6-shard config: the foreground one
//     (the writer's) and the operator's, which runs Rebalance — so the
//     writer learns every move through the shards' refusals and redirects,
//     as a separate service process would.
//  3. The writer runs unpaced for a moment: its rate here is its capacity
//     on this machine, now. It is then paced at `rebalance_pace` (0.5) of
//     that (an open-loop schedule: a put starts at its scheduled time, or at
//     once when behind), `rebalance_phase_seconds` without a rebalance, then
//     during Rebalance 4 -> 6 (1024 buckets: ~341 moves).
//
// Reported: copy rate (RebalanceReport::records_copied / wall time of
// Rebalance); the write pause on a moving bucket: Put latency of the puts
// whose bucket was between its "switch" and "cleanup" progress events
// (the switch transaction holds the bucket's ownership row; then the target
// takes over and the catalog map switches) — the fence a writer waits on;
// puts/s during the rebalance / puts/s without it; failed puts. Each move's
// time split from the progress events (copy, switch to catalog, cleanup).
// Checked after each round (a failure is a library bug): the plan finished
// with no failed move, every shard owns its share, the record count is
// unchanged, and the versions add up (sum of versions = records + puts that
// succeeded: no put was lost or applied twice).
#include <pthread.h>
#include <soci/soci.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "bench/data.h"
#include "bench/stats.h"
#include "bench/workloads.h"

namespace bench {
namespace {

using libshard::Backend;
using libshard::ClusterConfig;
using libshard::DatabaseConfig;
using libshard::Document;
using libshard::EntityConfig;
using libshard::Id;

constexpr const char* kEntity = "rb";
constexpr int kOldShards = 4, kNewShards = 6;
constexpr uint64_t kStream = 7100;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double CpuClockSeconds(clockid_t clock) {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
// CPU time of the calling thread.
double ThreadCpuSeconds() { return CpuClockSeconds(CLOCK_THREAD_CPUTIME_ID); }

std::string PgUrl(const std::string& dbname) {
  const char* port = std::getenv("LIBSHARD_PG_PORT");
  const char* user = std::getenv("PGUSER");
  return std::string("postgresql://host=127.0.0.1 port=") + (port ? port : "") +
         " dbname=" + dbname + (user && *user ? std::string(" user=") + user : "");
}

// One round's cluster: catalog + s0..s5, created fresh, removed at the end.
class RoundCluster {
 public:
  RoundCluster(const std::string& backend, uint32_t buckets, int round) : backend_(backend) {
    std::vector<std::string> names = {"catalog"};
    for (int i = 0; i < kNewShards; ++i) names.push_back("s" + std::to_string(i));
    if (backend == "sqlite") {
      const char* base = std::getenv("TMPDIR");
      std::string templ = std::string(base && *base ? base : "/tmp") + "/shard-bench-rb-XXXXXX";
      if (mkdtemp(templ.data()) == nullptr) throw BenchError("cannot create a temp directory");
      dir_ = templ;
    } else {
      const char* port = std::getenv("LIBSHARD_PG_PORT");
      if (port == nullptr || !*port) throw Skip("skipped: LIBSHARD_PG_PORT is not set");
      auto now = std::chrono::system_clock::now().time_since_epoch().count();
      char prefix[48];
      std::snprintf(prefix, sizeof prefix, "lsbr%x%x_%d_", static_cast<unsigned>(getpid()) & 0xfffff,
                    static_cast<unsigned>(now) & 0xffff, round);
      pg_prefix_ = prefix;
      admin_ = std::make_unique<soci::session>(PgUrl("postgres"));
    }
    ClusterConfig c;
    c.buckets = buckets;
    c.hash_seed = 0;
    c.catalog = "catalog";
    for (const std::string& n : names) {
      DatabaseConfig d;
      d.name = n;
      if (backend == "sqlite") {
        d.backend = Backend::kSqlite;
        d.url = "sqlite3://db=" + dir_ + "/" + n + ".db";
      } else {
        d.backend = Backend::kPostgres;
        const std::string db = pg_prefix_ + n;
        *admin_ << "CREATE DATABASE " + db;
        created_.push_back(db);
        d.url = PgUrl(db);
      }
      c.databases.push_back(d);
    }
    EntityConfig e;
    e.name = kEntity;
    c.entities = {e};
    for (int i = 0; i < kNewShards; ++i) c.shards.push_back("s" + std::to_string(i));
    six_ = c;
    c.shards.resize(kOldShards);
    four_ = c;
    Check(four_.Validate(), "4-shard config");
    Check(six_.Validate(), "6-shard config");
  }

  ~RoundCluster() {
    try {
      for (const std::string& db : created_) {
        *admin_ << "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)";
      }
    } catch (const std::exception&) {
      // Best effort: a leftover database only costs space.
    }
    if (!dir_.empty() && std::getenv("SHARD_BENCH_KEEP") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // SQLite: empties every WAL into its database, so the phases measured
  // next do not pay for the load's checkpoints.
  void Checkpoint() {
    if (backend_ != "sqlite") return;
    for (const DatabaseConfig& d : six_.databases) {
      soci::session sql(d.url);
      sql << "PRAGMA wal_checkpoint(TRUNCATE)";
    }
  }

  const ClusterConfig& four() const { return four_; }
  const ClusterConfig& six() const { return six_; }

 private:
  std::string backend_, dir_, pg_prefix_;
  std::unique_ptr<soci::session> admin_;
  std::vector<std::string> created_;
  ClusterConfig four_, six_;
};

std::unique_ptr<libshard::Store> Open(const ClusterConfig& c, const std::string& what) {
  auto s = libshard::Store::Open(c);
  if (!s.ok()) Fail(what + ": Store::Open: " + s.status().ToString());
  return std::move(s).value();
}

struct PutSample {
  Clock::time_point start, end;
  uint32_t bucket;
  uint32_t record;  // index into the loaded ids
};

// The foreground writer: puts into random existing records, unpaced
// (rate 0) or on an open-loop schedule of `rate` puts/s.
class Writer {
 public:
  Writer(libshard::Store& store, const std::vector<Id>& ids, const std::vector<uint32_t>& buckets,
         const std::vector<Document>& docs)
      : store_(store), ids_(ids), buckets_(buckets), docs_(docs) {}

  void Start(double rate, uint64_t seed) {
    stop_.store(false);
    thread_ = std::thread([this, rate, seed] { Loop(rate, seed); });
  }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  ~Writer() { Stop(); }
  // CPU time of the writer thread so far (while it runs).
  double CpuSeconds() {
    clockid_t clock;
    if (!thread_.joinable() || pthread_getcpuclockid(thread_.native_handle(), &clock) != 0) {
      return 0;
    }
    return CpuClockSeconds(clock);
  }

  std::vector<PutSample> samples;  // successful puts
  uint64_t ok = 0, failed = 0;
  std::string first_error;

 private:
  void Loop(double rate, uint64_t seed) {
    Rng rng(seed);
    const Clock::time_point t0 = Clock::now();
    for (uint64_t i = 0; !stop_.load(std::memory_order_relaxed); ++i) {
      if (rate > 0) {
        auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(static_cast<double>(i) / rate));
        if (due > Clock::now()) std::this_thread::sleep_until(due);
        if (stop_.load(std::memory_order_relaxed)) break;
      }
      const size_t k = rng.Below(ids_.size());
      const Clock::time_point start = Clock::now();
      auto v = store_.Put(kEntity, ids_[k], docs_[i % docs_.size()]);
      const Clock::time_point end = Clock::now();
      if (v.ok()) {
        ++ok;
        samples.push_back({start, end, buckets_[k], static_cast<uint32_t>(k)});
      } else {
        if (failed++ == 0) first_error = v.status().ToString();
      }
    }
  }

  libshard::Store& store_;
  const std::vector<Id>& ids_;
  const std::vector<uint32_t>& buckets_;
  const std::vector<Document>& docs_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Event {
  Clock::time_point t;
  uint32_t bucket;
  std::string step, from, to;
  uint64_t records;
};

// Diagnostics (SHARD_BENCH_TRACE=DIR): every put of the paced phases and
// every progress event of one round, times in µs from the rebalance start.
void WriteTrace(const std::string& dir, const std::string& backend, int round,
                Clock::time_point t0, const std::vector<PutSample>& puts, size_t first,
                const std::vector<std::string>& shard_before, const std::vector<Event>& events) {
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/rebalance-" + backend + "-" + std::to_string(round) + ".csv";
  std::ofstream f(path);
  auto us = [&](Clock::time_point t) {
    return static_cast<long long>(std::chrono::duration<double, std::micro>(t - t0).count());
  };
  // put rows: `from` = the shard of the record before the rebalance.
  f << "kind,start_us,end_us,bucket,step,from,to,records\n";
  for (size_t i = first; i < puts.size(); ++i) {
    f << "put," << us(puts[i].start) << "," << us(puts[i].end) << "," << puts[i].bucket
      << ",," << shard_before[puts[i].record] << ",,\n";
  }
  for (const Event& e : events) {
    f << "event," << us(e.t) << "," << us(e.t) << "," << e.bucket << "," << e.step << ","
      << e.from << "," << e.to << "," << e.records << "\n";
  }
  std::cerr << "(trace: " << path << ") ";
}

// Progress-event times of one bucket's move, wall clock and the CPU time
// of the mover thread (a move runs on one thread; the callback runs on it).
struct MoveTimes {
  Clock::time_point copy, sw, cleanup, done;
  double copy_cpu = 0, sw_cpu = 0, cleanup_cpu = 0, done_cpu = 0;
  bool has_copy = false, has_sw = false, has_cleanup = false, has_done = false;
  bool failed = false;
  bool complete() const { return has_copy && has_sw && has_cleanup && has_done; }
};

void Percentile3(std::vector<double> v, double* p50, double* p99, double* max) {
  Percentiles p = LatencyPercentiles(v);
  *p50 = p.p50;
  *p99 = p.p99;
  *max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

}  // namespace

WorkloadResult RunRebalance(Context& ctx) {
  const Scale& sc = ctx.scale;
  const std::string backend = ctx.cluster.backend();
  const bool sqlite = backend == "sqlite";
  WorkloadResult r;
  r.compares = compares::kSelf;
  r.unit = "puts/s";
  r.a_label = "puts during Rebalance 4→6";
  r.b_label = "same writer: libshard against itself (no rebalance)";
  r.lat_unit = "put (A: every put during the rebalance; B: the phase without)";
  const std::string rounds_text =
      std::to_string(sc.rebalance_rounds) +
      (sc.rebalance_rounds == 1 ? " round (one round only)" : " rounds");
  if (sqlite) {
    r.targets.push_back({"copy_rps", 50000, "copy ≥ 50,000 records/s (worst round)", false, true});
  }
  r.targets.push_back(
      {"pause_p99_ms", 50, "pause p99 ≤ 50 ms on a moving bucket (worst round)", true, true});
  r.targets.push_back(
      {"ratio", 0.7, "puts during the rebalance ≥ 0.7 × without (worst round)", false, true});
  r.targets.push_back({"failed_puts_count", 0, "0 failed foreground puts (worst round)", true, true});

  const size_t n = sc.rebalance_records;
  std::vector<Id> ids = MakeIds(kStream, n);
  std::vector<Document> docs;
  for (size_t i = 0; i < 1000; ++i) docs.push_back(MakeDoc(n + i, 1000));
  std::string first_error, parallel_text;
  int pause_fallback_rounds = 0;

  for (int round = 0; round < sc.rebalance_rounds; ++round) {
    RoundCluster cluster(backend, sc.rebalance_buckets, round);
    // 1. Four shards, loaded.
    Check(libshard::Store::Init(cluster.four()), "Store::Init (4 shards)");
    {
      auto loader = Open(cluster.four(), "loader");
      for (size_t start = 0; start < n; start += 1000) {
        std::vector<libshard::PutItem> items;
        for (size_t i = start; i < std::min(n, start + 1000); ++i) {
          items.push_back({ids[i], MakeDoc(i, 1000), {}});
        }
        Take(loader->PutMany(kEntity, items), "load");
      }
    }
    // 2. Six shards declared; the foreground and the operator Store.
    Check(libshard::Store::Init(cluster.six()), "Store::Init (6 shards)");
    cluster.Checkpoint();
    auto fg = Open(cluster.six(), "foreground");
    auto op = Open(cluster.six(), "operator");
    std::vector<uint32_t> buckets(n);
    for (size_t i = 0; i < n; ++i) buckets[i] = fg->Locate(ids[i]).bucket;
    const char* trace = std::getenv("SHARD_BENCH_TRACE");
    std::vector<std::string> shard_before(trace != nullptr ? n : 0);
    for (size_t i = 0; i < shard_before.size(); ++i) shard_before[i] = fg->Locate(ids[i]).shard;

    // 3. Capacity (unpaced), then the paced phases.
    Writer writer(*fg, ids, buckets, docs);
    const double calib = std::min(1.0, sc.rebalance_phase_seconds);
    writer.Start(0, 1000 + static_cast<uint64_t>(round));
    std::this_thread::sleep_for(std::chrono::duration<double>(calib));
    writer.Stop();
    if (writer.samples.size() < 2) {
      Fail("the writer completed " + std::to_string(writer.samples.size()) +
           " puts unpaced; first error: " + writer.first_error);
    }
    const double unpaced = static_cast<double>(writer.samples.size()) /
                           Seconds(writer.samples.front().start, writer.samples.back().end);
    const double rate = sc.rebalance_pace * unpaced;
    const size_t calib_samples = writer.samples.size();

    std::vector<MoveTimes> moves(sc.rebalance_buckets);
    std::vector<Event> events;
    libshard::RebalanceOptions options;
    if (sc.rebalance_parallel > 0) options.parallel = sc.rebalance_parallel;
    if (sc.rebalance_chunk > 0) options.chunk = sc.rebalance_chunk;
    parallel_text = "parallel " + std::to_string(options.parallel) + ", chunk " +
                    std::to_string(options.chunk);
    options.progress = [&](const libshard::MoveProgress& p) {
      const Clock::time_point now = Clock::now();
      const double cpu = ThreadCpuSeconds();
      if (trace != nullptr) events.push_back({now, p.bucket, p.step, p.from, p.to, p.records});
      if (p.bucket >= moves.size()) return;
      MoveTimes& m = moves[p.bucket];
      if (p.step == "copy") m.copy = now, m.copy_cpu = cpu, m.has_copy = true;
      else if (p.step == "switch") m.sw = now, m.sw_cpu = cpu, m.has_sw = true;
      else if (p.step == "cleanup") m.cleanup = now, m.cleanup_cpu = cpu, m.has_cleanup = true;
      else if (p.step == "done") m.done = now, m.done_cpu = cpu, m.has_done = true;
      else if (p.step == "failed") m.failed = true;
    };

    const Clock::time_point paced_start = Clock::now();
    writer.Start(rate, 2000 + static_cast<uint64_t>(round));
    std::this_thread::sleep_for(std::chrono::duration<double>(sc.rebalance_phase_seconds));
    const double cpu0 = ProcessCpuSeconds(), writer_cpu0 = writer.CpuSeconds();
    const Clock::time_point rb_start = Clock::now();
    libshard::Result<libshard::RebalanceReport> rep = op->Rebalance(options);
    const Clock::time_point rb_end = Clock::now();
    const double cpu = ProcessCpuSeconds() - cpu0;
    const double writer_cpu = writer.CpuSeconds() - writer_cpu0;
    writer.Stop();
    if (trace != nullptr) {
      WriteTrace(trace, backend, round, rb_start, writer.samples, calib_samples, shard_before,
                 events);
    }
    if (!rep.ok()) Fail("Store::Rebalance: " + rep.status().ToString());
    const double wall = Seconds(rb_start, rb_end);

    // Checks: a failure here is a library bug, not a slow run.
    if (!rep->failed.empty()) {
      Fail("Rebalance: " + std::to_string(rep->failed.size()) + " of " +
           std::to_string(rep->plan.size()) + " moves failed; first: bucket " +
           std::to_string(rep->failed.front().bucket) + ": " + rep->failed.front().error);
    }
    if (rep->moved != rep->plan.size()) {
      Fail("Rebalance moved " + std::to_string(rep->moved) + " of " +
           std::to_string(rep->plan.size()) + " planned buckets");
    }
    auto shares = Take(op->BucketShares(), "BucketShares");
    for (const libshard::ShardShare& s : shares) {
      if (s.buckets != s.target) {
        Fail("after Rebalance shard " + s.shard + " owns " + std::to_string(s.buckets) +
             " buckets, its share is " + std::to_string(s.target));
      }
    }
    uint64_t count = 0;
    for (const libshard::EntityCount& c : Take(fg->Stats(), "Stats")) {
      if (c.entity == kEntity) count += c.records;
    }
    uint64_t versions = 0, scanned = 0;
    Check(fg->Scan(kEntity, nullptr,
                   [&](libshard::Record&& rec) {
                     versions += rec.version;
                     ++scanned;
                     return true;
                   }),
          "Scan");
    if (count != n || scanned != n) {
      Fail("after Rebalance: Stats counts " + std::to_string(count) + " records, Scan " +
           std::to_string(scanned) + ", loaded " + std::to_string(n));
    }
    // Every successful put added 1 to one record's version; a failed one
    // may or may not have (outcome unknown), so only then is a range fine.
    const uint64_t expect = n + writer.ok;
    if (versions < expect || versions > expect + writer.failed) {
      Fail("after Rebalance the versions add up to " + std::to_string(versions) + ", expected " +
           std::to_string(expect) + " (" + std::to_string(n) + " records + " +
           std::to_string(writer.ok) + " successful puts" +
           (writer.failed ? ", + up to " + std::to_string(writer.failed) + " failed ones" : "") +
           ")");
    }

    // Throughput and latency, per phase (by completion time).
    Measure without, during;
    std::vector<double> pause_ms, all_ms;
    for (size_t i = calib_samples; i < writer.samples.size(); ++i) {
      const PutSample& s = writer.samples[i];
      const double us = std::chrono::duration<double, std::micro>(s.end - s.start).count();
      if (s.end < rb_start) {
        without.lat_us.push_back(us);
      } else if (s.end <= rb_end) {
        during.lat_us.push_back(us);
        all_ms.push_back(us / 1000);
        // On a moving bucket: between its switch and done events.
        const MoveTimes& m = moves[s.bucket];
        if (m.has_sw && s.end > m.sw && (!m.has_done || s.start < m.done)) {
          pause_ms.push_back(us / 1000);
        }
      }
    }
    without.ops = static_cast<double>(without.lat_us.size());
    without.seconds = Seconds(paced_start, rb_start);
    during.ops = static_cast<double>(during.lat_us.size());
    during.seconds = wall;
    r.Add(round, during, without);

    double p50, p99, mx;
    Percentile3(all_ms, &p50, &p99, &mx);
    r.metrics["all_p50_ms"].push_back(p50);
    r.metrics["all_p99_ms"].push_back(p99);
    r.metrics["all_max_ms"].push_back(mx);
    if (!pause_ms.empty()) {
      Percentile3(pause_ms, &p50, &p99, &mx);
    } else {
      ++pause_fallback_rounds;  // keeps the numbers of all puts
    }
    r.metrics["pause_p50_ms"].push_back(p50);
    r.metrics["pause_p99_ms"].push_back(p99);
    r.metrics["pause_max_ms"].push_back(mx);
    r.metrics["pause_puts_count"].push_back(static_cast<double>(pause_ms.size()));
    r.metrics["failed_puts_count"].push_back(static_cast<double>(writer.failed));
    if (first_error.empty() && !writer.first_error.empty()) first_error = writer.first_error;
    r.metrics["unpaced_rps"].push_back(unpaced);
    r.metrics["paced_rps"].push_back(rate);
    r.metrics["copy_rps"].push_back(wall > 0 ? static_cast<double>(rep->records_copied) / wall : 0);
    r.metrics["copied_count"].push_back(static_cast<double>(rep->records_copied));
    r.metrics["moves_count"].push_back(static_cast<double>(rep->moved));
    r.metrics["rebalance_s"].push_back(wall);
    // Cores this process used during Rebalance (movers + writer): well
    // below `parallel` + writer means waiting (locks, I/O, other processes).
    r.metrics["rebalance_cores"].push_back(wall > 0 ? cpu / wall : 0);
    // The movers' CPU (the process's minus the writer thread's): the copy
    // rate per second of mover CPU does not depend on how much of the
    // machine other processes take.
    const double mover_cpu = std::max(0.0, cpu - writer_cpu);
    r.metrics["mover_cpu_s"].push_back(mover_cpu);
    r.metrics["copy_per_mover_cpu_rps"].push_back(
        mover_cpu > 0 ? static_cast<double>(rep->records_copied) / mover_cpu : 0);

    // Where a move's time goes, from the progress events: means per move
    // (the total is what the copy rate pays), wall clock and mover CPU.
    double copy_ms = 0, switch_ms = 0, cleanup_ms = 0, copy_cpu = 0, switch_cpu = 0,
           cleanup_cpu = 0;
    size_t complete = 0;
    for (const MoveTimes& m : moves) {
      if (!m.complete()) continue;
      ++complete;
      copy_ms += Ms(m.sw - m.copy);
      switch_ms += Ms(m.cleanup - m.sw);
      cleanup_ms += Ms(m.done - m.cleanup);
      copy_cpu += 1000 * (m.sw_cpu - m.copy_cpu);
      switch_cpu += 1000 * (m.cleanup_cpu - m.sw_cpu);
      cleanup_cpu += 1000 * (m.done_cpu - m.cleanup_cpu);
    }
    if (complete > 0) {
      const double k = static_cast<double>(complete);
      r.metrics["move_copy_ms"].push_back(copy_ms / k);
      r.metrics["move_switch_ms"].push_back(switch_ms / k);
      r.metrics["move_cleanup_ms"].push_back(cleanup_ms / k);
      // Worker time outside copy..done: recording the move in the catalog,
      // reading ownership rows, creating tables, marking the target
      // incoming (and the plan, and idle workers at the end).
      const double workers = std::min<double>(options.parallel, k);
      r.metrics["move_before_copy_ms"].push_back(
          std::max(0.0, (wall * 1000 * workers - copy_ms - switch_ms - cleanup_ms) / k));
      r.metrics["move_copy_cpu_ms"].push_back(copy_cpu / k);
      r.metrics["move_switch_cpu_ms"].push_back(switch_cpu / k);
      r.metrics["move_cleanup_cpu_ms"].push_back(cleanup_cpu / k);
    }
  }
  r.note = std::to_string(n) + " records, " + std::to_string(sc.rebalance_buckets) +
           " buckets, 4 → 6 " + (sqlite ? "SQLite" : "PostgreSQL") + " shards, " + rounds_text +
           " (fresh cluster each), RebalanceOptions " + parallel_text +
           "; one foreground writer thread putting into random existing records, paced at " +
           std::to_string(sc.rebalance_pace).substr(0, 4) +
           " × its own unpaced rate measured just before (paced_rps, unpaced_rps); "
           "'without' = the same writer in the " +
           std::to_string(sc.rebalance_phase_seconds).substr(0, 4) +
           " s before Rebalance (libshard against itself, no rebalance); pause_* = Put latency "
           "of the puts whose bucket was moving (between its switch and done events)" +
           (pause_fallback_rounds > 0
                ? " — in " + std::to_string(pause_fallback_rounds) +
                      " round(s) no put hit one: pause_* there = all puts during the rebalance"
                : std::string()) +
           "; all_* = every put during the rebalance; copy_rps = records_copied / wall time of "
           "Rebalance; copy_per_mover_cpu_rps = records_copied / CPU seconds of the mover "
           "threads; move_*_ms = mean per move between progress events: copy = copy..switch "
           "(incl. catch-up passes), switch = switch..cleanup (switch transaction, target takes "
           "over, catalog map), cleanup = cleanup..done, before_copy = estimated (worker time "
           "outside copy..done); move_*_cpu_ms = the mover thread's CPU in the same steps" +
           (first_error.empty() ? "" : "; first failed put: " + first_error);
  return r;
}

}  // namespace bench
