// Store writes: put, put_many, delete.
//
// Every write is one transaction on the record's shard: lock the current
// row (SELECT … FOR UPDATE; SQLite's BEGIN IMMEDIATE), check the expected
// version, then INSERT version 1 or UPDATE to version+1. A write returns
// only after COMMIT, so an acknowledged write is durable on its shard.
#include <soci/soci.h>

#include <algorithm>

#include "records/record_table.h"
#include "store_impl.h"

namespace libshard {
namespace {

using backend::Connection;
using backend::ConnectionPool;
using records::LockVersionStatement;
using records::WriteStatements;

struct PendingWrite {
  std::string_view id;
  uint32_t bucket;
  std::string_view body;
  const WriteOptions* options;
  uint64_t* new_version;  // out
};

// Applies `writes` (all on one shard) inside the caller's transaction.
Status ApplyWrites(Connection& c, const backend::Dialect& d, std::string_view entity,
                   const std::vector<PendingWrite>& writes) {
  const std::string e(entity);
  auto& lock = c.Cached<LockVersionStatement>(LockVersionStatement::Key(e), [&] {
    return std::make_unique<LockVersionStatement>(c.sql(), d, e);
  });
  auto& write = c.Cached<WriteStatements>(WriteStatements::Key(e), [&] {
    return std::make_unique<WriteStatements>(c.sql(), d, e);
  });
  const int64_t now = NowMicros();
  for (const PendingWrite& w : writes) {
    LockVersionStatement::Current cur = lock.Run(w.id);
    if (w.options->if_version && *w.options->if_version != cur.version) {
      return Status::VersionConflict(
          DescribeRecord(entity, w.id) + ": expected version " +
          std::to_string(*w.options->if_version) + ", found " +
          (cur.version ? std::to_string(cur.version) : "no record"));
    }
    // `updated` never goes backwards for a record, even if the clock does.
    int64_t updated = std::max(now, cur.updated_us);
    if (cur.version == 0) {
      write.Insert(w.id, w.bucket, 1, updated, w.body);
    } else {
      write.Update(w.id, cur.version + 1, updated, w.body);
    }
    *w.new_version = cur.version + 1;
  }
  return Status::OK();
}

// Checks a caller-encoded body: it must decode, whole, to an object. A
// corrupt body is refused here rather than stored and found on read.
Status CheckRawBody(std::string_view entity, std::string_view id, std::string_view body) {
  Result<Document> doc = Document::FromMsgpack(body);
  if (!doc.ok()) {
    return Status::InvalidArgument(DescribeRecord(entity, id) +
                                   ": body is not valid MessagePack: " +
                                   doc.status().message());
  }
  if (!doc->is_object()) {
    return Status::InvalidArgument(DescribeRecord(entity, id) +
                                   ": a record body must be a MessagePack map");
  }
  return Status::OK();
}

}  // namespace

Result<uint64_t> Store::PutRaw(std::string_view entity, std::string_view id,
                               std::string_view msgpack_map, const WriteOptions& options) {
  if (Status s = CheckRawBody(entity, id, msgpack_map); !s.ok()) return s;
  return impl_->PutEncoded(entity, id, msgpack_map, options);
}

Result<uint64_t> Store::Impl::PutEncoded(std::string_view entity, std::string_view id,
                                         std::string_view body, const WriteOptions& options) {
  if (Status s = CheckEntity(entity); !s.ok()) return s;
  if (Status s = CheckId(entity, id); !s.ok()) return s;
  router::Route route = router.RouteId(id);
  ConnectionPool& pool = *shards[route.shard];
  uint64_t version = 0;
  std::vector<PendingWrite> writes{{id, route.bucket, body, &options, &version}};
  Status s = WithConnection(pool, "put", Retry::kWrite, [&](Connection& c) {
    return backend::InWriteTransaction(c, pool.dialect(), [&] {
      return ApplyWrites(c, pool.dialect(), entity, writes);
    });
  });
  if (!s.ok()) return s;
  return version;
}

Result<uint64_t> Store::Put(std::string_view entity, std::string_view id,
                            const Document& doc, const WriteOptions& options) {
  if (!doc.is_object()) {
    return Status::InvalidArgument(DescribeRecord(entity, id) +
                                   ": a record document must be an object");
  }
  return impl_->PutEncoded(entity, id, doc.ToMsgpack(), options);
}

Result<std::vector<uint64_t>> Store::PutMany(std::string_view entity,
                                             const std::vector<PutItem>& items) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  std::vector<std::string> bodies(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (Status s = CheckId(entity, items[i].id); !s.ok()) return s;
    if (!items[i].doc.is_object()) {
      return Status::InvalidArgument(DescribeRecord(entity, items[i].id) +
                                     ": a record document must be an object");
    }
  }
  std::vector<uint64_t> versions(items.size(), 0);
  std::vector<std::vector<PendingWrite>> per_shard(impl_->shards.size());
  std::vector<size_t> touched;
  for (size_t i = 0; i < items.size(); ++i) {
    bodies[i] = items[i].doc.ToMsgpack();
    router::Route route = impl_->router.RouteId(items[i].id);
    if (per_shard[route.shard].empty()) touched.push_back(route.shard);
    per_shard[route.shard].push_back(
        {items[i].id, route.bucket, bodies[i], &items[i].options, &versions[i]});
  }
  Status s = impl_->ForEachShard(touched, [&](size_t shard) {
    ConnectionPool& pool = *impl_->shards[shard];
    return impl_->WithConnection(pool, "put_many", Impl::Retry::kWrite, [&](Connection& c) {
      return backend::InWriteTransaction(c, pool.dialect(), [&] {
        return ApplyWrites(c, pool.dialect(), entity, per_shard[shard]);
      });
    });
  });
  if (!s.ok()) return s;
  return versions;
}

Result<bool> Store::Delete(std::string_view entity, std::string_view id,
                           const WriteOptions& options) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  if (Status s = CheckId(entity, id); !s.ok()) return s;
  router::Route route = impl_->router.RouteId(id);
  ConnectionPool& pool = *impl_->shards[route.shard];
  const std::string e(entity);
  bool deleted = false;
  Status s = impl_->WithConnection(pool, "delete", Impl::Retry::kWrite, [&](Connection& c) {
    auto& write = c.Cached<WriteStatements>(WriteStatements::Key(e), [&] {
      return std::make_unique<WriteStatements>(c.sql(), pool.dialect(), e);
    });
    if (!options.if_version) {
      deleted = write.Delete(id) > 0;
      return Status::OK();
    }
    auto& lock = c.Cached<LockVersionStatement>(LockVersionStatement::Key(e), [&] {
      return std::make_unique<LockVersionStatement>(c.sql(), pool.dialect(), e);
    });
    return backend::InWriteTransaction(c, pool.dialect(), [&] {
      uint64_t current = lock.Run(id).version;
      if (current != *options.if_version) {
        return Status::VersionConflict(
            DescribeRecord(entity, id) + ": expected version " +
            std::to_string(*options.if_version) + ", found " +
            (current ? std::to_string(current) : "no record"));
      }
      deleted = current != 0 && write.Delete(id) > 0;
      return Status::OK();
    });
  });
  if (!s.ok()) return s;
  return deleted;
}

}  // namespace libshard
