// The rows of one bucket on one shard, as a move reads and writes them.
// Ids and bodies are bytes (backend::Dialect), copied byte-exact with
// their version and `updated`. SOCI errors are thrown.
#pragma once

#include <soci/soci.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/connection.h"
#include "backend/dialect.h"
#include "libshard/store.h"

namespace libshard::resharding {

// What tells two copies of a row apart without reading bodies.
struct RowStamp {
  std::string id;
  uint64_t version = 0;
  int64_t updated_us = 0;
  uint64_t size = 0;  // body length in bytes
  bool operator==(const RowStamp&) const = default;
};

// Every row of the bucket, in id order.
std::vector<RowStamp> ListBucket(backend::Connection& c, const backend::Dialect& d,
                                 const std::string& entity, uint32_t bucket);

// Full rows of `ids` (which exist in the bucket; missing ones are skipped).
void FetchRows(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
               const std::vector<std::string>& ids, std::vector<RawRecord>* out);

// Up to `limit` full rows of the bucket with id > after, in id order;
// returns how many.
size_t ScanBucket(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
                  uint32_t bucket, std::string_view after, int limit, std::vector<RawRecord>* out);

// The entities whose record tables exist on the shard (ls_rec_<entity>).
std::vector<std::string> RecordTables(backend::Connection& c, const backend::Dialect& d);

// Makes the target's copy of each row equal the source's: insert
// (`exists` false) or replace.
void PutRow(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
            uint32_t bucket, const RawRecord& row, bool exists);
void DeleteRow(backend::Connection& c, const backend::Dialect& d, const std::string& entity,
               std::string_view id);

// Deletes up to `limit` rows of the bucket; returns how many.
long long DeleteBucketChunk(backend::Connection& c, const backend::Dialect& d,
                            const std::string& entity, uint32_t bucket, int limit);

}  // namespace libshard::resharding
