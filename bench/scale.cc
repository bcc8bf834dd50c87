// Workload sizes per backend and mode, and overrides from a YAML workload
// file (shard-bench --config FILE.yaml).
#include <yaml-cpp/yaml.h>

#include "bench/bench.h"

namespace bench {

Scale Scale::For(const std::string& backend, bool quick) {
  Scale s;  // the full SQLite run (defaults in bench.h)
  const bool server = backend != "sqlite";  // PostgreSQL or MariaDB
  if (server) {
    // A local server over TCP: ~10× slower per operation than SQLite, and
    // noisier (the server shares the cores): more, shorter rounds.
    s.rounds = 9;
    s.read_records = 5000;
    s.get_ops = 3000;
    s.put_ops = 1000;
    s.batches = 3;
    s.get_many_calls = 40;
    s.rebalance_rounds = 2;
  }
  if (quick) {
    s.rounds = 2;
    s.build_rounds = 1;
    s.read_records = 3000;
    s.get_ops = server ? 600 : 3000;
    s.put_ops = server ? 300 : 1000;
    s.batches = 2;
    s.get_many_calls = server ? 10 : 30;
    s.put_index_ops = 1000;
    s.query_records = 3000;
    s.eq_queries = 300;
    s.range_queries = 100;
    s.scans = 2;
    s.build_records = 20000;
    s.build_phase_seconds = 0.3;
    s.writer_ops = 3000;
    s.rebalance_records = 5000;
    s.rebalance_rounds = 1;
    s.rebalance_phase_seconds = 0.5;
  }
  return s;
}

void Scale::Apply(const std::string& text, const std::string& where) {
  YAML::Node node = YAML::Load(text);
  if (!node.IsMap()) throw BenchError(where + ": expected a map of sizes");
  struct SizeField {
    const char* name;
    size_t Scale::*member;
  };
  static const SizeField kSizes[] = {
      {"read_records", &Scale::read_records}, {"get_ops", &Scale::get_ops},
      {"put_ops", &Scale::put_ops},           {"batch_size", &Scale::batch_size},
      {"batches", &Scale::batches},           {"get_many_calls", &Scale::get_many_calls},
      {"get_many_size", &Scale::get_many_size}, {"put_index_ops", &Scale::put_index_ops},
      {"query_records", &Scale::query_records}, {"eq_hits", &Scale::eq_hits},
      {"eq_queries", &Scale::eq_queries},     {"range_hits", &Scale::range_hits},
      {"range_queries", &Scale::range_queries}, {"scans", &Scale::scans},
      {"build_records", &Scale::build_records}, {"writer_ops", &Scale::writer_ops},
  };
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    bool known = false;
    for (const SizeField& f : kSizes) {
      if (key == f.name) {
        this->*f.member = kv.second.as<size_t>();
        known = true;
      }
    }
    if (key == "rounds") rounds = kv.second.as<int>(), known = true;
    if (key == "build_rounds") build_rounds = kv.second.as<int>(), known = true;
    if (key == "build_chunk") build_chunk = kv.second.as<int>(), known = true;
    if (key == "build_phase_seconds") build_phase_seconds = kv.second.as<double>(), known = true;
    if (key == "rebalance_records") rebalance_records = kv.second.as<size_t>(), known = true;
    if (key == "rebalance_rounds") rebalance_rounds = kv.second.as<int>(), known = true;
    if (key == "rebalance_buckets") rebalance_buckets = kv.second.as<uint32_t>(), known = true;
    if (key == "rebalance_phase_seconds") {
      rebalance_phase_seconds = kv.second.as<double>(), known = true;
    }
    if (key == "rebalance_pace") rebalance_pace = kv.second.as<double>(), known = true;
    if (key == "rebalance_parallel") rebalance_parallel = kv.second.as<int>(), known = true;
    if (key == "rebalance_chunk") rebalance_chunk = kv.second.as<int>(), known = true;
    if (!known) throw BenchError(where + ": unknown size '" + key + "'");
  }
  if (rounds < 1 || build_rounds < 1 || eq_hits < 1 || range_hits < 1 || batch_size < 1 ||
      rebalance_rounds < 1 || rebalance_records < 1) {
    throw BenchError(where + ": rounds, build_rounds, eq_hits, range_hits, batch_size, "
                             "rebalance_rounds, rebalance_records must be >= 1");
  }
  if (rebalance_pace <= 0 || rebalance_pace > 1) {
    throw BenchError(where + ": rebalance_pace must be in (0, 1]");
  }
}

}  // namespace bench
