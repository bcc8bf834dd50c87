#include "records/pg_put_many.h"

#include <cstdlib>

#include "records/pg_array.h"
#include "records/record_table.h"

namespace libshard::records {

PgPutManyStatement::PgPutManyStatement(soci::session& sql, std::string_view entity,
                                       const std::string& cluster_id, bool conditional)
    : conditional_(conditional), cluster_id_(cluster_id), st_(sql) {
  const std::string table = TableName(entity);
  // Each parameter appears once in the text (bound by name, unambiguously).
  //
  // What is known before writing declines without an error: nothing passes
  // into `input`, nothing is written, and the answer is NULL. SOCI 4.0.3
  // leaks a failed execution's parameter buffers (tests/lsan.supp), and a
  // version conflict is an ordinary outcome; only what shows up while
  // writing (a race with another writer's insert, the lease running out, a
  // deadlock, a move's lock) fails the statement.
  //
  // The fence: every bucket's row there, owned, and now share-locked
  // (NOWAIT: a move holding one exclusively fails the statement at once,
  // as the general path's fence does).
  std::string checks = "(SELECT count(*) = CAST(:nb AS bigint) AND bool_and(state = 1) FROM own)";
  std::string check_ctes;
  if (conditional) {
    // if_version v > 0: the row is there at version v, and locked (FOR
    // UPDATE re-reads a row another writer changed), so the UPDATE below
    // cannot miss it. if_version 0: no row yet (an insert racing this one
    // is caught by the count at the end).
    check_ctes =
        "), held AS ("
        " SELECT t.id FROM " + table + " AS t JOIN items ON t.id = items.id"
        " WHERE items.expect > 0 AND t.version = items.expect ORDER BY t.id FOR UPDATE OF t"
        "), taken AS ("
        " SELECT 1 FROM " + table + " AS t JOIN items ON t.id = items.id WHERE items.expect = 0"
        " LIMIT 1";
    checks += " AND (SELECT count(*) FROM held) = (SELECT count(*) FROM items WHERE expect > 0)"
              " AND NOT EXISTS (SELECT 1 FROM taken)";
  }
  // Items with an if_version. A batch without any uses the statement
  // without these (server time per 250-row batch: 1.77 ms instead of 2.09;
  // the hand-written upsert without a fence: 1.15).
  const std::string conditional_ctes =
      "), create_new AS ("
      " INSERT INTO " + table + " (id, bucket, version, updated, body)"
      " SELECT id, bucket, 1, now, body FROM input WHERE expect = 0 ORDER BY k"
      " ON CONFLICT (id) DO NOTHING RETURNING id, version"
      "), cas AS ("
      " UPDATE " + table + " AS t SET version = t.version + 1,"
      " updated = GREATEST(input.now, t.updated), body = input.body FROM input"
      " WHERE t.id = input.id AND input.expect > 0 AND t.version = input.expect"
      " RETURNING t.id, t.version";
  const std::string text =
      "WITH own AS ("
      " SELECT state FROM ls_owner WHERE cluster_id = :c"
      " AND bucket = ANY(CAST(:bs AS integer[])) ORDER BY bucket FOR SHARE NOWAIT"
      "), items AS ("
      " SELECT decode(x.i, 'hex') AS id, x.b AS bucket, decode(x.d, 'hex') AS body,"
      " x.e AS expect, x.k, CAST(:now AS bigint) AS now"
      " FROM unnest(CAST(:i AS text[]), CAST(:b AS integer[]), CAST(:d AS text[]),"
      " CAST(:e AS bigint[])) WITH ORDINALITY AS x(i, b, d, e, k)" +
      check_ctes +
      "), input AS ("
      " SELECT * FROM items WHERE " + checks +
      "), put AS ("
      " INSERT INTO " + table + " AS t (id, bucket, version, updated, body)"
      " SELECT id, bucket, 1, now, body FROM input WHERE expect IS NULL ORDER BY k"
      " ON CONFLICT (id) DO UPDATE SET version = t.version + 1,"
      " updated = GREATEST(EXCLUDED.updated, t.updated), body = EXCLUDED.body"
      " RETURNING t.id, t.version" +
      (conditional ? conditional_ctes : std::string()) +
      "), res AS ("
      " SELECT id, version FROM put" +
      (conditional ? " UNION ALL SELECT id, version FROM create_new"
                     " UNION ALL SELECT id, version FROM cas"
                   : "") +
      // The versions in item order as one text ("1,2,1"): one row to
      // fetch and parse instead of a row per item (callgrind: SOCI's
      // per-row fetch was ~840 instructions an item). NULL: declined
      // before writing.
      ") SELECT string_agg(CAST(res.version AS text), ',' ORDER BY input.k)"
      " FROM res JOIN input USING (id)"
      " WHERE (SELECT CASE WHEN count(*) = 0 OR (count(*) = CAST(:n AS bigint) AND"
      " clock_timestamp() < statement_timestamp() + CAST(:ms AS double precision) *"
      " interval '1 millisecond') THEN true"
      " ELSE CAST('libshard batch declined, rows written ' || count(*) AS integer) = 0"
      " END FROM res)";
  st_ = (sql.prepare << text, soci::into(versions_text_, versions_null_),
         soci::use(cluster_id_, "c"), soci::use(buckets_, "bs"), soci::use(bucket_count_, "nb"),
         soci::use(ids_, "i"), soci::use(item_buckets_, "b"), soci::use(bodies_, "d"),
         soci::use(expects_, "e"), soci::use(now_, "now"), soci::use(item_count_, "n"),
         soci::use(deadline_ms_, "ms"));
}

PgPutManyStatement::Outcome PgPutManyStatement::Run(const std::vector<Item>& items,
                                                    const std::vector<uint32_t>& buckets,
                                                    int64_t now_us, int64_t deadline_ms,
                                                    std::vector<uint64_t>* versions) {
  using namespace pg_array;
  size_t id_bytes = 0, body_bytes = 0;
  for (const Item& it : items) {
    id_bytes += it.id.size();
    body_bytes += it.body.size();
  }
  const size_t n = items.size();
  Open(&buckets_, 2 + 6 * buckets.size());
  for (uint32_t b : buckets) AddInt(&buckets_, b);
  Close(&buckets_);
  Open(&ids_, 2 + 2 * id_bytes + 3 * n);
  Open(&bodies_, 2 + 2 * body_bytes + 3 * n);
  Open(&item_buckets_, 2 + 6 * n);
  Open(&expects_, conditional_ ? 2 + 5 * n : 2);
  for (const Item& it : items) {
    AddHex(&ids_, it.id);
    AddInt(&item_buckets_, it.bucket);
    AddHex(&bodies_, it.body);
    if (!conditional_) continue;  // "{}": unnest pads it with NULLs
    if (it.expect) {
      AddInt(&expects_, static_cast<long long>(*it.expect));
    } else {
      AddNull(&expects_);
    }
  }
  for (std::string* a : {&ids_, &bodies_, &item_buckets_, &expects_}) Close(a);
  bucket_count_ = static_cast<long long>(buckets.size());
  item_count_ = static_cast<long long>(n);
  now_ = now_us;
  deadline_ms_ = deadline_ms;
  versions->assign(n, 0);
  st_.execute(true);
  std::string().swap(bodies_);  // may be large (up to the statement budget)
  if (versions_null_ == soci::i_null) return Outcome::kDeclined;  // nothing written
  // The statement's own check makes this one version per item. Anything
  // else (a bug) is reported, never guessed — and not as a soci_error: the
  // statement has committed, and the caller must not run the batch again.
  const char* p = versions_text_.c_str();
  for (size_t i = 0; i < n; ++i) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(p, &end, 10);
    if (end == p || v == 0 || (*end != ',' && i + 1 < n)) return Outcome::kMalformed;
    (*versions)[i] = v;
    p = *end == ',' ? end + 1 : end;
  }
  return Outcome::kWritten;
}

}  // namespace libshard::records
