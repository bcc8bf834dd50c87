// Typed records: store a plain struct declared with MSGPACK_DEFINE_MAP.
//
//   struct User {
//     std::string name;
//     int age = 0;
//     MSGPACK_DEFINE_MAP(name, age);
//   };
//   libshard::PutObject(store, "users", "ada", User{"Ada", 36});
//   auto user = libshard::GetObject<User>(store, "users", "ada");
//
// The body is the same MessagePack map a Document would produce, so typed
// and dynamic access (and YAML-declared indexes) see the same fields. This
// is the only public header that includes msgpack-c.
#pragma once

#include <msgpack.hpp>

#include <string>
#include <string_view>

#include "libshard/store.h"

namespace libshard {

template <typename T>
struct TypedRecord {
  Id id;
  uint64_t version = 0;
  int64_t updated_us = 0;
  T value;
};

template <typename T>
Result<uint64_t> PutObject(Store& store, std::string_view entity,
                           std::string_view id, const T& value,
                           const WriteOptions& options = {}) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return store.PutRaw(entity, id, std::string_view(buffer.data(), buffer.size()),
                      options);
}

template <typename T>
Result<TypedRecord<T>> GetObject(Store& store, std::string_view entity,
                                 std::string_view id) {
  Result<RawRecord> raw = store.GetRaw(entity, id);
  if (!raw.ok()) return raw.status();
  TypedRecord<T> out;
  out.id = std::move(raw->id);
  out.version = raw->version;
  out.updated_us = raw->updated_us;
  try {
    msgpack::object_handle handle =
        msgpack::unpack(raw->body.data(), raw->body.size());
    handle.get().convert(out.value);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string(entity) + " record does not match " +
                              "the requested type: " + e.what());
  }
  return out;
}

}  // namespace libshard
