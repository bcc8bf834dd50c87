// `--where EXPR` parsing: see where_parser.h.
#include "where_parser.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "libshard/document.h"

namespace shardctl {
namespace {

using libshard::Document;
using libshard::Result;
using libshard::Status;

// A command-line value as a Document of the column's type.
Result<Document> ParseValue(const std::string& text, const libshard::IndexColumnConfig* column,
                            const std::string& expr) {
  if (column == nullptr) {
    Result<Document> json = Document::FromJson(text);
    if (json.ok() && (json->is_number() || json->is_bool())) return std::move(json).value();
    return Document(text);
  }
  auto bad = [&](const char* what) {
    return Status::InvalidArgument("--where '" + expr + "': value '" + text + "' for column '" +
                                   column->name + "' is not " + what);
  };
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  switch (column->type) {
    case libshard::ColumnType::kInt: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(begin, end, v);
      if (text.empty() || ec != std::errc() || ptr != end) return bad("an integer");
      return Document(v);
    }
    case libshard::ColumnType::kFloat: {
      double v = 0;
      auto [ptr, ec] = std::from_chars(begin, end, v);
      if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v)) {
        return bad("a number");
      }
      return Document(v);
    }
    case libshard::ColumnType::kBool:
      if (text == "true" || text == "1") return Document(true);
      if (text == "false" || text == "0") return Document(false);
      return bad("a boolean (true, false, 1 or 0)");
    case libshard::ColumnType::kString:
    case libshard::ColumnType::kBytes:
      return Document(text);
  }
  return Document(text);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

Result<libshard::Condition> ParseWhere(const std::string& expr,
                                       const libshard::IndexConfig* index) {
  size_t n = 0;
  while (n < expr.size() && IsNameChar(expr[n])) ++n;
  const std::string column = expr.substr(0, n);
  std::string_view rest = std::string_view(expr).substr(n);
  libshard::Condition cond;
  cond.column = column;
  size_t op_len = 0;
  if (rest.rfind("!=", 0) == 0) {
    cond.op = libshard::Op::kNe, op_len = 2;
  } else if (rest.rfind("<=", 0) == 0) {
    cond.op = libshard::Op::kLe, op_len = 2;
  } else if (rest.rfind(">=", 0) == 0) {
    cond.op = libshard::Op::kGe, op_len = 2;
  } else if (rest.rfind('=', 0) == 0) {
    cond.op = libshard::Op::kEq, op_len = 1;
  } else if (rest.rfind('<', 0) == 0) {
    cond.op = libshard::Op::kLt, op_len = 1;
  } else if (rest.rfind('>', 0) == 0) {
    cond.op = libshard::Op::kGt, op_len = 1;
  }
  if (column.empty() || op_len == 0) {
    return Status::InvalidArgument("--where '" + expr + "': expected " + kWhereForms);
  }
  const std::string value(rest.substr(op_len));

  const libshard::IndexColumnConfig* config_column = nullptr;
  if (index != nullptr) {
    for (const libshard::IndexColumnConfig& c : index->columns) {
      if (c.name == column) config_column = &c;
    }
    if (config_column == nullptr) {
      std::string names;
      for (const libshard::IndexColumnConfig& c : index->columns) {
        names += (names.empty() ? "" : ", ") + c.name;
      }
      return Status::InvalidArgument("--where '" + expr + "': index '" + index->name +
                                     "' has no column '" + column + "' (its columns: " + names +
                                     ")");
    }
  }

  // COL=V1|V2|… is IN; a '|' after any other operator is part of the value.
  std::vector<std::string> texts;
  if (cond.op == libshard::Op::kEq && value.find('|') != std::string::npos) {
    cond.op = libshard::Op::kIn;
    size_t start = 0;
    while (true) {
      size_t bar = value.find('|', start);
      texts.push_back(value.substr(start, bar - start));  // npos - start: to the end
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
  } else {
    texts.push_back(value);
  }
  for (const std::string& text : texts) {
    Result<Document> v = ParseValue(text, config_column, expr);
    if (!v.ok()) return v.status();
    cond.values.push_back(std::move(v).value());
  }
  return cond;
}

}  // namespace shardctl
