// Index metadata in the catalog database:
//   ls_indexes(entity, name, state, definition)   definition = IndexDef JSON
//   ls_backfill(entity, name, shard, after_hex, done, scanned)  checkpoints
// All functions throw soci::soci_error; callers translate.
#pragma once

#include <soci/soci.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backend/dialect.h"
#include "indexer/index_def.h"
#include "libshard/index.h"

namespace libshard::indexer {

struct CatalogIndex {
  IndexDef def;
  IndexState state = IndexState::kWriteOnly;
};

struct Checkpoint {
  std::string after;  // last record id backfilled (raw bytes)
  bool done = false;
  uint64_t scanned = 0;
};

void CreateCatalogTables(soci::session& sql, const backend::Dialect& d);
// Every registered index; a definition this version cannot read comes back
// with only its entity and name set and def.problem saying why.
std::vector<CatalogIndex> LoadIndexes(soci::session& sql);
// The same rows unparsed (the definition's JSON text as stored), for a
// reader that re-reads the catalog often and parses only what changed.
struct CatalogIndexRow {
  std::string entity, name, definition;
  IndexState state = IndexState::kWriteOnly;
};
std::vector<CatalogIndexRow> LoadIndexRows(soci::session& sql);
// Parses one row; an unreadable definition comes back with only its entity
// and name set and def.problem saying why.
IndexDef ParseIndexRow(const CatalogIndexRow& row);
// Inserts the index in `state` unless the catalog has it. True if inserted.
bool RegisterIndex(soci::session& sql, const IndexDef& def, IndexState state);
void SetIndexState(soci::session& sql, std::string_view entity, std::string_view name,
                   IndexState state);
// Removes the index and its checkpoints.
void RemoveIndex(soci::session& sql, std::string_view entity, std::string_view name);

std::map<std::string, Checkpoint> LoadCheckpoints(soci::session& sql, std::string_view entity,
                                                  std::string_view name);
void SaveCheckpoint(soci::session& sql, std::string_view entity, std::string_view name,
                    std::string_view shard, const Checkpoint& cp);

IndexState ParseIndexState(std::string_view s);

}  // namespace libshard::indexer
