// shardctl query as scripts use it (PRODUCT.md "shardctl contract"):
//   query ENTITY INDEX [--where EXPR]… [--order [-]COL] [--limit N] [--after CURSOR]
// prints {"id","doc"} lines in index order, then {"next":"CURSOR"} when more
// rows remain; bad input exits 2 with one "shardctl: error: …" line.
//
// Runs on the backend named by LIBSHARD_TEST_BACKEND (SQLite by default).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cluster/connection_pool.h"
#include "indexer/index_catalog.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace {

using Json = nlohmann::ordered_json;

struct Ran {
  int exit_code = -1;
  std::string out, err;
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::string Describe() const {
    return "exit " + std::to_string(exit_code) + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
  }
};

using libshard::testing::ReadFile;
using libshard::testing::WriteFile;

std::string Scratch() {
  static const std::string dir = libshard::testing::MakeTempDir("shardctl_query");
  return dir;
}

// Runs shardctl `args` with `input` on stdin.
Ran Shardctl(const std::vector<std::string>& args, const std::string& input = "") {
  static int counter = 0;
  const std::string base = Scratch() + "/run" + std::to_string(++counter);
  WriteFile(base + ".in", input);
  libshard::testing::SpawnOptions options;
  options.stdin_path = base + ".in";
  const pid_t pid =
      libshard::testing::Spawn(SHARDCTL_PATH, args, base + ".out", base + ".err", options);
  std::optional<int> status = libshard::testing::Wait(pid, std::chrono::seconds(120));
  REQUIRE_MESSAGE(status.has_value(), "shardctl timed out");
  Ran r;
  r.exit_code = *status;
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  return r;
}

void CheckOk(const Ran& r) {
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
}

void CheckError(const Ran& r, int exit_code) {
  INFO(r.Describe());
  CHECK(r.exit_code == exit_code);
  std::istringstream in(r.err);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("shardctl: error: ", 0) == 0);
  CHECK(r.out.empty());
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

libshard::IndexConfig Ix(std::string name, std::vector<libshard::IndexColumnConfig> columns,
                         bool unique = false) {
  libshard::IndexConfig ix;
  ix.name = std::move(name);
  ix.databases = {"idx0"};
  ix.unique = unique;
  ix.columns = std::move(columns);
  return ix;
}

struct Cluster {
  libshard::testing::TestCluster tc;
  std::string yaml;        // declares the indexes
  std::string no_indexes;  // the same cluster, indexes left out
  std::string posts, users;
  Ran Run(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), {"-c", yaml});
    return Shardctl(args, input);
  }
};

// posts: by_author_time (author, created), by_tag (tags[]),
//        by_pub_score (published bool, score float); users: by_email.
// Initialized with `shardctl init`. Server backends share their catalog
// across runs, so init registers these (new, empty) indexes write_only
// there; with no record yet they are complete, so they are marked ready as
// a finished build would.
Cluster MakeQueryCluster() {
  using libshard::ColumnType;
  libshard::testing::ClusterSpec spec;
  libshard::EntityConfig posts, users;
  posts.name = "posts";
  posts.indexes = {Ix("by_author_time", {Col("author", ColumnType::kString, "author"),
                                         Col("created", ColumnType::kInt, "created")}),
                   Ix("by_tag", {Col("tag", ColumnType::kString, "tags[]")}),
                   Ix("by_pub_score", {Col("published", ColumnType::kBool, "published"),
                                       Col("score", ColumnType::kFloat, "score")})};
  users.name = "users";
  users.indexes = {Ix("by_email", {Col("email", ColumnType::kString, "email", true)}, true)};
  spec.entities = {posts, users};
  Cluster c;
  c.tc = libshard::testing::MakeCluster(libshard::testing::BackendFromEnv(), spec);
  c.yaml = c.tc.yaml_path;
  c.posts = c.tc.Entity("posts");
  c.users = c.tc.Entity("users");
  c.no_indexes = c.tc.dir + "/no-indexes.yaml";
  YAML::Node root = YAML::LoadFile(c.yaml);
  for (YAML::Node e : root["entities"]) e.remove("indexes");
  YAML::Emitter emitter;
  emitter << root;
  WriteFile(c.no_indexes, emitter.c_str() + std::string("\n"));

  CheckOk(c.Run({"init"}));
  const libshard::ClusterConfig& config = c.tc.config;
  const libshard::DatabaseConfig* catalog = config.FindDatabase(config.catalog);
  REQUIRE(catalog != nullptr);
  if (catalog->backend != libshard::Backend::kSqlite) {
    libshard::cluster::ConnectionPool pool(*catalog, libshard::Options{});
    auto lease = pool.Acquire();
    REQUIRE(lease.ok());
    for (const libshard::EntityConfig& e : config.entities) {
      for (const libshard::IndexConfig& ix : e.indexes) {
        libshard::indexer::SetIndexState((*lease)->sql(), e.name, ix.name,
                                         libshard::IndexState::kReady);
      }
    }
  }
  return c;
}

struct PostFixture {
  std::string author;
  int64_t created;
  std::vector<std::string> tags;
  bool published;
  double score;
};

const std::vector<std::pair<std::string, PostFixture>>& Fixture() {
  static const std::vector<std::pair<std::string, PostFixture>> posts = {
      {"p1", {"ada", 1030, {"go", "rust"}, true, 2.5}},
      {"p2", {"bob", 1010, {"rust"}, false, 1.0}},
      {"p3", {"ada", 1010, {"go"}, true, 4.25}},
      {"p4", {"cy", 1050, {}, true, 0.5}},
      {"p5", {"ada", 1050, {"c++"}, false, 2.5}},
      {"p6", {"ada", 1020, {"go"}, true, 3.0}},
      {"p7", {"bob", 1040, {"go", "python"}, true, 2.5}},
  };
  return posts;
}

Json PostDoc(const PostFixture& p) {
  return Json{{"author", p.author},    {"created", p.created}, {"tags", p.tags},
              {"published", p.published}, {"score", p.score}};
}

void ImportFixture(const Cluster& c) {
  std::string jsonl;
  for (const auto& [id, p] : Fixture()) jsonl += Json{{"id", id}, {"doc", PostDoc(p)}}.dump() + "\n";
  Ran r = c.Run({"import", c.posts, "-", "--quiet"}, jsonl);
  CheckOk(r);
  CHECK(r.out == std::to_string(Fixture().size()) + "\n");
  CheckOk(c.Run({"put", c.users, "ada", R"({"email":"Ada@Example.com"})"}));
  CheckOk(c.Run({"put", c.users, "bob", R"({"email":"bob@example.com"})"}));
}

// The ids of a query's record lines and its cursor ("" when none). Checks
// the line shapes: {"id","doc"} records, then at most one {"next"} last.
std::pair<std::vector<std::string>, std::string> Parse(const Ran& r) {
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  std::vector<std::string> ids;
  std::string next;
  const std::vector<std::string> lines = r.Lines();
  for (size_t i = 0; i < lines.size(); ++i) {
    Json j = Json::parse(lines[i], nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << lines[i]);
    REQUIRE(j.is_object());
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    if (keys == std::vector<std::string>{"next"}) {
      CHECK(i + 1 == lines.size());  // the cursor is the last line
      REQUIRE(j["next"].is_string());
      next = j["next"].get<std::string>();
      CHECK(!next.empty());
      continue;
    }
    REQUIRE(keys == std::vector<std::string>{"id", "doc"});
    const std::string id = j["id"].get<std::string>();
    ids.push_back(id);
    // The document is the record as stored.
    auto it = std::find_if(Fixture().begin(), Fixture().end(),
                           [&](const auto& p) { return p.first == id; });
    if (it != Fixture().end()) CHECK(j["doc"].dump() == PostDoc(it->second).dump());
  }
  return {ids, next};
}

std::vector<std::string> Ids(const Ran& r) { return Parse(r).first; }

// Brute force over the fixture, sorted by `key` (a tuple built per post).
template <typename Pred, typename Key>
std::vector<std::string> Expect(Pred pred, Key key, bool desc = false) {
  std::vector<std::pair<decltype(key(Fixture()[0].second, "")), std::string>> v;
  for (const auto& [id, p] : Fixture()) {
    if (pred(p)) v.emplace_back(key(p, id), id);
  }
  std::sort(v.begin(), v.end());
  if (desc) std::reverse(v.begin(), v.end());
  std::vector<std::string> ids;
  for (auto& e : v) ids.push_back(e.second);
  return ids;
}

auto ByAuthorTime = [](const PostFixture& p, const std::string& id) {
  return std::make_tuple(p.author, p.created, id);
};

}  // namespace

TEST_SUITE("shardctl query") {

TEST_CASE("query: listed in help") {
  Ran help = Shardctl({"--help"});
  CheckOk(help);
  CHECK(help.out.find("query") != std::string::npos);
  Ran sub = Shardctl({"query", "--help"});
  CheckOk(sub);
  for (const char* option : {"--where", "--order", "--limit", "--after"}) {
    CHECK_MESSAGE(sub.out.find(option) != std::string::npos, option);
  }
  CheckError(Shardctl({"query", "posts"}), 2);  // INDEX missing
}

TEST_CASE("query: operators, order, limit and cursor") {
  Cluster c = MakeQueryCluster();
  ImportFixture(c);
  using V = std::vector<std::string>;
  auto q = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"query", c.posts});
    return c.Run(args);
  };

  // = on the leading column: index order (author, created, id).
  auto ada = [](const PostFixture& p) { return p.author == "ada"; };
  CHECK(Ids(q({"by_author_time", "--where", "author=ada"})) == Expect(ada, ByAuthorTime));
  CHECK(Ids(q({"by_author_time", "--where", "author=ada"})) == V{"p3", "p6", "p1", "p5"});
  {
    auto [ids, next] = Parse(q({"by_author_time", "--where", "author=ada"}));
    CHECK(next.empty());  // no cursor line when nothing remains
  }
  // Ranges, ANDed.
  CHECK(Ids(q({"by_author_time", "--where", "author=ada", "--where", "created>=1020", "--where",
               "created<1050"})) == V{"p6", "p1"});
  CHECK(Ids(q({"by_author_time", "--where", "author=ada", "--where", "created>1020", "--where",
               "created<=1050"})) == V{"p1", "p5"});
  CHECK(Ids(q({"by_author_time", "--where", "created<1020"})) ==
        Expect([](const PostFixture& p) { return p.created < 1020; }, ByAuthorTime));
  // != and IN.
  CHECK(Ids(q({"by_author_time", "--where", "author!=ada"})) ==
        Expect([](const PostFixture& p) { return p.author != "ada"; }, ByAuthorTime));
  CHECK(Ids(q({"by_author_time", "--where", "author=cy|bob"})) == V{"p2", "p7", "p4"});
  // Order by a later column, descending (ties broken by author, then id).
  const V by_created_desc = Expect([](const PostFixture&) { return true; },
                                   [](const PostFixture& p, const std::string& id) {
                                     return std::make_tuple(p.created, p.author, id);
                                   },
                                   true);
  CHECK(Ids(q({"by_author_time", "--order", "-created"})) == by_created_desc);
  CHECK(Ids(q({"by_author_time", "--order=-created"})) == by_created_desc);
  CHECK(Ids(q({"by_author_time", "--order", "created", "--where", "created>=1040"})) ==
        V{"p7", "p5", "p4"});  // tie at 1050: author ada before cy

  // Pages of 3 following {"next"}: every record once, in order.
  V paged;
  std::string after;
  int pages = 0;
  do {
    std::vector<std::string> args = {"by_author_time", "--order", "-created", "--limit", "3"};
    if (!after.empty()) args.insert(args.end(), {"--after", after});
    auto [ids, next] = Parse(q(args));
    ++pages;
    CHECK(ids.size() == (next.empty() ? ids.size() : 3u));
    paged.insert(paged.end(), ids.begin(), ids.end());
    after = next;
    REQUIRE(pages < 10);
  } while (!after.empty());
  CHECK(paged == by_created_desc);
  CHECK(pages == 3);  // 3 + 3 + 1
  // A cursor of one order is refused for another.
  {
    auto [ids, next] = Parse(q({"by_author_time", "--order", "-created", "--limit", "3"}));
    REQUIRE(!next.empty());
    CheckError(q({"by_author_time", "--order", "created", "--limit", "3", "--after", next}), 2);
  }

  // Tags: one row per element; IN over tags lists p1 twice.
  CHECK(Ids(q({"by_tag", "--where", "tag=go|rust"})) == V{"p1", "p3", "p6", "p7", "p1", "p2"});
  CHECK(Ids(q({"by_tag", "--where", "tag=python"})) == V{"p7"});

  // bool and float columns: values typed from the column.
  CHECK(Ids(q({"by_pub_score", "--where", "published=true", "--where", "score>=2.5"})) ==
        V{"p1", "p7", "p6", "p3"});
  CHECK(Ids(q({"by_pub_score", "--where", "published=1", "--where", "score=2.5"})) ==
        V{"p1", "p7"});
  CHECK(Ids(q({"by_pub_score", "--where", "published=false"})) == V{"p2", "p5"});
  CHECK(Ids(q({"by_pub_score", "--where", "score=2.5|0.5", "--order", "-score"})) ==
        V{"p7", "p1", "p5", "p4"});  // (score, published, id) descending

  // users by lower-cased email.
  CHECK(Ids(c.Run({"query", c.users, "by_email", "--where", "email=ADA@Example.com"})) == V{"ada"});
  CHECK(Ids(c.Run({"query", c.users, "by_email", "--where", "email=nobody@example.com"})).empty());
}

TEST_CASE("query: invalid input exits 2") {
  Cluster c = MakeQueryCluster();
  ImportFixture(c);
  auto q = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"query", c.posts});
    return c.Run(args);
  };
  CheckError(q({"by_author_time", "--where", "created=abc"}), 2);     // not an int
  CheckError(q({"by_author_time", "--where", "created>1.5"}), 2);     // not an int
  CheckError(q({"by_author_time", "--where", "created=1|x"}), 2);     // one bad IN value
  CheckError(q({"by_pub_score", "--where", "published=yes"}), 2);     // not a bool
  CheckError(q({"by_pub_score", "--where", "score<=high"}), 2);       // not a number
  CheckError(q({"by_author_time", "--where", "author"}), 2);          // no operator
  CheckError(q({"by_author_time", "--where", "=ada"}), 2);            // no column
  CheckError(q({"by_author_time", "--where", "author~ada"}), 2);      // unknown operator
  CheckError(q({"by_author_time", "--where", "nope=1"}), 2);          // unknown column
  CheckError(q({"by_author_time", "--order", "nope"}), 2);
  CheckError(q({"by_author_time", "--order", "-"}), 2);
  CheckError(q({"no_such_index"}), 2);
  CheckError(q({"by_author_time", "--limit", "0"}), 2);
  CheckError(q({"by_author_time", "--limit", "10001"}), 2);
  CheckError(q({"by_author_time", "--limit", "ten"}), 2);
  CheckError(q({"by_author_time", "--after", "not-a-cursor"}), 2);
  CheckError(c.Run({"query", "no_such_entity", "by_author_time"}), 2);
  // Still fine with good input.
  CHECK(Ids(q({"by_author_time", "--limit", "10000"})).size() == Fixture().size());
}

TEST_CASE("query: an index the local config does not declare") {
  // Processes whose config predates the index still query it (definitions
  // come from the catalog); values are then read as JSON scalars.
  Cluster c = MakeQueryCluster();
  ImportFixture(c);
  using V = std::vector<std::string>;
  auto q = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-c", c.no_indexes, "query", c.posts});
    return Shardctl(args);
  };
  CHECK(Ids(q({"by_author_time", "--where", "author=ada", "--where", "created>=1020"})) ==
        V{"p6", "p1", "p5"});
  CHECK(Ids(q({"by_pub_score", "--where", "published=true", "--where", "score=2.5"})) ==
        V{"p1", "p7"});
  CHECK(Ids(q({"by_author_time", "--where", "created=1010|1050"})) == V{"p3", "p5", "p2", "p4"});
  CheckError(q({"by_author_time", "--where", "created=abc"}), 2);  // a string for an int column
}

}  // TEST_SUITE
