// Shared helpers of the conformance suite (one suite, run once per backend:
// LIBSHARD_TEST_BACKEND = sqlite | postgres | mariadb | mixed).
//
// Every TEST_CASE builds its own cluster with MakeCluster (entity names are
// unique per process run), runs Store::Init and opens a Store.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "libshard/libshard.h"
#include "support/test_cluster.h"

namespace doctest {
template <>
struct StringMaker<libshard::Code> {
  static String convert(libshard::Code c) {
    return String(libshard::CodeName(c));
  }
};
template <>
struct StringMaker<libshard::Document> {
  static String convert(const libshard::Document& d) {
    std::string json = d.ToJson();
    if (json.size() > 300) {
      json = json.substr(0, 300) + "… (" + std::to_string(json.size()) + " chars)";
    }
    return String(json.c_str());
  }
};
}  // namespace doctest

namespace conformance {

using namespace libshard;  // NOLINT: test code
using libshard::testing::BackendFromEnv;
using libshard::testing::ClusterSpec;
using libshard::testing::MakeCluster;
using libshard::testing::TestBackend;
using libshard::testing::TestBackendName;
using libshard::testing::TestCluster;

inline std::string Describe(const Status& s) { return s.ToString(); }
template <typename T>
std::string Describe(const Result<T>& r) {
  return r.status().ToString();
}
inline Code CodeOf(const Status& s) { return s.code(); }
template <typename T>
Code CodeOf(const Result<T>& r) {
  return r.status().code();
}

// REQUIRE/CHECK that a Status or Result is OK, printing the error if not.
#define REQUIRE_OK(expr)                                             \
  do {                                                               \
    const auto& ls_ok_ = (expr);                                     \
    REQUIRE_MESSAGE(ls_ok_.ok(), ::conformance::Describe(ls_ok_));   \
  } while (0)
#define CHECK_OK(expr)                                               \
  do {                                                               \
    const auto& ls_ok_ = (expr);                                     \
    CHECK_MESSAGE(ls_ok_.ok(), ::conformance::Describe(ls_ok_));     \
  } while (0)
// CHECK that a Status or Result failed with `code`.
#define CHECK_CODE(expr, code)                                                \
  do {                                                                        \
    const auto& ls_st_ = (expr);                                              \
    CHECK_MESSAGE(::conformance::CodeOf(ls_st_) == (code),                    \
                  "expected " << ::libshard::CodeName(code) << ", got "       \
                              << ::conformance::Describe(ls_st_));            \
  } while (0)

// Prints the backend under test once per process.
inline void AnnounceBackend() {
  static std::once_flag once;
  std::call_once(once, [] {
    MESSAGE("libshard conformance suite on backend: "
            << std::string(TestBackendName(BackendFromEnv())));
  });
}

// One cluster per test case: the config, and an open Store on it.
struct Env {
  TestCluster cluster;
  std::unique_ptr<Store> store;
  Store& operator*() { return *store; }
  Store* operator->() { return store.get(); }
  std::string Entity(const std::string& name) const { return cluster.Entity(name); }
};

// An index column and an index, as the YAML would declare them.
inline IndexColumnConfig Col(std::string name, ColumnType type, std::string field,
                             bool lower = false) {
  IndexColumnConfig c;
  c.name = std::move(name);
  c.type = type;
  c.field = std::move(field);
  c.lower = lower;
  return c;
}
inline IndexConfig Idx(std::string name, std::vector<IndexColumnConfig> columns,
                       bool unique = false, std::vector<std::string> databases = {"idx0"}) {
  IndexConfig ix;
  ix.name = std::move(name);
  ix.columns = std::move(columns);
  ix.unique = unique;
  ix.databases = std::move(databases);
  return ix;
}

inline ClusterSpec Spec(std::vector<std::string> entities, int shards = 4) {
  ClusterSpec spec;
  spec.shards = shards;
  for (auto& name : entities) {
    EntityConfig e;
    e.name = name;
    spec.entities.push_back(std::move(e));
  }
  return spec;
}

// MakeCluster on the backend under test, Init, Open.
inline Env OpenCluster(const ClusterSpec& spec, const Options& options = {},
                       TestBackend backend = BackendFromEnv()) {
  AnnounceBackend();
  Env env;
  env.cluster = MakeCluster(backend, spec);
  Status init = Store::Init(env.cluster.config, options);
  REQUIRE_MESSAGE(init.ok(), "Store::Init: " << init.ToString());
  Result<std::unique_ptr<Store>> store = Store::Open(env.cluster.config, options);
  REQUIRE_MESSAGE(store.ok(), "Store::Open: " << store.status().ToString());
  env.store = std::move(store).value();
  return env;
}

inline WriteOptions IfVersion(uint64_t v) {
  WriteOptions o;
  o.if_version = v;
  return o;
}

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Printable form of an id in messages.
inline std::string Show(std::string_view id) {
  bool printable = std::all_of(id.begin(), id.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  return printable ? "'" + std::string(id) + "'" : "0x" + ids::ToHex(id);
}

// Distinct string ids, `per_shard` of them on each of the first `shards`
// shards of `store` (e.g. to guarantee a request spans shards).
inline std::vector<std::vector<Id>> IdsPerShard(const Store& store, const std::string& prefix,
                                                size_t per_shard) {
  const auto& shards = store.config().shards;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < shards.size(); ++i) index[shards[i]] = i;
  std::vector<std::vector<Id>> out(shards.size());
  for (int n = 0; n < 1000000; ++n) {
    Id id = prefix + std::to_string(n);
    auto& bucket = out[index.at(store.Locate(id).shard)];
    if (bucket.size() < per_shard) bucket.push_back(id);
    bool done = std::all_of(out.begin(), out.end(),
                            [&](const std::vector<Id>& v) { return v.size() >= per_shard; });
    if (done) return out;
  }
  FAIL("could not find " << per_shard << " ids on every shard");
  return out;
}

// Records of `entity` per shard, from Stats (absent shards count 0).
inline std::map<std::string, uint64_t> CountsByShard(Store& store, const std::string& entity) {
  Result<std::vector<EntityCount>> stats = store.Stats();
  REQUIRE_OK(stats);
  std::map<std::string, uint64_t> out;
  for (const EntityCount& c : *stats) {
    if (c.entity == entity) out[c.shard] += c.records;
  }
  return out;
}

inline uint64_t Sum(const std::map<std::string, uint64_t>& m) {
  uint64_t total = 0;
  for (const auto& [k, v] : m) total += v;
  return total;
}

}  // namespace conformance
