// shardctl's `--where EXPR` parser on arbitrary text, with and without a
// typed index definition. Properties: no crash or undefined behaviour; a
// parsed condition names a column and holds values of the column's type.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "libshard/config.h"
#include "where_parser.h"

using libshard::ColumnType;
using libshard::Document;

namespace {

const libshard::IndexConfig& TypedIndex() {
  static const libshard::IndexConfig index = [] {
    libshard::IndexConfig i;
    i.name = "by_all";
    i.columns = {{"n", ColumnType::kInt, "n", false, {}},
                 {"f", ColumnType::kFloat, "f", false, {}},
                 {"s", ColumnType::kString, "s", true, {}},
                 {"b", ColumnType::kBool, "b", false, {}},
                 {"raw", ColumnType::kBytes, "raw", false, {}}};
    return i;
  }();
  return index;
}

bool Fits(ColumnType type, const Document& v) {
  switch (type) {
    case ColumnType::kInt: return v.type() == Document::Type::kInt;
    case ColumnType::kFloat: return v.type() == Document::Type::kDouble;
    case ColumnType::kBool: return v.is_bool();
    case ColumnType::kString:
    case ColumnType::kBytes: return v.is_string();
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string expr(reinterpret_cast<const char*>(data), size);

  libshard::Result<libshard::Condition> untyped = shardctl::ParseWhere(expr, nullptr);
  if (untyped.ok()) {
    FUZZ_CHECK(!untyped->column.empty());
    FUZZ_CHECK(!untyped->values.empty());
  }

  const libshard::IndexConfig& index = TypedIndex();
  libshard::Result<libshard::Condition> typed = shardctl::ParseWhere(expr, &index);
  FUZZ_CHECK(typed.ok() <= untyped.ok());  // a definition only adds checks
  if (typed.ok()) {
    const libshard::IndexColumnConfig* column = nullptr;
    for (const auto& c : index.columns) {
      if (c.name == typed->column) column = &c;
    }
    FUZZ_CHECK(column != nullptr);
    FUZZ_CHECK(!typed->values.empty());
    FUZZ_CHECK(typed->op == untyped->op);
    for (const Document& v : typed->values) FUZZ_CHECK(Fits(column->type, v));
  }
  return 0;
}
