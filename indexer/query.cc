// The query engine: see query.h for the algorithm.
#include "indexer/query.h"

#include <soci/soci.h>

#include <algorithm>
#include <bit>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "backend/dialect.h"
#include "backend/sqlite_statement.h"
#include "cluster/connection_pool.h"
#include "indexer/index_def.h"
#include "indexer/index_registry.h"
#include "indexer/index_table.h"
#include "indexer/query_cursor.h"
#include "records/record_reads.h"

namespace libshard::indexer {
namespace {

using backend::Connection;
using cluster::ConnectionPool;
using backend::Dialect;

// Most index rows one SQL batch reads from one database.
constexpr size_t kMaxBatch = 20000;

// A condition with its column resolved and its values normalized.
struct Cond {
  size_t column = 0;
  Op op = Op::kEq;
  std::vector<Document> values;
};

struct Plan {
  std::string entity;
  std::shared_ptr<const IndexDef> def;
  std::vector<Cond> conds;
  // Column positions of the order key, most significant first; the record
  // id follows as the final tie-breaker.
  std::vector<size_t> key;
  bool desc = false;
  std::string order_by;  // the column ordered by ("" = index order)
  size_t limit = 0;
};

// One index row as read: values in index column order, and the record id.
struct Hit {
  IndexRow row;
  std::string id;
};

const char* OpText(Op op) {
  switch (op) {
    case Op::kEq: return "=";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kIn: return "IN";
  }
  return "?";
}

int Sign(int c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

// Order of two hits under the plan's order key (direction applied).
int CompareHits(const Plan& plan, const Hit& a, const Hit& b) {
  for (size_t k : plan.key) {
    int c = CompareValues(a.row[k], b.row[k]);
    if (c != 0) return plan.desc ? -c : c;
  }
  int c = Sign(a.id.compare(b.id));
  return plan.desc ? -c : c;
}

bool Satisfies(const Document& v, const Cond& cond) {
  switch (cond.op) {
    case Op::kEq: return CompareValues(v, cond.values[0]) == 0;
    case Op::kNe: return CompareValues(v, cond.values[0]) != 0;
    case Op::kLt: return CompareValues(v, cond.values[0]) < 0;
    case Op::kLe: return CompareValues(v, cond.values[0]) <= 0;
    case Op::kGt: return CompareValues(v, cond.values[0]) > 0;
    case Op::kGe: return CompareValues(v, cond.values[0]) >= 0;
    case Op::kIn:  // values sorted and unique (MakePlan)
      return std::binary_search(
          cond.values.begin(), cond.values.end(), v,
          [](const Document& a, const Document& b) { return CompareValues(a, b) < 0; });
  }
  return false;
}

bool Matches(const Plan& plan, const IndexRow& row) {
  return std::all_of(plan.conds.begin(), plan.conds.end(),
                     [&](const Cond& c) { return Satisfies(row[c.column], c); });
}

// --- cursor (query_cursor.h) -------------------------------------------------

std::string EncodeCursor(const Plan& plan, const Hit& hit) {
  return indexer::EncodeCursor(CursorQuery{*plan.def, plan.order_by, plan.desc}, hit.row, hit.id);
}

Result<Hit> DecodeCursor(const Plan& plan, std::string_view cursor) {
  Result<CursorPosition> pos =
      indexer::DecodeCursor(CursorQuery{*plan.def, plan.order_by, plan.desc}, cursor);
  if (!pos.ok()) return pos.status();
  if (!CheckId(plan.entity, pos->id).ok()) {
    return BadCursor(*plan.def, "its record id is not valid");
  }
  return Hit{std::move(pos->row), std::move(pos->id)};
}

// --- SQL ---------------------------------------------------------------------

// Where a bound value comes from: a condition's value, or the keyset
// position's column or id. A cached statement keeps the sources of its
// placeholders, so a later query of the same shape is bound straight from
// its plan without building (and hashing) the SQL text again.
struct Source {
  enum Kind { kCond, kAfterColumn, kAfterId } kind = kCond;
  size_t a = 0;  // condition or column position
  size_t b = 0;  // value position in the condition
};

// A bound parameter. Kept in a deque so addresses stay put while SOCI holds
// pointers to them.
struct Param {
  ColumnType type = ColumnType::kString;
  Source source;
  long long i = 0;
  double d = 0;
  int b = 0;
  std::string s;
};

// Copies the value `p.source` names in `plan` / `after` into `p`.
void Load(const Dialect& d, const Plan& plan, const std::optional<Hit>& after, Param& p) {
  const Source& src = p.source;
  if (src.kind == Source::kAfterId) {
    p.s = d.EncodeBytes(after->id);
    return;
  }
  const Document& v =
      src.kind == Source::kCond ? plan.conds[src.a].values[src.b] : after->row[src.a];
  switch (p.type) {
    case ColumnType::kInt: p.i = v.as_int(); break;
    case ColumnType::kFloat: p.d = v.as_double(); break;
    case ColumnType::kBool: p.b = v.as_bool() ? 1 : 0; break;
    case ColumnType::kString:
    case ColumnType::kBytes: p.s = d.EncodeBytes(v.as_string()); break;
  }
}

// Builds the SQL text of a query shape, numbering placeholders in text
// order and recording where each one's value comes from.
class SqlBuilder {
 public:
  SqlBuilder(const Dialect& d, const IndexDef& def) : d_(d), def_(def) {}

  // A fresh placeholder of column type `type`, bound to `source`.
  std::string Bind(ColumnType type, Source source) {
    // Not "p" + to_string(…): GCC 12's -Wrestrict false positive.
    std::string name = std::to_string(params_.size());
    name.insert(0, 1, 'p');
    Param p;
    p.type = type;
    p.source = source;
    params_.push_back(std::move(p));
    if (type == ColumnType::kString || type == ColumnType::kBytes) return d_.BytesParam(name);
    name.insert(0, 1, ':');
    return name;
  }
  std::string BindCond(const Cond& cond, size_t cond_pos, size_t value_pos) {
    return Bind(def_.columns[cond.column].type, Source{Source::kCond, cond_pos, value_pos});
  }
  std::string BindAfter(int k) {  // k < 0: the id
    return k < 0 ? Bind(ColumnType::kBytes, Source{Source::kAfterId, 0, 0})
                 : Bind(def_.columns[k].type, Source{Source::kAfterColumn, size_t(k), 0});
  }

  std::deque<Param>& params() { return params_; }

 private:
  const Dialect& d_;
  const IndexDef& def_;
  std::deque<Param> params_;
};

// The keyset condition "key > after" (or < for descending), as a leading
// bound on the first key column (so every backend can range-scan) ANDed
// with the exact lexicographic OR-chain. Placeholders appear in text order.
std::string KeysetCondition(const Plan& plan, SqlBuilder* b) {
  const IndexDef& def = *plan.def;
  const char* strict = plan.desc ? " < " : " > ";
  const char* loose = plan.desc ? " <= " : " >= ";
  // The key as (column SQL, column position or -1 for the id).
  std::vector<int> key(plan.key.begin(), plan.key.end());
  key.push_back(-1);
  auto col = [&](int k) { return k < 0 ? std::string("id") : ColumnName(def.columns[k]); };
  auto bind = [&](int k) { return b->BindAfter(k); };
  std::string lead = col(key[0]) + loose + bind(key[0]);
  std::function<std::string(size_t)> chain = [&](size_t i) -> std::string {
    if (i + 1 == key.size()) return col(key[i]) + strict + bind(key[i]);
    std::string greater = col(key[i]) + strict + bind(key[i]);
    std::string equal = col(key[i]) + " = " + bind(key[i]);
    std::string rest = chain(i + 1);
    return "(" + greater + " OR (" + equal + " AND " + rest + "))";
  };
  return lead + " AND " + chain(0);
}

// The SELECT of one batch: conditions, keyset position (with `after`),
// order key, LIMIT `batch`.
std::string QuerySql(const Dialect& d, const Plan& plan, bool after, size_t batch,
                     SqlBuilder* b) {
  const IndexDef& def = *plan.def;
  RowSlots slots(d, def);
  std::string sql = "SELECT ";
  for (size_t k = 0; k < def.columns.size(); ++k) sql += slots.Select(k) + ", ";
  sql += d.BytesColumn("id") + " FROM " + def.Table();
  std::vector<std::string> where;
  for (size_t i = 0; i < plan.conds.size(); ++i) {
    const Cond& cond = plan.conds[i];
    const std::string column = ColumnName(def.columns[cond.column]);
    switch (cond.op) {
      case Op::kEq: where.push_back(column + " = " + b->BindCond(cond, i, 0)); break;
      case Op::kNe: where.push_back(column + " <> " + b->BindCond(cond, i, 0)); break;
      case Op::kLt: where.push_back(column + " < " + b->BindCond(cond, i, 0)); break;
      case Op::kLe: where.push_back(column + " <= " + b->BindCond(cond, i, 0)); break;
      case Op::kGt: where.push_back(column + " > " + b->BindCond(cond, i, 0)); break;
      case Op::kGe: where.push_back(column + " >= " + b->BindCond(cond, i, 0)); break;
      case Op::kIn: {
        std::string list;
        for (size_t v = 0; v < cond.values.size(); ++v) {
          list += (list.empty() ? "" : ", ") + b->BindCond(cond, i, v);
        }
        where.push_back(column + " IN (" + list + ")");
        break;
      }
    }
  }
  if (after) where.push_back(KeysetCondition(plan, b));
  for (size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  const char* dir = plan.desc ? " DESC" : " ASC";
  sql += " ORDER BY ";
  for (size_t k : plan.key) sql += ColumnName(def.columns[k]) + dir + ", ";
  sql += std::string("id") + dir + " LIMIT " + std::to_string(batch);
  return sql;
}

// Names the SQL text QuerySql builds, without building it: the definition
// (table and shape), direction, keyset or not, batch, order key and each
// condition's column, operator and value count.
std::string ShapeKey(const Plan& plan, bool after, size_t batch) {
  std::string key = "idx.query:";
  key += plan.def->cache_key;
  key += plan.desc ? "\nD" : "\nA";
  key += after ? 'K' : '-';
  key += std::to_string(batch);
  for (size_t k : plan.key) {
    key += ',';
    key += std::to_string(k);
  }
  for (const Cond& c : plan.conds) {
    key += ';';
    key += std::to_string(c.column);
    key += static_cast<char>('a' + static_cast<int>(c.op));
    if (c.op == Op::kIn) key += std::to_string(c.values.size());
  }
  return key;
}

// Placeholders of the shape: one per condition value, 2 per key column
// (the id included) for the keyset condition.
size_t ParamCount(const Plan& plan, bool after) {
  size_t n = 0;
  for (const Cond& c : plan.conds) n += c.values.size();
  return n + (after ? 2 * (plan.key.size() + 1) : 0);
}

// One query shape prepared on one connection: it owns the buffers its
// placeholders and result columns are bound to, so a repeated query only
// copies new values in and executes (preparing costs more than a small
// indexed SELECT itself on SQLite). Usually cached in the connection.
class PreparedQuery : public backend::Prepared {
 public:
  PreparedQuery(soci::session& sql, const Dialect& d, const Plan& plan, bool after,
                size_t batch)
      : slots_(d, *plan.def) {
    SqlBuilder b(d, *plan.def);
    const std::string text = QuerySql(d, plan, after, batch, &b);
    params_ = std::move(b.params());
    if (d.backend() == Backend::kSqlite) {
      // Straight on the sqlite3 handle, as the record reads: SOCI's into
      // and fetch layers per index row cost more than SQLite's step. The
      // placeholders are named (:p0, :p1 … in text order, each once), and
      // SQLite numbers named parameters by first appearance: :pK is K+1.
      native_ = std::make_unique<backend::SqliteStatement>(sql, text);
      return;
    }
    soci::details::prepare_temp_type prep = (sql.prepare << text);
    slots_.BindInto(prep);
    prep, soci::into(id_);
    for (Param& p : params_) {
      switch (p.type) {  // bound to our own buffer; Run copies values in
        case ColumnType::kInt: prep, soci::use(p.i); break;
        case ColumnType::kFloat: prep, soci::use(p.d); break;
        case ColumnType::kBool: prep, soci::use(p.b); break;
        case ColumnType::kString:
        case ColumnType::kBytes: prep, soci::use(p.s); break;
      }
    }
    st_ = std::make_unique<soci::statement>(prep);
  }

  // Runs with the values of `plan` and `after` (the shape it was made for).
  void Run(const Dialect& d, const Plan& plan, const std::optional<Hit>& after,
           std::vector<Hit>* out) {
    for (Param& p : params_) Load(d, plan, after, p);
    if (native_) {
      RunNative(out);
      return;
    }
    st_->execute(false);
    while (st_->fetch()) {
      Hit hit;
      hit.row = slots_.Get();
      if (!d.DecodeBytes(id_, &hit.id)) throw soci::soci_error("index id is not valid hex");
      out->push_back(std::move(hit));
    }
  }

 private:
  void RunNative(std::vector<Hit>* out) {
    backend::SqliteStatement& st = *native_;
    backend::SqliteStatement::Reader reader(st);  // bound values stay in params_ until then
    int i = 1;
    for (const Param& p : params_) {
      switch (p.type) {
        case ColumnType::kInt: st.BindInt(i, p.i); break;
        case ColumnType::kFloat: st.BindDouble(i, p.d); break;
        case ColumnType::kBool: st.BindInt(i, p.b); break;
        case ColumnType::kString:
        case ColumnType::kBytes: st.BindBytes(i, p.s); break;
      }
      ++i;
    }
    const int id_col = static_cast<int>(slots_.size());
    for (bool row = st.Execute(); row; row = st.Fetch()) {
      Hit& hit = out->emplace_back();
      hit.row = slots_.Get(st);
      hit.id.assign(st.Bytes(id_col));
    }
  }

  RowSlots slots_;
  std::deque<Param> params_;  // a deque: bound addresses stay put
  std::string id_;
  std::unique_ptr<soci::statement> st_;
  std::unique_ptr<backend::SqliteStatement> native_;  // SQLite: instead of st_
};

// Statements with more placeholders than this (long IN lists) are
// prepared per query rather than cached, so the cache stays small.
constexpr size_t kMaxCachedParams = 32;
constexpr size_t kMaxCachedStatements = 1000;

// Reads up to `batch` index rows of one database after `after`, in order.
Status ReadBatch(cluster::Cluster& cluster, const Plan& plan, ConnectionPool& pool,
                 const std::optional<Hit>& after, size_t batch, std::vector<Hit>* out) {
  return cluster.WithConnection(pool, "query", cluster::Cluster::Retry::kReadOnly,
                              [&](Connection& c) {
    out->clear();
    const Dialect& d = pool.dialect();
    if (ParamCount(plan, after.has_value()) > kMaxCachedParams) {
      PreparedQuery(c.sql(), d, plan, after.has_value(), batch).Run(d, plan, after, out);
      return Status::OK();  // used once
    }
    // A backstop for workloads with very many query shapes: start over
    // rather than let one connection hold thousands of statements.
    if (c.cached_count() > kMaxCachedStatements) c.ForgetStatements();
    PreparedQuery& q = c.Cached<PreparedQuery>(ShapeKey(plan, after.has_value(), batch), [&] {
      return std::make_unique<PreparedQuery>(c.sql(), d, plan, after.has_value(), batch);
    });
    q.Run(d, plan, after, out);
    return Status::OK();
  });
}

// The rows of one index database, read in batches and consumed in order.
struct Stream {
  size_t database = 0;  // position in IndexDef::databases
  ConnectionPool* pool = nullptr;
  std::deque<Hit> buffer;
  std::optional<Hit> after;  // where the next batch starts
  bool exhausted = false;
};

Status Fill(cluster::Cluster& cluster, const Plan& plan, Stream& s, size_t batch) {
  std::vector<Hit> rows;
  if (Status st = ReadBatch(cluster, plan, *s.pool, s.after, batch, &rows); !st.ok()) return st;
  // The merge and the cursor rely on SQL and C++ agreeing on the order.
  for (size_t i = 0; i < rows.size(); ++i) {
    const Hit* prev = i > 0 ? &rows[i - 1] : (s.after ? &*s.after : nullptr);
    if (prev != nullptr && CompareHits(plan, *prev, rows[i]) >= 0) {
      return Status::Internal("index " + plan.def->FullName() + " on database '" +
                              s.pool->name() + "' returned rows out of order");
    }
  }
  if (rows.size() < batch) s.exhausted = true;
  if (!rows.empty()) s.after = rows.back();
  for (Hit& h : rows) s.buffer.push_back(std::move(h));
  return Status::OK();
}

// Reads the next batch of every stream in `need`, databases in parallel.
Status FillAll(cluster::Cluster& cluster, const Plan& plan, const std::vector<Stream*>& need,
               size_t batch) {
  std::vector<Status> results(need.size());
  auto run = [&](size_t i) {
    try {
      results[i] = Fill(cluster, plan, *need[i], batch);
    } catch (const std::exception& e) {
      results[i] = Status::Internal(std::string("query: ") + e.what());
    }
  };
  if (need.size() == 1) {
    run(0);
  } else {
    std::vector<std::function<void()>> tasks;
    for (size_t i = 0; i < need.size(); ++i) tasks.push_back([&run, i] { run(i); });
    cluster.workers.RunAll(std::move(tasks));
  }
  Status first;
  for (Status& s : results) {
    if (s.ok()) continue;
    if (first.ok() || (s.IsUnavailable() && !first.IsUnavailable())) first = s;
  }
  return first;
}

// Keeps the candidates whose record exists, still produces that exact row,
// and satisfies the conditions; appends their records in candidate order.
Status Recheck(cluster::Cluster& cluster, const Plan& plan, const std::vector<Hit>& candidates,
               std::vector<Record>* out) {
  std::vector<Id> ids;
  std::unordered_set<std::string_view> seen;
  for (const Hit& h : candidates) {
    if (!CheckId(plan.entity, h.id).ok()) continue;  // cannot be a record: dangling
    if (seen.insert(h.id).second) ids.push_back(h.id);
  }
  Result<std::vector<Record>> records =
      records::GetMany(cluster, plan.entity, ids, records::ReadVia::kCache);
  if (!records.ok()) return records.status();
  std::unordered_map<std::string_view, Record*> by_id;
  for (Record& r : *records) by_id.emplace(r.id, &r);
  std::vector<Record*> kept;  // per surviving hit; moved out at the end
  for (const Hit& h : candidates) {
    auto it = by_id.find(h.id);
    if (it == by_id.end()) continue;  // record gone: dangling row
    // A code index whose map function this process lacks cannot check
    // anything (an error); a record whose rows fail produces none.
    Result<bool> produced = plan.def->Produces(it->second->doc, h.row);
    if (!produced.ok()) return produced.status();
    if (!*produced) continue;  // stale
    if (!Matches(plan, h.row)) continue;
    kept.push_back(it->second);
  }
  // A record kept for several hits is copied for all but its last.
  std::unordered_set<const Record*> later;
  std::vector<bool> last_use(kept.size(), false);
  for (size_t i = kept.size(); i-- > 0;) last_use[i] = later.insert(kept[i]).second;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (last_use[i]) {
      out->push_back(std::move(*kept[i]));
    } else {
      out->push_back(*kept[i]);
    }
  }
  return Status::OK();
}

std::string IndexNames(const IndexView& view, std::string_view entity) {
  std::string names;
  for (const LiveIndex& li : view.For(entity)) {
    if (li.state == IndexState::kDropping) continue;
    names += (names.empty() ? "" : ", ") + li.def->name;
  }
  return names.empty() ? "none" : names;
}

Result<Plan> MakePlan(cluster::Cluster& cluster, std::string_view entity, const Query& q,
                      const IndexView& view) {
  const std::string full = std::string(entity) + "." + q.index;
  const LiveIndex* li = view.Find(entity, q.index);
  if (li == nullptr) {
    const EntityConfig* e = cluster.config.FindEntity(entity);
    if (e != nullptr && e->FindIndex(q.index) != nullptr) {
      return Status::InvalidArgument("index " + full +
                                     " is declared in the config but not registered in the "
                                     "catalog yet: `shardctl index build " +
                                     std::string(entity) + " " + q.index +
                                     "` registers and builds it");
    }
    return Status::InvalidArgument("entity '" + std::string(entity) + "' has no index '" +
                                   q.index + "' (its indexes: " + IndexNames(view, entity) + ")");
  }
  if (!li->def->problem.ok()) return li->def->problem;
  switch (li->state) {
    case IndexState::kReady: break;
    case IndexState::kWriteOnly:
      return Status::InvalidArgument("index " + full +
                                     " is write_only: it answers queries once `shardctl index "
                                     "build " + std::string(entity) + " " + q.index +
                                     "` finishes");
    case IndexState::kDropping:
      return Status::InvalidArgument("index " + full +
                                     " is being dropped and no longer answers queries");
  }
  if (q.limit < 1 || q.limit > kMaxQueryLimit) {
    return Status::InvalidArgument("query on index " + full + ": limit must be 1.." +
                                   std::to_string(kMaxQueryLimit) + ", got " +
                                   std::to_string(q.limit));
  }
  Plan plan;
  plan.entity = std::string(entity);
  plan.def = li->def;
  plan.desc = q.descending;
  plan.order_by = q.order_by;
  plan.limit = static_cast<size_t>(q.limit);
  const IndexDef& def = *plan.def;

  auto column_list = [&] {
    std::string s;
    for (const IndexColumnConfig& c : def.columns) s += (s.empty() ? "" : ", ") + c.name;
    return s;
  };
  auto unknown_column = [&](const std::string& name, const char* where) {
    return Status::InvalidArgument("index " + full + " has no column '" + name + "' (" + where +
                                   "; its columns: " + column_list() + ")");
  };

  if (!q.order_by.empty()) {
    int k = def.ColumnIndex(q.order_by);
    if (k < 0) return unknown_column(q.order_by, "in order_by");
    plan.key.push_back(static_cast<size_t>(k));
    // Ordering by the first column is the index order: one cursor for both.
    if (k == 0) plan.order_by.clear();
  }
  for (size_t k = 0; k < def.columns.size(); ++k) {
    if (plan.key.empty() || plan.key.front() != k) plan.key.push_back(k);
  }

  for (const Condition& c : q.where) {
    int k = def.ColumnIndex(c.column);
    if (k < 0) return unknown_column(c.column, "in a condition");
    Cond cond;
    cond.column = static_cast<size_t>(k);
    cond.op = c.op;
    if (c.op == Op::kIn ? c.values.empty() : c.values.size() != 1) {
      return Status::InvalidArgument(
          "query on index " + full + ": condition on '" + c.column + "' with " + OpText(c.op) +
          (c.op == Op::kIn ? " needs at least one value" : " needs exactly one value") +
          ", got " + std::to_string(c.values.size()));
    }
    for (const Document& v : c.values) {
      Result<Document> n = def.Normalize(cond.column, v);
      if (!n.ok()) return n.status();
      cond.values.push_back(std::move(n).value());
    }
    if (cond.op == Op::kIn) {
      // Sorted and unique, so re-checking a hit is a binary search, not a
      // scan of the list (40,000 values × 40,000 hits took 10 s). Normalized
      // values of one column share a type and are never NaN: a total order.
      auto less = [](const Document& a, const Document& b) { return CompareValues(a, b) < 0; };
      std::sort(cond.values.begin(), cond.values.end(), less);
      cond.values.erase(std::unique(cond.values.begin(), cond.values.end(),
                                    [](const Document& a, const Document& b) {
                                      return CompareValues(a, b) == 0;
                                    }),
                        cond.values.end());
    }
    plan.conds.push_back(std::move(cond));
  }
  return plan;
}

}  // namespace

Result<QueryPage> RunQuery(cluster::Cluster& cluster, IndexRegistry& registry, std::string_view entity, const Query& q) {
  if (Status s = cluster.CheckEntity(entity); !s.ok()) return s;
  Result<std::shared_ptr<const IndexView>> view = registry.Current();
  if (!view.ok()) return view.status();
  Result<Plan> planned = MakePlan(cluster, entity, q, **view);
  if (!planned.ok()) return planned.status();
  const Plan& plan = *planned;
  const IndexDef& def = *plan.def;

  std::optional<Hit> start;
  if (!q.after.empty()) {
    Result<Hit> cursor = DecodeCursor(plan, q.after);
    if (!cursor.ok()) return cursor.status();
    start = std::move(cursor).value();
  }

  // Databases to read: for a sharded index, `=`/IN on the first column
  // names the databases its rows can be on.
  std::vector<size_t> databases;
  if (def.databases.size() > 1) {
    std::optional<std::set<size_t>> target;
    for (const Cond& c : plan.conds) {
      if (c.column != 0 || (c.op != Op::kEq && c.op != Op::kIn)) continue;
      std::set<size_t> these;
      for (const Document& v : c.values) these.insert(def.DatabaseFor(v));
      if (target) {
        std::set<size_t> both;
        std::set_intersection(target->begin(), target->end(), these.begin(), these.end(),
                              std::inserter(both, both.begin()));
        target = std::move(both);
      } else {
        target = std::move(these);
      }
    }
    if (target) {
      databases.assign(target->begin(), target->end());
    } else {
      for (size_t i = 0; i < def.databases.size(); ++i) databases.push_back(i);
    }
  } else if (!def.databases.empty()) {
    databases.push_back(0);
  }

  std::vector<Stream> streams;
  for (size_t db : databases) {
    auto it = cluster.pools.find(def.databases[db]);
    if (it == cluster.pools.end()) {
      return Status::InvalidConfig("index " + def.FullName() + " lives on database '" +
                                   def.databases[db] +
                                   "', which the config of this process does not declare");
    }
    Stream s;
    s.database = db;
    s.pool = it->second.get();
    s.after = start;
    streams.push_back(std::move(s));
  }

  // A power of two: the batch is part of the cached statement's text, so
  // arbitrary limits must not each prepare a statement of their own.
  const size_t batch = std::min(kMaxBatch, std::bit_ceil(2 * plan.limit));
  QueryPage page;
  std::optional<Hit> last;  // the last index row consumed
  while (true) {
    std::vector<Stream*> need;
    for (Stream& s : streams) {
      if (s.buffer.empty() && !s.exhausted) need.push_back(&s);
    }
    if (!need.empty()) {
      if (Status s = FillAll(cluster, plan, need, batch); !s.ok()) return s;
    }
    if (page.records.size() >= plan.limit) break;

    // Merge: take rows in key order while every live stream has one ready.
    std::vector<Hit> candidates;
    const size_t want = plan.limit - page.records.size();
    while (candidates.size() < want) {
      Stream* best = nullptr;
      bool blocked = false;
      for (Stream& s : streams) {
        if (s.buffer.empty()) {
          if (!s.exhausted) blocked = true;
          continue;
        }
        if (best == nullptr || CompareHits(plan, s.buffer.front(), best->buffer.front()) < 0) {
          best = &s;
        }
      }
      if (blocked || best == nullptr) break;
      candidates.push_back(std::move(best->buffer.front()));
      best->buffer.pop_front();
    }
    if (candidates.empty()) break;  // every stream is exhausted
    last = candidates.back();
    if (Status s = Recheck(cluster, plan, candidates, &page.records); !s.ok()) return s;
  }

  bool more = std::any_of(streams.begin(), streams.end(),
                          [](const Stream& s) { return !s.buffer.empty() || !s.exhausted; });
  if (more && last) page.next = EncodeCursor(plan, *last);
  return page;
}

}  // namespace libshard::indexer
