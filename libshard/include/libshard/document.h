// Document: a dynamic, schema-less value (null, bool, integer, float,
// string, bytes, array, object), the body of a record.
//
// Stored as MessagePack; converts to and from JSON. Objects keep insertion
// order and are meant for the small maps of a record (lookup is linear).
//
//   Document user = Document::MakeObject({{"name", "Ada"}, {"age", 36}});
//   user["tags"] = Document::MakeArray({"admin", "ops"});
//   user["address"]["city"] = "London";      // creates nested objects
//   int64_t age = user["age"].as_int();
//   const Document* city = user.FindPath("address.city");
//
// Accessors as_*() throw std::logic_error when the type does not match (a
// programming error); check with type()/is_*() or use FindPath first.
//
// Thread-safety: a const Document may be read from many threads; mutation
// needs external synchronization.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "libshard/status.h"

namespace libshard {

class Document {
 public:
  enum class Type { kNull, kBool, kInt, kUint, kDouble, kString, kBytes, kArray, kObject };
  using Array = std::vector<Document>;
  using Member = std::pair<std::string, Document>;
  using Object = std::vector<Member>;
  // Raw bytes (MessagePack bin); distinct from text.
  struct Bytes {
    std::string data;
    bool operator==(const Bytes&) const = default;
  };

  Document() = default;  // null
  Document(std::nullptr_t) {}
  Document(bool b) : v_(b) {}
  Document(int i) : v_(int64_t{i}) {}
  Document(long i) : v_(int64_t{i}) {}
  Document(long long i) : v_(int64_t{i}) {}
  Document(unsigned u) : v_(int64_t{u}) {}
  // Values above INT64_MAX are kept as kUint.
  Document(unsigned long u) { SetUnsigned(u); }
  Document(unsigned long long u) { SetUnsigned(u); }
  Document(double d) : v_(d) {}
  Document(const char* s) : v_(std::string(s)) {}
  Document(std::string s) : v_(std::move(s)) {}
  Document(std::string_view s) : v_(std::string(s)) {}
  Document(Bytes b) : v_(std::move(b)) {}
  Document(Array a) : v_(std::move(a)) {}
  Document(Object o) : v_(std::move(o)) {}

  static Document MakeObject(std::initializer_list<Member> members = {}) {
    return Document(Object(members));
  }
  static Document MakeArray(std::initializer_list<Document> items = {}) {
    return Document(Array(items));
  }
  static Document FromBytes(std::string data) { return Document(Bytes{std::move(data)}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  // True for kInt and kUint.
  bool is_integer() const { return type() == Type::kInt || type() == Type::kUint; }
  // True for integers and floats.
  bool is_number() const { return is_integer() || type() == Type::kDouble; }
  bool is_string() const { return type() == Type::kString; }
  bool is_bytes() const { return type() == Type::kBytes; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  bool as_bool() const;
  int64_t as_int() const;     // kInt, or kUint that fits
  uint64_t as_uint() const;   // kUint, or non-negative kInt
  double as_double() const;   // any number
  const std::string& as_string() const;  // kString or kBytes
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Object member access. The non-const operator[] turns a null into an
  // empty object and inserts a null member when `key` is absent.
  Document& operator[](std::string_view key);
  const Document* Find(std::string_view key) const;  // nullptr when absent
  bool Erase(std::string_view key);

  // Array element access and append (push_back turns null into an array).
  Document& operator[](std::size_t i) { return as_array().at(i); }
  const Document& operator[](std::size_t i) const { return as_array().at(i); }
  void push_back(Document item);

  // Number of array items or object members; 0 for scalars.
  std::size_t size() const;

  // Follows a dotted path: "address.city", "items[2].sku". Returns nullptr
  // when any step is missing or of the wrong type.
  const Document* FindPath(std::string_view path) const;

  // Deep equality; integers compare by value across kInt/kUint.
  bool operator==(const Document& other) const;

  // JSON. Bytes render as {"$bytes":"<base64>"} and parse back from that
  // form. Integral JSON numbers become integers, others become doubles.
  std::string ToJson() const;
  static Result<Document> FromJson(std::string_view json);

  // MessagePack, the storage format.
  std::string ToMsgpack() const;
  void AppendMsgpack(std::string* out) const;
  static Result<Document> FromMsgpack(std::string_view bytes);

 private:
  void SetUnsigned(unsigned long long u);

  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string,
               Bytes, Array, Object>
      v_;
};

}  // namespace libshard
