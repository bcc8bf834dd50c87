// IndexDef: one secondary index as every process sees it — loaded from the
// catalog (so a process whose own config does not name an index still
// maintains it), with the C++ map function attached for code indexes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "libshard/config.h"
#include "libshard/document.h"
#include "libshard/status.h"

namespace libshard::indexer {

// Most rows one record may produce for one index (arrays × columns).
inline constexpr size_t kMaxRowsPerRecord = 1000;
// Longest string/bytes value an index column holds (MariaDB key limits).
inline constexpr size_t kMaxValueBytes = 255;

struct IndexDef {
  std::string entity;
  std::string name;
  bool unique = false;
  std::vector<IndexColumnConfig> columns;
  std::vector<std::string> databases;
  bool code = false;        // rows come from a C++ map function
  IndexMapFunction map;     // set when code (attached by the process)
  // Why this process cannot use the index (OK when it can): a catalog
  // definition this version cannot read, or one that lives on a database
  // this process's config does not name. Rows() returns it, so writes to
  // the entity fail loudly instead of silently missing index rows, while
  // every other entity keeps working.
  Status problem;
  // Table name plus a hash of the definition: names cached prepared
  // statements. Set by FromConfig/FromJson.
  std::string cache_key;

  std::string Table() const { return "ls_idx_" + entity + "_" + name; }
  std::string FullName() const { return entity + "." + name; }

  // The rows of `doc`: values converted to the column types (a value that
  // does not convert, or a missing field, gives no row), sorted and
  // deduplicated. InvalidArgument when a value is too long for an index or
  // the document yields more than kMaxRowsPerRecord rows.
  Status Rows(const Document& doc, std::vector<IndexRow>* rows) const;

  // Does `doc` produce `row`? The same answer as finding `row` in Rows(doc),
  // where a failing Rows produces nothing — except kInvalidConfig (a code
  // index without its map function, an unusable definition), returned as
  // the error. The query re-check of every hit: when each field of a field
  // index holds one value (no array fan-out) it converts and compares those
  // values instead of building, sorting and searching the rows (~10×
  // fewer instructions per hit); anything else goes through Rows.
  Result<bool> Produces(const Document& doc, const IndexRow& row) const;

  // Index database (position in `databases`) holding rows that start with
  // `first`: XXH3 of its canonical encoding, modulo the database count.
  size_t DatabaseFor(const Document& first) const;

  // Converts a query value to the column's type (lower-casing for `lower`
  // columns). InvalidArgument when it cannot be converted.
  Result<Document> Normalize(size_t column, const Document& value) const;

  int ColumnIndex(std::string_view column) const;  // -1 when absent

  // Catalog form (JSON without the map function) and back.
  std::string ToJson() const;
  static Result<IndexDef> FromJson(std::string_view entity, std::string_view name,
                                   std::string_view json);
  // Same definition (ignoring source marks and the map function)?
  bool SameShape(const IndexDef& other) const;
};

IndexDef FromConfig(const EntityConfig& entity, const IndexConfig& index);

// InvalidConfig unless every database of `def` is named in `config`.
Status CheckDatabasesKnown(const IndexDef& def, const ClusterConfig& config);

// Three-way comparison of two normalized values of one column type, in the
// order the index tables keep: numbers numerically, false < true, strings
// and bytes bytewise (std::string compares as unsigned bytes, like memcmp).
int CompareValues(const Document& a, const Document& b);

// Canonical, injective bytes of a row (plus id) for sets and hashing.
std::string EncodeRow(const IndexRow& row);
std::string EncodeHit(const IndexRow& row, std::string_view id);

}  // namespace libshard::indexer
