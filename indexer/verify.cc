// Verify and repair of one index (see verify.h).
#include "indexer/verify.h"

#include <soci/soci.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "indexer/builder.h"
#include "indexer/index_registry.h"
#include "indexer/index_table.h"
#include "indexer/maintainer.h"
#include "records/record_reads.h"
#include "records/record_table.h"

namespace libshard::indexer {
namespace {

using backend::Connection;
using cluster::ConnectionPool;
using Retry = cluster::Cluster::Retry;
using HitSet = std::unordered_set<std::string>;

// Ids per transaction when repair locks records to insert their rows.
constexpr size_t kRepairBatch = 500;
// Ids per GetMany when rechecking candidates.
constexpr size_t kRecheckBatch = 1000;

struct Hit {
  IndexRow row;
  std::string id;
};

// EncodeHit back into row and id (an array of the row values, then the id
// as bytes).
Result<Hit> DecodeHit(const std::string& encoded) {
  Result<Document> doc = Document::FromMsgpack(encoded);
  if (!doc.ok() || !doc->is_array() || doc->as_array().size() < 2 ||
      !doc->as_array().back().is_bytes()) {
    return Status::Internal("undecodable index hit");
  }
  Hit hit;
  Document::Array& items = doc->as_array();
  hit.id = items.back().as_string();
  items.pop_back();
  hit.row = std::move(items);
  return hit;
}

// SELECT COUNT(*) of one (row, id) in an index table.
class RowProbe : public backend::Prepared {
 public:
  RowProbe(soci::session& sql, const backend::Dialect& d, const IndexDef& def)
      : dialect_(d), slots_(d, def), st_(sql) {
    soci::details::prepare_temp_type prep =
        (sql.prepare << "SELECT COUNT(*) FROM " + def.Table() + " WHERE " + slots_.EqualsAll() +
                            " AND id = " + d.BytesParam("id"));
    prep, soci::into(count_);
    slots_.Bind(prep);
    prep, soci::use(id_);
    st_ = prep;
  }
  static std::string Key(const IndexDef& def) { return "idx.probe:" + def.cache_key; }
  bool Run(const IndexRow& row, std::string_view id) {
    slots_.Set(row);
    id_ = dialect_.EncodeBytes(id);
    count_ = 0;
    st_.execute(true);
    backend::Drain(st_);
    return count_ > 0;
  }

 private:
  const backend::Dialect& dialect_;
  RowSlots slots_;
  std::string id_;
  long long count_ = 0;
  soci::statement st_;
};

class Checker {
 public:
  Checker(cluster::Cluster& cluster, std::shared_ptr<const IndexDef> def)
      : cluster_(cluster), def_(std::move(def)), live_{{def_, IndexState::kWriteOnly}} {}

  // The expected hits of every record, all shards in parallel.
  Status Expected(HitSet* expected) {
    std::mutex mu;
    std::vector<size_t> all = cluster_.ShardsToScan(/*with_listed=*/false);
    const int chunk = std::max(1, cluster_.options.scan_chunk);
    const std::string& entity = def_->entity;
    return cluster_.ForEachShard(all, [&](size_t shard) -> Status {
      ConnectionPool& pool = *cluster_.shards[shard];
      HitSet local;
      std::string after;  // ids are never empty: "" sorts first
      std::vector<RawRecord> raw;
      for (;;) {
        size_t n = 0;
        Status s = cluster_.WithConnection(pool, "verify scan", Retry::kReadOnly,
                                         [&](Connection& c) {
          auto& scan = c.Cached<records::ScanStatement>(
              records::ScanStatement::Key(entity, chunk), [&] {
                return std::make_unique<records::ScanStatement>(c.sql(), pool.dialect(), entity,
                                                                chunk, cluster_.cluster_id);
              });
          raw.clear();
          n = scan.Run(after, &raw);
          return Status::OK();
        });
        if (!s.ok()) return s;
        if (n == 0) break;
        after = raw.back().id;
        std::vector<RowOp> ops;
        for (const RawRecord& rec : raw) {
          ops.clear();
          if (Status r = RowsOfBody(rec.id, rec.body, &ops); !r.ok()) return r;
          for (const RowOp& op : ops) local.insert(EncodeHit(op.row, op.id));
        }
        if (n < static_cast<size_t>(chunk)) break;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (expected->empty()) {
        expected->swap(local);
      } else {
        expected->merge(local);
      }
      return Status::OK();
    });
  }

  // Every row of the index table on database `k`: `hits` on the right
  // database, `misplaced` on a database DatabaseFor does not pick.
  Status Actual(size_t k, std::vector<std::string>* hits, std::vector<std::string>* misplaced) {
    ConnectionPool& pool = cluster_.Pool(def_->databases[k]);
    const bool sharded = def_->databases.size() > 1;
    return cluster_.WithConnection(pool, "verify read index", Retry::kReadOnly, [&](Connection& c) {
      hits->clear();
      misplaced->clear();
      const backend::Dialect& d = pool.dialect();
      RowSlots slots(d, *def_);
      std::string columns;
      for (size_t i = 0; i < slots.size(); ++i) columns += slots.Select(i) + ", ";
      std::string id_fetched, id;
      soci::details::prepare_temp_type prep =
          (c.sql().prepare << "SELECT " + columns + d.BytesColumn("id") + " FROM " +
                                  def_->Table());
      slots.BindInto(prep);
      prep, soci::into(id_fetched);
      soci::statement st = prep;
      st.execute();
      while (st.fetch()) {
        IndexRow row = slots.Get();
        if (!d.DecodeBytes(id_fetched, &id)) throw soci::soci_error("index id is not valid hex");
        std::string hit = EncodeHit(row, id);
        if (sharded && def_->DatabaseFor(row[0]) != k) {
          misplaced->push_back(std::move(hit));
        } else {
          hits->push_back(std::move(hit));
        }
      }
      return Status::OK();
    });
  }

  // Raw set differences (see verify.h).
  struct Comparison {
    std::vector<std::string> missing;
    std::vector<std::string> dangling;
    std::vector<std::pair<size_t, std::string>> misplaced;  // (database, hit)
  };

  Status Compare(Comparison* cmp) {
    HitSet expected;
    if (Status s = Expected(&expected); !s.ok()) return s;
    std::vector<std::string> hits, misplaced;
    for (size_t k = 0; k < def_->databases.size(); ++k) {
      if (Status s = Actual(k, &hits, &misplaced); !s.ok()) return s;
      for (std::string& h : hits) {
        if (expected.erase(h) == 0) cmp->dangling.push_back(std::move(h));
      }
      for (std::string& h : misplaced) cmp->misplaced.emplace_back(k, std::move(h));
    }
    cmp->missing.reserve(expected.size());
    for (auto it = expected.begin(); it != expected.end();) {
      cmp->missing.push_back(std::move(expected.extract(it++).value()));
    }
    return Status::OK();
  }

  // Drops candidates a concurrent write explains (see verify.h).
  Status Recheck(Comparison* cmp) {
    if (cmp->missing.size() + cmp->dangling.size() + cmp->misplaced.size() > kMaxRecheck) {
      return Status::OK();
    }
    // Missing: record first, then the row.
    if (!cmp->missing.empty()) {
      HitSet current;
      if (Status s = CurrentHits(cmp->missing, &current); !s.ok()) return s;
      std::vector<std::string> still;
      for (std::string& h : cmp->missing) {
        if (current.count(h)) still.push_back(std::move(h));
      }
      std::vector<bool> present;
      if (Status s = Present(still, std::nullopt, &present); !s.ok()) return s;
      cmp->missing.clear();
      for (size_t i = 0; i < still.size(); ++i) {
        if (!present[i]) cmp->missing.push_back(std::move(still[i]));
      }
    }
    // Dangling: the row first, then the record.
    if (!cmp->dangling.empty()) {
      std::vector<bool> present;
      if (Status s = Present(cmp->dangling, std::nullopt, &present); !s.ok()) return s;
      std::vector<std::string> still;
      for (size_t i = 0; i < cmp->dangling.size(); ++i) {
        if (present[i]) still.push_back(std::move(cmp->dangling[i]));
      }
      HitSet current;
      if (Status s = CurrentHits(still, &current); !s.ok()) return s;
      cmp->dangling.clear();
      for (std::string& h : still) {
        if (!current.count(h)) cmp->dangling.push_back(std::move(h));
      }
    }
    // Misplaced: still there?
    if (!cmp->misplaced.empty()) {
      std::map<size_t, std::vector<std::string>> by_db;
      for (auto& [k, h] : cmp->misplaced) by_db[k].push_back(std::move(h));
      cmp->misplaced.clear();
      for (auto& [k, list] : by_db) {
        std::vector<bool> present;
        if (Status s = Present(list, k, &present); !s.ok()) return s;
        for (size_t i = 0; i < list.size(); ++i) {
          if (present[i]) cmp->misplaced.emplace_back(k, std::move(list[i]));
        }
      }
    }
    return Status::OK();
  }

  // Inserts the missing rows under their records' locks; returns how many.
  Result<uint64_t> InsertMissing(const std::vector<std::string>& missing) {
    HitSet only(missing.begin(), missing.end());
    std::vector<std::vector<std::string>> ids_by_shard(cluster_.shards.size());
    std::unordered_set<std::string> seen;
    for (const std::string& h : missing) {
      Result<Hit> hit = DecodeHit(h);
      if (!hit.ok()) return hit.status();
      if (!seen.insert(hit->id).second) continue;
      ids_by_shard[cluster_.ShardOf(hit->id)].push_back(hit->id);
    }
    uint64_t fixed = 0;
    for (size_t shard = 0; shard < ids_by_shard.size(); ++shard) {
      const std::vector<std::string>& ids = ids_by_shard[shard];
      for (size_t start = 0; start < ids.size(); start += kRepairBatch) {
        std::vector<std::string> batch(
            ids.begin() + start, ids.begin() + std::min(ids.size(), start + kRepairBatch));
        std::vector<std::string> produced;
        Status s = IndexRecordsLocked(cluster_, def_, shard, batch, &only, &produced);
        if (!s.ok()) return s;
        fixed += produced.size();
      }
    }
    return fixed;
  }

  // Hands dangling rows to DeleteStaleRows per record shard; returns how
  // many it was given.
  Result<uint64_t> DeleteDangling(const std::vector<std::string>& dangling) {
    std::vector<std::vector<RowOp>> by_shard(cluster_.shards.size());
    for (const std::string& h : dangling) {
      Result<Hit> hit = DecodeHit(h);
      if (!hit.ok()) return hit.status();
      size_t shard = cluster_.ShardOf(hit->id);
      by_shard[shard].push_back({def_, std::move(hit->row), std::move(hit->id)});
    }
    uint64_t fixed = 0;
    for (size_t shard = 0; shard < by_shard.size(); ++shard) {
      if (by_shard[shard].empty()) continue;
      if (Status s = DeleteStaleRows(cluster_, def_->entity, shard, by_shard[shard]); !s.ok()) {
        return s;
      }
      fixed += by_shard[shard].size();
    }
    return fixed;
  }

  // Deletes rows stored on a database they do not belong to.
  Result<uint64_t> DeleteMisplaced(const std::vector<std::pair<size_t, std::string>>& misplaced) {
    std::map<size_t, std::vector<Hit>> by_db;
    for (const auto& [k, h] : misplaced) {
      Result<Hit> hit = DecodeHit(h);
      if (!hit.ok()) return hit.status();
      by_db[k].push_back(std::move(hit).value());
    }
    uint64_t fixed = 0;
    for (const auto& [k, hits] : by_db) {
      ConnectionPool& pool = cluster_.Pool(def_->databases[k]);
      Status s = cluster_.WithConnection(pool, "repair misplaced rows", Retry::kWrite,
                                       [&](Connection& c) {
        return backend::InWriteTransaction(c, pool.dialect(), [&] {
          IndexWriter& w = c.Cached<IndexWriter>(IndexWriter::Key(*def_), [&] {
            return std::make_unique<IndexWriter>(c.sql(), pool.dialect(), *def_);
          });
          for (const Hit& hit : hits) w.Delete(hit.row, hit.id);
          return Status::OK();
        });
      });
      if (!s.ok()) return s;
      fixed += hits.size();
    }
    return fixed;
  }

 private:
  Status RowsOfBody(const std::string& id, const std::string& body, std::vector<RowOp>* ops) {
    Result<Document> doc = Document::FromMsgpack(body);
    if (!doc.ok()) {
      return Status::Corruption(DescribeRecord(def_->entity, id) +
                                ": stored body is not a valid document: " +
                                doc.status().message());
    }
    Status s = RowsOf(live_, &*doc, id, ops);
    if (!s.ok()) return Status(s.code(), DescribeRecord(def_->entity, id) + ": " + s.message());
    return Status::OK();
  }

  // Hits the current documents of the records named in `hits` produce.
  Status CurrentHits(const std::vector<std::string>& hits, HitSet* current) {
    std::vector<Id> ids;
    std::unordered_set<std::string> seen;
    for (const std::string& h : hits) {
      Result<Hit> hit = DecodeHit(h);
      if (!hit.ok()) return hit.status();
      if (seen.insert(hit->id).second) ids.push_back(hit->id);
    }
    for (size_t start = 0; start < ids.size(); start += kRecheckBatch) {
      std::vector<Id> batch(ids.begin() + start,
                            ids.begin() + std::min(ids.size(), start + kRecheckBatch));
      Result<std::vector<Record>> recs = records::GetMany(cluster_, def_->entity, batch);
      if (!recs.ok()) return recs.status();
      std::vector<RowOp> ops;
      for (const Record& r : *recs) {
        ops.clear();
        Status s = RowsOf(live_, &r.doc, r.id, &ops);
        if (!s.ok()) {
          return Status(s.code(), DescribeRecord(def_->entity, r.id) + ": " + s.message());
        }
        for (const RowOp& op : ops) current->insert(EncodeHit(op.row, op.id));
      }
    }
    return Status::OK();
  }

  // Whether each hit's row exists: on database `db`, or on the database it
  // belongs to when `db` is not given.
  Status Present(const std::vector<std::string>& hits, std::optional<size_t> db,
                 std::vector<bool>* present) {
    present->assign(hits.size(), false);
    std::map<size_t, std::vector<std::pair<size_t, Hit>>> by_db;
    for (size_t i = 0; i < hits.size(); ++i) {
      Result<Hit> hit = DecodeHit(hits[i]);
      if (!hit.ok()) return hit.status();
      size_t k = db ? *db : def_->DatabaseFor(hit->row[0]);
      by_db[k].emplace_back(i, std::move(hit).value());
    }
    for (const auto& [k, list] : by_db) {
      ConnectionPool& pool = cluster_.Pool(def_->databases[k]);
      Status s = cluster_.WithConnection(pool, "verify recheck", Retry::kReadOnly,
                                       [&](Connection& c) {
        RowProbe& probe = c.Cached<RowProbe>(RowProbe::Key(*def_), [&] {
          return std::make_unique<RowProbe>(c.sql(), pool.dialect(), *def_);
        });
        for (const auto& [i, hit] : list) (*present)[i] = probe.Run(hit.row, hit.id);
        return Status::OK();
      });
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  cluster::Cluster& cluster_;
  std::shared_ptr<const IndexDef> def_;
  std::vector<LiveIndex> live_;  // just this index, maintained
};

Result<std::shared_ptr<const IndexDef>> Find(cluster::Cluster& cluster, std::string_view entity,
                                             std::string_view index) {
  if (Status s = cluster.CheckEntity(entity); !s.ok()) return s;
  Result<CatalogEntry> entry = LoadCatalogEntry(cluster, entity, index);
  if (!entry.ok()) return entry.status();
  if (!entry->registered) {
    return Status::InvalidArgument("unknown index " + std::string(entity) + "." +
                                   std::string(index) + ": the catalog does not know it");
  }
  return entry->def;
}

}  // namespace

Result<VerifyReport> VerifyIndex(cluster::Cluster& cluster, std::string_view entity,
                                 std::string_view index) {
  Result<std::shared_ptr<const IndexDef>> def = Find(cluster, entity, index);
  if (!def.ok()) return def.status();
  Checker checker(cluster, *def);
  Checker::Comparison cmp;
  if (Status s = checker.Compare(&cmp); !s.ok()) return s;
  if (Status s = checker.Recheck(&cmp); !s.ok()) return s;
  VerifyReport report;
  report.missing = cmp.missing.size();
  report.dangling = cmp.dangling.size() + cmp.misplaced.size();
  return report;
}

Result<VerifyReport> RepairIndex(cluster::Cluster& cluster, std::string_view entity,
                                 std::string_view index) {
  Result<std::shared_ptr<const IndexDef>> def = Find(cluster, entity, index);
  if (!def.ok()) return def.status();
  Checker checker(cluster, *def);
  Checker::Comparison cmp;
  if (Status s = checker.Compare(&cmp); !s.ok()) return s;
  if (Status s = checker.Recheck(&cmp); !s.ok()) return s;
  VerifyReport fixed;
  Result<uint64_t> n = checker.InsertMissing(cmp.missing);
  if (!n.ok()) return n.status();
  fixed.missing = *n;
  n = checker.DeleteDangling(cmp.dangling);
  if (!n.ok()) return n.status();
  fixed.dangling = *n;
  n = checker.DeleteMisplaced(cmp.misplaced);
  if (!n.ok()) return n.status();
  fixed.dangling += *n;
  return fixed;
}

}  // namespace libshard::indexer
