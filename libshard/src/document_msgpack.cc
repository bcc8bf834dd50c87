// Document <-> MessagePack, the storage format and the hot path of every
// read and write: packing appends straight into the caller's string (sized
// once up front), and unpacking lets msgpack-c's object tree reference the
// input bytes, so each string is copied exactly once, into the Document.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <msgpack.hpp>
#include <new>
#include <stdexcept>
#include <string>

#include "libshard/document.h"

namespace libshard {
namespace {

// Same limit as document_json.cc: bounds the recursion of Convert() and of
// the Document code that later walks the result.
constexpr std::size_t kMaxDepth = 512;

// --- Packing -------------------------------------------------------------

// The buffer interface msgpack::packer needs, writing into a std::string
// so the bytes never pass through an intermediate sbuffer.
class StringSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  void write(const char* data, std::size_t size) { out_->append(data, size); }

 private:
  std::string* out_;
};

// MessagePack lengths are 32-bit; a longer value cannot be represented,
// and silently truncating the length would write a corrupt record.
uint32_t CheckedLength(std::size_t size, const char* what) {
  if (size > std::numeric_limits<uint32_t>::max()) {
    throw std::length_error(std::string("libshard::Document::ToMsgpack: ") +
                            what + " longer than 2^32-1 cannot be stored");
  }
  return static_cast<uint32_t>(size);
}

// An upper bound of the encoded size (headers counted at their widest), so
// the output string is allocated once instead of growing 4-5 times.
std::size_t EncodedSizeBound(const Document& doc) {
  constexpr std::size_t kHeader = 5;  // marker + 32-bit length
  constexpr std::size_t kScalar = 9;  // marker + 64-bit value
  switch (doc.type()) {
    case Document::Type::kString:
    case Document::Type::kBytes:
      return kHeader + doc.as_string().size();
    case Document::Type::kArray: {
      std::size_t size = kHeader;
      for (const Document& item : doc.as_array()) {
        size += EncodedSizeBound(item);
      }
      return size;
    }
    case Document::Type::kObject: {
      std::size_t size = kHeader;
      for (const auto& [key, value] : doc.as_object()) {
        size += kHeader + key.size() + EncodedSizeBound(value);
      }
      return size;
    }
    default:
      return kScalar;
  }
}

// Walks a Document and writes it through msgpack::packer.
class Encoder {
 public:
  explicit Encoder(std::string* out) : sink_(out), packer_(sink_) {}

  void Pack(const Document& doc) {
    switch (doc.type()) {
      case Document::Type::kNull:
        packer_.pack_nil();
        return;
      case Document::Type::kBool:
        doc.as_bool() ? packer_.pack_true() : packer_.pack_false();
        return;
      case Document::Type::kInt:
        packer_.pack_int64(doc.as_int());  // picks the shortest encoding
        return;
      case Document::Type::kUint:
        packer_.pack_uint64(doc.as_uint());
        return;
      case Document::Type::kDouble:
        PackFloat64(doc.as_double());
        return;
      case Document::Type::kString:
        PackString(doc.as_string());
        return;
      case Document::Type::kBytes:
        PackBytes(doc.as_string());
        return;
      case Document::Type::kArray:
        packer_.pack_array(CheckedLength(doc.size(), "array"));
        for (const Document& item : doc.as_array()) Pack(item);
        return;
      case Document::Type::kObject:
        packer_.pack_map(CheckedLength(doc.size(), "object"));
        for (const auto& [key, value] : doc.as_object()) {
          PackString(key);
          Pack(value);
        }
        return;
    }
  }

 private:
  void PackString(const std::string& s) {
    const uint32_t size = CheckedLength(s.size(), "string");
    packer_.pack_str(size);
    packer_.pack_str_body(s.data(), size);
  }

  void PackBytes(const std::string& data) {
    const uint32_t size = CheckedLength(data.size(), "bytes");
    packer_.pack_bin(size);
    packer_.pack_bin_body(data.data(), size);
  }

  // msgpack-c 4.x's pack_double writes integral doubles (1.0, -0.0) as
  // integers, so they would come back as kInt. A double stays a double:
  // always float64, 0xcb and 8 big-endian bytes. The packer does not
  // buffer, so writing to the sink directly keeps the byte order.
  void PackFloat64(double d) {
    const auto bits = std::bit_cast<uint64_t>(d);
    char buf[9];
    buf[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) {
      buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    }
    sink_.write(buf, sizeof(buf));
  }

  StringSink sink_;
  msgpack::packer<StringSink> packer_;
};

// --- Unpacking -----------------------------------------------------------

// A decoding failure of ours (as opposed to msgpack-c's), turned into
// Status::Corruption by FromMsgpack.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const char* MsgpackTypeName(msgpack::type::object_type type) {
  switch (type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "boolean";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "float";
    case msgpack::type::STR:
      return "str";
    case msgpack::type::BIN:
      return "bin";
    case msgpack::type::ARRAY:
      return "array";
    case msgpack::type::MAP:
      return "map";
    case msgpack::type::EXT:
      return "ext";
  }
  return "unknown";
}

// Strings and bins point into the caller's buffer, which outlives the
// msgpack object tree: Convert() copies them before FromMsgpack returns.
bool ReferenceInput(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

// Every element takes at least one byte of input (every map entry two), so
// a header claiming more than the input holds is corrupt. Checking this up
// front stops msgpack-c from allocating for 4 billion elements because of
// a 5-byte header.
msgpack::unpack_limit LimitsFor(std::size_t input_size) {
  return msgpack::unpack_limit(/*array=*/input_size, /*map=*/input_size / 2,
                               /*str=*/input_size, /*bin=*/input_size,
                               /*ext=*/input_size, /*depth=*/kMaxDepth);
}

// The zone holding msgpack-c's object tree during one decode. A fresh
// zone (what object_handle would own) mallocs and frees an 8 KiB chunk per
// call; reusing one per thread avoids that on the hot path. clear() frees
// any extra chunks a large document needed and keeps only the first.
class ScratchZone {
 public:
  ScratchZone() = default;
  ScratchZone(const ScratchZone&) = delete;
  ScratchZone& operator=(const ScratchZone&) = delete;
  ~ScratchZone() { zone().clear(); }
  msgpack::zone& get() { return zone(); }

 private:
  static msgpack::zone& zone() {
    thread_local msgpack::zone per_thread;
    return per_thread;
  }
};

Document Convert(const msgpack::object& o);

std::string KeyOf(const msgpack::object& key) {
  if (key.type == msgpack::type::STR) {
    return std::string(key.via.str.ptr, key.via.str.size);
  }
  if (key.type == msgpack::type::BIN) {
    return std::string(key.via.bin.ptr, key.via.bin.size);
  }
  throw DecodeError(std::string("map key must be a string, got ") +
                    MsgpackTypeName(key.type));
}

Document ConvertArray(const msgpack::object_array& array) {
  Document::Array items;
  items.reserve(array.size);
  for (uint32_t i = 0; i < array.size; ++i) {
    items.push_back(Convert(array.ptr[i]));
  }
  return Document(std::move(items));
}

Document ConvertMap(const msgpack::object_map& map) {
  Document::Object members;
  members.reserve(map.size);
  for (uint32_t i = 0; i < map.size; ++i) {
    members.emplace_back(KeyOf(map.ptr[i].key), Convert(map.ptr[i].val));
  }
  return Document(std::move(members));
}

Document Convert(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return Document();
    case msgpack::type::BOOLEAN:
      return Document(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER:
      // Document(uint64_t) keeps values up to INT64_MAX as kInt.
      return Document(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return Document(o.via.i64);
    case msgpack::type::FLOAT32:  // msgpack-c widens float32 into f64
    case msgpack::type::FLOAT64:
      return Document(o.via.f64);
    case msgpack::type::STR:
      return Document(std::string(o.via.str.ptr, o.via.str.size));
    case msgpack::type::BIN:
      return Document::FromBytes(std::string(o.via.bin.ptr, o.via.bin.size));
    case msgpack::type::ARRAY:
      return ConvertArray(o.via.array);
    case msgpack::type::MAP:
      return ConvertMap(o.via.map);
    case msgpack::type::EXT:
      throw DecodeError("ext type " + std::to_string(o.via.ext.type()) +
                        " has no Document equivalent");
  }
  throw DecodeError("unknown MessagePack type " +
                    std::to_string(static_cast<int>(o.type)));
}

Status Corrupt(const std::string& why) {
  return Status::Corruption("invalid MessagePack document: " + why);
}

}  // namespace

std::string Document::ToMsgpack() const {
  std::string out;
  AppendMsgpack(&out);
  return out;
}

void Document::AppendMsgpack(std::string* out) const {
  const std::size_t needed = out->size() + EncodedSizeBound(*this);
  if (needed > out->capacity()) {
    // At least doubling keeps appends of many documents to one buffer
    // (batches) amortized linear.
    out->reserve(std::max(needed, 2 * out->capacity()));
  }
  const std::size_t old_size = out->size();
  try {
    Encoder(out).Pack(*this);
  } catch (...) {
    out->resize(old_size);  // no half-written document left behind
    throw;
  }
}

// msgpack-c reports malformed input by throwing; every exception is caught
// here so that hostile bytes yield Corruption, never a crash.
Result<Document> Document::FromMsgpack(std::string_view bytes) {
  if (bytes.empty()) return Corrupt("empty input");
  try {
    ScratchZone zone;
    std::size_t offset = 0;
    const msgpack::object object =
        msgpack::unpack(zone.get(), bytes.data(), bytes.size(), offset,
                        ReferenceInput, nullptr, LimitsFor(bytes.size()));
    if (offset != bytes.size()) {
      return Corrupt(std::to_string(bytes.size() - offset) +
                     " unexpected bytes after the value");
    }
    return Convert(object);
  } catch (const msgpack::insufficient_bytes&) {
    return Corrupt("truncated input (" + std::to_string(bytes.size()) +
                   " bytes)");
  } catch (const msgpack::depth_size_overflow&) {
    return Corrupt("nested deeper than " + std::to_string(kMaxDepth) +
                   " levels");
  } catch (const msgpack::size_overflow& e) {
    return Corrupt(std::string("truncated or corrupt, a length exceeds the "
                               "input size: ") +
                   e.what());
  } catch (const msgpack::parse_error& e) {
    return Corrupt(std::string("malformed input (") + e.what() + ")");
  } catch (const DecodeError& e) {
    return Corrupt(e.what());
  } catch (const std::bad_alloc&) {
    return Corrupt("out of memory while decoding " +
                   std::to_string(bytes.size()) + " bytes");
  } catch (const std::exception& e) {
    return Corrupt(e.what());
  } catch (...) {
    return Corrupt("unknown error while decoding");
  }
}

}  // namespace libshard
