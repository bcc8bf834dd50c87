// Store writes: put, put_many, delete.
//
// Every write is one transaction on the record's shard: lock the current
// row (SELECT … FOR UPDATE; SQLite's BEGIN IMMEDIATE), check the expected
// version, then INSERT version 1 or UPDATE to version+1 (a batch of
// several records on PostgreSQL/MariaDB does the same in a constant number
// of multi-row statements: ShardWriter::ApplyMany; puts of an unindexed
// entity on PostgreSQL in one statement outside a transaction, which
// commits as it ends: ShardWriter::TryOneStatement). A write returns
// only after COMMIT; what the COMMIT survives (a process crash, or power
// loss) is Options::durability / WriteOptions::durability (options.h).
//
// When the entity has maintained indexes, the transaction also reads the
// old body, inserts the index rows the new document adds before COMMIT, and
// removes the rows it drops after COMMIT (indexer/maintainer.h explains why
// that order means a committed record never misses an index row).
#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>

#include "backend/errors.h"
#include "cache/record_cache.h"
#include "cluster/route_retry.h"
#include "indexer/maintainer.h"
#include "records/bucket_owner.h"
#include "records/fenced_lock.h"
#include "records/my_put_many.h"
#include "records/pg_many.h"
#include "records/pg_put_many.h"
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
  // When the shard does not own a bucket of the batch (it moved), nothing
  // is written and refused() says which bucket and where it went.
  Status Run(const std::vector<PendingWrite>& writes, const indexer::IndexView* view) {
    const bool power_safe = RaisesDurability(writes);
    if (!power_safe) {
      if (std::optional<Status> one = TryOneStatement(writes, view)) {
        // Whatever the status: the statement may have committed (a lost
        // link, an unreadable answer), and dropping an id that was not
        // written costs one miss.
        InvalidateCache(writes);
        return *one;
      }
    }
    Status s = store_.WithConnection(pool_, "write", Store::Impl::Retry::kWrite, [&](Connection& c) {
      AbandonEarlyInvalidation();  // a retry: the last attempt rolled back
      stale_.clear();
      refused_.reset();
      SyncFullForThisWrite sync_full(c, power_safe && IsSqlite());
      return backend::InWriteTransaction(c, pool_.dialect(), [&] {
        if (power_safe && pool_.dialect().backend() == Backend::kPostgres) {
          c.sql() << "SET LOCAL synchronous_commit TO on";
        }
        if (Status a = FenceAndApply(c, writes); !a.ok()) return a;
        // The lease (indexer/index_registry.h): never commit with a view of
        // the index states older than the lease. A write that outlasted its
        // view commits only if a view read within the lease agrees on the
        // entity's maintained indexes.
        if (view != nullptr && !view->Fresh()) {
          if (Status r = store_.indexes->Reconfirm(entity_, *view); !r.ok()) return r;
        }
        // Nothing left that can refuse the write but the COMMIT itself.
        if (!refused_) BeginEarlyInvalidation(writes);
        return Status::OK();
      });
    });
    // Committed (or perhaps committed: the link broke during COMMIT): the
    // record cache drops the ids before the write is acknowledged, so no
    // reader is served a version it replaced (cache/record_cache.h). A
    // write that rolled back, or was refused by the fence, leaves the
    // cache as it was — but for an early invalidation whose COMMIT then
    // failed, which dropped the entries (a miss each).
    if ((s.ok() && !refused_) || s.code() == Code::kOutcomeUnknown) {
      InvalidateCache(writes);
    } else {
      AbandonEarlyInvalidation();
    }
    if (!s.ok()) return s;
    // Committed. Old rows are removed under a fresh lock; a failure here
    // leaves dangling rows only (filtered by queries, removed by repair),
    // so the acknowledged write stands.
    (void)indexer::DeleteStaleRows(store_, entity_, shard_, stale_);
    return Status::OK();
  }

 struct Refusal {
    uint32_t bucket;
    cluster::BucketOwner owner;
  };
  const std::optional<Refusal>& refused() const { return refused_; }

 private:
  bool IsSqlite() const { return pool_.dialect().backend() == Backend::kSqlite; }

  static std::vector<std::string_view> Ids(const std::vector<PendingWrite>& writes) {
    std::vector<std::string_view> ids;
    ids.reserve(writes.size());
    for (const PendingWrite& w : writes) ids.push_back(w.id);
    return ids;
  }

  // Deleted ids drop their keys' version floors; every other id keeps its
  // key's floor, which may be the next writer's (cache/shared_tier.h).
  void InvalidateCache(const std::vector<PendingWrite>& writes) {
    cache::RecordCache* cache = store_.CacheFor(entity_);
    if (cache == nullptr) return;
    std::vector<std::string_view> puts, deletes;
    for (const PendingWrite& w : writes) (w.doc ? puts : deletes).push_back(w.id);
    cache->Invalidate(puts, std::move(early_));
    cache->Invalidate(deletes, {}, cache::SharedTier::Floors::kDrop);
  }

  // Puts only: the shared tier's invalidation goes out now, before the
  // COMMIT, with each id's new version as its floor, and is confirmed by
  // InvalidateCache after it — one overlapped round trip instead of one
  // more (cache/shared_tier.h). A batch with a delete invalidates after
  // the COMMIT: a record re-created later starts again at version 1, and a
  // delete's floor would keep it out of the cache.
  void BeginEarlyInvalidation(const std::vector<PendingWrite>& writes) {
    cache::RecordCache* cache = store_.CacheFor(entity_);
    if (cache == nullptr) return;
    std::vector<uint64_t> versions;
    versions.reserve(writes.size());
    for (const PendingWrite& w : writes) {
      if (w.doc == nullptr) return;
      versions.push_back(*w.new_version);
    }
    early_ = cache->BeginInvalidate(Ids(writes), versions);
  }

  void AbandonEarlyInvalidation() {
    if (early_ == nullptr) return;
    if (cache::RecordCache* cache = store_.CacheFor(entity_)) cache->Abandon(std::move(early_));
    early_.reset();
  }

  // True when an item asks for more durability than the Store's default
  // (WriteOptions::durability): a batch is as durable as its most durable
  // item.
  bool RaisesDurability(const std::vector<PendingWrite>& writes) const {
    if (store_.options.durability == Durability::kPowerLoss) return false;  // already
    return std::any_of(writes.begin(), writes.end(), [](const PendingWrite& w) {
      return w.options->durability == Durability::kPowerLoss;
    });
  }

  // SQLite's synchronous setting is per connection and cannot change
  // inside a transaction: FULL for one power-safe write, then back.
  class SyncFullForThisWrite {
   public:
    SyncFullForThisWrite(Connection& c, bool on) : c_(on ? &c : nullptr) {
      if (c_ != nullptr) c_->sql() << "PRAGMA synchronous=FULL";
    }
    ~SyncFullForThisWrite() {
      if (c_ == nullptr) return;
      try {
        c_->sql() << "PRAGMA synchronous=NORMAL";
      } catch (const soci::soci_error&) {
        c_->MarkBroken();  // never hand out a connection in an unknown mode
      }
    }
    SyncFullForThisWrite(const SyncFullForThisWrite&) = delete;
    SyncFullForThisWrite& operator=(const SyncFullForThisWrite&) = delete;

   private:
    Connection* c_;
  };

  // PostgreSQL and MariaDB, puts of an entity without maintained indexes:
  // the batch in one statement and one round trip (records/pg_put_many.h,
  // records/my_put_many.h), outside a transaction of the caller's. nullopt
  // when the batch is not of that shape, or when the statement declined it
  // (then nothing was written): the general path runs and reports exactly
  // what stood in the way.
  std::optional<Status> TryOneStatement(const std::vector<PendingWrite>& writes,
                                        const indexer::IndexView* view) {
    const Backend backend = pool_.dialect().backend();
    if (backend == Backend::kSqlite || indexed_) return std::nullopt;
    const bool pg = backend == Backend::kPostgres;
    // A single write keeps its transaction: a link lost before its COMMIT
    // is then a clean kUnavailable, where a lost one-statement write is
    // kOutcomeUnknown. A batch trades that for 1 round trip instead of 5.
    if (writes.size() < 2 || writes.size() > kMaxPgRows) return std::nullopt;
    // The lease: the statement fails itself past the time left on the view.
    int64_t lease_left_ms = kNoLeaseMs;
    if (view != nullptr) {
      lease_left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          view->expires - store_.env->SteadyNow())
                          .count();
      if (lease_left_ms < kMinLeaseLeftMs) return std::nullopt;
    }
    std::vector<size_t> order(writes.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return writes[a].id < writes[b].id; });
    std::vector<records::PutManyItem> items;
    items.reserve(writes.size());
    std::vector<uint32_t> buckets;
    size_t bytes = 0;
    for (size_t i : order) {
      const PendingWrite& w = writes[i];
      if (w.doc == nullptr) return std::nullopt;  // deletes: the general path
      if (!items.empty() && items.back().id == w.id) return std::nullopt;  // repeated id
      items.push_back({w.id, w.bucket, w.body, w.options->if_version});
      buckets.push_back(w.bucket);
      if (pg) bytes += ValueBytes(w.id) + ValueBytes(w.body) + kRowOverhead;
    }
    std::sort(buckets.begin(), buckets.end());
    buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
    // MariaDB's statement carries the values as hex literals.
    if (!pg) bytes = records::MyPutManyBytes(items, buckets.size());
    const bool conditional = std::any_of(items.begin(), items.end(),
                                         [](const auto& it) { return it.expect.has_value(); });
    bool declined = false;
    std::vector<uint64_t> versions;
    constexpr auto kRetry = Store::Impl::Retry::kWrite;  // (the lambda catches its SOCI errors)
    Status s = store_.WithConnection(pool_, "write", kRetry, [&](Connection& c) {
      if (bytes > StatementBudget(c)) {
        declined = true;
        return Status::OK();
      }
      // A link the server has visibly closed (a restart) would fail the
      // statement in a way that cannot be told from a commit: leave it to
      // the general path, whose BEGIN fails cleanly.
      if (backend::LinkLooksClosed(c.sql())) {
        c.MarkBroken();
        declined = true;
        return Status::OK();
      }
      try {
        const int64_t now = store_.NowMicros();
        const records::PutManyOutcome o =
            pg ? PgPutMany(c, conditional).Run(items, buckets, now, lease_left_ms, &versions)
               : records::RunMyPutMany(c.sql(), entity_, store_.cluster_id, items, buckets, now,
                                       lease_left_ms, &versions);
        if (o == records::PutManyOutcome::kMalformed) {
          return Status::Internal("write on database '" + pool_.name() +
                                  "': the batch was written, but its versions could not be "
                                  "read from the answer");
        }
        declined = o == records::PutManyOutcome::kDeclined;
      } catch (const soci::soci_error& err) {
        if (backend::Classify(err) == backend::ErrorKind::kConnection) {
          c.MarkBroken();
          return Status::OutcomeUnknown(
              "write on database '" + pool_.name() +
              "': the connection broke while the write's single statement ran (it commits as "
              "it ends), so the write may or may not have been applied; read the record back "
              "(or retry with if_version) before retrying: " + backend::SafeDetail(err));
        }
        // The database answered: the statement, and all it wrote, rolled
        // back.
        c.ForgetStatements();
        declined = true;
      }
      return Status::OK();
    });
    if (declined) return std::nullopt;
    if (!s.ok()) return s;
    for (size_t k = 0; k < items.size(); ++k) *writes[order[k]].new_version = versions[k];
    return Status::OK();
  }

  // PostgreSQL's one-statement batch, prepared once per connection.
  records::PgPutManyStatement& PgPutMany(Connection& c, bool conditional) {
    const std::string e(entity_);
    return c.Cached<records::PgPutManyStatement>(
        records::PgPutManyStatement::Key(e, conditional), [&] {
          return std::make_unique<records::PgPutManyStatement>(c.sql(), e, store_.cluster_id,
                                                               conditional);
        });
  }

  // The fence, then the writes. The point put on SQLite (one record, no
  // maintained index) reads its ownership row and its current version in
  // one statement (records/fenced_lock.h).
  Status FenceAndApply(Connection& c, const std::vector<PendingWrite>& writes) {
    if (writes.size() == 1 && IsSqlite() && !indexed_) return FencedApplyOne(c, writes[0]);
    if (Status f = Fence(c, writes); !f.ok()) return f;
    return Apply(c, writes);
  }

  Status FencedApplyOne(Connection& c, const PendingWrite& w) {
    if (Status s = CheckSize(c, w); !s.ok()) return s;
    const std::string e(entity_);
    auto& lock = c.Cached<records::FencedLockStatement>(records::FencedLockStatement::Key(e), [&] {
      return std::make_unique<records::FencedLockStatement>(c.sql(), e, store_.cluster_id);
    });
    records::FencedLockStatement::Current cur = lock.Run(w.id, w.bucket);
    if (!cur.owned) return Refuse(w.bucket, std::move(cur.owner));
    RawRecord row;
    row.version = cur.version;
    row.updated_us = cur.updated_us;
    return ApplyItem(Writer(c), w, cur.version != 0, row, store_.NowMicros());
  }

  Status Refuse(uint32_t bucket, cluster::BucketOwner owner) {
    refused_ = Refusal{bucket, std::move(owner)};
    return Status::Unavailable("bucket " + std::to_string(bucket) + " is not owned by shard '" +
                               pool_.name() + "'");
  }

  WriteStatements& Writer(Connection& c) {
    const std::string e(entity_);
    return c.Cached<WriteStatements>(WriteStatements::Key(e), [&] {
      return std::make_unique<WriteStatements>(c.sql(), pool_.dialect(), e);
    });
  }

  // One item against the row it finds (`exists`, `cur`): the expected
  // version, then DELETE, INSERT of version 1 or UPDATE to version + 1.
  Status ApplyItem(WriteStatements& write, const PendingWrite& w, bool exists,
                   const RawRecord& cur, int64_t now) {
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
    return Status::OK();
  }

  // The fence of bucket moves (records/bucket_owner.h): each bucket's
  // ownership row is read with a shared lock that lasts until COMMIT, so a
  // move cannot flip it under this transaction, and a flip that committed
  // first is seen here.
  Status Fence(Connection& c, const std::vector<PendingWrite>& writes) {
    uint32_t last = UINT32_MAX;
    std::vector<uint32_t> buckets;
    for (const PendingWrite& w : writes) {
      if (w.bucket != last) buckets.push_back(last = w.bucket);
    }
    std::sort(buckets.begin(), buckets.end());  // one lock order for all writers
    buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
    std::vector<std::pair<uint32_t, cluster::BucketOwner>> owners;
    try {
      // NOWAIT: a move holding a row exclusively is switching that bucket;
      // RouteRetry polls (a few ms) within Options::move_wait_ms instead
      // of this write queueing up to the statement timeout. One statement
      // for a batch's buckets, whatever their number.
      constexpr auto kLock = records::OwnerStatement::Lock::kShareNowait;
      if (buckets.size() == 1) {
        owners.emplace_back(buckets[0], records::ReadOwner(c, pool_.dialect(), store_.cluster_id,
                                                           buckets[0], kLock));
      } else {
        owners = records::ReadOwners(c, pool_.dialect(), store_.cluster_id, buckets, kLock);
      }
    } catch (const soci::soci_error& e) {
      if (backend::Classify(e) != backend::ErrorKind::kLockTimeout) throw;
      // Which bucket is switching is not known: the first stands for the
      // batch (RouteRetry waits, then the batch is routed again).
      cluster::BucketOwner switching;
      switching.state = cluster::BucketOwner::kSwitching;
      refused_ = Refusal{buckets[0], switching};
      return Status::Unavailable("a bucket of the batch is switching shards");
    }
    for (auto& [b, owner] : owners) {
      if (!owner.owned()) return Refuse(b, std::move(owner));
    }
    return Status::OK();
  }

  Status Apply(Connection& c, const std::vector<PendingWrite>& writes) {
    // Servers: a batch in a constant number of statements (ApplyMany).
    // SQLite is in-process, where the single-row statements are fastest.
    if (writes.size() > 1 && !IsSqlite()) return ApplyMany(c, writes);
    const backend::Dialect& d = pool_.dialect();
    const std::string e(entity_);
    WriteStatements& write = Writer(c);
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
      if (Status s = ApplyItem(write, w, exists, cur, now); !s.ok()) return s;
      if (indexed_) {
        const std::string_view old_body = cur.body;
        if (Status s = Diff(w, exists ? &old_body : nullptr, &to_insert); !s.ok()) return s;
      }
    }
    return indexer::InsertRows(store_, to_insert, shard_, &c);
  }

  // The batch on PostgreSQL or MariaDB, item semantics exactly as Apply's,
  // in a constant number of statements instead of two per record:
  //   1. the rows of the batch's distinct ids, locked in one statement
  //      (LockManyStatement; ≤ 256 ids a statement, in id order, so every
  //      writer locks in the same order; PostgreSQL: PgLockManyStatement,
  //      the ids bound as one array, ≤ 4096 a statement);
  //   2. the items applied in order in memory: CheckSize, if_version
  //      against the version the previous items left, versions 1 on create
  //      and +1 per write, `updated` never decreasing, index Diff against
  //      the previous body of the id (the stored one, or the previous
  //      item's) — so a repeated id gets the versions and index rows it
  //      would get written one item at a time;
  //   3. each id's final state written: a multi-row DELETE for ids that
  //      existed and end deleted, a plain multi-row INSERT for ids that did
  //      not exist (another writer inserting one meanwhile is a unique
  //      violation, retried as the single-row INSERT's lost race is; an
  //      upsert would silently overwrite it), and a multi-row upsert for
  //      ids that exist and are locked (PostgreSQL: PgWriteManyStatement,
  //      the rows bound as arrays, one statement per byte budget instead
  //      of one per 64 rows);
  //   4. the index rows inserted once, as Apply does.
  Status ApplyMany(Connection& c, const std::vector<PendingWrite>& writes) {
    const backend::Dialect& d = pool_.dialect();
    const std::string e(entity_);
    std::vector<std::string_view> ids;
    ids.reserve(writes.size());
    for (const PendingWrite& w : writes) ids.push_back(w.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

    // 1. Lock and read. A lock read carries at most 256 ids of at most
    // kMaxIdBytes (≤ 131 KB hex or escaped): below any packet limit a
    // server runs with (MariaDB's default max_allowed_packet is 16 MiB).
    std::vector<RawRecord> found;
    const bool pg = d.backend() == Backend::kPostgres;
    constexpr auto& kSizes = records::LockManyStatement::kSizes;
    // PostgreSQL binds the ids as one array (records/pg_many.h): any count
    // in one statement; 4096 ids of at most kMaxIdBytes are ≤ 4 MiB hex.
    const size_t max_lock = pg ? 4096 : kSizes[std::size(kSizes) - 1];
    for (size_t start = 0; start < ids.size(); start += max_lock) {
      const size_t n = std::min(max_lock, ids.size() - start);
      if (pg) {
        auto& lock = c.Cached<records::PgLockManyStatement>(
            records::PgLockManyStatement::Key(e, indexed_), [&] {
              return std::make_unique<records::PgLockManyStatement>(c.sql(), e, indexed_);
            });
        lock.Run(ids.data() + start, n, &found);
        continue;
      }
      size_t size = max_lock;
      for (size_t s : kSizes) {
        if (s >= n) {
          size = s;
          break;
        }
      }
      auto& lock = c.Cached<records::LockManyStatement>(
          records::LockManyStatement::Key(e, size, indexed_), [&] {
            return std::make_unique<records::LockManyStatement>(c.sql(), d, e, size, indexed_);
          });
      lock.Run(std::vector<std::string_view>(ids.begin() + start, ids.begin() + start + n),
               &found);
    }

    // 2. The items in order, in memory. `found` is complete: views into
    // it stay valid.
    struct State {
      bool existed = false;  // before the batch
      bool exists = false;   // after the items so far
      uint64_t version = 0;
      int64_t updated_us = 0;
      std::string_view body;
      uint32_t bucket = 0;
    };
    std::vector<State> states(ids.size());
    auto index_of = [&](std::string_view id) {
      return static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), id) - ids.begin());
    };
    for (const RawRecord& rec : found) {
      const size_t k = index_of(rec.id);
      if (k == ids.size() || ids[k] != rec.id) continue;  // cannot happen: asked for by id
      states[k] = State{true, true, rec.version, rec.updated_us, rec.body, 0};
    }
    std::vector<indexer::RowOp> to_insert;
    const int64_t now = store_.NowMicros();
    for (const PendingWrite& w : writes) {
      if (Status s = CheckSize(c, w); !s.ok()) return s;
      State& st = states[index_of(w.id)];
      st.bucket = w.bucket;  // the same for every item of an id
      const uint64_t current = st.exists ? st.version : 0;
      if (w.options->if_version && *w.options->if_version != current) {
        return Conflict(entity_, w.id, *w.options->if_version, current);
      }
      const bool existed = st.exists;
      const std::string_view old_body = st.body;
      if (w.doc == nullptr) {
        *w.deleted = st.exists;
        st.exists = false;
        st.version = 0;
        st.body = {};
      } else if (!st.exists) {
        st.exists = true;
        st.version = 1;
        st.updated_us = now;
        st.body = w.body;
        *w.new_version = 1;
      } else {
        // `updated` never goes backwards for a record, even if the clock does.
        st.version += 1;
        st.updated_us = std::max(now, st.updated_us);
        st.body = w.body;
        *w.new_version = st.version;
      }
      if (indexed_) {
        if (Status s = Diff(w, existed ? &old_body : nullptr, &to_insert); !s.ok()) return s;
      }
    }

    // 3. The final state of each id.
    std::vector<std::string_view> deletes;
    std::vector<records::RowWrite> inserts, updates;
    std::vector<size_t> delete_bytes, insert_bytes, update_bytes;
    for (size_t k = 0; k < ids.size(); ++k) {
      const State& st = states[k];
      if (st.existed && !st.exists) {
        deletes.push_back(ids[k]);
        delete_bytes.push_back(ValueBytes(ids[k]));
      } else if (st.exists) {
        auto& to = st.existed ? updates : inserts;
        to.push_back(records::RowWrite{ids[k], st.bucket, st.version, st.updated_us, st.body});
        (st.existed ? update_bytes : insert_bytes)
            .push_back(ValueBytes(ids[k]) + ValueBytes(st.body) + kRowOverhead);
      }
    }
    const size_t budget = StatementBudget(c);
    for (auto [start, n] : Chunks(delete_bytes, budget)) {
      auto& del = c.Cached<records::DeleteManyStatement>(
          records::DeleteManyStatement::Key(e, n),
          [&] { return std::make_unique<records::DeleteManyStatement>(c.sql(), d, e, n); });
      del.Run(deletes.data() + start, n);
    }
    for (bool update : {false, true}) {
      const auto& rows = update ? updates : inserts;
      if (pg) {
        // Array-bound: one statement per `budget` bytes, whatever the rows.
        for (auto [start, n] : Chunks(update ? update_bytes : insert_bytes, budget, kMaxPgRows)) {
          auto& w = c.Cached<records::PgWriteManyStatement>(
              records::PgWriteManyStatement::Key(e, update),
              [&] { return std::make_unique<records::PgWriteManyStatement>(c.sql(), e, update); });
          w.Run(rows.data() + start, n);
        }
        continue;
      }
      for (auto [start, n] : Chunks(update ? update_bytes : insert_bytes, budget)) {
        auto& ins = c.Cached<records::InsertManyStatement>(
            records::InsertManyStatement::Key(e, n, update), [&] {
              return std::make_unique<records::InsertManyStatement>(c.sql(), d, e, n, update);
            });
        ins.Run(rows.data() + start, n);
      }
    }

    // 4. Index rows (before COMMIT, as Apply).
    return indexer::InsertRows(store_, to_insert, shard_, &c);
  }

  // Rows per multi-row write statement. Each distinct row count is its own
  // prepared statement (cached per connection: at most kMaxRows of them
  // per entity and kind); exact counts rather than a few padded sizes
  // because a multi-row INSERT cannot repeat a row, and decomposing a count
  // into fixed sizes (64/16/4/1) would cost up to 9 statements for the
  // remainder instead of 1.
  static constexpr size_t kMaxRows = 64;
  // PostgreSQL's array-bound statements serve any row count: the bound is
  // the client's memory for the array literals (with the byte budget).
  static constexpr size_t kMaxPgRows = 4096;
  // TryOneStatement: a view with less lease left goes the general way (its
  // write re-confirms the view before COMMIT); no view, no lease to keep.
  static constexpr int64_t kMinLeaseLeftMs = 20;
  static constexpr int64_t kNoLeaseMs = 3'600'000;
  // SQL text and the other values of one row (bucket, version, updated,
  // placeholders or their escaped form).
  static constexpr size_t kRowOverhead = 128;

  // Bytes a bytes value takes in the statement: hex on PostgreSQL,
  // escaped into the text on MariaDB.
  size_t ValueBytes(std::string_view v) const {
    return pool_.dialect().hex_bytes() ? 2 * v.size() : backend::MysqlEscapedSize(v);
  }

  // The most bytes one multi-row statement may carry: half the server's
  // packet limit (MariaDB refuses a larger statement and drops the
  // connection), else 32 MiB (a bound on the client's memory).
  static size_t StatementBudget(Connection& c) {
    const size_t limit = c.max_packet_bytes();
    return limit == 0 ? size_t{32} << 20 : limit / 2;
  }

  // Splits rows of `bytes` sizes into consecutive statements of at most
  // kMaxRows rows and at most `budget` bytes (a row larger than the budget
  // alone: CheckSize has checked it fits the packet limit by itself).
  static std::vector<std::pair<size_t, size_t>> Chunks(const std::vector<size_t>& bytes,
                                                       size_t budget,
                                                       size_t max_rows = kMaxRows) {
    std::vector<std::pair<size_t, size_t>> out;
    size_t start = 0, n = 0, sum = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (n > 0 && (n == max_rows || sum + bytes[i] > budget)) {
        out.emplace_back(start, n);
        start = i;
        n = 0;
        sum = 0;
      }
      ++n;
      sum += bytes[i];
    }
    if (n > 0) out.emplace_back(start, n);
    return out;
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
  Status Diff(const PendingWrite& w, const std::string_view* old_body,
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
  std::optional<Refusal> refused_;
  cache::SharedTier::InFlightPtr early_;  // BeginEarlyInvalidation's, until confirmed
};

// Runs `writes` (all of one record) on the shard its bucket routes to,
// following the bucket when it moved (cluster/route_retry.h). Each attempt
// takes the current view of the index states: an attempt after waiting out
// a switch must not commit with a view older than the lease.
Status RunRouted(Store::Impl& impl, std::string_view entity, std::string_view id,
                 std::vector<PendingWrite>& writes) {
  cluster::RouteRetry retry(impl, entity, id);
  for (;;) {
    Result<std::shared_ptr<const indexer::IndexView>> view = impl.indexes->Current();
    if (!view.ok()) return view.status();
    router::Route route = impl.router.RouteId(id);
    for (PendingWrite& w : writes) w.bucket = route.bucket;
    ShardWriter writer(impl, route.shard, entity, (*view)->For(entity));
    Status s = writer.Run(writes, view->get());
    if (!writer.refused()) return s;
    if (Status r = retry.Refused(route.bucket, route.shard, writer.refused()->owner); !r.ok()) {
      return r;
    }
  }
}

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
  uint64_t version = 0;
  std::vector<PendingWrite> writes{{id, 0, &doc, body, &options, &version, nullptr}};
  if (Status s = RunRouted(*this, entity, id, writes); !s.ok()) return s;
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
  std::vector<std::string> bodies(items.size());
  std::vector<uint64_t> versions(items.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) bodies[i] = items[i].doc.ToMsgpack();
  // Items still to write. A shard batch refused because a bucket moved
  // wrote nothing; its items are routed again (and only those: the other
  // shards' batches committed).
  std::vector<size_t> todo(items.size());
  for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  cluster::RouteRetry retry(impl, std::string(entity) + " put_many");
  while (!todo.empty()) {
    // A fresh view per round (see RunRouted).
    Result<std::shared_ptr<const indexer::IndexView>> view = impl.indexes->Current();
    if (!view.ok()) return view.status();
    const auto& indexes = (*view)->For(entity);
    std::vector<router::Route> routes;
    for (size_t i : todo) routes.push_back(impl.router.RouteId(items[i].id));
    // After routing: every index in `routes` is already in `shards`.
    const size_t shard_count = impl.shards.size();
    std::vector<std::vector<PendingWrite>> per_shard(shard_count);
    std::vector<std::vector<size_t>> positions(shard_count);
    std::vector<size_t> touched;
    for (size_t k = 0; k < todo.size(); ++k) {
      const size_t i = todo[k];
      const router::Route& route = routes[k];
      if (per_shard[route.shard].empty()) touched.push_back(route.shard);
      per_shard[route.shard].push_back({items[i].id, route.bucket, &items[i].doc, bodies[i],
                                        &items[i].options, &versions[i], nullptr});
      positions[route.shard].push_back(i);
    }
    std::vector<std::optional<ShardWriter::Refusal>> refused(shard_count);
    Status s = impl.ForEachShard(touched, [&](size_t shard) {
      ShardWriter writer(impl, shard, entity, indexes);
      Status w = writer.Run(per_shard[shard], view->get());
      refused[shard] = writer.refused();
      return refused[shard] ? Status::OK() : w;
    });
    if (!s.ok()) return s;
    todo.clear();
    for (size_t shard : touched) {
      if (!refused[shard]) continue;
      if (Status r = retry.Refused(refused[shard]->bucket, shard, refused[shard]->owner);
          !r.ok()) {
        return r;
      }
      todo.insert(todo.end(), positions[shard].begin(), positions[shard].end());
    }
  }
  return versions;
}

Result<bool> Store::Delete(std::string_view entity, std::string_view id,
                           const WriteOptions& options) {
  Impl& impl = *impl_;
  if (Status s = impl.CheckEntity(entity); !s.ok()) return s;
  if (Status s = CheckId(entity, id); !s.ok()) return s;
  bool deleted = false;
  std::vector<PendingWrite> writes{{id, 0, nullptr, {}, &options, nullptr, &deleted}};
  if (Status s = RunRouted(impl, entity, id, writes); !s.ok()) return s;
  return deleted;
}

}  // namespace libshard
