// shardctl rebalance, rebalance status and move as an operator uses them:
// the real binary in child processes, stdout/stderr/exit status checked
// against the contract (PRODUCT.md "shardctl contract"). The main case adds
// two shards to a loaded cluster while another shardctl process, started
// with the old config, keeps importing.
//
// Runs on the backend named by LIBSHARD_TEST_BACKEND (SQLite by default).
// Clusters that move buckets get databases of their own
// (ClusterSpec::fresh_databases), so the shared server catalogs never see a
// changed bucket map.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"
#include "support/test_cluster.h"

namespace {

using Json = nlohmann::ordered_json;
using libshard::testing::ReadFile;
using libshard::testing::WriteFile;

struct Output {
  int exit_code = -1;
  std::string out, err;
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::vector<std::string> ErrLines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  Json JsonLine(size_t i) const {
    std::vector<std::string> lines = Lines();
    REQUIRE_MESSAGE(i < lines.size(), "no stdout line " << i << " in:\n" << out);
    return Parse(lines[i]);
  }
  // Every stdout line as JSON.
  std::vector<Json> JsonLines() const {
    std::vector<Json> out;
    for (const std::string& line : Lines()) out.push_back(Parse(line));
    return out;
  }
  static Json Parse(const std::string& line) {
    Json j = Json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << line);
    return j;
  }
  Json LastJson() const {
    REQUIRE_FALSE(Lines().empty());
    return JsonLine(Lines().size() - 1);
  }
  std::string Describe() const {
    return "exit " + std::to_string(exit_code) + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
  }
};

std::string Scratch() {
  static const std::string dir = libshard::testing::MakeTempDir("shardctl_rebalance");
  return dir;
}

std::string NextBase() {
  static int counter = 0;
  return Scratch() + "/run" + std::to_string(++counter);
}

struct Background {
  pid_t pid = -1;
  std::string out_path, err_path;
};

Background Start(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null") {
  Background b;
  const std::string base = NextBase();
  b.out_path = base + ".out";
  b.err_path = base + ".err";
  libshard::testing::SpawnOptions options;
  options.stdin_path = stdin_path;
  b.pid = libshard::testing::Spawn(SHARDCTL_PATH, args, b.out_path, b.err_path, options);
  return b;
}

Output Finish(const Background& b, int timeout_seconds = 300) {
  std::optional<int> status = libshard::testing::Wait(b.pid, std::chrono::seconds(timeout_seconds));
  Output o;
  o.out = ReadFile(b.out_path);
  o.err = ReadFile(b.err_path);
  REQUIRE_MESSAGE(status.has_value(), "shardctl timed out\n" << o.Describe());
  o.exit_code = *status;
  return o;
}

Output Run(const std::vector<std::string>& args) { return Finish(Start(args)); }

void CheckOk(const Output& o) {
  INFO(o.Describe());
  REQUIRE(o.exit_code == 0);
}

// The error contract: the exit status, and the last stderr line is the one
// "shardctl: error: …" line (progress notes may come before it).
void CheckError(const Output& o, int exit_code) {
  INFO(o.Describe());
  CHECK(o.exit_code == exit_code);
  const std::vector<std::string> lines = o.ErrLines();
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back().rfind("shardctl: error: ", 0) == 0);
  int errors = 0;
  for (const std::string& line : lines) errors += line.rfind("shardctl: error: ", 0) == 0;
  CHECK(errors == 1);
}

struct Cluster {
  libshard::testing::TestCluster tc;
  std::string users;

  Output Run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-c", tc.yaml_path});
    return ::Run(args);
  }
  Background Start(std::vector<std::string> args, const std::string& stdin_path) const {
    args.insert(args.begin(), {"-c", tc.yaml_path});
    return ::Start(args, stdin_path);
  }
  void SetShards(std::vector<std::string> shards) {
    tc.config.shards = std::move(shards);
    libshard::testing::RewriteYaml(tc);
  }
};

Cluster MakeRebalanceCluster(int shards, int spare, bool fresh = true) {
  libshard::testing::ClusterSpec spec;
  spec.shards = shards;
  spec.spare_shards = spare;
  spec.fresh_databases = fresh;
  libshard::EntityConfig users;
  users.name = "users";
  spec.entities = {users};
  Cluster c;
  c.tc = libshard::testing::MakeCluster(libshard::testing::BackendFromEnv(), spec);
  c.users = c.tc.Entity("users");
  return c;
}

std::string Line(const std::string& id, int n, const std::string& src) {
  return Json{{"id", id}, {"doc", {{"n", n}, {"src", src}}}}.dump() + "\n";
}

// id -> doc (canonical JSON) of every exported record; versions must be 1
// when `version_one` (every id was written once).
std::map<std::string, std::string> Export(const Cluster& c, bool version_one = true) {
  Output e = c.Run({"export", c.users});
  CheckOk(e);
  std::map<std::string, std::string> out;
  std::vector<std::string> twice, not_one;
  for (Json& j : e.JsonLines()) {
    const std::string id = j["id"].get<std::string>();
    if (out.count(id) != 0) twice.push_back(id);
    if (version_one && j["version"] != 1) not_one.push_back(j.dump());
    out[id] = j["doc"].dump();
  }
  CHECK_MESSAGE(twice.empty(), "exported twice: " << (twice.empty() ? "" : twice.front()));
  CHECK_MESSAGE(not_one.empty(), "version is not 1: " << (not_one.empty() ? "" : not_one.front()));
  return out;
}

// Records of the test's entity per shard, from `stats`.
std::map<std::string, uint64_t> RecordsPerShard(const Cluster& c) {
  Output s = c.Run({"stats"});
  CheckOk(s);
  std::map<std::string, uint64_t> out;
  for (Json& j : s.JsonLines()) {
    if (j.contains("entity") && j["entity"] == c.users) {
      out[j["shard"].get<std::string>()] += j["records"].get<uint64_t>();
    }
  }
  return out;
}

// `rebalance status`: the move lines and the summary.
struct StatusView {
  std::vector<Json> moves;
  Json summary;
  std::map<std::string, Json> shards;  // by shard name
};

StatusView RebalanceStatus(const Cluster& c) {
  Output o = c.Run({"rebalance", "status"});
  CheckOk(o);
  INFO(o.Describe());
  StatusView s;
  s.moves = o.JsonLines();
  REQUIRE_FALSE(s.moves.empty());
  s.summary = s.moves.back();
  s.moves.pop_back();
  std::vector<std::string> keys;
  for (auto it = s.summary.begin(); it != s.summary.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"in_progress", "failed", "shards"});
  REQUIRE(s.summary["shards"].is_array());
  for (const Json& share : s.summary["shards"]) {
    std::vector<std::string> share_keys;
    for (auto it = share.begin(); it != share.end(); ++it) share_keys.push_back(it.key());
    CHECK(share_keys == std::vector<std::string>{"shard", "buckets", "target", "weight"});
    s.shards[share["shard"].get<std::string>()] = share;
  }
  return s;
}

// Writes to a FIFO the import reads from; SIGPIPE is ignored so a dead
// reader shows as a failed write, not a dead test.
class Feeder {
 public:
  explicit Feeder(const std::string& path) : path_(path) {}
  void Open() {
    signal(SIGPIPE, SIG_IGN);
    fd_ = ::open(path_.c_str(), O_WRONLY);  // waits for the reader
    REQUIRE_MESSAGE(fd_ >= 0, "open " << path_ << ": " << std::strerror(errno));
  }
  // Writes lines for ids f<next>…f<next+count-1>.
  void Feed(int count) {
    std::string text;
    for (int i = 0; i < count; ++i, ++next_) {
      const std::string id = "f" + std::to_string(next_);
      text += Line(id, next_, "second");
      expected_[id] = Json{{"n", next_}, {"src", "second"}}.dump();
    }
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t w = ::write(fd_, text.data() + done, text.size() - done);
      if (w < 0 && errno == EINTR) continue;
      REQUIRE_MESSAGE(w > 0, "writing to the import: " << std::strerror(errno));
      done += static_cast<size_t>(w);
    }
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  ~Feeder() { Close(); }
  int fed() const { return next_; }
  const std::map<std::string, std::string>& expected() const { return expected_; }

 private:
  std::string path_;
  int fd_ = -1;
  int next_ = 0;
  std::map<std::string, std::string> expected_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("shardctl rebalance") {

TEST_CASE("rebalance cli: help and usage errors") {
  Output help = Run({"--help"});
  CheckOk(help);
  CHECK(Contains(help.out, "rebalance"));
  CHECK(Contains(help.out, "move"));
  Output rhelp = Run({"rebalance", "--help"});
  CheckOk(rhelp);
  for (const char* word : {"--drain", "--dry-run", "--parallel", "status"}) {
    CHECK_MESSAGE(Contains(rhelp.out, word), word);
  }
  Cluster c = MakeRebalanceCluster(4, 0, /*fresh=*/false);
  CheckError(c.Run({"move"}), 2);
  CheckError(c.Run({"move", "5"}), 2);
  CheckError(c.Run({"move", "abc", "s1"}), 2);
  CheckError(c.Run({"move", "-1", "s1"}), 2);
  CheckError(c.Run({"move", "5x", "s1"}), 2);
  CheckError(c.Run({"move", "1024", "s1"}), 2);  // buckets are 0..1023
  CheckError(c.Run({"move", "5", "s1", "extra"}), 2);
  CheckError(c.Run({"rebalance", "--parallel", "0"}), 2);
  CheckError(c.Run({"rebalance", "--drain"}), 2);
  CheckError(c.Run({"rebalance", "status", "extra"}), 2);
}

TEST_CASE("rebalance cli: unknown shard for move and drain exits 2") {
  Cluster c = MakeRebalanceCluster(4, 0, /*fresh=*/false);
  Output move = c.Run({"move", "5", "s9"});
  CheckError(move, 2);
  CHECK(Contains(move.err, "unknown shard 's9'"));
  CHECK(Contains(move.err, "s0, s1, s2, s3"));
  CHECK(move.out.empty());
  Output drain = c.Run({"rebalance", "--drain", "s9"});
  CheckError(drain, 2);
  CHECK(Contains(drain.err, "unknown shard 's9'"));
  CHECK(drain.out.empty());
  Output dry = c.Run({"rebalance", "--dry-run", "--drain", "s1", "--drain", "nope"});
  CheckError(dry, 2);
  CHECK(Contains(dry.err, "'nope'"));
  CHECK(dry.out.empty());
}

TEST_CASE("rebalance cli: two shards added while an import runs") {
  Cluster c = MakeRebalanceCluster(4, 2);
  CheckOk(c.Run({"init"}));
  std::map<std::string, std::string> expected;
  {
    std::string text;
    for (int i = 0; i < 3000; ++i) {
      const std::string id = "u" + std::to_string(i);
      text += Line(id, i, "first");
      expected[id] = Json{{"n", i}, {"src", "first"}}.dump();
    }
    const std::string file = Scratch() + "/first.jsonl";
    WriteFile(file, text);
    Output imported = c.Run({"import", c.users, file});
    CheckOk(imported);
    CHECK(imported.out == "3000\n");
  }

  // The second import reads a FIFO, so it is certainly still running (with
  // the 4-shard config it started with) while the shards are added and the
  // buckets move.
  const std::string fifo = Scratch() + "/second.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  Background import = c.Start({"import", c.users, "-", "--batch", "20"}, fifo);
  Feeder feeder(fifo);
  feeder.Open();
  feeder.Feed(100);
  // Wait until the import has opened the store and committed (with the old
  // config) before the YAML changes.
  bool seen = false;
  for (int i = 0; i < 600 && !seen; ++i) {
    seen = c.Run({"get", c.users, "f0"}).exit_code == 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(seen, "the background import wrote nothing");
  feeder.Feed(200);

  c.SetShards({"s0", "s1", "s2", "s3", "s4", "s5"});
  Output init = c.Run({"init"});
  CheckOk(init);
  CHECK(init.JsonLine(0)["shards"] == 6);
  {
    StatusView before = RebalanceStatus(c);
    CHECK(before.shards["s4"]["buckets"] == 0);
    CHECK(before.shards["s5"]["buckets"] == 0);
    CHECK(before.shards["s0"]["buckets"] == 256);
  }

  Background rebalance = c.Start({"rebalance"}, "/dev/null");
  int fed_during = 0;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (::waitpid(rebalance.pid, &status, WNOHANG) != rebalance.pid) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "rebalance timed out");
    feeder.Feed(20);
    fed_during += 20;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Output rebalanced;
  rebalanced.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  rebalanced.out = ReadFile(rebalance.out_path);
  rebalanced.err = ReadFile(rebalance.err_path);
  CHECK(fed_during > 0);  // the import was fed while the buckets moved
  CheckOk(rebalanced);
  {
    INFO(rebalanced.Describe());
    REQUIRE(rebalanced.Lines().size() == 1);
    Json summary = rebalanced.JsonLine(0);
    std::vector<std::string> keys;
    for (auto it = summary.begin(); it != summary.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"moved", "failed", "records_copied"});
    // 1024 buckets over 6 shards: 4 x 171 + 2 x 170, so 2 x 170 or 171 moved.
    CHECK(summary["moved"].get<int>() >= 340);
    CHECK(summary["moved"].get<int>() <= 342);
    CHECK(summary["failed"] == 0);
    CHECK(summary["records_copied"].get<uint64_t>() > 0);
  }

  feeder.Feed(200);
  feeder.Close();
  Output imported = Finish(import);
  CheckOk(imported);
  CHECK(imported.out == std::to_string(feeder.fed()) + "\n");
  for (const auto& [id, doc] : feeder.expected()) expected[id] = doc;

  // Every record of both inputs, once, with its document.
  const std::map<std::string, std::string> exported = Export(c);
  CHECK(exported.size() == expected.size());
  CHECK(exported == expected);

  const std::map<std::string, uint64_t> per_shard = RecordsPerShard(c);
  uint64_t total = 0;
  for (const char* shard : {"s0", "s1", "s2", "s3", "s4", "s5"}) {
    CHECK_MESSAGE(per_shard.count(shard) == 1, shard);
    if (per_shard.count(shard) == 0) continue;
    CHECK_MESSAGE(per_shard.at(shard) > 0, shard);
    total += per_shard.at(shard);
  }
  CHECK(total == expected.size());

  StatusView after = RebalanceStatus(c);
  CHECK(after.moves.empty());
  CHECK(after.summary["in_progress"] == 0);
  CHECK(after.summary["failed"] == 0);
  REQUIRE(after.shards.size() == 6);
  int buckets = 0;
  for (const auto& [shard, share] : after.shards) {
    INFO(shard << ": " << share.dump());
    const int owned = share["buckets"].get<int>();
    CHECK((owned == 170 || owned == 171));
    CHECK(share["target"] == owned);
    CHECK(share["weight"] == 1);
    buckets += owned;
  }
  CHECK(buckets == 1024);

  Output again = c.Run({"rebalance", "--dry-run"});
  CheckOk(again);
  CHECK(again.out.empty());
}

TEST_CASE("rebalance cli: dry-run prints the plan and changes nothing") {
  Cluster c = MakeRebalanceCluster(2, 1);
  CheckOk(c.Run({"init"}));
  std::string text;
  for (int i = 0; i < 200; ++i) text += Line("d" + std::to_string(i), i, "dry");
  const std::string file = Scratch() + "/dry.jsonl";
  WriteFile(file, text);
  CheckOk(c.Run({"import", c.users, file}));

  std::vector<std::string> ids = {"d0", "d1", "d17", "d42", "d199"};
  std::map<std::string, std::string> located;
  for (const std::string& id : ids) {
    Output l = c.Run({"locate", c.users, id});
    CheckOk(l);
    located[id] = l.out;
  }

  c.SetShards({"s0", "s1", "s2"});
  CheckOk(c.Run({"init"}));
  Output dry = c.Run({"rebalance", "--dry-run"});
  CheckOk(dry);
  INFO(dry.Describe());
  const std::vector<std::string> lines = dry.Lines();
  // s2 is to own 341 of the 1024 buckets (342, 341, 341).
  CHECK(lines.size() == 341);
  std::set<int> buckets;
  std::map<std::string, int> from;
  for (const Json& j : dry.JsonLines()) {
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    REQUIRE(keys == std::vector<std::string>{"bucket", "from", "to"});
    REQUIRE(j["bucket"].is_number_integer());
    const int b = j["bucket"].get<int>();
    CHECK(b >= 0);
    CHECK(b < 1024);
    CHECK(buckets.insert(b).second);
    ++from[j["from"].get<std::string>()];
    CHECK(j["to"] == "s2");
  }
  CHECK(from.size() == 2);
  CHECK(from["s0"] + from["s1"] == 341);
  // The plan again: the same (nothing changed).
  CHECK(c.Run({"rebalance", "--dry-run"}).out == dry.out);

  for (const std::string& id : ids) CHECK(c.Run({"locate", c.users, id}).out == located[id]);
  StatusView status = RebalanceStatus(c);
  CHECK(status.moves.empty());
  CHECK(status.summary["in_progress"] == 0);
  CHECK(status.shards["s0"]["buckets"] == 512);
  CHECK(status.shards["s1"]["buckets"] == 512);
  CHECK(status.shards["s2"]["buckets"] == 0);
  CHECK(status.shards["s2"]["target"] == 341);
  CHECK(RecordsPerShard(c).count("s2") == 1);
  CHECK(RecordsPerShard(c)["s2"] == 0);
  CHECK(Export(c).size() == 200);
}

TEST_CASE("rebalance cli: a shard is removed only after a drain") {
  Cluster c = MakeRebalanceCluster(4, 0);
  CheckOk(c.Run({"init"}));
  std::map<std::string, std::string> expected;
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "r" + std::to_string(i);
    text += Line(id, i, "drain");
    expected[id] = Json{{"n", i}, {"src", "drain"}}.dump();
  }
  const std::string file = Scratch() + "/drain.jsonl";
  WriteFile(file, text);
  CheckOk(c.Run({"import", c.users, file}));
  CHECK(RecordsPerShard(c)["s1"] > 0);

  // Removing s1 while it owns buckets is refused, saying what to do.
  c.SetShards({"s0", "s2", "s3"});
  Output refused = c.Run({"get", c.users, "r1"});
  CheckError(refused, 2);
  CHECK(Contains(refused.err, "'s1'"));
  CHECK(Contains(refused.err, "owns 256 buckets"));
  CHECK(Contains(refused.err, "rebalance --drain s1"));
  CheckError(c.Run({"init"}), 2);

  c.SetShards({"s0", "s1", "s2", "s3"});
  Output drained = c.Run({"rebalance", "--drain", "s1"});
  CheckOk(drained);
  Json summary = drained.LastJson();
  CHECK(summary["moved"] == 256);
  CHECK(summary["failed"] == 0);
  StatusView status = RebalanceStatus(c);
  CHECK(status.moves.empty());
  CHECK(status.shards["s1"]["buckets"] == 0);
  CHECK(RecordsPerShard(c)["s1"] == 0);
  // Nothing more to drain.
  Output dry = c.Run({"rebalance", "--drain", "s1", "--dry-run"});
  CheckOk(dry);
  CHECK(dry.out.empty());

  // Now s1 may go: every record is still readable.
  c.SetShards({"s0", "s2", "s3"});
  Output get = c.Run({"get", c.users, "r1"});
  CheckOk(get);
  CHECK(Json::parse(get.out).dump() == expected["r1"]);
  CHECK(Export(c) == expected);
  StatusView after = RebalanceStatus(c);
  REQUIRE(after.shards.size() == 3);
  CHECK(after.shards.count("s1") == 0);
  int buckets = 0;
  for (const auto& [shard, share] : after.shards) buckets += share["buckets"].get<int>();
  CHECK(buckets == 1024);
  // The three left hold even shares already.
  CheckOk(dry = c.Run({"rebalance", "--dry-run"}));
  CHECK(dry.out.empty());
}

TEST_CASE("rebalance cli: move of one bucket keeps the record") {
  Cluster c = MakeRebalanceCluster(4, 0);
  CheckOk(c.Run({"init"}));
  CheckOk(c.Run({"put", c.users, "ada", R"({"name":"Ada"})"}));
  CheckOk(c.Run({"put", c.users, "ada", R"({"name":"Ada L.","n":[1,2.5]})"}));
  Output meta = c.Run({"get", c.users, "ada", "--meta"});
  CheckOk(meta);
  Json before = meta.JsonLine(0);
  CHECK(before["version"] == 2);

  Output loc = c.Run({"locate", c.users, "ada"});
  CheckOk(loc);
  const int bucket = loc.JsonLine(0)["bucket"].get<int>();
  const std::string from = loc.JsonLine(0)["shard"].get<std::string>();
  const std::string to = from == "s2" ? "s3" : "s2";

  Output move = c.Run({"move", std::to_string(bucket), to});
  CheckOk(move);
  CHECK(move.out == Json{{"bucket", bucket}, {"to", to}}.dump() + "\n");
  CHECK(c.Run({"locate", c.users, "ada"}).out ==
        Json{{"bucket", bucket}, {"shard", to}}.dump() + "\n");
  Output moved = c.Run({"get", c.users, "ada", "--meta"});
  CheckOk(moved);
  Json after = moved.JsonLine(0);
  CHECK(after["version"] == 2);
  CHECK(after["updated"] == before["updated"]);
  CHECK(after["doc"].dump() == before["doc"].dump());
  CHECK(RecordsPerShard(c)[from] == 0);
  CHECK(RecordsPerShard(c)[to] == 1);

  // Moving it where it is: nothing to do, same answer.
  Output again = c.Run({"move", std::to_string(bucket), to});
  CheckOk(again);
  CHECK(again.out == move.out);
  StatusView status = RebalanceStatus(c);
  CHECK(status.moves.empty());
  CHECK(status.shards[to]["buckets"] == 257);
  CHECK(status.shards[from]["buckets"] == 255);

  // A write after the move goes to the new shard and continues the versions.
  Output put = c.Run({"put", c.users, "ada", R"({"name":"Ada K."})"});
  CheckOk(put);
  CHECK(put.out == "3\n");
  CHECK(RecordsPerShard(c)[to] == 1);
}

}  // TEST_SUITE
