// shardctl index status|build|verify|repair|drop as scripts use them: the
// real binary in child processes, stdout/stderr/exit status checked against
// the contract (PRODUCT.md "shardctl contract"). The build runs while
// another shardctl process — whose config does not name the index — keeps
// importing records.
//
// Runs on the backend named by LIBSHARD_TEST_BACKEND (SQLite by default).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <soci/soci.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/connection_pool.h"
#include "indexer/index_def.h"
#include "indexer/index_table.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace {

using Json = nlohmann::json;

struct Output {
  int exit_code = -1;
  std::string out, err;
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  Json JsonLine(size_t i) const {
    std::vector<std::string> lines = Lines();
    REQUIRE_MESSAGE(i < lines.size(), "no stdout line " << i << " in:\n" << out);
    Json j = Json::parse(lines[i], nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << lines[i]);
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

using libshard::testing::ReadFile;
using libshard::testing::WriteFile;

// Starts shardctl `args` with stdout/stderr going to files; returns the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path) {
  return libshard::testing::Spawn(SHARDCTL_PATH, args, out_path, err_path);
}

int WaitExit(pid_t pid, int timeout_seconds = 300) {
  std::optional<int> status = libshard::testing::Wait(pid, std::chrono::seconds(timeout_seconds));
  REQUIRE_MESSAGE(status.has_value(), "shardctl timed out");
  return *status;
}

std::string Scratch() {
  static const std::string dir = libshard::testing::MakeTempDir("shardctl_index");
  return dir;
}

Output Run(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string base = Scratch() + "/run" + std::to_string(++counter);
  Output o;
  o.exit_code = WaitExit(Spawn(args, base + ".out", base + ".err"));
  o.out = ReadFile(base + ".out");
  o.err = ReadFile(base + ".err");
  return o;
}

void CheckError(const Output& o, int exit_code) {
  INFO(o.Describe());
  CHECK(o.exit_code == exit_code);
  std::istringstream in(o.err);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("shardctl: error: ", 0) == 0);
}

libshard::IndexColumnConfig Col(std::string name, libshard::ColumnType type, std::string field,
                                bool lower = false) {
  libshard::IndexColumnConfig c;
  c.name = std::move(name);
  c.type = type;
  c.field = std::move(field);
  c.lower = lower;
  return c;
}

// A cluster whose YAML declares posts.by_tag and users.by_email (unique),
// plus a second YAML of the same cluster without any index: the config of
// processes that predate the indexes.
struct Cluster {
  libshard::testing::TestCluster tc;
  std::string with, without;  // YAML paths
  std::string posts, users;
};

Cluster MakeIndexCluster() {
  libshard::testing::ClusterSpec spec;
  libshard::EntityConfig posts, users;
  posts.name = "posts";
  users.name = "users";
  libshard::IndexConfig by_tag;
  by_tag.name = "by_tag";
  by_tag.databases = {"idx0"};
  by_tag.columns = {Col("tag", libshard::ColumnType::kString, "tags[]")};
  posts.indexes = {by_tag};
  libshard::IndexConfig by_email;
  by_email.name = "by_email";
  by_email.databases = {"idx0"};
  by_email.unique = true;
  by_email.columns = {Col("email", libshard::ColumnType::kString, "email", true)};
  users.indexes = {by_email};
  spec.entities = {posts, users};
  Cluster c;
  c.tc = libshard::testing::MakeCluster(libshard::testing::BackendFromEnv(), spec);
  c.with = c.tc.yaml_path;
  c.without = c.tc.dir + "/without-indexes.yaml";
  c.posts = c.tc.Entity("posts");
  c.users = c.tc.Entity("users");
  YAML::Node root = YAML::LoadFile(c.with);
  for (YAML::Node e : root["entities"]) e.remove("indexes");
  YAML::Emitter emitter;
  emitter << root;
  WriteFile(c.without, emitter.c_str() + std::string("\n"));
  return c;
}

std::string PostsJsonl(int from, int to, int round) {
  std::string text;
  for (int i = from; i < to; ++i) {
    Json doc = {{"n", i}};
    if (i % 10 != 0) {
      doc["tags"] = {"t" + std::to_string((i + round) % 7), "u" + std::to_string(i % 5)};
    }
    text += Json{{"id", "p" + std::to_string(i)}, {"doc", doc}}.dump() + "\n";
  }
  return text;
}

std::multiset<std::string> QueryIds(const std::string& config, const std::string& entity,
                                    const std::string& index, const std::string& where) {
  std::multiset<std::string> ids;
  std::string after;
  for (int page = 0; page < 1000; ++page) {
    std::vector<std::string> args = {"-c", config, "query", entity, index, "--where", where,
                                     "--limit", "150"};
    if (!after.empty()) {
      args.push_back("--after");
      args.push_back(after);
    }
    Output q = Run(args);
    INFO(q.Describe());
    REQUIRE(q.exit_code == 0);
    after.clear();
    for (size_t i = 0; i < q.Lines().size(); ++i) {
      Json j = q.JsonLine(i);
      if (j.contains("next")) {
        after = j["next"].get<std::string>();
      } else {
        ids.insert(j["id"].get<std::string>());
      }
    }
    if (after.empty()) break;
  }
  return ids;
}

}  // namespace

TEST_SUITE("shardctl index") {

TEST_CASE("index: help and usage errors") {
  Output help = Run({"index", "--help"});
  INFO(help.Describe());
  CHECK(help.exit_code == 0);
  for (const char* word : {"status", "build", "verify", "repair", "drop", "progress"}) {
    CHECK_MESSAGE(help.out.find(word) != std::string::npos, word);
  }
  Output top = Run({"--help"});
  CHECK(top.out.find("index") != std::string::npos);
  CheckError(Run({"index"}), 2);
  CheckError(Run({"index", "frobnicate"}), 2);
  CheckError(Run({"index", "build", "posts"}), 2);
  CheckError(Run({"index", "verify"}), 2);
  CheckError(Run({"index", "build", "posts", "by_tag", "--chunk", "0"}), 2);
}

TEST_CASE("index lifecycle from the shell while another process imports") {
  Cluster c = MakeIndexCluster();
  {
    Output init = Run({"-c", c.without, "init"});
    INFO(init.Describe());
    REQUIRE(init.exit_code == 0);
  }
  const std::string base = PostsJsonl(0, 3000, 0);
  WriteFile(c.tc.dir + "/base.jsonl", base);
  {
    Output imported = Run({"-c", c.without, "import", c.posts, c.tc.dir + "/base.jsonl", "-q"});
    INFO(imported.Describe());
    REQUIRE(imported.exit_code == 0);
    CHECK(imported.out == "3000\n");
  }
  // Unknown before the build; unknown to verify.
  CheckError(Run({"-c", c.with, "index", "verify", c.posts, "by_tag"}), 2);
  CheckError(Run({"-c", c.with, "index", "build", c.posts, "no_such_index"}), 2);

  // Another process keeps importing (updates and new records) through the
  // config without the index until told to stop.
  for (int f = 0; f < 3; ++f) {
    WriteFile(c.tc.dir + "/more" + std::to_string(f) + ".jsonl",
              PostsJsonl(f * 700, 3000 + f * 300, f + 1));
  }
  const std::string stop = c.tc.dir + "/stop";
  const std::string script = c.tc.dir + "/writer.sh";
  WriteFile(script,
            "n=0\n"
            "while [ ! -e '" + stop + "' ]; do\n"
            "  f=$((n % 3))\n"
            "  '" SHARDCTL_PATH "' -c '" + c.without + "' import " + c.posts + " '" + c.tc.dir +
                "/more'$f'.jsonl' -q --batch 50 || exit 1\n"
            "  n=$((n + 1))\n"
            "done\n"
            "echo $n\n");
  const pid_t writer = fork();
  REQUIRE(writer >= 0);
  if (writer == 0) {
    const int out = open((c.tc.dir + "/writer.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open((c.tc.dir + "/writer.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    execl("/bin/sh", "sh", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  Output build = Run({"-c", c.with, "index", "build", c.posts, "by_tag", "--chunk", "100"});
  WriteFile(stop, "");
  const int writer_exit = WaitExit(writer);
  INFO(build.Describe());
  INFO("writer: " << ReadFile(c.tc.dir + "/writer.out") << ReadFile(c.tc.dir + "/writer.err"));
  REQUIRE(build.exit_code == 0);
  CHECK(writer_exit == 0);
  CHECK(std::stoi(ReadFile(c.tc.dir + "/writer.out")) >= 1);  // imports ran during the build
  REQUIRE(build.Lines().size() == 1);
  Json done = build.JsonLine(0);
  CHECK(done["entity"] == c.posts);
  CHECK(done["index"] == "by_tag");
  CHECK(done["state"] == "ready");
  CHECK(done["records"].get<long>() >= 3000);
  CHECK(build.err.find("records/s") != std::string::npos);  // progress and summary
  CHECK(build.err.find("error") == std::string::npos);

  // status: one line per index of the entity.
  Output status = Run({"-c", c.with, "index", "status", c.posts});
  INFO(status.Describe());
  REQUIRE(status.exit_code == 0);
  REQUIRE(status.Lines().size() == 1);
  Json st = status.JsonLine(0);
  CHECK(st["entity"] == c.posts);
  CHECK(st["index"] == "by_tag");
  CHECK(st["state"] == "ready");
  CHECK(st["progress"].get<double>() == 1.0);
  Output all = Run({"-c", c.with, "index", "status"});
  REQUIRE(all.exit_code == 0);
  bool listed = false;
  for (size_t i = 0; i < all.Lines().size(); ++i) {
    Json j = all.JsonLine(i);
    for (const char* key : {"entity", "index", "state", "progress"}) CHECK(j.contains(key));
    listed = listed || (j["entity"] == c.posts && j["index"] == "by_tag");
  }
  CHECK(listed);

  // Nothing missing after a build under concurrent writes.
  Output verify = Run({"-c", c.with, "index", "verify", c.posts, "by_tag"});
  INFO(verify.Describe());
  CHECK(verify.exit_code == 0);
  REQUIRE(verify.Lines().size() == 1);
  CHECK(verify.JsonLine(0) == Json{{"missing", 0}, {"dangling", 0}});

  // Queries equal a brute-force filter over export.
  Output exported = Run({"-c", c.with, "export", c.posts});
  REQUIRE(exported.exit_code == 0);
  std::multiset<std::string> expected;
  for (size_t i = 0; i < exported.Lines().size(); ++i) {
    Json j = exported.JsonLine(i);
    if (!j["doc"].contains("tags")) continue;
    for (const Json& t : j["doc"]["tags"]) {
      if (t == "t4") {
        expected.insert(j["id"].get<std::string>());
        break;
      }
    }
  }
  CHECK(expected.size() > 200);
  CHECK(QueryIds(c.with, c.posts, "by_tag", "tag=t4") == expected);

  // Dangling rows put behind libshard's back: verify fails (exit 1, counts
  // printed), repair removes them, verify passes.
  {
    const libshard::ClusterConfig& cfg = c.tc.config;
    libshard::cluster::ConnectionPool pool(*cfg.FindDatabase("idx0"), libshard::Options{});
    auto lease = pool.Acquire();
    REQUIRE(lease.ok());
    const libshard::EntityConfig* ec = cfg.FindEntity(c.posts);
    libshard::indexer::IndexDef def = libshard::indexer::FromConfig(*ec, ec->indexes[0]);
    libshard::indexer::IndexWriter w((*lease)->sql(), pool.dialect(), def);
    w.Insert({libshard::Document("t4")}, "ghost");
    w.Insert({libshard::Document("zz")}, "p1");
  }
  Output bad = Run({"-c", c.with, "index", "verify", c.posts, "by_tag"});
  INFO(bad.Describe());
  CHECK(bad.exit_code == 1);
  CHECK(bad.JsonLine(0) == Json{{"missing", 0}, {"dangling", 2}});
  Output repair = Run({"-c", c.with, "index", "repair", c.posts, "by_tag"});
  INFO(repair.Describe());
  CHECK(repair.exit_code == 0);
  CHECK(repair.JsonLine(0) == Json{{"missing", 0}, {"dangling", 2}});
  Output good = Run({"-c", c.with, "index", "verify", c.posts, "by_tag"});
  CHECK(good.exit_code == 0);
  CHECK(good.JsonLine(0) == Json{{"missing", 0}, {"dangling", 0}});
  CHECK(QueryIds(c.with, c.posts, "by_tag", "tag=t4") == expected);

  // build of a ready index: immediate, same output shape.
  Output again = Run({"-c", c.with, "index", "build", c.posts, "by_tag"});
  CHECK(again.exit_code == 0);
  CHECK(again.LastJson()["state"] == "ready");

  // drop
  Output drop = Run({"-c", c.with, "index", "drop", c.posts, "by_tag"});
  INFO(drop.Describe());
  CHECK(drop.exit_code == 0);
  CHECK(drop.JsonLine(0) == Json{{"dropped", c.posts + ".by_tag"}});
  Output after = Run({"-c", c.with, "index", "status", c.posts});
  CHECK(after.exit_code == 0);
  CHECK(after.out.empty());
  CheckError(Run({"-c", c.with, "index", "verify", c.posts, "by_tag"}), 2);
  CheckError(Run({"-c", c.with, "index", "drop", c.posts, "by_tag"}), 2);
}

TEST_CASE("index build refuses existing duplicates of a unique value (exit 4)") {
  Cluster c = MakeIndexCluster();
  REQUIRE(Run({"-c", c.without, "init"}).exit_code == 0);
  std::string users;
  for (int i = 0; i < 100; ++i) {
    users += Json{{"id", "u" + std::to_string(i)},
                  {"doc", {{"email", "user" + std::to_string(i) + "@example.com"}}}}
                 .dump() +
             "\n";
  }
  users += R"({"id":"ada","doc":{"email":"Ada@Example.com"}})" "\n";
  users += R"({"id":"ada-dup","doc":{"email":"ada@example.com"}})" "\n";
  WriteFile(c.tc.dir + "/users.jsonl", users);
  REQUIRE(Run({"-c", c.without, "import", c.users, c.tc.dir + "/users.jsonl", "-q"}).exit_code ==
          0);

  Output build = Run({"-c", c.with, "index", "build", c.users, "by_email", "-q"});
  CheckError(build, 4);
  CHECK(build.err.find("ada-dup") != std::string::npos);
  CHECK(build.err.find(c.users + "/ada ") != std::string::npos);
  CHECK(build.out.empty());

  Output status = Run({"-c", c.with, "index", "status", c.users});
  REQUIRE(status.exit_code == 0);
  REQUIRE(status.Lines().size() == 1);
  CHECK(status.JsonLine(0)["state"] == "write_only");
  CHECK(status.JsonLine(0)["progress"].get<double>() < 1.0);
  // write_only: queries refuse it.
  CheckError(Run({"-c", c.with, "query", c.users, "by_email", "--where", "email=ada@example.com"}),
             2);

  // Fix the data; the build then finishes.
  REQUIRE(Run({"-c", c.with, "delete", c.users, "ada-dup"}).exit_code == 0);
  Output rebuilt = Run({"-c", c.with, "index", "build", c.users, "by_email", "-q"});
  INFO(rebuilt.Describe());
  CHECK(rebuilt.exit_code == 0);
  CHECK(rebuilt.err.empty());
  CHECK(rebuilt.JsonLine(0)["state"] == "ready");
  Output q = Run({"-c", c.with, "query", c.users, "by_email", "--where", "email=ADA@example.com"});
  INFO(q.Describe());
  CHECK(q.exit_code == 0);
  REQUIRE(q.Lines().size() == 1);
  CHECK(q.JsonLine(0)["id"] == "ada");
}

}  // TEST_SUITE
