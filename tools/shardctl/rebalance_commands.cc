// rebalance, rebalance status, move: online resharding by bucket moves
// (libshard/rebalance.h). Buckets are the unit of placement; a move copies
// one bucket's records to another shard while writers keep running, then
// switches ownership. Moves are recorded in the catalog, so an interrupted
// rebalance (or move) is finished by running it again.

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/rebalance.h"
#include "libshard/store.h"
#include "output.h"

namespace shardctl {
namespace {

using libshard::Document;
using libshard::Status;
using Clock = std::chrono::steady_clock;

// InvalidArgument (exit 2) unless `shard` is one of the config's shards;
// checked before any database is opened so a typo fails fast and says
// which names exist.
void RequireShard(Session& session, const std::string& shard, std::string_view what) {
  const libshard::ClusterConfig& config = session.Config();
  if (std::find(config.shards.begin(), config.shards.end(), shard) != config.shards.end()) {
    return;
  }
  std::string known;
  for (const std::string& s : config.shards) known += (known.empty() ? "" : ", ") + s;
  throw CommandError(Status::InvalidArgument(
      std::string(what) + ": unknown shard '" + shard + "' (`shards:` of " +
      session.ConfigPath() + " lists: " + known + ")"));
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// "bucket 37 s0 -> s4"
std::string MoveName(uint32_t bucket, const std::string& from, const std::string& to) {
  return "bucket " + std::to_string(bucket) + " " + from + " -> " + to;
}

// Progress of moves on stderr: on a terminal one line rewritten in place
// a few times a second; otherwise (logs, CI) at most a line every two
// seconds. Callbacks come from the library's worker threads, serialized.
class MoveProgressLine {
 public:
  MoveProgressLine(std::string what, bool quiet)
      : what_(std::move(what)),
        quiet_(quiet),
        tty_(isatty(STDERR_FILENO) == 1),
        start_(Clock::now()),
        last_(start_) {}

  void Update(const libshard::MoveProgress& p) {
    // Records copied so far over every move: each bucket reports its own
    // running count.
    uint64_t& seen = per_bucket_[p.bucket];
    if (p.records > seen) {
      records_ += p.records - seen;
      seen = p.records;
    }
    if (quiet_) return;
    const Clock::time_point now = Clock::now();
    const auto every = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000);
    if (now - last_ < every) return;
    last_ = now;
    std::string line = what_ + ": ";
    if (p.moves_total > 0) {
      line += std::to_string(p.moves_done) + "/" + std::to_string(p.moves_total) + " moves done, ";
    }
    line += std::to_string(records_) + " records copied (" + Rate(now) + " records/s); " +
            MoveName(p.bucket, p.from, p.to) + ": " + p.step;
    if (tty_) {
      NoteInPlace(line);
    } else {
      Note(line);
    }
  }

  uint64_t records() const { return records_; }
  double Seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }
  std::string Rate(Clock::time_point now) const {
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 1e-6 ? static_cast<double>(records_) / seconds : 0.0;
    return std::to_string(static_cast<uint64_t>(rate + 0.5));
  }

 private:
  std::string what_;
  bool quiet_;
  bool tty_;
  Clock::time_point start_;
  Clock::time_point last_;
  std::map<uint32_t, uint64_t> per_bucket_;
  uint64_t records_ = 0;
};

// --- rebalance ---------------------------------------------------------------

struct RebalanceArgs {
  std::vector<std::string> drain;
  bool dry_run = false;
  int parallel = libshard::RebalanceOptions{}.parallel;
  int chunk = libshard::RebalanceOptions{}.chunk;
  bool quiet = false;
};

int RunRebalance(Session& session, const RebalanceArgs& args) {
  for (const std::string& shard : args.drain) RequireShard(session, shard, "--drain");
  libshard::Store& store = session.Store();
  libshard::RebalanceOptions options;
  options.drain = args.drain;
  options.parallel = args.parallel;
  options.chunk = args.chunk;

  if (args.dry_run) {
    const std::vector<libshard::BucketMove> plan = Unwrap(store.PlanRebalance(options));
    for (const libshard::BucketMove& m : plan) {
      PrintLine(Document::MakeObject({{"bucket", static_cast<int64_t>(m.bucket)},
                                      {"from", m.from},
                                      {"to", m.to}})
                    .ToJson());
    }
    if (!args.quiet) {
      Note(plan.empty() ? std::string("rebalance --dry-run: nothing to move")
                        : "rebalance --dry-run: " + std::to_string(plan.size()) +
                              (plan.size() == 1 ? " move" : " moves") +
                              " planned; nothing was changed");
    }
    return kExitOk;
  }

  MoveProgressLine progress("rebalance", args.quiet);
  options.progress = [&](const libshard::MoveProgress& p) { progress.Update(p); };
  const libshard::RebalanceReport report = Unwrap(store.Rebalance(options));
  EndNoteInPlace();

  // Exit 5 when a move failed because a database was unreachable (the
  // common case: run it again once the database is back), else 1.
  int exit_code = report.failed.empty() ? kExitOk : kExitFailure;
  for (const libshard::MoveState& f : report.failed) {
    // One line per failed move, whatever -q says: the operator must see it.
    Note("move of " + MoveName(f.bucket, f.from, f.to) + " failed: " + f.error);
    if (ExitCodeFor(f.code) == kExitUnavailable) exit_code = kExitUnavailable;
  }
  if (!args.quiet) {
    if (report.plan.empty()) {
      Note("rebalance: nothing to move; every shard owns its share of buckets");
    } else {
      const double seconds = progress.Seconds();
      Note("rebalance: moved " + std::to_string(report.moved) + " of " +
           std::to_string(report.plan.size()) + " buckets (" +
           std::to_string(report.records_copied) + " records copied) in " + Fixed(seconds, 2) +
           " s");
    }
  }
  PrintLine(Document::MakeObject({{"moved", static_cast<uint64_t>(report.moved)},
                                  {"failed", static_cast<uint64_t>(report.failed.size())},
                                  {"records_copied", report.records_copied}})
                .ToJson());
  if (exit_code == kExitOk) return kExitOk;
  // main flushes stdout (the summary) before this status is returned.
  return ReportError(std::to_string(report.failed.size()) + " of " +
                         std::to_string(report.plan.size()) +
                         " bucket moves failed: fix the cause and run `shardctl rebalance` "
                         "again (a move that had started resumes where it stopped; "
                         "`shardctl rebalance status` lists those)",
                     exit_code);
}

// --- rebalance status ----------------------------------------------------------

int RunRebalanceStatus(Session& session) {
  libshard::Store& store = session.Store();
  const std::vector<libshard::MoveState> moves = Unwrap(store.MoveStates());
  const std::vector<libshard::ShardShare> shares = Unwrap(store.BucketShares());
  uint64_t in_progress = 0, failed = 0;
  for (const libshard::MoveState& m : moves) {
    PrintLine(Document::MakeObject({{"bucket", static_cast<int64_t>(m.bucket)},
                                    {"from", m.from},
                                    {"to", m.to},
                                    {"state", m.state},
                                    {"error", m.error},
                                    {"updated", static_cast<int64_t>(m.updated_us)}})
                  .ToJson());
    ++(m.error.empty() ? in_progress : failed);
  }
  Document shards = Document::MakeArray();
  for (const libshard::ShardShare& s : shares) {
    shards.push_back(Document::MakeObject({{"shard", s.shard},
                                           {"buckets", static_cast<int64_t>(s.buckets)},
                                           {"target", static_cast<int64_t>(s.target)},
                                           {"weight", static_cast<int64_t>(s.weight)}}));
  }
  PrintLine(Document::MakeObject(
                {{"in_progress", in_progress}, {"failed", failed}, {"shards", std::move(shards)}})
                .ToJson());
  return kExitOk;
}

// --- move ----------------------------------------------------------------------

struct MoveArgs {
  std::string bucket;  // parsed here: CLI11's message for "abc" names no argument
  std::string shard;
  int chunk = libshard::MoveOptions{}.chunk;
  bool quiet = false;
};

uint32_t ParseBucket(const std::string& text) {
  uint32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw CommandError(Status::InvalidArgument(
        "BUCKET '" + text + "' is not a bucket number (0 up to the cluster's buckets - 1; "
        "`shardctl locate ENTITY ID` prints an ID's bucket)"));
  }
  return value;
}

int RunMove(Session& session, const MoveArgs& args) {
  const uint32_t bucket = ParseBucket(args.bucket);
  const libshard::ClusterConfig& config = session.Config();
  if (bucket >= config.buckets) {
    throw CommandError(Status::InvalidArgument(
        "bucket " + std::to_string(bucket) + " is out of range: the cluster has " +
        std::to_string(config.buckets) + " buckets (0.." + std::to_string(config.buckets - 1) +
        ")"));
  }
  RequireShard(session, args.shard, "move");
  libshard::Store& store = session.Store();
  MoveProgressLine progress("move", args.quiet);
  libshard::MoveOptions options;
  options.chunk = args.chunk;
  options.progress = [&](const libshard::MoveProgress& p) { progress.Update(p); };
  Check(store.MoveBucket(bucket, args.shard, options));
  EndNoteInPlace();
  if (!args.quiet) {
    const uint64_t n = progress.records();
    Note("move: bucket " + std::to_string(bucket) + " is on " + args.shard + " (" +
         std::to_string(n) + (n == 1 ? " record" : " records") + " copied in " +
         Fixed(progress.Seconds(), 2) + " s)");
  }
  PrintLine(Document::MakeObject({{"bucket", static_cast<int64_t>(bucket)}, {"to", args.shard}})
                .ToJson());
  return kExitOk;
}

}  // namespace

void AddRebalanceCommands(CLI::App& app, CommandList& commands) {
  {
    auto args = std::make_shared<RebalanceArgs>();
    CLI::App* sub = app.add_subcommand(
        "rebalance",
        "Move buckets online until every shard owns its share (or drained shards own none)");
    sub->add_option("--drain", args->drain,
                    "move every bucket off this shard (repeat for several); a drained "
                    "shard can then be removed from `shards:`")
        ->type_name("SHARD")
        ->allow_extra_args(false);
    sub->add_flag("--dry-run", args->dry_run,
                  "print the plan as {\"bucket\",\"from\",\"to\"} lines and change nothing");
    sub->add_option("--parallel", args->parallel, "moves run at once")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1, 16));
    sub->add_option("--chunk", args->chunk, "records per copy transaction")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    sub->add_flag("-q,--quiet", args->quiet, "no progress or summary on stderr");
    sub->footer(
        "First finishes the moves recorded earlier (interrupted or failed), then\n"
        "moves buckets until each shard owns its share: counts differ by at most\n"
        "one with equal weights (a shard of weight 2 aims at twice the buckets).\n"
        "Writers and readers keep working; a write to a moving bucket waits for\n"
        "its switch (milliseconds). Moves are refused while an index is being\n"
        "built (write_only), and index builds while a move is recorded.\n"
        "Progress goes to stderr; then prints\n"
        "  {\"moved\":N,\"failed\":N,\"records_copied\":N}\n"
        "Exit 0 when no move failed; otherwise one stderr line per failed move,\n"
        "exit 5 when a database was unreachable, else 1. Running it again resumes.\n"
        "Adding a shard: add its database and list it in `shards:`, run\n"
        "'shardctl init', then 'shardctl rebalance'. Removing one: 'shardctl\n"
        "rebalance --drain SHARD', then remove it from `shards:`.\n"
        "'rebalance status' prints one {\"bucket\",\"from\",\"to\",\"state\",\"error\",\n"
        "\"updated\"} line per recorded move, then {\"in_progress\":N,\"failed\":N,\n"
        "\"shards\":[{\"shard\",\"buckets\",\"target\",\"weight\"},…]}.");
    CLI::App* status = sub->add_subcommand(
        "status",
        "One line per move in progress or failed, then {\"in_progress\",\"failed\",\"shards\"}");
    status->footer(
        "Each move line is {\"bucket\",\"from\",\"to\",\"state\",\"error\",\"updated\"}:\n"
        "state is copying, switched or cleanup; error is the last failure (\"\" when\n"
        "none); updated is when the state last changed (microseconds since the\n"
        "epoch). The summary counts moves without an error (in_progress) and with\n"
        "one (failed), and gives each shard's buckets owned now, the target a\n"
        "rebalance aims at and its weight. 'shardctl rebalance' finishes them all.");
    // `rebalance status` parses both apps: the status command comes first
    // so main runs it, not the rebalance.
    commands.push_back({status, [](Session& s) { return RunRebalanceStatus(s); }});
    commands.push_back({sub, [args](Session& s) { return RunRebalance(s, *args); }});
  }
  {
    auto args = std::make_shared<MoveArgs>();
    CLI::App* sub = app.add_subcommand(
        "move", "Move one bucket to a shard online; prints {\"bucket\":B,\"to\":\"SHARD\"}");
    sub->add_option("BUCKET", args->bucket, "bucket number ('shardctl locate' prints an ID's)")
        ->required();
    sub->add_option("SHARD", args->shard, "target shard, listed in `shards:`")->required();
    sub->add_option("--chunk", args->chunk, "records per copy transaction")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    sub->add_flag("-q,--quiet", args->quiet, "no progress or summary on stderr");
    sub->footer(
        "Finishes the bucket's recorded move if it has one (to the same shard);\n"
        "does nothing when the bucket is already there. A move that fails (a\n"
        "database unreachable: exit 5) is recorded; running it again resumes.\n"
        "A later 'shardctl rebalance' may move the bucket again to even out\n"
        "the shares.");
    commands.push_back({sub, [args](Session& s) { return RunMove(s, *args); }});
  }
}

}  // namespace shardctl
