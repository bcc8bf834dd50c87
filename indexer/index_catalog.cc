#include "indexer/index_catalog.h"

#include "libshard/id.h"

namespace libshard {

const char* IndexStateName(IndexState s) {
  switch (s) {
    case IndexState::kWriteOnly: return "write_only";
    case IndexState::kReady: return "ready";
    case IndexState::kDropping: return "dropping";
  }
  return "unknown";
}

}  // namespace libshard

namespace libshard::indexer {

const char* StateText(IndexState s) { return IndexStateName(s); }

IndexState ParseIndexState(std::string_view s) {
  if (s == "ready") return IndexState::kReady;
  if (s == "dropping") return IndexState::kDropping;
  return IndexState::kWriteOnly;
}

void CreateCatalogTables(soci::session& sql, const backend::Dialect& d) {
  sql << "CREATE TABLE IF NOT EXISTS ls_indexes (entity VARCHAR(64) NOT NULL, "
         "name VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL, definition " +
             std::string(d.LongTextType()) + " NOT NULL, PRIMARY KEY (entity, name))" +
             d.TableOptions();
  sql << "CREATE TABLE IF NOT EXISTS ls_backfill (entity VARCHAR(64) NOT NULL, "
         "name VARCHAR(64) NOT NULL, shard VARCHAR(64) NOT NULL, after_hex VARCHAR(600) NOT NULL, "
         "done INTEGER NOT NULL, scanned BIGINT NOT NULL, PRIMARY KEY (entity, name, shard))" +
             std::string(d.TableOptions());
}

std::vector<CatalogIndexRow> LoadIndexRows(soci::session& sql) {
  std::vector<CatalogIndexRow> out;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT entity, name, state, definition FROM ls_indexes ORDER BY entity, name");
  for (const soci::row& r : rows) {
    out.push_back({r.get<std::string>(0), r.get<std::string>(1), r.get<std::string>(3),
                   ParseIndexState(r.get<std::string>(2))});
  }
  return out;
}

IndexDef ParseIndexRow(const CatalogIndexRow& row) {
  Result<IndexDef> def = IndexDef::FromJson(row.entity, row.name, row.definition);
  if (def.ok()) return std::move(def).value();
  IndexDef unreadable;
  unreadable.entity = row.entity;
  unreadable.name = row.name;
  unreadable.problem = def.status();
  return unreadable;
}

std::vector<CatalogIndex> LoadIndexes(soci::session& sql) {
  std::vector<CatalogIndex> out;
  for (const CatalogIndexRow& row : LoadIndexRows(sql)) out.push_back({ParseIndexRow(row), row.state});
  return out;
}

bool RegisterIndex(soci::session& sql, const IndexDef& def, IndexState state) {
  int n = 0;
  sql << "SELECT COUNT(*) FROM ls_indexes WHERE entity = :e AND name = :n", soci::into(n),
      soci::use(def.entity), soci::use(def.name);
  if (n > 0) return false;
  std::string state_text = StateText(state), json = def.ToJson();
  sql << "INSERT INTO ls_indexes (entity, name, state, definition) VALUES (:e, :n, :s, :d)",
      soci::use(def.entity), soci::use(def.name), soci::use(state_text), soci::use(json);
  return true;
}

void SetIndexState(soci::session& sql, std::string_view entity, std::string_view name,
                   IndexState state) {
  std::string e(entity), n(name), s = StateText(state);
  sql << "UPDATE ls_indexes SET state = :s WHERE entity = :e AND name = :n", soci::use(s),
      soci::use(e), soci::use(n);
}

void RemoveIndex(soci::session& sql, std::string_view entity, std::string_view name) {
  std::string e(entity), n(name);
  sql << "DELETE FROM ls_backfill WHERE entity = :e AND name = :n", soci::use(e), soci::use(n);
  sql << "DELETE FROM ls_indexes WHERE entity = :e AND name = :n", soci::use(e), soci::use(n);
}

std::map<std::string, Checkpoint> LoadCheckpoints(soci::session& sql, std::string_view entity,
                                                  std::string_view name) {
  std::string e(entity), n(name);
  std::map<std::string, Checkpoint> out;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT shard, after_hex, done, scanned FROM ls_backfill "
                      "WHERE entity = :e AND name = :n",
       soci::use(e), soci::use(n));
  for (const soci::row& r : rows) {
    Checkpoint cp;
    Result<std::string> after = ids::FromHex(r.get<std::string>(1));
    if (after.ok()) cp.after = std::move(after).value();
    cp.done = r.get<int>(2) != 0;
    cp.scanned = static_cast<uint64_t>(r.get<long long>(3));
    out[r.get<std::string>(0)] = cp;
  }
  return out;
}

void SaveCheckpoint(soci::session& sql, std::string_view entity, std::string_view name,
                    std::string_view shard, const Checkpoint& cp) {
  std::string e(entity), n(name), s(shard), after = ids::ToHex(cp.after);
  int done = cp.done ? 1 : 0;
  long long scanned = static_cast<long long>(cp.scanned);
  // Count, then update or insert: portable (MariaDB reports 0 affected rows
  // for an UPDATE that changes nothing, so "update, else insert" misfires).
  int exists = 0;
  sql << "SELECT COUNT(*) FROM ls_backfill WHERE entity = :e AND name = :n AND shard = :s",
      soci::into(exists), soci::use(e), soci::use(n), soci::use(s);
  if (exists) {
    sql << "UPDATE ls_backfill SET after_hex = :a, done = :d, scanned = :c "
           "WHERE entity = :e AND name = :n AND shard = :s",
        soci::use(after), soci::use(done), soci::use(scanned), soci::use(e), soci::use(n),
        soci::use(s);
  } else {
    sql << "INSERT INTO ls_backfill (entity, name, shard, after_hex, done, scanned) "
           "VALUES (:e, :n, :s, :a, :d, :c)",
        soci::use(e), soci::use(n), soci::use(s), soci::use(after), soci::use(done),
        soci::use(scanned);
  }
}

}  // namespace libshard::indexer
