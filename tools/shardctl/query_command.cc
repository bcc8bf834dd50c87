// query: records found through a secondary index.
//
//   shardctl query ENTITY INDEX [--where EXPR]… [--order [-]COL]
//                               [--limit N] [--after CURSOR]
//
// Prints one {"id","doc"} line per hit in index order, then, when more rows
// remain, {"next":"CURSOR"} (pass it to --after for the next page).

#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/store.h"
#include "output.h"
#include "where_parser.h"

namespace shardctl {
namespace {

using libshard::Status;

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

int RunQuery(Session& session, const QueryArgs& args) {
  session.RequireEntity(args.entity);
  const libshard::EntityConfig* entity = session.Config().FindEntity(args.entity);
  // Column types come from the config; an index only the catalog knows
  // (added by another deployment) gets JSON-scalar values.
  const libshard::IndexConfig* index = entity->FindIndex(args.index);

  libshard::Query query;
  query.index = args.index;
  for (const std::string& expr : args.where) query.where.push_back(Unwrap(ParseWhere(expr, index)));
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
                      kWhereForms)
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
