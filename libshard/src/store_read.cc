// Store reads: get, get_many, scan, stats. Bodies are decoded on the thread
// that read them, so get_many and scan decode in parallel too.
#include <soci/soci.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "records/record_table.h"
#include "store_impl.h"

namespace libshard {
namespace {

using backend::Connection;
using backend::ConnectionPool;

Result<Record> Decode(std::string_view entity, RawRecord&& raw) {
  Result<Document> doc = Document::FromMsgpack(raw.body);
  if (!doc.ok()) {
    return Status::Corruption(DescribeRecord(entity, raw.id) +
                              ": stored body is not a valid document: " +
                              doc.status().message());
  }
  return Record{std::move(raw.id), raw.version, raw.updated_us, std::move(doc).value()};
}

records::MultiGetStatement& MultiGet(Connection& c, const backend::Dialect& d,
                                     const std::string& entity, size_t size) {
  return c.Cached<records::MultiGetStatement>(
      records::MultiGetStatement::Key(entity, size),
      [&] { return std::make_unique<records::MultiGetStatement>(c.sql(), d, entity, size); });
}

// Reads `ids` from one shard in chunks of the prepared sizes.
void ReadMany(Connection& c, const backend::Dialect& d, const std::string& entity,
              const std::vector<std::string_view>& ids, std::vector<RawRecord>* out) {
  constexpr size_t kMax = records::MultiGetStatement::kSizes[std::size(records::MultiGetStatement::kSizes) - 1];
  for (size_t start = 0; start < ids.size(); start += kMax) {
    size_t n = std::min(kMax, ids.size() - start);
    size_t size = kMax;
    for (size_t s : records::MultiGetStatement::kSizes) {
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

Result<RawRecord> Store::GetRaw(std::string_view entity, std::string_view id) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  if (Status s = CheckId(entity, id); !s.ok()) return s;
  ConnectionPool& pool = *impl_->shards[impl_->router.RouteId(id).shard];
  RawRecord rec;
  bool found = false;
  const std::string e(entity);
  Status s = impl_->WithConnection(pool, "get", Impl::Retry::kReadOnly, [&](Connection& c) {
    auto& get = c.Cached<records::GetStatement>(records::GetStatement::Key(e), [&] {
      return std::make_unique<records::GetStatement>(c.sql(), pool.dialect(), e);
    });
    found = get.Run(id, &rec);
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (!found) return Status::NotFound(DescribeRecord(entity, id) + " does not exist");
  rec.id = std::string(id);
  return rec;
}

Result<Record> Store::Get(std::string_view entity, std::string_view id) {
  Result<RawRecord> raw = GetRaw(entity, id);
  if (!raw.ok()) return raw.status();
  return Decode(entity, std::move(raw).value());
}

Result<std::vector<Record>> Store::GetMany(std::string_view entity,
                                           const std::vector<Id>& ids) {
  return impl_->GetMany(entity, ids);
}

Result<std::vector<Record>> Store::Impl::GetMany(std::string_view entity,
                                                 const std::vector<Id>& ids) {
  Impl* impl_ = this;  // the body reads like the other Store methods
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  for (const Id& id : ids) {
    if (Status s = CheckId(entity, id); !s.ok()) return s;
  }
  std::vector<std::vector<size_t>> groups = impl_->router.GroupByShard(ids, impl_->shards.size());
  std::vector<size_t> touched;
  for (size_t s = 0; s < groups.size(); ++s) {
    if (!groups[s].empty()) touched.push_back(s);
  }
  const std::string e(entity);
  std::vector<std::vector<Record>> found(impl_->shards.size());
  Status status = impl_->ForEachShard(touched, [&](size_t shard) {
    ConnectionPool& pool = *impl_->shards[shard];
    std::vector<std::string_view> shard_ids;
    for (size_t i : groups[shard]) shard_ids.push_back(ids[i]);
    std::vector<RawRecord> raw;
    Status s = impl_->WithConnection(pool, "get_many", Impl::Retry::kReadOnly,
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

Status Store::Scan(std::string_view entity, const Predicate& where, const Visitor& visit) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  const std::string e(entity);
  const int chunk = std::max(1, impl_->options.scan_chunk);
  std::atomic<bool> stop{false};
  std::mutex visit_mu;
  std::vector<size_t> all(impl_->shards.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return impl_->ForEachShard(all, [&](size_t shard) {
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
              return std::make_unique<records::ScanStatement>(c.sql(), pool.dialect(), e, chunk);
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
  });
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
  std::vector<std::vector<EntityCount>> per_shard(impl_->shards.size());
  std::vector<size_t> all(impl_->shards.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  Status s = impl_->ForEachShard(all, [&](size_t shard) {
    ConnectionPool& pool = *impl_->shards[shard];
    return impl_->WithConnection(pool, "stats", Impl::Retry::kReadOnly, [&](Connection& c) {
      per_shard[shard].clear();
      for (const EntityConfig& e : impl_->config.entities) {
        per_shard[shard].push_back(
            {impl_->config.shards[shard], e.name, records::CountRows(c.sql(), e.name)});
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
