// Store reads: get, get_many, scan, stats. Bodies are decoded on the thread
// that read them, so get_many and scan decode in parallel too.
#include <soci/soci.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "cache/record_cache.h"
#include "cluster/route_retry.h"
#include "records/record_reads.h"
#include "records/record_table.h"
#include "store_impl.h"

namespace libshard {
namespace {

using backend::Connection;
using cluster::ConnectionPool;
using records::Decode;

// One record from the shard that owns it, following its bucket if it moved.
Result<RawRecord> ReadFromShard(Store::Impl& impl, std::string_view entity, std::string_view id) {
  RawRecord rec;
  const std::string e(entity);
  cluster::RouteRetry retry(impl, entity, id);
  for (;;) {
    router::Route route = impl.router.RouteId(id);
    ConnectionPool& pool = *impl.shards[route.shard];
    records::GetStatement::Found found = records::GetStatement::Found::kNo;
    cluster::BucketOwner owner;
    Status s = impl.WithConnection(pool, "get", Store::Impl::Retry::kReadOnly, [&](Connection& c) {
      auto& get = c.Cached<records::GetStatement>(records::GetStatement::Key(e), [&] {
        return std::make_unique<records::GetStatement>(c.sql(), pool.dialect(), e,
                                                       impl.cluster_id);
      });
      found = get.Run(id, route.bucket, &rec, &owner);
      return Status::OK();
    });
    if (!s.ok()) return s;
    if (found == records::GetStatement::Found::kYes) break;
    if (found == records::GetStatement::Found::kNo) {
      return Status::NotFound(DescribeRecord(entity, id) + " does not exist");
    }
    if (Status r = retry.Refused(route.bucket, route.shard, owner); !r.ok()) return r;
  }
  rec.id = std::string(id);
  return rec;
}

}  // namespace

Result<RawRecord> Store::GetRaw(std::string_view entity, std::string_view id) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  if (Status s = CheckId(entity, id); !s.ok()) return s;
  cache::RecordCache* cache = impl_->CacheFor(entity);
  if (cache == nullptr || !cache->reading()) return ReadFromShard(*impl_, entity, id);
  // Read through the entity's cache (cache/record_cache.h).
  const std::vector<std::string_view> ids{id};
  std::vector<std::shared_ptr<const cache::CachedValue>> found;
  cache::MissPlan plan;
  cache->Lookup(ids, &found, &plan);
  if (found[0]) return RawRecord{Id(id), found[0]->version, found[0]->updated_us, found[0]->body};
  Result<RawRecord> rec = ReadFromShard(*impl_, entity, id);
  if (rec.ok()) {
    cache->Fill(ids, plan, {std::make_shared<const cache::CachedValue>(
                               cache::CachedValue{rec->version, rec->updated_us, rec->body})});
  } else if (rec.status().IsNotFound()) {
    cache->Fill(ids, plan, {nullptr});  // hands its shared lease back
  }
  return rec;
}

Result<Record> Store::Get(std::string_view entity, std::string_view id) {
  Result<RawRecord> raw = GetRaw(entity, id);
  if (!raw.ok()) return raw.status();
  return Decode(entity, std::move(raw).value());
}

Result<std::vector<Record>> Store::GetMany(std::string_view entity,
                                           const std::vector<Id>& ids) {
  return records::GetMany(*impl_, entity, ids, records::ReadVia::kCache);
}


Status Store::Scan(std::string_view entity, const Predicate& where, const Visitor& visit) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  const std::string e(entity);
  const int chunk = std::max(1, impl_->options.scan_chunk);
  std::atomic<bool> stop{false};
  std::mutex visit_mu;
  return impl_->ForEachShard(impl_->ShardsToScan(/*with_listed=*/false), [&](size_t shard) {
    ConnectionPool& pool = *impl_->shards[shard];
    std::string after;  // ids are never empty, so "" sorts before all
    std::vector<RawRecord> raw;
    while (!stop.load()) {
      raw.clear();
      size_t n = 0;
      Status s = impl_->WithConnection(pool, "scan", Impl::Retry::kReadOnly,
                                       [&](Connection& c) {
        auto& scan = c.Cached<records::ScanStatement>(
            records::ScanStatement::Key(e, chunk), [&] {
              return std::make_unique<records::ScanStatement>(c.sql(), pool.dialect(), e, chunk,
                                                              impl_->cluster_id);
            });
        raw.clear();
        n = scan.Run(after, &raw);
        return Status::OK();
      });
      if (!s.ok()) return s;
      if (n == 0) break;
      after = raw.back().id;
      for (RawRecord& r : raw) {
        Result<Record> rec = Decode(entity, std::move(r));
        if (!rec.ok()) return rec.status();
        if (where && !where(*rec)) continue;
        std::lock_guard<std::mutex> lock(visit_mu);
        if (stop.load()) break;
        if (!visit(std::move(rec).value())) stop.store(true);
      }
      if (n < static_cast<size_t>(chunk)) break;
    }
    return Status::OK();
  }, cluster::Cluster::Fanout::kCpu);  // decoding and filtering: CPU
}

Result<std::vector<Record>> Store::ScanAll(std::string_view entity, const Predicate& where) {
  std::vector<Record> out;
  Status s = Scan(entity, where, [&](Record&& r) {
    out.push_back(std::move(r));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<EntityCount>> Store::Stats() {
  std::vector<size_t> shards = impl_->ShardsToScan(/*with_listed=*/true);
  std::vector<std::vector<EntityCount>> per_shard(impl_->shards.size());
  Status s = impl_->ForEachShard(shards, [&](size_t shard) {
    ConnectionPool& pool = *impl_->shards[shard];
    return impl_->WithConnection(pool, "stats", Impl::Retry::kReadOnly, [&](Connection& c) {
      per_shard[shard].clear();
      for (const EntityConfig& e : impl_->config.entities) {
        per_shard[shard].push_back(
            {impl_->ShardName(shard), e.name, records::CountRows(c.sql(), e.name, impl_->cluster_id)});
      }
      return Status::OK();
    });
  });
  if (!s.ok()) return s;
  std::vector<EntityCount> out;
  for (auto& v : per_shard) out.insert(out.end(), v.begin(), v.end());
  return out;
}

}  // namespace libshard
