// Bodies and ids are stored byte-exact on every backend: NUL bytes, every
// byte value, 1 MiB values, binary ids, typed structs and raw MessagePack.
#include <msgpack.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "conformance/conformance.h"
#include "libshard/typed.h"

using namespace conformance;  // NOLINT

namespace {

std::string AllBytes() {
  std::string s;
  for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
  return s;
}

std::string Reversed(const std::string& s) { return std::string(s.rbegin(), s.rend()); }

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

struct Profile {
  std::string name;
  int age = 0;
  std::vector<std::string> tags;
  double score = 0;
  bool active = false;
  MSGPACK_DEFINE_MAP(name, age, tags, score, active);
  bool operator==(const Profile&) const = default;
};

}  // namespace

TEST_SUITE("bodies") {

TEST_CASE("documents with NUL bytes, all 256 byte values and every value type round-trip exactly") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  const std::string nul_text("a\0b\0\0c", 6);
  Document d = Document::MakeObject({
      {"nul_text", nul_text},
      {"only_nul", std::string(1, '\0')},
      {"all_bytes", Document::FromBytes(AllBytes())},
      {"all_bytes_reversed", Document::FromBytes(Reversed(AllBytes()))},
      {"empty_text", ""},
      {"empty_bytes", Document::FromBytes("")},
      {"utf8", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x9a\x80"},
      {"int_min", std::numeric_limits<int64_t>::min()},
      {"int_max", std::numeric_limits<int64_t>::max()},
      {"uint_max", std::numeric_limits<uint64_t>::max()},
      {"neg", -1},
      {"zero", 0},
      {"pi", 3.141592653589793},
      {"tiny", 5e-324},
      {"huge", 1.7976931348623157e308},
      {"t", true},
      {"f", false},
      {"nothing", nullptr},
      {"empty_array", Document::MakeArray()},
      {"empty_object", Document::MakeObject()},
      {"nested", Document::MakeObject({{"deeper", Document::MakeObject({{"list",
          Document::MakeArray({1, "two", Document::FromBytes(std::string("\0\xff", 2)),
                               Document::MakeArray({nullptr})})}})}})},
  });
  d[std::string_view("key\0with nul", 12)] = "value";
  REQUIRE_OK(env->Put(e, "body", d));
  Result<Record> rec = env->Get(e, "body");
  REQUIRE_OK(rec);
  CHECK(rec->doc == d);
  // Field by field, so a failure says which one.
  for (const auto& [key, value] : d.as_object()) {
    const Document* got = rec->doc.Find(key);
    REQUIRE_MESSAGE(got != nullptr, "missing field " << Show(key));
    CHECK_MESSAGE(*got == value, "field " << Show(key));
    // Integers may come back as kInt or kUint (equal by value); every other
    // type must be kept (text stays text, bytes stay bytes).
    if (!(got->is_integer() && value.is_integer())) {
      CHECK_MESSAGE(got->type() == value.type(), "type of field " << Show(key));
    }
  }
  REQUIRE(rec->doc.Find("nul_text") != nullptr);
  CHECK(rec->doc.Find("nul_text")->as_string() == nul_text);
  CHECK(rec->doc.Find("nul_text")->as_string().size() == 6);
  CHECK(rec->doc.Find("all_bytes")->is_bytes());
  CHECK(rec->doc.Find("all_bytes")->as_string() == AllBytes());
  CHECK(rec->doc.Find("empty_text")->is_string());
  CHECK(rec->doc.Find("empty_bytes")->is_bytes());
  CHECK(rec->doc.Find("uint_max")->as_uint() == std::numeric_limits<uint64_t>::max());
  CHECK(rec->doc.Find("int_min")->as_int() == std::numeric_limits<int64_t>::min());
  CHECK(rec->doc.Find("pi")->as_double() == 3.141592653589793);
  CHECK(rec->doc.Find("tiny")->as_double() == 5e-324);

  // The same through GetMany and a scan.
  Result<std::vector<Record>> many = env->GetMany(e, {"body"});
  REQUIRE_OK(many);
  REQUIRE(many->size() == 1);
  CHECK((*many)[0].doc == d);
  Result<std::vector<Record>> all = env->ScanAll(e);
  REQUIRE_OK(all);
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].doc == d);
}

TEST_CASE("1 MiB string and 1 MiB bytes values round-trip exactly") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  constexpr size_t kMiB = 1 << 20;
  std::string text(kMiB, 'x');
  for (size_t i = 0; i < kMiB; i += 997) text[i] = static_cast<char>('a' + i % 26);
  text[12345] = '\0';  // a NUL in the middle of the big text
  const std::string blob = RandomBytes(kMiB, 7);
  const Document d = Document::MakeObject(
      {{"text", text}, {"blob", Document::FromBytes(blob)}, {"after", "tail"}});

  Result<uint64_t> v = env->Put(e, "big", d);
  REQUIRE_OK(v);
  CHECK(*v == 1);
  Result<Record> rec = env->Get(e, "big");
  REQUIRE_OK(rec);
  REQUIRE(rec->doc.Find("text") != nullptr);
  REQUIRE(rec->doc.Find("blob") != nullptr);
  CHECK(rec->doc.Find("text")->as_string().size() == kMiB);
  CHECK(rec->doc.Find("text")->as_string() == text);
  CHECK(rec->doc.Find("blob")->is_bytes());
  CHECK(rec->doc.Find("blob")->as_string().size() == kMiB);
  CHECK(rec->doc.Find("blob")->as_string() == blob);
  CHECK(rec->doc == d);

  // Updated in place, and fetched together with a small record.
  Document d2 = d;
  d2["blob"] = Document::FromBytes(RandomBytes(kMiB, 8));
  v = env->Put(e, "big", d2);
  REQUIRE_OK(v);
  CHECK(*v == 2);
  REQUIRE_OK(env->Put(e, "small", Document::MakeObject({{"s", 1}})));
  Result<std::vector<Record>> many = env->GetMany(e, {"small", "big", "nope"});
  REQUIRE_OK(many);
  REQUIRE(many->size() == 2);
  CHECK((*many)[0].id == "small");
  CHECK((*many)[1].id == "big");
  CHECK((*many)[1].doc == d2);

  // PutMany with big items.
  std::vector<PutItem> items = {PutItem{"big-a", d, {}}, PutItem{"big-b", d2, {}}};
  REQUIRE_OK(env->PutMany(e, items));
  Result<Record> a = env->Get(e, "big-a");
  REQUIRE_OK(a);
  CHECK(a->doc == d);
}

TEST_CASE("binary ids (NUL, 0xFF, case, trailing spaces) are distinct records, returned byte-exact") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  // Ids a lax column type or collation would merge: case, trailing spaces
  // and NULs, 0xFF bytes, the longest id allowed.
  std::vector<Id> idlist = {
      std::string("\0", 1),
      std::string("\0\0", 2),
      std::string("\xff", 1),
      std::string("\xff\xff\xfe", 3),
      std::string("a\0b", 3),
      std::string("\0\xff\0a\xff", 5),
      "abc",
      "ABC",
      "Abc",
      "abc ",
      "abc  ",
      std::string("abc\0", 4),
      " abc",
      "\xc3\xa9",            // é precomposed
      "e\xcc\x81",           // e + combining acute
      AllBytes().substr(1, 200),
      std::string(kMaxIdBytes, '\xff'),
      std::string(kMaxIdBytes, '\0'),
      std::string(kMaxIdBytes - 1, 'z'),
  };
  for (size_t i = 0; i < idlist.size(); ++i) {
    Result<uint64_t> v = env->Put(e, idlist[i], Document::MakeObject({{"i", static_cast<int>(i)}}));
    REQUIRE_MESSAGE(v.ok(), Show(idlist[i]) << ": " << v.status().ToString());
    CHECK_MESSAGE(*v == 1, Show(idlist[i]) << " collided with an earlier id");
  }
  for (size_t i = 0; i < idlist.size(); ++i) {
    Result<Record> rec = env->Get(e, idlist[i]);
    REQUIRE_MESSAGE(rec.ok(), Show(idlist[i]) << ": " << rec.status().ToString());
    CHECK_MESSAGE(rec->id == idlist[i], Show(idlist[i]) << " came back as " << Show(rec->id));
    CHECK_MESSAGE(rec->doc == Document::MakeObject({{"i", static_cast<int>(i)}}), Show(idlist[i]));
    CHECK(rec->version == 1);
  }
  Result<std::vector<Record>> many = env->GetMany(e, idlist);
  REQUIRE_OK(many);
  REQUIRE(many->size() == idlist.size());
  for (size_t i = 0; i < idlist.size(); ++i) {
    CHECK_MESSAGE((*many)[i].id == idlist[i], "position " << i << ": " << Show((*many)[i].id));
  }
  Result<std::vector<Record>> all = env->ScanAll(e);
  REQUIRE_OK(all);
  std::set<Id> scanned;
  for (const Record& r : *all) scanned.insert(r.id);
  CHECK(scanned == std::set<Id>(idlist.begin(), idlist.end()));
  CHECK(Sum(CountsByShard(*env, e)) == idlist.size());

  // Deleting one leaves its look-alikes alone.
  Result<bool> del = env->Delete(e, "abc");
  REQUIRE_OK(del);
  CHECK(*del);
  CHECK_CODE(env->Get(e, "abc"), Code::kNotFound);
  CHECK_OK(env->Get(e, "ABC"));
  CHECK_OK(env->Get(e, "abc "));
  CHECK_OK(env->Get(e, std::string("abc\0", 4)));
  // A prefix of a stored id is not that id.
  CHECK_CODE(env->Get(e, std::string(kMaxIdBytes - 2, 'z')), Code::kNotFound);
}

TEST_CASE("u64 and UUIDv7 ids round-trip") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  std::vector<uint64_t> numbers = {0, 1, 255, 256, 1ull << 32, (1ull << 63) - 1, 1ull << 63,
                                   std::numeric_limits<uint64_t>::max()};
  for (uint64_t n : numbers) {
    Id id = ids::FromU64(n);
    REQUIRE(id.size() == 8);
    REQUIRE_OK(env->Put(e, id, Document::MakeObject({{"n", n}})));
  }
  for (uint64_t n : numbers) {
    Result<Record> rec = env->Get(e, ids::FromU64(n));
    REQUIRE_OK(rec);
    Result<uint64_t> back = ids::ToU64(rec->id);
    REQUIRE_OK(back);
    CHECK(*back == n);
    CHECK(rec->doc.Find("n")->as_uint() == n);
  }

  std::vector<Id> uuids;
  for (int i = 0; i < 50; ++i) uuids.push_back(ids::NewUuidV7());
  std::vector<PutItem> items;
  for (size_t i = 0; i < uuids.size(); ++i) {
    REQUIRE(uuids[i].size() == 16);
    if (i > 0) CHECK(uuids[i - 1] < uuids[i]);  // time-ordered, strictly increasing
    items.push_back(PutItem{uuids[i], Document::MakeObject({{"i", static_cast<int>(i)}}), {}});
  }
  REQUIRE_OK(env->PutMany(e, items));
  Result<std::vector<Record>> got = env->GetMany(e, uuids);
  REQUIRE_OK(got);
  REQUIRE(got->size() == uuids.size());
  for (size_t i = 0; i < uuids.size(); ++i) {
    CHECK((*got)[i].id == uuids[i]);
    Result<std::string> text = ids::FormatUuid((*got)[i].id);
    REQUIRE_OK(text);
    Result<Id> parsed = ids::ParseUuid(*text);
    REQUIRE_OK(parsed);
    CHECK(*parsed == uuids[i]);
  }
}

TEST_CASE("PutRaw/GetRaw keep the MessagePack body byte-exact and agree with the Document API") {
  Env env = OpenCluster(Spec({"items"}));
  const std::string e = env.Entity("items");
  Document d = Document::MakeObject({{"name", "raw"},
                                     {"bin", Document::FromBytes(AllBytes())},
                                     {"list", Document::MakeArray({1, 2, 3})}});
  const std::string body = d.ToMsgpack();
  Result<uint64_t> v = env->PutRaw(e, "raw", body);
  REQUIRE_OK(v);
  CHECK(*v == 1);
  Result<RawRecord> raw = env->GetRaw(e, "raw");
  REQUIRE_OK(raw);
  CHECK(raw->id == "raw");
  CHECK(raw->version == 1);
  CHECK(raw->body == body);
  Result<Record> rec = env->Get(e, "raw");
  REQUIRE_OK(rec);
  CHECK(rec->doc == d);

  // A body written by msgpack-c directly (not by Document) is kept as is.
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(2);
  pk.pack(std::string("k"));
  pk.pack(std::string("v\0v", 3));
  pk.pack(std::string("n"));
  pk.pack(-7);
  const std::string foreign(buffer.data(), buffer.size());
  REQUIRE_OK(env->PutRaw(e, "foreign", foreign));
  raw = env->GetRaw(e, "foreign");
  REQUIRE_OK(raw);
  CHECK(raw->body == foreign);
  rec = env->Get(e, "foreign");
  REQUIRE_OK(rec);
  CHECK(rec->doc == Document::MakeObject({{"k", std::string("v\0v", 3)}, {"n", -7}}));

  // A record written with Put reads back through GetRaw as the same map.
  REQUIRE_OK(env->Put(e, "doc", d));
  raw = env->GetRaw(e, "doc");
  REQUIRE_OK(raw);
  Result<Document> decoded = Document::FromMsgpack(raw->body);
  REQUIRE_OK(decoded);
  CHECK(*decoded == d);
}

TEST_CASE("typed structs (MSGPACK_DEFINE_MAP) round-trip and read back as Documents with the same fields") {
  Env env = OpenCluster(Spec({"profiles"}));
  const std::string e = env.Entity("profiles");
  const Profile ada{"Ada", 36, {"admin", "ops"}, 99.5, true};

  Result<uint64_t> v = PutObject(*env, e, "ada", ada);
  REQUIRE_OK(v);
  CHECK(*v == 1);
  Result<TypedRecord<Profile>> typed = GetObject<Profile>(*env, e, "ada");
  REQUIRE_OK(typed);
  CHECK(typed->id == "ada");
  CHECK(typed->version == 1);
  CHECK(typed->updated_us > 0);
  CHECK(typed->value == ada);

  // The same record as a dynamic Document.
  Result<Record> rec = env->Get(e, "ada");
  REQUIRE_OK(rec);
  CHECK(rec->doc == Document::MakeObject({{"name", "Ada"},
                                          {"age", 36},
                                          {"tags", Document::MakeArray({"admin", "ops"})},
                                          {"score", 99.5},
                                          {"active", true}}));
  CHECK(rec->doc.Find("name")->as_string() == "Ada");
  CHECK(rec->doc.Find("age")->as_int() == 36);
  CHECK(rec->updated_us == typed->updated_us);

  // And the other way: a Document read as the struct.
  Document grace = Document::MakeObject({{"name", "Grace"},
                                         {"age", 85},
                                         {"tags", Document::MakeArray({"navy"})},
                                         {"score", 1.25},
                                         {"active", false}});
  REQUIRE_OK(env->Put(e, "grace", grace));
  Result<TypedRecord<Profile>> g = GetObject<Profile>(*env, e, "grace");
  REQUIRE_OK(g);
  CHECK(g->value == Profile{"Grace", 85, {"navy"}, 1.25, false});

  // Typed writes version and compare-and-set like any other.
  Profile older = ada;
  older.age = 37;
  CHECK_CODE(PutObject(*env, e, "ada", older, IfVersion(0)), Code::kVersionConflict);
  v = PutObject(*env, e, "ada", older, IfVersion(1));
  REQUIRE_OK(v);
  CHECK(*v == 2);
  typed = GetObject<Profile>(*env, e, "ada");
  REQUIRE_OK(typed);
  CHECK(typed->value.age == 37);
  CHECK_CODE(GetObject<Profile>(*env, e, "nobody"), Code::kNotFound);
}

}  // TEST_SUITE
