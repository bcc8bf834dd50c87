// Document: value type, accessors and path lookup. JSON and MessagePack
// conversions live in document_json.cc and document_msgpack.cc.

#include "libshard/document.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace libshard {
namespace {

using Type = Document::Type;

const char* TypeName(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kUint:
      return "uint";
    case Type::kDouble:
      return "double";
    case Type::kString:
      return "string";
    case Type::kBytes:
      return "bytes";
    case Type::kArray:
      return "array";
    case Type::kObject:
      return "object";
  }
  return "unknown";
}

// Accessor misuse is a programming error, hence logic_error; the message
// names the call, what it needed and what it found, since that is usually
// all a log line carries.
[[noreturn]] void ThrowTypeError(const char* call, const char* wanted,
                                 Type got) {
  throw std::logic_error(std::string("libshard::Document::") + call +
                         ": needs " + wanted + ", but the value is " +
                         TypeName(got));
}

[[noreturn]] void ThrowRangeError(const char* call, const std::string& value,
                                  const char* target) {
  throw std::logic_error(std::string("libshard::Document::") + call + ": " +
                         value + " does not fit in " + target);
}

constexpr auto kInt64Max =
    static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// Integers are equal by value, whichever of kInt/kUint holds them.
bool IntegersEqual(const Document& a, const Document& b) {
  if (a.type() == b.type()) {
    return a.type() == Type::kInt ? a.as_int() == b.as_int()
                                  : a.as_uint() == b.as_uint();
  }
  const Document& signed_one = a.type() == Type::kInt ? a : b;
  const Document& unsigned_one = a.type() == Type::kInt ? b : a;
  const int64_t i = signed_one.as_int();
  return i >= 0 && static_cast<uint64_t>(i) == unsigned_one.as_uint();
}

const Document* FindMember(const Document::Object& members,
                           std::string_view key) {
  for (const auto& member : members) {
    if (member.first == key) return &member.second;
  }
  return nullptr;
}

// Every key of `a` is in `b` with an equal value (first occurrence, as
// Find sees it).
bool MembersIncluded(const Document::Object& a, const Document::Object& b) {
  for (const auto& member : a) {
    const Document* other = FindMember(b, member.first);
    if (other == nullptr || !(*FindMember(a, member.first) == *other)) {
      return false;
    }
  }
  return true;
}

// Objects compare as maps: member order does not matter. The common case,
// same keys in the same order, is checked pairwise without lookups.
bool ObjectsEqual(const Document::Object& a, const Document::Object& b) {
  if (a.size() != b.size()) return false;
  std::size_t i = 0;
  for (; i < a.size() && a[i].first == b[i].first; ++i) {
    if (!(a[i].second == b[i].second)) return false;
  }
  if (i == a.size()) return true;
  return MembersIncluded(a, b) && MembersIncluded(b, a);
}

// Parses the N of "[N]": decimal digits only, no sign, no overflow.
bool ParseIndex(std::string_view text, std::size_t* index) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *index);
  return ec == std::errc() && ptr == end;
}

}  // namespace

void Document::SetUnsigned(unsigned long long u) {
  if (u <= kInt64Max) {
    v_ = static_cast<int64_t>(u);
  } else {
    v_ = static_cast<uint64_t>(u);
  }
}

bool Document::as_bool() const {
  if (const bool* b = std::get_if<bool>(&v_)) return *b;
  ThrowTypeError("as_bool()", "a bool", type());
}

int64_t Document::as_int() const {
  if (const int64_t* i = std::get_if<int64_t>(&v_)) return *i;
  if (const uint64_t* u = std::get_if<uint64_t>(&v_)) {
    if (*u <= kInt64Max) return static_cast<int64_t>(*u);
    ThrowRangeError("as_int()", std::to_string(*u), "int64_t");
  }
  ThrowTypeError("as_int()", "an integer", type());
}

uint64_t Document::as_uint() const {
  if (const uint64_t* u = std::get_if<uint64_t>(&v_)) return *u;
  if (const int64_t* i = std::get_if<int64_t>(&v_)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
    ThrowRangeError("as_uint()", std::to_string(*i), "uint64_t");
  }
  ThrowTypeError("as_uint()", "an integer", type());
}

double Document::as_double() const {
  if (const double* d = std::get_if<double>(&v_)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&v_)) {
    return static_cast<double>(*i);
  }
  if (const uint64_t* u = std::get_if<uint64_t>(&v_)) {
    return static_cast<double>(*u);
  }
  ThrowTypeError("as_double()", "a number", type());
}

const std::string& Document::as_string() const {
  if (const std::string* s = std::get_if<std::string>(&v_)) return *s;
  if (const Bytes* b = std::get_if<Bytes>(&v_)) return b->data;
  ThrowTypeError("as_string()", "a string or bytes", type());
}

const Document::Array& Document::as_array() const {
  if (const Array* a = std::get_if<Array>(&v_)) return *a;
  ThrowTypeError("as_array()", "an array", type());
}

Document::Array& Document::as_array() {
  if (Array* a = std::get_if<Array>(&v_)) return *a;
  ThrowTypeError("as_array()", "an array", type());
}

const Document::Object& Document::as_object() const {
  if (const Object* o = std::get_if<Object>(&v_)) return *o;
  ThrowTypeError("as_object()", "an object", type());
}

Document::Object& Document::as_object() {
  if (Object* o = std::get_if<Object>(&v_)) return *o;
  ThrowTypeError("as_object()", "an object", type());
}

Document& Document::operator[](std::string_view key) {
  if (is_null()) v_ = Object();
  Object* members = std::get_if<Object>(&v_);
  if (members == nullptr) {
    ThrowTypeError("operator[](key)", "an object or null", type());
  }
  for (auto& member : *members) {
    if (member.first == key) return member.second;
  }
  members->emplace_back(std::string(key), Document());
  return members->back().second;
}

const Document* Document::Find(std::string_view key) const {
  const Object* members = std::get_if<Object>(&v_);
  return members == nullptr ? nullptr : FindMember(*members, key);
}

bool Document::Erase(std::string_view key) {
  Object* members = std::get_if<Object>(&v_);
  if (members == nullptr) return false;
  for (auto it = members->begin(); it != members->end(); ++it) {
    if (it->first == key) {
      members->erase(it);
      return true;
    }
  }
  return false;
}

void Document::push_back(Document item) {
  if (is_null()) v_ = Array();
  Array* items = std::get_if<Array>(&v_);
  if (items == nullptr) {
    ThrowTypeError("push_back()", "an array or null", type());
  }
  items->push_back(std::move(item));
}

std::size_t Document::size() const {
  if (const Array* a = std::get_if<Array>(&v_)) return a->size();
  if (const Object* o = std::get_if<Object>(&v_)) return o->size();
  return 0;
}

// Grammar: path := key? index* ("." key index*)*, index := "[" digits "]".
// Only the first segment may omit its key ("[0].name" on an array root).
// Keys cannot contain '.' or '['; such members are reachable with Find.
const Document* Document::FindPath(std::string_view path) const {
  const Document* current = this;
  std::size_t pos = 0;
  while (true) {
    std::size_t end = path.find_first_of(".[", pos);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view key = path.substr(pos, end - pos);
    if (!key.empty()) {
      current = current->Find(key);
      if (current == nullptr) return nullptr;
    } else if (pos != 0 || end == path.size() || path[end] != '[') {
      return nullptr;  // "", "a..b", "a.", ".a", "a.[0]"
    }
    pos = end;
    while (pos < path.size() && path[pos] == '[') {
      const std::size_t close = path.find(']', pos);
      std::size_t index = 0;
      if (close == std::string_view::npos ||
          !ParseIndex(path.substr(pos + 1, close - pos - 1), &index) ||
          !current->is_array() || index >= current->as_array().size()) {
        return nullptr;
      }
      current = &current->as_array()[index];
      pos = close + 1;
    }
    if (pos == path.size()) return current;
    if (path[pos] != '.') return nullptr;  // "a[0]b"
    ++pos;
  }
}

// kInt and kUint compare by value; an integer never equals a double, even
// 1 and 1.0, because they are stored (and indexed) as different types.
// Doubles follow IEEE rules, so a NaN is unequal to itself.
bool Document::operator==(const Document& other) const {
  if (is_integer() && other.is_integer()) return IntegersEqual(*this, other);
  if (type() != other.type()) return false;
  switch (type()) {
    case Type::kNull:
      return true;
    case Type::kBool:
      return std::get<bool>(v_) == std::get<bool>(other.v_);
    case Type::kDouble:
      return std::get<double>(v_) == std::get<double>(other.v_);
    case Type::kString:
      return std::get<std::string>(v_) == std::get<std::string>(other.v_);
    case Type::kBytes:
      return std::get<Bytes>(v_) == std::get<Bytes>(other.v_);
    case Type::kArray:
      return std::get<Array>(v_) == std::get<Array>(other.v_);
    case Type::kObject:
      return ObjectsEqual(std::get<Object>(v_), std::get<Object>(other.v_));
    case Type::kInt:
    case Type::kUint:
      break;  // handled above
  }
  return false;
}

}  // namespace libshard
