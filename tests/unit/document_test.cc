// Tests for libshard/document.h: value semantics, paths, JSON, MessagePack.

#include "libshard/document.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <msgpack.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "util/base64.h"

namespace libshard {
namespace {

using Type = Document::Type;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

// A document touching every type, nested.
Document Sample() {
  Document doc = Document::MakeObject({
      {"name", "Ada"},
      {"age", 36},
      {"score", 98.25},
      {"admin", true},
      {"nothing", nullptr},
      {"big", kU64Max},
      {"neg", kI64Min},
      {"raw", Document::FromBytes(std::string("\x00\xff\x01", 3))},
      {"tags", Document::MakeArray({"a", "b"})},
      {"empty_obj", Document::MakeObject()},
      {"empty_arr", Document::MakeArray()},
  });
  doc["address"]["city"] = "London";
  doc["items"] = Document::MakeArray({
      Document::MakeObject({{"sku", "A1"}, {"qty", 1}}),
      Document::MakeObject({{"sku", "B2"}, {"qty", 2}}),
      Document::MakeObject({{"sku", "C3"}, {"qty", 3}}),
  });
  return doc;
}

Document RoundTripMsgpack(const Document& doc) {
  Result<Document> back = Document::FromMsgpack(doc.ToMsgpack());
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  return std::move(back).value();
}

Document RoundTripJson(const Document& doc) {
  Result<Document> back = Document::FromJson(doc.ToJson());
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  return std::move(back).value();
}

Code MsgpackCode(const std::string& bytes) {
  return Document::FromMsgpack(bytes).status().code();
}

TEST_SUITE("document") {
  TEST_CASE("constructors pick the type") {
    CHECK(Document().type() == Type::kNull);
    CHECK(Document(nullptr).type() == Type::kNull);
    CHECK(Document(false).type() == Type::kBool);
    CHECK(Document(-1).type() == Type::kInt);
    CHECK(Document(7u).type() == Type::kInt);
    CHECK(Document(uint64_t{7}).type() == Type::kInt);
    CHECK(Document(uint64_t{1} << 63).type() == Type::kUint);
    CHECK(Document(1.5).type() == Type::kDouble);
    CHECK(Document("x").type() == Type::kString);
    CHECK(Document(std::string_view("x")).type() == Type::kString);
    CHECK(Document::FromBytes("x").type() == Type::kBytes);
    CHECK(Document::MakeArray().type() == Type::kArray);
    CHECK(Document::MakeObject().type() == Type::kObject);
  }

  TEST_CASE("accessors convert within range and throw on mismatch") {
    CHECK(Document(5).as_uint() == 5);
    CHECK(Document(kU64Max).as_uint() == kU64Max);
    CHECK(Document(uint64_t{kI64Max}).as_int() == kI64Max);
    CHECK(Document(3).as_double() == 3.0);
    CHECK(Document::FromBytes("b").as_string() == "b");
    CHECK_THROWS_AS(Document(-1).as_uint(), std::logic_error);
    CHECK_THROWS_AS(Document(kU64Max).as_int(), std::logic_error);
    CHECK_THROWS_AS(Document(1.0).as_int(), std::logic_error);
    CHECK_THROWS_AS(Document().as_bool(), std::logic_error);
    CHECK_THROWS_AS(Document(1).as_string(), std::logic_error);
    CHECK_THROWS_AS(Document("x").as_array(), std::logic_error);
    CHECK_THROWS_AS(Document("x").as_object(), std::logic_error);
    try {
      (void)Document("text").as_int();
      FAIL("as_int on a string must throw");
    } catch (const std::logic_error& e) {
      const std::string what = e.what();
      CHECK(what.find("as_int") != std::string::npos);
      CHECK(what.find("string") != std::string::npos);
    }
  }

  TEST_CASE("operator[] creates nested objects, Find and Erase") {
    Document doc;
    doc["a"]["b"]["c"] = 1;
    doc["a"]["x"] = "y";
    REQUIRE(doc.is_object());
    CHECK(doc.size() == 1);
    CHECK(doc["a"].size() == 2);
    CHECK(doc.FindPath("a.b.c")->as_int() == 1);
    // Reassigning keeps a single member.
    doc["a"]["x"] = "z";
    CHECK(doc["a"].size() == 2);
    CHECK(doc["a"]["x"].as_string() == "z");
    CHECK(doc.Find("missing") == nullptr);
    CHECK(Document(1).Find("a") == nullptr);
    CHECK(doc["a"].Erase("x"));
    CHECK_FALSE(doc["a"].Erase("x"));
    CHECK(doc["a"].size() == 1);
    Document text = "s";
    CHECK_THROWS_AS(text["k"], std::logic_error);
  }

  TEST_CASE("push_back, index access and size") {
    Document list;
    list.push_back(1);
    list.push_back("two");
    REQUIRE(list.is_array());
    CHECK(list.size() == 2);
    CHECK(list[1].as_string() == "two");
    CHECK_THROWS_AS(list[2], std::out_of_range);
    CHECK(Document(5).size() == 0);
    Document text = "s";
    CHECK_THROWS_AS(text.push_back(1), std::logic_error);
  }

  TEST_CASE("objects keep insertion order") {
    Document doc;
    doc["z"] = 1;
    doc["a"] = 2;
    doc["m"] = 3;
    CHECK(doc.ToJson() == R"({"z":1,"a":2,"m":3})");
  }

  TEST_CASE("FindPath") {
    const Document doc = Sample();
    CHECK(doc.FindPath("name")->as_string() == "Ada");
    CHECK(doc.FindPath("address.city")->as_string() == "London");
    CHECK(doc.FindPath("items[2].sku")->as_string() == "C3");
    CHECK(doc.FindPath("items[0].qty")->as_int() == 1);
    CHECK(doc.FindPath("tags[1]")->as_string() == "b");
    CHECK(doc.FindPath("items")->size() == 3);

    const Document matrix = Document::MakeArray(
        {Document::MakeArray({1, 2}), Document::MakeArray({3, 4})});
    CHECK(matrix.FindPath("[1][0]")->as_int() == 3);

    for (const char* missing : {
             "nope",
             "address.zip",
             "items[3].sku",
             "items[0].nope",
             "name.first",  // descending into a string
             "address[0]",  // indexing an object
             "",
             "address.",
             ".name",
             "address..city",
             "items.[0]",
             "items[",
             "items[]",
             "items[x]",
             "items[-1]",
             "items[+1]",
             "items[0]sku",
             "items[99999999999999999999999]",
         }) {
      CAPTURE(missing);
      CHECK(doc.FindPath(missing) == nullptr);
    }
  }

  TEST_CASE("equality") {
    CHECK(Document(5) == Document(uint64_t{5}));
    CHECK(Document(kU64Max) == Document(kU64Max));
    CHECK_FALSE(Document(-1) == Document(kU64Max));
    // Integers and doubles never compare equal, by design.
    CHECK_FALSE(Document(1) == Document(1.0));
    CHECK_FALSE(Document(std::nan("")) == Document(std::nan("")));
    CHECK_FALSE(Document("x") == Document::FromBytes("x"));
    CHECK(Document::MakeObject({{"a", 1}, {"b", 2}}) ==
          Document::MakeObject({{"b", 2}, {"a", 1}}));
    CHECK_FALSE(Document::MakeObject({{"a", 1}, {"b", 2}}) ==
                Document::MakeObject({{"a", 1}, {"c", 2}}));
    CHECK_FALSE(Document::MakeArray({1, 2}) == Document::MakeArray({2, 1}));
    CHECK(Sample() == Sample());
    Document changed = Sample();
    changed["items"][1]["qty"] = 20;
    CHECK_FALSE(changed == Sample());
  }

  TEST_CASE("copies are independent") {
    Document a = Sample();
    Document b = a;
    b["address"]["city"] = "Paris";
    CHECK(a.FindPath("address.city")->as_string() == "London");
  }
}

TEST_SUITE("base64") {
  TEST_CASE("RFC 4648 test vectors") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
      CAPTURE(plain);
      CHECK(util::Base64Encode(plain) == encoded);
      CHECK(util::Base64Decode(encoded) == std::optional<std::string>(plain));
    }
    const std::string all_bytes = [] {
      std::string s;
      for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
      return s;
    }();
    CHECK(util::Base64Decode(util::Base64Encode(all_bytes)) == all_bytes);
  }

  TEST_CASE("Decode accepts only canonical padded base64") {
    for (const char* bad : {"Zg", "Zg=", "Zh==", "Zm9=", "Z===", "====",
                            "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm-_", "Zm9v="}) {
      CAPTURE(bad);
      CHECK_FALSE(util::Base64Decode(bad).has_value());
    }
  }
}

TEST_SUITE("document json") {
  TEST_CASE("ToJson writes every type") {
    Document doc = Document::MakeObject({
        {"s", "a\"b\n"},
        {"i", -3},
        {"u", kU64Max},
        {"d", 1.0},
        {"b", Document::FromBytes("hi")},
        {"n", nullptr},
        {"t", true},
        {"arr", Document::MakeArray({1, "x"})},
        {"o", Document::MakeObject()},
    });
    CHECK(doc.ToJson() ==
          R"({"s":"a\"b\n","i":-3,"u":18446744073709551615,"d":1.0,)"
          R"("b":{"$bytes":"aGk="},"n":null,"t":true,"arr":[1,"x"],"o":{}})");
  }

  TEST_CASE("numbers: integers stay integers, the rest become doubles") {
    Document doc = *Document::FromJson(
        R"({"a":1,"b":-9223372036854775808,"c":18446744073709551615,)"
        R"("d":1.0,"e":2.5e3,"f":9223372036854775807,"g":9223372036854775808})");
    CHECK(doc["a"].type() == Type::kInt);
    CHECK(doc["b"].as_int() == kI64Min);
    CHECK(doc["c"].type() == Type::kUint);
    CHECK(doc["c"].as_uint() == kU64Max);
    CHECK(doc["d"].type() == Type::kDouble);
    CHECK(doc["e"].as_double() == 2500.0);
    CHECK(doc["f"].type() == Type::kInt);
    CHECK(doc["g"].type() == Type::kUint);
  }

  TEST_CASE("NaN and infinities are written as null") {
    Document doc = Document::MakeArray(
        {std::nan(""), std::numeric_limits<double>::infinity(), 0.5});
    CHECK(doc.ToJson() == "[null,null,0.5]");
  }

  TEST_CASE("round trip of a nested document") {
    const Document doc = Sample();
    CHECK(RoundTripJson(doc) == doc);
    CHECK(RoundTripJson(doc).ToJson() == doc.ToJson());
  }

  TEST_CASE("scalars and empty containers at the top level") {
    for (const char* text : {"null", "true", "0", "-1", "1.5", "\"s\"", "[]",
                             "{}", "[[]]", "{\"a\":{}}"}) {
      CAPTURE(text);
      Result<Document> doc = Document::FromJson(text);
      REQUIRE(doc.ok());
      CHECK(doc->ToJson() == text);
    }
  }

  TEST_CASE("NUL characters survive in strings and bytes") {
    Document doc = Document::MakeObject(
        {{"s", std::string("a\0b", 3)},
         {"b", Document::FromBytes(std::string("\0\0x\0", 4))}});
    CHECK(doc.ToJson().find("\\u0000") != std::string::npos);
    Document back = RoundTripJson(doc);
    CHECK(back["s"].as_string() == std::string("a\0b", 3));
    CHECK(back["b"].as_string() == std::string("\0\0x\0", 4));
    CHECK(back == doc);
  }

  TEST_CASE("$bytes objects") {
    Document doc = *Document::FromJson(R"({"$bytes":"AP8B"})");
    REQUIRE(doc.is_bytes());
    CHECK(doc.as_string() == std::string("\x00\xff\x01", 3));
    CHECK(Document::FromJson(R"({"$bytes":""})")->is_bytes());
    // Anything else is an ordinary object.
    for (const char* text : {R"({"$bytes":"not base64!"})",
                             R"({"$bytes":"QR=="})",  // non-zero pad bits
                             R"({"$bytes":"QQ"})",    // missing padding
                             R"({"$bytes":1})", R"({"$bytes":"QQ==","x":1})"}) {
      CAPTURE(text);
      Document other = *Document::FromJson(text);
      CHECK(other.is_object());
      CHECK(other.ToJson() == text);
    }
  }

  TEST_CASE("bad JSON is InvalidArgument with a position") {
    for (const char* text : {"", "{", "{\"a\":}", "[1,]", "tru", "{} x",
                             "{\"a\" 1}", "1e400", "\"\xff\"", "'a'"}) {
      CAPTURE(text);
      Result<Document> doc = Document::FromJson(text);
      REQUIRE_FALSE(doc.ok());
      CHECK(doc.status().code() == Code::kInvalidArgument);
      CHECK(doc.status().message().find("byte") != std::string::npos);
    }
    const Status s = Document::FromJson("{\"a\": tru}").status();
    CHECK(s.message().find("line 1, column") != std::string::npos);
  }

  TEST_CASE("duplicate keys: the last value wins, in the first position") {
    Document doc = *Document::FromJson(R"({"a":1,"b":2,"a":3})");
    CHECK(doc.ToJson() == R"({"a":3,"b":2})");
    // Large objects take the hashed path.
    std::string text = "{";
    for (int i = 0; i < 100; ++i) text += "\"k" + std::to_string(i) + "\":1,";
    text += "\"k7\":2}";
    Document big = *Document::FromJson(text);
    CHECK(big.size() == 100);
    CHECK(big["k7"].as_int() == 2);
  }

  TEST_CASE("deep nesting is rejected, not a stack overflow") {
    const std::string deep =
        std::string(100000, '[') + std::string(100000, ']');
    Result<Document> doc = Document::FromJson(deep);
    CHECK(doc.status().code() == Code::kInvalidArgument);
    const std::string ok = std::string(100, '[') + std::string(100, ']');
    CHECK(Document::FromJson(ok).ok());
  }

  TEST_CASE("invalid UTF-8 from MessagePack is replaced, not thrown") {
    Document doc = Document(std::string("ok\xff", 3));
    CHECK(doc.ToJson() == "\"ok\xEF\xBF\xBD\"");
  }
}

TEST_SUITE("document msgpack") {
  TEST_CASE("encoding is standard MessagePack") {
    Document doc = Document::MakeObject({{"a", 1}});
    CHECK(doc.ToMsgpack() == std::string("\x81\xa1\x61\x01", 4));
    CHECK(Document(-1).ToMsgpack() == "\xff");
    CHECK(Document(kU64Max).ToMsgpack() ==
          std::string("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9));
    CHECK(Document::FromBytes("x").ToMsgpack() == std::string("\xc4\x01x", 3));
    // Always float64, even when integral (msgpack-c alone would write 1).
    CHECK(Document(1.0).ToMsgpack() ==
          std::string("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9));
    CHECK(RoundTripMsgpack(Document(1.0)).type() == Type::kDouble);
    CHECK(std::signbit(RoundTripMsgpack(Document(-0.0)).as_double()));
  }

  TEST_CASE("round trip of a nested document") {
    const Document doc = Sample();
    const Document back = RoundTripMsgpack(doc);
    CHECK(back == doc);
    CHECK(back.ToJson() == doc.ToJson());  // same member order too
    // const Document has no operator[](key); Find is the const lookup.
    CHECK(back.Find("big")->type() == Type::kUint);
    CHECK(back.Find("neg")->as_int() == kI64Min);
    CHECK(back.Find("age")->type() == Type::kInt);
    CHECK(back.Find("score")->as_double() == 98.25);
  }

  TEST_CASE("JSON -> Document -> MessagePack -> Document -> JSON") {
    const std::string json =
        R"({"id":7,"neg":-42,"max":18446744073709551615,"pi":3.14159,)"
        R"("tiny":5e-324,"nested":{"list":[1,[2,[3,{}]],[]],"s":"\u00e9"},)"
        R"("raw":{"$bytes":"AAEC"},"nul":"a\u0000b"})";
    Result<Document> doc = Document::FromJson(json);
    REQUIRE(doc.ok());
    const Document back = RoundTripMsgpack(*doc);
    CHECK(back == *doc);
    CHECK(back.ToJson() == doc->ToJson());
    CHECK(back.FindPath("nested.list[1][1][0]")->as_int() == 3);
  }

  TEST_CASE("edge values") {
    for (const Document& value :
         {Document(), Document(true), Document(0), Document(kI64Max),
          Document(kI64Min), Document(kU64Max), Document(-0.0),
          Document(std::numeric_limits<double>::max()),
          Document(std::numeric_limits<double>::denorm_min()), Document(""),
          Document::FromBytes(""), Document::MakeArray(),
          Document::MakeObject()}) {
      CAPTURE(value.ToJson());
      CHECK(RoundTripMsgpack(value) == value);
    }
    CHECK(std::isnan(RoundTripMsgpack(Document(std::nan(""))).as_double()));
  }

  TEST_CASE("NUL bytes and a 1 MiB string") {
    std::string big(1 << 20, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = '\0';
    Document doc = Document::MakeObject({
        {std::string("k\0ey", 4), std::string("v\0", 2)},
        {"big", big},
        {"bin", Document::FromBytes(big)},
    });
    Document back = RoundTripMsgpack(doc);
    CHECK(back == doc);
    CHECK(back["big"].as_string().size() == big.size());
    CHECK(back.Find(std::string_view("k\0ey", 4))->as_string() ==
          std::string("v\0", 2));
  }

  TEST_CASE("AppendMsgpack appends") {
    std::string out = "prefix";
    Document(1).AppendMsgpack(&out);
    CHECK(out == "prefix\x01");
  }

  TEST_CASE("decoding foreign MessagePack") {
    // float32, a bin map key, and int64-encoded positives.
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_map(3);
    packer.pack_str(1);
    packer.pack_str_body("f", 1);
    packer.pack_float(1.5f);
    packer.pack_bin(1);
    packer.pack_bin_body("k", 1);
    packer.pack_fix_int64(5);
    packer.pack_str(1);
    packer.pack_str_body("u", 1);
    packer.pack_fix_uint64(7);
    Document doc = *Document::FromMsgpack({buffer.data(), buffer.size()});
    CHECK(doc["f"].type() == Type::kDouble);
    CHECK(doc["f"].as_double() == 1.5);
    CHECK(doc["k"].type() == Type::kInt);
    CHECK(doc["u"].type() == Type::kInt);
    CHECK(doc["k"].as_int() == 5);
  }

  struct User {
    std::string name;
    int age = 0;
    std::vector<std::string> tags;
    MSGPACK_DEFINE_MAP(name, age, tags);
  };

  TEST_CASE("a MSGPACK_DEFINE_MAP struct reads as the same document") {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, User{"Ada", 36, {"ops"}});
    Document doc = *Document::FromMsgpack({buffer.data(), buffer.size()});
    CHECK(doc ==
          Document::MakeObject({{"name", "Ada"},
                                {"age", 36},
                                {"tags", Document::MakeArray({"ops"})}}));
    // And back: the Document's bytes convert into the struct.
    const std::string bytes = doc.ToMsgpack();
    User user;
    msgpack::unpack(bytes.data(), bytes.size()).get().convert(user);
    CHECK(user.name == "Ada");
    CHECK(user.age == 36);
  }

  TEST_CASE("every truncation is Corruption") {
    const std::string bytes = Sample().ToMsgpack();
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      CAPTURE(n);
      Result<Document> doc = Document::FromMsgpack(bytes.substr(0, n));
      REQUIRE_FALSE(doc.ok());
      CHECK(doc.status().code() == Code::kCorruption);
    }
    const Status s = Document::FromMsgpack(bytes.substr(0, 10)).status();
    CHECK(s.message().find("truncated") != std::string::npos);
  }

  TEST_CASE("non-string map keys are Corruption") {
    // {1: "a"}
    Status s =
        Document::FromMsgpack(std::string("\x81\x01\xa1\x61", 4)).status();
    CHECK(s.code() == Code::kCorruption);
    CHECK(s.message().find("map key") != std::string::npos);
    // {nil: 1} nested in an array.
    CHECK(MsgpackCode(std::string("\x91\x81\xc0\x01", 4)) == Code::kCorruption);
  }

  TEST_CASE("malformed input is Corruption") {
    CHECK(MsgpackCode("") == Code::kCorruption);
    CHECK(MsgpackCode("\xc1") == Code::kCorruption);  // never-used byte
    CHECK(MsgpackCode(std::string("\x01\x02", 2)) == Code::kCorruption);
    CHECK(MsgpackCode(std::string("\xd4\x01\x00", 3)) == Code::kCorruption);
    // Headers claiming ~4 billion elements or bytes in a few bytes.
    CHECK(MsgpackCode("\xdd\xff\xff\xff\xff") == Code::kCorruption);
    CHECK(MsgpackCode("\xdf\xff\xff\xff\xff") == Code::kCorruption);
    CHECK(MsgpackCode("\xdb\xff\xff\xff\xff") == Code::kCorruption);
    CHECK(MsgpackCode("\xc6\xff\xff\xff\xff") == Code::kCorruption);
    // 100000 nested one-element arrays.
    std::string deep(100000, '\x91');
    deep += '\x01';
    CHECK(MsgpackCode(deep) == Code::kCorruption);
  }

  TEST_CASE("random garbage never crashes") {
    std::mt19937 rng(12345);
    const std::string valid = Sample().ToMsgpack();
    int decoded = 0;
    for (int i = 0; i < 2000; ++i) {
      std::string input;
      if (i % 2 == 0) {
        input.resize(rng() % 64);
        for (char& c : input) c = static_cast<char>(rng());
      } else {
        // Mutations of a valid document reach deeper into the decoder.
        input = valid;
        for (int flips = 1 + rng() % 4; flips > 0; --flips) {
          input[rng() % input.size()] = static_cast<char>(rng());
        }
      }
      Result<Document> doc = Document::FromMsgpack(input);
      if (doc.ok()) {
        ++decoded;
        // Whatever decodes must re-encode to bytes that decode the same.
        (void)doc->ToJson();
        const std::string bytes = doc->ToMsgpack();
        Result<Document> again = Document::FromMsgpack(bytes);
        REQUIRE(again.ok());
        CHECK(again->ToMsgpack() == bytes);
      } else {
        CHECK(doc.status().code() == Code::kCorruption);
      }
    }
    CHECK(decoded > 0);  // the success path was exercised too
  }
}

}  // namespace
}  // namespace libshard
