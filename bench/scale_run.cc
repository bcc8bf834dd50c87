// shard-scale (issue 9 item 7): a long run, not part of shard-bench's
// default set (10M records take minutes to load).
//
// 1. Latency against records: one 4-shard SQLite cluster grows by PutMany
//    in large batches (random 16-byte ids, so every bucket and shard gets
//    its share) to each size in --sizes; at each size: point gets of random
//    existing ids (uniform over the whole set) and single puts of new
//    records, one latency sample per operation, plus the process CPU per
//    operation, the file sizes and the B-tree depths (dbstat).
// 2. Memory against shards open: for each count in --shards, a child
//    process (this binary, --rss-child) opens a Store on that many SQLite
//    shard files, gets and puts until every shard served both, and reports
//    VmRSS / VmHWM from /proc/self/status. A fresh process per count, so
//    one count's heap does not inflate the next.
//
//   shard-scale [--sizes 10000,100000,1000000,10000000] [--shards 4,16,64]
//               [--get-ops 5000] [--put-ops 3000] [--batch 5000]
//               [--dir DIR] [--out-dir DIR] [--keep] [--reuse DIR N]
//
// --reuse DIR N: the sizes >= N are measured on the 4-shard cluster in DIR
// (a --keep'd grow/ directory of an earlier run, holding N records), so a
// 10M load need not be redone; the table shows no load rate for them.
#include <soci/soci.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "bench/data.h"
#include "bench/scale_run.h"
#include "libshard/store.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using libshard::ClusterConfig;

constexpr const char* kEntity = "rec";
constexpr uint64_t kLoadStream = 1;  // ids of the loaded records
constexpr uint64_t kPutStream = 2;   // ids of the measured new records
int g_load_retries = 0;              // PutMany batches run again (see Load)
// This binary, resolved at start: a rebuild during a long run replaces the
// file, and /proc/self/exe then reads "… (deleted)".
std::string g_exe;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "shard-scale: " << what << "\n";
  std::exit(1);
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string ReadLine(const char* path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// "VmRSS:" etc. from /proc/self/status, in kB (Threads: as a count).
uint64_t StatusField(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::strtoull(line.c_str() + key.size(), nullptr, 10);
  }
  return 0;
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::vector<size_t> ParseList(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoull(item));
  return out;
}

ClusterConfig MakeConfig(const std::string& dir, int shards) {
  ClusterConfig c;
  c.buckets = 1024;
  c.catalog = "catalog";
  libshard::DatabaseConfig cat;
  cat.name = "catalog";
  cat.url = "sqlite3://db=" + dir + "/catalog.db";
  c.databases.push_back(cat);
  for (int i = 0; i < shards; ++i) {
    libshard::DatabaseConfig d;
    d.name = "s" + std::to_string(i);
    d.url = "sqlite3://db=" + dir + "/" + d.name + ".db";
    c.databases.push_back(d);
    c.shards.push_back(d.name);
  }
  libshard::EntityConfig e;
  e.name = kEntity;
  c.entities = {e};
  return c;
}

std::unique_ptr<libshard::Store> InitAndOpen(const ClusterConfig& config) {
  libshard::Status s = libshard::Store::Init(config);
  if (!s.ok()) Die("Store::Init: " + s.ToString());
  auto store = libshard::Store::Open(config);
  if (!store.ok()) Die("Store::Open: " + store.status().ToString());
  return std::move(store).value();
}

// Loads records [from, to) of the load stream with PutMany of `batch`.
void Load(libshard::Store& store, size_t from, size_t to, size_t batch) {
  std::vector<libshard::PutItem> items;
  for (size_t i = from; i < to;) {
    const size_t end = std::min(to, i + batch);
    items.clear();
    items.reserve(end - i);
    for (; i < end; ++i) {
      libshard::PutItem it;
      it.id = MakeId(kLoadStream, i);
      it.doc = MakeDoc(i, 1000);
      items.push_back(std::move(it));
    }
    // A batch whose transactions outlast the index lease (3 s: a busy
    // machine, a large cluster) is rolled back as kUnavailable: run it again.
    for (int attempt = 1;; ++attempt) {
      auto v = store.PutMany(kEntity, items);
      if (v.ok()) break;
      if (v.status().code() != libshard::Code::kUnavailable || attempt == 5) {
        Die("PutMany: " + v.status().ToString());
      }
      ++g_load_retries;
      std::cerr << "shard-scale: PutMany retried: " << v.status().ToString() << "\n";
    }
  }
}

// Per-operation latency (µs) and CPU per operation of n calls of op(k).
template <typename F>
Percentiles Time(size_t n, double* cpu_us, F&& op) {
  std::vector<double> lat;
  lat.reserve(n);
  const double cpu0 = CpuSeconds();
  for (size_t k = 0; k < n; ++k) {
    const Clock::time_point t = Clock::now();
    op(k);
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  *cpu_us = (CpuSeconds() - cpu0) * 1e6 / static_cast<double>(n);
  return LatencyPercentiles(std::move(lat));
}

// Depth of a B-tree: the longest dbstat path ("/000/01c/" has depth 3).
int BtreeDepth(soci::session& sql, const std::string& name) {
  int depth = 0;
  soci::indicator ind = soci::i_ok;
  sql << "SELECT max(length(path) - length(replace(path, '/', ''))) FROM dbstat WHERE name = :n",
      soci::use(name), soci::into(depth, ind);
  return ind == soci::i_ok ? depth : 0;
}

void MeasureSize(libshard::Store& store, const std::string& dir, size_t records,
                 size_t get_ops, size_t put_ops, uint64_t put_stream, uint64_t* put_counter,
                 SizePoint* p) {
  p->records = records;
  Rng rng(0x5ca1e + records);
  // Warm-up (untimed): the statement caches and the top of each B-tree.
  for (size_t k = 0; k < 200; ++k) {
    auto r = store.Get(kEntity, MakeId(kLoadStream, rng.Below(records)));
    if (!r.ok()) Die("Get (warm-up): " + r.status().ToString());
  }
  p->get = Time(get_ops, &p->get_cpu_us, [&](size_t) {
    auto r = store.Get(kEntity, MakeId(kLoadStream, rng.Below(records)));
    if (!r.ok()) Die("Get: " + r.status().ToString());
  });
  const libshard::Document doc = MakeDoc(records, 1000);
  p->put = Time(put_ops, &p->put_cpu_us, [&](size_t) {
    auto v = store.Put(kEntity, MakeId(put_stream, (*put_counter)++), doc);
    if (!v.ok()) Die("Put: " + v.status().ToString());
  });
  // Sizes: the WAL as the run left it, then the main files after a
  // checkpoint (what is on disk for this many records).
  p->wal_bytes = 0;
  p->db_bytes = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string db = dir + "/s" + std::to_string(i) + ".db";
    p->wal_bytes += FileSize(db + "-wal");
    soci::session sql("sqlite3://db=" + db);
    sql << "PRAGMA busy_timeout=30000";
    sql << "PRAGMA wal_checkpoint(TRUNCATE)";
    p->db_bytes += FileSize(db);
    if (i == 0) {
      p->table_depth = BtreeDepth(sql, std::string("ls_rec_") + kEntity);
      p->id_index_depth = BtreeDepth(sql, std::string("sqlite_autoindex_ls_rec_") + kEntity + "_1");
    }
  }
}

// The child of part 2: prints "RSS shards start open after hwm threads touched".
int RssChild(int shards, const std::string& dir) {
  const ClusterConfig config = MakeConfig(dir, shards);
  const uint64_t start = StatusField("VmRSS:");
  auto opened = libshard::Store::Open(config);
  if (!opened.ok()) Die("Store::Open: " + opened.status().ToString());
  std::unique_ptr<libshard::Store> store = std::move(opened).value();
  const uint64_t after_open = StatusField("VmRSS:");
  // Gets of loaded ids and puts of new ones until every shard served at
  // least 20 of each (random ids: the buckets are spread over the shards).
  std::map<std::string, std::pair<int, int>> served;
  const libshard::Document doc = MakeDoc(0, 1000);
  Rng rng(42);
  const size_t loaded = static_cast<size_t>(shards) * 500;
  size_t k = 0;
  auto done = [&] {
    if (served.size() < static_cast<size_t>(shards)) return false;
    for (auto& [name, n] : served) {
      if (n.first < 20 || n.second < 20) return false;
    }
    return true;
  };
  for (; !done() && k < 1000000; ++k) {
    const libshard::Id get_id = MakeId(kLoadStream, rng.Below(loaded));
    auto r = store->Get(kEntity, get_id);
    if (!r.ok()) Die("Get: " + r.status().ToString());
    served[store->Locate(get_id).shard].first++;
    const libshard::Id put_id = MakeId(kPutStream, k);
    auto v = store->Put(kEntity, put_id, doc);
    if (!v.ok()) Die("Put: " + v.status().ToString());
    served[store->Locate(put_id).shard].second++;
  }
  int touched = 0;
  for (auto& [name, n] : served) touched += n.first > 0 && n.second > 0;
  std::printf("RSS %d %llu %llu %llu %llu %llu %d\n", shards,
              static_cast<unsigned long long>(start), static_cast<unsigned long long>(after_open),
              static_cast<unsigned long long>(StatusField("VmRSS:")),
              static_cast<unsigned long long>(StatusField("VmHWM:")),
              static_cast<unsigned long long>(StatusField("Threads:")), touched);
  return 0;
}

// The setup child of part 2: Init and 500 records per shard, in a process
// of its own so that its memory is not counted.
int RssInit(int shards, const std::string& dir) {
  std::unique_ptr<libshard::Store> store = InitAndOpen(MakeConfig(dir, shards));
  Load(*store, 0, static_cast<size_t>(shards) * 500, 5000);
  return 0;
}

RssPoint MeasureRss(int shards, const std::string& base) {
  const std::string dir = base + "/rss" + std::to_string(shards);
  std::filesystem::create_directories(dir);
  const std::string exe = "'" + g_exe + "'";
  if (std::system((exe + " --rss-init " + std::to_string(shards) + " " + dir).c_str()) != 0) {
    Die("--rss-init failed");
  }
  FILE* f = popen((exe + " --rss-child " + std::to_string(shards) + " " + dir).c_str(), "r");
  if (f == nullptr) Die("popen failed");
  RssPoint p;
  unsigned long long start = 0, open = 0, after = 0, hwm = 0, threads = 0;
  int touched = 0, n = 0;
  if (std::fscanf(f, "RSS %d %llu %llu %llu %llu %llu %d", &n, &start, &open, &after, &hwm,
                  &threads, &touched) != 7) {
    Die("--rss-child printed no RSS line");
  }
  if (pclose(f) != 0) Die("--rss-child failed");
  p.shards = shards;
  p.rss_start_kb = start;
  p.rss_open_kb = open;
  p.rss_kb = after;
  p.hwm_kb = hwm;
  p.threads = static_cast<int>(threads);
  p.shards_touched = touched;
  return p;
}

std::string MakeDir(const std::string& parent) {
  std::string templ = parent + "/shard-scale-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) Die("cannot create a temp directory in " + parent);
  return templ;
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "?";
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  {
    std::error_code ec;
    g_exe = std::filesystem::canonical("/proc/self/exe", ec).string();
    if (ec) Die("cannot resolve /proc/self/exe");
  }
  if (argc == 4 && std::string(argv[1]) == "--rss-child") return RssChild(std::atoi(argv[2]), argv[3]);
  if (argc == 4 && std::string(argv[1]) == "--rss-init") return RssInit(std::atoi(argv[2]), argv[3]);
  std::vector<size_t> sizes = {10000, 100000, 1000000, 10000000};
  std::vector<size_t> shard_counts = {4, 16, 64};
  size_t get_ops = 5000, put_ops = 3000, batch = 5000;
  const char* tmp = std::getenv("TMPDIR");
  std::string parent = tmp && *tmp ? tmp : "/tmp";
  std::string out_dir = "scale-out";
  bool keep = false;
  std::string reuse_dir;      // --reuse DIR N: sizes >= N are measured on
  size_t reuse_records = 0;   // the cluster in DIR, already loaded with N
  ScaleInfo info;
  for (int i = 0; i < argc; ++i) info.command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--sizes") sizes = ParseList(next());
    else if (a == "--shards") shard_counts = ParseList(next());
    else if (a == "--get-ops") get_ops = std::stoull(next());
    else if (a == "--put-ops") put_ops = std::stoull(next());
    else if (a == "--batch") batch = std::stoull(next());
    else if (a == "--dir") parent = next();
    else if (a == "--out-dir") out_dir = next();
    else if (a == "--keep") keep = true;
    else if (a == "--reuse") {
      reuse_dir = next();
      reuse_records = std::stoull(next());
    }
    else Die("unknown flag " + a);
  }
  std::sort(sizes.begin(), sizes.end());
  info.date = UtcNow();
  info.nproc = static_cast<int>(std::thread::hardware_concurrency());
  info.cpu = CpuModel();
  info.load_start = ReadLine("/proc/loadavg");
  info.get_ops = get_ops;
  info.put_ops = put_ops;
  info.batch = batch;
  const Clock::time_point t0 = Clock::now();
  const std::string dir = MakeDir(parent);
  std::cerr << "shard-scale: data in " << dir << "\n";

  std::vector<SizePoint> points;
  {
    std::string grow = dir + "/grow";
    std::filesystem::create_directories(grow);
    std::unique_ptr<libshard::Store> store = InitAndOpen(MakeConfig(grow, 4));
    size_t loaded = 0;
    uint64_t put_counter = 0, put_stream = kPutStream;
    for (size_t n : sizes) {
      if (!reuse_dir.empty() && n >= reuse_records && grow != reuse_dir) {
        // From here on: the cluster an earlier run loaded (its records
        // 0..reuse_records-1 of the load stream; new puts in a new stream).
        store.reset();
        grow = reuse_dir;
        store = InitAndOpen(MakeConfig(grow, 4));
        loaded = reuse_records;
        put_stream = kPutStream + 1 + static_cast<uint64_t>(std::time(nullptr) % 1000000);
        put_counter = 0;
      }
      SizePoint p;
      const Clock::time_point l0 = Clock::now();
      Load(*store, loaded, n, batch);
      p.load_s = Since(l0);
      p.load_rps = n > loaded && p.load_s > 0 ? static_cast<double>(n - loaded) / p.load_s : 0;
      loaded = n;
      MeasureSize(*store, grow, n, get_ops, put_ops, put_stream, &put_counter, &p);
      std::cerr << "shard-scale: " << n << " records: load " << p.load_s << " s, get p50/p99 "
                << p.get.p50 << "/" << p.get.p99 << " us, put " << p.put.p50 << "/" << p.put.p99
                << " us, db " << p.db_bytes / 1048576 << " MiB, depth " << p.table_depth << "/"
                << p.id_index_depth << "\n";
      points.push_back(p);
    }
  }
  std::vector<RssPoint> rss;
  for (size_t k : shard_counts) {
    rss.push_back(MeasureRss(static_cast<int>(k), dir));
    std::cerr << "shard-scale: " << k << " shards: VmRSS " << rss.back().rss_kb << " kB, VmHWM "
              << rss.back().hwm_kb << " kB\n";
  }
  info.elapsed_s = Since(t0);
  info.load_end = ReadLine("/proc/loadavg");
  info.load_retries = g_load_retries;
  if (!reuse_dir.empty()) info.reused = reuse_dir + " (" + std::to_string(reuse_records) + " records)";
  std::filesystem::create_directories(out_dir);
  const std::string md = ScaleMarkdown(points, rss, info);
  std::ofstream(out_dir + "/scale.md") << md;
  WriteScaleSvg(out_dir + "/scale.svg", points, rss);
  std::cout << md;
  if (!keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
