// Store writes: put, put_many, delete.
//
// Every write is one transaction on the record's shard: lock the current
// row (SELECT … FOR UPDATE; SQLite's BEGIN IMMEDIATE), check the expected
// version, then INSERT version 1 or UPDATE to version+1. A write returns
// only after COMMIT, so an acknowledged write is durable on its shard.
//
// When the entity has maintained indexes, the transaction also reads the
// old body, inserts the index rows the new document adds before COMMIT, and
// removes the rows it drops after COMMIT (indexer/maintainer.h explains why
// that order means a committed record never misses an index row).
#include <soci/soci.h>

#include <algorithm>

#include "indexer/maintainer.h"
#include "records/record_table.h"
#include "store_impl.h"

namespace libshard {
namespace {

using backend::Connection;
using cluster::ConnectionPool;
using records::LockRowStatement;
using records::LockVersionStatement;
using records::WriteStatements;

struct PendingWrite {
  std::string_view id;
  uint32_t bucket;
  const Document* doc;    // new document; nullptr = delete
  std::string_view body;  // its encoding
  const WriteOptions* options;
  uint64_t* new_version;  // out (put)
  bool* deleted;          // out (delete)
};

Status Conflict(std::string_view entity, std::string_view id, uint64_t expected,
                uint64_t found) {
  return Status::VersionConflict(DescribeRecord(entity, id) + ": expected version " +
                                 std::to_string(expected) + ", found " +
                                 (found ? std::to_string(found) : "no record"));
}

// Everything one shard transaction does for a batch of writes.
class ShardWriter {
 public:
  ShardWriter(Store::Impl& store, size_t shard, std::string_view entity,
              const std::vector<indexer::LiveIndex>& indexes)
      : store_(store), shard_(shard), pool_(*store.shards[shard]), entity_(entity),
        indexes_(indexes),
        indexed_(std::any_of(indexes.begin(), indexes.end(),
                             [](const indexer::LiveIndex& li) { return li.maintained(); })) {}

  // Runs the transaction (with retries), then the post-commit cleanup.
  Status Run(const std::vector<PendingWrite>& writes, const indexer::IndexView* view) {
    Status s = store_.WithConnection(pool_, "write", Store::Impl::Retry::kWrite, [&](Connection& c) {
      stale_.clear();
      return backend::InWriteTransaction(c, pool_.dialect(), [&] {
        if (Status a = Apply(c, writes); !a.ok()) return a;
        // The lease (indexer/index_registry.h): never commit with a view of
        // the index states older than the lease.
        if (view != nullptr && !view->Fresh()) {
          return Status::Unavailable("index states could not be refreshed from the catalog in "
                                     "time; the write was rolled back");
        }
        return Status::OK();
      });
    });
    if (!s.ok()) return s;
    // Committed. Old rows are removed under a fresh lock; a failure here
    // leaves dangling rows only (filtered by queries, removed by repair),
    // so the acknowledged write stands.
    (void)indexer::DeleteStaleRows(store_, entity_, shard_, stale_);
    return Status::OK();
  }

 private:
  Status Apply(Connection& c, const std::vector<PendingWrite>& writes) {
    const backend::Dialect& d = pool_.dialect();
    const std::string e(entity_);
    auto& write = c.Cached<WriteStatements>(WriteStatements::Key(e), [&] {
      return std::make_unique<WriteStatements>(c.sql(), d, e);
    });
    std::vector<indexer::RowOp> to_insert;
    const int64_t now = store_.NowMicros();
    for (const PendingWrite& w : writes) {
      if (Status s = CheckSize(c, w); !s.ok()) return s;
      RawRecord cur;
      bool exists = false;
      if (indexed_) {
        auto& lock = c.Cached<LockRowStatement>(LockRowStatement::Key(e), [&] {
          return std::make_unique<LockRowStatement>(c.sql(), d, e);
        });
        exists = lock.Run(w.id, &cur);
      } else {
        auto& lock = c.Cached<LockVersionStatement>(LockVersionStatement::Key(e), [&] {
          return std::make_unique<LockVersionStatement>(c.sql(), d, e);
        });
        LockVersionStatement::Current v = lock.Run(w.id);
        exists = v.version != 0;
        cur.version = v.version;
        cur.updated_us = v.updated_us;
      }
      if (w.options->if_version && *w.options->if_version != cur.version) {
        return Conflict(entity_, w.id, *w.options->if_version, cur.version);
      }
      if (w.doc == nullptr) {
        *w.deleted = exists && write.Delete(w.id) > 0;
      } else if (!exists) {
        write.Insert(w.id, w.bucket, 1, now, w.body);
        *w.new_version = 1;
      } else {
        // `updated` never goes backwards for a record, even if the clock does.
        write.Update(w.id, cur.version + 1, std::max(now, cur.updated_us), w.body);
        *w.new_version = cur.version + 1;
      }
      if (indexed_) {
        if (Status s = Diff(w, exists ? &cur.body : nullptr, &to_insert); !s.ok()) return s;
      }
    }
    return indexer::InsertRows(store_, to_insert, shard_, &c);
  }

  // A value the database would refuse for its size is an input error,
  // found before sending (MariaDB drops the connection on an oversized
  // packet, which would otherwise look like an unreachable database).
  Status CheckSize(Connection& c, const PendingWrite& w) {
    const size_t limit = c.max_packet_bytes();
    if (limit == 0 || w.doc == nullptr) return Status::OK();
    constexpr size_t kStatementOverhead = 1024;  // SQL text and the other values
    const size_t need = backend::MysqlEscapedSize(w.body) + 2 * w.id.size() + kStatementOverhead;
    if (need <= limit) return Status::OK();
    return Status::InvalidArgument(
        DescribeRecord(entity_, w.id) + ": a body of " + std::to_string(w.body.size()) +
        " bytes does not fit database '" + pool_.name() + "' (its max_allowed_packet is " +
        std::to_string(limit) + " bytes; the statement would need " + std::to_string(need) + ")");
  }

  // Index rows this write adds (to `to_insert`) and drops (to stale_).
  Status Diff(const PendingWrite& w, const std::string* old_body,
              std::vector<indexer::RowOp>* to_insert) {
    std::vector<indexer::RowOp> old_rows, new_rows;
    if (old_body != nullptr) {
      // An unreadable old body contributes no rows: its leftovers dangle
      // until repair, which is harmless.
      Result<Document> old = Document::FromMsgpack(*old_body);
      if (old.ok()) (void)indexer::RowsOf(indexes_, &*old, w.id, &old_rows);
    }
    if (Status s = indexer::RowsOf(indexes_, w.doc, w.id, &new_rows); !s.ok()) return s;
    indexer::Diff(old_rows, new_rows, to_insert, &stale_);
    return Status::OK();
  }

  Store::Impl& store_;
  size_t shard_;
  ConnectionPool& pool_;
  std::string_view entity_;
  const std::vector<indexer::LiveIndex>& indexes_;
  bool indexed_;
  std::vector<indexer::RowOp> stale_;
};

// Checks a caller-encoded body: it must decode, whole, to an object. A
// corrupt body is refused here rather than stored and found on read.
Result<Document> DecodeRawBody(std::string_view entity, std::string_view id,
                               std::string_view body) {
  Result<Document> doc = Document::FromMsgpack(body);
  if (!doc.ok()) {
    return Status::InvalidArgument(DescribeRecord(entity, id) +
                                   ": body is not valid MessagePack: " + doc.status().message());
  }
  if (!doc->is_object()) {
    return Status::InvalidArgument(DescribeRecord(entity, id) +
                                   ": a record body must be a MessagePack map");
  }
  return doc;
}

Status CheckDocument(std::string_view entity, std::string_view id, const Document& doc) {
  if (!doc.is_object()) {
    return Status::InvalidArgument(DescribeRecord(entity, id) +
                                   ": a record document must be an object");
  }
  return Status::OK();
}

}  // namespace

Result<uint64_t> Store::PutRaw(std::string_view entity, std::string_view id,
                               std::string_view msgpack_map, const WriteOptions& options) {
  Result<Document> doc = DecodeRawBody(entity, id, msgpack_map);
  if (!doc.ok()) return doc.status();
  return impl_->PutEncoded(entity, id, *doc, msgpack_map, options);
}

Result<uint64_t> Store::Put(std::string_view entity, std::string_view id, const Document& doc,
                            const WriteOptions& options) {
  if (Status s = CheckDocument(entity, id, doc); !s.ok()) return s;
  return impl_->PutEncoded(entity, id, doc, doc.ToMsgpack(), options);
}

Result<uint64_t> Store::Impl::PutEncoded(std::string_view entity, std::string_view id,
                                         const Document& doc, std::string_view body,
                                         const WriteOptions& options) {
  if (Status s = CheckEntity(entity); !s.ok()) return s;
  if (Status s = CheckId(entity, id); !s.ok()) return s;
  Result<std::shared_ptr<const indexer::IndexView>> view = indexes->Current();
  if (!view.ok()) return view.status();
  router::Route route = router.RouteId(id);
  uint64_t version = 0;
  std::vector<PendingWrite> writes{{id, route.bucket, &doc, body, &options, &version, nullptr}};
  ShardWriter writer(*this, route.shard, entity, (*view)->For(entity));
  if (Status s = writer.Run(writes, view->get()); !s.ok()) return s;
  return version;
}

Result<std::vector<uint64_t>> Store::PutMany(std::string_view entity,
                                             const std::vector<PutItem>& items) {
  Impl& impl = *impl_;
  if (Status s = impl.CheckEntity(entity); !s.ok()) return s;
  for (const PutItem& item : items) {
    if (Status s = CheckId(entity, item.id); !s.ok()) return s;
    if (Status s = CheckDocument(entity, item.id, item.doc); !s.ok()) return s;
  }
  Result<std::shared_ptr<const indexer::IndexView>> view = impl.indexes->Current();
  if (!view.ok()) return view.status();
  std::vector<std::string> bodies(items.size());
  std::vector<uint64_t> versions(items.size(), 0);
  std::vector<std::vector<PendingWrite>> per_shard(impl.shards.size());
  std::vector<size_t> touched;
  for (size_t i = 0; i < items.size(); ++i) {
    bodies[i] = items[i].doc.ToMsgpack();
    router::Route route = impl.router.RouteId(items[i].id);
    if (per_shard[route.shard].empty()) touched.push_back(route.shard);
    per_shard[route.shard].push_back({items[i].id, route.bucket, &items[i].doc, bodies[i],
                                      &items[i].options, &versions[i], nullptr});
  }
  const auto& indexes = (*view)->For(entity);
  Status s = impl.ForEachShard(touched, [&](size_t shard) {
    ShardWriter writer(impl, shard, entity, indexes);
    return writer.Run(per_shard[shard], view->get());
  });
  if (!s.ok()) return s;
  return versions;
}

Result<bool> Store::Delete(std::string_view entity, std::string_view id,
                           const WriteOptions& options) {
  Impl& impl = *impl_;
  if (Status s = impl.CheckEntity(entity); !s.ok()) return s;
  if (Status s = CheckId(entity, id); !s.ok()) return s;
  Result<std::shared_ptr<const indexer::IndexView>> view = impl.indexes->Current();
  if (!view.ok()) return view.status();
  router::Route route = impl.router.RouteId(id);
  bool deleted = false;
  std::vector<PendingWrite> writes{{id, route.bucket, nullptr, {}, &options, nullptr, &deleted}};
  ShardWriter writer(impl, route.shard, entity, (*view)->For(entity));
  if (Status s = writer.Run(writes, view->get()); !s.ok()) return s;
  return deleted;
}

}  // namespace libshard
