#include "records/record_reads.h"

#include <soci/soci.h>

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "cache/record_cache.h"
#include "cluster/route_retry.h"
#include "records/record_table.h"

namespace libshard::records {

using backend::Connection;
using cluster::ConnectionPool;
using Retry = cluster::Cluster::Retry;

Result<Record> Decode(std::string_view entity, RawRecord&& raw) {
  Result<Document> doc = Document::FromMsgpack(raw.body);
  if (!doc.ok()) {
    return Status::Corruption(DescribeRecord(entity, raw.id) +
                              ": stored body is not a valid document: " +
                              doc.status().message());
  }
  return Record{std::move(raw.id), raw.version, raw.updated_us, std::move(doc).value()};
}

namespace {

MultiGetStatement& MultiGet(Connection& c, const backend::Dialect& d, const std::string& cluster_id,
                                     const std::string& entity, size_t size) {
  return c.Cached<MultiGetStatement>(
      MultiGetStatement::Key(entity, size),
      [&] { return std::make_unique<MultiGetStatement>(c.sql(), d, entity, size, cluster_id); });
}

// Reads `ids` from one shard in chunks of the prepared sizes. Rows of
// buckets the shard does not own go to `check` (with the ids that were
// not found) for a fenced point read.
void ReadMany(Connection& c, const backend::Dialect& d, const std::string& cluster_id,
              const std::string& entity,
              const std::vector<std::string_view>& ids, std::vector<RawRecord>* out,
              std::vector<std::string>* not_owned) {
  constexpr size_t kMax = MultiGetStatement::kSizes[std::size(MultiGetStatement::kSizes) - 1];
  for (size_t start = 0; start < ids.size(); start += kMax) {
    size_t n = std::min(kMax, ids.size() - start);
    size_t size = kMax;
    for (size_t s : MultiGetStatement::kSizes) {
      if (s >= n) {
        size = s;
        break;
      }
    }
    if (n == ids.size()) {  // the usual case: one statement, no copy
      MultiGet(c, d, cluster_id, entity, size).Run(ids, out, not_owned);
      continue;
    }
    std::vector<std::string_view> chunk(ids.begin() + start, ids.begin() + start + n);
    MultiGet(c, d, cluster_id, entity, size).Run(chunk, out, not_owned);
  }
}

struct Refusal {
  std::string id;
  size_t shard;
  cluster::BucketOwner owner;
};

// One round of GetMany on the shards `ids` route to now. Found records go
// to `found`; ids whose shard refused (the bucket moved) to `refused`.
// With `bodies`, each found record's stored body is kept beside it (for
// the record cache's fill).
Status ReadRound(cluster::Cluster& cluster, std::string_view entity,
                 const std::vector<std::string_view>& ids, std::vector<std::vector<Record>>* found,
                 std::vector<std::vector<std::string>>* bodies, std::vector<Refusal>* refused) {
  std::vector<uint16_t> route(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) route[i] = cluster.router.RouteId(ids[i]).shard;
  // After routing: every index in `route` is already in `shards`.
  const size_t shard_count = cluster.shards.size();
  std::vector<std::vector<size_t>> groups(shard_count);
  for (size_t i = 0; i < ids.size(); ++i) groups[route[i]].push_back(i);
  std::vector<size_t> touched;
  for (size_t s = 0; s < groups.size(); ++s) {
    if (!groups[s].empty()) touched.push_back(s);
  }
  const std::string e(entity);
  found->assign(shard_count, {});
  if (bodies != nullptr) bodies->assign(shard_count, {});
  std::vector<std::vector<Refusal>> refused_by_shard(shard_count);
  Status status = cluster.ForEachShard(touched, [&](size_t shard) {
    ConnectionPool& pool = *cluster.shards[shard];
    std::vector<std::string_view> shard_ids;
    for (size_t i : groups[shard]) shard_ids.push_back(ids[i]);
    std::vector<RawRecord> raw;
    std::vector<Refusal>& refusals = refused_by_shard[shard];
    Status s = cluster.WithConnection(pool, "get_many", Retry::kReadOnly, [&](Connection& c) {
      raw.clear();
      refusals.clear();
      std::vector<std::string> check;
      ReadMany(c, pool.dialect(), cluster.cluster_id, e, shard_ids, &raw, &check);
      // Ids neither found in an owned bucket: absent, or their bucket moved
      // away. Each is settled by a fenced point read (ownership and row in
      // one snapshot), so an id is never reported absent on the word of a
      // shard that does not own it.
      // (A few ids per shard: sorted vectors beat hash sets here.)
      std::vector<std::string_view> seen;
      seen.reserve(raw.size());
      for (const RawRecord& r : raw) seen.push_back(r.id);
      std::sort(seen.begin(), seen.end());
      for (std::string_view id : shard_ids) {
        if (!std::binary_search(seen.begin(), seen.end(), id)) check.emplace_back(id);
      }
      if (check.empty()) return Status::OK();
      std::sort(check.begin(), check.end());
      check.erase(std::unique(check.begin(), check.end()), check.end());
      auto& get = c.Cached<GetStatement>(GetStatement::Key(e), [&] {
        return std::make_unique<GetStatement>(c.sql(), pool.dialect(), e, cluster.cluster_id);
      });
      for (std::string& id : check) {
        RawRecord rec;
        cluster::BucketOwner owner;
        switch (get.Run(id, cluster.router.BucketOf(id), &rec, &owner)) {
          case GetStatement::Found::kYes:
            rec.id = std::move(id);
            raw.push_back(std::move(rec));
            break;
          case GetStatement::Found::kNo:
            break;
          case GetStatement::Found::kNotOwned:
            refusals.push_back({std::move(id), shard, std::move(owner)});
            break;
        }
      }
      return Status::OK();
    });
    if (!s.ok()) return s;
    for (RawRecord& r : raw) {
      if (bodies != nullptr) (*bodies)[shard].push_back(r.body);
      Result<Record> rec = Decode(entity, std::move(r));
      if (!rec.ok()) return rec.status();
      (*found)[shard].push_back(std::move(rec).value());
    }
    return Status::OK();
  }, ids.size() <= 32 ? cluster::Cluster::Fanout::kSmall : cluster::Cluster::Fanout::kCpu);
  for (auto& v : refused_by_shard) {
    for (Refusal& r : v) refused->push_back(std::move(r));
  }
  return status;
}

// GetMany from the shards. With `bodies`, out->at(k)'s stored body goes to
// (*bodies)[k].
template <typename IdList>
Status ReadFromShards(cluster::Cluster& cluster, std::string_view entity, const IdList& ids,
                      std::vector<Record>* result, std::vector<std::string>* bodies) {
  std::vector<std::vector<Record>> found;
  std::vector<std::vector<std::string>> found_bodies;
  std::vector<std::string_view> todo(ids.begin(), ids.end());
  std::vector<std::vector<Record>> round;
  cluster::RouteRetry retry(cluster, std::string(entity) + " get_many");
  while (!todo.empty()) {
    std::vector<Refusal> refused;
    std::vector<std::vector<std::string>> round_bodies;
    if (Status s = ReadRound(cluster, entity, todo, &round, bodies ? &round_bodies : nullptr,
                             &refused);
        !s.ok()) {
      return s;
    }
    for (auto& v : round) found.push_back(std::move(v));
    for (auto& v : round_bodies) found_bodies.push_back(std::move(v));
    todo.clear();
    std::unordered_set<uint32_t> followed;
    for (const Refusal& r : refused) {
      uint32_t bucket = cluster.router.BucketOf(r.id);
      if (followed.insert(bucket).second) {
        if (Status s = retry.Refused(bucket, r.shard, r.owner); !s.ok()) return s;
      }
    }
    // The refused ids, as views into `ids` (stable), once each.
    std::unordered_set<std::string_view> again;
    for (const Refusal& r : refused) again.insert(r.id);
    for (std::string_view id : ids) {
      if (again.erase(id)) todo.push_back(id);
    }
  }

  // Back into request order. Sorted vectors rather than hash maps: a call
  // carries tens to hundreds of ids and the maps' node allocations cost
  // more than the searches (callgrind, shard-bench get_many_in).
  struct Found {
    std::string_view id;
    Record* record;
    std::string* body;
  };
  std::vector<Found> by_id;
  for (size_t g = 0; g < found.size(); ++g) {
    for (size_t r = 0; r < found[g].size(); ++r) {
      by_id.push_back({found[g][r].id, &found[g][r], bodies ? &found_bodies[g][r] : nullptr});
    }
  }
  std::sort(by_id.begin(), by_id.end(),
            [](const Found& a, const Found& b) { return a.id < b.id; });
  // All lookups first (keys point into the records), then move each record
  // out at its last request position and copy it only for earlier repeats.
  constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<size_t> pick(ids.size(), kNone);  // position in by_id
  std::vector<uint32_t> uses(by_id.size(), 0);
  size_t hits = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = std::lower_bound(by_id.begin(), by_id.end(), std::string_view(ids[i]),
                               [](const Found& e, std::string_view id) { return e.id < id; });
    if (it == by_id.end() || it->id != std::string_view(ids[i])) continue;
    pick[i] = static_cast<size_t>(it - by_id.begin());
    ++uses[pick[i]];
    ++hits;
  }
  std::vector<Record>& out = *result;
  out.clear();
  out.reserve(hits);
  if (bodies) {
    bodies->clear();
    bodies->reserve(hits);
  }
  for (size_t p : pick) {
    if (p == kNone) continue;
    const bool last = --uses[p] == 0;
    if (last) {
      out.push_back(std::move(*by_id[p].record));
    } else {
      out.push_back(*by_id[p].record);
    }
    if (bodies) bodies->push_back(last ? std::move(*by_id[p].body) : *by_id[p].body);
  }
  return Status::OK();
}

// GetMany through the entity's record cache: every tier is asked for the
// distinct ids once, the misses are read from the shards in one GetMany
// and filled, and the answer is put back into request order.
Result<std::vector<Record>> GetManyCached(cluster::Cluster& cluster, std::string_view entity,
                                          const std::vector<Id>& ids, cache::RecordCache& cache) {
  std::vector<std::string_view> distinct(ids.begin(), ids.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<std::shared_ptr<const cache::CachedValue>> cached;
  cache::MissPlan plan;
  cache.Lookup(distinct, &cached, &plan);
  // Every distinct id's record (or nothing), as a Record.
  std::vector<std::optional<Record>> records(distinct.size());
  for (size_t i = 0; i < distinct.size(); ++i) {
    if (!cached[i]) continue;
    Result<Record> rec = Decode(
        entity, RawRecord{Id(distinct[i]), cached[i]->version, cached[i]->updated_us,
                          cached[i]->body});
    if (!rec.ok()) return rec.status();
    records[i] = std::move(rec).value();
  }
  if (!plan.positions.empty()) {
    std::vector<std::string_view> missing;
    missing.reserve(plan.positions.size());
    for (size_t i : plan.positions) missing.push_back(distinct[i]);
    std::vector<Record> read;
    std::vector<std::string> bodies;
    if (Status s = ReadFromShards(cluster, entity, missing, &read, &bodies); !s.ok()) return s;
    // `read` is in `missing` order (sorted, distinct), missing ids left out.
    std::vector<std::shared_ptr<const cache::CachedValue>> rows(missing.size());
    size_t r = 0;
    for (size_t k = 0; k < missing.size() && r < read.size(); ++k) {
      if (std::string_view(read[r].id) != missing[k]) continue;
      rows[k] = std::make_shared<const cache::CachedValue>(
          cache::CachedValue{read[r].version, read[r].updated_us, std::move(bodies[r])});
      records[plan.positions[k]] = std::move(read[r]);
      ++r;
    }
    cache.Fill(distinct, plan, rows);
  }
  // Request order: each record moved out at its last position, copied
  // only for earlier repeats.
  std::vector<size_t> at(ids.size());
  std::vector<uint32_t> uses(distinct.size(), 0);
  for (size_t n = 0; n < ids.size(); ++n) {
    at[n] = static_cast<size_t>(
        std::lower_bound(distinct.begin(), distinct.end(), std::string_view(ids[n])) -
        distinct.begin());
    if (records[at[n]]) ++uses[at[n]];
  }
  std::vector<Record> out;
  out.reserve(ids.size());
  for (size_t i : at) {
    if (!records[i]) continue;
    if (--uses[i] == 0) {
      out.push_back(std::move(*records[i]));
    } else {
      out.push_back(*records[i]);
    }
  }
  return out;
}

}  // namespace

Result<std::vector<Record>> GetMany(cluster::Cluster& cluster, std::string_view entity,
                                    const std::vector<Id>& ids, ReadVia via) {
  if (Status s = cluster.CheckEntity(entity); !s.ok()) return s;
  for (const Id& id : ids) {
    if (Status s = CheckId(entity, id); !s.ok()) return s;
  }
  if (via == ReadVia::kCache) {
    cache::RecordCache* cache = cluster.CacheFor(entity);
    if (cache != nullptr && cache->reading()) return GetManyCached(cluster, entity, ids, *cache);
  }
  std::vector<Record> out;
  if (Status s = ReadFromShards(cluster, entity, ids, &out, nullptr); !s.ok()) return s;
  return out;
}

}  // namespace libshard::records
