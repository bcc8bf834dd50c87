#include "resharding/mover.h"

#include <soci/soci.h>

#include <algorithm>
#include <set>

#include "backend/errors.h"
#include "records/bucket_owner.h"
#include "records/record_table.h"
#include "resharding/bucket_rows.h"
#include "resharding/move_log.h"

namespace libshard::resharding {
namespace {

using backend::Connection;
using cluster::BucketOwner;
using Retry = cluster::Cluster::Retry;
using Lock = records::OwnerStatement::Lock;

// A copy pass that found at most this many differing rows is followed by
// the switch (whose pass copies the rest while the bucket's writers wait).
constexpr uint64_t kSmallDiff = 64;
constexpr int kMaxPasses = 4;

std::string Quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

Mover::Mover(cluster::Cluster& cluster, MoveOptions options)
    : cluster_(cluster), options_(std::move(options)) {
  options_.chunk = std::max(1, options_.chunk);
}

Status Mover::Catalog(std::string_view what, Retry retry,
                      const std::function<void(soci::session&)>& fn) {
  return cluster_.WithConnection(cluster_.Pool(cluster_.config.catalog), what, retry,
                                 [&](Connection& c) {
                                   fn(c.sql());
                                   return Status::OK();
                                 });
}

void Mover::Report(const Pair& p, const char* step, const std::string& error) {
  if (!options_.progress) return;
  MoveProgress m;
  m.bucket = p.bucket;
  m.from = p.source_name;
  m.to = p.target_name;
  m.step = step;
  m.records = bucket_copied_;
  m.error = error;
  options_.progress(m);
}

Status Mover::Move(uint32_t bucket, const std::string& target) {
  if (bucket >= cluster_.router.buckets()) {
    return Status::InvalidArgument("bucket " + std::to_string(bucket) + " is out of range (0.." +
                                   std::to_string(cluster_.router.buckets() - 1) + ")");
  }
  std::optional<MoveState> row;
  std::string owner;
  Status s = Catalog("read bucket move", Retry::kReadOnly, [&](soci::session& sql) {
    row = ReadMove(sql, bucket);
    owner = CatalogOwner(sql, bucket);
  });
  if (!s.ok()) return s;
  Pair p{bucket, 0, 0, "", target};
  if (row) {
    if (row->to != target) {
      return Status::InvalidArgument("bucket " + std::to_string(bucket) + " is already moving from " +
                                     Quote(row->from) + " to " + Quote(row->to) +
                                     "; finish that move first (`shardctl rebalance`)");
    }
    p.source_name = row->from;
  } else {
    if (owner.empty()) {
      return Status::Corruption("catalog bucket map has no entry for bucket " +
                                std::to_string(bucket));
    }
    if (owner == target) return Status::OK();
    p.source_name = owner;
    // Record the move, then look for index builds: a backfill and a move
    // exclude each other, and the builder checks in the opposite order
    // (indexer/builder.cc), so they cannot both go ahead.
    bool raced = false;
    s = cluster_.WithConnection(
        cluster_.Pool(cluster_.config.catalog), "record bucket move", Retry::kReadOnly,
        [&](Connection& c) {
          try {
            InsertMove(c.sql(), bucket, p.source_name, target, cluster_.NowMicros());
          } catch (const soci::soci_error& e) {
            if (backend::Classify(e) != backend::ErrorKind::kUniqueViolation) throw;
            raced = true;  // another process recorded it first
          }
          return Status::OK();
        });
    if (!s.ok()) return s;
    if (raced) return Move(bucket, target);  // resume theirs (or refuse)
    std::vector<std::string> building;
    s = Catalog("check index builds", Retry::kReadOnly,
                [&](soci::session& sql) { building = IndexesBeingBuilt(sql); });
    if (s.ok() && !building.empty()) {
      s = Status::Unavailable("index " + building.front() +
                              " is being built (write_only); buckets cannot move until it is "
                              "ready: finish `shardctl index build`, then rebalance");
    }
    if (!s.ok()) {
      (void)Catalog("forget bucket move", Retry::kWrite,
                    [&](soci::session& sql) { DeleteMove(sql, bucket); });
      return s;
    }
  }
  Result<size_t> src = cluster_.ShardIndex(p.source_name);
  if (!src.ok()) return src.status();
  Result<size_t> tgt = cluster_.ShardIndex(p.target_name);
  if (!tgt.ok()) return tgt.status();
  p.source = *src;
  p.target = *tgt;
  bucket_copied_ = 0;
  s = Run(p);
  if (!s.ok()) {
    Report(p, "failed", s.ToString());
    // Best effort: the catalog may be what failed.
    (void)Catalog("record move failure", Retry::kWrite, [&](soci::session& sql) {
      SetMoveError(sql, bucket, s.ToString(), cluster_.NowMicros());
    });
  }
  return s;
}

Status Mover::Run(const Pair& p) {
  BucketOwner so, to;
  Status s = cluster_.WithConnection(*cluster_.shards[p.source], "read bucket owner",
                                     Retry::kReadOnly, [&](Connection& c) {
    so = records::ReadOwner(c, cluster_.shards[p.source]->dialect(), cluster_.cluster_id, p.bucket, Lock::kNone);
    return Status::OK();
  });
  if (!s.ok()) return s;
  s = cluster_.WithConnection(*cluster_.shards[p.target], "read bucket owner", Retry::kReadOnly,
                              [&](Connection& c) {
    to = records::ReadOwner(c, cluster_.shards[p.target]->dialect(), cluster_.cluster_id, p.bucket, Lock::kNone);
    return Status::OK();
  });
  if (!s.ok()) return s;
  const std::string b = "bucket " + std::to_string(p.bucket);

  if (so.owned()) {
    if (to.owned()) {
      return Status::Corruption(b + " is owned by both " + Quote(p.source_name) + " and " +
                                Quote(p.target_name));
    }
    if (Status e = Entities(p); !e.ok()) return e;
    if (Status m = MarkIncoming(p); !m.ok()) return m;
    Report(p, "copy");
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      uint64_t changes = 0;
      if (Status r = Reconcile(p, nullptr, &changes); !r.ok()) return r;
      if (pass > 0) Report(p, "catch-up");
      if (changes <= kSmallDiff) break;
    }
    if (Status w = Switch(p); !w.ok()) return w;
    (void)Catalog("record switch", Retry::kWrite, [&](soci::session& sql) {
      SetMoveState(sql, p.bucket, kSwitched, cluster_.NowMicros());
    });
  } else if (so.state != BucketOwner::kNotOwned || so.peer != p.target_name) {
    return Status::Corruption(b + " is not owned by " + Quote(p.source_name) +
                              " and was not handed to " + Quote(p.target_name) + " (its row says " +
                              (so.peer.empty() ? "not owned" : "moved to " + Quote(so.peer)) +
                              ")");
  }
  // The source handed the bucket over: the rest is idempotent.
  if (Status c = CommitTarget(p); !c.ok()) return c;
  cluster::ConnectionPool& catalog = cluster_.Pool(cluster_.config.catalog);
  s = cluster_.WithConnection(catalog, "switch bucket map", Retry::kWrite, [&](Connection& c) {
    // One transaction: the map row, the epoch and the move's state.
    return backend::InWriteTransaction(c, catalog.dialect(), [&] {
      SwitchCatalog(c.sql(), p.bucket, p.target_name, cluster_.NowMicros());
      return Status::OK();
    });
  });
  if (!s.ok()) return s;
  cluster_.router.Set(p.bucket, static_cast<uint16_t>(p.target));
  Report(p, "cleanup");
  if (Status c = Cleanup(p); !c.ok()) return c;
  s = Catalog("finish bucket move", Retry::kWrite,
              [&](soci::session& sql) { DeleteMove(sql, p.bucket); });
  if (!s.ok()) return s;
  Report(p, "done");
  return Status::OK();
}

// The record tables to move: every entity that has a table on the source
// must be declared in this config (rows of an entity the mover does not
// know would be left behind, invisible); the target gets the tables.
Status Mover::Entities(const Pair& p) {
  std::vector<std::string> on_source;
  cluster::ConnectionPool& src = *cluster_.shards[p.source];
  Status s = cluster_.WithConnection(src, "list record tables", Retry::kReadOnly,
                                     [&](Connection& c) {
                                       on_source = RecordTables(c, src.dialect());
                                       return Status::OK();
                                     });
  if (!s.ok()) return s;
  entities_.clear();
  for (const EntityConfig& e : cluster_.config.entities) entities_.push_back(e.name);
  for (const std::string& e : on_source) {
    if (std::find(entities_.begin(), entities_.end(), e) == entities_.end()) {
      return Status::InvalidConfig("shard " + Quote(p.source_name) + " holds records of entity " +
                                   Quote(e) + ", which this config does not declare: move "
                                   "buckets with a config that declares every entity");
    }
  }
  cluster::ConnectionPool& tgt = *cluster_.shards[p.target];
  return cluster_.WithConnection(tgt, "create record tables", Retry::kWrite, [&](Connection& c) {
    for (const std::string& e : entities_) records::CreateTable(c.sql(), tgt.dialect(), e);
    return Status::OK();
  });
}

Status Mover::MarkIncoming(const Pair& p) {
  cluster::ConnectionPool& tgt = *cluster_.shards[p.target];
  return cluster_.WithConnection(tgt, "mark bucket incoming", Retry::kWrite, [&](Connection& c) {
    return backend::InWriteTransaction(c, tgt.dialect(), [&]() -> Status {
      BucketOwner o = records::ReadOwner(c, tgt.dialect(), cluster_.cluster_id, p.bucket, Lock::kUpdate);
      if (o.state == BucketOwner::kIncoming) return Status::OK();
      if (o.owned()) {
        return Status::Corruption("bucket " + std::to_string(p.bucket) + " is already owned by " +
                                  Quote(p.target_name));
      }
      records::SetOwner(c.sql(), cluster_.cluster_id, p.bucket, BucketOwner::kIncoming, p.source_name);
      return Status::OK();
    });
  });
}

Status Mover::Reconcile(const Pair& p, Connection* locked_source, uint64_t* changes) {
  *changes = 0;
  for (const std::string& e : entities_) {
    if (Status s = ReconcileEntity(p, e, locked_source, changes); !s.ok()) return s;
  }
  return Status::OK();
}

Status Mover::ReconcileEntity(const Pair& p, const std::string& entity,
                              Connection* locked_source, uint64_t* changes) {
  cluster::ConnectionPool& src = *cluster_.shards[p.source];
  cluster::ConnectionPool& tgt = *cluster_.shards[p.target];
  // Reads of the source: inside the switch's transaction, or on their own.
  auto on_source = [&](std::string_view what, const std::function<void(Connection&)>& fn) {
    if (locked_source != nullptr) {
      fn(*locked_source);
      return Status::OK();
    }
    return cluster_.WithConnection(src, what, Retry::kReadOnly, [&](Connection& c) {
      fn(c);
      return Status::OK();
    });
  };
  std::vector<RowStamp> have, want;
  Status s = on_source("list bucket rows", [&](Connection& c) {
    want = ListBucket(c, src.dialect(), entity, p.bucket);
  });
  if (!s.ok()) return s;
  s = cluster_.WithConnection(tgt, "list bucket rows", Retry::kReadOnly, [&](Connection& c) {
    have = ListBucket(c, tgt.dialect(), entity, p.bucket);
    return Status::OK();
  });
  if (!s.ok()) return s;

  // Merge the two id-ordered lists.
  std::set<std::string> missing, stale;  // to insert, to replace
  std::vector<std::string> extra;        // to delete
  size_t i = 0, j = 0;
  while (i < want.size() || j < have.size()) {
    if (j == have.size() || (i < want.size() && want[i].id < have[j].id)) {
      missing.insert(want[i++].id);
    } else if (i == want.size() || have[j].id < want[i].id) {
      extra.push_back(have[j++].id);
    } else {
      if (!(want[i] == have[j])) stale.insert(want[i].id);
      ++i;
      ++j;
    }
  }
  *changes += missing.size() + stale.size() + extra.size();
  if (missing.empty() && stale.empty() && extra.empty()) return Status::OK();

  // Writes to the target, one transaction per chunk, each fenced: only
  // while the target is receiving the bucket.
  auto write_target = [&](const std::vector<RawRecord>& rows,
                          const std::vector<std::string>& deletes) {
    return cluster_.WithConnection(tgt, "copy bucket rows", Retry::kWrite, [&](Connection& c) {
      return backend::InWriteTransaction(c, tgt.dialect(), [&]() -> Status {
        BucketOwner o = records::ReadOwner(c, tgt.dialect(), cluster_.cluster_id, p.bucket, Lock::kUpdate);
        if (o.state != BucketOwner::kIncoming) {
          return Status::Unavailable("bucket " + std::to_string(p.bucket) + " on " +
                                     Quote(p.target_name) +
                                     " is no longer receiving a move (another mover finished "
                                     "or undid it); nothing was written");
        }
        for (const RawRecord& r : rows) {
          PutRow(c, tgt.dialect(), entity, p.bucket, r, !missing.count(r.id));
        }
        for (const std::string& id : deletes) DeleteRow(c, tgt.dialect(), entity, id);
        return Status::OK();
      });
    });
  };

  const size_t chunk = static_cast<size_t>(options_.chunk);
  const size_t to_copy = missing.size() + stale.size();
  std::vector<RawRecord> rows;
  if (to_copy * 4 >= want.size()) {
    // Most of the bucket: read it in id order, keep what differs.
    std::string after;
    for (;;) {
      std::vector<RawRecord> page;
      size_t n = 0;
      s = on_source("read bucket rows", [&](Connection& c) {
        n = ScanBucket(c, src.dialect(), entity, p.bucket, after, options_.chunk, &page);
      });
      if (!s.ok()) return s;
      if (n == 0) break;
      after = page.back().id;
      for (RawRecord& r : page) {
        if (missing.count(r.id) || stale.count(r.id)) rows.push_back(std::move(r));
      }
      if (rows.size() >= chunk || n < chunk) {
        if (Status w = write_target(rows, {}); !w.ok()) return w;
        copied_ += rows.size();
        bucket_copied_ += rows.size();
        rows.clear();
      }
      if (n < chunk) break;
    }
    if (!rows.empty()) {
      if (Status w = write_target(rows, {}); !w.ok()) return w;
      copied_ += rows.size();
      bucket_copied_ += rows.size();
    }
  } else {
    std::vector<std::string> ids(missing.begin(), missing.end());
    ids.insert(ids.end(), stale.begin(), stale.end());
    for (size_t k = 0; k < ids.size(); k += chunk) {
      std::vector<std::string> part(ids.begin() + k, ids.begin() + std::min(ids.size(), k + chunk));
      rows.clear();
      s = on_source("read bucket rows", [&](Connection& c) {
        FetchRows(c, src.dialect(), entity, part, &rows);
      });
      if (!s.ok()) return s;
      if (Status w = write_target(rows, {}); !w.ok()) return w;
      copied_ += rows.size();
      bucket_copied_ += rows.size();
    }
  }
  for (size_t k = 0; k < extra.size(); k += chunk) {
    std::vector<std::string> part(extra.begin() + k,
                                  extra.begin() + std::min(extra.size(), k + chunk));
    if (Status w = write_target({}, part); !w.ok()) return w;
  }
  return Status::OK();
}

Status Mover::Switch(const Pair& p) {
  cluster::ConnectionPool& src = *cluster_.shards[p.source];
  Report(p, "switch");
  return cluster_.WithConnection(src, "switch bucket", Retry::kWrite, [&](Connection& c) {
    return backend::InWriteTransaction(c, src.dialect(), [&]() -> Status {
      // Exclusive: waits for the bucket's writers in flight (they hold it
      // shared until COMMIT); later ones wait here and then see the flip.
      BucketOwner o = records::ReadOwner(c, src.dialect(), cluster_.cluster_id, p.bucket, Lock::kUpdate);
      if (!o.owned()) {
        if (o.peer == p.target_name) return Status::OK();  // another mover did it
        return Status::Corruption("bucket " + std::to_string(p.bucket) + " left " +
                                  Quote(p.source_name) + " for " + Quote(o.peer) +
                                  " during its move to " + Quote(p.target_name));
      }
      uint64_t changes = 0;
      if (Status r = Reconcile(p, &c, &changes); !r.ok()) return r;
      records::SetOwner(c.sql(), cluster_.cluster_id, p.bucket, BucketOwner::kNotOwned, p.target_name);
      return Status::OK();
    });
  });
}

Status Mover::CommitTarget(const Pair& p) {
  cluster::ConnectionPool& tgt = *cluster_.shards[p.target];
  return cluster_.WithConnection(tgt, "take over bucket", Retry::kWrite, [&](Connection& c) {
    return backend::InWriteTransaction(c, tgt.dialect(), [&]() -> Status {
      BucketOwner o = records::ReadOwner(c, tgt.dialect(), cluster_.cluster_id, p.bucket, Lock::kUpdate);
      if (o.owned()) return Status::OK();
      if (o.state != BucketOwner::kIncoming) {
        return Status::Corruption("bucket " + std::to_string(p.bucket) + " was handed to " +
                                  Quote(p.target_name) + " but that shard is not receiving it");
      }
      records::SetOwner(c.sql(), cluster_.cluster_id, p.bucket, BucketOwner::kOwned, "");
      return Status::OK();
    });
  });
}

Status Mover::Cleanup(const Pair& p) {
  cluster::ConnectionPool& src = *cluster_.shards[p.source];
  std::vector<std::string> entities = entities_;
  if (entities.empty()) {  // resumed after the switch: tables as they are
    Status s = cluster_.WithConnection(src, "list record tables", Retry::kReadOnly,
                                       [&](Connection& c) {
                                         entities = RecordTables(c, src.dialect());
                                         return Status::OK();
                                       });
    if (!s.ok()) return s;
  }
  for (const std::string& e : entities) {
    for (;;) {
      long long n = 0;
      Status s = cluster_.WithConnection(src, "clean up moved bucket", Retry::kWrite,
                                         [&](Connection& c) {
        return backend::InWriteTransaction(c, src.dialect(), [&]() -> Status {
          BucketOwner o = records::ReadOwner(c, src.dialect(), cluster_.cluster_id, p.bucket, Lock::kUpdate);
          if (o.owned()) {
            return Status::Corruption("refusing to delete bucket " + std::to_string(p.bucket) +
                                      " from " + Quote(p.source_name) + ", which owns it");
          }
          n = DeleteBucketChunk(c, src.dialect(), e, p.bucket, options_.chunk);
          return Status::OK();
        });
      });
      if (!s.ok()) return s;
      if (n < options_.chunk) break;
    }
  }
  return Status::OK();
}

}  // namespace libshard::resharding
