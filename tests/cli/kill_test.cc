// The index guarantee under crashes: a writer killed with SIGKILL at random
// moments, many times, never leaves a ready index *missing* a row of a
// record whose write committed. Rows may dangle (a kill between the record
// commit and the cleanup of the old rows); repair removes them.
//
// Each round starts `shardctl import` of a file that rewrites records with
// new indexed values (tags for a multi-row index, a unique e-mail), in small
// batches, and kills it part-way through its writes (timed from a first,
// unkilled import, so the kill lands while it writes on any build). Runs on the backend named by
// LIBSHARD_TEST_BACKEND (SQLite by default).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"
#include "support/test_cluster.h"

namespace {

using Json = nlohmann::json;

using libshard::testing::ReadFile;
using libshard::testing::WriteFile;

pid_t Start(const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path) {
  return libshard::testing::Spawn(SHARDCTL_PATH, args, out_path, err_path);
}

// Exit status, or 128 + signal.
int Reap(pid_t pid) {
  std::optional<int> status = libshard::testing::Wait(pid, std::chrono::minutes(5));
  REQUIRE_MESSAGE(status.has_value(), "shardctl timed out");
  return *status;
}

struct Ran {
  int exit_code;
  std::string out, err;
};

Ran Shardctl(const std::string& dir, const std::vector<std::string>& args) {
  static int n = 0;
  const std::string base = dir + "/cmd" + std::to_string(++n);
  Ran r;
  r.exit_code = Reap(Start(args, base + ".out", base + ".err"));
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  return r;
}

Json FirstLine(const Ran& r) {
  std::string line = r.out.substr(0, r.out.find('\n'));
  Json j = Json::parse(line, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.out << "\nstderr: " << r.err);
  return j;
}

libshard::IndexColumnConfig Col(std::string name, std::string field, bool lower = false) {
  libshard::IndexColumnConfig c;
  c.name = std::move(name);
  c.type = libshard::ColumnType::kString;
  c.field = std::move(field);
  c.lower = lower;
  return c;
}

}  // namespace

TEST_CASE("writers killed with SIGKILL at random moments never leave a ready index missing rows") {
  constexpr int kRounds = 15;
  constexpr int kRecords = 6000;

  libshard::testing::ClusterSpec spec;
  libshard::EntityConfig items;
  items.name = "items";
  libshard::IndexConfig by_tag;
  by_tag.name = "by_tag";
  by_tag.databases = {"idx0"};
  by_tag.columns = {Col("tag", "tags[]")};
  libshard::IndexConfig by_email;
  by_email.name = "by_email";
  by_email.databases = {"idx0"};
  by_email.unique = true;
  by_email.columns = {Col("email", "email", true)};
  items.indexes = {by_tag, by_email};
  spec.entities = {items};
  libshard::testing::TestCluster tc =
      libshard::testing::MakeCluster(libshard::testing::BackendFromEnv(), spec);
  const std::string cfg = tc.yaml_path;
  const std::string e = tc.Entity("items");

  Ran init = Shardctl(tc.dir, {"-c", cfg, "init"});
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  for (const std::string index : {"by_tag", "by_email"}) {
    Ran built = Shardctl(tc.dir, {"-c", cfg, "index", "build", e, index, "-q"});
    REQUIRE_MESSAGE(built.exit_code == 0, built.err);
    REQUIRE(FirstLine(built)["state"] == "ready");
  }

  // shardctl's start-up (config, catalog, index states, connections) takes
  // from a few ms on SQLite to a few hundred on a server: the kill comes
  // 10–300 ms after that, while the import is writing.
  int startup_ms = 1000000;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Ran probe = Shardctl(tc.dir, {"-c", cfg, "get", e, "no-such-id"});
    REQUIRE(probe.exit_code == 3);
    startup_ms = std::min<int>(
        startup_ms, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()));
  }
  MESSAGE("shardctl start-up: " << startup_ms << " ms");

  std::mt19937 rng(std::random_device{}());
  // Every round rewrites the records, in a shuffled order, with values that
  // differ from the previous round's (old rows become stale).
  auto write_round = [&](int round) {
    std::vector<int> order(kRecords);
    for (int i = 0; i < kRecords; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::string text;
    for (int i : order) {
      Json doc = {{"n", i},
                  {"round", round},
                  {"email", "Item" + std::to_string(i) + "-R" + std::to_string(round) + "@x.org"},
                  {"tags", {"r" + std::to_string(round), "m" + std::to_string((i + round) % 13)}}};
      text += Json{{"id", "k" + std::to_string(i)}, {"doc", doc}}.dump() + "\n";
    }
    const std::string file = tc.dir + "/round" + std::to_string(round) + ".jsonl";
    WriteFile(file, text);
    return file;
  };
  auto start_import = [&](int round, const std::string& file) {
    const std::string base = tc.dir + "/import" + std::to_string(round);
    return Start({"-c", cfg, "import", e, file, "-q", "--batch", "20"}, base + ".out",
                 base + ".err");
  };

  // Round 0 runs to the end and is timed, so that later kills land while an
  // import writes however fast this build is (sanitizers slow it 3-10x).
  const std::string first = write_round(0);
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(Reap(start_import(0, first)) == 0);
  const int import_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  const int write_ms = std::max(20, import_ms - startup_ms);
  MESSAGE("a whole import: " << import_ms << " ms, of which writing ~" << write_ms << " ms");

  int killed = 0, finished = 0;
  for (int round = 1; round <= kRounds; ++round) {
    const std::string file = write_round(round);
    // Kill somewhere between 5% and 90% of the way through the writes.
    const int delay_ms =
        startup_ms + std::uniform_int_distribution<int>(write_ms / 20, write_ms * 9 / 10)(rng);
    const pid_t pid = start_import(round, file);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    const int status = Reap(pid);
    if (status == 128 + SIGKILL) {
      ++killed;
    } else {
      INFO("round " << round << ": " << ReadFile(tc.dir + "/import" + std::to_string(round) + ".err"));
      CHECK(status == 0);
      ++finished;
    }
  }
  MESSAGE(killed << " of " << kRounds << " imports killed mid-way, " << finished << " finished");
  CHECK(killed >= kRounds / 2);

  // The killed imports did write: records of rounds after 0 exist.
  Ran exported = Shardctl(tc.dir, {"-c", cfg, "export", e});
  REQUIRE(exported.exit_code == 0);
  size_t records = 0, rewritten = 0;
  std::istringstream lines(exported.out);
  for (std::string line; std::getline(lines, line);) {
    ++records;
    if (Json::parse(line)["doc"]["round"].get<int>() > 0) ++rewritten;
  }
  MESSAGE(records << " records, " << rewritten << " rewritten by the killed imports");
  CHECK(records == static_cast<size_t>(kRecords));
  CHECK(rewritten > 0);

  for (const std::string index : {"by_tag", "by_email"}) {
    CAPTURE(index);
    Ran verify = Shardctl(tc.dir, {"-c", cfg, "index", "verify", e, index});
    const Json counts = FirstLine(verify);
    MESSAGE(index << " after the kills: " << counts.dump());
    CHECK(counts["missing"] == 0);
    CHECK(verify.exit_code == (counts["dangling"] == 0 ? 0 : 1));

    Ran repair = Shardctl(tc.dir, {"-c", cfg, "index", "repair", e, index});
    CHECK(repair.exit_code == 0);
    CHECK(FirstLine(repair)["dangling"] == counts["dangling"]);
    CHECK(FirstLine(repair)["missing"] == 0);

    Ran again = Shardctl(tc.dir, {"-c", cfg, "index", "verify", e, index});
    CHECK(again.exit_code == 0);
    CHECK(FirstLine(again) == Json{{"missing", 0}, {"dangling", 0}});
  }
}
