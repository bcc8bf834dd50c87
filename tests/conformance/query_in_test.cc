// IN conditions with long lists: the re-check of each hit searches the
// (sorted, deduplicated) list instead of scanning it, and results are the
// same whatever the order and repetition of the values.
#include <algorithm>
#include <random>
#include <set>
#include <string>

#include "conformance/conformance.h"

using namespace conformance;  // NOLINT

TEST_CASE("query: a long IN list in any order, with repeats, returns each matching record once") {
  ClusterSpec spec = Spec({"posts"});
  spec.entities[0].indexes.push_back(Idx("by_tag", {Col("tag", ColumnType::kString, "tag")}));
  Env env = OpenCluster(spec);
  const std::string posts = env.Entity("posts");
  std::vector<PutItem> items;
  for (int i = 0; i < 300; ++i) {
    items.push_back({"p" + std::to_string(i),
                     Document::MakeObject({{"tag", Document("t" + std::to_string(i))}}),
                     {}});
  }
  REQUIRE_OK(env->PutMany(posts, items));
  // On a server backend the shared catalog registers the index write_only;
  // building it (a no-op when it is ready) makes it answer queries.
  REQUIRE_OK(env->BuildIndex(posts, "by_tag"));
  const unsigned seed = std::random_device{}();
  MESSAGE("seed=" << seed);
  std::mt19937 rng(seed);
  Query q;
  q.index = "by_tag";
  q.limit = 10000;
  std::vector<Document> values;
  std::set<std::string> expected;
  for (int i = 0; i < 300; i += 2) {
    values.push_back(Document("t" + std::to_string(i)));
    values.push_back(Document("t" + std::to_string(i)));  // repeated
    expected.insert("p" + std::to_string(i));
  }
  for (int i = 0; i < 2000; ++i) values.push_back(Document("absent" + std::to_string(i)));
  std::shuffle(values.begin(), values.end(), rng);
  q.where = {{"tag", Op::kIn, values}};
  Result<QueryPage> page = env->Query(posts, q);
  REQUIRE_OK(page);
  std::set<std::string> got;
  for (const Record& r : page->records) CHECK(got.insert(r.id).second);  // each once
  CHECK(got == expected);
  CHECK(page->next.empty());
}
