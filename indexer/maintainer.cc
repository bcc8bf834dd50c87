#include "indexer/maintainer.h"

#include <soci/soci.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "backend/errors.h"
#include "cluster/route_retry.h"
#include "indexer/index_table.h"
#include "records/record_table.h"

namespace libshard::indexer {
namespace {

using backend::Connection;
using cluster::ConnectionPool;
using Retry = cluster::Cluster::Retry;

std::string OpKey(const RowOp& op) { return op.index->cache_key + '\n' + EncodeHit(op.row, op.id); }

IndexWriter& Writer(Connection& c, const backend::Dialect& d, const IndexDef& def) {
  return c.Cached<IndexWriter>(IndexWriter::Key(def),
                               [&] { return std::make_unique<IndexWriter>(c.sql(), d, def); });
}

// Rows grouped by the index database that holds them.
std::map<std::string, std::vector<const RowOp*>> ByDatabase(const std::vector<RowOp>& rows) {
  std::map<std::string, std::vector<const RowOp*>> groups;
  for (const RowOp& op : rows) {
    groups[op.index->databases[op.index->DatabaseFor(op.row[0])]].push_back(&op);
  }
  return groups;
}

// Does the record `id` (locked by the caller's transaction on `c`) produce
// `row` for `def`? A missing record produces nothing. kNotOwned (with
// `owner`) when the shard of `c` does not own the record's bucket: the
// answer must come from its new owner.
enum class Produces { kYes, kNo, kNotOwned };
Produces ProducesRow(cluster::Cluster& cluster, Connection& c, const backend::Dialect& d,
                     const IndexDef& def, const std::string& id, const IndexRow& row,
                     cluster::BucketOwner* owner) {
  RawRecord rec;
  switch (records::LockOwnedRow(c, d, cluster.cluster_id, def.entity, id,
                                cluster.router.BucketOf(id), &rec, owner)) {
    case records::GetStatement::Found::kNotOwned:
      return Produces::kNotOwned;
    case records::GetStatement::Found::kNo:
      return Produces::kNo;
    case records::GetStatement::Found::kYes:
      break;
  }
  Result<Document> doc = Document::FromMsgpack(rec.body);
  // A corrupt holder keeps its value: refusing the newcomer is the safe side.
  if (!doc.ok()) return Produces::kYes;
  std::vector<IndexRow> rows;
  if (!def.Rows(*doc, &rows).ok()) return Produces::kYes;
  return std::find(rows.begin(), rows.end(), row) != rows.end() ? Produces::kYes
                                                                : Produces::kNo;
}

// A unique row is held by `holder`. With the holder's record locked (on the
// shard that owns its bucket, followed if it moved), either it still
// produces the row (live: *live = true) or the row is dangling and is
// deleted so the caller can take the value.
Status ResolveHolder(cluster::Cluster& cluster, const RowOp& op, const std::string& holder,
                     size_t own_shard, Connection* own_conn, bool* live) {
  cluster::RouteRetry retry(cluster, "unique index " + op.index->FullName() + ": holder " +
                                         DescribeRecord(op.index->entity, holder));
  for (;;) {
    router::Route route = cluster.router.RouteId(holder);
    ConnectionPool& shard_pool = *cluster.shards[route.shard];
    cluster::BucketOwner owner;
    bool moved = false;
    auto check = [&](Connection& c) -> Status {
      Produces p = ProducesRow(cluster, c, shard_pool.dialect(), *op.index, holder, op.row, &owner);
      moved = p == Produces::kNotOwned;
      *live = p == Produces::kYes;
      if (p != Produces::kNo) return Status::OK();
      RowOp dangling{op.index, op.row, holder};
      return DeleteRows(cluster, {dangling});
    };
    Status s;
    if (route.shard == own_shard && own_conn != nullptr) {
      s = check(*own_conn);
    } else {
      // We hold our own record's lock (and, on SQLite, our shard's write
      // lock) while we wait for the holder's: two writes doing this
      // crosswise wait on each other across two databases, which no
      // database detects. The wait is bounded and never retried here; the
      // higher id waits twice as long, so the lower one gives up first and
      // the other proceeds (Options).
      const int base = std::max(1, cluster.options.cross_shard_lock_timeout_ms);
      const int timeout = op.id < holder ? base : 2 * base;
      s = cluster.WithConnection(
          shard_pool, "check unique holder", Retry::kNested,
          [&](Connection& c) {
            return backend::InWriteTransaction(c, shard_pool.dialect(), [&] { return check(c); });
          },
          timeout);
      if (s.IsUnavailable() && s.message().find(backend::kLockTimeoutText) != std::string::npos) {
        return Status::Unavailable(
            "unique index " + op.index->FullName() + ": gave up after " +
            std::to_string(timeout) + " ms waiting for " +
            DescribeRecord(op.index->entity, holder) + " on database '" + shard_pool.name() +
            "', which holds the value and is locked by another write " +
            "(possibly one waiting on this write); nothing was written, retry the write");
      }
    }
    if (!s.ok() || !moved) return s;
    if (Status r = retry.Refused(route.bucket, route.shard, owner); !r.ok()) return r;
  }
}

// Adds written rows to the per-index metrics: one counter update per index,
// not per row (a record may produce up to 1000 rows per index).
void CountRows(cluster::Cluster& cluster, const std::vector<const RowOp*>& rows) {
  std::vector<std::pair<const IndexDef*, uint64_t>> per_index;
  for (const RowOp* op : rows) {
    auto it = std::find_if(per_index.begin(), per_index.end(),
                           [&](const auto& e) { return e.first == op->index.get(); });
    if (it == per_index.end()) {
      per_index.emplace_back(op->index.get(), 1);
    } else {
      ++it->second;
    }
  }
  for (const auto& [def, n] : per_index) cluster.index_rows.Add(def->entity, def->name, n);
}

// Inserts one row of a unique index, resolving a dangling holder. *claimed
// tells whether this call inserted the row (false when the row was already
// ours, left by an earlier crashed write), so that a later failure of the
// same write takes back only what the write itself claimed.
Status InsertUnique(cluster::Cluster& cluster, ConnectionPool& pool, const RowOp& op, size_t own_shard,
                    Connection* own_conn, bool* claimed) {
  *claimed = false;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::string holder;
    bool held = false;
    Status s = cluster.WithConnection(pool, "index insert", Retry::kReadOnly, [&](Connection& c) {
      IndexWriter& w = Writer(c, pool.dialect(), *op.index);
      try {
        w.Insert(op.row, op.id);
        *claimed = true;
        return Status::OK();
      } catch (const soci::soci_error& e) {
        if (backend::Classify(e) != backend::ErrorKind::kUniqueViolation) throw;
      }
      held = w.Holder(op.row, &holder);
      return Status::OK();
    });
    if (!s.ok()) return s;
    if (*claimed) return Status::OK();
    if (!held || holder == op.id) {
      if (!held) continue;  // the holder vanished meanwhile: try again
      return Status::OK();  // our own row, left by an earlier attempt
    }
    bool live = false;
    if (Status r = ResolveHolder(cluster, op, holder, own_shard, own_conn, &live); !r.ok()) return r;
    if (live) {
      std::string value;
      for (const Document& v : op.row) value += (value.empty() ? "" : ", ") + v.ToJson();
      return Status::UniqueViolation("unique index " + op.index->FullName() + ": (" + value +
                                     ") is already held by " +
                                     DescribeRecord(op.index->entity, holder));
    }
  }
  return Status::Internal("unique index " + op.index->FullName() +
                          ": value kept changing hands; giving up after 5 attempts");
}

}  // namespace

Status RowsOf(const std::vector<LiveIndex>& indexes, const Document* doc, std::string_view id,
              std::vector<RowOp>* out) {
  if (doc == nullptr) return Status::OK();
  std::vector<IndexRow> rows;
  for (const LiveIndex& li : indexes) {
    if (!li.maintained()) continue;
    if (Status s = li.def->Rows(*doc, &rows); !s.ok()) return s;
    for (IndexRow& r : rows) out->push_back({li.def, std::move(r), std::string(id)});
  }
  return Status::OK();
}

void Diff(const std::vector<RowOp>& old_rows, const std::vector<RowOp>& new_rows,
          std::vector<RowOp>* to_insert, std::vector<RowOp>* to_delete) {
  std::unordered_set<std::string> old_keys, new_keys;
  for (const RowOp& op : old_rows) old_keys.insert(OpKey(op));
  for (const RowOp& op : new_rows) new_keys.insert(OpKey(op));
  for (const RowOp& op : new_rows) {
    if (!old_keys.count(OpKey(op))) to_insert->push_back(op);
  }
  for (const RowOp& op : old_rows) {
    if (!new_keys.count(OpKey(op))) to_delete->push_back(op);
  }
}

Status InsertRows(cluster::Cluster& cluster, const std::vector<RowOp>& rows, size_t own_shard,
                  Connection* own_conn) {
  std::vector<RowOp> inserted;  // unique rows, to take back on a violation
  for (auto& [database, ops] : ByDatabase(rows)) {
    ConnectionPool& pool = cluster.Pool(database);
    std::vector<const RowOp*> plain;
    for (const RowOp* op : ops) {
      if (!op->index->unique) {
        plain.push_back(op);
        continue;
      }
      bool claimed = false;
      Status s = InsertUnique(cluster, pool, *op, own_shard, own_conn, &claimed);
      if (!s.ok()) {
        // Rows of the non-unique indexes are idempotent and harmless; the
        // unique values this write claimed must be released at once.
        (void)DeleteRows(cluster, inserted);
        return s;
      }
      if (claimed) inserted.push_back(*op);
    }
    if (plain.empty()) continue;
    Status s = cluster.WithConnection(pool, "index insert", Retry::kWrite, [&](Connection& c) {
      auto insert_all = [&] {
        // Runs of rows of one index go through one multi-row statement.
        std::vector<std::pair<const IndexRow*, std::string_view>> run;
        for (size_t i = 0; i < plain.size();) {
          const IndexDef& def = *plain[i]->index;
          run.clear();
          for (; i < plain.size() && plain[i]->index.get() == &def; ++i) {
            run.emplace_back(&plain[i]->row, plain[i]->id);
          }
          Writer(c, pool.dialect(), def).InsertMany(run);
        }
        return Status::OK();
      };
      // One statement needs no explicit transaction; a batch is one commit.
      if (plain.size() == 1) return insert_all();
      return backend::InWriteTransaction(c, pool.dialect(), insert_all);
    });
    if (!s.ok()) {
      (void)DeleteRows(cluster, inserted);
      return s;
    }
    // Metrics: rows now committed (the plain rows of earlier databases
    // stay even if a later one fails, so they are counted here).
    CountRows(cluster, plain);
  }
  std::vector<const RowOp*> claimed;
  for (const RowOp& op : inserted) claimed.push_back(&op);
  CountRows(cluster, claimed);
  return Status::OK();
}

Status DeleteRows(cluster::Cluster& cluster, const std::vector<RowOp>& rows) {
  for (auto& [database, ops] : ByDatabase(rows)) {
    ConnectionPool& pool = cluster.Pool(database);
    Status s = cluster.WithConnection(pool, "index delete", Retry::kWrite, [&](Connection& c) {
      auto delete_all = [&] {
        for (const RowOp* op : ops) Writer(c, pool.dialect(), *op->index).Delete(op->row, op->id);
        return Status::OK();
      };
      if (ops.size() == 1) return delete_all();
      return backend::InWriteTransaction(c, pool.dialect(), delete_all);
    });
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status DeleteStaleRows(cluster::Cluster& cluster, std::string_view entity, size_t /*shard*/,
                       const std::vector<RowOp>& stale) {
  if (stale.empty()) return Status::OK();
  const std::string e(entity);
  std::vector<RowOp> todo = stale;
  cluster::RouteRetry retry(cluster, "index cleanup of " + e);
  while (!todo.empty()) {
    // Each record is re-checked on the shard that owns its bucket now.
    std::map<size_t, std::vector<RowOp>> by_shard;
    for (RowOp& op : todo) by_shard[cluster.ShardOf(op.id)].push_back(std::move(op));
    todo.clear();
    for (auto& [shard, ops] : by_shard) {
      ConnectionPool& pool = *cluster.shards[shard];
      std::vector<std::pair<uint32_t, cluster::BucketOwner>> refused;
      std::vector<RowOp> moved;
      Status s = cluster.WithConnection(pool, "index cleanup", Retry::kWrite, [&](Connection& c) {
        refused.clear();
        moved.clear();
        return backend::InWriteTransaction(c, pool.dialect(), [&] {
          // Current rows of each record, per index involved, computed once.
          std::unordered_set<std::string> current;
          std::set<std::pair<std::string, const IndexDef*>> seen;
          std::set<std::string> not_here;
          for (const RowOp& op : ops) {
            if (not_here.count(op.id)) continue;
            if (!seen.insert({op.id, op.index.get()}).second) continue;
            RawRecord rec;
            cluster::BucketOwner owner;
            const uint32_t bucket = cluster.router.BucketOf(op.id);
            auto found = records::LockOwnedRow(c, pool.dialect(), cluster.cluster_id, e, op.id,
                                               bucket, &rec, &owner);
            if (found == records::GetStatement::Found::kNotOwned) {
              // The bucket moved: decide on its new owner (a leftover copy
              // here says nothing about the record's current rows).
              not_here.insert(op.id);
              refused.emplace_back(bucket, std::move(owner));
              continue;
            }
            if (found == records::GetStatement::Found::kNo) continue;
            Result<Document> doc = Document::FromMsgpack(rec.body);
            std::vector<IndexRow> rows;
            // Unreadable now: keep its rows (dangling at worst, never missing).
            if (!doc.ok() || !op.index->Rows(*doc, &rows).ok()) {
              for (const RowOp& same : ops) {
                if (same.id == op.id && same.index == op.index) current.insert(OpKey(same));
              }
              continue;
            }
            for (IndexRow& r : rows) current.insert(OpKey(RowOp{op.index, std::move(r), op.id}));
          }
          std::vector<RowOp> to_delete;
          for (const RowOp& op : ops) {
            if (not_here.count(op.id)) {
              moved.push_back(op);
            } else if (!current.count(OpKey(op))) {
              to_delete.push_back(op);
            }
          }
          return DeleteRows(cluster, to_delete);
        });
      });
      if (!s.ok()) return s;
      for (const auto& [bucket, owner] : refused) {
        if (Status r = retry.Refused(bucket, shard, owner); !r.ok()) return r;
      }
      todo.insert(todo.end(), moved.begin(), moved.end());
    }
  }
  return Status::OK();
}

}  // namespace libshard::indexer
