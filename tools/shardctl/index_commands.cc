// index status|build|verify|repair|drop: the online index lifecycle
// (PRODUCT.md section 4; libshard/index.h).

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/index.h"
#include "libshard/store.h"
#include "output.h"

namespace shardctl {
namespace {

using libshard::Document;
using libshard::IndexState;
using libshard::IndexStatus;
using Clock = std::chrono::steady_clock;

// Backfill progress as a fraction 0..1: shards whose backfill is done over
// record shards (1 for a ready index).
double Fraction(const IndexStatus& s) {
  if (s.state == IndexState::kReady || s.shards_total == 0) return 1.0;
  return static_cast<double>(s.shards_done) / static_cast<double>(s.shards_total);
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The status of one index, or nullptr-like empty optional when unknown.
bool FindStatus(libshard::Store& store, const std::string& entity, const std::string& index,
                IndexStatus* out) {
  for (IndexStatus& s : Unwrap(store.IndexStatuses())) {
    if (s.entity == entity && s.index == index) {
      *out = std::move(s);
      return true;
    }
  }
  return false;
}

// --- status ----------------------------------------------------------------

struct StatusArgs {
  std::string entity;  // optional filter
};

int RunStatus(Session& session, const StatusArgs& args) {
  libshard::Store& store = session.Store();
  for (const IndexStatus& s : Unwrap(store.IndexStatuses())) {
    if (!args.entity.empty() && s.entity != args.entity) continue;
    Document line = Document::MakeObject({
        {"entity", s.entity},
        {"index", s.index},
        {"state", libshard::IndexStateName(s.state)},
        {"progress", Fraction(s)},
        {"shards_done", s.shards_done},
        {"shards_total", s.shards_total},
        {"records_scanned", s.records_scanned},
    });
    PrintLine(line.ToJson());
  }
  return kExitOk;
}

// --- build -----------------------------------------------------------------

// --duty: a plain decimal from 0.05 to 1. Not CLI::Range: it compares with
// < and >, which are both false for NaN, so "nan" got through.
const CLI::Validator kDutyRange(
    [](std::string& text) -> std::string {
      const char* begin = text.c_str();
      char* end = nullptr;
      errno = 0;
      const double value = std::strtod(begin, &end);
      const bool parsed = end != begin && *end == '\0' && errno == 0;
      if (parsed && value >= 0.05 && value <= 1.0) return "";
      return "expected a number from 0.05 to 1, got '" + text + "'";
    },
    "");

struct BuildArgs {
  std::string entity;
  std::string index;
  int chunk = libshard::BuildOptions{}.chunk;
  double duty = libshard::BuildOptions{}.duty;
  bool quiet = false;
};

// The progress bar: on a terminal one line redrawn in place; otherwise a
// line when a shard finishes and at most one every two seconds.
class BuildProgress {
 public:
  BuildProgress(bool quiet, uint64_t records_total, uint64_t scanned_before)
      : quiet_(quiet),
        tty_(isatty(STDERR_FILENO) == 1),
        total_(records_total),
        before_(scanned_before),
        start_(Clock::now()),
        last_(start_) {}

  void Update(const IndexStatus& s) {
    if (quiet_) return;
    const Clock::time_point now = Clock::now();
    const bool shard_finished = s.shards_done != last_done_;
    last_done_ = s.shards_done;
    if (tty_) {
      if (now - last_ < std::chrono::milliseconds(100) && !shard_finished) return;
      last_ = now;
      NoteInPlace(Line(s, now));
    } else {
      if (now - last_ < std::chrono::seconds(2) && !shard_finished) return;
      last_ = now;
      Note(Line(s, now));
    }
  }

  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  uint64_t Rate(uint64_t scanned) const {
    const double sec = Seconds();
    const uint64_t done = scanned > before_ ? scanned - before_ : 0;
    return sec > 1e-6 ? static_cast<uint64_t>(static_cast<double>(done) / sec + 0.5) : 0;
  }

 private:
  std::string Line(const IndexStatus& s, Clock::time_point) const {
    // The bar follows records (estimated from the counts at the start);
    // shards are exact.
    double fraction = total_ > 0 ? static_cast<double>(s.records_scanned) / total_ : Fraction(s);
    if (fraction > 1.0) fraction = 1.0;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth + 0.5);
    std::string bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "]";
    return "build " + s.entity + "." + s.index + " " + bar + " " + Fixed(fraction * 100, 0) +
           "%  shards " + std::to_string(s.shards_done) + "/" + std::to_string(s.shards_total) +
           "  records " + std::to_string(s.records_scanned) +
           (total_ > 0 ? "/~" + std::to_string(total_) : "") + "  " +
           std::to_string(Rate(s.records_scanned)) + " records/s";
  }

  bool quiet_;
  bool tty_;
  uint64_t total_;
  uint64_t before_;
  Clock::time_point start_;
  Clock::time_point last_;
  uint64_t last_done_ = 0;
};

int RunBuild(Session& session, const BuildArgs& args) {
  session.RequireEntity(args.entity);
  libshard::Store& store = session.Store();
  IndexStatus before;
  const bool known = FindStatus(store, args.entity, args.index, &before);
  if (known && before.state == IndexState::kReady) {
    PrintLine(Document::MakeObject({{"entity", args.entity},
                                    {"index", args.index},
                                    {"state", "ready"},
                                    {"records", before.records_scanned},
                                    {"seconds", 0.0}})
                  .ToJson());
    return kExitOk;
  }
  const libshard::EntityConfig* entity = session.Config().FindEntity(args.entity);
  if (!known && entity->FindIndex(args.index) == nullptr) {
    throw CommandError(libshard::Status::InvalidArgument(
        "unknown index " + args.entity + "." + args.index +
        ": neither the catalog nor the config declares it"));
  }
  uint64_t total = 0;
  if (!args.quiet) {
    libshard::Result<std::vector<libshard::EntityCount>> counts = store.Stats();
    if (counts.ok()) {
      for (const libshard::EntityCount& c : *counts) {
        if (c.entity == args.entity) total += c.records;
      }
    }
    Note("build " + args.entity + "." + args.index + ": " +
         (known ? "resuming" : "registering the index as write_only") +
         "; waiting until every process maintains it, then backfilling ~" +
         std::to_string(total) + " records");
  }
  BuildProgress progress(args.quiet, total, known ? before.records_scanned : 0);
  libshard::BuildOptions options;
  options.chunk = args.chunk;
  options.duty = args.duty;
  options.progress = [&](const IndexStatus& s) { progress.Update(s); };
  Check(store.BuildIndex(args.entity, args.index, options));
  const double seconds = progress.Seconds();

  IndexStatus after;
  if (!FindStatus(store, args.entity, args.index, &after)) {
    throw CommandError(libshard::Status::Internal(
        "index " + args.entity + "." + args.index + " vanished from the catalog after the build"));
  }
  if (!args.quiet) {
    Note("built " + args.entity + "." + args.index + ": " + std::to_string(after.records_scanned) +
         " records in " + Fixed(seconds, 2) + " s (" +
         std::to_string(progress.Rate(after.records_scanned)) +
         " records/s including the wait for the lease)");
  }
  PrintLine(Document::MakeObject({{"entity", args.entity},
                                  {"index", args.index},
                                  {"state", libshard::IndexStateName(after.state)},
                                  {"records", after.records_scanned},
                                  {"seconds", seconds}})
                .ToJson());
  return kExitOk;
}

// --- verify, repair, drop --------------------------------------------------

struct IndexArgs {
  std::string entity;
  std::string index;
};

std::string Counts(const libshard::VerifyReport& r) {
  return Document::MakeObject({{"missing", r.missing}, {"dangling", r.dangling}}).ToJson();
}

int RunVerify(Session& session, const IndexArgs& args) {
  session.RequireEntity(args.entity);
  const libshard::VerifyReport r =
      Unwrap(session.Store().VerifyIndex(args.entity, args.index));
  PrintLine(Counts(r));
  if (r.missing == 0 && r.dangling == 0) return kExitOk;
  Note("index " + args.entity + "." + args.index + " has " + std::to_string(r.missing) +
       " missing and " + std::to_string(r.dangling) + " dangling rows; 'shardctl index repair " +
       args.entity + " " + args.index + "' fixes them");
  return kExitFailure;
}

int RunRepair(Session& session, const IndexArgs& args) {
  session.RequireEntity(args.entity);
  PrintLine(Counts(Unwrap(session.Store().RepairIndex(args.entity, args.index))));
  return kExitOk;
}

int RunDrop(Session& session, const IndexArgs& args) {
  Check(session.Store().DropIndex(args.entity, args.index));
  PrintLine(Document::MakeObject({{"dropped", args.entity + "." + args.index}}).ToJson());
  return kExitOk;
}

void AddEntityIndex(CLI::App* sub, IndexArgs& args) {
  sub->add_option("ENTITY", args.entity, "entity name")->required();
  sub->add_option("INDEX", args.index, "index name")->required();
}

}  // namespace

void AddIndexCommands(CLI::App& app, CommandList& commands) {
  CLI::App* index = app.add_subcommand(
      "index", "Secondary index lifecycle: status, build, verify, repair, drop");
  index->require_subcommand(1);
  index->footer(
      "An index is write_only (writers maintain it, queries refuse it) until\n"
      "'index build' has backfilled every shard; then it is ready.\n"
      "'index status' prints one line per index in the catalog:\n"
      "  {\"entity\",\"index\",\"state\",\"progress\",\"shards_done\",\"shards_total\",\n"
      "   \"records_scanned\"}\n"
      "state is write_only, ready or dropping; progress is a number from 0 to 1:\n"
      "the fraction of record shards whose backfill is complete (1 when ready).\n"
      "Exit status of 'index verify': 0 when nothing is missing or dangling, 1\n"
      "otherwise (the counts are still printed).");
  {
    auto args = std::make_shared<StatusArgs>();
    CLI::App* sub = index->add_subcommand(
        "status", "One JSON line per index: entity, index, state, progress (0..1)");
    sub->add_option("ENTITY", args->entity, "only the indexes of this entity");
    commands.push_back({sub, [args](Session& s) { return RunStatus(s, *args); }});
  }
  {
    auto args = std::make_shared<BuildArgs>();
    CLI::App* sub = index->add_subcommand(
        "build", "Online backfill to ready (resumes from its checkpoints after a crash)");
    sub->add_option("ENTITY", args->entity, "entity name")->required();
    sub->add_option("INDEX", args->index, "index name (from the catalog or the config)")
        ->required();
    sub->add_option("--chunk", args->chunk, "records per backfill transaction")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    sub->add_option("--duty", args->duty,
                    "share of time the backfill may hold the databases' write locks; "
                    "it pauses for the rest, so foreground writes keep flowing (1 = never pause)")
        ->type_name("F")
        ->capture_default_str()
        ->check(kDutyRange);
    sub->add_flag("-q,--quiet", args->quiet, "no progress on stderr");
    sub->footer(
        "Registers the index as write_only if the catalog does not know it,\n"
        "waits until every process maintains it (a few seconds), backfills each\n"
        "shard in chunks, then marks it ready. A progress bar goes to stderr\n"
        "(a line every few seconds when stderr is not a terminal). Prints\n"
        "{\"entity\",\"index\",\"state\":\"ready\",\"records\":N,\"seconds\":S}.\n"
        "Existing records that share a value of a unique index: exit 4, the\n"
        "index stays write_only; fix the records and run the build again.");
    commands.push_back({sub, [args](Session& s) { return RunBuild(s, *args); }});
  }
  {
    auto args = std::make_shared<IndexArgs>();
    CLI::App* sub = index->add_subcommand(
        "verify", "Count missing and dangling rows; prints {\"missing\":N,\"dangling\":N}");
    AddEntityIndex(sub, *args);
    sub->footer(
        "Reads every record and every index row (held in memory, about 100\n"
        "bytes per row). Exact when writers are quiet. Exit 0 only when both\n"
        "counts are 0, else 1.");
    commands.push_back({sub, [args](Session& s) { return RunVerify(s, *args); }});
  }
  {
    auto args = std::make_shared<IndexArgs>();
    CLI::App* sub = index->add_subcommand(
        "repair", "Insert missing rows, delete dangling ones; prints the counts fixed");
    AddEntityIndex(sub, *args);
    sub->footer("Prints {\"missing\":N,\"dangling\":N}: the rows inserted and deleted.");
    commands.push_back({sub, [args](Session& s) { return RunRepair(s, *args); }});
  }
  {
    auto args = std::make_shared<IndexArgs>();
    CLI::App* sub = index->add_subcommand("drop", "Online drop; prints {\"dropped\":\"E.I\"}");
    AddEntityIndex(sub, *args);
    sub->footer(
        "Queries stop using the index at once; after a few seconds (when no\n"
        "process maintains it any more) its tables and catalog rows are removed.\n"
        "An interrupted drop is finished by running it again.");
    commands.push_back({sub, [args](Session& s) { return RunDrop(s, *args); }});
  }
}

}  // namespace shardctl
