// Document <-> JSON.
//
// Parsing drives nlohmann's SAX interface straight into a Document, so no
// intermediate json tree is built and member order is kept. Writing goes
// through nlohmann::ordered_json for its escaping and shortest round-trip
// double formatting.

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "libshard/document.h"
#include "util/base64.h"

namespace libshard {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr char kBytesKey[] = "$bytes";

// Deeper input is rejected so that the recursive Document code (copy,
// destruction, ToJson, ToMsgpack) cannot overflow the stack on hostile
// input. Same limit as document_msgpack.cc.
constexpr std::size_t kMaxDepth = 512;

// Small objects are scanned pairwise, large ones through a hash map, so a
// hostile object with many keys stays linear.
bool HasDuplicateKeys(const Document::Object& members) {
  constexpr std::size_t kPairwiseLimit = 16;
  if (members.size() <= kPairwiseLimit) {
    for (std::size_t i = 1; i < members.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (members[i].first == members[j].first) return true;
      }
    }
    return false;
  }
  std::unordered_map<std::string_view, std::size_t> seen;
  seen.reserve(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (!seen.emplace(members[i].first, i).second) return true;
  }
  return false;
}

// --- Writing -------------------------------------------------------------

OrderedJson ToJsonValue(const Document& doc) {
  switch (doc.type()) {
    case Document::Type::kNull:
      return nullptr;
    case Document::Type::kBool:
      return doc.as_bool();
    case Document::Type::kInt:
      return doc.as_int();
    case Document::Type::kUint:
      return doc.as_uint();
    case Document::Type::kDouble:
      return doc.as_double();  // NaN and infinities are written as null
    case Document::Type::kString:
      return doc.as_string();
    case Document::Type::kBytes:
      return OrderedJson{{kBytesKey, util::Base64Encode(doc.as_string())}};
    case Document::Type::kArray: {
      OrderedJson array = OrderedJson::array();
      for (const Document& item : doc.as_array()) {
        array.push_back(ToJsonValue(item));
      }
      return array;
    }
    case Document::Type::kObject: {
      const Document::Object& members = doc.as_object();
      OrderedJson object = OrderedJson::object();
      // ordered_map::emplace searches the members linearly for the key,
      // which made writing an object of n keys O(n^2) (a 1M-key document
      // took minutes). Members are appended to its vector directly instead;
      // a duplicate key (possible in a Document built in code or read from
      // MessagePack) is dropped through a hash set, keeping the first, the
      // one Find returns.
      OrderedJson::object_t::Container& storage =
          object.get_ref<OrderedJson::object_t&>();
      storage.reserve(members.size());
      if (!HasDuplicateKeys(members)) {
        for (const auto& [key, value] : members) {
          storage.emplace_back(key, ToJsonValue(value));
        }
        return object;
      }
      std::unordered_set<std::string_view> seen;
      seen.reserve(members.size());
      for (const auto& [key, value] : members) {
        if (seen.insert(key).second) storage.emplace_back(key, ToJsonValue(value));
      }
      return object;
    }
  }
  return nullptr;
}

// --- Parsing -------------------------------------------------------------

// {"$bytes": "<canonical base64>"} and nothing else is a Bytes value; any
// other object, including one with invalid base64, stays an object.
bool TryConvertBytes(Document* doc) {
  const Document::Object& members = doc->as_object();
  if (members.size() != 1 || members[0].first != kBytesKey ||
      !members[0].second.is_string()) {
    return false;
  }
  std::optional<std::string> data =
      util::Base64Decode(members[0].second.as_string());
  if (!data) return false;
  *doc = Document::FromBytes(std::move(*data));
  return true;
}

// JSON leaves duplicate keys undefined; like most parsers (and nlohmann's
// own DOM) the last value wins. It keeps the first key's position.
void MergeDuplicateKeys(Document::Object* members) {
  if (!HasDuplicateKeys(*members)) return;
  std::unordered_map<std::string, std::size_t> first_index;
  Document::Object merged;
  merged.reserve(members->size());
  for (auto& member : *members) {
    auto [it, inserted] = first_index.emplace(member.first, merged.size());
    if (inserted) {
      merged.push_back(std::move(member));
    } else {
      merged[it->second].second = std::move(member.second);
    }
  }
  *members = std::move(merged);
}

// Receives nlohmann SAX events and assembles the Document. Open containers
// live on `stack_`; a finished one is moved into its parent.
class DocumentBuilder {
 public:
  using Json = nlohmann::json;

  bool null() { return Add(Document()); }
  bool boolean(bool value) { return Add(Document(value)); }
  bool number_integer(Json::number_integer_t value) {
    return Add(Document(value));
  }
  // Document keeps values up to INT64_MAX as kInt, larger ones as kUint.
  bool number_unsigned(Json::number_unsigned_t value) {
    return Add(Document(value));
  }
  bool number_float(Json::number_float_t value, const Json::string_t&) {
    return Add(Document(value));
  }
  bool string(Json::string_t& value) { return Add(Document(std::move(value))); }
  // Only binary formats (CBOR, BSON…) produce these, never JSON text.
  bool binary(Json::binary_t&) { return Fail("unexpected binary value"); }

  // One level deeper than kMaxDepth is allowed for {"$bytes": …}, which
  // becomes a scalar: ToJson writes bytes that way, also at the deepest
  // level a MessagePack document may have (end_object checks the rest).
  bool start_object(std::size_t) { return Open(Document::Object(), kMaxDepth + 1); }
  bool key(Json::string_t& key) {
    stack_.back().as_object().emplace_back(std::move(key), Document());
    return true;
  }
  bool end_object() {
    Document done = Pop();
    MergeDuplicateKeys(&done.as_object());
    if (!TryConvertBytes(&done) && stack_.size() >= kMaxDepth) return TooDeep();
    return Add(std::move(done));
  }
  bool start_array(std::size_t) { return Open(Document::Array(), kMaxDepth); }
  bool end_array() { return Add(Pop()); }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) {
    return Fail("invalid JSON at byte " + std::to_string(position) + ": " +
                WithoutExceptionId(error.what()));
  }

  const std::string& error() const { return error_; }
  Document TakeRoot() { return std::move(root_); }

 private:
  // nlohmann prefixes "[json.exception.parse_error.101] "; users need the
  // rest ("parse error at line 1, column 7: ...").
  static std::string WithoutExceptionId(std::string message) {
    if (!message.empty() && message[0] == '[') {
      const std::size_t end = message.find("] ");
      if (end != std::string::npos) message.erase(0, end + 2);
    }
    return message;
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  bool TooDeep() {
    return Fail("invalid JSON: nesting deeper than " +
                std::to_string(kMaxDepth) + " levels");
  }

  bool Open(Document container, std::size_t max_depth) {
    if (stack_.size() >= max_depth) return TooDeep();
    stack_.push_back(std::move(container));
    return true;
  }

  Document Pop() {
    Document done = std::move(stack_.back());
    stack_.pop_back();
    return done;
  }

  // Places a finished value in the open container, or makes it the root.
  bool Add(Document value) {
    if (stack_.empty()) {
      root_ = std::move(value);
    } else if (Document& parent = stack_.back(); parent.is_array()) {
      parent.as_array().push_back(std::move(value));
    } else {
      parent.as_object().back().second = std::move(value);
    }
    return true;
  }

  std::vector<Document> stack_;
  Document root_;
  std::string error_;
};

}  // namespace

// Strings that are not valid UTF-8 (possible in documents read from
// MessagePack) are written with U+FFFD replacing the bad bytes rather than
// failing: JSON output is for people and tools, bytes belong in kBytes.
std::string Document::ToJson() const {
  return ToJsonValue(*this).dump(-1, ' ', /*ensure_ascii=*/false,
                                 nlohmann::json::error_handler_t::replace);
}

Result<Document> Document::FromJson(std::string_view json) {
  // nlohmann's lexer takes a NUL byte for the end of input (as in a C
  // string) and would silently ignore everything after it. JSON text can
  // never contain one (inside strings it must be written \u0000), so it is
  // refused wherever it is.
  if (const std::size_t nul = json.find('\0'); nul != std::string_view::npos) {
    const std::string_view before = json.substr(0, nul);
    const std::size_t line_start = before.rfind('\n');
    const std::size_t line =
        1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const std::size_t column =
        line_start == std::string_view::npos ? nul + 1 : nul - line_start;
    return Status::InvalidArgument("invalid JSON: NUL byte at line " + std::to_string(line) +
                                   ", column " + std::to_string(column));
  }
  DocumentBuilder builder;
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(json.data(), json.data() + json.size(),
                                   &builder);
  } catch (const std::exception& e) {
    // sax_parse reports errors through parse_error; this is only for
    // allocation failures and the like.
    return Status::InvalidArgument(std::string("invalid JSON: ") + e.what());
  }
  if (!ok) {
    return Status::InvalidArgument(builder.error().empty() ? "invalid JSON"
                                                           : builder.error());
  }
  return builder.TakeRoot();
}

}  // namespace libshard
