// One put of a one-statement shard batch (records/pg_put_many.h,
// records/my_put_many.h), views into the caller's PendingWrite, and what
// either statement answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace libshard::records {

struct PutManyItem {
  std::string_view id;
  uint32_t bucket = 0;
  std::string_view body;
  std::optional<uint64_t> expect;  // WriteOptions::if_version
};

enum class PutManyOutcome {
  kWritten,   // every item; (*versions)[i] set for every item i
  kDeclined,  // a check failed: nothing was written
  kMalformed  // committed, but the answer did not parse (a bug)
};

}  // namespace libshard::records
