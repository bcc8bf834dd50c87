// import and export: whole entities as JSON Lines.
//
// import reads {"id":…,"doc":{…}} lines in batches, splits each batch by
// shard (Store::Locate) and writes each shard's part with one
// Store::PutMany, which is one transaction on that shard; the parts of a
// batch are written in parallel. Splitting here rather than handing the
// whole batch to PutMany is what lets a failure say exactly which records
// were committed: PutMany of a mixed batch may commit some shards and not
// others and returns one error for all of them. export walks every shard
// through Store::Scan and prints {"id","version","doc"} lines, so
// `export | import` copies an entity (the version of each line is ignored
// by import).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/id.h"
#include "libshard/store.h"
#include "output.h"

namespace shardctl {
namespace {

using libshard::Document;
using libshard::Status;
using Clock = std::chrono::steady_clock;

// Progress of a long command on stderr: on a terminal one line rewritten in
// place a few times a second; otherwise (logs, CI) a line every
// kLineEvery records. Then one summary line.
class Progress {
 public:
  static constexpr uint64_t kLineEvery = 100000;

  Progress(std::string what, bool quiet)
      : what_(std::move(what)),
        quiet_(quiet),
        tty_(isatty(STDERR_FILENO) == 1),
        start_(Clock::now()),
        last_shown_(start_) {}

  void Update(uint64_t count) {
    if (quiet_) return;
    const Clock::time_point now = Clock::now();
    if (tty_) {
      if (now - last_shown_ < std::chrono::milliseconds(200)) return;
      last_shown_ = now;
      NoteInPlace(what_ + ": " + std::to_string(count) + " records, " +
                  Rate(count, now) + " records/s");
    } else if (count >= next_line_at_) {
      next_line_at_ = (count / kLineEvery + 1) * kLineEvery;
      Note(what_ + ": " + std::to_string(count) + " records, " +
           Rate(count, now) + " records/s");
    }
  }

  // "imported 2000 records into users in 0.41 s (4878 records/s)"
  void Done(std::string_view summary, uint64_t count) {
    if (quiet_) return;
    const Clock::time_point now = Clock::now();
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", Seconds(now));
    Note(std::string(summary) + " in " + seconds + " s (" + Rate(count, now) +
         " records/s)");
  }

 private:
  double Seconds(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
  }
  std::string Rate(uint64_t count, Clock::time_point now) const {
    const double seconds = Seconds(now);
    const double rate = seconds > 1e-6 ? static_cast<double>(count) / seconds : 0.0;
    return std::to_string(static_cast<uint64_t>(rate + 0.5));
  }

  std::string what_;
  bool quiet_;
  bool tty_;
  Clock::time_point start_;
  Clock::time_point last_shown_;
  uint64_t next_line_at_ = kLineEvery;
};

// --- import ----------------------------------------------------------------

struct ImportArgs {
  std::string entity;
  std::string file;
  int batch = 1000;
  bool quiet = false;
};

// One JSONL line: {"id": "<text>" | {"$bytes":"<base64>"}, "doc": {…}}.
// Other members (such as the "version" export writes) are ignored.
// Returns the problem, or an empty string with *item filled.
std::string ParseImportLine(const std::string& line, libshard::PutItem* item) {
  libshard::Result<Document> parsed = Document::FromJson(line);
  if (!parsed.ok()) return parsed.status().message();
  if (!parsed->is_object()) {
    return "expected an object {\"id\":…,\"doc\":{…}}";
  }
  bool have_id = false;
  bool have_doc = false;
  for (auto& [key, value] : parsed->as_object()) {
    if (key == "id" && !have_id) {
      if (!value.is_string() && !value.is_bytes()) {
        return "\"id\" must be a JSON string (or {\"$bytes\":\"<base64>\"})";
      }
      item->id = value.as_string();
      have_id = true;
    } else if (key == "doc" && !have_doc) {
      if (!value.is_object()) return "\"doc\" must be a JSON object";
      item->doc = std::move(value);
      have_doc = true;
    }
  }
  if (!have_id) return "missing \"id\"";
  if (!have_doc) return "missing \"doc\"";
  if (item->id.empty()) return "\"id\" is empty";
  if (item->id.size() > libshard::kMaxIdBytes) {
    return "\"id\" is longer than " + std::to_string(libshard::kMaxIdBytes) +
           " bytes";
  }
  return "";
}

// "1 record", "2 records".
std::string Records(uint64_t n) {
  return std::to_string(n) + (n == 1 ? " record" : " records");
}

bool IsBlank(const std::string& line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// The part of a batch that lives on one shard: one PutMany, one
// transaction, so it is committed or not as a whole.
struct ShardPart {
  std::string shard;
  std::vector<libshard::PutItem> items;
  std::vector<uint64_t> lines;  // input line of each item
  Status status;
};

// Most parts of one batch written at the same time (as Options::parallelism).
constexpr std::size_t kMaxParallelParts = 16;

// Writes the parts of each batch in parallel, each part's outcome to its
// `status`. The threads live for the whole import and wait between
// batches: starting threads for every batch made a SQLite import ~40%
// slower than one PutMany per batch (whose fan-out uses the library's pool).
class PartWriter {
 public:
  PartWriter(libshard::Store& store, std::string entity)
      : store_(store), entity_(std::move(entity)) {}

  ~PartWriter() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  void Write(std::vector<ShardPart>* parts) {
    if (parts->size() == 1) {
      WriteOne((*parts)[0]);
      return;
    }
    const std::size_t helpers = std::min(parts->size(), kMaxParallelParts) - 1;
    // A new helper starts at the current generation: it waits for this
    // batch, set up below, not an earlier one.
    while (threads_.size() < helpers) {
      threads_.emplace_back([this, seen = generation_] { Loop(seen); });
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      parts_ = parts;
      next_ = 0;
      busy_ = threads_.size();
      ++generation_;
    }
    work_.notify_all();
    Drain();  // this thread takes parts too
    // Every helper finishes this batch before the next one is set up, so
    // none can still be reading `parts_` afterwards.
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return busy_ == 0; });
    parts_ = nullptr;
  }

 private:
  void WriteOne(ShardPart& part) {
    try {
      part.status = store_.PutMany(entity_, part.items).status();
    } catch (const std::exception& e) {
      part.status = Status::Internal(e.what());
    }
  }

  void Drain() {
    for (std::size_t i = next_++; i < parts_->size(); i = next_++) WriteOne((*parts_)[i]);
  }

  void Loop(uint64_t seen) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      work_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      lock.unlock();
      Drain();
      lock.lock();
      if (--busy_ == 0) done_.notify_one();
    }
  }

  libshard::Store& store_;
  const std::string entity_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable work_;  // a new batch, or stop
  std::condition_variable done_;  // every helper finished the batch
  std::vector<ShardPart>* parts_ = nullptr;
  std::atomic<std::size_t> next_{0};  // next part to take
  std::size_t busy_ = 0;              // helpers not done with this batch
  uint64_t generation_ = 0;           // batches handed out
  bool stop_ = false;
};

// "line 4", "lines 4, 9 and 17", "lines 4, 9, …, 31 (40 lines)": the first
// few line numbers of the records a failed part held.
std::string LineList(const std::vector<uint64_t>& lines) {
  constexpr std::size_t kShown = 20;
  std::string out = lines.size() == 1 ? "line " : "lines ";
  for (std::size_t i = 0; i < lines.size() && i < kShown; ++i) {
    if (i > 0) out += i + 1 == lines.size() ? " and " : ", ";
    out += std::to_string(lines[i]);
  }
  if (lines.size() > kShown) {
    out += ", … and " + std::to_string(lines.size() - kShown) + " more";
  }
  return out;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += "'" + names[i] + "'";
  }
  return out;
}

int RunImport(Session& session, const ImportArgs& args) {
  session.RequireEntity(args.entity);
  const bool from_stdin = args.file == "-";
  const std::string source = from_stdin ? "<stdin>" : args.file;
  std::ifstream file;
  if (!from_stdin) {
    file.open(args.file, std::ios::binary);
    if (!file) {
      throw CommandError(Status::InvalidArgument(
          "cannot open " + args.file + ": " + std::strerror(errno)));
    }
  }
  std::istream& in = from_stdin ? std::cin : file;
  // Connect before consuming the input: a bad config or an unreachable
  // catalog fails without reading anything.
  libshard::Store& store = session.Store();

  Progress progress("import " + args.entity, args.quiet);
  PartWriter writer(store, args.entity);
  std::vector<libshard::PutItem> batch;
  std::vector<uint64_t> batch_lines;  // input line of each batch item
  batch.reserve(static_cast<std::size_t>(args.batch));
  batch_lines.reserve(static_cast<std::size_t>(args.batch));
  uint64_t imported = 0;  // committed, all batches so far
  uint64_t line_number = 0;

  auto flush = [&]() {
    if (batch.empty()) return;
    // Split by shard; parts in shard-name order so messages are stable.
    std::map<std::string, std::size_t> part_of;
    std::vector<ShardPart> parts;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::string shard = store.Locate(batch[i].id).shard;
      auto [it, fresh] = part_of.emplace(shard, parts.size());
      if (fresh) parts.push_back({std::move(shard), {}, {}, Status::OK()});
      parts[it->second].items.push_back(std::move(batch[i]));
      parts[it->second].lines.push_back(batch_lines[i]);
    }
    std::sort(parts.begin(), parts.end(),
              [](const ShardPart& a, const ShardPart& b) { return a.shard < b.shard; });
    writer.Write(&parts);

    uint64_t committed = 0;
    std::vector<std::string> committed_shards, lost_shards, unknown_shards;
    std::vector<uint64_t> lost_lines, unknown_lines;
    const ShardPart* first_failed = nullptr;
    std::string failures;
    for (const ShardPart& part : parts) {
      if (part.status.ok()) {
        committed += part.items.size();
        committed_shards.push_back(part.shard);
        continue;
      }
      // As Store does for a fan-out: an unreachable database decides the
      // exit status over other errors.
      const auto unreachable = [](const Status& s) {
        return s.IsUnavailable() || s.IsOutcomeUnknown();
      };
      if (first_failed == nullptr ||
          (unreachable(part.status) && !unreachable(first_failed->status))) {
        first_failed = &part;
      }
      if (!failures.empty()) failures += "; ";
      failures += "shard '" + part.shard + "' failed (" + part.status.ToString() + ")";
      // Any error rolls the part's transaction back, except a link that
      // broke while its COMMIT was in flight: then nobody knows.
      const bool unknown = part.status.IsOutcomeUnknown();
      std::vector<std::string>& shards = unknown ? unknown_shards : lost_shards;
      std::vector<uint64_t>& lines = unknown ? unknown_lines : lost_lines;
      shards.push_back(part.shard);
      lines.insert(lines.end(), part.lines.begin(), part.lines.end());
    }
    const uint64_t first_line = batch_lines.front();
    const uint64_t last_line = batch_lines.back();
    imported += committed;
    batch.clear();
    batch_lines.clear();
    if (first_failed == nullptr) {
      progress.Update(imported);
      return;
    }
    const std::string range = "lines " + std::to_string(first_line) + "-" +
                              std::to_string(last_line);
    // "3 records, those of lines 201-300 on shard 's2' (lines 203, 207 and 290)"
    const auto part_of_batch = [&](std::vector<uint64_t>& lines,
                                   const std::vector<std::string>& shards) {
      std::sort(lines.begin(), lines.end());
      return Records(lines.size()) + ", those of " + range + " on shard" +
             (shards.size() == 1 ? " " : "s ") + JoinNames(shards) + " (" + LineList(lines) + ")";
    };
    std::string message = source + ": " + range + ": " + failures + ". Committed: " +
                          Records(imported) + " (";
    message += imported == committed ? "none before line " + std::to_string(first_line)
                                     : "every record before line " + std::to_string(first_line);
    if (committed > 0) {
      message += ", and the " + Records(committed) + " of " + range + " on shard" +
                 (committed_shards.size() == 1 ? " " : "s ") + JoinNames(committed_shards);
    }
    message += ")";
    if (!lost_lines.empty()) {
      message += ". Not committed: " + part_of_batch(lost_lines, lost_shards);
    }
    if (!unknown_lines.empty()) {
      message += ". Maybe committed (the connection broke during COMMIT): " +
                 part_of_batch(unknown_lines, unknown_shards);
    }
    message += ". Nothing after line " + std::to_string(last_line) +
               " was written. Importing again from line " + std::to_string(first_line) +
               " is safe: a put without --if-version overwrites";
    throw CommandError(Status(first_failed->status.code(), message));
  };

  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (IsBlank(line)) continue;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    libshard::PutItem item;
    const std::string problem = ParseImportLine(line, &item);
    if (!problem.empty()) {
      // Everything before the bad line is written, so a fixed file can be
      // re-imported (puts without --if-version are idempotent).
      flush();
      throw CommandError(Status::InvalidArgument(
          source + ":" + std::to_string(line_number) + ": " + problem + " (" +
          Records(imported) + " before this line imported)"));
    }
    batch.push_back(std::move(item));
    batch_lines.push_back(line_number);
    if (batch.size() >= static_cast<std::size_t>(args.batch)) flush();
  }
  if (in.bad()) {
    throw CommandError(Status::InvalidArgument(
        "reading " + source + " after line " + std::to_string(line_number) +
        ": " + std::strerror(errno)));
  }
  flush();
  progress.Done("imported " + Records(imported) + " into " + args.entity, imported);
  PrintLine(std::to_string(imported));
  return kExitOk;
}

// --- export ----------------------------------------------------------------

struct ExportArgs {
  std::string entity;
};

int RunExport(Session& session, const ExportArgs& args) {
  session.RequireEntity(args.entity);
  libshard::Store& store = session.Store();
  std::string line;
  const Status status = store.Scan(args.entity, nullptr, [&](libshard::Record&& record) {
    line.clear();
    line += "{\"id\":";
    line += IdToJson(record.id);
    line += ",\"version\":";
    line += std::to_string(record.version);
    line += ",\"doc\":";
    line += record.doc.ToJson();
    line += '}';
    PrintLine(line);
    return !OutputFailed();  // stop scanning once nobody can read the output
  });
  if (OutputFailed()) return FinishOutput();
  Check(status);
  return kExitOk;
}

}  // namespace

void AddBulkCommands(CLI::App& app, CommandList& commands) {
  {
    auto args = std::make_shared<ImportArgs>();
    CLI::App* sub = app.add_subcommand(
        "import",
        "Write records from JSON Lines {\"id\":…,\"doc\":{…}}; prints the count");
    sub->add_option("ENTITY", args->entity, "entity name, as declared in the config")
        ->required();
    sub->add_option("FILE", args->file, "JSONL file, or - for stdin")->required();
    sub->add_option("--batch", args->batch,
                    "records per batch; a batch is written as one transaction per "
                    "shard, shards in parallel")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    sub->add_flag("-q,--quiet", args->quiet, "no progress or summary on stderr");
    sub->footer(
        "Each line is {\"id\":\"<text>\",\"doc\":{…}}; an id that is not UTF-8 is\n"
        "written {\"$bytes\":\"<base64>\"} (as export prints it). Other members,\n"
        "such as export's \"version\", are ignored. Records are created or\n"
        "replaced. A bad line stops the import with exit status 2, naming\n"
        "FILE:LINE; every line before it has been written. A failed write\n"
        "stops it with the error's exit status; the message says how many\n"
        "records were committed and which lines were not (those of the failed\n"
        "batch on the failed shard).\n"
        "Example:\n"
        "  shardctl export users | shardctl -c other.yaml import users -");
    commands.push_back({sub, [args](Session& s) { return RunImport(s, *args); }});
  }
  {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* sub = app.add_subcommand(
        "export",
        "Print every record of an entity as JSON Lines {\"id\",\"version\",\"doc\"}");
    sub->add_option("ENTITY", args->entity, "entity name, as declared in the config")
        ->required();
    sub->footer("Shards are read in parallel; lines come in no particular order.");
    commands.push_back({sub, [args](Session& s) { return RunExport(s, *args); }});
  }
}

}  // namespace shardctl
