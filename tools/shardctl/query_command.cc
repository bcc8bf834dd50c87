// query: records found through a secondary index.
//
//   shardctl query ENTITY INDEX [--where EXPR]… [--order [-]COL]
//                               [--limit N] [--after CURSOR]
//
// Prints one {"id","doc"} line per hit in index order, then, when more rows
// remain, {"next":"CURSOR"} (pass it to --after for the next page).

#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/store.h"
#include "output.h"

namespace shardctl {
namespace {

using libshard::Document;
using libshard::Status;

constexpr const char* kExprForms =
    "COL=V, COL!=V, COL<V, COL<=V, COL>V, COL>=V or COL=V1|V2|...";

struct QueryArgs {
  std::string entity;
  std::string index;
  std::vector<std::string> where;
  std::string order;
  std::string limit = "100";
  std::string after;
};

CommandError InvalidInput(const std::string& message) {
  return CommandError(Status::InvalidArgument(message));
}

// A command-line value as a Document of the column's type. Without a
// column definition (an index this config does not declare), JSON numbers
// and true/false become numbers and booleans, anything else a string.
Document ParseValue(const std::string& text, const libshard::IndexColumnConfig* column,
                    const std::string& expr) {
  if (column == nullptr) {
    libshard::Result<Document> json = Document::FromJson(text);
    if (json.ok() && (json->is_number() || json->is_bool())) return std::move(json).value();
    return Document(text);
  }
  auto bad = [&](const char* what) {
    return InvalidInput("--where '" + expr + "': value '" + text + "' for column '" +
                        column->name + "' is not " + what);
  };
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  switch (column->type) {
    case libshard::ColumnType::kInt: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(begin, end, v);
      if (text.empty() || ec != std::errc() || ptr != end) throw bad("an integer");
      return Document(v);
    }
    case libshard::ColumnType::kFloat: {
      double v = 0;
      auto [ptr, ec] = std::from_chars(begin, end, v);
      if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v)) {
        throw bad("a number");
      }
      return Document(v);
    }
    case libshard::ColumnType::kBool:
      if (text == "true" || text == "1") return Document(true);
      if (text == "false" || text == "0") return Document(false);
      throw bad("a boolean (true, false, 1 or 0)");
    case libshard::ColumnType::kString:
    case libshard::ColumnType::kBytes:
      return Document(text);
  }
  return Document(text);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

libshard::Condition ParseWhere(const std::string& expr, const libshard::IndexConfig* index) {
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
    throw InvalidInput("--where '" + expr + "': expected " + kExprForms);
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
      throw InvalidInput("--where '" + expr + "': index '" + index->name +
                         "' has no column '" + column + "' (its columns: " + names + ")");
    }
  }

  if (cond.op == libshard::Op::kEq && value.find('|') != std::string::npos) {
    cond.op = libshard::Op::kIn;
    size_t start = 0;
    while (true) {
      size_t bar = value.find('|', start);
      cond.values.push_back(ParseValue(value.substr(start, bar - start), config_column, expr));
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
  } else {
    cond.values.push_back(ParseValue(value, config_column, expr));
  }
  return cond;
}

int RunQuery(Session& session, const QueryArgs& args) {
  session.RequireEntity(args.entity);
  const libshard::EntityConfig* entity = session.Config().FindEntity(args.entity);
  // Column types come from the config; an index only the catalog knows
  // (added by another deployment) gets JSON-scalar values.
  const libshard::IndexConfig* index = entity->FindIndex(args.index);

  libshard::Query query;
  query.index = args.index;
  for (const std::string& expr : args.where) query.where.push_back(ParseWhere(expr, index));
  if (!args.order.empty()) {
    query.descending = args.order[0] == '-';
    query.order_by = query.descending ? args.order.substr(1) : args.order;
    if (query.order_by.empty()) throw InvalidInput("--order: expected COL or -COL");
  }
  {
    int limit = 0;
    const char* end = args.limit.data() + args.limit.size();
    auto [ptr, ec] = std::from_chars(args.limit.data(), end, limit);
    if (args.limit.empty() || ec != std::errc() || ptr != end) {
      throw InvalidInput("--limit: expected a number of records (1..10000), got '" +
                         args.limit + "'");
    }
    query.limit = limit;
  }
  query.after = args.after;

  const libshard::QueryPage page = Unwrap(session.Store().Query(args.entity, query));
  for (const libshard::Record& record : page.records) {
    std::string line = "{\"id\":";
    line += IdToJson(record.id);
    line += ",\"doc\":";
    line += record.doc.ToJson();
    line += '}';
    PrintLine(line);
  }
  if (!page.next.empty()) {
    PrintLine("{\"next\":" + nlohmann::json(page.next).dump() + "}");
  }
  return kExitOk;
}

}  // namespace

void AddQueryCommand(CLI::App& app, CommandList& commands) {
  auto args = std::make_shared<QueryArgs>();
  CLI::App* sub = app.add_subcommand(
      "query",
      "Find records through a ready secondary index; prints {\"id\",\"doc\"} lines in "
      "index order, then {\"next\":CURSOR} when more remain");
  sub->add_option("ENTITY", args->entity, "entity name, as declared in the config")
      ->required();
  sub->add_option("INDEX", args->index, "index name")->required();
  sub->add_option("--where", args->where,
                  std::string("a condition on an index column (repeatable; all must hold): ") +
                      kExprForms)
      ->type_name("EXPR")
      ->allow_extra_args(false);
  sub->add_option("--order", args->order,
                  "order by this index column, descending with a leading '-' "
                  "(default: index column order)")
      ->type_name("[-]COL");
  sub->add_option("--limit", args->limit, "most records to print, 1..10000 (default: 100)")
      ->type_name("N");
  sub->add_option("--after", args->after,
                  "continue after the page that printed {\"next\":CURSOR}")
      ->type_name("CURSOR");
  sub->footer(
      "Values are converted to the column's type (int, float, bool: true/false/1/0;\n"
      "strings as given). Ties are broken by the other index columns, then the id.\n"
      "Examples:\n"
      "  shardctl query posts by_author_time --where author=ada --where 'created>=1700000000'\n"
      "  shardctl query posts by_tag --where 'tag=go|rust' --order -tag --limit 20\n"
      "  shardctl query users by_email --where email=ADA@example.com");
  commands.push_back({sub, [args](Session& s) { return RunQuery(s, *args); }});
}

}  // namespace shardctl
