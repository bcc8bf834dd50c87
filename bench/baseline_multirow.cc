// The hand-written multi-row batched put (baseline_multirow.h).
#include "bench/baseline_multirow.h"

#include <algorithm>
#include <exception>
#include <thread>

#include "bench/bench.h"

namespace bench {
namespace {

// Appends the lowercase hex of `bytes` (PostgreSQL decode(…, 'hex') input).
void AppendHex(std::string_view bytes, std::string* out) {
  static const char kDigits[] = "0123456789abcdef";
  const size_t at = out->size();
  out->resize(at + 2 * bytes.size());
  char* p = out->data() + at;
  for (unsigned char c : bytes) {
    *p++ = kDigits[c >> 4];
    *p++ = kDigits[c & 15];
  }
}

// "<prefix><i>" (not prefix + to_string: GCC 12 -Wrestrict false positive).
std::string Name(const char* prefix, size_t i) {
  std::string n = prefix;
  n += std::to_string(i);
  return n;
}

}  // namespace

// MariaDB: one prepared multi-row INSERT per row count (SOCI's MySQL
// backend substitutes the escaped values client-side on each execute).
struct MariadbInsert {
  std::vector<std::string> ids, bodies;
  std::vector<int> buckets;
  std::vector<long long> updated;
  long long version = 0;
  soci::statement st;
  explicit MariadbInsert(soci::session& sql) : st(sql) {}
};

struct BaselineMultirow::Shard {
  BDb& db;
  explicit Shard(BDb& d) : db(d), pg(d.sql()) {}
  // PostgreSQL: one statement whatever the row count; the arrays are bound
  // as text literals "{hex,hex,…}" / "{1,2,…}".
  std::string id_array, bucket_array, body_array;
  long long now = 0, version = 0;
  soci::statement pg;
  std::map<size_t, std::unique_ptr<MariadbInsert>> mariadb;  // by row count
};

BaselineMultirow::BaselineMultirow(Baseline& b, const std::string& entity)
    : b_(b), table_("ls_rec_" + entity) {
  for (size_t i = 0; i < b.shard_count(); ++i) {
    auto s = std::make_unique<Shard>(b.shard(i));
    if (s->db.pg()) {
      s->pg = (s->db.sql().prepare
                   << "INSERT INTO " + table_ +
                          " AS r (id, bucket, version, updated, body)"
                          " SELECT decode(x.id, 'hex'), x.bucket, 1, :now, decode(x.body, 'hex')"
                          " FROM unnest(CAST(:ids AS text[]), CAST(:buckets AS int[]),"
                          " CAST(:bodies AS text[])) AS x(id, bucket, body)"
                          " ON CONFLICT (id) DO UPDATE SET version = r.version + 1,"
                          " updated = GREATEST(r.updated, EXCLUDED.updated),"
                          " body = EXCLUDED.body RETURNING version",
               soci::into(s->version), soci::use(s->now, "now"), soci::use(s->id_array, "ids"),
               soci::use(s->bucket_array, "buckets"), soci::use(s->body_array, "bodies"));
    } else if (s->db.dialect().backend() != libshard::Backend::kMysql) {
      throw Skip("the multi-row baseline is for PostgreSQL and MariaDB");
    }
    shards_.push_back(std::move(s));
  }
}

BaselineMultirow::~BaselineMultirow() = default;

void BaselineMultirow::PutBatch(const std::vector<std::string>& ids,
                                const std::vector<const libshard::Document*>& docs,
                                std::vector<uint64_t>* versions, bool parallel) {
  std::vector<std::string> bodies(ids.size());
  std::vector<std::vector<size_t>> per_shard(shards_.size());
  std::vector<uint32_t> buckets(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    bodies[i] = docs[i]->ToMsgpack();
    libshard::router::Route r = b_.Route(ids[i]);
    buckets[i] = r.bucket;
    per_shard[r.shard].push_back(i);
  }
  versions->assign(ids.size(), 0);
  const int64_t now = NowMicros();
  auto run_shard = [&](size_t shard) {
    std::vector<size_t>& items = per_shard[shard];
    if (items.empty()) return;
    // Id order: every writer locks the rows in the same order.
    std::sort(items.begin(), items.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
    Shard& s = *shards_[shard];
    if (s.db.pg()) {
      RunPostgres(s, items, ids, bodies, buckets, now, versions);
    } else {
      RunMariadb(s, items, ids, bodies, buckets, now, versions);
    }
  };
  if (!parallel) {
    for (size_t shard = 0; shard < shards_.size(); ++shard) run_shard(shard);
    return;
  }
  // Each thread uses only its shard's connection and writes only its
  // items' slots of `versions`.
  std::vector<std::exception_ptr> errors(shards_.size());
  std::vector<std::thread> threads;
  for (size_t shard = 0; shard < shards_.size(); ++shard) {
    threads.emplace_back([&, shard] {
      try {
        run_shard(shard);
      } catch (...) {
        errors[shard] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

void BaselineMultirow::RunPostgres(Shard& s, const std::vector<size_t>& items,
                                   const std::vector<std::string>& ids,
                                   const std::vector<std::string>& bodies,
                                   const std::vector<uint32_t>& buckets, int64_t now,
                                   std::vector<uint64_t>* versions) {
  for (std::string* a : {&s.id_array, &s.bucket_array, &s.body_array}) a->assign(1, '{');
  for (size_t k = 0; k < items.size(); ++k) {
    if (k) {
      s.id_array += ',';
      s.bucket_array += ',';
      s.body_array += ',';
    }
    AppendHex(ids[items[k]], &s.id_array);
    s.bucket_array += std::to_string(buckets[items[k]]);
    AppendHex(bodies[items[k]], &s.body_array);
  }
  s.id_array += '}';
  s.bucket_array += '}';
  s.body_array += '}';
  s.now = now;
  size_t k = 0;
  if (s.pg.execute(true)) {
    do {
      if (k < items.size()) (*versions)[items[k]] = static_cast<uint64_t>(s.version);
      ++k;
    } while (s.pg.fetch());
  }
  if (k != items.size()) throw BenchError("multi-row baseline: wrong RETURNING row count");
}

void BaselineMultirow::RunMariadb(Shard& s, const std::vector<size_t>& items,
                                  const std::vector<std::string>& ids,
                                  const std::vector<std::string>& bodies,
                                  const std::vector<uint32_t>& buckets, int64_t now,
                                  std::vector<uint64_t>* versions) {
  const size_t n = items.size();
  auto it = s.mariadb.find(n);
  if (it == s.mariadb.end()) {
    auto m = std::make_unique<MariadbInsert>(s.db.sql());
    m->ids.resize(n);
    m->bodies.resize(n);
    m->buckets.resize(n);
    m->updated.resize(n);
    std::string values;
    for (size_t i = 0; i < n; ++i) {
      if (i) values += ", ";
      // Piece by piece: "…" + std::string chains trip GCC 12's -Wrestrict.
      values += "(:";
      values += Name("i", i);
      values += ", :";
      values += Name("b", i);
      values += ", 1, :";
      values += Name("u", i);
      values += ", :";
      values += Name("d", i);
      values += ')';
    }
    soci::details::prepare_temp_type prep =
        (s.db.sql().prepare << "INSERT INTO " + table_ +
                                   " (id, bucket, version, updated, body) VALUES " + values +
                                   " ON DUPLICATE KEY UPDATE version = version + 1,"
                                   " updated = GREATEST(updated, VALUES(updated)),"
                                   " body = VALUES(body) RETURNING version");
    prep, soci::into(m->version);
    for (size_t i = 0; i < n; ++i) {
      prep, soci::use(m->ids[i]), soci::use(m->buckets[i]), soci::use(m->updated[i]),
          soci::use(m->bodies[i]);
    }
    m->st = prep;
    it = s.mariadb.emplace(n, std::move(m)).first;
  }
  MariadbInsert& m = *it->second;
  for (size_t k = 0; k < n; ++k) {
    m.ids[k] = ids[items[k]];
    m.buckets[k] = static_cast<int>(buckets[items[k]]);
    m.updated[k] = now;
    m.bodies[k] = bodies[items[k]];
  }
  size_t k = 0;
  if (m.st.execute(true)) {
    do {
      if (k < n) (*versions)[items[k]] = static_cast<uint64_t>(m.version);
      ++k;
    } while (m.st.fetch());
  }
  if (k != n) throw BenchError("multi-row baseline: wrong RETURNING row count");
}

}  // namespace bench
