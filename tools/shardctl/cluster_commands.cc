// init, locate, stats: the cluster as a whole.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/store.h"
#include "output.h"

namespace shardctl {
namespace {

using libshard::Document;

// --- init ------------------------------------------------------------------

int RunInit(Session& session) {
  const libshard::ClusterConfig& config = session.Config();
  Check(libshard::Store::Init(config, session.StoreOptions()));
  Document summary = Document::MakeObject({
      {"databases", static_cast<int64_t>(config.databases.size())},
      {"shards", static_cast<int64_t>(config.shards.size())},
      {"buckets", static_cast<int64_t>(config.buckets)},
  });
  PrintLine(summary.ToJson());
  return kExitOk;
}

// --- locate ----------------------------------------------------------------

struct LocateArgs {
  std::string entity;
  std::string id;
};

int RunLocate(Session& session, const LocateArgs& args) {
  session.RequireEntity(args.entity);
  const libshard::Id id = session.ParseId(args.id);
  const libshard::Location location = session.Store().Locate(id);
  Document out = Document::MakeObject({
      {"bucket", static_cast<int64_t>(location.bucket)},
      {"shard", location.shard},
  });
  PrintLine(out.ToJson());
  return kExitOk;
}

// --- stats -----------------------------------------------------------------

struct StatsArgs {
  bool prometheus = false;
};

int RunStats(Session& session, const StatsArgs& args) {
  const std::vector<libshard::EntityCount> counts = Unwrap(session.Store().Stats());
  if (args.prometheus) {
    // The counters are this process's: the catalog and index-state reads
    // of opening the store, and the count above on every shard (so each
    // shard's latency and pool lines are real measurements, not zeros).
    std::string text = session.Store().PrometheusText();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    PrintLine(text);
    return kExitOk;
  }
  uint64_t total = 0;
  for (const libshard::EntityCount& count : counts) {
    Document line = Document::MakeObject({
        {"shard", count.shard},
        {"entity", count.entity},
        {"records", count.records},
    });
    PrintLine(line.ToJson());
    total += count.records;
  }
  PrintLine(Document::MakeObject({{"total", total}}).ToJson());
  return kExitOk;
}

}  // namespace

void AddInitCommand(CLI::App& app, CommandList& commands) {
  CLI::App* sub = app.add_subcommand(
      "init",
      "Create or upgrade every table on every database and write the bucket "
      "map (idempotent)");
  sub->footer(
      "Prints {\"databases\":N,\"shards\":N,\"buckets\":N}. Fails with exit "
      "status 2 if the\ncatalog was initialized with a different bucket "
      "count or hash seed.");
  commands.push_back({sub, [](Session& s) { return RunInit(s); }});
}

void AddPlacementCommands(CLI::App& app, CommandList& commands) {
  {
    auto args = std::make_shared<LocateArgs>();
    CLI::App* sub = app.add_subcommand(
        "locate",
        "Print where an ID lives: {\"bucket\":B,\"shard\":\"NAME\"} (no record "
        "is read)");
    sub->add_option("ENTITY", args->entity, "entity name, as declared in the config")
        ->required();
    sub->add_option("ID", args->id, "record ID (see --id-format)")->required();
    commands.push_back({sub, [args](Session& s) { return RunLocate(s, *args); }});
  }
  {
    CLI::App* sub = app.add_subcommand(
        "stats",
        "Record counts: one {\"shard\",\"entity\",\"records\"} line per shard "
        "and entity, then {\"total\":N}");
    auto args = std::make_shared<StatsArgs>();
    sub->add_flag("--prometheus", args->prometheus,
                  "print metrics in the Prometheus text format instead (counters are this "
                  "process's own: its catalog reads and the record count it runs)");
    commands.push_back({sub, [args](Session& s) { return RunStats(s, *args); }});
  }
}

}  // namespace shardctl
