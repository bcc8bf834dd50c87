// Document JSON on hostile input (issue 7, item 10): objects with a huge
// number of keys, and NUL bytes in the JSON text.
//
// Writing an object used nlohmann::ordered_json::emplace, which searches the
// members linearly, so a document of n keys took O(n^2) (80k keys: 7.5 s,
// 1M keys: minutes). Speed is not asserted here (that belongs to the
// benchmark); these tests drive the many-key path end to end and check the
// exact output, so a regression to the quadratic path shows up as a test
// that runs for minutes instead of well under a second.

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "libshard/document.h"

namespace libshard {
namespace {

// Long keys sharing a prefix: the worst case for a linear key search.
std::string Key(std::size_t i) { return "a_long_prefix_shared_by_every_key_of_the_object_" + std::to_string(i); }

constexpr std::size_t kManyKeys = 200000;

TEST_CASE("ToJson of an object with 200k keys keeps every member in order") {
  Document::Object members;
  members.reserve(kManyKeys);
  std::string expected = "{";
  for (std::size_t i = 0; i < kManyKeys; ++i) {
    // Keys in descending order, so sorted output would be caught too.
    const std::size_t k = kManyKeys - 1 - i;
    members.emplace_back(Key(k), Document(static_cast<int64_t>(i)));
    if (i > 0) expected += ',';
    expected += "\"" + Key(k) + "\":" + std::to_string(i);
  }
  expected += "}";
  const Document doc{std::move(members)};
  const std::string json = doc.ToJson();
  CHECK(json.size() == expected.size());
  CHECK(json == expected);

  // And back: same members, same order.
  Result<Document> parsed = Document::FromJson(json);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->is_object());
  const Document::Object& back = parsed->as_object();
  REQUIRE(back.size() == kManyKeys);
  for (std::size_t i = 0; i < kManyKeys; i += 997) {
    CHECK(back[i].first == Key(kManyKeys - 1 - i));
    CHECK(back[i].second.as_int() == static_cast<int64_t>(i));
  }
  CHECK(back.back().first == Key(0));
}

TEST_CASE("ToJson of a large object with duplicate keys keeps the first of each") {
  // A Document built in code (or read from MessagePack) may repeat a key;
  // JSON output keeps the first, the one Find returns.
  constexpr std::size_t kUnique = kManyKeys / 2;
  Document::Object members;
  for (std::size_t i = 0; i < kUnique; ++i) members.emplace_back(Key(i), Document("first"));
  for (std::size_t i = 0; i < kUnique; i += 2) members.emplace_back(Key(i), Document("second"));
  const Document doc{std::move(members)};
  std::string expected = "{";
  for (std::size_t i = 0; i < kUnique; ++i) {
    if (i > 0) expected += ',';
    expected += "\"" + Key(i) + "\":\"first\"";
  }
  expected += "}";
  CHECK(doc.ToJson() == expected);
  REQUIRE(doc.Find(Key(0)) != nullptr);
  CHECK(doc.Find(Key(0))->as_string() == "first");

  // Small objects take the pairwise path; same rule.
  const Document small = Document(Document::Object{
      {"a", Document(1)}, {"b", Document(2)}, {"a", Document(3)}});
  CHECK(small.ToJson() == R"({"a":1,"b":2})");
}

TEST_CASE("FromJson of a large object with repeated keys: last value wins, first position") {
  std::string json = "{";
  for (std::size_t i = 0; i < kManyKeys; ++i) {
    if (i > 0) json += ',';
    json += "\"" + Key(i % (kManyKeys / 2)) + "\":" + std::to_string(i);
  }
  json += "}";
  Result<Document> parsed = Document::FromJson(json);
  REQUIRE(parsed.ok());
  const Document::Object& members = parsed->as_object();
  REQUIRE(members.size() == kManyKeys / 2);
  CHECK(members[0].first == Key(0));
  CHECK(members[0].second.as_int() == static_cast<int64_t>(kManyKeys / 2));
  CHECK(members.back().first == Key(kManyKeys / 2 - 1));
  CHECK(members.back().second.as_int() == static_cast<int64_t>(kManyKeys - 1));
}

// nlohmann's lexer takes a NUL byte for the end of input, so everything
// after one was silently ignored: `{"a":1}\0 junk` parsed as {"a":1}.
TEST_CASE("FromJson refuses a NUL byte anywhere, naming line and column") {
  using namespace std::string_view_literals;
  struct Case {
    std::string_view json;
    std::string_view where;
  };
  for (const Case& c : {
           Case{"{\"a\":1}\0 junk"sv, "line 1, column 8"},
           Case{"{\"a\":1}\0"sv, "line 1, column 8"},
           Case{"\0{\"a\":1}"sv, "line 1, column 1"},
           Case{"{\"a\":\n \"x\0y\"}"sv, "line 2, column 4"},
           Case{"{\"a\":1,\n\"b\":2}\n\0\n{\"c\":3}"sv, "line 3, column 1"},
           Case{"[1,\0 2]"sv, "line 1, column 4"},
       }) {
    CAPTURE(std::string(c.json));
    Result<Document> parsed = Document::FromJson(c.json);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == Code::kInvalidArgument);
    CHECK(parsed.status().message() == "invalid JSON: NUL byte at " + std::string(c.where));
  }
  // Escaped, a NUL is fine: it is a character of the string.
  Result<Document> escaped = Document::FromJson(R"({"a":"x\u0000y"})");
  REQUIRE(escaped.ok());
  CHECK(escaped->Find("a")->as_string() == std::string("x\0y", 3));
  // And writing it escapes it again, so the output has no NUL byte.
  CHECK(escaped->ToJson() == R"({"a":"x\u0000y"})");
}

}  // namespace
}  // namespace libshard
