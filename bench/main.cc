// shard-bench: libshard against hand-written SOCI on the same databases in
// the same process (issue 4). See bench/README.md.
//
//   shard-bench [--quick] [--workloads a,b,c] [--backend sqlite|postgres|mariadb|all]
//               [--rounds N] [--config FILE.yaml] [--json FILE]
//               [--chart FILE.svg|.png] [--out-dir DIR]
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/baseline.h"
#include "bench/cluster.h"
#include "bench/report.h"
#include "bench/workloads.h"

namespace bench {
namespace {

struct Flags {
  bool quick = false;
  std::vector<std::string> workloads;  // empty = all
  std::string backend = "all";
  int rounds = 0;                      // 0 = the mode's default
  std::string config;                  // YAML workload file
  std::string json, chart, out_dir = "bench-out";
};

const char* kUsage =
    "usage: shard-bench [options]\n"
    "  --quick                 small counts, 1-2 rounds (a smoke run, < 1 minute)\n"
    "  --workloads a,b,c       subset of: get put put_batch get_many get_many_in put_index\n"
    "                          query_eq query_range scan index_build writers rebalance\n"
    "                          put_batch_multirow put_powersafe put_batch_powersafe\n"
    "                          get_raw put_raw put_batch_raw scan_raw get_raw_fenced\n"
    "                          put_raw_fenced get_cache_memory get_cache_shared mix_cache\n"
    "                          put_cache (also put_cache_memory, put_cache_shared;\n"
    "                          the shared tier needs LIBSHARD_CACHE_URL)\n"
    "                          (default: all)\n"
    "  --backend B             sqlite | postgres | mariadb | all (default all;\n"
    "                          postgres needs LIBSHARD_PG_PORT, mariadb\n"
    "                          LIBSHARD_MYSQL_PORT/USER/PASSWORD: scripts/servers.sh)\n"
    "  --rounds N              rounds per workload (default: SQLite 7, PostgreSQL 9,\n"
    "                          index builds 3, rebalance 3 (PostgreSQL 2);\n"
    "                          --quick: 2, builds and rebalance 1)\n"
    "  --config FILE.yaml      workload file: {rounds, backend, workloads, sqlite: {sizes},\n"
    "                          postgres: {sizes}}; flags given on the command line win\n"
    "  --out-dir DIR           where results.json, results.md and chart.svg go (bench-out)\n"
    "  --json FILE             JSON report path (default DIR/results.json)\n"
    "  --chart FILE            chart path, .svg or .png (default DIR/chart.svg)\n";

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Flags Parse(int argc, char** argv, std::string* command) {
  Flags f;
  bool backend_set = false, workloads_set = false;
  *command = "shard-bench";
  for (int i = 1; i < argc; ++i) *command += std::string(" ") + argv[i];
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) throw BenchError(a + " needs a value");
      return argv[++i];
    };
    auto is = [&](const char* name) {
      return a == name || a.rfind(std::string(name) + "=", 0) == 0;
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--quick") {
      f.quick = true;
    } else if (is("--workloads")) {
      f.workloads = Split(value());
      workloads_set = true;
    } else if (is("--backend")) {
      f.backend = value();
      backend_set = true;
    } else if (is("--rounds")) {
      f.rounds = std::atoi(value().c_str());
      if (f.rounds < 1) throw BenchError("--rounds must be >= 1");
    } else if (is("--config")) {
      f.config = value();
    } else if (is("--json")) {
      f.json = value();
    } else if (is("--chart")) {
      f.chart = value();
    } else if (is("--out-dir")) {
      f.out_dir = value();
    } else {
      throw BenchError("unknown argument '" + a + "'\n" + kUsage);
    }
  }
  if (!f.config.empty()) {
    YAML::Node y = YAML::LoadFile(f.config);
    if (y["backend"] && !backend_set) f.backend = y["backend"].as<std::string>();
    if (y["workloads"] && !workloads_set) {
      for (const auto& w : y["workloads"]) f.workloads.push_back(w.as<std::string>());
    }
  }
  if (f.backend != "sqlite" && f.backend != "postgres" && f.backend != "mariadb" &&
      f.backend != "all") {
    throw BenchError("--backend must be sqlite, postgres, mariadb or all");
  }
  for (const std::string& w : f.workloads) {
    const auto& all = AllWorkloads();
    if (std::none_of(all.begin(), all.end(), [&](const WorkloadDef& d) { return w == d.id; })) {
      throw BenchError("unknown workload '" + w + "'\n" + kUsage);
    }
  }
  return f;
}

Scale ScaleFor(const Flags& f, const std::string& backend) {
  Scale s = Scale::For(backend, f.quick);
  if (!f.config.empty()) {
    YAML::Node y = YAML::LoadFile(f.config);
    if (y["rounds"]) {
      s.rounds = y["rounds"].as<int>();
      s.build_rounds = std::min(s.build_rounds, s.rounds);
      s.rebalance_rounds = std::min(s.rebalance_rounds, s.rounds);
    }
    if (y[backend]) {
      YAML::Emitter out;
      out << y[backend];
      s.Apply(out.c_str(), f.config + ": " + backend);
    }
  }
  if (f.rounds > 0) {
    s.rounds = f.rounds;
    s.build_rounds = f.rounds;
    s.rebalance_rounds = f.rounds;
  }
  return s;
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
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "";
}

// The 1, 5 and 15 minute load averages ("1.10 0.95 0.80"); "" if unknown.
std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  if (!(f >> a >> b >> c)) return "";
  return a + " " + b + " " + c;
}

bool Selected(const Flags& f, const WorkloadDef& d) {
  return f.workloads.empty() ||
         std::find(f.workloads.begin(), f.workloads.end(), d.id) != f.workloads.end();
}

void RunBackend(const Flags& f, const std::string& backend, std::vector<WorkloadResult>* results,
                RunInfo* info) {
  std::vector<const WorkloadDef*> todo;
  for (const WorkloadDef& d : AllWorkloads()) {
    const bool on = backend == "sqlite" ? d.sqlite : backend == "postgres" ? d.postgres : d.mariadb;
    if (Selected(f, d) && on) todo.push_back(&d);
  }
  if (todo.empty()) return;
  Scale scale = ScaleFor(f, backend);
  std::unique_ptr<Cluster> cluster;
  std::string why;
  try {
    cluster = backend == "sqlite"     ? Cluster::Sqlite(scale.build_rounds)
              : backend == "postgres" ? Cluster::Postgres(&why)
                                      : Cluster::Mariadb(&why);
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!cluster) {
    info->notes.push_back(backend + ": not run: " + why);
    std::cerr << "[" << backend << "] not run: " << why << "\n";
    for (const WorkloadDef* d : todo) {
      WorkloadResult r;
      r.id = d->id;
      r.title = d->title;
      r.backend = backend;
      r.skipped = "skipped: " + why;
      results->push_back(r);
    }
    return;
  }
  Baseline baseline(cluster->config());
  Context ctx{*cluster, baseline, scale, {}};
  for (const WorkloadDef* d : todo) {
    std::cerr << "[" << backend << "] " << d->id << " … " << std::flush;
    Clock::time_point t0 = Clock::now();
    WorkloadResult r = RunWorkload(*d, ctx);
    std::cerr << std::fixed;
    std::cerr.precision(1);
    std::cerr << Seconds(t0, Clock::now()) << " s";
    if (!r.skipped.empty()) std::cerr << " (" << r.skipped << ")";
    std::cerr << "\n";
    std::vector<WorkloadResult> more = std::move(r.more);
    results->push_back(std::move(r));
    for (WorkloadResult& m : more) results->push_back(std::move(m));
  }
}

int Main(int argc, char** argv) {
  const Clock::time_point start = Clock::now();
  RegisterSociBackends();
  RunInfo info;
  Flags f = Parse(argc, argv, &info.command);
  info.quick = f.quick;
  info.date = UtcNow();
  info.nproc = static_cast<int>(std::thread::hardware_concurrency());
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  info.host = host;
  info.cpu = CpuModel();
  info.load_start = LoadAverage();

  std::vector<WorkloadResult> results;
  if (f.backend == "sqlite" || f.backend == "all") RunBackend(f, "sqlite", &results, &info);
  if (f.backend == "postgres" || f.backend == "all") RunBackend(f, "postgres", &results, &info);
  if (f.backend == "mariadb" || f.backend == "all") RunBackend(f, "mariadb", &results, &info);
  info.elapsed_s = Seconds(start, Clock::now());
  info.load_end = LoadAverage();

  std::filesystem::create_directories(f.out_dir);
  const std::string json = f.json.empty() ? f.out_dir + "/results.json" : f.json;
  const std::string chart = f.chart.empty() ? f.out_dir + "/chart.svg" : f.chart;
  const std::string md = Markdown(results, info);
  std::cout << md << std::flush;
  std::ofstream(f.out_dir + "/results.md") << md;
  WriteJson(json, results, info);
  std::string how;
  try {
    how = WriteChart(chart, results);
  } catch (const std::exception& e) {
    how = std::string("failed: ") + e.what();
  }
  std::cerr << "wrote " << json << ", " << f.out_dir << "/results.md, " << chart << " (" << how
            << ")\n";
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  try {
    return bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "shard-bench: " << e.what() << "\n";
    return 2;
  }
}
