// Status and Result<T>: how every libshard call reports failure.
//
// A router that fans out to many databases treats "not found", "conflict"
// and "unavailable" as normal outcomes, so they are values, not exceptions.
// SOCI, yaml-cpp and msgpack throw; libshard catches at the few places that
// call them and converts to a Status. Each Code is distinct so callers (and
// shardctl's exit codes) can branch on it without parsing messages.
//
// Thread-safety: Status and Result are values; distinct objects may be used
// from different threads freely.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace libshard {

enum class Code : int {
  kOk = 0,
  kNotFound = 1,         // the record (or index, entity…) does not exist
  kVersionConflict = 2,  // compare-and-set: expected version did not match
  kUniqueViolation = 3,  // a unique index already has a live holder
  kInvalidArgument = 4,  // bad input from the caller: bad JSON, bad id, bad query
  kInvalidConfig = 5,    // the cluster config or catalog is wrong
  kUnavailable = 6,      // a database could not be reached in time
  kCorruption = 7,       // stored bytes are not a valid record
  kInternal = 8,         // anything else (a bug, an unexpected SQL error)
  // The link to a database broke while a write's COMMIT was in flight: the
  // write may or may not have been applied. Never retried by the library;
  // read the record back (or retry with if_version) to find out.
  kOutcomeUnknown = 9,
};

// Short stable name of a code, e.g. "not found".
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status VersionConflict(std::string m) { return {Code::kVersionConflict, std::move(m)}; }
  static Status UniqueViolation(std::string m) { return {Code::kUniqueViolation, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status InvalidConfig(std::string m) { return {Code::kInvalidConfig, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status OutcomeUnknown(std::string m) { return {Code::kOutcomeUnknown, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  // Either kind of conflict (version mismatch or unique violation).
  bool IsConflict() const {
    return code_ == Code::kVersionConflict || code_ == Code::kUniqueViolation;
  }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsOutcomeUnknown() const { return code_ == Code::kOutcomeUnknown; }

  // "not found: users/42 does not exist"; "OK" when ok().
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result needs a value or an error");
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // The error; OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace libshard
