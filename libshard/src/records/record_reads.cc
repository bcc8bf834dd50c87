#include "records/record_reads.h"

#include <soci/soci.h>

#include <unordered_map>
#include <unordered_set>

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

MultiGetStatement& MultiGet(Connection& c, const backend::Dialect& d,
                                     const std::string& entity, size_t size) {
  return c.Cached<MultiGetStatement>(
      MultiGetStatement::Key(entity, size),
      [&] { return std::make_unique<MultiGetStatement>(c.sql(), d, entity, size); });
}

// Reads `ids` from one shard in chunks of the prepared sizes.
void ReadMany(Connection& c, const backend::Dialect& d, const std::string& entity,
              const std::vector<std::string_view>& ids, std::vector<RawRecord>* out) {
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
    std::vector<std::string_view> chunk(ids.begin() + start, ids.begin() + start + n);
    MultiGet(c, d, entity, size).Run(chunk, out);
  }
}
}  // namespace

Result<std::vector<Record>> GetMany(cluster::Cluster& cluster, std::string_view entity,
                                    const std::vector<Id>& ids) {
  if (Status s = cluster.CheckEntity(entity); !s.ok()) return s;
  for (const Id& id : ids) {
    if (Status s = CheckId(entity, id); !s.ok()) return s;
  }
  std::vector<std::vector<size_t>> groups = cluster.router.GroupByShard(ids, cluster.shards.size());
  std::vector<size_t> touched;
  for (size_t s = 0; s < groups.size(); ++s) {
    if (!groups[s].empty()) touched.push_back(s);
  }
  const std::string e(entity);
  std::vector<std::vector<Record>> found(cluster.shards.size());
  Status status = cluster.ForEachShard(touched, [&](size_t shard) {
    ConnectionPool& pool = *cluster.shards[shard];
    std::vector<std::string_view> shard_ids;
    for (size_t i : groups[shard]) shard_ids.push_back(ids[i]);
    std::vector<RawRecord> raw;
    Status s = cluster.WithConnection(pool, "get_many", Retry::kReadOnly,
                                     [&](Connection& c) {
                                       raw.clear();
                                       ReadMany(c, pool.dialect(), e, shard_ids, &raw);
                                       return Status::OK();
                                     });
    if (!s.ok()) return s;
    for (RawRecord& r : raw) {
      Result<Record> rec = Decode(entity, std::move(r));
      if (!rec.ok()) return rec.status();
      found[shard].push_back(std::move(rec).value());
    }
    return Status::OK();
  }, /*small=*/ids.size() <= 32);
  if (!status.ok()) return status;

  std::unordered_map<std::string_view, Record*> by_id;
  for (auto& shard_records : found) {
    for (Record& r : shard_records) by_id.emplace(r.id, &r);
  }
  // All lookups first (keys point into the records), then move each record
  // out at its last request position and copy it only for earlier repeats.
  std::vector<Record*> pick(ids.size(), nullptr);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = by_id.find(ids[i]);
    if (it != by_id.end()) pick[i] = it->second;
  }
  std::vector<bool> last_use(ids.size(), false);
  std::unordered_set<const Record*> later;
  for (size_t i = ids.size(); i-- > 0;) {
    if (pick[i] != nullptr && later.insert(pick[i]).second) last_use[i] = true;
  }
  std::vector<Record> out;
  out.reserve(later.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (pick[i] == nullptr) continue;
    if (last_use[i]) {
      out.push_back(std::move(*pick[i]));
    } else {
      out.push_back(*pick[i]);
    }
  }
  return out;
}

}  // namespace libshard::records
