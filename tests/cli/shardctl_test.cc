// shardctl as scripts use it: the real binary, run as a child process, its
// stdout, stderr and exit status checked against the contract in PRODUCT.md
// ("shardctl contract").
//
// Record tests run on the backend named by LIBSHARD_TEST_BACKEND (SQLite by
// default; MakeCluster builds the server configs). Tests of config handling
// and of unreachable databases always use a SQLite cluster written here,
// with one shard swapped for an address where nothing listens.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/process.h"
#include "support/test_cluster.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using libshard::testing::TestBackend;

// --- running the binary ------------------------------------------------------

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  double seconds = 0;

  std::vector<std::string> OutLines() const { return Lines(out); }
  std::vector<std::string> ErrLines() const { return Lines(err); }
  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  }
  // Parses stdout line `i` as JSON (failing the test if it is not).
  Json OutJson(std::size_t i = 0) const {
    const std::vector<std::string> lines = OutLines();
    REQUIRE(i < lines.size());
    Json j = Json::parse(lines[i], nullptr, /*allow_exceptions=*/false);
    REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << lines[i]);
    return j;
  }
};

struct RunOptions {
  std::string input;                  // stdin
  std::string cwd;                    // working directory ("" = inherit)
  std::map<std::string, std::string> env;  // variables to set
  int timeout_seconds = 120;
};

using libshard::testing::ReadFile;
using libshard::testing::WriteFile;

std::string ScratchDir() {
  static const std::string dir = libshard::testing::MakeTempDir("shardctl_io");
  return dir;
}

// Runs shardctl with `args`; LIBSHARD_CONFIG is unset unless options.env
// sets it, so the caller's environment cannot leak in.
RunResult RunShardctl(const std::vector<std::string>& args, const RunOptions& options = {}) {
  static int counter = 0;
  const std::string base = ScratchDir() + "/run" + std::to_string(++counter);
  const std::string in_path = base + ".in", out_path = base + ".out",
                    err_path = base + ".err";
  WriteFile(in_path, options.input);

  libshard::testing::SpawnOptions spawn;
  spawn.stdin_path = in_path;
  spawn.cwd = options.cwd;
  spawn.env = options.env;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = libshard::testing::Spawn(SHARDCTL_PATH, args, out_path, err_path, spawn);
  const std::optional<int> status =
      libshard::testing::Wait(pid, std::chrono::seconds(options.timeout_seconds));
  const bool timed_out = !status.has_value();
  RunResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  if (status) r.exit_code = *status;
  std::string cmdline;
  for (const std::string& a : args) cmdline += " " + a;
  INFO("shardctl" << cmdline);
  REQUIRE_MESSAGE(!timed_out, "shardctl" << cmdline << " timed out");
  return r;
}

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out +
         "--- stderr:\n" + r.err;
}

// The error contract: nothing or partial output on stdout, exactly one
// stderr line "shardctl: error: …", and the expected exit status.
void CheckError(const RunResult& r, int exit_code) {
  INFO(Describe(r));
  CHECK(r.exit_code == exit_code);
  const std::vector<std::string> lines = r.ErrLines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("shardctl: error: ", 0) == 0);
  CHECK(lines[0].size() > std::string("shardctl: error: ").size());
}

void CheckOk(const RunResult& r) {
  INFO(Describe(r));
  REQUIRE(r.exit_code == 0);
}

// --- clusters ------------------------------------------------------------------

// A SQLite cluster: four record shards, a catalog and an index database, all
// files next to the YAML. `replace` swaps a database's URL (used to make a
// shard unreachable while the others stay healthy).
std::string SqliteYaml(const std::map<std::string, std::string>& replace = {}) {
  std::map<std::string, std::string> urls = {
      {"catalog", "sqlite3://db=catalog.db"}, {"s0", "sqlite3://db=s0.db"},
      {"s1", "sqlite3://db=s1.db"},           {"s2", "sqlite3://db=s2.db"},
      {"s3", "sqlite3://db=s3.db"},           {"idx0", "sqlite3://db=idx0.db"},
  };
  for (const auto& [name, url] : replace) urls[name] = url;
  std::string yaml =
      "cluster:\n"
      "  buckets: 1024\n"
      "  hash_seed: 0\n"
      "catalog: catalog\n"
      "databases:\n";
  for (const char* name : {"catalog", "s0", "s1", "s2", "s3", "idx0"}) {
    yaml += std::string("  ") + name + ": \"" + urls[name] + "\"\n";
  }
  yaml +=
      "shards: [s0, s1, s2, s3]\n"
      "entities:\n"
      "  - name: users\n"
      "  - name: posts\n";
  return yaml;
}

struct Cluster {
  std::string dir;
  std::string yaml;   // config path
  std::string users;  // entity names (unique per test on server backends)
  std::string posts;

  // shardctl -c CONFIG args…
  RunResult Run(std::vector<std::string> args, const RunOptions& options = {}) const {
    args.insert(args.begin(), {"-c", yaml});
    return RunShardctl(args, options);
  }
};

Cluster MakeSqliteCluster() {
  Cluster c;
  c.dir = libshard::testing::MakeTempDir("shardctl");
  c.yaml = c.dir + "/libshard.yaml";
  WriteFile(c.yaml, SqliteYaml());
  c.users = "users";
  c.posts = "posts";
  return c;
}

// A fresh cluster on the backend under test.
Cluster MakeTestCluster() {
  const TestBackend backend = libshard::testing::BackendFromEnv();
  if (backend == TestBackend::kSqlite) return MakeSqliteCluster();
  libshard::testing::ClusterSpec spec;
  spec.shards = 4;
  libshard::EntityConfig users, posts;
  users.name = "users";
  posts.name = "posts";
  spec.entities = {users, posts};
  libshard::testing::TestCluster tc = libshard::testing::MakeCluster(backend, spec);
  Cluster c;
  c.dir = tc.dir;
  c.yaml = tc.yaml_path;
  c.users = tc.Entity("users");
  c.posts = tc.Entity("posts");
  return c;
}

Cluster MakeInitializedCluster() {
  Cluster c = MakeTestCluster();
  CheckOk(c.Run({"init"}));
  return c;
}

// Canonical text of a JSON value (key order kept, 1 and 1.0 distinct).
std::string Canon(const std::string& json) { return Json::parse(json).dump(); }

}  // namespace

// --- tests ----------------------------------------------------------------------

TEST_CASE("help and usage errors") {
  RunResult help = RunShardctl({"--help"});
  CheckOk(help);
  for (const char* command : {"init", "put", "get", "delete", "mget", "import",
                              "export", "locate", "stats", "--config"}) {
    CHECK_MESSAGE(help.out.find(command) != std::string::npos, command);
  }
  RunResult put_help = RunShardctl({"put", "--help"});
  CheckOk(put_help);
  CHECK(put_help.out.find("--if-version") != std::string::npos);

  CheckError(RunShardctl({"frobnicate"}), 2);
  CheckError(RunShardctl({}), 2);
  CheckError(RunShardctl({"get", "users"}), 2);                     // missing ID
  CheckError(RunShardctl({"put", "users", "a", "{}", "--if-version", "abc"}), 2);
  CheckError(RunShardctl({"get", "users", "a", "extra"}), 2);
  CheckError(RunShardctl({"--no-such-option", "stats"}), 2);
}

TEST_CASE("init is idempotent") {
  Cluster c = MakeTestCluster();
  RunResult first = c.Run({"init"});
  CheckOk(first);
  RunResult second = c.Run({"init"});
  CheckOk(second);
  CHECK(first.out == second.out);
  CHECK(c.Run({"put", c.users, "a", "{\"n\":1}"}).out == "1\n");
  CheckOk(c.Run({"init"}));
  CHECK(Canon(c.Run({"get", c.users, "a"}).out) == "{\"n\":1}");
}

TEST_CASE("commands before init fail as a config problem") {
  Cluster c = MakeTestCluster();
  if (libshard::testing::BackendFromEnv() != TestBackend::kSqlite) return;  // shared catalogs
  CheckError(c.Run({"get", c.users, "a"}), 2);
}

TEST_CASE("put and get round trip") {
  Cluster c = MakeInitializedCluster();
  const std::string doc =
      R"({"name":"Ada","age":36,"score":1.5,"ratio":2.0,"big":-9007199254740993,)"
      R"("active":true,"none":null,"tags":["a","b",1,[2,3]],)"
      R"("address":{"city":"London","geo":{"lat":51.5,"lon":-0.12}},"uni":"Zoë ✓"})";
  RunResult put = c.Run({"put", c.users, "ada", doc});
  CheckOk(put);
  CHECK(put.out == "1\n");
  CHECK(put.err.empty());

  RunResult get = c.Run({"get", c.users, "ada"});
  CheckOk(get);
  REQUIRE(get.OutLines().size() == 1);
  // Same members, same order, integers stay integers and floats stay floats.
  CHECK(Canon(get.out) == Canon(doc));
  CHECK(get.OutJson()["ratio"].is_number_float());
  CHECK(get.OutJson()["age"].is_number_integer());

  // Replacing bumps the version.
  CHECK(c.Run({"put", c.users, "ada", R"({"name":"Ada L."})"}).out == "2\n");
  CHECK(Canon(c.Run({"get", c.users, "ada"}).out) == R"({"name":"Ada L."})");

  SUBCASE("--meta") {
    const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    RunResult meta = c.Run({"get", c.users, "ada", "--meta"});
    CheckOk(meta);
    Json m = meta.OutJson();
    REQUIRE(m.is_object());
    std::vector<std::string> keys;
    for (auto it = m.begin(); it != m.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"id", "version", "updated", "doc"});
    CHECK(m["id"] == "ada");
    CHECK(m["version"] == 2);
    REQUIRE(m["updated"].is_number_integer());
    const int64_t updated = m["updated"].get<int64_t>();
    CHECK(updated > before - int64_t{3600} * 1000000);  // microseconds, recent
    CHECK(updated <= before + int64_t{60} * 1000000);
    CHECK(m["doc"].dump() == R"({"name":"Ada L."})");
  }
}

TEST_CASE("put reads the document from stdin") {
  Cluster c = MakeInitializedCluster();
  RunOptions options;
  options.input = "{\"from\": \"stdin\",\n \"n\": [1, 2.5]}\n";
  RunResult put = c.Run({"put", c.users, "s1"}, options);
  CheckOk(put);
  CHECK(put.out == "1\n");
  CHECK(Canon(c.Run({"get", c.users, "s1"}).out) == R"({"from":"stdin","n":[1,2.5]})");

  options.input = R"({"dash": true})";
  CheckOk(c.Run({"put", c.users, "s2", "-"}, options));
  CHECK(Canon(c.Run({"get", c.users, "s2"}).out) == R"({"dash":true})");

  options.input = "";
  CheckError(c.Run({"put", c.users, "s3"}, options), 2);  // empty stdin
}

TEST_CASE("get of a missing record exits 3") {
  Cluster c = MakeInitializedCluster();
  RunResult r = c.Run({"get", c.users, "nobody"});
  CheckError(r, 3);
  CHECK(r.out.empty());
  CheckError(c.Run({"get", c.users, "nobody", "--meta"}), 3);
}

TEST_CASE("compare-and-set conflicts exit 4") {
  Cluster c = MakeInitializedCluster();
  CHECK(c.Run({"put", c.users, "x", "{}", "--if-version", "0"}).out == "1\n");
  CheckError(c.Run({"put", c.users, "x", "{\"a\":1}", "--if-version", "0"}), 4);
  CheckError(c.Run({"put", c.users, "x", "{\"a\":1}", "--if-version", "5"}), 4);
  RunResult ok = c.Run({"put", c.users, "x", "{\"a\":1}", "--if-version", "1"});
  CheckOk(ok);
  CHECK(ok.out == "2\n");
  CHECK(Canon(c.Run({"get", c.users, "x"}).out) == R"({"a":1})");
  // A missing record with a non-zero expected version is a conflict too.
  CheckError(c.Run({"put", c.users, "y", "{}", "--if-version", "3"}), 4);
  CheckError(c.Run({"get", c.users, "y"}), 3);
  CheckError(c.Run({"put", c.users, "x", "{}", "--if-version", "-1"}), 2);
}

TEST_CASE("delete prints 1 then 0") {
  Cluster c = MakeInitializedCluster();
  CheckOk(c.Run({"put", c.users, "d", "{\"v\":1}"}));
  CheckError(c.Run({"delete", c.users, "d", "--if-version", "7"}), 4);
  RunResult first = c.Run({"delete", c.users, "d"});
  CheckOk(first);
  CHECK(first.out == "1\n");
  RunResult second = c.Run({"delete", c.users, "d"});
  CheckOk(second);
  CHECK(second.out == "0\n");
  CheckError(c.Run({"get", c.users, "d"}), 3);

  CheckOk(c.Run({"put", c.users, "e", "{}"}));
  CheckOk(c.Run({"put", c.users, "e", "{}"}));
  CHECK(c.Run({"delete", c.users, "e", "--if-version", "2"}).out == "1\n");
}

TEST_CASE("mget keeps request order and skips missing IDs") {
  Cluster c = MakeInitializedCluster();
  for (const char* id : {"a", "b", "c", "d", "e", "f"}) {
    CheckOk(c.Run({"put", c.users, id, std::string("{\"name\":\"") + id + "\"}"}));
  }
  RunResult r = c.Run({"mget", c.users, "f", "missing", "a", "c", "nope", "b"});
  CheckOk(r);
  const std::vector<std::string> lines = r.OutLines();
  REQUIRE(lines.size() == 4);
  const std::vector<std::string> expected = {"f", "a", "c", "b"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Json j = Json::parse(lines[i]);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"id", "doc"});
    CHECK(j["id"] == expected[i]);
    CHECK(j["doc"]["name"] == expected[i]);
  }
  RunResult none = c.Run({"mget", c.users, "zz1", "zz2"});
  CheckOk(none);
  CHECK(none.out.empty());
}

TEST_CASE("IDs that are not UTF-8 print as $bytes") {
  Cluster c = MakeInitializedCluster();
  const std::string id = "\xff\xfe";
  CheckOk(c.Run({"put", c.users, id, "{\"k\":1}"}));
  RunResult r = c.Run({"mget", c.users, id});
  CheckOk(r);
  CHECK(Canon(r.out) == R"({"id":{"$bytes":"//4="},"doc":{"k":1}})");
  RunResult e = c.Run({"export", c.users});
  CheckOk(e);
  CHECK(Canon(e.out) == R"({"id":{"$bytes":"//4="},"version":1,"doc":{"k":1}})");
}

TEST_CASE("import 2000 JSONL records, then export them") {
  Cluster c = MakeInitializedCluster();
  std::map<std::string, std::string> docs;  // id -> canonical doc
  std::string jsonl;
  for (int i = 0; i < 2000; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "u%04d", i);
    Json doc;
    doc["n"] = i;
    doc["name"] = std::string("user ") + id;
    doc["score"] = i * 0.5;  // 1.0, 2.0… must stay floats
    doc["tags"] = Json::array({"t" + std::to_string(i % 7), i % 3});
    doc["nested"]["deep"]["even"] = (i % 2 == 0);
    Json line;
    line["id"] = id;
    line["doc"] = doc;
    jsonl += line.dump() + "\n";
    docs[id] = doc.dump();
  }
  const std::string file = c.dir + "/users.jsonl";
  WriteFile(file, jsonl);

  RunResult imported = c.Run({"import", c.users, file});
  CheckOk(imported);
  CHECK(imported.out == "2000\n");
  CHECK(imported.err.find("2000") != std::string::npos);  // summary on stderr
  CHECK(imported.err.find("records/s") != std::string::npos);
  CHECK(imported.err.find("error") == std::string::npos);

  RunResult exported = c.Run({"export", c.users});
  CheckOk(exported);
  const std::vector<std::string> lines = exported.OutLines();
  REQUIRE(lines.size() == 2000);
  std::set<std::string> seen;
  for (const std::string& line : lines) {
    Json j = Json::parse(line);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    REQUIRE(keys == std::vector<std::string>{"id", "version", "doc"});
    const std::string id = j["id"].get<std::string>();
    REQUIRE(docs.count(id) == 1);
    CHECK(j["version"] == 1);
    CHECK(j["doc"].dump() == docs[id]);
    seen.insert(id);
  }
  CHECK(seen.size() == 2000);

  // An export imports back (its "version" member is ignored), from stdin.
  RunOptions options;
  options.input = exported.out;
  RunResult again = c.Run({"import", c.posts, "-", "--batch", "64"}, options);
  CheckOk(again);
  CHECK(again.out == "2000\n");
  RunResult posts = c.Run({"export", c.posts});
  CHECK(posts.OutLines().size() == 2000);
  CHECK(Canon(c.Run({"get", c.posts, "u1999"}).out) == docs["u1999"]);

  // Quiet import: nothing on stderr.
  RunResult quiet = c.Run({"import", c.users, file, "--quiet"});
  CheckOk(quiet);
  CHECK(quiet.err.empty());
  RunResult meta = c.Run({"get", c.users, "u0000", "--meta"});
  CHECK(meta.OutJson()["version"] == 2);
}

TEST_CASE("import stops at a bad line and names it") {
  Cluster c = MakeInitializedCluster();
  const std::string file = c.dir + "/bad.jsonl";
  auto check_bad = [&](const std::string& text, int bad_line) {
    WriteFile(file, text);
    RunResult r = c.Run({"import", c.users, file});
    CheckError(r, 2);
    const std::string where = "bad.jsonl:" + std::to_string(bad_line) + ":";
    CHECK_MESSAGE(r.err.find(where) != std::string::npos, r.err);
  };
  const std::string good1 = R"({"id":"g1","doc":{"a":1}})" "\n";
  const std::string good2 = R"({"id":"g2","doc":{"a":2}})" "\n";
  check_bad(good1 + good2 + R"({"id":5,"doc":{}})" "\n", 3);  // id not a string
  check_bad(good1 + R"({"id":"x",)" "\n", 2);                 // invalid JSON
  check_bad(good1 + good2 + "\n" + R"({"id":"x","doc":[1]})" "\n", 4);  // doc not an object
  check_bad(R"({"doc":{}})" "\n", 1);                         // no id
  check_bad(R"([1,2])" "\n", 1);                              // not an object
  // Lines before the bad one were written.
  CheckOk(c.Run({"get", c.users, "g2"}));

  RunOptions options;
  options.input = good1 + "not json\n";
  RunResult r = c.Run({"import", c.users, "-"}, options);
  CheckError(r, 2);
  CHECK(r.err.find(":2:") != std::string::npos);

  CheckError(c.Run({"import", c.users, c.dir + "/no-such-file.jsonl"}), 2);
}

TEST_CASE("invalid input and unknown entities exit 2") {
  Cluster c = MakeInitializedCluster();
  CheckError(c.Run({"put", c.users, "a", R"({"a":)"}), 2);
  CheckError(c.Run({"put", c.users, "a", "[1,2]"}), 2);
  CheckError(c.Run({"put", c.users, "a", "42"}), 2);
  CheckError(c.Run({"put", c.users, "a", R"("text")"}), 2);
  CheckError(c.Run({"put", c.users, "a", R"({"a":1} {"b":2})"}), 2);
  CheckError(c.Run({"get", c.users, "a"}), 3);  // nothing was written

  CheckError(c.Run({"get", "no_such_entity", "a"}), 2);
  CheckError(c.Run({"put", "no_such_entity", "a", "{}"}), 2);
  CheckError(c.Run({"export", "no_such_entity"}), 2);
  CheckError(c.Run({"put", c.users, "", "{}"}), 2);                    // empty id
  CheckError(c.Run({"put", c.users, std::string(300, 'x'), "{}"}), 2);  // too long
}

TEST_CASE("locate is stable and agrees with stats") {
  Cluster c = MakeInitializedCluster();
  RunResult first = c.Run({"locate", c.users, "some-id"});
  CheckOk(first);
  REQUIRE(first.OutLines().size() == 1);
  Json j = first.OutJson();
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"bucket", "shard"});
  REQUIRE(j["bucket"].is_number_integer());
  CHECK(j["bucket"].get<int64_t>() >= 0);
  CHECK(j["bucket"].get<int64_t>() < 1024);
  REQUIRE(j["shard"].is_string());
  const std::set<std::string> shards = {"s0", "s1", "s2", "s3"};
  CHECK(shards.count(j["shard"].get<std::string>()) == 1);
  for (int i = 0; i < 3; ++i) CHECK(c.Run({"locate", c.users, "some-id"}).out == first.out);

  // Over many IDs every shard gets some.
  std::set<std::string> used;
  for (int i = 0; i < 40 && used.size() < 4; ++i) {
    used.insert(c.Run({"locate", c.users, "id" + std::to_string(i)}).OutJson()["shard"]);
  }
  CHECK(used.size() == 4);

  // The record lands on the shard locate names.
  CheckOk(c.Run({"put", c.posts, "some-id", "{}"}));
  RunResult stats = c.Run({"stats"});
  CheckOk(stats);
  bool found = false;
  for (const std::string& line : stats.OutLines()) {
    Json s = Json::parse(line);
    if (s.contains("entity") && s["entity"] == c.posts && s["records"] == 1) {
      CHECK(s["shard"] == j["shard"]);
      found = true;
    }
  }
  CHECK(found);
}

TEST_CASE("stats counts records per shard and entity") {
  Cluster c = MakeInitializedCluster();
  for (int i = 0; i < 7; ++i) CheckOk(c.Run({"put", c.users, "u" + std::to_string(i), "{}"}));
  for (int i = 0; i < 3; ++i) CheckOk(c.Run({"put", c.posts, "p" + std::to_string(i), "{}"}));
  CheckOk(c.Run({"delete", c.users, "u0"}));
  RunResult r = c.Run({"stats"});
  CheckOk(r);
  const std::vector<std::string> lines = r.OutLines();
  REQUIRE(lines.size() >= 2);
  std::map<std::string, uint64_t> per_entity;
  uint64_t sum = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    Json s = Json::parse(lines[i]);
    std::vector<std::string> keys;
    for (auto it = s.begin(); it != s.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"shard", "entity", "records"});
    per_entity[s["entity"].get<std::string>()] += s["records"].get<uint64_t>();
    sum += s["records"].get<uint64_t>();
  }
  CHECK(per_entity[c.users] == 6);
  CHECK(per_entity[c.posts] == 3);
  Json total = Json::parse(lines.back());
  CHECK(total.size() == 1);
  CHECK(total["total"] == sum);
  if (libshard::testing::BackendFromEnv() == TestBackend::kSqlite) CHECK(sum == 9);
}

TEST_CASE("config: default locations") {
  Cluster c = MakeSqliteCluster();  // writes <dir>/libshard.yaml
  // $LIBSHARD_CONFIG, with no -c.
  RunOptions env;
  env.env["LIBSHARD_CONFIG"] = c.yaml;
  CheckOk(RunShardctl({"init"}, env));
  CheckOk(RunShardctl({"put", "users", "k", "{\"v\":1}"}, env));
  // ./libshard.yaml, with neither.
  RunOptions cwd;
  cwd.cwd = c.dir;
  CHECK(Canon(RunShardctl({"get", "users", "k"}, cwd).out) == R"({"v":1})");
  // -c wins over $LIBSHARD_CONFIG, and may follow the command.
  RunOptions wrong;
  wrong.env["LIBSHARD_CONFIG"] = c.dir + "/missing.yaml";
  CheckOk(RunShardctl({"-c", c.yaml, "get", "users", "k"}, wrong));
  CheckOk(RunShardctl({"get", "users", "k", "-c", c.yaml}, wrong));
}

TEST_CASE("config: missing or invalid files exit 2") {
  const std::string dir = libshard::testing::MakeTempDir("shardctl_cfg");
  RunResult missing = RunShardctl({"-c", dir + "/nope.yaml", "stats"});
  CheckError(missing, 2);
  CHECK(missing.err.find("nope.yaml") != std::string::npos);

  RunOptions in_dir;
  in_dir.cwd = dir;  // no ./libshard.yaml there, no $LIBSHARD_CONFIG
  RunResult no_default = RunShardctl({"stats"}, in_dir);
  CheckError(no_default, 2);
  CHECK(no_default.err.find("libshard.yaml") != std::string::npos);

  // A YAML syntax error names file:line:column.
  const std::string bad = dir + "/bad.yaml";
  WriteFile(bad,
            "cluster:\n"
            "  buckets: 1024\n"
            "databases:\n"
            "  s0: [\"sqlite3://db=s0.db\"\n"
            "shards: {s0\n");
  RunResult syntax = RunShardctl({"-c", bad, "init"});
  CheckError(syntax, 2);
  CHECK_MESSAGE(std::regex_search(syntax.err, std::regex(R"(bad\.yaml:[0-9]+:[0-9]+)")),
                syntax.err);

  // A well-formed file that is not a valid cluster also names where.
  WriteFile(bad, SqliteYaml() + "  - name: \"Bad-Name\"\n");
  RunResult invalid = RunShardctl({"-c", bad, "init"});
  CheckError(invalid, 2);
  CHECK_MESSAGE(std::regex_search(invalid.err, std::regex(R"(bad\.yaml:[0-9]+:[0-9]+)")),
                invalid.err);
}

// A healthy SQLite cluster initialized through libshard.yaml, plus a second
// config in the same folder that points shard s2 somewhere else.
struct SplitCluster {
  Cluster healthy;
  std::string other_yaml;
  std::string id_on_s2;
  std::string id_on_s0;
};

SplitCluster MakeSplitCluster(const std::string& s2_url) {
  SplitCluster s;
  s.healthy = MakeSqliteCluster();
  CheckOk(s.healthy.Run({"init"}));
  s.other_yaml = s.healthy.dir + "/other.yaml";
  WriteFile(s.other_yaml, SqliteYaml({{"s2", s2_url}}));
  for (int i = 0; i < 200 && (s.id_on_s2.empty() || s.id_on_s0.empty()); ++i) {
    const std::string id = "k" + std::to_string(i);
    const std::string shard = s.healthy.Run({"locate", "users", id}).OutJson()["shard"];
    if (shard == "s2" && s.id_on_s2.empty()) s.id_on_s2 = id;
    if (shard == "s0" && s.id_on_s0.empty()) s.id_on_s0 = id;
  }
  REQUIRE(!s.id_on_s2.empty());
  REQUIRE(!s.id_on_s0.empty());
  return s;
}

TEST_CASE("an unreachable database exits 5 quickly; other shards keep working") {
  SplitCluster s =
      MakeSplitCluster("postgresql://host=127.0.0.1 port=1 dbname=x connect_timeout=1");
  CheckOk(s.healthy.Run({"put", "users", s.id_on_s0, "{\"ok\":true}"}));
  const std::string& cfg = s.other_yaml;

  // Placement needs no connection to the shard.
  RunResult locate = RunShardctl({"-c", cfg, "locate", "users", s.id_on_s2});
  CheckOk(locate);
  CHECK(locate.OutJson()["shard"] == "s2");

  RunResult get = RunShardctl({"-c", cfg, "get", "users", s.id_on_s2});
  CheckError(get, 5);
  CHECK(get.seconds < 15);
  RunResult put = RunShardctl({"-c", cfg, "put", "users", s.id_on_s2, "{}"});
  CheckError(put, 5);
  CHECK(put.seconds < 15);
  CheckError(RunShardctl({"-c", cfg, "init"}), 5);
  CheckError(RunShardctl({"-c", cfg, "stats"}), 5);

  RunResult healthy = RunShardctl({"-c", cfg, "get", "users", s.id_on_s0});
  CheckOk(healthy);
  CHECK(Canon(healthy.out) == R"({"ok":true})");
}

TEST_CASE("passwords never appear in output") {
  const std::string secret = "supersecret";
  SplitCluster s = MakeSplitCluster("mysql://host=127.0.0.1 port=1 db=x user=u password=" +
                                    secret);
  const std::string& cfg = s.other_yaml;
  std::vector<RunResult> runs;
  runs.push_back(RunShardctl({"-c", cfg, "get", "users", s.id_on_s2}));
  CheckError(runs.back(), 5);
  runs.push_back(RunShardctl({"-c", cfg, "put", "users", s.id_on_s2, "{}"}));
  CheckError(runs.back(), 5);
  runs.push_back(RunShardctl({"-c", cfg, "init"}));
  CheckError(runs.back(), 5);
  runs.push_back(RunShardctl({"-c", cfg, "stats"}));
  CHECK(runs.back().exit_code != 0);
  runs.push_back(RunShardctl({"-c", cfg, "mget", "users", s.id_on_s0, s.id_on_s2}));
  CHECK(runs.back().exit_code != 0);
  runs.push_back(RunShardctl({"-c", cfg, "export", "users"}));
  CHECK(runs.back().exit_code != 0);
  runs.push_back(RunShardctl({"-c", cfg, "locate", "users", s.id_on_s2}));
  for (const RunResult& r : runs) {
    INFO(Describe(r));
    CHECK(r.out.find(secret) == std::string::npos);
    CHECK(r.err.find(secret) == std::string::npos);
  }
  // The same through ${VAR} substitution.
  const std::string env_yaml = s.healthy.dir + "/env.yaml";
  WriteFile(env_yaml, SqliteYaml({{"s2", "mysql://host=127.0.0.1 port=1 db=x user=u "
                                         "password=${SHARDCTL_TEST_PW}"}}));
  RunOptions env;
  env.env["SHARDCTL_TEST_PW"] = secret;
  RunResult via_env = RunShardctl({"-c", env_yaml, "get", "users", s.id_on_s2}, env);
  CheckError(via_env, 5);
  CHECK(via_env.err.find(secret) == std::string::npos);
}
