// shard-writers-probe (issue 9 item 5): the ceiling of 2 writer threads on
// 4 SQLite shards, measured without the comparison harness so that it can
// run under strace, perf and valgrind. T threads each put `ops / T` new
// records (random 16-byte ids, thread t takes i ≡ t mod T) into a fresh
// 4-shard cluster, after an untimed warm-up of 500 puts per thread.
// Prints wall time, puts/s, process user and system CPU per put, cores
// used, context switches per put (voluntary: a thread blocked — futex,
// busy-handler sleep, fsync; involuntary: preempted), and per thread the
// CPU it got.
//
//   [SHARDS=4] shard-writers-probe THREADS OPS [DIR]
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/data.h"
#include "libshard/store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Usage {
  double user = 0, sys = 0;
  long vcsw = 0, ivcsw = 0;
  double on_cpu = 0, run_queue = 0;  // schedstat, seconds (threads only)
};

// /proc/thread-self/schedstat: time on a CPU and time runnable but waiting
// for one (the other processes' share of the cores), in ns.
void SchedStat(double* on_cpu, double* run_queue) {
  unsigned long long a = 0, b = 0;
  if (FILE* f = std::fopen("/proc/thread-self/schedstat", "r")) {
    if (std::fscanf(f, "%llu %llu", &a, &b) != 2) a = b = 0;
    std::fclose(f);
  }
  *on_cpu = static_cast<double>(a) / 1e9;
  *run_queue = static_cast<double>(b) / 1e9;
}

Usage Now(int who) {
  rusage u{};
  getrusage(who, &u);
  return {static_cast<double>(u.ru_utime.tv_sec) + u.ru_utime.tv_usec / 1e6,
          static_cast<double>(u.ru_stime.tv_sec) + u.ru_stime.tv_usec / 1e6, u.ru_nvcsw,
          u.ru_nivcsw};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: shard-writers-probe THREADS OPS [DIR]\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  const size_t ops = std::strtoull(argv[2], nullptr, 10);
  std::string dir = argc > 3 ? argv[3] : "/tmp/shard-writers-probe-XXXXXX";
  if (argc <= 3 && mkdtemp(dir.data()) == nullptr) return 1;
  std::filesystem::create_directories(dir);

  libshard::ClusterConfig c;
  c.catalog = "catalog";
  // SHARDS=N (default 4): SHARDS=1 makes every put of 2 threads collide,
  // which isolates the lock hand-off.
  const char* shards_env = std::getenv("SHARDS");
  const int shards = shards_env ? std::atoi(shards_env) : 4;
  std::vector<std::string> names = {"catalog"};
  for (int i = 0; i < shards; ++i) names.push_back(std::string("s").append(std::to_string(i)));
  for (const std::string& name : names) {
    libshard::DatabaseConfig d;
    d.name = name;
    d.url = "sqlite3://db=" + dir + "/" + name + ".db";
    c.databases.push_back(d);
    if (name[0] == 's') c.shards.push_back(name);
  }
  libshard::EntityConfig e;
  e.name = "wt";
  c.entities = {e};
  if (!libshard::Store::Init(c).ok()) return 1;
  auto opened = libshard::Store::Open(c);
  if (!opened.ok()) return 1;
  std::unique_ptr<libshard::Store> store = std::move(opened).value();

  const libshard::Document doc = bench::MakeDoc(7, 100);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<Usage> per_thread(static_cast<size_t>(threads));
  std::vector<double> wall_of(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      // Warm-up: connections, prepared statements, the top B-tree pages.
      for (size_t i = 0; i < 500; ++i) {
        if (!store->Put("wt", bench::MakeId(90 + static_cast<uint64_t>(t), i), doc).ok()) {
          std::abort();
        }
      }
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      Usage u0 = Now(RUSAGE_THREAD);
      SchedStat(&u0.on_cpu, &u0.run_queue);
      const Clock::time_point t0 = Clock::now();
      for (size_t i = static_cast<size_t>(t); i < ops; i += static_cast<size_t>(threads)) {
        auto v = store->Put("wt", bench::MakeId(1, i), doc);
        if (!v.ok()) {
          std::fprintf(stderr, "Put: %s\n", v.status().ToString().c_str());
          std::abort();
        }
      }
      Usage u1 = Now(RUSAGE_THREAD);
      SchedStat(&u1.on_cpu, &u1.run_queue);
      per_thread[static_cast<size_t>(t)] = {u1.user - u0.user,
                                            u1.sys - u0.sys,
                                            u1.vcsw - u0.vcsw,
                                            u1.ivcsw - u0.ivcsw,
                                            u1.on_cpu - u0.on_cpu,
                                            u1.run_queue - u0.run_queue};
      wall_of[static_cast<size_t>(t)] =
          std::chrono::duration<double>(Clock::now() - t0).count();
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const Usage p0 = Now(RUSAGE_SELF);
  const Clock::time_point start = Clock::now();
  go.store(true);
  for (std::thread& th : pool) th.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const Usage p1 = Now(RUSAGE_SELF);
  const double n = static_cast<double>(ops);
  std::printf("threads %d ops %zu wall_s %.3f puts_per_s %.0f user_us_per_put %.2f "
              "sys_us_per_put %.2f cores_used %.2f vcsw_per_put %.3f ivcsw_per_put %.3f\n",
              threads, ops, wall, n / wall, (p1.user - p0.user) * 1e6 / n,
              (p1.sys - p0.sys) * 1e6 / n, (p1.user - p0.user + p1.sys - p0.sys) / wall,
              static_cast<double>(p1.vcsw - p0.vcsw) / n,
              static_cast<double>(p1.ivcsw - p0.ivcsw) / n);
  for (int t = 0; t < threads; ++t) {
    const Usage& u = per_thread[static_cast<size_t>(t)];
    // wall = on a CPU + waiting for a CPU + blocked (locks, sleeps, I/O).
    const double wall_t = wall_of[static_cast<size_t>(t)];
    std::printf("  thread %d wall_s %.3f on_cpu_s %.3f run_queue_s %.3f blocked_s %.3f "
                "(user %.3f sys %.3f) vcsw %ld ivcsw %ld\n",
                t, wall_t, u.on_cpu, u.run_queue, wall_t - u.on_cpu - u.run_queue, u.user,
                u.sys, u.vcsw, u.ivcsw);
  }
  store.reset();
  if (argc <= 3) std::filesystem::remove_all(dir);
  return 0;
}
