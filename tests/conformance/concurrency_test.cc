// One Store shared by many threads: compare-and-set loops lose no update,
// versions are never handed out twice, racing creates have one winner.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conformance/conformance.h"

using namespace conformance;  // NOLINT

namespace {

// Errors seen on worker threads (doctest assertions stay on the main thread).
class Problems {
 public:
  void Add(std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (list_.size() < 20) list_.push_back(std::move(what));
    ++count_;
  }
  void Report() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& p : list_) MESSAGE(p);
    CHECK(count_ == 0);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> list_;
  int count_ = 0;
};

}  // namespace

TEST_SUITE("concurrency") {

TEST_CASE("8 threads x 50 compare-and-set increments of one id lose no increment") {
  Env env = OpenCluster(Spec({"counters"}));
  const std::string e = env.Entity("counters");
  const Id id = "the-counter";
  Result<uint64_t> created =
      env->Put(e, id, Document::MakeObject({{"counter", 0}, {"by", "init"}}), IfVersion(0));
  REQUIRE_OK(created);
  REQUIRE(*created == 1);

  constexpr int kThreads = 8;
  constexpr int kIncrements = 50;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  std::atomic<long> conflicts{0};
  Problems problems;
  std::vector<uint64_t> versions[kThreads];
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int done = 0;
      while (done < kIncrements) {
        if (std::chrono::steady_clock::now() > deadline) {
          problems.Add("thread " + std::to_string(t) + " timed out after " +
                       std::to_string(done) + " increments");
          return;
        }
        Result<Record> rec = env->Get(e, id);
        if (!rec.ok()) {
          problems.Add("get: " + rec.status().ToString());
          return;
        }
        Document next = rec->doc;
        next["counter"] = next["counter"].as_int() + 1;
        next["by"] = "thread " + std::to_string(t);
        Result<uint64_t> v = env->Put(e, id, next, IfVersion(rec->version));
        if (v.ok()) {
          if (*v != rec->version + 1) {
            problems.Add("put(if_version " + std::to_string(rec->version) +
                         ") returned version " + std::to_string(*v));
          }
          versions[t].push_back(*v);
          ++done;
        } else if (v.status().code() == Code::kVersionConflict) {
          ++conflicts;
        } else {
          problems.Add("put: " + v.status().ToString());
          return;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  problems.Report();
  MESSAGE("compare-and-set conflicts retried: " << conflicts.load());

  Result<Record> final_rec = env->Get(e, id);
  REQUIRE_OK(final_rec);
  CHECK(final_rec->doc.Find("counter")->as_int() == kThreads * kIncrements);
  CHECK(final_rec->version == 1 + kThreads * kIncrements);
  // Every successful write got a distinct version: 2..401.
  std::vector<uint64_t> all;
  for (const auto& v : versions) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  CHECK(all.size() == kThreads * kIncrements);
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  if (!all.empty()) {
    CHECK(all.front() == 2);
    CHECK(all.back() == 1 + kThreads * kIncrements);
  }
}

TEST_CASE("concurrent blind Puts of one id never hand out the same version twice") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  const Id id = "blind";
  REQUIRE_OK(env->Put(e, id, Document::MakeObject({{"t", -1}})));
  constexpr int kThreads = 8;
  constexpr int kWrites = 25;
  Problems problems;
  std::vector<uint64_t> versions[kThreads];
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int w = 0; w < kWrites; ++w) {
        Result<uint64_t> v = env->Put(e, id, Document::MakeObject({{"t", t}, {"w", w}}));
        if (!v.ok()) {
          problems.Add("put: " + v.status().ToString());
          return;
        }
        versions[t].push_back(*v);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  problems.Report();
  std::vector<uint64_t> all;
  for (const auto& v : versions) {
    // Per thread, versions grow.
    CHECK(std::is_sorted(v.begin(), v.end()));
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<uint64_t> expected;
  for (uint64_t v = 2; v <= 1 + kThreads * kWrites; ++v) expected.push_back(v);
  CHECK(all == expected);
  Result<Record> rec = env->Get(e, id);
  REQUIRE_OK(rec);
  CHECK(rec->version == 1 + kThreads * kWrites);
  // The stored body is the body of the write that got the last version.
  const Document* t = rec->doc.Find("t");
  const Document* w = rec->doc.Find("w");
  REQUIRE(t != nullptr);
  REQUIRE(w != nullptr);
  CHECK(versions[t->as_int()][w->as_int()] == rec->version);
}

TEST_CASE("racing creates with if_version 0: exactly one winner, the others get kVersionConflict") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const Id id = "race-" + std::to_string(round);
    std::atomic<int> winners{0}, conflicts{0};
    std::atomic<int> winner_thread{-1};
    Problems problems;
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        Result<uint64_t> v = env->Put(e, id, Document::MakeObject({{"winner", t}}), IfVersion(0));
        if (v.ok()) {
          ++winners;
          winner_thread = t;
          if (*v != 1) problems.Add("winner got version " + std::to_string(*v));
        } else if (v.status().code() == Code::kVersionConflict) {
          ++conflicts;
        } else {
          problems.Add("put: " + v.status().ToString());
        }
      });
    }
    go = true;
    for (std::thread& th : threads) th.join();
    problems.Report();
    CHECK_MESSAGE(winners.load() == 1, "round " << round);
    CHECK_MESSAGE(conflicts.load() == kThreads - 1, "round " << round);
    Result<Record> rec = env->Get(e, id);
    REQUIRE_OK(rec);
    CHECK(rec->version == 1);
    CHECK(rec->doc == Document::MakeObject({{"winner", winner_thread.load()}}));
  }
}

TEST_CASE("threads writing and reading distinct ids through one Store") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  Problems problems;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<PutItem> batch;
      for (int i = 0; i < kPerThread; ++i) {
        Id id = "t" + std::to_string(t) + "-" + std::to_string(i);
        Document d = Document::MakeObject({{"t", t}, {"i", i}});
        if (i % 2 == 0) {
          Result<uint64_t> v = env->Put(e, id, d);
          if (!v.ok() || *v != 1) {
            problems.Add("put " + id + ": " + v.status().ToString());
            continue;
          }
          Result<Record> rec = env->Get(e, id);
          if (!rec.ok() || !(rec->doc == d)) {
            problems.Add("read-your-write " + id + ": " + rec.status().ToString());
          }
        } else {
          batch.push_back(PutItem{id, d, {}});
        }
      }
      Result<std::vector<uint64_t>> v = env->PutMany(e, batch);
      if (!v.ok()) problems.Add("put_many: " + v.status().ToString());
      std::vector<Id> mine;
      for (int i = 0; i < kPerThread; ++i) {
        mine.push_back("t" + std::to_string(t) + "-" + std::to_string(i));
      }
      Result<std::vector<Record>> got = env->GetMany(e, mine);
      if (!got.ok()) {
        problems.Add("get_many: " + got.status().ToString());
      } else if (got->size() != mine.size()) {
        problems.Add("get_many returned " + std::to_string(got->size()) + " of " +
                     std::to_string(mine.size()));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  problems.Report();
  Result<std::vector<Record>> all = env->ScanAll(e);
  REQUIRE_OK(all);
  CHECK(all->size() == kThreads * kPerThread);
  CHECK(Sum(CountsByShard(*env, e)) == kThreads * kPerThread);
}

}  // TEST_SUITE
