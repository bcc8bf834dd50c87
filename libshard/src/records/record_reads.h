// Reading records by id across the shards of a cluster: the one read path
// the store (Store::GetMany) and the indexer (query re-check, verify) share.
#pragma once

#include <string_view>
#include <vector>

#include "cluster/cluster.h"
#include "libshard/store.h"

namespace libshard::records {

// A stored row decoded; kCorruption when its body is not a document.
Result<Record> Decode(std::string_view entity, RawRecord&& raw);

// Where GetMany reads: through the entity's record cache when it has one
// (Store::GetMany, a query's record fetch), or always from the shards
// (verify and repair compare the index with the truth).
enum class ReadVia { kCache, kShards };

// The records of `ids` in request order (repeats repeated, missing left
// out); one round trip per shard touched, shards in parallel.
Result<std::vector<Record>> GetMany(cluster::Cluster& cluster, std::string_view entity,
                                    const std::vector<Id>& ids, ReadVia via = ReadVia::kShards);

}  // namespace libshard::records
